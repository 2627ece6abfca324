"""What runs inside a worker process (a local pool process or a Ray task)."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from typing import Any

from ...api.jobs import Job, Outcome
from ...api.progress import DATA_READY, Reporter, Task, _fmt_fields
from ...api.signals import install_in_worker
from ..runner import execute

#: thread pools that would otherwise each start one thread per core in every worker
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

_queue: Any = None


def limit_threads(threads: int) -> None:
    """Give this process ``threads`` CPU threads, so N workers do not fight over the cores;
    the runs it executes keep that count instead of choosing their own."""
    from ...api.threads import THREADS_VARIABLE, set_threads

    os.environ[THREADS_VARIABLE] = str(threads)
    set_threads(threads)


def _exit_with_parent(parent: int) -> None:
    """A worker whose driver died (SIGKILL) must not keep training or writing artifacts."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.25)
        os._exit(1)

    threading.Thread(target=watch, name="anobench-parent-watch", daemon=True).start()


def init_local(threads: int, queue: Any, parent: int) -> None:
    """Initializer of a local pool process."""
    global _queue
    # Ctrl-C is the driver's to handle: it asks the workers to stop (SIGTERM), so each run
    # checkpoints where it is, then marks the runs interrupted
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    install_in_worker()
    _exit_with_parent(parent)
    limit_threads(threads)
    # progress events are best effort: never block the worker's exit on flushing them
    queue.cancel_join_thread()
    _queue = queue


def run_local(job: Job) -> Outcome:
    install_in_worker()  # a fresh stop state for every run this worker takes
    reporter = QueueReporter(_queue, job.run_id) if _queue is not None else Reporter()
    return execute(job, reporter).portable()


class QueueReporter(Reporter):
    """Forwards one run's progress to the driver as ``(run_id, kind, ...)`` events, throttled.

    Events: ``("task", run_id, description, completed, total, info)`` (throttled),
    ``("done", run_id, description)`` when a task ends, ``("log", run_id, message)`` and
    ``(DATA_READY, run_id)`` once the run's data are loaded.
    """

    def __init__(self, queue: Any, run_id: str, interval: float = 0.5) -> None:
        self.queue = queue
        self.run_id = run_id
        self.interval = interval
        self._names: dict[int, str] = {}
        self._last = 0.0

    def log(self, message: str) -> None:
        self._put(("log", self.run_id, message))

    def data_ready(self) -> None:
        self._put((DATA_READY, self.run_id))

    def _start(self, task: Task, description: str) -> None:
        self._names[id(task)] = description
        self._send(task, "", force=True)

    def _advance(self, task: Task, amount: float, fields: dict[str, Any]) -> None:
        self._send(task, _fmt_fields(fields))

    def _stop(self, task: Task) -> None:
        self._put(("done", self.run_id, self._names.pop(id(task), "")))

    def _send(self, task: Task, info: str, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last >= self.interval:
            self._last = now
            name = self._names.get(id(task), "")
            self._put(("task", self.run_id, name, task.completed, task.total, info))

    def _put(self, event: tuple[Any, ...]) -> None:
        # a full or closed queue must never fail a run
        with contextlib.suppress(Exception):
            self.queue.put_nowait(event)
