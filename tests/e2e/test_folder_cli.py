"""The ``folder`` dataset through the CLI: a run on each layout, predict, and bad input."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
from anobench_folder import make_fixture

from .conftest import one_line_error

TINY = ["--dataset-opt", "image_size=32", "--max-steps", "2"]


def _run(invoke, *args) -> dict:
    result = invoke("-q", "run", "--format", "json", "-m", "meandiff", "-d", "folder", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("layout", ["folders", "splits", "manifest"])
def test_a_run_on_each_layout_skips_the_unreadable_file_and_scores_pixels(
    own_datasets, invoke, tmp_path, layout
):
    made = make_fixture(tmp_path / "root", layout=layout)
    extra = ["--dataset-opt", "manifest=manifest.csv"] if layout == "manifest" else []
    record = _run(invoke, "--dataset-opt", f"root={made.root}", *extra, *TINY)
    assert record["status"] == "finished"
    data = record["provenance"]["data"]
    assert sum(data[s]["skipped"]["count"] for s in ("train", "val", "test")) == 1
    assert record["metrics"]["pixel_ap"] is not None and record["metrics"]["image_auroc"] >= 0
    total = sum(data[s]["healthy"] + data[s]["diseased"] for s in ("train", "val", "test"))
    assert total == len(made.normal) + len(made.abnormal) - 1


def test_predict_on_a_folder_run_reproduces_the_stored_scores(own_datasets, invoke, tmp_path):
    made = make_fixture(tmp_path / "root", corrupt=False)
    record = _run(invoke, "--dataset-opt", f"root={made.root}", *TINY)
    stored = np.load(f"{record['artifacts']}/predictions.npz")
    files = [
        str(made.root / next(p for p in made.normal + made.abnormal if p.startswith(f"{i}.")))
        for i in stored["ids"][:3]
    ]
    result = invoke("predict", "--run", record["run_id"], *files, "-o", str(tmp_path / "out"),
                    "--format", "json")  # fmt: skip
    assert result.exit_code == 0, result.output
    scores = [row["score"] for row in json.loads(result.stdout)["images"]]
    assert np.allclose(scores, stored["scores"][:3], atol=1e-6)


def _stray_mask(root):
    (root / "test/masks/site0/stray.png").write_bytes(b"")


def _drop_label_column(root):
    path = root / "manifest.csv"
    rows = list(csv.DictReader(path.open()))
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["path", "mask", "patient"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def _unknown_label(root):
    path = root / "manifest.csv"
    text = path.read_text().splitlines()
    text[3] = text[3].replace(",normal,", ",benign,")
    path.write_text("\n".join(text) + "\n")


@pytest.mark.parametrize(
    "layout, damage, fragments",
    [
        ("splits", lambda r: shutil.rmtree(r / "val"), ["val: missing split folder", "train/"]),
        ("splits", _stray_mask, ["stray.png: a mask without an image"]),
        ("manifest", _drop_label_column, ["manifest.csv: missing column(s) 'label'"]),
        ("manifest", _unknown_label, ["manifest.csv line 4, column 'label'", "'benign'"]),
    ],
)
def test_bad_input_is_one_line_and_stores_no_run(
    own_datasets, invoke, tmp_path, layout, damage, fragments
):
    made = make_fixture(tmp_path / "root", layout=layout)
    damage(made.root)
    extra = ["--dataset-opt", "manifest=manifest.csv"] if layout == "manifest" else []
    result = invoke("run", "-m", "meandiff", "-d", "folder", "--dataset-opt",
                    f"root={made.root}", *extra, *TINY)  # fmt: skip
    one_line_error(result, *fragments)
    assert json.loads(invoke("show", "--format", "json").stdout) == []


def test_strict_fails_the_run_naming_the_unreadable_file(own_datasets, invoke, tmp_path):
    made = make_fixture(tmp_path / "root")
    result = invoke("run", "-m", "meandiff", "-d", "folder", "--dataset-opt", f"root={made.root}",
                    "--dataset-opt", "strict=true", *TINY)  # fmt: skip
    assert result.exit_code == 2, result.output
    assert made.corrupt in result.output and "strict=false" in result.output
    assert "Traceback" not in result.output
