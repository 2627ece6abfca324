"""``anobench run``: train and evaluate one method on one dataset, or resume a stored run.

A configuration and seed that already finished is not run again: the stored result is printed
(``--rerun`` runs it again; the leaderboard then counts the latest finished run of each seed).
"""

from __future__ import annotations

from typing import Any

import click

from ..api.errors import ConfigError
from ..api.limits import MAX_THREADS
from ..api.progress import make_reporter
from ..api.records import RunRecord
from ..api.resolve import plugin_class
from .common import State, print_json, print_record, text_or_json
from .resume import refuse_mixed


def _typed(cls: Any, pairs: tuple[str, ...], flag: str) -> dict[str, Any]:
    return cls.options.parse_pairs(pairs, owner=cls.owner(), flag=flag)


@click.command("run")
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
@text_or_json
@click.option(
    "--threads",
    type=click.IntRange(min=1, max=MAX_THREADS),
    default=None,
    help="CPU threads (default: the usable cores that no other process keeps busy).",
)
@click.option(
    "--resume",
    "resume_id",
    metavar="RUN_ID",
    help="Continue a failed or interrupted run from its last checkpoint (its stored spec is used).",
)
@click.option(
    "--rerun",
    is_flag=True,
    help="Run again a configuration and seed that already finished (the new run then replaces"
    " it in the leaderboard); without it the stored result is printed.",
)
@click.pass_obj
def command(
    state: State,
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
    rerun: bool,
) -> None:
    """Train and evaluate one method on one dataset; store the result with its provenance."""
    from ..run.runner import Runner, build_spec

    # progress goes to stderr in every format: --format json keeps stdout for the result
    runner = Runner(state.home, make_reporter(state.quiet), state.store(), threads=threads)
    if resume_id:
        refuse_mixed(click.get_current_context(), resume_id)
        record = runner.resume(resume_id, metrics=list(metrics) or None)
        _report(record, fmt)
        return
    if not method or not dataset:
        raise ConfigError("run needs --method and --dataset (or --resume RUN_ID)")
    # each plugin looked up once: the spec and the runner's resolution share the classes
    dataset_cls = plugin_class("dataset", dataset)
    method_cls = plugin_class("method", method)
    spec = build_spec(
        dataset=dataset,
        method=method,
        profile=profile,
        seed=seed,
        device=device,
        dataset_options=_typed(dataset_cls, dataset_opt, "--dataset-opt"),
        method_options=_typed(method_cls, method_opt, "--method-opt"),
        max_steps=max_steps,
        time_budget=time_budget,
        dataset_cls=dataset_cls,
        method_cls=method_cls,
    )
    # a device that is not there is an error, even for a stored result
    runner.resolve(spec, dataset_cls, method_cls).check_device()
    stored = None if rerun else runner.finished(spec)
    if stored is not None:
        # json keeps stdout for the result; text prints the note above the stored result
        note = f"already finished: run {stored.run_id} (use --rerun to run it again)"
        click.echo(note, err=fmt == "json")
        _report(stored, fmt)
        return
    _report(runner.run(spec, metrics=list(metrics) or None), fmt)


def _report(record: RunRecord, fmt: str) -> None:
    if fmt == "json":
        print_json(record.to_dict())
        return
    print_record(record, brief=True)
