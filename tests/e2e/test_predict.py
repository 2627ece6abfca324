"""``anobench predict`` end to end: a stored run scores the user's PNG, JPEG and DICOM files."""

from __future__ import annotations

import csv
import json
import sys

import numpy as np
import pytest
import torch
from anobench_chexpert import make_fixture
from anobench_chexpert.fixture import write_dicom
from click.testing import CliRunner
from PIL import Image

from anobench.cli import cli

TINY = ["--dataset-opt", "image_size=32", "--dataset-opt", "n_train=10",
        "--dataset-opt", "n_val=4", "--dataset-opt", "n_test=6"]  # fmt: skip


def _invoke(home, *args, ok=True):
    result = CliRunner().invoke(cli, ["--home", str(home), *args])
    if ok:
        assert result.exit_code == 0, result.output
    return result


def _run(home, *args) -> dict:
    out = _invoke(home, "-q", "run", "--format", "json", *args)
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def meandiff_run(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    return home, _run(home, "-m", "meandiff", "-d", "synthetic", *TINY)


def test_predict_writes_figures_and_scores_for_png_jpeg_and_dicom(meandiff_run, tmp_path):
    home, record = meandiff_run
    gradient = np.tile(np.linspace(0, 255, 48), (40, 1)).astype(np.uint8)
    Image.fromarray(gradient).save(tmp_path / "a.png")
    Image.fromarray(gradient).save(tmp_path / "b.jpg", quality=95)
    write_dicom(tmp_path / "c.dcm", gradient.astype(np.uint16) * 16, window=(2048, 4096))
    files = [str(tmp_path / n) for n in ("a.png", "b.jpg", "c.dcm")]
    out = tmp_path / "out"
    result = _invoke(home, "predict", "--run", record["run_id"][:8], *files, "-o", str(out),
                     "--format", "json")  # fmt: skip
    payload = json.loads(result.stdout)
    assert payload["run_id"] == record["run_id"] and len(payload["images"]) == 3
    for name in ("000_a.png", "001_b.png", "002_c.png", "scores.json", "scores.csv", "maps.npz"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "scores.json").read_text())
    assert summary["method"] == "meandiff" and summary["input_shape"] == [1, 32, 32]
    rows = list(csv.DictReader((out / "scores.csv").open()))
    assert [r["file"] for r in rows] == files
    maps = np.load(out / "maps.npz")
    assert maps["maps"].shape == (3, 32, 32)
    # the score is the stored model applied to the image prepared like the run's dataset
    mean = torch.load(f"{record['artifacts']}/model.pt", map_location="cpu", weights_only=True)[
        "mean"
    ].numpy()
    from anobench.api import registry
    from anobench.api.imageio import read_image

    dataset = registry.get_dataset("synthetic")(**record["spec"]["dataset_options"])
    expected = np.abs(dataset.preprocess(read_image(files[0])) - mean).mean()
    assert np.isclose(payload["images"][0]["score"], expected, rtol=1e-5)
    assert np.allclose(maps["maps"][0], np.abs(dataset.preprocess(read_image(files[0])) - mean)[0])


def test_predict_defaults_to_the_home_and_prints_a_table(meandiff_run, tmp_path):
    home, record = meandiff_run
    Image.fromarray(np.full((20, 20), 90, np.uint8)).save(tmp_path / "x.png")
    result = _invoke(home, "predict", "--run", record["run_id"], str(tmp_path / "x.png"))
    assert "x.png" in result.stdout and "scores.json" in result.stdout
    written = list((home / "predictions" / record["run_id"]).glob("*/scores.json"))
    assert len(written) == 1


def test_predict_errors_are_one_line(meandiff_run, tmp_path, monkeypatch):
    home, record = meandiff_run
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 junk")
    bad = _invoke(
        home, "predict", "--run", record["run_id"], str(tmp_path / "broken.jpg"), ok=False
    )
    assert bad.exit_code == 2 and "broken.jpg: cannot read this image" in bad.output
    assert len(bad.output.strip().splitlines()) == 1
    unknown = _invoke(home, "predict", "--run", "nosuchrun", str(tmp_path / "broken.jpg"), ok=False)
    assert unknown.exit_code == 2 and "no run 'nosuchrun'" in unknown.output
    dicom = write_dicom(tmp_path / "a.dcm", np.zeros((8, 8), np.uint16))
    monkeypatch.setitem(sys.modules, "pydicom", None)
    missing = _invoke(home, "predict", "--run", record["run_id"], str(dicom), ok=False)
    assert missing.exit_code == 2 and 'pip install "anobench[chexpert]"' in missing.output


def test_a_run_without_a_saved_model_is_a_clear_error(tmp_path):
    home = tmp_path / "home"
    record = _run(home, "-m", "zscore", "-d", "synthetic", *TINY)
    (tmp_path / "x.png").write_bytes(b"")
    from pathlib import Path

    (Path(record["artifacts"]) / "model.pt").unlink()
    result = _invoke(home, "predict", "--run", record["run_id"], str(tmp_path / "x.png"), ok=False)
    assert result.exit_code == 2 and "has no saved model" in result.output
    assert "anobench run -m zscore -d synthetic" in result.output


