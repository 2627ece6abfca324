"""Schema and migrations of the results store. Append migrations; never edit a released one."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

#: a migration is SQL (statements separated by ``;``) or a function of the open connection and
#: the home (the store file's folder), run inside the migration's transaction
Migration = str | Callable[[sqlite3.Connection, Path], None]


def _relative_artifacts(db: sqlite3.Connection, home: Path) -> None:
    """3: artifact folders are stored relative to the home, so a home can be moved or copied.

    An absolute path under the home becomes relative; so does ``<old home>/runs/<run_id>`` when
    this home holds ``runs/<run_id>`` (a home moved or copied before this migration ran). Any
    other path outside the home stays as it is.
    """
    home = Path(os.path.realpath(home))
    rows = db.execute("SELECT run_id, artifacts FROM runs WHERE artifacts IS NOT NULL").fetchall()
    for run_id, stored in rows:
        path = Path(stored)
        if not path.is_absolute():
            continue
        try:
            relative = Path(os.path.realpath(path)).relative_to(home)
        except ValueError:
            own = Path("runs") / run_id
            if path.parts[-2:] != own.parts or not (home / own).is_dir():
                continue
            relative = own
        db.execute("UPDATE runs SET artifacts = ? WHERE run_id = ?", (relative.as_posix(), run_id))


def _data_identity(db: sqlite3.Connection, home: Path) -> None:
    """4: a run is identified by its data fingerprint, not by the options alone.

    Each run's spec takes the fingerprint its provenance recorded (a run that ended before
    recording one takes the fingerprint of its configuration's other runs, when they agree on
    one), and its configuration and dataset hashes are worked out again with it. Runs of one
    configuration stay one row unless they recorded different data: runs that named their
    folder by an environment variable (``root`` unset) and read different folders become
    separate rows, as they always should have been. Which options only locate the data is
    the plugin's to say and is not known here: old runs keep their paths in their identity.
    """
    from ...api.records import RunSpec

    rows = db.execute("SELECT run_id, config_hash, spec_json, provenance_json FROM runs").fetchall()
    seen: dict[str, set[str]] = {}
    for _, config, _, provenance in rows:
        found = json.loads(provenance).get("dataset_fingerprint")
        if isinstance(found, str) and found:
            seen.setdefault(config, set()).add(found)
    for run_id, config, spec_json, provenance in rows:
        found = json.loads(provenance).get("dataset_fingerprint")
        if not (isinstance(found, str) and found):
            found = next(iter(seen[config])) if len(seen.get(config, ())) == 1 else None
        data = json.loads(spec_json)
        if found is None or data.get("data_fingerprint"):
            continue
        spec = RunSpec.from_dict({**data, "data_fingerprint": found, "location_options": ()})
        db.execute(
            "UPDATE runs SET spec_json = ?, config_hash = ?, dataset_hash = ? WHERE run_id = ?",
            (
                json.dumps(spec.to_dict(), default=str),
                spec.config_hash(),
                spec.dataset_hash(),
                run_id,
            ),
        )


MIGRATIONS: list[Migration] = [
    # 1: runs, metrics, per-image values, provenance as JSON
    """
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        config_hash TEXT NOT NULL,
        dataset TEXT NOT NULL,
        dataset_hash TEXT NOT NULL,
        method TEXT NOT NULL,
        method_hash TEXT NOT NULL,
        profile TEXT NOT NULL,
        seed INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed', 'interrupted')),
        spec_json TEXT NOT NULL,
        provenance_json TEXT NOT NULL DEFAULT '{}',
        primary_metric TEXT,
        error TEXT,
        artifacts TEXT,
        created TEXT NOT NULL,
        finished TEXT
    );
    CREATE INDEX runs_config ON runs (config_hash, seed, status);
    CREATE TABLE metrics (
        run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        level TEXT NOT NULL,
        value REAL,
        higher_is_better INTEGER NOT NULL,
        oracle INTEGER NOT NULL DEFAULT 0,
        reason TEXT,
        details_json TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (run_id, name)
    );
    CREATE TABLE per_image (
        run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        metric TEXT NOT NULL,
        image_id TEXT NOT NULL,
        value REAL,
        PRIMARY KEY (run_id, metric, image_id)
    );
    """,
    # 2: the recipe that recomputes a metric on resampled images, and each run's evidence (test
    # image ids, labels, scores and per-image pixel histograms) for bootstrap intervals
    """
    ALTER TABLE metrics ADD COLUMN resample TEXT;
    CREATE TABLE evidence (
        run_id TEXT PRIMARY KEY REFERENCES runs (run_id) ON DELETE CASCADE,
        format INTEGER NOT NULL,
        data BLOB NOT NULL
    );
    """,
    _relative_artifacts,
    _data_identity,
]

SCHEMA_VERSION = len(MIGRATIONS)
