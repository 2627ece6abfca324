"""The ``bmad`` dataset: the released layout read exactly, masks by file name, bad layouts."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from anobench_bmad import BMADDataset, make_fixture
from anobench_bmad.layout import TASKS
from PIL import Image

from anobench import DataError
from anobench.testing import check_dataset, make_context


def _dataset(root, task="brain", **options) -> BMADDataset:
    return BMADDataset(**BMADDataset.resolve("paper", {"root": str(root), "task": task,
                                                       "image_size": 32, **options}))  # fmt: skip


def test_the_contract_checks_pass(tmp_path):
    assert "splits" in check_dataset(BMADDataset, workdir=tmp_path)


@pytest.mark.parametrize("task", list(TASKS))
def test_every_task_reads_the_released_split_exactly(tmp_path, task):
    made = make_fixture(tmp_path / "root", task=task, corrupt=False)
    ctx = make_context(tmp_path)
    for split, folder in (("train", "train"), ("val", "valid"), ("test", "test")):
        loaded = _dataset(made.root, task).load(split, ctx)
        expected = sorted(p.rsplit(".", 1)[0] for p in made.images[split])
        assert sorted(loaded.ids) == expected
        assert all(i.startswith(f"{folder}/") for i in loaded.ids)
        assert [int(x) for x in loaded.labels] == [int("/Ungood/" in i) for i in loaded.ids]
        assert (loaded.masks is not None) == TASKS[task].masks
        if loaded.masks is not None:
            for image_id, mask in zip(loaded.ids, loaded.masks, strict=True):
                assert mask.any() == ("/Ungood/" in image_id)
    assert loaded.meta["splits"] == "given"


def test_masks_come_from_label_by_file_name(tmp_path):
    made = make_fixture(tmp_path / "root", corrupt=False)
    image, label = next((i, m) for i, m in made.masks.items() if i.startswith("test/"))
    drawn = np.asarray(Image.open(made.root / label)) > 0
    split = _dataset(made.root, image_size=40).load("test", make_context(tmp_path))
    index = split.ids.index(image.rsplit(".", 1)[0])
    assert np.array_equal(split.masks[index], drawn)


def test_a_parent_root_finds_the_task_folder(tmp_path):
    made = make_fixture(tmp_path / "BMAD" / "Brain", corrupt=False)
    assert _dataset(tmp_path / "BMAD").root_path() == made.root.resolve()
    with pytest.raises(DataError, match=r"holds no train/ and none of Liver/"):
        _dataset(tmp_path / "BMAD", "liver").root_path()


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda r: shutil.rmtree(r / "valid"), r"valid: missing split folder; BMAD's brain"),
        (lambda r: shutil.rmtree(r / "test/Ungood/label"), r"label: missing folder"),
        (lambda r: (r / "test/Ungood/label/99999_1.png").write_bytes(b""), "a mask without an"),
        (lambda r: next((r / "valid/Ungood/label").iterdir()).unlink(), "without a mask"),
    ],
)
def test_layout_mistakes_are_one_data_error(tmp_path, damage, message):
    made = make_fixture(tmp_path / "root", corrupt=False)
    damage(made.root)
    with pytest.raises(DataError, match=message):
        _dataset(made.root).check()


def test_unreadable_images_are_skipped_and_counted(tmp_path):
    made = make_fixture(tmp_path / "root")
    train = _dataset(made.root).load("train", make_context(tmp_path))
    assert train.meta["skipped"]["count"] == 1 and len(train) == len(made.images["train"]) - 1
    assert train.meta["skipped"]["files"][0]["path"] == str(made.root.resolve() / made.corrupt)
    with pytest.raises(DataError, match="strict=false"):
        _dataset(made.root, strict=True).load("train", make_context(tmp_path))
