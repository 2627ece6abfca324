"""SQLite (WAL) store of runs, metrics, per-image values and provenance.

A run row is written ``running`` first; its metrics land in one transaction with the status, so a
crash leaves ``running``/``failed``/``interrupted`` and never half a result.
"""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ...api.errors import StoreError
from ...api.liveness import alive
from ...api.records import MetricResult, RunRecord, RunSpec, RunStatus
from .schema import MIGRATIONS, SCHEMA_VERSION

#: layout of the evidence blobs this version writes and reads (see anobench.results.resampling)
EVIDENCE_FORMAT = 1

#: how long a writer waits for another one to finish before it gives up
BUSY_SECONDS = 60.0

_FIX = "pass --home (or ANOBENCH_HOME) pointing at a writable folder"

#: store files this process found intact, with their size and mtime then: ``PRAGMA quick_check``
#: runs once per file and process, again only when the file changed since
_CHECKED: set[tuple[str, int, int]] = set()


def damaged(path: Path, detail: str) -> StoreError:
    """The one line for a store whose file is damaged: how to see the damage and recover."""
    return StoreError(
        f"the store {path} is damaged ({detail}); nothing was written to it: 'anobench doctor'"
        f" shows the damage; copy the file aside and rebuild it with sqlite3's .recover"
        f" ('sqlite3 {path} .recover | sqlite3 recovered.sqlite'), or start a new home (--home)"
    )


class NoStore(StoreError):
    """A command that only looks found no store (and created none)."""


class DiskFull(StoreError):
    """The store (or the disk under it) is full: nothing of the transaction was written."""


