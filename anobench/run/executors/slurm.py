"""Slurm executor: one Slurm job per run, submitted with submitit; only the driver writes the store.

A job writes its run's folder and, last, ``slurm/outcome.pkl``; the driver commits that outcome
(``Runner.commit``, one transaction) like any executor's. The outcome file stays where it is, so
a driver that dies between a job's end and the commit loses nothing: the next ``bench`` of the
suite (or ``bench --collect``) finds the run still ``running`` with its outcome and commits it.
Jobs outlive the driver: a restarted ``bench`` adopts the runs whose jobs are still queued or
running (``slurm/job.json`` names them) instead of submitting them again. A job that ended
without an outcome (killed, node failure) is stored ``interrupted``; the next ``bench`` resumes
it from its checkpoint.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from ...api.errors import ConfigError
from ...api.jobs import Job, Outcome
from ...api.progress import DATA_READY
from ...api.records import RunStatus
from . import Event
from .slurm_job import DATA_READY_FILE, JOB_FILE, OUTCOME, SlurmRun, read_outcome, slurm_dir
from .slurm_options import SlurmOptions

#: jobs in flight when --jobs is not given
DEFAULT_SLOTS = 16
#: seconds between two squeue calls
POLL = 3.0
#: seconds a COMPLETED job's outcome may take to appear (network filesystems cache)
GRACE = 30.0
#: states of a job that may still run (or is being requeued)
LIVE = {
    "PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "REQUEUE_FED",
    "REQUEUE_HOLD", "RESIZING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "PREEMPTED",
    "RESV_DEL_HOLD", "SPECIAL_EXIT",
}  # fmt: skip


def job_states(job_ids: list[str]) -> dict[str, str]:
    """Slurm's state of each job that squeue still lists (ended jobs drop out after MinJobAge)."""
    if not job_ids:
        return {}
    args = ["squeue", "--noheader", "--states=all", "--format=%i|%T", f"--jobs={','.join(job_ids)}"]
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return {job: "UNKNOWN" for job in job_ids}
    if out.returncode != 0:
        if len(job_ids) > 1:  # one purged id makes squeue refuse the whole list
            return {k: v for job in job_ids for k, v in job_states([job]).items()}
        return {} if "Invalid job id" in out.stderr else {job_ids[0]: "UNKNOWN"}
    states = {}
    for line in out.stdout.splitlines():
        job, _, state = line.strip().partition("|")
        states[job] = state.split()[0] if state else "UNKNOWN"
    return states


