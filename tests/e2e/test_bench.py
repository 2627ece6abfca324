"""``anobench bench`` end to end through the CLI, with the fast test plugins."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from anobench.api import hardware
from anobench.results.store import Store

from .conftest import one_line_error

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

SUITE = """
name = "isolation"
seeds = [0, 1]
device = "cpu"
metrics = ["pixel_ap", "image_auroc"]

[[datasets]]
name = "toy"

[[methods]]
name = "brightness"

[[methods]]
name = "failing"

[[methods]]
name = "crashing"
"""


def test_bench_skips_done_runs_isolates_failures_and_retries_them(
    invoke, testplugins, home, tmp_path
):
    suite = tmp_path / "isolation.toml"
    suite.write_text(SUITE)
    # a single run of the same configuration counts as done
    single = invoke(
        "-q",
        "run",
        "-m",
        "brightness",
        "-d",
        "toy",
        "--device",
        "cpu",
        "--format",
        "json",
        "--metric",
        "pixel_ap",
    )
    assert single.exit_code == 0, single.output
    single_id = json.loads(single.stdout)["run_id"]

    grid = json.loads(invoke("bench", str(suite), "--dry-run", "--format", "json").stdout)
    assert [(r["method"], r["seed"], r["status"]) for r in grid] == [
        ("brightness", 0, "skipped"),
        ("brightness", 1, "todo"),
        ("failing", 0, "todo"),
        ("failing", 1, "todo"),
        ("crashing", 0, "todo"),
        ("crashing", 1, "todo"),
    ]

    result = invoke("bench", str(suite), "--jobs", "2", "--format", "json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["counts"] == {
        "finished": 1,
        "skipped": 1,
        "failed": 4,
        "interrupted": 0,
        "running elsewhere": 0,
    }
    runs = {(r["method"], r["seed"]): r for r in report["runs"]}
    assert runs[("brightness", 0)]["run_id"] == single_id
    assert runs[("brightness", 1)]["status"] == "finished"
    assert runs[("brightness", 1)]["primary_metric"] == "pixel_ap"
    assert "boom in fit" in runs[("failing", 0)]["error"]
    assert "worker process died" in runs[("crashing", 1)]["error"]

    store = Store(home / "store.sqlite")
    finished = store.runs(status="finished")
    assert sorted(r.spec.seed for r in finished) == [0, 1]
    bench_run = store.get_run(runs[("brightness", 1)]["run_id"])
    assert bench_run.provenance["suite"] == "isolation"
    assert bench_run.provenance["plugins"]["method"]["distribution"] == "anobench-testplugins"
    assert (Path(bench_run.artifacts) / "predictions.npz").exists()
    assert len(store.runs(status="failed")) == 4

    # the text summary lists the failures with their one-line error; failures are retried
    again = invoke("bench", str(suite), "--seeds", "0")
    assert again.exit_code == 1
    assert "1 skipped (already done)" in again.stdout and "2 failed" in again.stdout
    assert "boom in fit" in again.stdout
    assert len(store.runs(status="failed")) == 6
    assert len(store.runs(status="finished")) == 2

    board = json.loads(invoke("leaderboard", "--format", "json").stdout)
    assert [(row["method"], row["n"]) for row in board] == [("brightness", 2)]


def test_bench_mistakes_are_one_line(invoke, tmp_path, home):
    one_line_error(invoke("bench", str(tmp_path / "nope.toml")), "not found")
    smoke = str(BENCHMARKS / "smoke.toml")
    one_line_error(invoke("bench", smoke, "--address", "x:1"), "--address", "--executor ray")
    one_line_error(invoke("bench", smoke, "--seeds", "a,b"), "--seeds")
    one_line_error(invoke("bench", smoke, "--device", "tpu"), "device")
    if not torch.cuda.is_available():
        paper = str(BENCHMARKS / "synthetic-paper.toml")
        one_line_error(invoke("bench", paper), "CUDA is not available")
    assert not (home / "store.sqlite").exists()


def test_dry_run_prints_the_grid(invoke, home):
    result = invoke("bench", str(BENCHMARKS / "synthetic-quick.toml"), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "suite synthetic-quick: 24 run(s)" in result.stdout
    assert "descargan" in result.stdout and "todo" in result.stdout
    assert not (home / "store.sqlite").exists()


def test_an_interrupted_run_resumes_from_its_checkpoint(invoke, testplugins, home, tmp_path):
    suite = tmp_path / "resume.toml"
    suite.write_text('device = "cpu"\n[[datasets]]\nname = "toy"\n[[methods]]\nname = "brightness"')
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TESTPLUGINS_INTERRUPT_AT", "3")  # the worker's run stops after 3 steps
        stopped = invoke("bench", str(suite), "--format", "json")
    assert stopped.exit_code == 1
    (first,) = json.loads(stopped.stdout)["runs"]
    assert first["status"] == "interrupted"

    resumed = invoke("bench", str(suite), "--format", "json")
    assert resumed.exit_code == 0, resumed.output
    (second,) = json.loads(resumed.stdout)["runs"]
    assert second["status"] == "finished" and second["run_id"] == first["run_id"]
    record = Store(home / "store.sqlite").get_run(first["run_id"])
    assert record.provenance["resumed"] is True
    log = (Path(record.artifacts) / "training_log.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in log] == [1, 2, 3, 4, 5]


def test_published_header_names_the_runs_code_and_what_is_missing(invoke, home, tmp_path):
    suite = BENCHMARKS / "smoke.toml"
    assert invoke("bench", str(suite)).exit_code == 0
    runs = Store(home / "store.sqlite").runs(status="finished")
    revisions = {r.provenance.get("git_revision") for r in runs}

    def header(suite: Path) -> subprocess.Popen:
        script = BENCHMARKS / "results" / "header.py"
        argv = ["--suite", str(suite), "--home", str(home), "--command", "regen"]
        return subprocess.Popen(
            [sys.executable, str(script), *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def output(proc: subprocess.Popen) -> str:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        return out

    # a suite with a seed more than the store holds (checked below): both headers at once
    bigger = tmp_path / "smoke3.toml"
    bigger.write_text(suite.read_text().replace("seeds = [0, 1]", "seeds = [0, 1, 2]"))
    headers = header(suite), header(bigger)
    text = output(headers[0])
    assert "- runs: 4 of 4 finished" in text
    assert "torch threads per run:" in text
    kernels = hardware.cpu_features().aten_capability
    assert f"- CPU kernels of the runs: {kernels} (" in text
    rev = (revisions.pop() or "unknown")[:12]
    assert f"- code of the runs (git revision: runs): {rev} (4)" in text
    assert "not finished" not in text

    # a suite with a seed more than the store holds names the missing runs
    text = output(headers[1])
    assert "- runs: 4 of 6 finished" in text
    assert "**not finished** (failed or not run yet): meandiff seed 2, zscore seed 2" in text
