"""The ``folder`` dataset: the user's own images, from folders or a CSV manifest.

Images (and masks) are decoded once into a uint8 memory map under the anobench cache, keyed by
the folder listing (paths, sizes, modification times) or the manifest's sha256, and the
options; later runs read it in seconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from anobench import DataError, Option, option_set
from anobench.files import RESIZES, FileDataset, FileListing, cap_options, root_folder

from .listing import from_folders, from_manifest
from .splits import ABNORMAL_SPLITS, make_splits

ENV_ROOT = "ANOBENCH_FOLDER_ROOT"
HOW_TO = (
    "point anobench at a folder holding normal/ and abnormal/ (optionally masks/, or all three"
    " under train/, val/ and test/), or at a CSV manifest with the columns path and label"
    " (optionally mask, split, patient): --dataset-opt root=/path/to/images [--dataset-opt"
    f" manifest=list.csv], or export {ENV_ROOT}=/path/to/images"
)
_DATA_OPTIONS = (
    "manifest",
    "abnormal_split",
    "image_size",
    "resize",
    "equalize",
    "val_fraction",
    "test_fraction",
    "data_seed",
    "max_train",
    "max_val",
    "max_test",
)
QUICK = {"image_size": 64, "max_train": 300, "max_val": 50, "max_test": 100}
PAPER = {"image_size": 256, "max_train": None, "max_val": None, "max_test": None}


def _size(pixels: np.ndarray) -> str:
    return f"{pixels.shape[1]}x{pixels.shape[0]}"


class FolderDataset(FileDataset):
    """The user's images: normal vs abnormal, optional masks, given or made splits.

    Greyscale (colour becomes luma), read through ``anobench.api.imageio``: PNG (8/16-bit),
    JPEG, TIFF, DICOM and 2-D NIfTI. Without given splits the dataset draws them with
    ``data_seed``, by patient when the manifest names patients.
    """

    name = "folder"
    description = (
        "your own images: normal/ and abnormal/ folders (optional masks/, optional train/ val/"
        " test/) or a CSV manifest; PNG, JPEG, TIFF, DICOM, NIfTI"
    )
    primary_metric = "image_auroc"
    data_options = _DATA_OPTIONS
    #: the fingerprint covers the manifest's rows and the images' bytes, so neither path counts
    location_options = ("root", "manifest")
    workers_env = "ANOBENCH_FOLDER_WORKERS"
    #: masks are optional: a root without them gives ``masks=None`` (pixel metrics skipped)
    has_masks = True
    class_names = ("normal", "abnormal")

    options = option_set(
        Option(
            "root",
            str,
            None,
            f"folder with normal/ and abnormal/ (or the manifest's paths); default ${ENV_ROOT}",
            nullable=True,
        ),
        Option(
            "manifest",
            str,
            None,
            "CSV with columns path, label [, mask, split, patient]; relative to root or absolute"
            " (default: read the folders)",
            nullable=True,
        ),
        Option("image_size", int, 256, "side of the square images in pixels", minimum=8),
        Option(
            "resize",
            str,
            "stretch",
            "to a square: stretch (both sides scaled), crop (centre, shorter side) or pad"
            " (black borders); masks follow their image",
            choices=RESIZES,
        ),
        Option("equalize", bool, False, "histogram equalisation after resizing"),
        Option(
            "val_fraction",
            float,
            0.1,
            "share of images (or patients) for val when the splits are made",
            minimum=0.0,
        ),
        Option(
            "test_fraction",
            float,
            0.2,
            "share of images (or patients) for test when the splits are made",
            minimum=0.0,
        ),
        Option("data_seed", int, 0, "seed of the made splits and of the caps", minimum=0),
        Option(
            "abnormal_split",
            str,
            "auto",
            "where abnormal images go when the splits are made (the protocol, shown in the"
            " label): test (none in train: val's share to val, the rest to test; for methods"
            " trained on normal images only, which would ignore them), stratified (drawn like"
            " the normal ones: both classes in every split, for weakly supervised methods);"
            " auto: test for unsupervised methods, stratified for weakly supervised ones",
            choices=ABNORMAL_SPLITS,
        ),
        *cap_options(),
        Option(
            "strict",
            bool,
            False,
            "fail on an unreadable image or mask, a mask of another size than its image, or a"
            " manifest path leaving the root, instead of skipping it",
        ),
    )
    profiles = {"quick": dict(QUICK), "paper": dict(PAPER)}
    test_options = {"image_size": 32}

    @classmethod
    def test_data(cls, directory: Path) -> dict[str, Any]:
        from .fixture import make_fixture

        if not (directory / "normal").is_dir():
            make_fixture(directory, corrupt=False)
        return {"root": str(directory)}

    # -- where the data is --------------------------------------------------------------------

    @classmethod
    def for_method(cls, options: dict[str, Any], supervision: str) -> dict[str, Any]:
        if options.get("abnormal_split") == "auto":
            chosen = "stratified" if supervision == "weak" else "test"
            return {**options, "abnormal_split": chosen}
        return options

    def root_path(self) -> Path:
        root = root_folder(self.params["root"], ENV_ROOT, "image folder", HOW_TO)
        return root

    def manifest_path(self, root: Path) -> Path | None:
        if self.manifest is None:
            return None
        path = Path(self.manifest).expanduser()
        path = path if path.is_absolute() else root / path
        if not path.is_file():
            raise DataError(f"manifest {path} does not exist (option manifest={self.manifest!r})")
        return path

    def read_listing(self) -> FileListing:
        if self.val_fraction + self.test_fraction >= 1:
            raise DataError(
                f"folder: val_fraction + test_fraction = {self.val_fraction + self.test_fraction}"
                " leaves nothing for training; keep their sum below 1"
            )
        root = self.root_path()
        manifest = self.manifest_path(root)
        listing = from_folders(root) if manifest is None else from_manifest(root, manifest)
        for label, name in ((0, "normal"), (1, "abnormal")):
            if not any(e.label == label for e in listing.entries):
                where = root if manifest is None else manifest
                raise DataError(
                    f"{where}: no {name} image (of {len(listing.entries)} listed); anobench"
                    " trains on normal images and tests how well abnormal ones are found, so"
                    " it needs both"
                )
        return listing

    def unused_options(self) -> tuple[str, ...]:
        """Given splits make the split options idle; ``data_seed`` still draws the caps."""
        listing = self.listing()
        if not listing.given_splits:
            return ()
        unused = ["val_fraction", "test_fraction"]
        counts: dict[tuple[str | None, int], int] = {}
        for entry in listing.entries:
            counts[entry.split, entry.label] = counts.get((entry.split, entry.label), 0) + 1
        limits = {s: self.params.get(f"max_{s}") for s in ("train", "val", "test")}
        if not any(limits.get(s) is not None and n > limits[s] for (s, _), n in counts.items()):
            unused.append("data_seed")
        return tuple(unused)

    def assign(self, listing: FileListing) -> tuple[np.ndarray, str]:
        labels = np.array([e.label for e in listing.entries], dtype=np.int8)
        if listing.given_splits:
            return np.array([e.split for e in listing.entries], dtype=object), "given"
        groups = np.array(
            [e.patient if e.patient is not None else f"image:{e.rel}" for e in listing.entries],
            dtype=object,
        )
        # outside a run (which resolves auto from the method) auto is the one-class protocol
        protocol = "test" if self.abnormal_split == "auto" else self.abnormal_split
        made = make_splits(
            labels,
            groups,
            val_fraction=self.val_fraction,
            test_fraction=self.test_fraction,
            seed=self.data_seed,
            abnormal_split=protocol,
        )
        how = "by patient" if listing.has_patients else "by image"
        where = (
            "abnormal images in val and test only"
            if protocol == "test"
            else "abnormal images drawn into every split like the normal ones"
        )
        return made, (
            f"made {how} with data_seed={self.data_seed}, val_fraction={self.val_fraction},"
            f" test_fraction={self.test_fraction}; {where} (abnormal_split={protocol})"
        )
