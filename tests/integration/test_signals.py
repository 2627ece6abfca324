"""SIGTERM and SIGHUP in the middle of a training run: checkpoint, ``interrupted``, resumable."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="needs POSIX signals")

#: 16 images in batches of 4: 4 steps an epoch. 60 epochs (240 steps, about a second of
#: training) leave the run still training well after the 5th step, when the tests send their
#: signal; each test checks that the stop came before the last step.
EPOCHS = 60
STEPS = EPOCHS * 4
TINY = [
    "--dataset-opt", "image_size=32", "--dataset-opt", "n_train=16",
    "--dataset-opt", "n_val=4", "--dataset-opt", "n_test=4",
    "--method-opt", f"epochs={EPOCHS}", "--method-opt", "batch_size=4",
    "--method-opt", "base_width=4", "--method-opt", "hidden=16", "--method-opt", "latent_dim=4",
    "--method-opt", "checkpoint_every=100000",
]  # fmt: skip


def _anobench(home: Path, *args: str) -> list[str]:
    return [
        sys.executable,
        "-c",
        "from anobench.cli import main; main()",
        "--home",
        str(home),
        *args,
    ]


def _steps(home: Path) -> int:
    logs = list((home / "runs").glob("*/training_log.jsonl"))
    return sum(1 for _ in logs[0].open()) if logs else 0


def _runs(home: Path) -> list[dict]:
    out = subprocess.run(
        _anobench(home, "show", "--format", "json"), capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def _assert_resumed_to_the_end(home: Path, workdir: Path) -> None:
    """One finished, resumed run whose log is unbroken: it continued after the stop."""
    (run,) = _runs(home)
    assert run["status"] == "finished"
    assert run["provenance"]["resumed"] is True
    log = [json.loads(line) for line in (workdir / "training_log.jsonl").open()]
    steps = [row["step"] for row in log if "loss" in row]
    assert steps == list(range(1, len(steps) + 1))
    assert len(steps) == STEPS


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_checkpoints_interrupts_and_resumes(tmp_path, signum):
    home = tmp_path / "home"
    cmd = _anobench(home, "--quiet", "run", "-m", "ae", "-d", "synthetic", "--threads", "1", *TINY)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while _steps(home) < 5:
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "training did not start within 120 s"
        time.sleep(0.05)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    name = signal.Signals(signum).name
    (run,) = _runs(home)
    assert run["status"] == "interrupted"
    assert name in run["error"]
    # the home is not the default one: the printed command names it, so it works as printed
    assert f"anobench --home {home} run --resume {run['run_id']}" in err
    workdir = home / "runs" / run["run_id"]
    # the checkpoint was written at the stop, not left to the (never reached) periodic one
    assert (workdir / "checkpoint.pt").exists()
    stopped_at = _steps(home)
    assert 5 <= stopped_at < STEPS, "the run was not stopped in the middle of training"

    # the same command later resumes the interrupted run under its id and finishes it
    resumed = subprocess.run(
        [*cmd, "--format", "json"], capture_output=True, text=True, env=env, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr
    _assert_resumed_to_the_end(home, workdir)


def test_a_killed_run_is_not_shown_as_running(tmp_path):
    home = tmp_path / "home"
    cmd = _anobench(home, "--quiet", "run", "-m", "ae", "-d", "synthetic", "--threads", "1", *TINY)
    proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while _steps(home) < 2:
        assert proc.poll() is None
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    (run,) = _runs(home)
    assert run["status"] == "interrupted"
    assert "gone" in run["error"]


SUITE = """
name = "sigterm"
seeds = [0]
device = "cpu"
profile = "quick"

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


def test_sigterm_to_a_suite_checkpoints_its_runs_and_the_suite_resumes(tmp_path):
    home = tmp_path / "home"
    suite = tmp_path / "sigterm.toml"
    suite.write_text(SUITE.format(epochs=float(EPOCHS)))
    cmd = _anobench(home, "--quiet", "bench", str(suite), "--threads", "1")
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while _steps(home) < 5:
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "training did not start within 120 s"
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)  # to the driver only, as a scheduler would
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 128 + signal.SIGTERM, err
    (run,) = _runs(home)
    assert run["status"] == "interrupted"
    # the worker was asked to stop and wrote its checkpoint at the step it had reached
    workdir = home / "runs" / run["run_id"]
    assert (workdir / "checkpoint.pt").exists()
    stopped_at = _steps(home)

    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert 5 <= stopped_at < STEPS, "the run was not stopped in the middle of training"
    _assert_resumed_to_the_end(home, workdir)


def _same(a, b) -> bool:
    """Nested checkpoint contents equal exactly (tensors bit for bit)."""
    import torch

    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def test_ctrl_c_then_the_printed_command_ends_with_the_uninterrupted_weights(tmp_path):
    import numpy as np
    import torch

    run = ["--quiet", "run", "-m", "ae", "-d", "synthetic", "--threads", "1", *TINY]
    # the uninterrupted run, in its own home, alongside the stopped one (one thread each)
    plain = tmp_path / "plain"
    reference = subprocess.Popen(
        _anobench(plain, *run), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        _stop_and_resume_with_ctrl_c(tmp_path / "stopped", run)
        _, err = reference.communicate(timeout=300)
        assert reference.returncode == 0, err
    finally:
        if reference.poll() is None:
            reference.kill()
            reference.wait()

    def outputs(h: Path):
        (folder,) = (h / "runs").iterdir()
        model = torch.load(folder / "model.pt", weights_only=True)
        with np.load(folder / "predictions.npz") as npz:
            return model, {k: npz[k] for k in npz.files}

    (model_a, pred_a), (model_b, pred_b) = outputs(plain), outputs(tmp_path / "stopped")
    assert _same(model_a, model_b)
    assert pred_a.keys() == pred_b.keys()
    for key in pred_a:
        assert np.array_equal(pred_a[key], pred_b[key]), key


def _stop_and_resume_with_ctrl_c(home: Path, run: list[str]) -> None:
    """Ctrl-C in the middle of training, then the resume command the run printed, as printed."""
    import re

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(_anobench(home, *run), stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while _steps(home) < 5:
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "training did not start within 120 s"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    stopped_at = _steps(home)
    assert 5 <= stopped_at < STEPS, "the run was not stopped in the middle of training"
    # the command the run printed, run as printed: it names the home
    (printed,) = re.findall(r"^.*: (anobench --home \S+ run --resume \w+)$", err, re.M)
    words = shlex.split(printed)
    assert words[:3] == ["anobench", "--home", str(home)]
    resumed = subprocess.run(
        [*_anobench(home)[:3], *words[1:]], capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"resumed at step {stopped_at}" in resumed.stderr
