"""``anobench rm``: delete stored runs and their run folders (see :mod:`anobench.run.remove`)."""

from __future__ import annotations

import click

from .common import State


@click.command("rm")
@click.argument("run_ids", nargs=-1, metavar="[RUN_ID]...")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["failed", "interrupted", "finished"]),
    help="Only runs with this status (repeatable); without RUN_ID: every such run.",
)
@click.option(
    "--older-attempts",
    is_flag=True,
    help="Only attempts the leaderboard does not use: every run of a configuration and seed"
    " but its latest finished one (or its latest one where none finished).",
)
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
@click.pass_obj
def command(
    state: State,
    run_ids: tuple[str, ...],
    statuses: tuple[str, ...],
    older_attempts: bool,
    dry_run: bool,
) -> None:
    """Delete runs: their store rows (metrics, per-image values, provenance) and their run
    folders (artifacts, checkpoints). Refuses a run that is running in a live process. Asks
    nothing: check with --dry-run first."""
    from ..results.store import NoStore
    from ..run.remove import remove, select

    try:
        store = state.store(readonly=True)  # only to find out whether there is a store
    except NoStore as exc:
        raise NoStore(f"nothing to delete: {exc}") from None
    store.close()
    with state.store() as store:
        removals = select(store, run_ids, statuses, older_attempts)
        if not removals:
            click.echo("no stored run matches; nothing deleted", err=True)
            return
        if not dry_run:
            remove(store, removals)
    verb = "would delete" if dry_run else "deleted"
    for removal in removals:
        click.echo(f"{verb} {removal.line()}")
    click.echo(f"{verb} {len(removals)} run(s)" + (" (dry run)" if dry_run else ""), err=True)
