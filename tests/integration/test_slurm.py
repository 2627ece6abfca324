"""``bench --executor slurm`` against a real one-node Slurm (munged, slurmctld, slurmd).

The cluster is started from a temp dir by ``slurm_cluster``; where it cannot start (no Slurm
packages, not root) every test here skips with the reason. One test stops a job with
``scancel --signal=TERM`` in the middle of training and checks that the run checkpointed, was
requeued, resumed at its checkpoint step and ended with the metrics of an uninterrupted local
run; another kills the driver twice and checks that nothing is submitted twice or lost.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from . import slurm_cluster

pytest.importorskip("submitit", reason="the slurm extra (submitit) is not installed")

SUITE = """
name = "slurm-tiny"
seeds = [0, 1]
device = "cpu"
metrics = ["image_auroc", "image_ap", "pixel_ap"]

[slurm]
time = "10"
sbatch = {{ comment = "anobench-test" }}

[[datasets]]
name = "synthetic"
options = {{ image_size = 32, n_train = 16, n_val = 4, n_test = 4 }}

[[methods]]
name = "ae"
[methods.options]
epochs = {epochs}
batch_size = 4
base_width = 4
hidden = 16
latent_dim = 4
checkpoint_every = 100000
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    try:
        found = slurm_cluster.start(tmp_path_factory.mktemp("slurm"))
    except slurm_cluster.Unavailable as exc:
        pytest.skip(f"Slurm could not be started: {exc}")
    yield found
    found.stop()


def _cmd(home: Path, *args: str) -> list[str]:
    return [
        sys.executable,
        "-c",
        "from anobench.cli import main; main()",
        "--home",
        str(home),
        *args,
    ]


