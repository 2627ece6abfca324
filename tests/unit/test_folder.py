"""The ``folder`` dataset: layouts, made splits, masks, skipped files, the cache, predict."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
from anobench_folder import FolderDataset, make_fixture
from anobench_folder.listing import from_folders, from_manifest
from anobench_folder.splits import make_splits
from PIL import Image

from anobench import DataError
from anobench.api.imageio import read_image
from anobench.testing import check_dataset, make_context


def _dataset(root, **options) -> FolderDataset:
    return FolderDataset(**FolderDataset.resolve("paper", {"root": str(root), "image_size": 32,
                                                           **options}))  # fmt: skip


def _all(ds, ctx):
    return {name: ds.load(name, ctx) for name in ("train", "val", "test")}


def test_the_contract_checks_pass(tmp_path):
    assert "splits" in check_dataset(FolderDataset, workdir=tmp_path)


def test_folders_any_depth_masks_by_relative_path_and_every_format(tmp_path):
    made = make_fixture(tmp_path / "root", corrupt=False)
    listing = from_folders(made.root)
    rels = sorted(e.rel for e in listing.entries)
    assert rels == sorted(made.normal + made.abnormal)
    masks = {e.rel: e.mask for e in listing.entries if e.label == 1}
    assert masks == made.masks
    assert {e.rel.split(".", 1)[1] for e in listing.entries} >= {"png", "jpg", "tif"}
    splits = _all(_dataset(made.root), make_context(tmp_path))
    # every image once, labels from the folder, masks where the fixture drew the disc
    ids = [i for s in splits.values() for i in s.ids]
    assert sorted(ids) == sorted(r.rsplit(".", 2 if r.endswith(".gz") else 1)[0] for r in rels)
    for split in splits.values():
        assert split.masks is not None
        for image_id, label, mask in zip(split.ids, split.labels, split.masks, strict=True):
            assert label == image_id.startswith("abnormal/")
            assert mask.any() == bool(label)


def test_cached_pixels_equal_predict_preprocessing_of_the_file(tmp_path):
    made = make_fixture(tmp_path / "root", corrupt=False)
    ds = _dataset(made.root, resize="pad", equalize=True)
    split = ds.load("test", make_context(tmp_path))
    for i, image_id in enumerate(split.ids):
        path = next(p for p in made.normal + made.abnormal if p.startswith(image_id + "."))
        expected = ds.preprocess(read_image(made.root / path))
        assert np.array_equal(np.asarray(split.images[i]), expected), path


def test_a_mask_follows_its_image_through_the_resize(tmp_path):
    root = tmp_path / "root"
    for name in ("normal", "abnormal", "masks"):
        (root / name).mkdir(parents=True)
    for i in range(4):
        Image.fromarray(np.full((20, 60), 100, np.uint8)).save(root / f"normal/n{i}.png")
    mask = np.zeros((20, 60), np.uint8)
    mask[:, :10] = 255  # the left sixth: cut by crop, kept by stretch and pad
    for i in range(4):
        Image.fromarray(np.full((20, 60), 100, np.uint8)).save(root / f"abnormal/a{i}.png")
        Image.fromarray(mask).save(root / f"masks/a{i}.png")
    for resize, expected in (("crop", 0.0), ("stretch", 1 / 6), ("pad", 1 / 6 * 20 / 60)):
        split = _dataset(root, resize=resize, test_fraction=0.5).load(
            "test", make_context(tmp_path)
        )
        got = split.masks[split.labels == 1].mean()
        assert abs(got - expected) < 0.03, (resize, got)


def test_made_splits_are_seeded_stratified_and_patient_disjoint():
    labels = np.array([0] * 60 + [1] * 30)
    groups = np.array([f"p{i // 3}" for i in range(90)], dtype=object)
    a = make_splits(labels, groups, val_fraction=0.1, test_fraction=0.2, seed=3)
    b = make_splits(labels, groups, val_fraction=0.1, test_fraction=0.2, seed=3)
    c = make_splits(labels, groups, val_fraction=0.1, test_fraction=0.2, seed=4)
    assert list(a) == list(b) and list(a) != list(c)
    for patient in set(groups):
        assert len(set(a[groups == patient])) == 1
    # 20 healthy and 10 diseased patients: 4 + 2 test, 2 + 1 val
    for split, healthy, diseased in (("test", 4, 2), ("val", 2, 1), ("train", 14, 7)):
        assert (a[labels == 0] == split).sum() == 3 * healthy
        assert (a[labels == 1] == split).sum() == 3 * diseased


def test_manifest_with_patients_splits_by_patient(tmp_path):
    made = make_fixture(tmp_path / "root", layout="manifest", corrupt=False)
    ds = _dataset(made.root, manifest="manifest.csv")
    rows = list(csv.DictReader(made.manifest.open()))
    patient = {r["path"].rsplit(".", 2 if r["path"].endswith(".gz") else 1)[0]: r["patient"]
               for r in rows}  # fmt: skip
    splits = _all(ds, make_context(tmp_path))
    seen = [{patient[i] for i in s.ids} for s in splits.values()]
    assert not (seen[0] & seen[1] or seen[0] & seen[2] or seen[1] & seen[2])
    assert sum(len(s) for s in splits.values()) == len(rows)
    assert splits["test"].meta["patients"] == len(seen[2])
    assert "by patient" in splits["test"].meta["splits"]


def test_given_splits_from_folders_and_from_the_manifest(tmp_path):
    made = make_fixture(tmp_path / "a", layout="splits", corrupt=False)
    splits = _all(_dataset(made.root), make_context(tmp_path))
    for name, split in splits.items():
        assert all(i.startswith(f"{name}/") for i in split.ids)
        assert split.meta["splits"] == "given"
    made = make_fixture(tmp_path / "b", layout="manifest", given_splits=True, corrupt=False)
    rows = list(csv.DictReader(made.manifest.open()))
    splits = _all(_dataset(made.root, manifest="manifest.csv"), make_context(tmp_path))
    for name, split in splits.items():
        assert len(split) == sum(r["split"] == name for r in rows)


def test_unreadable_files_are_skipped_and_counted_or_fail_when_strict(tmp_path):
    made = make_fixture(tmp_path / "root")
    splits = _all(_dataset(made.root), make_context(tmp_path))
    skipped = [f for s in splits.values() for f in s.meta["skipped"]["files"]]
    assert [f["path"] for f in skipped] == [str(made.root / made.corrupt)]
    assert sum(len(s) for s in splits.values()) == len(made.normal) + len(made.abnormal) - 1
    with pytest.raises(DataError, match=r"1 image\(s\) could not be used.*strict=false"):
        _dataset(made.root, strict=True).load("train", make_context(tmp_path))


def test_a_mask_of_another_size_is_rejected_naming_both_files(tmp_path):
    made = make_fixture(tmp_path / "root", corrupt=False)
    image, mask = next(iter(made.masks.items()))
    Image.fromarray(np.zeros((7, 9), np.uint8)).save(made.root / mask)
    splits = _all(_dataset(made.root), make_context(tmp_path))
    reasons = [f["reason"] for s in splits.values() for f in s.meta["skipped"]["files"]]
    assert len(reasons) == 1
    assert str(made.root / mask) in reasons[0] and str(made.root / image) in reasons[0]
    assert "9x7" in reasons[0] and "40x40" in reasons[0]
    with pytest.raises(DataError, match="give the mask the image's size"):
        _dataset(made.root, strict=True).load("test", make_context(tmp_path))


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda r: shutil.rmtree(r / "val"), r"val: missing split folder \(found train, test\)"),
        (lambda r: (r / "test/masks/site0/stray.png").write_bytes(b""), r"a mask without an image"),
        (lambda r: shutil.rmtree(r / "train/normal"), r"split 'train'\): no normal/ folder"),
    ],
)
def test_folder_layout_mistakes_are_one_data_error(tmp_path, damage, message):
    made = make_fixture(tmp_path / "root", layout="splits", corrupt=False)
    damage(made.root)
    with pytest.raises(DataError, match=message):
        _dataset(made.root).check()


def test_some_abnormal_images_without_masks_are_refused(tmp_path):
    made = make_fixture(tmp_path / "root", corrupt=False)
    (made.root / next(iter(made.masks.values()))).unlink()
    with pytest.raises(DataError, match=r"an abnormal image without a mask.*1 of 12 lack one"):
        from_folders(made.root)


def test_without_masks_the_splits_have_none(tmp_path):
    made = make_fixture(tmp_path / "root", masks=False, corrupt=False)
    assert _dataset(made.root).load("test", make_context(tmp_path)).masks is None


def _write(path, header, rows):
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows([header, *rows])
    return path


@pytest.mark.parametrize(
    "header, row, message",
    [
        (
            ("path", "lable"),
            ("{n}", "normal"),
            r"m\.csv: missing column\(s\) 'label' \(found 'path',",
        ),
        (
            ("path", "label"),
            ("{n}", "sick"),
            r"m\.csv line 2, column 'label': unknown label 'sick'",
        ),
        (("path", "label", "split"), ("{n}", "normal", "dev"), r"column 'split': unknown split"),
        (("path", "label", "mask"), ("{n}", "normal", "{n}"), r"a normal image with a mask"),
        (("path", "label", "patient"), ("{n}", "normal", ""), r"column 'patient': empty"),
        (("path", "label", "split"), ("{n}", "normal", "train"), r"no row is in 'val'"),
    ],
)
def test_manifest_mistakes_name_file_line_and_column(tmp_path, header, row, message):
    made = make_fixture(tmp_path / "root", layout="manifest", normal=2, abnormal=1, corrupt=False)
    path = _write(made.root / "m.csv", header, [[c.format(n=made.normal[1]) for c in row]])
    with pytest.raises(DataError, match=message):
        from_manifest(made.root, path)


def test_manifest_paths_leaving_the_root_are_rejected_and_counted(tmp_path):
    made = make_fixture(tmp_path / "root", layout="manifest", corrupt=False)
    rows = [[p, "normal"] for p in made.normal] + [[p, "abnormal"] for p in made.abnormal]
    rows += [["../outside.png", "normal"], ["/etc/passwd", "abnormal"]]
    _write(made.root / "m.csv", ("path", "label"), rows)
    split = _dataset(made.root, manifest="m.csv").load("train", make_context(tmp_path))
    assert split.meta["rejected_paths"]["count"] == 2
    line = len(rows)  # the header is line 1
    assert split.meta["rejected_paths"]["rows"][0] == {"line": line, "path": "../outside.png"}
    with pytest.raises(DataError, match=rf"m\.csv line {line}: '\.\./outside\.png' leads out"):
        _dataset(made.root, manifest="m.csv", strict=True).load("train", make_context(tmp_path))


def test_the_cache_is_reused_and_keyed_by_listing_manifest_and_options(tmp_path, monkeypatch):
    made = make_fixture(tmp_path / "root", corrupt=False)
    ds = _dataset(made.root)
    first = ds.load("train", make_context(tmp_path))
    assert first.meta["cache_source"] == "built"
    import anobench.api.filesets as module

    def no_decoding(*args, **kwargs):
        raise AssertionError("the cache should have been reused")

    monkeypatch.setattr(module, "decode_all", no_decoding)
    again = _dataset(made.root).load("train", make_context(tmp_path))
    assert again.meta["cache_source"] == "cache" and again.ids == first.ids
    assert np.array_equal(np.asarray(again.images), np.asarray(first.images))
    monkeypatch.undo()
    assert _dataset(made.root, equalize=True).cache_key() != ds.cache_key()
    assert _dataset(made.root, data_seed=1).cache_key() != ds.cache_key()
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(made.root / "normal/extra.png")
    assert _dataset(made.root).cache_key() != ds.cache_key()
    index = json.loads((ds.cache_dir(make_context(tmp_path)) / "index.json").read_text())
    assert index["root"] == str(made.root.resolve())
    m = make_fixture(tmp_path / "m", layout="manifest", corrupt=False)
    key = _dataset(m.root, manifest="manifest.csv").cache_key()
    with m.manifest.open("a") as fh:
        fh.write(f"{m.normal[0]}x,normal,,P999\n")
    assert _dataset(m.root, manifest="manifest.csv").cache_key() != key


def test_caps_per_class_and_stated_sizes(tmp_path):
    made = make_fixture(tmp_path / "root", normal=40, abnormal=20, corrupt=False)
    options = {"max_train": 5, "abnormal_split": "stratified"}
    split = _dataset(made.root, **options).load("train", make_context(tmp_path))
    assert split.meta["healthy"] == split.meta["diseased"] == 5
    assert split.meta["before_caps"] > 10


def test_missing_root_and_manifest_name_the_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("ANOBENCH_FOLDER_ROOT", raising=False)
    with pytest.raises(DataError, match=r"no image folder given.*ANOBENCH_FOLDER_ROOT"):
        FolderDataset().check()
    with pytest.raises(DataError, match=r"image folder .*nowhere does not exist"):
        _dataset(tmp_path / "nowhere").check()
    with pytest.raises(DataError, match=r"manifest .*list\.csv does not exist"):
        _dataset(tmp_path, manifest="list.csv").check()
