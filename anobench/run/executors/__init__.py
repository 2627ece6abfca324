"""Executors run prepared jobs somewhere (local processes, Ray tasks, Slurm jobs) and hand back
outcomes.

The driver alone writes the store: it registers each run (``Runner.prepare``), submits the
job, and commits the outcome an executor returns (``Runner.commit``). Workers write only the
run's artifacts under the anobench home.
"""

from __future__ import annotations

from typing import Any, Protocol

from ...api.jobs import Job, Outcome
from ...api.records import RunStatus

#: events forwarded from workers: ("task", run_id, description, completed, total, info),
#: ("done", run_id, description), ("log", run_id, message) or (DATA_READY, run_id)
Event = tuple[Any, ...]


class Executor(Protocol):
    #: how many runs the driver keeps in flight at once
    slots: int

    def describe(self) -> str: ...

    def submit(self, job: Job) -> None: ...

    def wait(self, timeout: float) -> list[tuple[Job, Outcome]]:
        """Outcomes of the jobs that finished, waiting at most ``timeout`` seconds for one."""
        ...

    def events(self) -> list[Event]: ...

    def close(self, kill: bool = False) -> None: ...


def cpu_count() -> int:
    """Cores this process may use (its affinity mask and cgroup CPU quota)."""
    from ...api.threads import available_cores

    return available_cores()


def worker_failed(job: Job, message: str) -> Outcome:
    """The outcome of a job whose worker died or could not take it."""
    return Outcome(job.run_id, RunStatus.FAILED, dict(job.provenance), error=message)


def make_executor(
    kind: str,
    *,
    home: str,
    jobs: int | None = None,
    threads: int | None = None,
    address: str | None = None,
    devices: tuple[str, ...] = (),
    slurm: Any = None,
) -> Executor:
    from ...api.errors import ConfigError

    if kind == "local":
        if address:
            raise ConfigError("--address names a Ray cluster; use it with --executor ray")
        from .local import LocalExecutor

        return LocalExecutor(jobs=jobs or 1, threads=threads)
    if kind == "ray":
        from .ray import RayExecutor

        return RayExecutor(home=home, jobs=jobs, threads=threads, address=address, devices=devices)
    if kind == "slurm":
        from .slurm import SlurmExecutor

        return SlurmExecutor(home=home, options=slurm, jobs=jobs, threads=threads)
    raise ConfigError(f"--executor {kind!r}: use local, ray or slurm")
