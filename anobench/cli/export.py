"""``anobench export mlflow``: copy stored runs into an experiment tracker."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import click

from ..api.errors import ConfigError
from ..api.records import RunStatus
from .common import State


@click.group("export")
def command() -> None:
    """Copy stored runs to an experiment tracker (MLflow)."""


@command.command("mlflow")
@click.argument("run_ids", nargs=-1, metavar="[RUN_IDS]...")
@click.option(
    "--tracking-uri",
    default=None,
    metavar="URI",
    help="MLflow tracking server, e.g. http://host:5000, or sqlite:///mlflow.db (default:"
    " $MLFLOW_TRACKING_URI).",
)
@click.option(
    "--suite",
    "suite_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Export the finished runs of this suite's grid.",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_obj
def mlflow_command(
    state: State, run_ids: tuple[str, ...], tracking_uri: str | None, suite_file, fmt: str
) -> None:
    """One MLflow run per anobench run, in an experiment per dataset configuration.

    Without RUN_IDS or --suite every finished run is exported. Exporting again creates no
    duplicates: unchanged runs are left alone, runs that changed since are replaced.
    """
    from ..results.mlflow_export import MlflowExporter

    if run_ids and suite_file:
        raise ConfigError("give RUN_IDS or --suite, not both")
    with state.store(readonly=True) as store:
        if suite_file is not None:
            records = _suite_runs(store, suite_file)
        elif run_ids:
            records = [store.get_run(run_id) for run_id in run_ids]
        else:
            records = store.runs(RunStatus.FINISHED)
        exporter = MlflowExporter(tracking_uri)
        try:
            # MLflow prints a link per run on stdout: it must not mix with --format json
            with contextlib.redirect_stdout(sys.stderr):
                done = exporter.export(records)
        except Exception as exc:
            if isinstance(exc, ConfigError):
                raise
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            where = tracking_uri or "the default tracking URI"
            raise ConfigError(f"MLflow at {where}: {first}") from None
    if fmt == "json":
        click.echo(json.dumps([vars(d) for d in done], indent=2))
        return
    for d in done:
        click.echo(f"{d.run_id} -> MLflow run {d.mlflow_run_id} in {d.experiment} ({d.action})")
    if not done:
        click.echo("no finished runs to export", err=True)


def _suite_runs(store, suite_file: Path) -> list:
    from ..run.suite import load_suite

    suite = load_suite(suite_file)
    out = []
    for spec in suite.expand():
        run_id = store.find_finished(spec.config_hash(), spec.seed)
        if run_id is not None:
            out.append(store.get_run(run_id))
    return out
