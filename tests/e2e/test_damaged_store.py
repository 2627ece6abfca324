"""A store damaged in the middle of its file: every command says so in one line, writes nothing."""

from __future__ import annotations

import sqlite3

from .conftest import one_line_error


def _runs(invoke, n: int) -> None:
    for seed in range(n):
        result = invoke("--quiet", "run", "-m", "brightness", "-d", "toy", "--seed", str(seed))
        assert result.exit_code == 0, result.output


def _damage(path) -> bytes:
    """Garbage over one page in the middle of the file (after a checkpoint into it)."""
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = db.execute("PRAGMA page_size").fetchone()[0]
        pages = db.execute("PRAGMA page_count").fetchone()[0]
    assert pages >= 4, pages
    data = bytearray(path.read_bytes())
    middle = pages // 2
    data[middle * page : (middle + 1) * page] = (b"\xde\xad\xbe\xef" * page)[:page]
    path.write_bytes(bytes(data))
    return bytes(data)


def test_a_damaged_store_is_one_line_and_never_written(invoke, testplugins, home):
    _runs(invoke, 3)
    path = home / "store.sqlite"
    damaged = _damage(path)
    for args in (
        ("show",),
        ("leaderboard",),
        ("--quiet", "run", "-m", "brightness", "-d", "toy", "--seed", "7"),
    ):
        one_line_error(invoke(*args), str(path), "damaged", "anobench doctor", ".recover")
        assert path.read_bytes() == damaged, args
        wal = home / "store.sqlite-wal"
        assert not wal.exists() or wal.stat().st_size == 0, args


def test_damage_met_while_reading_is_the_same_one_line(invoke, testplugins, home, monkeypatch):
    """Damage ``quick_check`` did not report but a query meets: the same line, no internal error."""
    _runs(invoke, 1)
    from anobench.results.store import Store

    def malformed(*args, **kwargs):
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(Store, "runs", malformed)
    one_line_error(invoke("show"), str(home / "store.sqlite"), "damaged", ".recover")
