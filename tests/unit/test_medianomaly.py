"""The ``medianomaly`` dataset: data.json and folder releases read exactly, val from train."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from anobench_medianomaly import MedIAnomalyDataset, make_fixture
from anobench_medianomaly.layout import TASKS
from PIL import Image

from anobench import DataError
from anobench.testing import check_dataset, make_context


def _dataset(root, task="rsna", **options) -> MedIAnomalyDataset:
    return MedIAnomalyDataset(**MedIAnomalyDataset.resolve(
        "paper", {"root": str(root), "task": task, "image_size": 32, **options}))  # fmt: skip


def _stem(rel):
    return rel.rsplit(".", 1)[0]


def test_the_contract_checks_pass(tmp_path):
    assert "splits" in check_dataset(MedIAnomalyDataset, workdir=tmp_path)


@pytest.mark.parametrize("task", list(TASKS))
def test_test_is_the_released_list_and_val_comes_from_train(tmp_path, task):
    made = make_fixture(tmp_path / "Data" / TASKS[task].folder, task=task, corrupt=False)
    ds = _dataset(tmp_path / "Data", task)  # the parent folder finds the set by its name
    ctx = make_context(tmp_path)
    test = ds.load("test", ctx)
    assert sorted(test.ids) == sorted(map(_stem, made.test_normal + made.test_abnormal))
    abnormal = set(map(_stem, made.test_abnormal))
    assert [int(x) for x in test.labels] == [int(i in abnormal) for i in test.ids]
    train, val = ds.load("train", ctx), ds.load("val", ctx)
    assert sorted(train.ids + val.ids) == sorted(map(_stem, made.train))
    assert len(val) == round(len(made.train) * 0.1) and not val.labels.any()
    assert (test.masks is not None) == (task == "brats2021")
    assert "drawn with data_seed=0" in val.meta["splits"]
    other = _dataset(tmp_path / "Data", task, data_seed=1).load("val", ctx)
    assert other.ids != val.ids


def test_brats_masks_are_the_seg_files_of_the_flair_slices(tmp_path):
    made = make_fixture(tmp_path / "BraTS2021", task="brats2021", corrupt=False)
    test = _dataset(made.root, "brats2021", image_size=40).load("test", make_context(tmp_path))
    for image, mask in made.masks.items():
        assert "_flair_" in image and mask == image.replace(
            "test/tumor", "test/annotation"
        ).replace("flair", "seg")
        drawn = np.asarray(Image.open(made.root / mask)) > 0
        assert np.array_equal(test.masks[test.ids.index(_stem(image))], drawn)


def _edit_json(root, change):
    data = json.loads((root / "data.json").read_text())
    change(data)
    (root / "data.json").write_text(json.dumps(data))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.pop("test"), r"data\.json: no 'test' object"),
        (lambda d: d["train"].pop("0"), r"data\.json: train\['0'\] is missing"),
        (lambda d: d["test"].update({"2": []}), r"test has the unknown label '2'"),
        (lambda d: d["test"]["1"].append(d["test"]["0"][0]), r"is listed twice"),
    ],
)
def test_data_json_mistakes_are_one_data_error(tmp_path, change, message):
    made = make_fixture(tmp_path / "RSNA", corrupt=False)
    _edit_json(made.root, change)
    with pytest.raises(DataError, match=message):
        _dataset(made.root).check()


def test_names_leaving_images_are_rejected_and_counted(tmp_path):
    made = make_fixture(tmp_path / "RSNA", corrupt=False)
    _edit_json(made.root, lambda d: d["train"]["0"].append("../../etc/passwd"))
    train = _dataset(made.root).load("train", make_context(tmp_path))
    assert train.meta["rejected_paths"]["count"] == 1
    with pytest.raises(DataError, match=r"'\.\./\.\./etc/passwd' leads outside the root"):
        _dataset(made.root, strict=True).load("train", make_context(tmp_path))


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda r: shutil.rmtree(r / "test/tumor"), r"tumor: missing folder; the BraTS2021"),
        (lambda r: next((r / "test/annotation").iterdir()).unlink(), "a tumour slice without"),
        (lambda r: (r / "test/annotation/x_seg_1.png").write_bytes(b""), "a mask without an"),
    ],
)
def test_brats_layout_mistakes_are_one_data_error(tmp_path, damage, message):
    made = make_fixture(tmp_path / "BraTS2021", task="brats2021", corrupt=False)
    damage(made.root)
    with pytest.raises(DataError, match=message):
        _dataset(made.root, "brats2021").check()


def test_unreadable_images_are_skipped_and_counted(tmp_path):
    made = make_fixture(tmp_path / "RSNA")
    ds = _dataset(made.root)
    ctx = make_context(tmp_path)
    counts = [ds.load(s, ctx).meta["skipped"]["count"] for s in ("train", "val", "test")]
    assert sum(counts) == 1
    with pytest.raises(DataError, match=r"val_fraction=0\.0"):
        _dataset(made.root, val_fraction=0.0).check()
