"""A store written before runs were identified by their data (schema 3) keeps its runs and
their rows; runs that read different folders through ANOBENCH_FOLDER_ROOT are split."""

from __future__ import annotations

import hashlib
import json
import sqlite3

import pytest

from anobench.results.store.schema import MIGRATIONS


def _old_hash(obj) -> str:
    """The hash anobench wrote before schema 4 (sha256 of canonical JSON, 12 characters)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _old_run(db, run_id, dataset, options, method, seed, fingerprint, value, finished=True):
    """One run row as schema 3 stored it: the spec without fingerprint, hashes of the options."""
    spec = {
        "dataset": dataset,
        "method": method,
        "dataset_options": options,
        "method_options": {"steps": 5},
        "profile": "quick",
        "seed": seed,
        "device": "auto",
        "max_steps": None,
        "time_budget": None,
    }
    config = {k: spec[k] for k in spec if k not in ("seed", "device")}
    provenance = {"seed": seed, "resolved": {"precision": None}}
    if fingerprint:
        provenance["dataset_fingerprint"] = fingerprint
    db.execute(
        "INSERT INTO runs (run_id, config_hash, dataset, dataset_hash, method, method_hash,"
        " profile, seed, status, spec_json, provenance_json, primary_metric, artifacts, created,"
        " finished) VALUES (?, ?, ?, ?, ?, ?, 'quick', ?, ?, ?, ?, 'image_auroc', ?, ?, ?)",
        (
            run_id,
            _old_hash(config),
            dataset,
            _old_hash({"dataset": dataset, "options": options}),
            method,
            _old_hash(
                {"method": method, "options": {"steps": 5}, "max_steps": None, "time_budget": None}
            ),
            seed,
            "finished" if finished else "failed",
            json.dumps(spec),
            json.dumps(provenance),
            f"runs/{run_id}",
            f"2026-01-01T00:00:0{seed}+00:00",
            "2026-01-01T00:01:00+00:00",
        ),
    )
    if finished:
        db.execute(
            "INSERT INTO metrics (run_id, name, level, value, higher_is_better, oracle, reason,"
            " details_json, resample) VALUES (?, 'image_auroc', 'image', ?, 1, 0, NULL, '{}',"
            " 'image_auroc')",
            (run_id, value),
        )


def _schema_3_store(home):
    home.mkdir(parents=True)
    with sqlite3.connect(home / "store.sqlite") as db:
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for number, migration in enumerate(MIGRATIONS[:3]):
            if callable(migration):
                migration(db, home)
            else:
                db.executescript(migration)
            db.execute("INSERT INTO schema_version VALUES (?)", (number + 1,))
        folder = {"image_size": 32, "root": None}
        # ANOBENCH_FOLDER_ROOT pointed at folder A, then at folder B: one row of n=2 before
        _old_run(db, "folder-a", "folder", folder, "brightness", 0, "fp-of-a", 0.6)
        _old_run(db, "folder-b", "folder", folder, "brightness", 1, "fp-of-b", 0.7)
        # the toy dataset's fingerprint has not changed: its run stays found
        toy = {"n": 6, "size": 16}
        toy_fp = hashlib.sha256(b"toy-6-16").hexdigest()[:16]
        _old_run(db, "toy-0", "toy", toy, "brightness", 0, toy_fp, 0.8)
        _old_run(db, "toy-1", "toy", toy, "brightness", 1, toy_fp, 0.9)
        # failed before its data loaded: it joins its configuration's fingerprint
        _old_run(db, "toy-x", "toy", toy, "brightness", 2, None, None, finished=False)


def test_old_runs_keep_their_rows_and_are_found_again(invoke, testplugins, home):
    _schema_3_store(home)
    shown = invoke("show", "--format", "json")
    assert shown.exit_code == 0, shown.output
    runs = {r["run_id"]: r for r in json.loads(shown.stdout)}
    assert set(runs) == {"folder-a", "folder-b", "toy-0", "toy-1", "toy-x"}
    rows = json.loads(invoke("leaderboard", "--format", "json", "--bootstrap", "0").stdout)
    toy = [r for r in rows if r["dataset"] == "toy"]
    folder = [r for r in rows if r["dataset"] == "folder"]
    assert [(r["n"], r["image_auroc_mean"]) for r in toy] == [(2, pytest.approx(0.85))]
    # two folders read through the variable are two data sets now, one run each
    assert sorted((r["n"], r["image_auroc_mean"]) for r in folder) == [(1, 0.6), (1, 0.7)]
    assert len({r["dataset_hash"] for r in folder}) == 2
    assert runs["toy-x"]["config_hash"] == runs["toy-0"]["config_hash"]
    # the old finished run is found by today's run: same data, same configuration
    again = invoke("run", "-m", "brightness", "-d", "toy", "--seed", "1")
    assert again.exit_code == 0, again.output
    assert "already finished: run toy-1" in again.output
