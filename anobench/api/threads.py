"""How many CPU threads a run should use: usable cores, other jobs, and following them.

A run that shares its cores with another CPU-bound job collapses (OpenMP regions wait for their
slowest thread, and a thread sharing a core with another busy process is descheduled for whole
time slices): ``choose_threads`` leaves busy cores alone when a run starts, ``ThreadGovernor``
follows other jobs while it trains.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch

from .limits import MAX_THREADS

#: set by executors (and ``--threads``) to fix the threads of the runs in a process
THREADS_VARIABLE = "ANOBENCH_THREADS"


def _cgroup_quota() -> float | None:
    """CPUs granted by a cgroup CPU quota (v2 ``cpu.max`` or v1 CFS), or ``None`` if unlimited."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            return int(quota) / int(period)
        return None
    except (OSError, ValueError):
        pass
    try:
        quota = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        return quota / period if quota > 0 else None
    except (OSError, ValueError):
        return None


def available_cores() -> int:
    """The cores this process may actually use: its affinity mask, capped by a cgroup quota."""
    if hasattr(os, "sched_getaffinity"):
        cores = len(os.sched_getaffinity(0))
    else:
        cores = os.cpu_count() or 1
    quota = _cgroup_quota()
    if quota is not None:
        cores = min(cores, math.ceil(quota))
    return max(1, cores)


def _cpu_times(cpus: set[int] | None) -> tuple[float, float] | None:
    """(busy, total) jiffies over ``cpus`` from /proc/stat."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return None
    busy = total = 0.0
    for line in lines:
        head, *rest = line.split()
        if not head.startswith("cpu") or head == "cpu":
            continue
        if cpus is not None and int(head[3:]) not in cpus:
            continue
        values = [float(v) for v in rest[:8]]
        idle = values[3] + values[4]  # idle + iowait
        total += sum(values)
        busy += sum(values) - idle
    return busy, total


def _own_jiffies() -> float:
    """CPU time of this process and its reaped children, in clock ticks."""
    t = os.times()
    return (t.user + t.system + t.children_user + t.children_system) * os.sysconf("SC_CLK_TCK")


def busy_elsewhere(seconds: float = 0.3) -> float | None:
    """Cores kept busy by other processes over a short sample, or ``None`` without /proc."""
    import time

    cpus = set(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    before, own_before = _cpu_times(cpus), _own_jiffies()
    if before is None:
        return None
    time.sleep(seconds)
    after, own_after = _cpu_times(cpus), _own_jiffies()
    if after is None or after[1] <= before[1]:
        return None
    n = len(cpus) if cpus else (os.cpu_count() or 1)
    busy = (after[0] - before[0]) - (own_after - own_before)
    return max(0.0, busy / (after[1] - before[1]) * n)


def choose_threads(requested: int | None = None, busy: float | None = -1.0) -> int:
    """Threads for this run: ``requested``, else ``$ANOBENCH_THREADS``, else the usable cores
    not kept busy by others.

    OpenMP regions wait for their slowest thread; a thread that shares a core with another
    busy process is descheduled for whole time slices, so every small parallel operation waits
    milliseconds and a 2-thread run next to one busy process runs several times slower than a
    1-thread run on the free core. Leaving the busy cores alone avoids that collapse.
    ``busy``: cores kept busy by others, if already measured (default: measure now).
    """
    cores = available_cores()
    if requested is None and os.environ.get(THREADS_VARIABLE, "").strip():
        text = os.environ[THREADS_VARIABLE]
        try:
            requested = int(text)
        except ValueError:
            raise ValueError(f"{THREADS_VARIABLE}={text!r}: expected a number of threads") from None
        if not 1 <= requested <= MAX_THREADS:
            raise ValueError(f"{THREADS_VARIABLE}={text!r}: expected 1 to {MAX_THREADS} threads")
    if requested is not None and int(requested) > MAX_THREADS:
        raise ValueError(f"threads must be from 1 to {MAX_THREADS}, got {requested}")
    if requested is not None:
        return max(1, int(requested))
    if busy is not None and busy < 0:
        busy = busy_elsewhere()
    if busy is None:
        return cores
    return max(1, min(cores, cores - math.floor(busy + 0.35)))


_THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def thread_settings() -> Any:
    """A function that puts torch's threads and the thread variables back as they are now."""
    threads = torch.get_num_threads()
    saved = {name: os.environ.get(name) for name in _THREAD_ENV}

    def restore() -> None:
        torch.set_num_threads(threads)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    return restore


def set_threads(threads: int) -> None:
    """Use ``threads`` intra-op threads in torch (and in pools started after this call)."""
    import contextlib

    for name in _THREAD_ENV:
        os.environ[name] = str(threads)
    torch.set_num_threads(threads)
    # possible only before the first parallel work; a pool that already started keeps its size
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(threads)


class ThreadGovernor:
    """Follows the machine during a run whose threads were chosen automatically.

    Another CPU-bound job that starts after a run would otherwise make every OpenMP region of
    the run wait for a thread that shares its core (the collapse ``choose_threads`` avoids at
    the start). ``tick`` is called once per training step (by ``RunContext.log``); every
    ``interval`` seconds it measures how many cores other processes kept busy since the last
    look and moves torch's thread count to the free cores. Fewer threads only after two looks
    that agree (a burst of another process passes); more threads after one look at free cores
    (a sustained job would show in it), and the first look comes after ``first`` seconds when
    the run started on fewer threads than cores, so a start that caught a short burst does not
    keep the run on one thread. The changes are recorded (a run that changed threads is not
    bit-reproducible; ``--threads N`` fixes the count).
    """

    def __init__(self, threads: int, interval: float = 15.0, first: float = 5.0) -> None:
        import time

        self._clock = time.monotonic
        self.threads = threads
        self.interval = interval
        self.cores = available_cores()
        self.changes: list[dict[str, Any]] = []
        self._cpus = set(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        self._last = self._sample()
        self._pending: int | None = None
        # the first look: soon when the start left cores unused
        self._wait = min(first, interval) if threads < self.cores else interval

    def _sample(self) -> tuple[float, tuple[float, float] | None, float]:
        return self._clock(), _cpu_times(self._cpus), _own_jiffies()

    def tick(self, step: int) -> None:
        if self._clock() - self._last[0] < self._wait:
            return
        self._wait = self.interval
        now = self._sample()
        (_, before, own_before), (_, after, own_after) = self._last, now
        self._last = now
        if before is None or after is None or after[1] <= before[1]:
            return
        n = len(self._cpus) if self._cpus else (os.cpu_count() or 1)
        busy = max(0.0, (after[0] - before[0]) - (own_after - own_before))
        busy = busy / (after[1] - before[1]) * n
        target = max(1, min(self.cores, self.cores - math.floor(busy + 0.35)))
        if target == self.threads:
            self._pending = None
            return
        if target < self.threads and self._pending != target:
            self._pending = target  # one more look before giving threads up: bursts pass
            return
        self._pending = None
        self.threads = target
        torch.set_num_threads(target)
        self.changes.append(
            {"step": int(step), "threads": target, "busy_elsewhere": round(busy, 2)}
        )
