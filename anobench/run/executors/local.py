"""Local executor: one single-process pool per slot (``--jobs N``), spawned, threads divided.

One pool per slot, not one pool of N: when a run kills its process (out of memory, a crash in
native code) only that slot's pool breaks, the run that was in it is the one reported failed,
and the slot gets a fresh process; the other runs never notice.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue as queue_module
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace

from ...api.jobs import Job, Outcome
from ...api.records import RunStatus
from . import Event, cpu_count, worker_failed
from .worker import THREAD_VARIABLES, init_local, run_local


def slot_device(job: Job, slot: int) -> Job:
    """Spread the CUDA runs of N slots over the visible GPUs: slot i on ``cuda:(i mod GPUs)``.

    Only runs that would take the default GPU (``cuda`` or ``auto``) move; ``cuda:N`` stays.
    Counting GPUs creates no CUDA context in this (driver) process.
    """
    import torch

    device = job.device or job.spec.device
    if device not in ("cuda", "auto") or not torch.cuda.is_available():
        return job
    count = torch.cuda.device_count()
    return job if count < 2 else replace(job, device=f"cuda:{slot % count}")


class LocalExecutor:
    def __init__(self, jobs: int = 1, threads: int | None = None) -> None:
        self.slots = max(1, jobs)
        self.threads = threads or max(1, cpu_count() // self.slots)
        self._context = mp.get_context("spawn")
        self._queue = self._context.Queue()
        self._pools: list[ProcessPoolExecutor | None] = [None] * self.slots
        self._busy: dict[Future[Outcome], tuple[int, Job]] = {}
        self._stopping = False
        # spawned workers inherit the environment: their BLAS/OpenMP pools start at this size
        self._saved_env = {name: os.environ.get(name) for name in THREAD_VARIABLES}
        os.environ.update({name: str(self.threads) for name in THREAD_VARIABLES})

    def describe(self) -> str:
        return f"local: {self.slots} process(es) x {self.threads} thread(s)"

    def _pool(self, slot: int) -> ProcessPoolExecutor:
        pool = self._pools[slot]
        if pool is None:
            pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=self._context,
                initializer=init_local,
                initargs=(self.threads, self._queue, os.getpid()),
            )
            self._pools[slot] = pool
        return pool

    def submit(self, job: Job) -> None:
        taken = {slot for slot, _ in self._busy.values()}
        slot = next(s for s in range(self.slots) if s not in taken)
        job = slot_device(job, slot)
        self._busy[self._pool(slot).submit(run_local, job)] = (slot, job)

    def wait(self, timeout: float) -> list[tuple[Job, Outcome]]:
        if not self._busy:
            return []
        done, _ = wait(list(self._busy), timeout=timeout, return_when=FIRST_COMPLETED)
        out = []
        for future in done:
            slot, job = self._busy.pop(future)
            try:
                outcome = future.result()
            except BrokenProcessPool:
                if self._stopping:
                    # asked to stop between two steps it could not stop at (or between runs)
                    outcome = Outcome(
                        job.run_id,
                        RunStatus.INTERRUPTED,
                        dict(job.provenance),
                        error="the suite was stopped while it ran",
                    )
                    self._discard(slot, kill=True)
                    out.append((job, outcome))
                    continue
                outcome = worker_failed(
                    job,
                    "its worker process died (killed by the system, e.g. out of memory, or a"
                    " crash in native code); the other runs went on",
                )
                self._discard(slot, kill=True)
            except Exception as exc:
                outcome = worker_failed(
                    job, f"could not run in a worker process: {type(exc).__name__}: {exc}"
                )
            else:
                if str(outcome.provenance.get("device", "")).startswith("cuda"):
                    # the next run of this slot starts in a fresh process: no CUDA context,
                    # cached memory or sticky CUDA error of this one
                    self._discard(slot, kill=False)
            out.append((job, outcome))
        return out

    def stop(self, grace: float) -> list[tuple[Job, Outcome]]:
        """Ask every busy worker to checkpoint and stop (SIGTERM); the outcomes that arrive
        within ``grace`` seconds (normally ``interrupted``, with a checkpoint)."""
        self._stopping = True
        for slot, _ in self._busy.values():
            pool = self._pools[slot]
            for process in list(getattr(pool, "_processes", {}).values()):
                if process.is_alive():
                    process.terminate()
        out: list[tuple[Job, Outcome]] = []
        deadline = time.monotonic() + grace
        while self._busy and time.monotonic() < deadline:
            out += self.wait(max(0.0, deadline - time.monotonic()))
        return out

    def events(self) -> list[Event]:
        out = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except (queue_module.Empty, OSError, ValueError):
                return out

    def _discard(self, slot: int, kill: bool) -> None:
        pool, self._pools[slot] = self._pools[slot], None
        if pool is None:
            return
        if kill:
            # the pool API cannot stop a busy process; a stopped suite must not leave it running
            for process in list(getattr(pool, "_processes", {}).values()):
                if process.is_alive():
                    process.kill()
        pool.shutdown(wait=not kill, cancel_futures=True)

    def close(self, kill: bool = False) -> None:
        for slot in range(self.slots):
            self._discard(slot, kill)
        self._busy.clear()
        self._queue.close()
        self._queue.join_thread()
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
