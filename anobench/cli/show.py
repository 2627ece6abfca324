"""``anobench show``: one stored run in full, or the list of stored runs."""

from __future__ import annotations

import click

from ..api.records import RunRecord
from .common import State, console, print_json, print_record, text_or_json, value_text


@click.command("show")
@click.argument("run_id", required=False)
@text_or_json
@click.pass_obj
def command(state: State, run_id: str | None, fmt: str) -> None:
    """One run: spec, provenance, metrics, artifacts. Without RUN_ID: list the stored runs."""
    from ..results.store import NoStore

    try:
        store = state.store(readonly=True)
    except NoStore as exc:
        if run_id is not None:
            raise NoStore(
                f"no run '{run_id}': {exc}; 'anobench show' lists the stored runs"
            ) from None
        click.echo(f"no runs stored yet: {exc}", err=True)
        return
    with store:
        if run_id is None:
            records = store.runs()
            if fmt == "json":
                print_json([r.to_dict() for r in records])
                return
            _print_runs(records)
            return
        record = store.get_run(run_id)
    if fmt == "json":
        print_json(record.to_dict())
        return
    print_record(record, brief=False)


def _print_runs(records: list[RunRecord]) -> None:
    from rich.table import Table

    if not records:
        click.echo(
            "no runs stored yet: start one with 'anobench run -m meandiff -d synthetic'", err=True
        )
        return

    table = Table(title="runs")
    for col in ("run id", "status", "method", "dataset", "profile", "seed", "primary", "created"):
        table.add_column(col)
    for r in records:
        value = r.metrics.get(r.primary_metric or "")
        primary = f"{r.primary_metric} {value_text(value)}" if value is not None else "-"
        table.add_row(
            r.run_id,
            r.status,
            r.spec.method,
            r.spec.dataset,
            r.spec.profile,
            str(r.spec.seed),
            primary,
            r.created or "",
        )
    console().print(table)
