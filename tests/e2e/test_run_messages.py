"""What a run says while it loads its data, and what its labels say (issue 24, item 14)."""

from __future__ import annotations

import json
import os

from anobench_folder.fixture import make_fixture


def _run_folder(invoke, root, *extra: str):
    args = ("run", "-m", "meandiff", "-d", "folder", "--device", "cpu")
    args += ("--dataset-opt", f"root={root}", "--dataset-opt", "image_size=16")
    return invoke(*args, *extra)


def test_decoding_uses_the_run_s_threads_and_load_data_says_what_it_counted(
    invoke, tmp_path, monkeypatch
):
    made = make_fixture(tmp_path / "data", normal=12, abnormal=6, corrupt=False, kinds=(".png",))
    # a machine with more cores than the run was given
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    result = _run_folder(invoke, made.root, "--threads", "1")
    assert result.exit_code == 0, result.output
    assert "images to 16 px (1 threads)" in result.stderr, result.stderr
    assert "load data done (3 splits in" in result.stderr, result.stderr


def test_a_manifest_with_given_splits_leaves_idle_options_out_of_the_label(invoke, tmp_path):
    made = make_fixture(
        tmp_path / "data", layout="manifest", given_splits=True, corrupt=False, kinds=(".png",)
    )
    manifest = ("--dataset-opt", "manifest=manifest.csv")
    idle = ("--dataset-opt", "val_fraction=0.3", "--dataset-opt", "data_seed=5")
    assert _run_folder(invoke, made.root, *manifest, *idle).exit_code == 0
    board = json.loads(invoke("leaderboard", "--format", "json", "--bootstrap", "0").stdout)
    label = board[0]["dataset_label"]
    assert "image_size=16" in label and "manifest=manifest.csv" in label
    assert "val_fraction" not in label and "data_seed" not in label, label
