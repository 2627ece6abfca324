"""What runs inside a Slurm job: one run, then its outcome written to the run's folder.

The job never touches the store (SQLite over a network filesystem is unsafe with many writers):
it writes ``slurm/outcome.pkl`` atomically beside the run's artifacts and the driver ingests it.
On SIGTERM or SIGUSR2 (``scancel --signal``, preemption, the warning before the time limit) the
run checkpoints at its next step and the job asks Slurm to requeue it; the requeued job runs
the same submission again and the run resumes from its checkpoint. When Slurm refuses the
requeue (the job was cancelled) the outcome says ``interrupted`` and the next ``bench`` resumes.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ...api import signals
from ...api.context import CHECKPOINT
from ...api.home import runs_dir
from ...api.jobs import Job, Outcome
from ...api.progress import Reporter, Task
from ...api.records import RunStatus

#: the folder of a run's Slurm files (submission script, logs, outcome), under its run folder
SLURM_DIR = "slurm"
OUTCOME = "outcome.pkl"
#: the driver's record of the job it submitted: id and log paths
JOB_FILE = "job.json"
#: written once the run's data are loaded (cached for the other runs of its dataset)
DATA_READY_FILE = "data_ready"
#: exit code of a job that asked to be requeued (its outcome comes with the next start)
REQUEUED_EXIT = 3


def slurm_dir(home: str | Path, run_id: str) -> Path:
    return runs_dir(Path(home)) / run_id / SLURM_DIR


def write_outcome(folder: Path, outcome: Outcome) -> Path:
    """Write the outcome so a reader sees all of it or none (rename after fsync)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / OUTCOME
    tmp = folder / f".{OUTCOME}.{os.getpid()}.tmp"
    with tmp.open("wb") as fh:
        pickle.dump(outcome.portable(), fh, protocol=pickle.HIGHEST_PROTOCOL)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
    return path


def read_outcome(folder: Path) -> Outcome | None:
    """The outcome a job left, or ``None`` (not written yet, or unreadable: half a file never
    appears, so an unreadable one is reported as missing and the job's state decides)."""
    path = folder / OUTCOME
    try:
        with path.open("rb") as fh:
            outcome = pickle.load(fh)  # written by this code in the run's own folder
    except (OSError, EOFError, pickle.UnpicklingError):
        return None
    return outcome if isinstance(outcome, Outcome) else None


def checkpoint_step(workdir: Path) -> int | None:
    path = workdir / CHECKPOINT
    if not path.exists():
        return None
    try:
        import torch

        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        return None
    step = state.get("step") if isinstance(state, dict) else None
    return int(step) if step is not None else None


class LogReporter(Reporter):
    """Progress as plain lines on stdout, which Slurm writes to the job's log."""

    def __init__(self, run_id: str, folder: Path | None = None) -> None:
        self.run_id = run_id
        self.folder = folder
        # the job's stdout as it is now: while a run executes, sys.stdout points at stderr (what
        # plugins print never mixes with a result), and the progress lines stay in the log
        self.stream = sys.stdout

    def data_ready(self) -> None:
        # the driver lets the other runs of this dataset configuration start on the cache
        if self.folder is not None:
            with contextlib.suppress(OSError):
                (self.folder / DATA_READY_FILE).touch()

    def log(self, message: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        print(f"{stamp} anobench run {self.run_id}: {message}", file=self.stream, flush=True)

    def _start(self, task: Task, description: str) -> None:
        self.log(f"{description} ...")


def _slurm(*args: str) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None


def _requeue(job_id: str) -> str | None:
    """Requeue this job; ``None`` when done, else why not.

    Only a job Slurm still has ``RUNNING`` is requeued: one that is ``COMPLETING`` was cancelled
    (``scancel``), reached its time limit or is being preempted, and Slurm decides what follows
    (a preemption with requeue restarts it; a cancel must stay a cancel).
    """
    state = _slurm("squeue", "--noheader", "--format=%T", f"--jobs={job_id}")
    now = state.stdout.strip() if state is not None and state.returncode == 0 else "UNKNOWN"
    if now != "RUNNING":
        return f"the job is {now or 'gone'}, not running (cancelled, or ended by Slurm)"
    done = _slurm("scontrol", "requeue", job_id)
    if done is None or done.returncode != 0:
        return f"scontrol requeue failed: {done.stderr.strip() if done else 'not found'}"
    return None


def run_job(job: Job, max_requeues: int) -> str:
    """Execute ``job`` inside its Slurm job; returns the status it wrote."""
    from ..runner import execute
    from .worker import limit_threads

    # submitit ignores SIGTERM and handles SIGUSR2 itself; the run's own handlers checkpoint
    # at the next training step instead
    signals.install_in_worker()
    signal.signal(signal.SIGUSR2, signal.getsignal(signal.SIGTERM))
    if job.threads:
        limit_threads(job.threads)
    reporter = LogReporter(job.run_id, slurm_dir(job.home, job.run_id))
    job_id = os.environ.get("SLURM_JOB_ID", "?")
    restarts = int(os.environ.get("SLURM_RESTART_COUNT", "0") or 0)
    workdir = runs_dir(Path(job.home)) / job.run_id
    # an outcome left by this job's previous start (Slurm requeued it) is moot now
    (slurm_dir(job.home, job.run_id) / OUTCOME).unlink(missing_ok=True)
    step = checkpoint_step(workdir)
    where = f"Slurm job {job_id} on {socket.gethostname()}, start {restarts + 1}"
    if step is not None:
        reporter.log(f"resuming from its checkpoint at step {step} ({where})")
    else:
        reporter.log(f"starting ({where})")
    outcome = execute(job, reporter).portable()
    for signum in (signal.SIGTERM, signal.SIGUSR2):
        signal.signal(signum, signal.SIG_IGN)  # the outcome is written whatever comes now
    outcome.provenance["slurm"] = {
        "job_id": job_id,
        "restarts": restarts,
        "host": socket.gethostname(),
        "log": str(slurm_dir(job.home, job.run_id) / f"{job_id}_0_log.out"),
    }
    stopped_by = signals.received()
    if outcome.status == RunStatus.INTERRUPTED and stopped_by is not None:
        step = checkpoint_step(workdir)
        at = f"at step {step}" if step is not None else "before its first checkpoint"
        name = signal.Signals(stopped_by).name
        why = (
            f"requeued {restarts} times already (max_requeues)"
            if restarts >= max_requeues
            else _requeue(job_id)
        )
        if why is None:
            reporter.log(f"stopped by {name} {at}: checkpoint written, job requeued")
            with contextlib.suppress(Exception):
                sys.stdout.flush()
            sys.exit(REQUEUED_EXIT)  # not an Exception: submitit writes no result for it
        reporter.log(f"stopped by {name} {at}; not requeued: {why}")
    write_outcome(slurm_dir(job.home, job.run_id), outcome)
    reporter.log(f"{outcome.status.value}; outcome written for the driver to collect")
    return outcome.status.value


class SlurmRun:
    """The callable submitit pickles into each job. It has submitit's ``checkpoint`` hook:
    should submitit's own handler see a signal first, it requeues this same call, which
    resumes from the run's checkpoint on disk."""

    def __call__(self, job: Job, max_requeues: int) -> str:
        return run_job(job, max_requeues)

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(self, *args, **kwargs)
