"""The main job end to end: synthetic data, reference methods, two seeds, leaderboard."""

from __future__ import annotations

import json

from click.testing import CliRunner

from anobench.cli import cli

TINY = ["--dataset-opt", "image_size=32", "--dataset-opt", "n_train=20",
        "--dataset-opt", "n_val=6", "--dataset-opt", "n_test=10"]  # fmt: skip


def test_two_seeds_two_methods_then_leaderboard(home):
    runner = CliRunner()

    def invoke(*args):
        result = runner.invoke(cli, ["--home", str(home), *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result

    records = []
    for method in ("meandiff", "zscore"):
        for seed in (0, 1):
            out = invoke("-q", "run", "-m", method, "-d", "synthetic", "--seed", str(seed),
                         "--format", "json", *TINY)  # fmt: skip
            records.append(json.loads(out.stdout))
    assert all(r["status"] == "finished" for r in records)
    # the data seed is a dataset option: run seeds vary training, never the data
    fingerprints = {r["provenance"]["dataset_fingerprint"] for r in records}
    assert len(fingerprints) == 1
    assert records[0]["provenance"]["data"]["test"] == {
        **records[0]["provenance"]["data"]["test"], "healthy": 10, "diseased": 10
    }  # fmt: skip

    board = json.loads(invoke("leaderboard", "--format", "json").stdout)
    assert {b["method"] for b in board} == {"meandiff", "zscore"}
    assert all(b["n"] == 2 and b["primary_metric"] == "pixel_ap" for b in board)
    assert sorted(b["rank"] for b in board) == [1, 2]
    best = min(board, key=lambda b: b["rank"])
    other = max(board, key=lambda b: b["rank"])
    assert best["pixel_ap_mean"] >= other["pixel_ap_mean"]

    table = invoke("leaderboard").stdout
    assert "pixel_ap" in table and "±" in table and "meandiff (quick)" in table
    narrow = invoke("leaderboard", "--metric", "pixel_auroc", "--format", "markdown").stdout
    assert "pixel_auroc ↑" in narrow and "pixel_ap ↑ *" in narrow and "image_auroc" not in narrow
    csv_text = invoke("leaderboard", "--format", "csv").stdout
    assert csv_text.splitlines()[0].startswith("dataset,dataset_hash")
    assert len(csv_text.strip().splitlines()) == 3
