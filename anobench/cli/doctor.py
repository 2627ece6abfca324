"""``anobench doctor``: what decides speed and reproducibility on this machine."""

from __future__ import annotations

import click

from .common import State, print_json, text_or_json


@click.command("doctor")
@text_or_json
@click.pass_obj
def command(state: State, fmt: str) -> None:
    """What decides speed and reproducibility here: CPU features, cores, threads, what
    precision=auto resolves to per device, versions, optional extras, the store's health."""
    from ..run import doctor as doc

    data = doc.facts(state.home)
    if fmt == "json":
        print_json(data)
        return
    click.echo(doc.render_text(data), nl=False)
