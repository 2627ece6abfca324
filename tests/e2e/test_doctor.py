"""``anobench doctor`` and what a run records of its hardware, through the CLI."""

from __future__ import annotations

import json

from anobench.api import hardware, threads

TINY = ["--dataset-opt", "image_size=32", "--dataset-opt", "n_train=10",
        "--dataset-opt", "n_val=4", "--dataset-opt", "n_test=4"]  # fmt: skip


def test_doctor_json_names_what_auto_resolves_to(invoke, home):
    result = invoke("doctor", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    cpu = data["devices"][0]
    assert cpu["device"] == "cpu"
    expected = hardware.resolve_precision("auto", "cpu")
    assert cpu["auto"]["precision"] == expected
    assert data["cpu"]["native_bf16"] is (expected == "bf16")
    assert data["cpu"]["cores_available"] == threads.available_cores()
    assert {"anobench", "torch", "numpy", "python"} <= set(data["versions"])
    assert data["extras"]["chexpert"]  # the extras come from anobench's own metadata
    # read-only: no store is created by looking
    assert data["home"]["store"]["exists"] is False
    assert not (home / "store.sqlite").exists()


def test_doctor_reports_store_health_and_runs(invoke):
    assert invoke("run", "-m", "meandiff", "-d", "synthetic", *TINY).exit_code == 0
    result = invoke("doctor")
    assert result.exit_code == 0, result.output
    assert "integrity         ok" in result.stdout
    assert "1 finished" in result.stdout
    data = json.loads(invoke("doctor", "--format", "json").stdout)
    assert data["home"]["store"]["runs"] == {"finished": 1}
    assert data["home"]["store"]["schema_version"] >= 1


def test_a_run_records_and_shows_its_resolved_hardware(invoke, testplugins):
    result = invoke("run", "-m", "meandiff", "-d", "synthetic", "--threads", "1", *TINY)
    assert result.exit_code == 0, result.output
    assert "resolved: no precision option" in result.stdout
    assert "1 thread(s)" in result.stdout
    (run,) = json.loads(invoke("show", "--format", "json").stdout)
    resolved = run["provenance"]["resolved"]
    assert resolved["threads"] == 1
    # meandiff declares no precision option: it computes as its own code says (recorded as None)
    assert resolved["precision"] is None
    assert resolved["cpu"]["native_bf16"] == hardware.cpu_features().native_bf16
    # a method that declares one records what precision=auto resolved to on this CPU
    shown = invoke("run", "-m", "precise", "-d", "toy", "--threads", "1")
    assert shown.exit_code == 0
    expected = hardware.resolve_precision("auto", "cpu")
    assert f"resolved: precision {expected}, channels-last" in shown.stdout
    runs = json.loads(invoke("show", "--format", "json").stdout)
    precise = next(r for r in runs if r["spec"]["method"] == "precise")
    assert precise["provenance"]["resolved"]["precision"] == expected


def test_json_result_on_stdout_progress_on_stderr(invoke):
    result = invoke("run", "-m", "meandiff", "-d", "synthetic", "--format", "json", *TINY)
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["status"] == "finished"
    # progress is not silenced by --format json: it goes to stderr
    assert "load data" in result.stderr
    assert "metrics" in result.stderr
