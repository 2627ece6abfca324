"""The ``bmad`` dataset: BMAD (Bao et al., 2023) sub-benchmarks from the user's copy.

BMAD cannot be downloaded automatically by anobench: the user unpacks a sub-benchmark and
points ``root`` (or ``ANOBENCH_BMAD_ROOT``) at it, or at the folder that holds it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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

ENV_ROOT = "ANOBENCH_BMAD_ROOT"
HOW_TO = (
    "download BMAD's reorganised datasets (see the BMAD repository's README), unpack the"
    " sub-benchmark and point anobench at the folder holding train/, valid/ and test/ (or at"
    f" its parent): --dataset-opt root=/data/BMAD/Brain, or export {ENV_ROOT}=/data/BMAD"
)
#: BMAD's anomalib configurations resize every sub-benchmark to 224 px
PAPER = {"image_size": 224, "max_train": None, "max_val": None, "max_test": None}
QUICK = {"image_size": 64, "max_train": 300, "max_val": 50, "max_test": 100}


class BMADDataset(FileDataset):
    """BMAD: the released train / valid / test split, exactly; masks where the release has them."""

    name = "bmad"
    description = (
        "BMAD medical anomaly benchmarks from your copy (task=brain, liver, resc, oct2017, rsna,"
        " camelyon16): the released split; pixel masks for brain, liver and resc"
    )
    primary_metric = "image_auroc"
    #: brain, liver and resc have masks; the image-level tasks give ``masks=None``
    has_masks = True
    data_options = (
        "task",
        "image_size",
        "resize",
        "equalize",
        "data_seed",
        "max_train",
        "max_val",
        "max_test",
    )
    workers_env = "ANOBENCH_BMAD_WORKERS"

    options = option_set(
        Option(
            "root",
            str,
            None,
            f"the sub-benchmark's folder (train/, valid/, test/) or its parent (${ENV_ROOT})",
            nullable=True,
        ),
        Option("task", str, "brain", "the sub-benchmark", choices=tuple(TASKS)),
        Option("image_size", int, 224, "side of the square images in pixels", minimum=8),
        Option(
            "resize", str, "stretch", "to a square: stretch (as BMAD), crop or pad", choices=RESIZES
        ),
        Option("equalize", bool, False, "histogram equalisation after resizing"),
        Option("data_seed", int, 0, "seed of the caps", minimum=0),
        *cap_options(),
        Option("strict", bool, False, "fail on an unreadable image or mask instead of skipping"),
    )
    profiles = {"quick": dict(QUICK), "paper": dict(PAPER)}
    test_options = {"image_size": 32}

    @classmethod
    def test_data(cls, directory: Path) -> dict[str, Any]:
        from .fixture import make_fixture

        if not (directory / "train").is_dir():
            make_fixture(directory, task="brain", corrupt=False)
        return {"root": str(directory), "task": "brain"}

    def root_path(self) -> Path:
        root = root_folder(self.params["root"], ENV_ROOT, "BMAD folder", HOW_TO)
        if (root / "train").is_dir():
            return root
        for name in TASKS[self.task].folders:
            for child in (root / name, root / name.lower()):
                if (child / "train").is_dir():
                    return child
        names = ", ".join(f"{n}/" for n in TASKS[self.task].folders)
        raise DataError(f"{root} holds no train/ and none of {names} (task={self.task}). {HOW_TO}")

    def read_listing(self) -> FileListing:
        return read_release(self.root_path(), self.task)
