"""``anobench predict`` gives each score a verdict at the run's validation threshold and shows a
method's healthy translation."""

from __future__ import annotations

import csv
import json
import sqlite3

import numpy as np
import pytest
from PIL import Image

from .test_predict import TINY, _invoke, _run


def _stored_threshold(home, run_id) -> float:
    """The image threshold as the run's metric stored it, read straight from the database."""
    with sqlite3.connect(home / "store.sqlite") as db:
        (details,) = db.execute(
            "SELECT details_json FROM metrics WHERE run_id = ? AND name = ?",
            (run_id, "image_balanced_accuracy"),
        ).fetchone()
    return json.loads(details)["threshold"]


def _images(tmp_path) -> list[str]:
    """A flat grey image (low meandiff score) and a black-and-white checkerboard (high score)."""
    flat = np.full((32, 32), 128, np.uint8)
    checker = (np.indices((32, 32)).sum(axis=0) % 2 * 255).astype(np.uint8)
    Image.fromarray(flat).save(tmp_path / "flat.png")
    Image.fromarray(checker).save(tmp_path / "checker.png")
    return [str(tmp_path / "flat.png"), str(tmp_path / "checker.png")]


def test_each_score_gets_a_verdict_at_the_stored_validation_threshold(tmp_path):
    home = tmp_path / "home"
    record = _run(home, "-m", "meandiff", "-d", "synthetic", *TINY)
    threshold = _stored_threshold(home, record["run_id"])
    files, out = _images(tmp_path), tmp_path / "out"
    text = _invoke(home, "predict", "--run", record["run_id"], *files, "-o", str(out)).stdout
    summary = json.loads((out / "scores.json").read_text())
    assert summary["threshold"]["value"] == threshold
    assert summary["threshold"]["metric"] == "image_balanced_accuracy"
    rows = summary["images"]
    expected = ["anomalous" if r["score"] >= threshold else "normal" for r in rows]
    assert [r["verdict"] for r in rows] == expected == ["normal", "anomalous"]
    assert all(r["threshold"] == threshold for r in rows)
    table = list(csv.DictReader((out / "scores.csv").open()))
    assert [r["verdict"] for r in table] == expected
    assert float(table[0]["threshold"]) == pytest.approx(threshold)
    assert "anomalous" in text and "normal" in text
    assert f"anomalous when score >= {threshold:.4g}" in text
    payload = json.loads(
        _invoke(home, "predict", "--run", record["run_id"], *files, "-o", str(tmp_path / "j"),
                "--format", "json").stdout
    )  # fmt: skip
    assert payload["threshold"]["value"] == threshold
    assert [r["verdict"] for r in payload["images"]] == expected


def test_a_run_without_a_stored_threshold_says_so(tmp_path):
    home = tmp_path / "home"
    record = _run(home, "-m", "meandiff", "-d", "synthetic", "--metric", "image_auroc", *TINY)
    files, out = _images(tmp_path), tmp_path / "out"
    text = _invoke(home, "predict", "--run", record["run_id"], *files, "-o", str(out)).stdout
    assert "no verdict: the run stored no validation threshold" in text.replace("\n", " ")
    summary = json.loads((out / "scores.json").read_text())
    assert summary["threshold"]["value"] is None
    assert "image_balanced_accuracy" in summary["threshold"]["missing"]
    assert [r["verdict"] for r in summary["images"]] == [None, None]
    assert [r["verdict"] for r in csv.DictReader((out / "scores.csv").open())] == ["", ""]


def test_the_figure_shows_the_healthy_translation_and_the_verdict(tmp_path, monkeypatch):
    from anobench.run import predict

    home = tmp_path / "home"
    record = _run(
        home, "-m", "descargan", "-d", "synthetic", *TINY, "--max-steps", "3",
        "--method-opt", "g_width=4", "--method-opt", "d_width=4",
        "--method-opt", "warmup=1", "--method-opt", "batch_size=4",
    )  # fmt: skip
    drawn = []
    real = predict.figure_of

    def keep(*args, **kwargs):
        fig = real(*args, **kwargs)
        drawn.append(
            ([ax.get_title() for ax in fig.axes if ax.images], fig.get_suptitle(), fig.axes)
        )
        return fig

    monkeypatch.setattr(predict, "figure_of", keep)
    files = _images(tmp_path)[:1]
    _invoke(home, "predict", "--run", record["run_id"], *files, "-o", str(tmp_path / "out"))
    ((titles, heading, axes),) = drawn
    assert titles == [
        "input (as the model sees it)", "healthy translation", "diseased translation",
        "anomaly map", "overlay",
    ]  # fmt: skip
    # the translation drawn is the method's own output for this image
    translated = axes[1].images[0].get_array()
    summary = json.loads((tmp_path / "out" / "scores.json").read_text())
    (row,) = summary["images"]
    verdict = row["verdict"]
    assert verdict in ("anomalous", "normal")
    assert f"score {row['score']:.4g} -> {verdict} (threshold" in heading
    assert "from validation)" in heading
    saved = np.load(tmp_path / "out" / "maps.npz")["healthy_translation"]
    assert saved.shape == (1, 1, 32, 32)
    np.testing.assert_allclose(translated, saved[0].mean(axis=0), rtol=1e-6)