def is_full(exc: BaseException, path: Path | None = None) -> bool:
    """``SQLITE_FULL`` ("database or disk is full") or ``ENOSPC``; with the store's ``path``,
    also an I/O error of SQLite on a disk with (almost) no space left, which is how a full disk
    shows while SQLite maps its shared-memory file."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return True
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    text = str(exc).lower()
    if "full" in text:
        return True
    return path is not None and "i/o error" in text and _nearly_full(path)


def _nearly_full(path: Path) -> bool:
    try:
        return shutil.disk_usage(Path(path).parent).free < 1 << 20
    except OSError:
        return False


def disk_full(path: Path, detail: str) -> DiskFull:
    return DiskFull(
        f"the disk holding the store {path} is full ({detail}); nothing of this write was"
        " stored: free space (or pass --home on a larger disk) and rerun"
    )


def locked(path: Path, writers: list[str]) -> str:
    """The one line for a store another process kept locked for the whole busy timeout."""
    held = (
        f"processes running anobench runs here: {', '.join(writers[:3])}"
        if writers
        else "another anobench process (or a program reading it) is writing it"
    )
    return (
        f"the store {path} stayed locked for {BUSY_SECONDS:g} s: {held}; retry when it is"
        " done (nothing was written, the store is fine)"
    )


def is_damage(exc: sqlite3.DatabaseError) -> bool:
    """A malformed or corrupt database file (not a lock, a full disk or a bad statement)."""
    text = str(exc).lower()
    return "malformed" in text or "corrupt" in text


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _num(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _in_precision(provenance_json: str, precision: str | None, unknown: bool = False) -> bool:
    """Whether a run computed in ``precision`` (always, for ``None``); ``unknown``: the answer
    for a run that ended before resolving it."""
    if precision is None:
        return True
    from ..leaderboard import run_precision

    provenance = json.loads(provenance_json)
    if not provenance.get("resolved"):
        return unknown
    return run_precision(provenance) == precision


class Store:
    """One SQLite file; open one ``Store`` per process (connections are not shared)."""

    def __init__(self, path: str | os.PathLike[str], readonly: bool = False) -> None:
        """``readonly``: for commands that only look: never create a store (``NoStore`` when
        there is none), and open a store that may not be written (a read-only home) read-only,
        without migrating it."""
        self.path = Path(path)
        self.readonly = False
        self._orphaned_runs()
        if readonly:
            if not self.path.exists():
                raise NoStore(
                    f"no store in {self.home} yet: start with 'anobench run --method meandiff"
                    " --dataset synthetic' (or pass --home / ANOBENCH_HOME)"
                )
            if not (os.access(self.path, os.W_OK) and os.access(self.path.parent, os.W_OK)):
                self._open_readonly()
                return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the store folder {self.path.parent}: {exc}; {_FIX}"
            ) from None
        if self.path.exists() and not os.access(self.path, os.R_OK | os.W_OK):
            raise StoreError(f"store file {self.path} is not readable and writable; {_FIX}")
        if not self.path.exists() and not os.access(self.path.parent, os.W_OK):
            raise StoreError(f"store folder {self.path.parent} is not writable; {_FIX}")
        try:
            self._db = sqlite3.connect(self.path, timeout=BUSY_SECONDS, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute(f"PRAGMA busy_timeout = {int(BUSY_SECONDS * 1000)}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._check_integrity()
            self._migrate()
        except DiskFull:
            self._db.close()
            if readonly:  # a migration could not be written: read the store as it is
                self._open_readonly()
                return
            raise
        except StoreError:
            self._db.close()
            raise
        except sqlite3.DatabaseError as exc:
            if getattr(self, "_db", None) is not None:
                self._db.close()
            if is_damage(exc):
                raise damaged(self.path, str(exc)) from None
            if "locked" in str(exc).lower():
                raise StoreError(locked(self.path, [])) from None
            if is_full(exc, self.path):
                # a healthy store on a full disk: commands that only look read it as it is
                if readonly:
                    self._open_readonly()
                    return
                raise disk_full(self.path, str(exc)) from None
            raise StoreError(
                f"store file {self.path} is not a usable anobench store ({exc}); it was left"
                f" untouched: move it aside to start a new store, or {_FIX}"
            ) from None

    def _orphaned_runs(self) -> None:
        """An empty store file beside run folders is a lost store, not a new one."""
        if not (self.path.exists() and self.path.stat().st_size == 0):
            return
        runs = self.home / "runs"
        folders = [p for p in runs.iterdir() if p.is_dir()] if runs.is_dir() else []
        if folders:
            raise StoreError(
                f"store file {self.path} is empty (0 bytes) but {runs} holds {len(folders)} run"
                " folder(s): the store was truncated or replaced; restore it from a backup, or"
                " move runs/ and the empty file aside to start a new store"
            )

    def _open_readonly(self) -> None:
        """Open without write access; ``immutable`` where sqlite cannot even make its WAL
        index beside the file (a read-only folder)."""
        self.readonly = True
        last: Exception | None = None
        for flags in ("mode=ro", "mode=ro&immutable=1"):
            try:
                self._db = sqlite3.connect(
                    f"file:{self.path}?{flags}", uri=True, timeout=60, isolation_level=None
                )
                self._db.row_factory = sqlite3.Row
                self._check_integrity()
                version = self._db.execute("SELECT MAX(version) FROM schema_version").fetchone()
                break
            except StoreError:
                self._db.close()
                raise
            except sqlite3.DatabaseError as exc:
                last = exc
                self._db.close()
        else:
            if isinstance(last, sqlite3.DatabaseError) and is_damage(last):
                raise damaged(self.path, str(last)) from None
            raise StoreError(f"store file {self.path} cannot be read ({last}); {_FIX}") from None
        if (version[0] or 0) < SCHEMA_VERSION:
            self._db.close()
            raise StoreError(
                f"store file {self.path} has schema version {version[0]} and may not be written"
                f" here to migrate it to {SCHEMA_VERSION}: open it once where it is writable"
            )

    @property
    def home(self) -> Path:
        """The anobench home this store belongs to: the folder of the store file."""
        return Path(os.path.abspath(self.path)).parent

    def _stored_artifacts(self, folder: str | None) -> str | None:
        """A folder under the home is stored relative to it, so the home can move or be copied."""
        if folder is None:
            return None
        path = Path(folder)
        if not path.is_absolute():
            return path.as_posix()
        home = Path(os.path.realpath(self.home))
        try:
            return Path(os.path.realpath(path)).relative_to(home).as_posix()
        except ValueError:
            return str(path)  # outside the home: kept as given

    def _read_artifacts(self, stored: str | None) -> str | None:
        """The stored folder as an absolute path of this home (relative ones are under it)."""
        if stored is None:
            return None
        return str(self.home / stored)  # an absolute ``stored`` stays itself

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken up front so concurrent writers queue instead of failing."""
        if self.readonly:
            raise StoreError(f"store file {self.path} was opened read-only here; {_FIX}")
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc).lower():
                raise StoreError(locked(self.path, self._writers())) from None
            if is_full(exc, self.path):
                raise disk_full(self.path, str(exc)) from None
            raise StoreError(f"store file {self.path} cannot be written ({exc}); {_FIX}") from None
        try:
            yield self._db
            self._db.execute("COMMIT")
        except BaseException as exc:
            if self._db.in_transaction:  # SQLite may have rolled back already (SQLITE_FULL)
                self._db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError) and is_full(exc, self.path):
                raise disk_full(self.path, str(exc)) from None
            raise

    def _writers(self) -> list[str]:
        """``pid P on H (run R)`` of the live processes with a run in progress in this store."""
        try:
            rows = self._db.execute(
                "SELECT run_id, provenance_json FROM runs WHERE status = ?",
                (RunStatus.RUNNING.value,),
            ).fetchall()
        except sqlite3.Error:
            return []
        out = []
        for run_id, provenance in rows:
            owner = json.loads(provenance).get("owner")
            if isinstance(owner, dict) and alive(owner):
                out.append(f"pid {owner.get('pid')} on {owner.get('host')} (run {run_id})")
        return out

    def _check_integrity(self) -> None:
        """``PRAGMA quick_check`` once per process and file, before anything reads or writes it."""
        if not self.path.exists():
            return
        stat = self.path.stat()
        key = (os.path.realpath(self.path), stat.st_size, stat.st_mtime_ns)
        if key in _CHECKED or stat.st_size == 0:
            return
        problems = [r[0] for r in self._db.execute("PRAGMA quick_check(5)")]
        if problems != ["ok"]:
            raise damaged(self.path, " ".join("; ".join(problems[:2]).split()))
        _CHECKED.add(key)

    def _migrate(self) -> None:
        self._db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = self._db.execute("SELECT MAX(version) FROM schema_version").fetchone()
        version = row[0] or 0
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"store file {self.path} has schema version {version}, newer than this anobench"
                f" ({SCHEMA_VERSION}); upgrade anobench"
            )
        for number in range(version, SCHEMA_VERSION):
            with self._write() as db:
                migration = MIGRATIONS[number]
                if callable(migration):
                    migration(db, self.home)
                else:
                    for statement in migration.split(";"):
                        if statement.strip():
                            db.execute(statement)
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (number + 1,))

    @property
    def schema_version(self) -> int:
        return self._db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]

    # -- writing -------------------------------------------------------------------------------

    def start_run(
        self,
        run_id: str,
        spec: RunSpec,
        provenance: Mapping[str, Any],
        primary_metric: str | None,
        artifacts: str | None = None,
    ) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO runs (run_id, config_hash, dataset, dataset_hash, method, method_hash,"
                " profile, seed, status, spec_json, provenance_json, primary_metric, artifacts,"
                " created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    spec.config_hash(),
                    spec.dataset,
                    spec.dataset_hash(),
                    spec.method,
                    spec.method_hash(),
                    spec.profile,
                    spec.seed,
                    RunStatus.RUNNING.value,
                    json.dumps(spec.to_dict(), default=str),
                    json.dumps(dict(provenance), default=str),
                    primary_metric,
                    self._stored_artifacts(artifacts),
                    now(),
                ),
            )

    def finish_run(
        self,
        run_id: str,
        results: Mapping[str, tuple[Any, MetricResult]],
        provenance: Mapping[str, Any],
        evidence: bytes | None = None,
    ) -> None:
        """Metrics, per-image values, evidence and the ``finished`` status in one transaction.

        ``results`` maps metric name to (metric class or instance, result); ``evidence`` is
        :meth:`anobench.results.resampling.Evidence.to_bytes` of the test predictions.
        """
        with self._write() as db:
            for name, (metric, result) in results.items():
                db.execute(
                    "INSERT INTO metrics (run_id, name, level, value, higher_is_better, oracle,"
                    " reason, details_json, resample) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        run_id,
                        name,
                        metric.level,
                        _num(result.value),
                        int(metric.higher_is_better),
                        int(getattr(metric, "oracle", False)),
                        result.reason,
                        json.dumps(dict(result.details), default=str),
                        getattr(metric, "resample", None),
                    ),
                )
                db.executemany(
                    "INSERT INTO per_image (run_id, metric, image_id, value) VALUES (?, ?, ?, ?)",
                    [(run_id, name, str(k), _num(v)) for k, v in result.per_image.items()],
                )
            if evidence is not None:
                db.execute(
                    "INSERT INTO evidence (run_id, format, data) VALUES (?, ?, ?)",
                    (run_id, EVIDENCE_FORMAT, evidence),
                )
            self._set_status(db, run_id, RunStatus.FINISHED, None, provenance)

    def restart_run(self, run_id: str, provenance: Mapping[str, Any]) -> dict[str, Any]:
        """Mark a failed or interrupted run as running again (it is being resumed).

        Returns the provenance stored: the one given, plus how each earlier attempt of the row
        ended under ``resumes`` (oldest first), so the run shows the history it continues.
        """
        with self._write() as db:
            row = db.execute(
                "SELECT status, error, finished, provenance_json FROM runs WHERE run_id = ?",
                (run_id,),
            ).fetchone()
            if row is not None:
                earlier = list(json.loads(row["provenance_json"]).get("resumes") or [])
                ended = {"status": row["status"], "error": row["error"], "ended": row["finished"]}
                provenance = {**provenance, "resumes": [*earlier, ended]}
            db.execute("DELETE FROM metrics WHERE run_id = ?", (run_id,))
            db.execute("DELETE FROM per_image WHERE run_id = ?", (run_id,))
            db.execute("DELETE FROM evidence WHERE run_id = ?", (run_id,))
            self._set_status(db, run_id, RunStatus.RUNNING, None, provenance)
            db.execute("UPDATE runs SET finished = NULL WHERE run_id = ?", (run_id,))
        return dict(provenance)

    def end_run(
        self, run_id: str, status: RunStatus, error: str | None, provenance: Mapping[str, Any]
    ) -> None:
        """Close a run that did not finish: ``failed`` or ``interrupted``."""
        with self._write() as db:
            self._set_status(db, run_id, status, error, provenance)

    @staticmethod
    def _set_status(
        db: sqlite3.Connection,
        run_id: str,
        status: RunStatus,
        error: str | None,
        provenance: Mapping[str, Any],
    ) -> None:
        db.execute(
            "UPDATE runs SET status = ?, error = ?, provenance_json = ?, finished = ?"
            " WHERE run_id = ?",
            (
                RunStatus(status).value,
                error,
                json.dumps(dict(provenance), default=str),
                now(),
                run_id,
            ),
        )

    def interrupt_if_running(self, run_id: str, error: str) -> bool:
        """Mark a run interrupted only if it is still ``running``; False if it ended meanwhile."""
        with self._write() as db:
            cursor = db.execute(
                "UPDATE runs SET status = ?, error = ?, finished = ?"
                " WHERE run_id = ? AND status = ?",
                (RunStatus.INTERRUPTED.value, error, now(), run_id, RunStatus.RUNNING.value),
            )
            return cursor.rowcount == 1

    def delete_runs(self, run_ids: list[str]) -> list[str | None]:
        """Delete runs with their metrics, per-image values and evidence in one transaction;
        returns each run's artifacts folder (absolute) for the caller to remove after it.

        Checked again inside the transaction: a run that is gone or whose owning process is
        alive and ``running`` (it may have been resumed since the caller looked) raises
        ``StoreError`` and nothing is deleted.
        """
        folders: list[str | None] = []
        with self._write() as db:
            for run_id in run_ids:
                row = db.execute(
                    "SELECT status, provenance_json, artifacts FROM runs WHERE run_id = ?",
                    (run_id,),
                ).fetchone()
                if row is None:
                    raise StoreError(f"no run '{run_id}' in {self.path}; nothing was deleted")
                owner = json.loads(row["provenance_json"]).get("owner")
                if row["status"] == RunStatus.RUNNING and alive(owner):
                    raise StoreError(
                        f"run {run_id} is running (process {owner.get('pid')} on"
                        f" {owner.get('host')}); nothing was deleted: stop it first"
                    )
                for table in ("metrics", "per_image", "evidence", "runs"):
                    db.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
                folders.append(self._read_artifacts(row["artifacts"]))
        return folders

    # -- reading -------------------------------------------------------------------------------

    def _record(self, row: sqlite3.Row) -> RunRecord:
        metrics, reasons = {}, {}
        for m in self._db.execute(
            "SELECT name, value, reason FROM metrics WHERE run_id = ? ORDER BY name",
            (row["run_id"],),
        ):
            metrics[m["name"]] = math.nan if m["value"] is None else m["value"]
            if m["reason"]:
                reasons[m["name"]] = m["reason"]
        provenance = json.loads(row["provenance_json"])
        status, error = row["status"], row["error"]
        owner = provenance.get("owner")
        if status == RunStatus.RUNNING and isinstance(owner, dict) and not alive(owner):
            # shown as what it is; the row itself is reclaimed by the next run of its config
            status, error = RunStatus.INTERRUPTED, "the process running it is gone (killed?)"
        return RunRecord(
            run_id=row["run_id"],
            spec=RunSpec.from_dict(json.loads(row["spec_json"])),
            status=status,
            metrics=metrics,
            metric_reasons=reasons,
            provenance=provenance,
            error=error,
            created=row["created"],
            finished=row["finished"],
            artifacts=self._read_artifacts(row["artifacts"]),
            primary_metric=row["primary_metric"],
        )

    def get_run(self, run_id: str) -> RunRecord:
        """A run by id or unique id prefix."""
        rows = self._db.execute(
            "SELECT * FROM runs WHERE run_id LIKE ? ORDER BY created",
            (run_id.replace("%", "").replace("_", r"\_") + "%",),
        ).fetchall()
        rows = [r for r in rows if r["run_id"].startswith(run_id)]
        exact = [r for r in rows if r["run_id"] == run_id]
        if exact:
            rows = exact
        if not rows:
            raise StoreError(
                f"no run '{run_id}' in {self.path}; 'anobench show' lists the stored runs"
            )
        if len(rows) > 1:
            ids = ", ".join(r["run_id"] for r in rows[:5])
            raise StoreError(f"run id prefix '{run_id}' is ambiguous ({ids}); give more characters")
        return self._record(rows[0])

    def runs(self, status: RunStatus | str | None = None) -> list[RunRecord]:
        query, args = "SELECT * FROM runs", ()
        if status:
            query, args = query + " WHERE status = ?", (str(status),)
        # rowid: the order rows were written in, for runs created in the same second
        rows = self._db.execute(query + " ORDER BY created, rowid", args).fetchall()
        return [self._record(r) for r in rows]

    def find_finished(
        self, config_hash: str, seed: int, precision: str | None = None
    ) -> str | None:
        """The latest finished run of one configuration and seed (by ``finished``, then id);
        with ``precision``, only one that computed in it (as the leaderboard's rows split)."""
        rows = self._db.execute(
            "SELECT run_id, provenance_json FROM runs WHERE config_hash = ? AND seed = ?"
            " AND status = ? ORDER BY finished DESC, run_id DESC",
            (config_hash, seed, RunStatus.FINISHED.value),
        )
        return next((r[0] for r in rows if _in_precision(r[1], precision)), None)

    def find_interrupted(
        self, config_hash: str, seed: int, precision: str | None = None
    ) -> list[str]:
        """Interrupted runs of one configuration and seed (in ``precision``, when given and
        known), newest first."""
        rows = self._db.execute(
            "SELECT run_id, provenance_json FROM runs WHERE config_hash = ? AND seed = ?"
            " AND status = ? ORDER BY created DESC",
            (config_hash, seed, RunStatus.INTERRUPTED.value),
        )
        return [r[0] for r in rows if _in_precision(r[1], precision, unknown=True)]

    def find_running(self, config_hash: str, seed: int) -> list[tuple[str, dict[str, Any]]]:
        """``running`` runs of one configuration and seed with their provenance, newest first."""
        rows = self._db.execute(
            "SELECT run_id, provenance_json FROM runs WHERE config_hash = ? AND seed = ?"
            " AND status = ? ORDER BY created DESC",
            (config_hash, seed, RunStatus.RUNNING.value),
        )
        return [(r[0], json.loads(r[1])) for r in rows]

    def metric_rows(self) -> list[dict[str, Any]]:
        """One row per (finished run, metric), with the run's identifying columns."""
        rows = self._db.execute(
            "SELECT r.run_id, r.config_hash, r.dataset, r.dataset_hash, r.method, r.method_hash,"
            " r.profile, r.seed, r.finished, r.primary_metric, r.provenance_json, r.spec_json,"
            " m.name, m.value, m.level, m.higher_is_better, m.oracle, m.resample,"
            " m.details_json"
            " FROM runs r JOIN metrics m ON m.run_id = r.run_id WHERE r.status = ?"
            " ORDER BY r.created, r.run_id, m.name",
            (RunStatus.FINISHED.value,),
        ).fetchall()
        return [dict(r) for r in rows]

    def per_image_rows(self, run_ids: list[str]) -> list[tuple[str, str, str, float]]:
        """``(run_id, metric, image_id, value)`` of several runs in one query (NaN for NULL)."""
        out: list[tuple[str, str, str, float]] = []
        # SQLite caps the number of bound parameters; 500 per query is far below every limit
        for a in range(0, len(run_ids), 500):
            part = run_ids[a : a + 500]
            rows = self._db.execute(
                "SELECT run_id, metric, image_id, value FROM per_image WHERE run_id IN"
                f" ({','.join('?' * len(part))})",
                part,
            )
            out += [(r[0], r[1], r[2], math.nan if r[3] is None else r[3]) for r in rows]
        return out

    def evidence(self, run_id: str) -> bytes | None:
        """The run's stored evidence blob, or ``None`` (runs stored before schema 2 have none)."""
        row = self._db.execute(
            "SELECT format, data FROM evidence WHERE run_id = ?", (run_id,)
        ).fetchone()
        if row is None or row[0] != EVIDENCE_FORMAT:
            return None
        return bytes(row[1])

    def per_image(self, run_id: str, metric: str) -> dict[str, float]:
        rows = self._db.execute(
            "SELECT image_id, value FROM per_image WHERE run_id = ? AND metric = ?",
            (run_id, metric),
        )
        return {r[0]: (math.nan if r[1] is None else r[1]) for r in rows}

    def metric_details(self, run_id: str, metric: str) -> tuple[float, str | None, dict] | None:
        """``(value, reason, details)`` of one stored metric of a run, or ``None``."""
        row = self._db.execute(
            "SELECT value, reason, details_json FROM metrics WHERE run_id = ? AND name = ?",
            (run_id, metric),
        ).fetchone()
        if row is None:
            return None
        value = math.nan if row[0] is None else float(row[0])
        return value, row[1], json.loads(row[2]) if row[2] else {}

    def count(self, status: str | None = None) -> int:
        if status:
            return self._db.execute(
                "SELECT COUNT(*) FROM runs WHERE status = ?", (status,)
            ).fetchone()[0]
        return self._db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
