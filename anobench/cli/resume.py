"""``run --resume``: the run continues with the options it was stored with, so options that
would define another run are refused rather than silently ignored."""

from __future__ import annotations

import click
from click.core import ParameterSource

from ..api.errors import ConfigError

#: what a stored run fixes; ``--metric``, ``--threads`` and ``--format`` still apply
FIXED = (
    "method",
    "dataset",
    "profile",
    "seed",
    "device",
    "dataset_opt",
    "method_opt",
    "max_steps",
    "time_budget",
    "rerun",
)


def refuse_mixed(ctx: click.Context, run_id: str) -> None:
    """One line naming the options given beside ``--resume`` that it cannot apply."""
    given = [
        param.opts[0]
        for param in ctx.command.params
        if param.name in FIXED
        and ctx.get_parameter_source(param.name)
        in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
    ]
    if given:
        raise ConfigError(
            f"--resume {run_id} continues the run with the options it was stored with, so"
            f" {', '.join(given)} cannot apply: leave them out, or start a new run without"
            " --resume (only --metric, --threads and --format go with --resume)"
        )
