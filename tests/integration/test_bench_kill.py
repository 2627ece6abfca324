"""Kill a running suite at random moments (SIGKILL, and one Ctrl-C), restart it until it is done:
every run ends up finished exactly once and the store stays sound."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from anobench.run.identity import identify
from anobench.run.suite import load_suite

SMOKE = Path(__file__).resolve().parents[2] / "benchmarks" / "smoke.toml"

pytestmark = pytest.mark.skipif(not hasattr(os, "killpg"), reason="needs POSIX signals")


def _group(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group, from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(stat.parent.name))
    return members


class Suite:
    def __init__(self, home: Path) -> None:
        env = {**os.environ, "ANOBENCH_HOME": str(home), "PYTHONUNBUFFERED": "1"}
        main = "from anobench.cli import main; main()"
        cmd = [sys.executable, "-c", main, "bench", str(SMOKE), "--jobs", "2"]
        self.proc = subprocess.Popen(
            [*cmd, "--format", "json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group: the driver and its workers
        )
        self.started = threading.Event()
        self.stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.stderr.append(line)
            if " started " in line:
                self.started.set()

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout=timeout)


def test_sigkill_at_random_moments_then_restart_finishes_every_run_once(tmp_path):
    home = tmp_path / "home"
    rng = random.Random(20240611)
    # a run is stored under its identified spec (the data's fingerprint in place of paths)
    expected = {(identify(s).config_hash(), s.seed) for s in load_suite(SMOKE).expand()}

    for round_ in range(3):
        suite = Suite(home)
        if round_ == 0:  # anywhere, start-up included
            time.sleep(rng.uniform(0.5, 5.0))
        else:  # while runs are in flight
            suite.started.wait(timeout=60)
            time.sleep(rng.uniform(0.0, 1.5))
        if round_ == 1:  # only the driver dies: its workers must notice and stop
            os.kill(suite.proc.pid, signal.SIGKILL)
        else:  # the whole suite dies
            os.killpg(suite.proc.pid, signal.SIGKILL)
        suite.wait(timeout=30)
        deadline = time.monotonic() + 10
        while _group(suite.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _group(suite.proc.pid) == [], "orphaned workers outlived their killed driver"

    # Ctrl-C while runs are in flight: exit 130, those runs interrupted, none left running
    suite = Suite(home)
    while not suite.started.wait(timeout=0.1) and suite.proc.poll() is None:
        pass
    if suite.proc.poll() is None:  # (the killed rounds may have left nothing to do)
        os.kill(suite.proc.pid, signal.SIGINT)
        code = suite.wait(timeout=60)
        log = "".join(suite.stderr)
        if code == 0:
            # the smoke runs take seconds: the signal can land after the last one finished,
            # while the driver exits; then there was nothing left to interrupt
            todo = re.search(r"(\d+) run\(s\) to do", log)
            assert todo and f"[{todo[1]}/{todo[1]}] finished" in log, log
        else:
            assert code == 130, log
        with sqlite3.connect(home / "store.sqlite") as db:
            rows = db.execute("SELECT provenance_json FROM runs WHERE status = 'running'")
            owners = [json.loads(row[0])["owner"]["pid"] for row in rows]
        # rows of the killed drivers wait for their configuration's turn; none of this one's
        assert suite.proc.pid not in owners

    final = Suite(home)
    assert final.wait(timeout=180) == 0, "".join(final.stderr)
    report = json.loads(final.proc.stdout.read())
    assert report["counts"]["failed"] == 0
    assert report["counts"]["finished"] + report["counts"]["skipped"] == len(expected)

    with sqlite3.connect(home / "store.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = db.execute("SELECT config_hash, seed, status, run_id FROM runs").fetchall()
        metrics = dict(db.execute("SELECT run_id, COUNT(*) FROM metrics GROUP BY run_id"))
    finished = Counter((h, s) for h, s, status, _ in rows if status == "finished")
    assert set(finished) == expected and set(finished.values()) == {1}
    assert all(status in ("finished", "interrupted") for _, _, status, _ in rows), rows
    # the kills did land on runs in flight (their rows were reclaimed, then run again)
    assert any(status == "interrupted" for _, _, status, _ in rows)
    assert all(metrics.get(run_id) for _, _, status, run_id in rows if status == "finished")
    assert all(metrics.get(run_id) is None for _, _, status, run_id in rows if status != "finished")
