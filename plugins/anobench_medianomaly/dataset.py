"""The ``medianomaly`` dataset: MedIAnomaly's pre-processed sets from the user's copy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from anobench import (
    RESIZES,
    DataError,
    FileDataset,
    FileListing,
    Option,
    cap_options,
    option_set,
    root_folder,
)

from .layout import TASKS, read_release

ENV_ROOT = "ANOBENCH_MEDIANOMALY_ROOT"
HOW_TO = (
    "download MedIAnomaly-Data (see the MedIAnomaly repository's README), unpack the set's"
    " archive (e.g. tar -zxvf RSNA.tar.gz) and point anobench at its folder or at"
    f" MedIAnomaly-Data: --dataset-opt root=~/MedIAnomaly-Data, or export {ENV_ROOT}=..."
)
#: MedIAnomaly trains and tests at 64 px (reconstruction/options.py, --input-size)
PAPER = {"image_size": 64, "max_train": None, "max_val": None, "max_test": None}
QUICK = {"image_size": 64, "max_train": 300, "max_val": 50, "max_test": 100}


class MedIAnomalyDataset(FileDataset):
    """MedIAnomaly: its train and test lists exactly; val drawn from the training normals."""

    name = "medianomaly"
    description = (
        "MedIAnomaly's pre-processed sets from your copy (task=rsna, vincxr, braintumor, lag,"
        " brats2021, camelyon16): the released train/test; masks for brats2021"
    )
    primary_metric = "image_auroc"
    #: brats2021 has masks; the other tasks give ``masks=None``
    has_masks = True
    data_options = (
        "task",
        "image_size",
        "resize",
        "equalize",
        "val_fraction",
        "data_seed",
        "max_train",
        "max_val",
        "max_test",
    )
    workers_env = "ANOBENCH_MEDIANOMALY_WORKERS"

    options = option_set(
        Option(
            "root",
            str,
            None,
            f"the set's folder, or MedIAnomaly-Data holding it (${ENV_ROOT})",
            nullable=True,
        ),
        Option("task", str, "rsna", "the data set", choices=tuple(TASKS)),
        Option("image_size", int, 64, "side of the square images in pixels", minimum=8),
        Option(
            "resize",
            str,
            "stretch",
            "to a square: stretch (as MedIAnomaly), crop or pad",
            choices=RESIZES,
        ),
        Option("equalize", bool, False, "histogram equalisation after resizing"),
        Option(
            "val_fraction",
            float,
            0.1,
            "share of the released training images (all normal) held out as val",
            minimum=0.0,
        ),
        Option("data_seed", int, 0, "seed of the val draw and of the caps", minimum=0),
        *cap_options(),
        Option("strict", bool, False, "fail on an unreadable image or mask instead of skipping"),
    )
    profiles = {"quick": dict(QUICK), "paper": dict(PAPER)}
    test_options = {"image_size": 32}

    @classmethod
    def test_data(cls, directory: Path) -> dict[str, Any]:
        from .fixture import make_fixture

        if not (directory / "train").is_dir():
            make_fixture(directory, task="brats2021", corrupt=False)
        return {"root": str(directory), "task": "brats2021"}

    def root_path(self) -> Path:
        root = root_folder(self.params["root"], ENV_ROOT, "MedIAnomaly folder", HOW_TO)
        folder = TASKS[self.task].folder
        if root.name != folder and (root / folder).is_dir():
            return root / folder
        return root

    def read_listing(self) -> FileListing:
        if not 0 < self.val_fraction < 1:
            raise DataError(
                f"medianomaly: val_fraction={self.val_fraction}; the release has no validation"
                " split, so val is drawn from the training images: keep it between 0 and 1"
            )
        return read_release(self.root_path(), self.task)

    def assign(self, listing: FileListing) -> tuple[np.ndarray, str]:
        splits = np.array([e.split for e in listing.entries], dtype=object)
        train = np.flatnonzero(splits == "train")
        rng = np.random.default_rng([self.data_seed, 7])
        count = max(1, round(len(train) * self.val_fraction))
        splits[rng.choice(train, min(count, len(train) - 1), replace=False)] = "val"
        return splits, (
            f"train and test as released; val = {count} of the {len(train)} released training"
            f" images (all normal), drawn with data_seed={self.data_seed}"
        )
