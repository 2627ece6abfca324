"""The ``chexpert`` dataset on a generated tree in the exact CheXpert layout (no CheXpert data)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from anobench_chexpert import CheXpertDataset, make_fixture
from anobench_chexpert.dataset import ENV_ROOT, HOW_TO
from anobench_chexpert.images import ScaledImages, decode
from anobench_chexpert.selection import Criteria, select
from anobench_chexpert.table import LABELS, read_table

from anobench import DataError
from anobench.api import registry
from anobench.api.imageio import read_image
from anobench.testing import make_context

SPLITS = ("train", "val", "test")


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return make_fixture(tmp_path_factory.mktemp("chexpert") / "CheXpert-v1.0-small")


def _dataset(root, **options) -> CheXpertDataset:
    merged = {"root": str(root), "image_size": 32, **options}
    return CheXpertDataset(**CheXpertDataset.resolve("quick", merged))


def oracle(row: dict[str, str], uncertain: str, effusion_only: bool, view: str) -> int | None:
    """The task label of one CSV row, straight from the rules in the issue (frontal only)."""
    if ".." in row["Path"] or row["Frontal/Lateral"] != "Frontal":
        return None
    if view != "all" and row["AP/PA"] != view:
        return None

    def value(column: str):
        cell = row[column]
        number = None if cell == "" else float(cell)
        if number == -1.0:
            return {"drop": "unknown", "ones": 1.0, "zeros": 0.0}[uncertain]
        return number

    effusion, healthy = value("Pleural Effusion"), row["No Finding"] == "1.0"
    if effusion == "unknown" or (healthy and effusion == 1.0):
        return None
    if effusion == 1.0 and effusion_only:
        skip = ("No Finding", "Pleural Effusion", "Support Devices")
        others = [value(c) for c in LABELS if c not in skip]
        if any(o in (1.0, "unknown") for o in others):
            return None
    return 0 if healthy else 1 if effusion == 1.0 else None


COMBOS = list(itertools.product(("drop", "ones", "zeros"), (False, True), ("all", "AP", "PA")))


@pytest.mark.parametrize(("uncertain", "effusion_only", "view"), COMBOS)
def test_selection_matches_the_rules_for_every_combination(tree, uncertain, effusion_only, view):
    train, valid = read_table(tree.root / "train.csv"), read_table(tree.root / "valid.csv")
    criteria = Criteria(uncertain=uncertain, effusion_only=effusion_only, view=view)
    selection = select(
        train, valid, criteria, val_fraction=0.1, test_fraction=0.2, data_seed=0,
        balance="none", caps={},
    )  # fmt: skip
    for csv_rows, splits in ((tree.train_rows, SPLITS), (tree.valid_rows, ("official_valid",))):
        expected = [oracle(r, uncertain, effusion_only, view) for r in csv_rows]
        got = {"healthy": 0, "diseased": 0}
        for split in splits:
            got = {k: got[k] + v for k, v in selection.candidates[split].items()}
        assert got == {"healthy": expected.count(0), "diseased": expected.count(1)}


def test_the_uncertainty_policy_changes_what_is_selected(tree):
    train = read_table(tree.root / "train.csv")

    def diseased(**criteria):
        sel = select(
            train, None, Criteria(**criteria), val_fraction=0.1, test_fraction=0.2,
            data_seed=0, balance="none", caps={},
        )  # fmt: skip
        return sum(sel.candidates[s]["diseased"] for s in SPLITS)

    # uncertain effusion is diseased only under "ones"; uncertain co-findings only disqualify
    # an effusion-only image under "drop" (unknown) and "ones" (positive)
    assert diseased(uncertain="ones") > diseased(uncertain="drop") == diseased(uncertain="zeros")
    assert diseased(uncertain="zeros", effusion_only=True) > diseased(
        uncertain="drop", effusion_only=True
    )
    assert diseased(uncertain="drop", effusion_only=True) < diseased(uncertain="drop")


def _patients(split) -> set[str]:
    return {i.split("/")[1] for i in split.ids}


def test_splits_are_by_patient_and_follow_the_data_seed(tree, tmp_path):
    ds = _dataset(tree.root)
    ctx = make_context(tmp_path)
    splits = {s: ds.load(s, ctx) for s in SPLITS}
    patients = {s: _patients(splits[s]) for s in SPLITS}
    assert all(patients[s] for s in SPLITS)
    for a, b in itertools.combinations(SPLITS, 2):
        assert not patients[a] & patients[b], (a, b)
    # every selected image of a patient lands in that patient's split
    all_ids = set().union(*(set(splits[s].ids) for s in SPLITS))
    for s in SPLITS:
        for row in tree.train_rows:
            rel = row["Path"].split("/", 1)[1].rsplit(".", 1)[0]
            if rel in all_ids and rel.split("/")[1] in patients[s]:
                assert rel in splits[s].ids
    other = _dataset(tree.root, data_seed=1)
    assert _patients(other.load("test", make_context(tmp_path / "b"))) != patients["test"]


def test_labels_never_come_from_folders(tree, tmp_path):
    split = _dataset(tree.root).load("train", make_context(tmp_path))
    truth = {
        r["Path"].split("/", 1)[1].rsplit(".", 1)[0]: oracle(r, "drop", False, "all")
        for r in tree.train_rows
    }
    assert [truth[i] for i in split.ids] == split.labels.tolist()


@pytest.mark.parametrize("balance", ["class", "class_view"])
def test_balance(tree, tmp_path, balance):
    ds = _dataset(tree.root, balance=balance)
    for name in SPLITS:
        split = ds.load(name, make_context(tmp_path))
        counts = split.counts()
        assert counts["healthy"] == counts["diseased"]
        assert counts["healthy"] > 0 or name != "train"
        if balance == "class_view":
            labels = np.asarray(split.labels)
            views = {}
            rows = {r["Path"].split("/", 1)[1].rsplit(".", 1)[0]: r for r in tree.train_rows}
            for i, label in zip(split.ids, labels, strict=True):
                views.setdefault(rows[i]["AP/PA"], []).append(int(label))
            assert all(v.count(0) == v.count(1) for v in views.values()), views


def test_caps_are_per_class_and_seeded(tree, tmp_path):
    ds = _dataset(tree.root, max_train=5)
    a = ds.load("train", make_context(tmp_path))
    assert a.counts() == {"healthy": 5, "diseased": 5}
    b = _dataset(tree.root, max_train=5).load("train", make_context(tmp_path / "x", seed=3))
    assert a.ids == b.ids  # the run seed never changes the data


def test_corrupt_images_are_skipped_counted_and_reported(tree, tmp_path):
    ds = _dataset(tree.root)
    splits = [ds.load(s, make_context(tmp_path)) for s in SPLITS]
    skipped = [f for split in splits for f in split.meta["skipped"]["files"]]
    assert sum(split.meta["skipped"]["count"] for split in splits) == 1
    assert skipped[0]["path"] == str(tree.corrupt)
    assert skipped[0]["reason"].startswith("unreadable")
    corrupt_id = str(tree.corrupt.relative_to(tree.root)).rsplit(".", 1)[0]
    assert all(corrupt_id not in split.ids for split in splits)
    for split in splits:
        assert split.meta["rejected_paths"]["count"] == 1
        assert split.meta["rejected_paths"]["rows"][0]["line"] == tree.escaping_line
        json.dumps(split.meta)  # the runner copies it into the provenance


def test_strict_fails_on_the_corrupt_image_or_the_escaping_row(tree, tmp_path):
    with pytest.raises(DataError, match=r"could not be read.*strict=false"):
        _dataset(tree.root, strict=True).load("train", make_context(tmp_path))
    clean = make_fixture(tmp_path / "clean", patients=12, corrupt=False)
    with pytest.raises(DataError, match=rf"line {clean.escaping_line}, column 'Path'"):
        _dataset(clean.root, strict=True).load("train", make_context(tmp_path))


def test_an_escaping_path_is_never_read(tmp_path):
    made = make_fixture(tmp_path / "a" / "b" / "root", patients=12)
    # put a real image where the escaping row points, so a naive join would pick it up
    target = (made.root / "../../outside/patient99999/study1/view1_frontal.jpg").resolve()
    target.parent.mkdir(parents=True)
    target.write_bytes((made.root / made.train_rows[-2]["Path"].split("/", 1)[1]).read_bytes())
    ds = _dataset(made.root)
    ids = [i for s in SPLITS for i in ds.load(s, make_context(tmp_path)).ids]
    assert not [i for i in ids if "99999" in i]


def test_missing_root_gives_one_message_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_ROOT, raising=False)
    ds = CheXpertDataset(**CheXpertDataset.resolve("quick", {}))
    with pytest.raises(DataError) as err:
        ds.load("train", make_context(tmp_path))
    assert HOW_TO in str(err.value) and "research-use agreement" in str(err.value)
    assert ENV_ROOT in str(err.value) and "root=" in str(err.value)
    with pytest.raises(DataError, match="does not exist"):
        _dataset(tmp_path / "nowhere").fingerprint()
    with pytest.raises(DataError, match=r"holds no train\.csv"):
        _dataset(tmp_path).fingerprint()


def test_root_from_the_environment_or_the_parent_folder(tree, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_ROOT, str(tree.root))
    from_env = CheXpertDataset(**CheXpertDataset.resolve("quick", {"image_size": 32}))
    parent = _dataset(tree.root.parent)  # the folder that holds CheXpert-v1.0-small/
    assert from_env.root_path() == parent.root_path() == tree.root.resolve()
    assert from_env.fingerprint() == parent.fingerprint()


def test_the_cache_is_reused_and_keyed_by_csv_and_options(tree, tmp_path, monkeypatch):
    root = tmp_path / "copy"
    made = make_fixture(root, patients=12)
    ds = _dataset(made.root)
    first = ds.load("train", make_context(tmp_path))
    assert first.meta["cache_source"] == "built"
    assert isinstance(first.images, ScaledImages)
    import anobench_chexpert.dataset as module

    def no_decoding(*args, **kwargs):
        raise AssertionError("the cache should have been reused")

    monkeypatch.setattr(module, "decode_all", no_decoding)
    again = _dataset(made.root).load("train", make_context(tmp_path))
    assert again.meta["cache_source"] == "cache" and again.ids == first.ids
    assert np.array_equal(np.asarray(again.images), np.asarray(first.images))
    monkeypatch.undo()
    # the test split choice changes the fingerprint, not the cache
    official = _dataset(made.root, test_split="official_valid")
    assert official.cache_key() == ds.cache_key() and official.fingerprint() != ds.fingerprint()
    assert _dataset(made.root, equalize=True).cache_key() != ds.cache_key()
    with (made.root / "train.csv").open("a") as fh:
        fh.write(",".join(["train/patient00099/study1/view1_frontal.jpg", "Male", "40",
                           "Frontal", "PA", "1.0"] + [""] * 13) + "\n")  # fmt: skip
    assert _dataset(made.root).cache_key() != ds.cache_key()


def test_official_valid_split_and_test_split_option(tree, tmp_path):
    ctx = make_context(tmp_path)
    official = _dataset(tree.root).load("official_valid", ctx)
    assert all(i.startswith("valid/") for i in official.ids)
    expected = [oracle(r, "drop", False, "all") for r in tree.valid_rows]
    assert official.counts() == {"healthy": expected.count(0), "diseased": expected.count(1)}
    test = _dataset(tree.root, test_split="official_valid").load("test", ctx)
    assert test.ids == official.ids
    (tmp_path / "nv").mkdir()
    lone = make_fixture(tmp_path / "nv" / "root", patients=12)
    (lone.root / "valid.csv").unlink()
    with pytest.raises(DataError, match="official_valid"):
        _dataset(lone.root).load("official_valid", make_context(tmp_path / "nv"))


def test_images_are_uint8_backed_and_scaled_to_minus_one_one(tree, tmp_path):
    split = _dataset(tree.root, image_size=48).load("val", make_context(tmp_path))
    view = split.images
    assert view.shape == (len(split), 1, 48, 48) and view.dtype == np.float32
    full = np.asarray(view)
    assert full.min() >= -1 and full.max() <= 1
    assert np.array_equal(view[1], full[1])
    assert np.array_equal(view[[2, 0]], full[[2, 0]])
    assert np.array_equal(view[1:3, 0, :4], full[1:3, 0, :4])
    assert np.array_equal(split.subset(np.array([0, 2])).images, full[[0, 2]])
    # 255 grey levels map exactly onto [-1, 1]
    levels = np.unique(np.round((full + 1) * 127.5))
    assert np.allclose(levels, np.round(levels)) and levels.max() <= 255


@pytest.mark.parametrize("resize", ["crop", "pad", "stretch"])
@pytest.mark.parametrize("equalize", [False, True])
def test_predict_preprocessing_matches_the_cache(tree, tmp_path, resize, equalize):
    ds = _dataset(tree.root, resize=resize, equalize=equalize)
    split = ds.load("val", make_context(tmp_path))
    path = tree.root / (split.ids[0] + ".jpg")
    user = ds.preprocess(read_image(path))
    assert user.shape == (1, 32, 32) and user.dtype == np.float32
    assert np.array_equal(user, split.images[0])
    exact = decode(path, 32, resize, equalize).astype(np.float32) / 127.5 - 1
    assert np.array_equal(exact, user[0])


def test_crop_pad_and_stretch_geometry():
    from anobench_chexpert.images import prepare
    from PIL import Image

    wide = np.zeros((20, 40), dtype=np.uint8)
    wide[:, 30:] = 255  # a white band on the right only
    img = Image.fromarray(wide)
    assert prepare(img, 10, "crop", False)[:, -1].max() == 0  # the band is cropped away
    assert prepare(img, 10, "stretch", False)[:, -1].min() == 255
    padded = prepare(img, 10, "pad", False)
    assert padded[0].max() == 0 and padded[5, -1] == 255  # black borders above and below


@pytest.mark.parametrize("name", [p.name for p in registry.available("method")])
def test_every_method_runs_on_the_memory_mapped_view(tree, tmp_path, name):
    cls = registry.get_method(name)
    ds = _dataset(tree.root)
    ctx = make_context(tmp_path, max_steps=1)
    train, test = ds.load("train", ctx), ds.load("test", ctx)
    if cls.supervision == "unsupervised":
        train = train.subset(np.asarray(train.labels) == 0)
    method = cls(**cls.resolve("quick", cls.test_options)).fit(train, train, ctx)
    pred = method.predict(test.images, make_context(tmp_path))
    assert len(pred.scores) == len(test)


def test_fixture_command_help_prints_usage_and_creates_nothing(tmp_path):
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "anobench_chexpert.fixture", "--help"],
        cwd=tmp_path,
        env=os.environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage:") and "ROOT" in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_fixture_command_writes_the_tree(tmp_path, capsys):
    from anobench_chexpert.fixture import main

    main([str(tmp_path / "fake"), "--patients", "12"])
    assert (tmp_path / "fake" / "train.csv").is_file()
    assert "valid rows to" in capsys.readouterr().out


@pytest.mark.parametrize("cap", [None, 12, 8, 5, 3, 1])
def test_class_view_caps_keep_every_view_balanced(tree, cap):
    """Caps are drawn within each (class, view) cell: equal counts per cell, as without a cap."""
    train = read_table(tree.root / "train.csv")
    selection = select(
        train, None, Criteria(), val_fraction=0.1, test_fraction=0.2, data_seed=0,
        balance="class_view", caps={"train": cap},
    )  # fmt: skip
    cells = {}  # view -> [healthy, diseased], row by row from the CSV and the oracle
    for i, label in zip(selection.rows["train"], selection.labels["train"], strict=True):
        row = tree.train_rows[i]  # the table keeps the CSV's row order
        assert oracle(row, "drop", False, "all") == label
        cells.setdefault(row["AP/PA"], [0, 0])[label] += 1
    assert all(h == d for h, d in cells.values()), cells
    healthy = sum(h for h, _ in cells.values())
    uncapped = select(
        train, None, Criteria(), val_fraction=0.1, test_fraction=0.2, data_seed=0,
        balance="class_view", caps={},
    )  # fmt: skip
    pool = int((uncapped.labels["train"] == 0).sum())
    assert healthy == (pool if cap is None else min(cap, pool))
