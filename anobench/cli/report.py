"""``anobench report``: the stored results as one static HTML page.

See :mod:`anobench.results.report`.
"""

from __future__ import annotations

from pathlib import Path

import click

from .common import State, bootstrap_option, correction_option


@click.command("report")
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder for index.html and its figures/. Default: <home>/report.",
)
@click.option("--dataset", default=None, help="Only this dataset.")
@click.option("--method", default=None, help="Only this method.")
@bootstrap_option
@correction_option
@click.option(
    "--embed",
    is_flag=True,
    help="Embed the figures in index.html (one self-contained file) instead of copying them.",
)
@click.pass_obj
def command(
    state: State,
    output: Path | None,
    dataset: str | None,
    method: str | None,
    resamples: int,
    correction: str,
    embed: bool,
) -> None:
    """A static HTML report: leaderboards with statistics, figure panels, training curves and
    provenance of every run. Opens from disk without a server."""
    from ..results.report import EMPTY, build_report
    from ..run.profiles import backfill

    output = output or state.home / "report"
    from ..results.store import NoStore, Store

    try:
        store = state.store(readonly=True)
    except NoStore:
        store = Store(":memory:")  # an empty report, and no store made in the home
    with store:
        result = build_report(
            store,
            state.home,
            output,
            dataset=dataset,
            method=method,
            resamples=resamples,
            embed=embed,
            backfill=backfill,
            correction=correction,
        )
    if result.empty:
        click.echo(EMPTY, err=True)
    click.echo(
        f"wrote {result.path} ({result.runs} finished runs, {result.figures} figures"
        f"{', embedded' if embed else ''})",
        err=True,
    )
