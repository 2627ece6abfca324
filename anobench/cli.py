"""The ``anobench`` command line (click + rich). Errors become one red line and exit code 2."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import click

from . import registry
from .errors import AnobenchError, ConfigError
from .home import resolve_home, store_path
from .interfaces import Dataset, Method
from .progress import make_reporter
from .records import RunRecord


class _Group(click.Group):
    """Turns anobench errors into one line with the fix; ``--debug`` keeps the traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        debug = ctx.params.get("debug") or os.environ.get("ANOBENCH_DEBUG")
        try:
            return super().invoke(ctx)
        except AnobenchError as exc:
            if debug:
                raise
            click.secho(f"error: {exc}", fg="red", err=True)
            ctx.exit(2)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt as exc:
            advice = getattr(exc, "advice", None)
            click.secho(advice() if advice else "interrupted", fg="yellow", err=True)
            ctx.exit(getattr(exc, "exit_code", 130))
        except Exception as exc:
            if debug:
                raise
            click.secho(
                f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for the"
                " traceback and please report it)",
                fg="red",
                err=True,
            )
            ctx.exit(1)


class _State:
    def __init__(self, home: Path, quiet: bool, debug: bool) -> None:
        self.home = home
        self.quiet = quiet
        self.debug = debug

    def store(self):
        from .store import Store

        return Store(store_path(self.home))


def _console():
    from rich.console import Console

    # piped output (files, CI logs, tests) gets wide tables instead of wrapped cells
    return Console(width=None if sys.stdout.isatty() else 200)


#: shared by ``leaderboard`` and ``report``
bootstrap_option = click.option(
    "--bootstrap",
    "resamples",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Bootstrap resamples of the test images for 95% intervals and paired tests (0: off).",
)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="ANOBENCH_HOME",
    help="Store, caches and run artifacts. Default: ./anobench-home or $ANOBENCH_HOME.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@click.version_option(package_name="anobench")
@click.pass_context
def cli(ctx: click.Context, home: Path | None, debug: bool, quiet: bool) -> None:
    """anobench: benchmark anomaly detection and localisation methods on medical images."""
    ctx.obj = _State(resolve_home(home), quiet, debug)
    # SIGTERM / SIGHUP (Slurm, Kubernetes, systemd, timeout) end a run like Ctrl-C
    from .signals import handled

    ctx.with_resource(handled())


# -- list ----------------------------------------------------------------------------------------


def _describe_plugin(kind: str, plugin: registry.PluginInfo) -> dict[str, Any]:
    row: dict[str, Any] = {
        "kind": kind,
        "name": plugin.name,
        "distribution": plugin.distribution,
        "version": plugin.version,
        "status": plugin.status,
        "error": plugin.error,
    }
    if row["status"] == "ok":
        obj = plugin.load()
        row["description"] = getattr(obj, "description", "") or (obj.__doc__ or "").strip()
        if kind == "method":
            row["supervision"] = getattr(obj, "supervision", None)
            row["profiles"] = list(getattr(obj, "profiles", {}))
        if kind == "dataset":
            row["primary_metric"] = getattr(obj, "primary_metric", None)
            row["profiles"] = list(getattr(obj, "profiles", {}))
        if kind == "metric":
            row["level"] = getattr(obj, "level", None)
            row["oracle"] = getattr(obj, "oracle", False)
        if kind in ("method", "dataset"):
            row["options"] = {
                o.name: {"type": o.type.__name__, "default": o.default, "help": o.help}
                for o in obj.options.options
            }
    return row


@cli.command("list")
@click.argument("pattern", default="*")
@click.option("--kind", type=click.Choice(registry.KINDS), multiple=True, help="Only this kind.")
@click.option("--format", "fmt", type=click.Choice(["rich", "json"]), default="rich")
@click.option("--options", "show_options", is_flag=True, help="Also list each plugin's options.")
def list_cmd(pattern: str, kind: tuple[str, ...], fmt: str, show_options: bool) -> None:
    """Installed datasets, methods and metrics (found through entry points); PATTERN may use *."""
    rows = [
        _describe_plugin(k, p)
        for k in (kind or registry.KINDS)
        for p in registry.available(k, pattern)
    ]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    from rich.table import Table

    console = _console()
    for k in kind or registry.KINDS:
        table = Table(title=f"{k}s")
        for col in ("name", "status", "distribution", "details"):
            table.add_column(col, overflow="fold")
        for row in (r for r in rows if r["kind"] == k):
            if row["status"] != "ok":
                details = f"[red]{row['error']}[/red]"
            else:
                details = row.get("description", "")
                extra = [
                    f"{key}: {row[key]}"
                    for key in ("supervision", "primary_metric", "level")
                    if row.get(key)
                ]
                if row.get("profiles"):
                    extra.append(f"profiles: {', '.join(row['profiles'])}")
                if show_options and row.get("options"):
                    extra += [
                        f"  {n}={o['default']!r} ({o['type']}) {o['help']}"
                        for n, o in row["options"].items()
                    ]
                details = "\n".join([details, *extra]) if extra else details
            status = "[green]ok[/green]" if row["status"] == "ok" else "[red]broken[/red]"
            table.add_row(row["name"], status, f"{row['distribution']} {row['version']}", details)
        console.print(table)


