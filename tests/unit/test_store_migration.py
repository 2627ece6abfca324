"""Stores written by older schemas open, migrate and keep working."""

from __future__ import annotations

import json
import sqlite3

import numpy as np

from anobench import MetricResult
from anobench.api.records import RunSpec
from anobench.metrics.builtin import ImageAccuracy, PixelAP
from anobench.results import render, tabulate
from anobench.results.resampling import Evidence
from anobench.results.store import Store
from anobench.results.store.schema import MIGRATIONS, SCHEMA_VERSION


def _schema_1_store(path) -> RunSpec:
    """What anobench wrote before schema 2: one finished run with metrics and per-image values."""
    spec = RunSpec("toy", "brightness", {"n": 6}, {"steps": 2}, seed=0)
    with sqlite3.connect(path) as db:
        db.executescript(MIGRATIONS[0])
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        db.execute("INSERT INTO schema_version VALUES (1)")
        db.execute(
            "INSERT INTO runs (run_id, config_hash, dataset, dataset_hash, method, method_hash,"
            " profile, seed, status, spec_json, provenance_json, primary_metric, created)"
            " VALUES ('old', ?, 'toy', ?, 'brightness', ?, 'quick', 0, 'finished', ?, ?,"
            " 'pixel_ap', '2024-01-01T00:00:00+00:00')",
            (
                spec.config_hash(),
                spec.dataset_hash(),
                spec.method_hash(),
                json.dumps(spec.to_dict()),
                json.dumps({"fit_seconds": 1.0}),
            ),
        )
        db.executemany(
            "INSERT INTO metrics (run_id, name, level, value, higher_is_better, oracle)"
            " VALUES ('old', ?, ?, ?, 1, 0)",
            [("pixel_ap", "pixel", 0.4), ("image_accuracy", "image", 0.5)],
        )
        db.executemany(
            "INSERT INTO per_image (run_id, metric, image_id, value) VALUES ('old', ?, ?, ?)",
            [("image_accuracy", f"i{k}", float(k % 2)) for k in range(10)],
        )
    return spec


def test_schema_1_store_migrates_and_old_runs_stay_readable(tmp_path):
    path = tmp_path / "store.sqlite"
    spec = _schema_1_store(path)
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION == 4
        old = store.get_run("old")
        assert old.status == "finished" and old.metrics == {"image_accuracy": 0.5, "pixel_ap": 0.4}
        assert store.evidence("old") is None
        assert {r["resample"] for r in store.metric_rows()} == {None}
        # the old run still aggregates; intervals say why they are missing or use per-image values
        (rec,) = render.records(tabulate.build(store, resamples=100))
        assert rec["pixel_ap_mean"] == 0.4 and rec["pixel_ap_ci_low"] is None
        assert "stored before store schema 2" in rec["pixel_ap_ci_note"]
        assert rec["image_accuracy_ci_low"] < 0.5 < rec["image_accuracy_ci_high"]

        # a new run of the migrated store stores its recipe names and evidence
        evidence = Evidence(("a", "b"), np.array([0, 1], np.int8), np.array([0.1, 0.9]))
        store.start_run("new", spec.__class__(**{**spec.to_dict(), "seed": 1}), {}, "pixel_ap")
        store.finish_run(
            "new",
            {
                "pixel_ap": (PixelAP, MetricResult(0.5)),
                "image_accuracy": (ImageAccuracy, MetricResult(1.0, per_image={"a": 1.0})),
            },
            {},
            evidence=evidence.to_bytes(),
        )
        assert Evidence.from_bytes(store.evidence("new")).ids == ("a", "b")
        recipes = {(r["run_id"], r["name"]): r["resample"] for r in store.metric_rows()}
        assert recipes[("new", "pixel_ap")] == "pixel_ap"
        assert recipes[("new", "image_accuracy")] is None
        store.restart_run("new", {})
        assert store.evidence("new") is None
    # reopening does not migrate twice
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        with sqlite3.connect(path) as db:
            count = db.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0]
            assert count == SCHEMA_VERSION


def test_schema_2_absolute_artifacts_become_relative_to_the_home(tmp_path):
    """Schema 3 stores artifact folders under the home relative to it; others stay as they are."""
    home = tmp_path / "home"
    path = home / "store.sqlite"
    home.mkdir()
    outside = tmp_path / "elsewhere" / "runs" / "out"
    (home / "runs" / "moved").mkdir(parents=True)
    stored = {
        "here": str(home / "runs" / "here"),  # under this home
        "moved": str(tmp_path / "old-home" / "runs" / "moved"),  # home moved, folder came along
        "out": str(outside),  # outside the home, nothing of it here: kept
        "gone": str(tmp_path / "old-home" / "runs" / "gone"),  # old home, no folder here: kept
        "none": None,
    }
    spec = RunSpec("toy", "brightness", {"n": 6}, {"steps": 2}, seed=0)
    with sqlite3.connect(path) as db:
        db.executescript(MIGRATIONS[0])
        db.executescript(MIGRATIONS[1])
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        db.executemany("INSERT INTO schema_version VALUES (?)", [(1,), (2,)])
        for seed, (run_id, artifacts) in enumerate(stored.items()):
            db.execute(
                "INSERT INTO runs (run_id, config_hash, dataset, dataset_hash, method,"
                " method_hash, profile, seed, status, spec_json, artifacts, created)"
                " VALUES (?, 'c', 'toy', 'd', 'brightness', 'm', 'quick', ?, 'finished', ?, ?,"
                " '2024-01-01T00:00:00+00:00')",
                (run_id, seed, json.dumps(spec.to_dict()), artifacts),
            )
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        raw = dict(store._db.execute("SELECT run_id, artifacts FROM runs").fetchall())
        assert raw == {
            "here": "runs/here",
            "moved": "runs/moved",
            "out": str(outside),
            "gone": stored["gone"],
            "none": None,
        }
        # read back absolute, for this home
        assert store.get_run("here").artifacts == str(home / "runs" / "here")
        assert store.get_run("moved").artifacts == str(home / "runs" / "moved")
        assert store.get_run("out").artifacts == str(outside)
        assert store.get_run("none").artifacts is None
        # new runs are written relative too, and a folder outside the home stays absolute
        store.start_run(
            "new", RunSpec("toy", "brightness", {}, {}, seed=9), {}, None, str(home / "runs/new")
        )
        store.start_run("ext", RunSpec("toy", "brightness", {}, {}, seed=8), {}, None, str(outside))
        raw = dict(store._db.execute("SELECT run_id, artifacts FROM runs").fetchall())
        assert raw["new"] == "runs/new" and raw["ext"] == str(outside)
