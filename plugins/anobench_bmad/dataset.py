"""The ``bmad`` dataset: BMAD (Bao et al., 2023) sub-benchmarks from the user's copy.

BMAD cannot be downloaded automatically by anobench: the user unpacks a sub-benchmark and
points ``root`` (or ``ANOBENCH_BMAD_ROOT``) at it, or at the folder that holds it.
"""

from __future__ import annotations

from pathlib import Path

from anobench import DataError, Option
from anobench.files import FileListing, ReleaseDataset

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


class BMADDataset(ReleaseDataset):
    """BMAD: the released train / valid / test split, exactly; masks where the release has them."""

    name = "bmad"
    description = (
        "BMAD medical anomaly benchmarks from your copy (task=brain, liver, resc, oct2017, rsna,"
        " camelyon16): the released split; pixel masks for brain, liver and resc"
    )
    primary_metric = "image_auroc"
    #: brain, liver and resc have masks; the image-level tasks give ``masks=None``
    has_masks = True
    data_options = ReleaseDataset.data_option_names()
    workers_env = "ANOBENCH_BMAD_WORKERS"
    env_root, how_to, title = ENV_ROOT, HOW_TO, "BMAD folder"
    fixture, fixture_task = "anobench_bmad.fixture:make_fixture", "brain"

    options = ReleaseDataset.release_options(
        root=f"the sub-benchmark's folder (train/, valid/, test/) or its parent (${ENV_ROOT})",
        task=Option("task", str, "brain", "the sub-benchmark", choices=tuple(TASKS)),
        image_size=224,
        resize="to a square: stretch (as BMAD), crop or pad",
        data_seed="seed of the caps",
    )
    profiles = {"quick": dict(QUICK), "paper": dict(PAPER)}

    def find_release(self, root: Path) -> Path:
        if (root / "train").is_dir():
            return root
        for name in TASKS[self.task].folders:
            for child in (root / name, root / name.lower()):
                if (child / "train").is_dir():
                    return child
        names = ", ".join(f"{n}/" for n in TASKS[self.task].folders)
        raise DataError(f"{root} holds no train/ and none of {names} (task={self.task}). {HOW_TO}")

    def read_release(self, root: Path, task: str) -> FileListing:
        return read_release(root, task)
