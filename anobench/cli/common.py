"""What the commands share: the state the root group hands them, the console, shared options and
the printing of one run record (``run`` and ``show``)."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import click

from ..api.home import store_path
from ..api.limits import MAX_BOOTSTRAP
from ..api.records import RunRecord


class State:
    """``ctx.obj`` of every command: the resolved home and the global flags."""

    def __init__(self, home: Path, quiet: bool, debug: bool) -> None:
        self.home = home
        self.quiet = quiet
        self.debug = debug

    def store(self, readonly: bool = False):
        """The home's store; ``readonly`` for commands that only look (they create nothing)."""
        from ..results.store import Store

        return Store(store_path(self.home), readonly=readonly)


def console():
    from rich.console import Console

    # piped output (files, CI logs, tests) gets wide tables instead of wrapped cells, unless
    # COLUMNS says how wide (rich then reads it)
    sized = sys.stdout.isatty() or os.environ.get("COLUMNS", "").isdigit()
    return Console(width=None if sized else 200)


#: shared by ``leaderboard`` and ``report``
bootstrap_option = click.option(
    "--bootstrap",
    "resamples",
    type=click.IntRange(min=0, max=MAX_BOOTSTRAP),
    default=1000,
    show_default=True,
    help="Bootstrap resamples of the test images for 95% intervals and paired tests (0: off).",
)

#: ``--correction``: the choices are listed here so that ``--help`` needs no import of results/
correction_option = click.option(
    "--correction",
    type=click.Choice(["holm", "bonferroni", "none"]),
    default="holm",
    show_default=True,
    help="Correction of each table's 'p vs best' for multiple comparisons (every method against"
    " the best): Holm's step-down, Bonferroni, or none.",
)

#: ``--format text|json`` of the commands that print one result
text_or_json = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")


def value_text(v: float) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4f}"


def print_record(record: RunRecord, brief: bool) -> None:
    from rich.table import Table

    out = console()
    spec = record.spec
    out.print(
        f"[bold]run {record.run_id}[/bold]: {spec.method} on {spec.dataset}, profile"
        f" {spec.profile}, seed {spec.seed} -> [bold]{record.status}[/bold]"
    )
    if record.error:
        out.print(f"[red]error:[/red] {record.error}", markup=True, highlight=False)
    table = Table(show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("note", overflow="fold")
    for name, value in record.metrics.items():
        table.add_row(name, value_text(value), record.metric_reasons.get(name, ""))
    if record.metrics:
        out.print(table)
    prov = record.provenance
    if "fit_seconds" in prov:
        out.print(
            f"fit {prov['fit_seconds']:.2f} s, predict {prov.get('predict_seconds', 0):.2f} s,"
            f" {prov.get('n_parameters', 0):,} parameters, device {prov.get('device')}"
        )
    if prov.get("resolved"):
        out.print(f"resolved: {_resolved_text(prov['resolved'])}", highlight=False)
    from .datasummary import data_line

    if data_line(prov):
        out.print(data_line(prov), highlight=False)
    if record.artifacts:
        figure = Path(record.artifacts) / "panel.png"
        if figure.exists():
            out.print(f"figure: {figure}", highlight=False)
    slurm = _slurm_job(record)
    if slurm:
        out.print(f"slurm job {slurm.get('job_id')}, log: {slurm.get('log')}", highlight=False)
    if not brief:
        out.print_json(json.dumps({"spec": spec.to_dict(), "config_hash": spec.config_hash()}))
        shown = {k: v for k, v in prov.items() if k != "traceback"}
        out.print_json(json.dumps({"provenance": shown}, default=str))
        if record.artifacts and Path(record.artifacts).is_dir():
            out.print("artifacts:")
            for path in sorted(Path(record.artifacts).iterdir()):
                out.print(f"  {path}", highlight=False)


def _slurm_job(record: RunRecord) -> dict[str, Any] | None:
    """The Slurm job of a run: from its outcome, or (still running) the driver's job.json."""
    if isinstance(record.provenance.get("slurm"), dict):
        return record.provenance["slurm"]
    path = Path(record.artifacts or "") / "slurm" / "job.json"
    if record.artifacts and path.is_file():
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None
    return None


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def _resolved_text(resolved: dict[str, Any]) -> str:
    cpu = resolved.get("cpu") or {}
    bf16 = "native bf16" if cpu.get("native_bf16") else "no native bf16"
    if resolved.get("precision"):
        layout = "channels-last" if resolved.get("channels_last") else "contiguous"
        precision = f"precision {resolved['precision']}, {layout}"
    else:
        precision = "no precision option (the method's own, fp32)"
    changes = resolved.get("thread_changes") or []
    moved = f", then {', '.join(str(c['threads']) for c in changes)}" if changes else ""
    return (
        f"{precision}, {resolved.get('threads')}{moved} thread(s)"
        f" of {resolved.get('cores_available')} core(s); CPU {cpu.get('model', '?')}"
        f" ({cpu.get('aten_capability', '?')}, {bf16})"
    )
