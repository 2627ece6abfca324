"""The Slurm options of ``bench`` (``--partition``, ``--time``, ...): they override the suite's
``[slurm]`` table and mean nothing without ``--executor slurm``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import click

from ..api.errors import ConfigError

_OPTIONS = (
    click.option("--partition", default=None, help="Slurm: partition to submit to."),
    click.option("--account", default=None, help="Slurm: account charged for the jobs."),
    click.option(
        "--time",
        "time_limit",
        default=None,
        metavar="LIMIT",
        help="Slurm: time limit of one job (minutes or [D-]HH:MM:SS); a run that reaches it"
        " checkpoints and is requeued.",
    ),
    click.option(
        "--cpus", type=click.IntRange(min=1), default=None, help="Slurm: CPUs (threads) per run."
    ),
    click.option("--mem", default=None, help="Slurm: memory per run, e.g. 16G."),
    click.option(
        "--gpus",
        type=click.IntRange(min=0),
        default=None,
        help="Slurm: GPUs per run (default 1 for device cuda, else 0).",
    ),
    click.option(
        "--sbatch",
        multiple=True,
        metavar="FLAG=VALUE",
        help="Slurm: another sbatch flag, e.g. --sbatch qos=high (repeatable).",
    ),
)
_NAMES = {
    "partition": "partition",
    "account": "account",
    "time_limit": "time",
    "cpus": "cpus",
    "mem": "mem",
    "gpus": "gpus",
}


def slurm_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_OPTIONS):
        func = option(func)
    return func


def slurm_from(suite: Any, executor: str, flags: Mapping[str, Any]) -> Any:
    """The suite's [slurm] table with the command line's values on top (``None`` unless the
    executor is slurm)."""
    from ..run.executors.slurm_options import SlurmOptions, parse, parse_flag

    given = {_NAMES[k]: v for k, v in flags.items() if k in _NAMES and v is not None}
    if flags.get("sbatch"):
        given["sbatch"] = dict(parse_flag(text) for text in flags["sbatch"])
    if executor != "slurm":
        if given:
            used = ", ".join(f"--{k}" for k in given)
            raise ConfigError(f"{used}: Slurm options; use them with --executor slurm")
        return None
    from_line = parse(given, "command line")
    return (suite.slurm or SlurmOptions()).merged(from_line)
