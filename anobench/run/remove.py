"""Deleting stored runs: their store rows, then their run folders.

The rows (run, metrics, per-image values, evidence) go in one transaction; the folders are
removed after it commits. A crash in between leaves folders no row points to (``runs/<id>``
with a checkpoint or a model nobody can name), never a row whose files are gone, which
``show``, ``predict`` or a resume would trip over. A run whose owning process is alive is never
deleted: it would go on writing a folder and a row that no longer exist.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..api.errors import ConfigError, StoreError
from ..api.home import runs_dir
from ..api.liveness import alive
from ..api.records import RunRecord, RunStatus
from ..results.history import histories
from ..results.store import Store

#: the statuses ``--status`` selects; a running run is never deleted
STATUSES = ("failed", "interrupted", "finished")


@dataclass(frozen=True)
class Removal:
    record: RunRecord
    folder: Path | None  # the run folder to remove, None when it is not there

    def line(self) -> str:
        spec = self.record.spec
        where = f", {self.folder}" if self.folder else ", no run folder in this home"
        return (
            f"{self.record.run_id} {self.record.status} {spec.method} on {spec.dataset}"
            f" (profile {spec.profile}, seed {spec.seed}){where}"
        )


def select(
    store: Store,
    run_ids: Sequence[str],
    statuses: Sequence[str] = (),
    older_attempts: bool = False,
) -> list[Removal]:
    """The runs to delete: the ids given (unique prefixes), or every stored run when none are,
    narrowed to ``statuses`` and, with ``older_attempts``, to the attempts the leaderboard does
    not use (every attempt of a configuration and seed but the latest finished one, or the
    latest one where none finished)."""
    if not run_ids and not statuses and not older_attempts:
        raise ConfigError(
            "rm: name the runs to delete (RUN_ID...), or select them with --status or"
            " --older-attempts; 'anobench show' lists the stored runs"
        )
    records = store.runs()
    chosen = [_known(store, run_id) for run_id in run_ids] if run_ids else records
    if statuses:
        chosen = [r for r in chosen if r.status in statuses]
    if older_attempts:
        older = {r.run_id for h in histories(records) for r in h.older}
        chosen = [r for r in chosen if r.run_id in older]
    unique = list({r.run_id: r for r in chosen}.values())
    for record in unique:
        if record.status == RunStatus.RUNNING and alive(record.provenance.get("owner")):
            raise StoreError(
                f"run {record.run_id} is running in a live process; nothing was deleted: stop"
                " it first (Ctrl-C or SIGTERM stores it as interrupted)"
            )
    return [Removal(r, _folder(store.home, r)) for r in unique]


def _known(store: Store, run_id: str) -> RunRecord:
    try:
        return store.get_run(run_id)
    except StoreError as exc:  # unknown or ambiguous: checked for every id before any delete
        raise StoreError(f"{exc}; nothing was deleted") from None


def _folder(home: Path, record: RunRecord) -> Path | None:
    """The run's folder, only where it is the home's own ``runs/<run_id>`` (a folder elsewhere
    is not anobench's to delete)."""
    own = runs_dir(home) / record.run_id
    stored = Path(record.artifacts) if record.artifacts else own
    if os.path.realpath(stored) != os.path.realpath(own):
        return None
    return own if own.is_dir() else None


def remove(store: Store, removals: Sequence[Removal]) -> None:
    """Delete the rows in one transaction, then the folders."""
    store.delete_runs([r.record.run_id for r in removals])
    for removal in removals:
        if removal.folder is not None:
            shutil.rmtree(removal.folder, ignore_errors=True)
