"""A stop signal reaches the suite driver between its polls, never inside the executor's wait.

Raised from the signal handler, the interruption could land inside concurrent.futures' locks
(``wait`` holds every future's condition while it sets up); a lock leaked that way left the
process pool's manager thread blocked for good and the driver hung at exit after Ctrl-C.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from anobench.api.jobs import Outcome
from anobench.api.records import RunStatus
from anobench.api.signals import Interrupted, handled
from anobench.results.store import Store
from anobench.run import bench as driver
from anobench.run.runner import Runner
from anobench.run.suite import load_suite

SMOKE = Path(__file__).resolve().parents[2] / "benchmarks" / "smoke.toml"


class SignalledExecutor:
    """One slot; its first wait receives SIGINT midway, as a Ctrl-C in a terminal would."""

    slots = 1

    def __init__(self) -> None:
        self.jobs: list = []
        self.entered = self.completed = 0
        self.stopped = False
        self.closed_with: bool | None = None

    def describe(self) -> str:
        return "signalled"

    def submit(self, job) -> None:
        self.jobs.append(job)

    def wait(self, timeout: float):
        self.entered += 1
        if self.entered == 1:
            signal.raise_signal(signal.SIGINT)
        self.completed += 1  # the part a library would still hold its locks for
        return []

    def events(self):
        return []

    def stop(self, grace: float):
        self.stopped = True
        return [
            (job, Outcome(job.run_id, RunStatus.INTERRUPTED, dict(job.provenance), error="stop"))
            for job in self.jobs
        ]

    def close(self, kill: bool = False) -> None:
        self.closed_with = kill


def test_ctrl_c_ends_the_suite_at_a_poll_with_its_run_interrupted(tmp_path):
    home = tmp_path / "home"
    suite = load_suite(SMOKE)
    store = Store(home / "store.sqlite")
    items = driver.plan(suite.expand(), store)
    runner = Runner(home, store=store)
    executor = SignalledExecutor()
    with handled(), pytest.raises(Interrupted) as stopped:
        driver.run_suite(suite, items, runner, executor)
    assert stopped.value.signum == signal.SIGINT and stopped.value.exit_code == 130
    # the wait that received the signal ran to its end; the driver stopped after it
    assert executor.entered == executor.completed == 1
    assert executor.stopped and executor.closed_with is True
    (job,) = executor.jobs
    assert store.get_run(job.run_id).status == RunStatus.INTERRUPTED
    store.close()
