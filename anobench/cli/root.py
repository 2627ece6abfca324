"""The root ``anobench`` group: global options, and errors as one line with an exit code.

Exit codes: 0 ok; 1 an internal error (or a suite with runs not finished); 2 an error the user can
fix (an ``AnobenchError``, or a usage error from click); 128+N when signal N stopped a run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from ..api.errors import AnobenchError
from ..api.home import resolve_home
from . import bench, doctor, export, leaderboard, predict, report, rm, run, show
from . import list as listing
from .common import State


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
            import sqlite3

            if isinstance(exc, sqlite3.DatabaseError) and isinstance(ctx.obj, State):
                from ..api.home import store_path
                from ..results.store.store import damaged, is_damage

                if is_damage(exc):  # damage quick_check did not see, met while reading
                    click.secho(
                        f"error: {damaged(store_path(ctx.obj.home), str(exc))}", fg="red", err=True
                    )
                    ctx.exit(2)
            click.secho(
                f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for the"
                " traceback and please report it)",
                fg="red",
                err=True,
            )
            ctx.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(file_okay=False),
    envvar="ANOBENCH_HOME",
    help="Store, caches and run artifacts. Default: ./anobench-home or $ANOBENCH_HOME.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@click.version_option(package_name="anobench")
@click.pass_context
def cli(ctx: click.Context, home: str | None, debug: bool, quiet: bool) -> None:
    """anobench: benchmark anomaly detection and localisation methods on medical images."""
    if home is not None and not home.strip():
        # Path("") is the current folder: a store would appear wherever the command ran
        raise click.BadParameter("give a folder, or leave --home out", param_hint="'--home'")
    ctx.obj = State(resolve_home(None if home is None else Path(home)), quiet, debug)
    # SIGTERM / SIGHUP (Slurm, Kubernetes, systemd, timeout) end a run like Ctrl-C
    from ..api.signals import handled

    ctx.with_resource(handled())


for _module in (listing, run, show, rm, leaderboard, bench, report, predict, doctor, export):
    cli.add_command(_module.command)


def main() -> None:
    cli(prog_name="anobench")
