"""Ray executor: one Ray task per run, with a GPU requested where the run's device is CUDA.

``--address`` (or ``RAY_ADDRESS``) joins a running cluster; without it a local cluster is
started for the suite and stopped after it. Outcomes travel back to the driver, which alone
writes the store. Workers write a run's artifacts into the anobench home when they can see it
(a shared filesystem, or the local cluster); a worker that cannot see it runs in a private
home on its node and sends the run folder back with the outcome (checkpoints stay on the node).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from ...api.context import CHECKPOINT
from ...api.errors import ConfigError
from ...api.home import runs_dir
from ...api.jobs import Job, Outcome
from ...api.progress import Reporter
from ...api.records import RunStatus, short_hash
from ..runner import execute
from . import Event, worker_failed
from .worker import QueueReporter, limit_threads


def _run_task(
    job: Job, threads: int, queue: Any, marker: str
) -> tuple[Outcome, dict[str, bytes] | None]:
    """The body of a Ray task (module level, so Ray ships it by reference)."""
    limit_threads(threads)
    ship = not Path(marker).exists()
    if ship:  # the driver's home is not on this node: work in a private one, send files back
        private = Path(tempfile.gettempdir()) / "anobench-ray" / short_hash(job.home)
        job = replace(job, home=str(private))
    reporter = QueueReporter(queue, job.run_id) if queue is not None else Reporter()
    outcome = execute(job, reporter).portable()
    if not ship:
        return outcome, None
    workdir = runs_dir(Path(job.home)) / job.run_id
    files = {
        path.relative_to(workdir).as_posix(): path.read_bytes()
        for path in sorted(workdir.rglob("*"))
        if path.is_file() and path.name != CHECKPOINT
    }
    if outcome.status == RunStatus.FINISHED:
        shutil.rmtree(workdir, ignore_errors=True)
    return outcome, files


def remote_tasks(ray: Any) -> dict[bool, Any]:
    """The remote task of a CPU run (``False``) and of a GPU run (``True``).

    A GPU run's worker process exits after it (``max_calls=1``, which Ray takes only here, not
    in ``.options()``): a reused one would carry the last run's CUDA context, cached memory,
    ``CUDA_VISIBLE_DEVICES`` and any sticky CUDA error. CPU workers are reused (no such state,
    and a process start costs seconds of imports).
    """
    return {False: ray.remote(_run_task), True: ray.remote(max_calls=1)(_run_task)}


def _uses_gpu(method: str) -> bool:
    """Whether a method computes on a GPU when it has one (numpy-only methods do not)."""
    from ...api import registry

    try:
        return bool(getattr(registry.get_method(method), "uses_gpu", True))
    except Exception:  # the run itself reports a plugin that cannot load
        return True


class RayExecutor:
    def __init__(
        self,
        home: str,
        jobs: int | None = None,
        threads: int | None = None,
        address: str | None = None,
        devices: tuple[str, ...] = (),
    ) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError(
                "--executor ray needs Ray: pip install -e \".[ray]\" (or pip install 'ray>=2.9')"
            ) from None
        self._ray = ray
        self._owns = not ray.is_initialized()
        if self._owns:
            try:
                ray.init(
                    address=address,
                    include_dashboard=False,
                    configure_logging=False,
                    log_to_driver=False,
                )
            except Exception as exc:
                where = f"--address {address}" if address else "a local Ray cluster"
                raise ConfigError(f"{where}: Ray could not start or connect ({exc})") from None
        resources = ray.cluster_resources()
        self.cpus = max(1, int(resources.get("CPU", 1)))
        self.gpus = int(resources.get("GPU", 0))
        if any(d.startswith("cuda") for d in devices) and self.gpus == 0:
            self.close()
            raise ConfigError(
                "the suite asks for device cuda but the Ray cluster has no GPU; use device ="
                ' "auto" or "cpu", or start Ray workers with GPUs'
            )
        gpu_runs = self.gpus > 0 and any(d.startswith("cuda") or d == "auto" for d in devices)
        if threads or jobs:
            self.threads = threads or max(1, self.cpus // jobs)
        else:
            # a GPU run's data loading and host work share the CPUs of its GPU, not one core
            self.threads = max(1, self.cpus // self.gpus) if gpu_runs else 1
        self.slots = jobs or max(1, self.gpus if gpu_runs else self.cpus // self.threads)
        self._home = Path(home)
        self._home.mkdir(parents=True, exist_ok=True)
        self._marker = self._home / f".ray-driver-{uuid.uuid4().hex[:12]}"
        self._marker.touch()
        from ray.util.queue import Queue

        self._queue = Queue(actor_options={"num_cpus": 0})
        self._tasks = remote_tasks(ray)
        self._refs: dict[Any, Job] = {}

    def describe(self) -> str:
        gpus = f", {self.gpus} GPU(s)" if self.gpus else ""
        return (
            f"ray: {self.cpus} CPU(s){gpus}, up to {self.slots} run(s) at once x"
            f" {self.threads} thread(s)"
        )

    def _wants_gpu(self, job: Job) -> bool:
        device = job.spec.device
        if not _uses_gpu(job.spec.method):
            return False
        return device.startswith("cuda") or (device == "auto" and self.gpus > 0)

    def submit(self, job: Job) -> None:
        gpu = self._wants_gpu(job)
        # inside the task Ray makes the granted GPU the only visible one
        job = replace(job, device="cuda" if gpu else "cpu")
        task = self._tasks[gpu].options(num_cpus=self.threads, num_gpus=1 if gpu else 0)
        ref = task.remote(job, self.threads, self._queue, str(self._marker))
        self._refs[ref] = job

    def wait(self, timeout: float) -> list[tuple[Job, Outcome]]:
        ray = self._ray
        if not self._refs:
            return []
        ready, rest = ray.wait(list(self._refs), num_returns=1, timeout=timeout)
        if ready and rest:
            more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
            ready += more
        out = []
        for ref in ready:
            job = self._refs.pop(ref)
            try:
                outcome, files = ray.get(ref)
            except ray.exceptions.RayError as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                out.append((job, worker_failed(job, f"its Ray task failed: {first}")))
                continue
            if files:
                workdir = runs_dir(self._home) / job.run_id
                for name, data in files.items():
                    path = workdir / name
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(data)
            out.append((job, outcome))
        return out

    def events(self) -> list[Event]:
        try:
            size = self._queue.qsize()
            return list(self._queue.get_nowait_batch(size)) if size else []
        except Exception:  # progress is best effort
            return []

    def close(self, kill: bool = False) -> None:
        ray = self._ray
        if kill:
            for ref in list(getattr(self, "_refs", {})):
                ray.cancel(ref, force=True)
        marker = getattr(self, "_marker", None)
        if marker is not None:
            marker.unlink(missing_ok=True)
        queue = getattr(self, "_queue", None)
        if queue is not None:
            with contextlib.suppress(Exception):
                ray.kill(queue.actor)
        if self._owns and ray.is_initialized():
            ray.shutdown()