def test_classifier_on_a_chexpert_tree_then_predict_jpeg_and_dicom(tmp_path):
    tree = make_fixture(tmp_path / "CheXpert-v1.0-small")
    home = tmp_path / "home"
    record = _run(
        home, "-m", "classifier", "-d", "chexpert", "--max-steps", "3",
        "--dataset-opt", f"root={tree.root}", "--dataset-opt", "image_size=32",
        "--method-opt", "width=0.125", "--method-opt", "batch_size=4",
    )  # fmt: skip
    assert record["status"] == "finished"
    data = record["provenance"]["data"]
    assert sum(data[s]["skipped"]["count"] for s in ("train", "val", "test")) == 1
    assert data["train"]["rejected_paths"]["count"] == 1
    assert record["primary_metric"] == "image_auroc"
    assert record["metrics"]["pixel_ap"] is None  # no masks: skipped, never zero
    # the stored prediction of a test image is reproduced from its JPEG and from a DICOM copy
    stored = np.load(f"{record['artifacts']}/predictions.npz")
    image_id = str(stored["ids"][0])
    jpeg = tree.root / f"{image_id}.jpg"
    pixels = np.asarray(Image.open(jpeg).convert("L"))
    dicom = write_dicom(tmp_path / "copy.dcm", pixels.astype(np.uint16), window=(128, 256))
    out = tmp_path / "out"
    result = _invoke(home, "predict", "--run", record["run_id"], str(jpeg), str(dicom),
                     "-o", str(out), "--format", "json")  # fmt: skip
    scores = [row["score"] for row in json.loads(result.stdout)["images"]]
    assert np.isclose(scores[0], stored["scores"][0], atol=1e-6)
    assert np.isclose(scores[1], scores[0], atol=1e-6)
    assert np.load(out / "maps.npz")["maps"].shape == (2, 32, 32)


def test_the_figure_of_a_method_without_maps_says_so(tmp_path):
    from anobench.run.predict import figure

    row = {"file": "x.png", "score": 0.25}
    path = figure(np.zeros((1, 16, 16), np.float32), None, row, tmp_path / "f.png", "title")
    assert (
        path.is_file()
        and Image.open(path).size[0]
        < Image.open(
            figure(
                np.zeros((1, 16, 16), np.float32), np.ones((16, 16)), row, tmp_path / "g.png", "t"
            )
        ).size[0]
    )


def _own_model(home, record) -> None:
    """``predict`` in ``home`` reads this home's model (its artifacts resolve under it)."""
    from anobench.results.store import Store

    with Store(home / "store.sqlite") as store:
        stored = store.get_run(record["run_id"])
    assert stored.artifacts == str(home / "runs" / record["run_id"])


@pytest.mark.parametrize("how", ["move", "copy"])
def test_a_moved_or_copied_home_predicts_with_its_own_model(tmp_path, how):
    import shutil

    original = tmp_path / "homeA"
    record = _run(original, "-m", "meandiff", "-d", "synthetic", *TINY)
    Image.fromarray(np.full((20, 20), 90, np.uint8)).save(tmp_path / "x.png")
    moved = tmp_path / "homeB"
    if how == "move":
        original.rename(moved)
    else:
        shutil.copytree(original, moved, symlinks=True)
        shutil.rmtree(original)  # the copy must not lean on the original's files
    _own_model(moved, record)
    result = _invoke(moved, "predict", "--run", record["run_id"], str(tmp_path / "x.png"),
                     "--format", "json")  # fmt: skip
    assert json.loads(result.stdout)["run_id"] == record["run_id"]
    assert not original.exists()


def test_a_copied_home_does_not_use_the_original_model(tmp_path):
    import shutil

    original = tmp_path / "homeA"
    record = _run(original, "-m", "meandiff", "-d", "synthetic", *TINY)
    copy = tmp_path / "homeB"
    shutil.copytree(original, copy)
    (copy / "runs" / record["run_id"] / "model.pt").unlink()
    (tmp_path / "x.png").write_bytes(b"")
    result = _invoke(copy, "predict", "--run", record["run_id"], str(tmp_path / "x.png"), ok=False)
    assert result.exit_code == 2 and "is missing" in result.output
    assert str(copy / "runs" / record["run_id"] / "model.pt") in result.output.replace("\n", "")


def test_a_decompression_bomb_is_one_line_naming_the_limit(meandiff_run, tmp_path):
    import struct
    import zlib

    home, record = meandiff_run
    bomb = tmp_path / "bomb.png"
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(bomb)
    data = bytearray(bomb.read_bytes())
    data[16:24] = struct.pack(">II", 40000, 40000)  # the header claims 40000 x 40000
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    bomb.write_bytes(bytes(data))
    result = _invoke(home, "predict", "--run", record["run_id"], str(bomb), ok=False)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "bomb.png" in lines[0] and "limit of" in lines[0]
    assert "ANOBENCH_MAX_IMAGE_PIXELS" in lines[0] and "Traceback" not in result.output
