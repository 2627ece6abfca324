from __future__ import annotations

import json

import numpy as np
import pytest

from anobench import ConfigError, MethodFailure, TrainingDiverged
from anobench.results.store import Store
from anobench.run.runner import Runner, build_spec


def run(home, method, seed=0, **kw):
    spec = build_spec(dataset="toy", method=method, seed=seed, device="cpu", **kw)
    return Runner(home).run(spec)


def test_finished_run_has_metrics_provenance_and_artifacts(testplugins, tmp_path):
    record = run(tmp_path, "brightness", seed=3)
    assert record.status == "finished"
    assert set(record.metrics) >= {"pixel_ap", "pixel_auroc", "image_auroc", "pixel_dice"}
    assert 0.0 <= record.metrics["pixel_ap"] <= 1.0
    prov = record.provenance
    for key in (
        "seed",
        "torch_version",
        "anobench_version",
        "dataset_fingerprint",
        "fit_seconds",
        "predict_seconds",
        "n_parameters",
        "device",
        "plugins",
        "git_revision",
    ):
        assert key in prov, key
    assert prov["seed"] == 3
    assert prov["plugins"]["method"]["distribution"] == "anobench-testplugins"
    art = tmp_path / "runs" / record.run_id
    for name in ("predictions.npz", "model.pt", "panel.png", "curves.png", "training_log.jsonl"):
        assert (art / name).exists(), name
    pred = np.load(art / "predictions.npz")
    assert pred["maps"].shape == (12, 16, 16)
    rows = [json.loads(line) for line in (art / "training_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5]


def test_same_seed_same_metrics(testplugins, tmp_path):
    a = run(tmp_path, "brightness", seed=1)
    b = run(tmp_path, "brightness", seed=1)
    assert a.metrics == b.metrics
    assert a.spec.config_hash() == b.spec.config_hash()


def test_step_budget_is_enforced_through_the_context(testplugins, tmp_path):
    record = run(tmp_path, "brightness", max_steps=2)
    assert record.provenance["training_steps_logged"] == 2
    assert record.spec.max_steps == 2


def test_unsupervised_methods_only_see_healthy_images(testplugins, tmp_path):
    assert run(tmp_path, "labelspy").status == "finished"
    assert run(tmp_path, "weakspy").status == "finished"


@pytest.mark.parametrize(
    ("method", "error", "message"),
    [
        ("failing", MethodFailure, "method 'failing' raised RuntimeError during fit: boom in fit"),
        ("nanmaps", MethodFailure, "method 'nanmaps' returned anomaly maps with 1 NaN"),
        ("badshape", MethodFailure, r"method 'badshape' returned maps of shape \(12, 15, 16\)"),
        ("diverging", TrainingDiverged, "loss 'loss' became nan at step 2"),
    ],
)
def test_failures_are_stored_and_do_not_touch_other_runs(
    testplugins, tmp_path, method, error, message
):
    good = run(tmp_path, "brightness")
    with pytest.raises(error, match=message):
        run(tmp_path, method)
    store = Store(tmp_path / "store.sqlite")
    failed = store.runs(status="failed")
    assert len(failed) == 1
    assert failed[0].spec.method == method
    assert failed[0].metrics == {}
    assert store.get_run(good.run_id).metrics == good.metrics


def test_bad_options_fail_before_anything_is_stored(testplugins, tmp_path):
    with pytest.raises(ConfigError, match="unknown option 'stepz'"):
        run(tmp_path, "brightness", method_options={"stepz": 3})
    assert not (tmp_path / "store.sqlite").exists()


def test_profile_changes_the_configuration(testplugins):
    quick = build_spec(dataset="toy", method="brightness", profile="quick")
    paper = build_spec(dataset="toy", method="brightness", profile="paper")
    assert quick.method_options == {"steps": 5}
    assert paper.method_options == {"steps": 10}
    assert paper.dataset_options["size"] == 32
    assert quick.config_hash() != paper.config_hash()
    seeded = build_spec(dataset="toy", method="brightness", seed=7, device="cpu")
    assert seeded.config_hash() == quick.config_hash()


def test_interrupted_run_resumes_automatically_and_matches(testplugins, tmp_path, monkeypatch):
    straight = run(tmp_path / "a", "brightness")
    monkeypatch.setenv("TESTPLUGINS_INTERRUPT_AT", "3")
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "b", "brightness")
    store = Store(tmp_path / "b" / "store.sqlite")
    (stopped,) = store.runs()
    assert stopped.status == "interrupted"
    monkeypatch.delenv("TESTPLUGINS_INTERRUPT_AT")
    resumed = run(tmp_path / "b", "brightness")
    assert resumed.run_id == stopped.run_id and resumed.status == "finished"
    assert resumed.provenance["resumed"] is True
    assert resumed.metrics == straight.metrics
    log = (tmp_path / "b" / "runs" / resumed.run_id / "training_log.jsonl").read_text()
    assert [json.loads(line)["step"] for line in log.splitlines()] == [1, 2, 3, 4, 5]


def test_explicit_resume_of_a_failed_run_and_refusal_of_a_finished_one(
    testplugins, tmp_path, monkeypatch
):
    straight = run(tmp_path / "a", "brightness")
    monkeypatch.setenv("TESTPLUGINS_FAIL_AT", "3")
    with pytest.raises(MethodFailure, match="failed at step 3"):
        run(tmp_path / "b", "brightness")
    (failed,) = Store(tmp_path / "b" / "store.sqlite").runs()
    assert failed.status == "failed"
    monkeypatch.delenv("TESTPLUGINS_FAIL_AT")
    resumed = Runner(tmp_path / "b").resume(failed.run_id)
    assert resumed.run_id == failed.run_id and resumed.status == "finished"
    assert resumed.provenance["resumed"] is True
    assert resumed.metrics == straight.metrics
    log = (tmp_path / "b" / "runs" / resumed.run_id / "training_log.jsonl").read_text()
    # steps 1-3 come from the failed attempt's checkpoint and are not trained again
    assert [json.loads(line)["step"] for line in log.splitlines()] == [1, 2, 3, 4, 5]
    with pytest.raises(ConfigError, match="already finished"):
        Runner(tmp_path / "b").resume(resumed.run_id)


def test_validation_is_predicted_only_when_a_metric_needs_it(testplugins, tmp_path):
    from anobench.run.runner import Runner

    spec = build_spec(dataset="toy", method="brightness", device="cpu")
    ranking_only = Runner(tmp_path).run(spec, metrics=["pixel_auroc", "image_auroc"])
    assert ranking_only.provenance["val_predicted"] is False
    assert set(ranking_only.metrics) == {"pixel_auroc", "image_auroc"}
    thresholded = Runner(tmp_path).run(spec, metrics=["pixel_dice"])
    assert thresholded.provenance["val_predicted"] is True
    assert thresholded.metrics["pixel_dice"] >= 0
