"""``anobench show``: one stored run in full, or the list of stored runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ..api import overrides
from ..api.records import RunRecord
from .common import State, console, print_json, print_record, text_or_json, value_text

if TYPE_CHECKING:
    from ..results.history import Attempt, History


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
    from ..results.history import histories, history_of

    with store:
        records = store.runs()
        if run_id is None:
            if fmt == "json":
                print_json([_with_attempts(r, h) for h in histories(records) for r in h.runs])
                return
            _print_runs(histories(records))
            return
        record = store.get_run(run_id)
    history = history_of(records, record.run_id)
    if fmt == "json":
        print_json(_with_attempts(record, history))
        return
    print_record(record, brief=False)
    if history is not None:
        _print_history(record, history)


def _with_attempts(record: RunRecord, history: History | None) -> dict:
    """The record, with the run ids of every attempt of its configuration and seed."""
    ids = [r.run_id for r in history.runs] if history else [record.run_id]
    return {**record.to_dict(), "attempts": ids}


def _print_history(record: RunRecord, history: History) -> None:
    """The other attempts of this configuration and seed, and the earlier ends of this run."""
    attempts = history.attempts()
    if len(attempts) == 1:
        return
    out = console()
    out.print(f"history of this configuration and seed: {history.summary()}", highlight=False)
    for attempt in attempts:
        notes = []
        if attempt.run_id == record.run_id:
            notes.append("this run")
        if attempt.resumed:
            notes.append("resumed from its checkpoint")
        if attempt.run_id == history.kept.run_id and attempt is _last_of(attempts, attempt):
            notes.append(
                "used by the leaderboard" if history.kept.status == "finished" else "latest"
            )
        when = f" at {attempt.ended}" if attempt.ended else ""
        why = f": {attempt.error}" if attempt.error else ""
        note = f" ({', '.join(notes)})" if notes else ""
        out.print(f"  {attempt.run_id} {attempt.status}{when}{note}{why}", highlight=False)


def _last_of(attempts: list[Attempt], attempt: Attempt) -> Attempt:
    """The last attempt of the same run row (the row's current state)."""
    return [a for a in attempts if a.run_id == attempt.run_id][-1]


def _what_ran(r: RunRecord) -> str:
    """``quick, bf16; epochs=5``: the profile, the resolved precision and the overrides, as the
    leaderboard labels the configuration (runs stored before overrides were recorded: profile)."""
    from ..results.labels import what_ran
    from ..results.leaderboard import run_precision

    changes = overrides.method_part(r.provenance.get(overrides.KEY))
    return what_ran(r.spec.profile, run_precision(dict(r.provenance)), changes)


def _print_runs(found: list[History]) -> None:
    """One line per configuration and seed: its latest attempt, and the attempts so far."""
    from rich.table import Table

    if not found:
        click.echo(
            "no runs stored yet: start one with 'anobench run -m meandiff -d synthetic'", err=True
        )
        return

    table = Table(title="runs (one line per configuration and seed)")
    columns = ("run id", "status", "method", "dataset", "settings", "seed", "primary", "attempts")
    for col in (*columns, "created"):
        # ids are what a user copies into 'show ID' / 'rm ID': never cut; long cells wrap
        table.add_column(col, no_wrap=col == "run id", overflow="fold")
    for history in found:
        r, kept = history.latest, history.kept
        value = kept.metrics.get(kept.primary_metric or "")
        primary = f"{kept.primary_metric} {value_text(value)}" if value is not None else "-"
        table.add_row(
            r.run_id,
            r.status,
            r.spec.method,
            r.spec.dataset,
            _what_ran(r),
            str(r.spec.seed),
            primary,
            history.summary(),
            r.created or "",
        )
    console().print(table)
