"""``anobench bench SUITE.toml``: run a benchmark suite (a grid of runs) through an executor."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..api.errors import ConfigError
from ..api.limits import MAX_JOBS, MAX_SEED, MAX_THREADS
from ..api.records import RunStatus
from .common import State, console
from .slurm_options import slurm_from, slurm_options


def _seeds(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        seeds = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise ConfigError(
            f"--seeds {text!r}: expected comma-separated integers, e.g. 0,1,2"
        ) from None
    if not seeds or any(not 0 <= s <= MAX_SEED for s in seeds) or len(set(seeds)) != len(seeds):
        raise ConfigError(
            f"--seeds {text!r}: expected distinct integers >= 0 and <= {MAX_SEED}, e.g. 0,1,2"
        )
    return seeds


@click.command("bench")
@click.argument("suite_file", metavar="SUITE.toml", type=click.Path(path_type=Path))
@click.option(
    "--executor",
    type=click.Choice(["local", "ray", "slurm"]),
    default="local",
    show_default=True,
    help="local: worker processes on this machine; ray: tasks on a Ray cluster; slurm: one"
    " Slurm job per run (submitit).",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1, max=MAX_JOBS),
    default=None,
    help="Runs at once (local default 1; ray default: what the cluster's CPUs or GPUs allow;"
    " slurm: jobs in flight, default 16).",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1, max=MAX_THREADS),
    default=None,
    help="CPU threads per run (default: cores // jobs, so runs never oversubscribe the CPU).",
)
@click.option(
    "--address",
    default=None,
    help="Ray cluster to join (default: $RAY_ADDRESS, else a local cluster for this suite).",
)
@slurm_options
@click.option(
    "--collect",
    is_flag=True,
    help="Slurm: store the outcomes that finished jobs left, submit nothing.",
)
@click.option("--seeds", default=None, metavar="0,1,2", help="Replace the suite's seeds.")
@click.option("--device", default=None, help="Replace the suite's device (auto, cpu, cuda[:N]).")
@click.option(
    "--dry-run", is_flag=True, help="Print the grid and what is already done; run nothing."
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_obj
def command(
    state: State,
    suite_file: Path,
    executor: str,
    jobs: int | None,
    threads: int | None,
    address: str | None,
    seeds: str | None,
    device: str | None,
    dry_run: bool,
    fmt: str,
    collect: bool = False,
    **slurm_flags: object,
) -> None:
    """Run every dataset x method x seed of a suite; skip what already finished.

    An interrupted suite resumes where it stopped when started again; a failing run is stored
    as failed, the others go on, and the summary lists it (exit code 1 until every run finished).
    """
    from ..api.home import store_path
    from ..run import bench as driver
    from ..run.bench_view import make_view
    from ..run.devices import resolve_device
    from ..run.executors import make_executor
    from ..run.runner import Runner
    from ..run.suite import load_suite

    if address and executor != "ray":
        raise ConfigError("--address names a Ray cluster; use it with --executor ray")
    suite = load_suite(suite_file)
    slurm = slurm_from(suite, executor, slurm_flags)
    if collect:
        _collect(state, fmt)
        return
    specs = suite.expand(seeds=_seeds(seeds), device=device)
    if dry_run:
        if store_path(state.home).exists():
            with state.store() as store:
                items = driver.plan(specs, store)
        else:
            items = [driver.Item(spec) for spec in specs]
        _print_grid(suite.name, items, fmt)
        return
    devices = tuple(sorted({spec.device for spec in specs}))
    if executor == "local":
        for name in devices:  # a missing GPU is a config error before anything is stored
            resolve_device(name)
    store = state.store()
    items = driver.plan(specs, store, local=executor == "local")
    runner = Runner(state.home, store=store)
    runner.local = executor == "local"
    pool = make_executor(
        executor,
        home=str(state.home),
        jobs=jobs,
        threads=threads,
        address=address,
        devices=devices,
        slurm=slurm,
    )
    view = make_view(state.quiet)  # progress goes to stderr: it never mixes with --format json
    report = driver.run_suite(suite, items, runner, pool, view)
    store.close()
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        _print_summary(report)
    if report.failed or report.count(RunStatus.INTERRUPTED):
        raise SystemExit(1)  # the suite is not complete: running it again retries or resumes


def _collect(state: State, fmt: str) -> None:
    from ..run.executors.slurm import collect
    from ..run.runner import Runner

    with state.store() as store:
        done = collect(Runner(state.home, store=store))
    if fmt == "json":
        click.echo(json.dumps([{"run_id": r, "status": s} for r, s in done], indent=2))
        return
    for run_id, status in done:
        click.echo(f"collected {run_id}: {status}")
    if not done:
        click.echo("no outcomes waiting to be collected", err=True)


def _print_grid(name: str, items: list, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps([item.to_dict() for item in items], indent=2, default=str))
        return
    from rich.table import Table

    table = Table(title=f"suite {name}: {len(items)} run(s)")
    for col in ("#", "dataset", "method", "profile", "seed", "config", "status"):
        table.add_column(col)
    for n, item in enumerate(items, 1):
        s = item.spec
        status = item.status if item.run_id is None else f"{item.status} ({item.run_id})"
        table.add_row(str(n), s.dataset, s.method, s.profile, str(s.seed), s.config_hash(), status)
    console().print(table)


def _print_summary(report) -> None:
    from rich.markup import escape
    from rich.table import Table

    from ..run.bench import ELSEWHERE, SKIPPED

    parts = [
        f"{report.count(RunStatus.FINISHED)} finished",
        f"{report.count(SKIPPED)} skipped (already done)",
        f"{report.count(RunStatus.FAILED)} failed",
    ]
    for extra in (RunStatus.INTERRUPTED, ELSEWHERE):
        if report.count(extra):
            parts.append(f"{report.count(extra)} {extra}")
    title = f"suite {report.suite}: {', '.join(parts)} in {report.seconds:.1f} s"
    table = Table(title=escape(title))
    for col in ("method", "profile", "dataset", "seed", "status", "run", "primary", "time"):
        table.add_column(col)
    table.add_column("error", overflow="fold")
    colours = {
        RunStatus.FINISHED: "green",
        RunStatus.FAILED: "red",
        RunStatus.INTERRUPTED: "yellow",
    }
    for item in report.items:
        s = item.spec
        value = "-" if item.value is None else f"{item.value:.4f}"
        primary = f"{item.primary} {value}" if item.primary else ""
        status = item.status
        if status in colours:
            status = f"[{colours[status]}]{status}[/]"
        table.add_row(
            s.method,
            s.profile,
            s.dataset,
            str(s.seed),
            status,
            item.run_id or "",
            primary,
            "" if item.seconds is None else f"{item.seconds:.1f} s",
            escape(item.error or ""),
        )
    console().print(table)