def read_job_file(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / JOB_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("job_id") else None


def _write_job_file(folder: Path, data: dict[str, Any]) -> None:
    tmp = folder / f".{JOB_FILE}.tmp"
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(folder / JOB_FILE)


class SlurmExecutor:
    #: jobs keep running when the driver stops; a restarted driver adopts them
    outlives_driver = True

    def __init__(
        self,
        home: str,
        options: SlurmOptions | None = None,
        jobs: int | None = None,
        threads: int | None = None,
    ) -> None:
        try:
            import submitit
        except ImportError:
            raise ConfigError(
                '--executor slurm needs submitit: pip install -e ".[slurm]" (or pip install'
                " 'submitit>=1.5')"
            ) from None
        for tool in ("sbatch", "srun", "squeue", "scontrol"):
            if shutil.which(tool) is None:
                raise ConfigError(
                    f"--executor slurm: '{tool}' is not on PATH; run bench on a Slurm login node"
                )
        self._submitit = submitit
        self.home = Path(home)
        self.options = options or SlurmOptions()
        self.slots = jobs or DEFAULT_SLOTS
        self.cpus = self.options.cpus or threads or 1
        self._tracked: dict[str, tuple[Job, str]] = {}  # run id -> (job, Slurm job id)
        self._states: dict[str, str] = {}
        self._polled = 0.0
        self._ended: dict[str, float] = {}  # run id -> when its job was first seen ended
        self._ready: list[tuple[Job, Outcome]] = []  # outcomes found when adopting
        self._ready_sent: set[str] = set()

    def describe(self) -> str:
        where = f" on partition {self.options.partition}" if self.options.partition else ""
        return f"slurm{where}: up to {self.slots} job(s) at once x {self.cpus} CPU(s) per run"

    def _gpus(self, job: Job) -> int:
        if self.options.gpus is not None:
            return self.options.gpus
        return 1 if job.spec.device.startswith("cuda") else 0

    def parameters(self, job: Job) -> dict[str, Any]:
        """The submitit parameters of one run's job."""
        o = self.options
        extra: dict[str, Any] = {}
        for key in ("account", "mem", "time"):
            if getattr(o, key) is not None:
                extra[key] = getattr(o, key)
        extra.update(o.sbatch)
        gpus = self._gpus(job)
        return {
            "job_name": f"anobench-{job.run_id}",
            "time": None,  # the partition's default unless [slurm] time says otherwise
            "cpus_per_task": self.cpus,
            "ntasks_per_node": 1,
            "partition": o.partition,
            "gpus_per_node": gpus or None,
            "additional_parameters": extra,
        }

    def submit(self, job: Job) -> None:
        folder = slurm_dir(job.home, job.run_id)
        folder.mkdir(parents=True, exist_ok=True)
        # a resumed run's earlier outcome must not be taken for this job's
        (folder / OUTCOME).unlink(missing_ok=True)
        (folder / DATA_READY_FILE).unlink(missing_ok=True)
        gpus = self._gpus(job)
        job = replace(job, threads=self.cpus, device="cuda" if gpus else "cpu")
        executor = self._submitit.SlurmExecutor(folder=folder)
        executor.update_parameters(**self.parameters(job))
        try:
            submitted = executor.submit(SlurmRun(), job, self.options.max_requeues)
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
            raise ConfigError(f"sbatch refused run {job.run_id}: {first}") from None
        job_id = str(submitted.job_id)
        _write_job_file(
            folder,
            {
                "job_id": job_id,
                "submitted": time.time(),
                "log": str(folder / f"{job_id}_0_log.out"),
                "errors": str(folder / f"{job_id}_0_log.err"),
            },
        )
        self._tracked[job.run_id] = (job, job_id)
        self._polled = 0.0  # the states read before this job was submitted do not list it

    def adopt(self, items: list[Any], runner: Any) -> list[Any]:
        """Take over the runs of the grid that a previous driver submitted: a run the store
        has as ``running`` whose job left its outcome (committed by the next ``wait``), or
        whose job Slurm still has queued or running (followed, not submitted again). Returns
        those items, now ``running``; the others stay to do (their runs, if any, are
        reclaimed and resumed by ``Runner.prepare``)."""
        taken = []
        for item in items:
            if item.status != "todo":
                continue
            spec = item.spec
            for run_id, _ in runner.store.find_running(spec.config_hash(), spec.seed):
                folder = slurm_dir(runner.home, run_id)
                info = read_job_file(folder)
                if info is None:
                    continue
                job_id = str(info["job_id"])
                record = runner.store.get_run(run_id)
                job = Job(run_id, spec, str(runner.home), provenance=record.provenance)
                outcome = read_outcome(folder)
                if outcome is not None and outcome.run_id == run_id:
                    self._ready.append((job, outcome))
                elif job_states([job_id]).get(job_id, "GONE") in LIVE:
                    self._tracked[run_id] = (job, job_id)
                else:
                    continue
                item.run_id, item.status = run_id, RunStatus.RUNNING
                item.started = time.perf_counter()
                taken.append(item)
                break
        return taken

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._polled >= POLL:
            self._polled = now
            self._states = job_states([job_id for _, job_id in self._tracked.values()])

    def _collect(self) -> list[tuple[Job, Outcome]]:
        out, self._ready = self._ready, []
        self._refresh()
        for run_id, (job, job_id) in list(self._tracked.items()):
            folder = slurm_dir(job.home, run_id)
            outcome = read_outcome(folder)
            state = self._states.get(job_id, "GONE")
            if outcome is not None and outcome.status == RunStatus.INTERRUPTED and state in LIVE:
                # stopped while Slurm ends the job: wait for Slurm's word, since a preemption
                # that requeues it starts the run again (and that start removes this outcome)
                continue
            if outcome is None:
                if state in LIVE or state == "UNKNOWN":
                    continue
                first = self._ended.setdefault(run_id, time.monotonic())
                if state == "COMPLETED" and time.monotonic() - first < GRACE:
                    continue
                outcome = read_outcome(folder) or _vanished(job, job_id, state, folder)
            del self._tracked[run_id]
            self._ended.pop(run_id, None)
            out.append((job, outcome))
        return out

    def wait(self, timeout: float) -> list[tuple[Job, Outcome]]:
        deadline = time.monotonic() + timeout
        while True:
            done = self._collect()
            if done or not self._tracked or time.monotonic() >= deadline:
                return done
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))

    def events(self) -> list[Event]:
        out: list[Event] = []
        for run_id, (job, _) in self._tracked.items():
            ready = slurm_dir(job.home, run_id) / DATA_READY_FILE
            if run_id not in self._ready_sent and ready.exists():
                self._ready_sent.add(run_id)
                out.append((DATA_READY, run_id))
        return out

    def close(self, kill: bool = False) -> None:
        # the jobs go on without the driver; cancelling them is scancel's job, not a Ctrl-C's
        self._tracked.clear()


def _vanished(job: Job, job_id: str, state: str, folder: Path) -> Outcome:
    what = "is gone from squeue" if state == "GONE" else f"ended ({state})"
    log = folder / f"{job_id}_0_log.err"
    return Outcome(
        job.run_id,
        RunStatus.INTERRUPTED,
        {**dict(job.provenance), "slurm": {"job_id": job_id, "log": str(log)}},
        error=(
            f"its Slurm job {job_id} {what} without reporting an outcome (killed, or its node"
            f" failed; see {log}); the next bench resumes it from its checkpoint"
        ),
    )


def collect(runner: Any) -> list[tuple[str, str]]:
    """``bench --collect``: commit every outcome a Slurm job left for a run still ``running``.
    Returns (run id, status) of each run committed."""
    done = []
    for record in runner.store.runs(RunStatus.RUNNING):
        outcome = read_outcome(slurm_dir(runner.home, record.run_id))
        if outcome is not None and outcome.run_id == record.run_id:
            runner.commit(outcome)
            done.append((record.run_id, outcome.status.value))
    return done
