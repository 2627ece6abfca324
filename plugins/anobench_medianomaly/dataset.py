"""The ``medianomaly`` dataset: MedIAnomaly's pre-processed sets from the user's copy."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from anobench import DataError, Option
from anobench.files import FileListing, ReleaseDataset

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


class MedIAnomalyDataset(ReleaseDataset):
    """MedIAnomaly: its train and test lists exactly; val drawn from the training normals."""

    name = "medianomaly"
    description = (
        "MedIAnomaly's pre-processed sets from your copy (task=rsna, vincxr, braintumor, lag,"
        " brats2021, camelyon16): the released train/test; masks for brats2021"
    )
    primary_metric = "image_auroc"
    #: brats2021 has masks; the other tasks give ``masks=None``
    has_masks = True
    data_options = ReleaseDataset.data_option_names("val_fraction")
    workers_env = "ANOBENCH_MEDIANOMALY_WORKERS"
    env_root, how_to, title = ENV_ROOT, HOW_TO, "MedIAnomaly folder"
    fixture, fixture_task = "anobench_medianomaly.fixture:make_fixture", "brats2021"

    options = ReleaseDataset.release_options(
        root=f"the set's folder, or MedIAnomaly-Data holding it (${ENV_ROOT})",
        task=Option("task", str, "rsna", "the data set", choices=tuple(TASKS)),
        image_size=64,
        resize="to a square: stretch (as MedIAnomaly), crop or pad",
        data_seed="seed of the val draw and of the caps",
        extra=(
            Option(
                "val_fraction",
                float,
                0.1,
                "share of the released training images (all normal) held out as val",
                minimum=0.0,
            ),
        ),
    )
    profiles = {"quick": dict(QUICK), "paper": dict(PAPER)}

    def find_release(self, root: Path) -> Path:
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
        return super().read_listing()

    def read_release(self, root: Path, task: str) -> FileListing:
        return read_release(root, task)

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