# -- run -----------------------------------------------------------------------------------------


def _typed(kind: str, name: str, pairs: tuple[str, ...], flag: str) -> dict[str, Any]:
    cls = registry.get(kind, name)
    base = Dataset if kind == "dataset" else Method
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ConfigError(f"{kind} '{name}' is not a valid anobench {kind} plugin")
    return cls.options.parse_pairs(pairs, owner=cls.owner(), flag=flag)


def _value(v: float) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4f}"


@cli.command()
@click.option("--method", "-m", help="Method name (see 'anobench list').")
@click.option("--dataset", "-d", help="Dataset name (see 'anobench list').")
@click.option(
    "--profile",
    default="quick",
    show_default=True,
    help="Named settings of method and dataset: quick (CPU) or paper (published).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds python, numpy, torch.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--dataset-opt", multiple=True, metavar="KEY=VALUE", help="Dataset option override.")
@click.option("--method-opt", multiple=True, metavar="KEY=VALUE", help="Method option override.")
@click.option("--max-steps", type=int, default=None, help="Training step budget.")
@click.option("--time-budget", type=float, default=None, help="Training wall-clock budget (s).")
@click.option("--metric", "metrics", multiple=True, help="Only these metrics (default: all).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="CPU threads (default: the usable cores that no other process keeps busy).",
)
@click.option(
    "--resume",
    "resume_id",
    metavar="RUN_ID",
    help="Continue a failed or interrupted run from its last checkpoint (its stored spec is used).",
)
@click.pass_obj
def run(
    state: _State,
    method: str | None,
    dataset: str | None,
    profile: str,
    seed: int,
    device: str,
    dataset_opt: tuple[str, ...],
    method_opt: tuple[str, ...],
    max_steps: int | None,
    time_budget: float | None,
    metrics: tuple[str, ...],
    fmt: str,
    threads: int | None,
    resume_id: str | None,
) -> None:
    """Train and evaluate one method on one dataset; store the result with its provenance."""
    from .runner import Runner, build_spec

    # progress goes to stderr in every format: --format json keeps stdout for the result
    runner = Runner(state.home, make_reporter(state.quiet), state.store(), threads=threads)
    if resume_id:
        record = runner.resume(resume_id, metrics=list(metrics) or None)
        _report(record, fmt)
        return
    if not method or not dataset:
        raise ConfigError("run needs --method and --dataset (or --resume RUN_ID)")
    spec = build_spec(
        dataset=dataset,
        method=method,
        profile=profile,
        seed=seed,
        device=device,
        dataset_options=_typed("dataset", dataset, dataset_opt, "--dataset-opt"),
        method_options=_typed("method", method, method_opt, "--method-opt"),
        max_steps=max_steps,
        time_budget=time_budget,
    )
    _report(runner.run(spec, metrics=list(metrics) or None), fmt)


def _report(record: RunRecord, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(record.to_dict(), indent=2, default=str))
        return
    _print_record(record, brief=True)


