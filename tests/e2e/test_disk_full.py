"""A full disk during a run: one line, exit 2, and the run is stored failed with the reason."""

from __future__ import annotations

import errno
import json

from anobench.results.store import Store

from .conftest import one_line_error

RUN = ("--quiet", "run", "-m", "brightness", "-d", "toy")


def _only_run(home):
    with Store(home / "store.sqlite") as store:
        (record,) = store.runs()
    return record


def test_sqlite_full_while_storing_the_results_fails_the_run(
    invoke, testplugins, home, monkeypatch
):
    """SQLITE_FULL for real: the store may not grow while the metrics are written."""
    finish = Store.finish_run

    def full(self, *args, **kwargs):
        pages = self._db.execute("PRAGMA page_count").fetchone()[0]
        self._db.execute(f"PRAGMA max_page_count = {pages}")
        try:
            big = {"blob": "x" * 200_000}
            return finish(self, *args[:2], {**args[2], **big}, *args[3:], **kwargs)
        finally:
            self._db.execute("PRAGMA max_page_count = 1073741823")

    monkeypatch.setattr(Store, "finish_run", full)
    one_line_error(invoke(*RUN), "full", "free space")
    record = _only_run(home)
    assert record.status == "failed" and "full" in record.error
    assert record.metrics == {}


def test_no_space_left_while_writing_artifacts_fails_the_run(
    invoke, testplugins, home, monkeypatch
):
    from anobench.run import execute

    def enospc(workdir, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(workdir / "panel.png"))

    monkeypatch.setattr(execute, "_artifacts", enospc)
    one_line_error(invoke(*RUN), "no space left", "panel.png", "free space")
    record = _only_run(home)
    assert record.status == "failed" and "no space left" in record.error
    assert json.dumps(record.to_dict(), default=str)
