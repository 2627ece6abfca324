"""``Dataset.preprocess`` (user images for predict) and ``Dataset.test_data`` (stand-in data)."""

from __future__ import annotations

import numpy as np
import pytest

from anobench import ConfigError, Dataset, Option, Split, option_set
from anobench.api import registry
from anobench.testing import check_dataset


def test_default_preprocess_resizes_to_image_size_and_maps_to_minus_one_one():
    ds = registry.get_dataset("synthetic")(image_size=32)
    image = np.zeros((90, 60), dtype=np.float32)
    image[:, 30:] = 1.0
    out = ds.preprocess(image)
    assert out.shape == (1, 32, 32) and out.dtype == np.float32
    assert out.min() == -1.0 and out.max() == 1.0
    assert np.allclose(out[0, :, 0], -1) and np.allclose(out[0, :, -1], 1)
    assert np.allclose(ds.preprocess(np.full((8, 8), 0.5))[0], 0.0, atol=1e-6)


def test_default_preprocess_needs_an_image_size_option():
    class NoSize(Dataset):
        name = "nosize"

    with pytest.raises(ConfigError, match="image_size"):
        NoSize().preprocess(np.zeros((4, 4)))
    with pytest.raises(ConfigError, match="2-D"):
        registry.get_dataset("synthetic")(image_size=32).preprocess(np.zeros((4, 4, 3)))


class _FromFolder(Dataset):
    """Reads a labelled .npz from ``root``; without stand-in data the contract cannot run."""

    name = "fromfolder"
    options = option_set(Option("root", str, None, "folder", nullable=True))
    calls: list[str] = []

    @classmethod
    def test_data(cls, directory):
        cls.calls.append(str(directory))
        directory.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(0)
        images = rng.uniform(-1, 1, (8, 1, 8, 8)).astype(np.float32)
        np.savez(directory / "data.npz", images=images, labels=np.array([0, 1] * 4, np.int8))
        return {"root": str(directory)}

    def fingerprint(self):
        if self.root is None:
            raise AssertionError("the stand-in data was not used")
        return f"fromfolder:{self.root}"

    def load(self, split, ctx):
        data = np.load(f"{self.root}/data.npz")
        part = {"train": slice(0, 4), "val": slice(4, 6), "test": slice(6, 8)}[split]
        labels = data["labels"][part]
        ids = tuple(f"{split}-{i}" for i in range(len(labels)))
        return Split(images=data["images"][part], labels=labels, ids=ids)


def test_check_dataset_uses_the_stand_in_data(tmp_path):
    passed = check_dataset(_FromFolder, workdir=tmp_path)
    assert "splits" in passed
    assert _FromFolder.calls == [str(tmp_path / "test-data")]