def _print_record(record: RunRecord, brief: bool) -> None:
    from rich.table import Table

    console = _console()
    spec = record.spec
    console.print(
        f"[bold]run {record.run_id}[/bold]: {spec.method} on {spec.dataset}, profile"
        f" {spec.profile}, seed {spec.seed} -> [bold]{record.status}[/bold]"
    )
    if record.error:
        console.print(f"[red]error:[/red] {record.error}", markup=True, highlight=False)
    table = Table(show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("note", overflow="fold")
    for name, value in record.metrics.items():
        table.add_row(name, _value(value), record.metric_reasons.get(name, ""))
    if record.metrics:
        console.print(table)
    prov = record.provenance
    if "fit_seconds" in prov:
        console.print(
            f"fit {prov['fit_seconds']:.2f} s, predict {prov.get('predict_seconds', 0):.2f} s,"
            f" {prov.get('n_parameters', 0):,} parameters, device {prov.get('device')}"
        )
    if prov.get("resolved"):
        console.print(f"resolved: {_resolved_text(prov['resolved'])}", highlight=False)
    if record.artifacts:
        figure = Path(record.artifacts) / "panel.png"
        if figure.exists():
            console.print(f"figure: {figure}", highlight=False)
    if not brief:
        console.print_json(json.dumps({"spec": spec.to_dict(), "config_hash": spec.config_hash()}))
        shown = {k: v for k, v in prov.items() if k != "traceback"}
        console.print_json(json.dumps({"provenance": shown}, default=str))
        if record.artifacts and Path(record.artifacts).is_dir():
            console.print("artifacts:")
            for path in sorted(Path(record.artifacts).iterdir()):
                console.print(f"  {path}", highlight=False)


def _resolved_text(resolved: dict[str, Any]) -> str:
    cpu = resolved.get("cpu") or {}
    layout = "channels-last" if resolved.get("channels_last") else "contiguous"
    bf16 = "native bf16" if cpu.get("native_bf16") else "no native bf16"
    return (
        f"precision {resolved.get('precision')}, {layout}, {resolved.get('threads')} thread(s)"
        f" of {resolved.get('cores_available')} core(s); CPU {cpu.get('model', '?')}"
        f" ({cpu.get('aten_capability', '?')}, {bf16})"
    )


# -- leaderboard / show --------------------------------------------------------------------------


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["rich", "markdown", "csv", "json", "html"]),
    default="rich",
    show_default=True,
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of the terminal.",
)
@click.option("--dataset", default=None, help="Only this dataset.")
@click.option("--method", default=None, help="Only this method.")
@click.option(
    "--metric",
    "columns",
    multiple=True,
    help="Only these metric columns (repeatable); the primary metric is always shown.",
)
@bootstrap_option
@click.pass_obj
def leaderboard(
    state: _State,
    fmt: str,
    output: Path | None,
    dataset: str | None,
    method: str | None,
    columns: tuple[str, ...],
    resamples: int,
) -> None:
    """Finished runs aggregated over seeds: mean ± std, 95% bootstrap interval, paired test
    against the best method, ranked by the primary metric; average rank across datasets."""
    from . import leaderboard as lb
    from . import render

    with state.store() as store:
        tables = lb.build(
            store,
            dataset=dataset,
            method=method,
            columns=list(columns),
            resamples=resamples,
            # csv and json carry every metric's interval; the tables show the primary one
            all_intervals=fmt in ("csv", "json"),
        )
    if not tables:
        click.echo(
            "no finished runs yet: start one with 'anobench run --method meandiff"
            " --dataset synthetic'",
            err=True,
        )
        if output is None:
            return
    if fmt == "rich" and output is None:
        console = _console()
        for table in render.rich_tables(tables):
            console.print(table)
        return
    text = render.render(tables, "markdown" if fmt == "rich" else fmt)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)
    except OSError as exc:
        raise ConfigError(f"--output {output}: cannot write ({exc.strerror})") from None
    click.echo(f"wrote {output}", err=True)


@cli.command()
@click.argument("run_id", required=False)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_obj
def show(state: _State, run_id: str | None, fmt: str) -> None:
    """One run: spec, provenance, metrics, artifacts. Without RUN_ID: list the stored runs."""
    with state.store() as store:
        if run_id is None:
            records = store.runs()
            if fmt == "json":
                click.echo(json.dumps([r.to_dict() for r in records], indent=2, default=str))
                return
            _print_runs(records)
            return
        record = store.get_run(run_id)
    if fmt == "json":
        click.echo(json.dumps(record.to_dict(), indent=2, default=str))
        return
    _print_record(record, brief=False)


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
        primary = f"{r.primary_metric} {_value(value)}" if value is not None else "-"
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
    _console().print(table)


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_obj
def doctor(state: _State, fmt: str) -> None:
    """What decides speed and reproducibility here: CPU features, cores, threads, what
    precision=auto resolves to per device, versions, optional extras, the store's health."""
    from . import doctor as doc

    data = doc.facts(state.home)
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, default=str))
        return
    click.echo(doc.render_text(data), nl=False)


from .cli_predict import predict_cmd  # noqa: E402

cli.add_command(predict_cmd)

from .cli_bench import bench  # noqa: E402

cli.add_command(bench)

from .cli_report import report_cmd  # noqa: E402

cli.add_command(report_cmd)


def main() -> None:
    cli(prog_name="anobench")


if __name__ == "__main__":
    sys.exit(main())