def _wait(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _runs(home: Path) -> dict[int, dict]:
    out = subprocess.run(_cmd(home, "show", "--format", "json"), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return {run["spec"]["seed"]: run for run in json.loads(out.stdout)}


def _steps(workdir: Path) -> int:
    log = workdir / "training_log.jsonl"
    return sum(1 for _ in log.open()) if log.exists() else 0


def _jobs(home: Path) -> dict[str, str]:
    """run id -> the Slurm job id the driver recorded."""
    out = {}
    for path in (home / "runs").glob("*/slurm/job.json"):
        out[path.parent.parent.name] = json.loads(path.read_text())["job_id"]
    return out


def test_sigterm_requeues_the_job_and_the_run_resumes_to_the_local_metrics(cluster, tmp_path):
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE.format(epochs=60.0))  # 240 steps
    home = tmp_path / "slurm-home"
    env = {**cluster.env, "ANOBENCH_THREADS": "1"}
    bench = _cmd(home, "bench", str(suite), "--executor", "slurm", "--cpus", "1")
    driver = subprocess.Popen(
        [*bench, "--format", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    workdirs: list[Path] = []

    def training() -> bool:
        assert driver.poll() is None, driver.communicate()[1].decode()
        workdirs[:] = [p for p in (home / "runs").glob("*") if _steps(p) >= 20]
        return bool(workdirs)

    _wait(training, 120, "a run to train 20 steps")
    workdir = workdirs[0]
    job_id = _jobs(home)[workdir.name]
    cluster.run("scancel", "--signal=TERM", job_id)
    # while Slurm holds the requeued job (a few seconds), a local run of the same seed and
    # thread count, in its own home: the reference for the metrics below
    seed = next(r for r in _runs(home).values() if r["run_id"] == workdir.name)["spec"]["seed"]
    local = tmp_path / "local-home"
    local_run = subprocess.Popen(
        _cmd(local, "--quiet", "bench", str(suite), "--threads", "1", "--seeds", str(seed)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    out, err = driver.communicate(timeout=180)
    assert driver.returncode == 0, err.decode()
    report = json.loads(out)
    assert report["counts"]["finished"] == 2

    log = (workdir / "slurm" / f"{job_id}_0_log.out").read_text()
    print(f"--- Slurm log of job {job_id} (run {workdir.name}) ---\n{log}")
    stopped = re.search(r"stopped by SIGTERM at step (\d+): checkpoint written, job requeued", log)
    assert stopped, log
    step = int(stopped.group(1))
    assert 20 <= step < 240, "the job was not stopped in the middle of training"
    assert f"resuming from its checkpoint at step {step} (Slurm job {job_id}" in log
    assert f"resumed at step {step}" in log
    # the same job id, started a second time by Slurm (a requeue, not a new submission)
    runs = _runs(home)
    stopped_run = next(r for r in runs.values() if r["run_id"] == workdir.name)
    assert stopped_run["status"] == "finished"
    assert stopped_run["provenance"]["slurm"]["job_id"] == job_id
    assert stopped_run["provenance"]["slurm"]["restarts"] == 1
    assert len(_jobs(home)) == 2
    wide = {**env, "COLUMNS": "500"}
    shown = subprocess.run(
        _cmd(home, "show", workdir.name), capture_output=True, text=True, env=wide
    )
    assert f"slurm job {job_id}, log: {workdir / 'slurm' / f'{job_id}_0_log.out'}" in shown.stdout
    # per-run options reached sbatch through submitit
    script = (workdir / "slurm" / f"{job_id}_submission.sh").read_text()
    for flag in ("--cpus-per-task=1", "--time=10", "--comment=anobench-test", "--signal=USR2@90"):
        assert f"#SBATCH {flag}" in script
    log_rows = [json.loads(line) for line in (workdir / "training_log.jsonl").open()]
    steps = [row["step"] for row in log_rows if "loss" in row]
    assert steps == list(range(1, 241)), "the resumed log must continue the stopped one"

    # the local run of the same seed and thread count: the same metrics, bit for bit
    assert stopped_run["spec"]["seed"] == seed
    _, local_err = local_run.communicate(timeout=300)
    assert local_run.returncode == 0, local_err
    reference = _runs(local)[seed]
    print(f"metrics requeued: {stopped_run['metrics']}\nmetrics local:    {reference['metrics']}")
    assert stopped_run["metrics"] == reference["metrics"]
    assert stopped_run["spec"] == reference["spec"]


def test_a_killed_driver_loses_nothing_and_submits_nothing_twice(cluster, tmp_path):
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE.format(epochs=20.0))
    home = tmp_path / "home"
    env = {**cluster.env, "ANOBENCH_THREADS": "1"}
    bench = _cmd(home, "--quiet", "bench", str(suite), "--executor", "slurm", "--cpus", "1")

    def start_and_kill(until) -> None:
        driver = subprocess.Popen(bench, env=env, stderr=subprocess.PIPE)
        _wait(until, 120, "the jobs")
        driver.send_signal(signal.SIGKILL)
        driver.wait()

    start_and_kill(lambda: len(_jobs(home)) == 2)
    first = _jobs(home)
    # a second driver adopts the queued or running jobs; it is killed too
    start_and_kill(lambda: any((home / "runs").glob("*/training_log.jsonl")))
    # the jobs end while no driver runs: their outcomes wait in the run folders
    outcomes = lambda: len(list((home / "runs").glob("*/slurm/outcome.pkl"))) == 2  # noqa: E731
    _wait(outcomes, 120, "the jobs to finish")
    assert "finished" not in {r["status"] for r in _runs(home).values()}  # not ingested yet
    collected = subprocess.run(
        _cmd(home, "bench", str(suite), "--executor", "slurm", "--collect"),
        capture_output=True,
        text=True,
        env=env,
    )
    assert collected.returncode == 0, collected.stderr
    assert collected.stdout.count("finished") == 2, collected.stdout
    runs = _runs(home)
    assert {r["status"] for r in runs.values()} == {"finished"}
    assert all(r["metrics"] for r in runs.values())
    again = subprocess.run([*bench, "--format", "json"], capture_output=True, text=True, env=env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["counts"]["skipped"] == 2
    assert _jobs(home) == first, "a run was submitted twice"
    submissions = list((home / "runs").glob("*/slurm/*_submission.sh"))
    assert len(submissions) == 2


def test_a_cancelled_job_is_interrupted_and_the_next_bench_resumes_it(cluster, tmp_path):
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE.format(epochs=60.0).replace("seeds = [0, 1]", "seeds = [0]"))
    home = tmp_path / "home"
    env = {**cluster.env, "ANOBENCH_THREADS": "1"}
    bench = _cmd(home, "bench", str(suite), "--executor", "slurm", "--format", "json")
    driver = subprocess.Popen(bench, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait(lambda: any(_steps(p) >= 20 for p in (home / "runs").glob("*")), 120, "training")
    ((run_id, job_id),) = _jobs(home).items()
    cluster.run("scancel", job_id)  # a cancel is not a preemption: no requeue
    out, err = driver.communicate(timeout=120)
    assert driver.returncode == 1, err.decode()
    (item,) = json.loads(out)["runs"]
    assert item["status"] == "interrupted"
    assert "SIGTERM" in item["error"]
    log = (home / "runs" / run_id / "slurm" / f"{job_id}_0_log.out").read_text()
    assert "not requeued: the job is COMPLETING" in log, log
    resumed = subprocess.run(bench, capture_output=True, text=True, env=env)
    assert resumed.returncode == 0, resumed.stderr
    (item,) = json.loads(resumed.stdout)["runs"]
    assert (item["status"], item["run_id"]) == ("finished", run_id)
    assert _jobs(home)[run_id] != job_id  # resubmitted under the same run id
    assert _runs(home)[0]["provenance"]["resumed"] is True
