"""The ``folder`` dataset: the user's own images, from folders or a CSV manifest.

Images (and masks) are decoded once into a uint8 memory map under the anobench cache, keyed by
the folder listing (paths, sizes, modification times) or the manifest's sha256, and the
options; later runs read it in seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from anobench import DataError, Dataset, Option, RunContext, Split, option_set
from anobench.api.imagecache import (
    LISTED,
    ScaledImages,
    build_folder,
    decode_all,
    open_cache,
    publish,
    skipped,
    workers_from_env,
)
from anobench.api.imageio import read_image
from anobench.api.squares import RESIZES, prepare, prepare_mask, unit_to_gray

from .listing import SPLITS, Listing, from_folders, from_manifest, stem
from .splits import cap, make_splits

ENV_ROOT = "ANOBENCH_FOLDER_ROOT"
ENV_WORKERS = "ANOBENCH_FOLDER_WORKERS"
#: bump when decoding, selection or the cache layout changes: old caches are then ignored
LOADER_VERSION = 1
_COMPLETE = "index.json"  # written last; a cache folder without it is not a cache
HOW_TO = (
    "point anobench at a folder holding normal/ and abnormal/ (optionally masks/, or all three"
    " under train/, val/ and test/), or at a CSV manifest with the columns path and label"
    " (optionally mask, split, patient): --dataset-opt root=/path/to/images [--dataset-opt"
    f" manifest=list.csv], or export {ENV_ROOT}=/path/to/images"
)
#: options that change which images are cached or their pixels (the cache key)
_DATA_OPTIONS = (
    "manifest",
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


class FolderDataset(Dataset):
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
    #: masks are optional: a root without them gives ``masks=None`` (pixel metrics skipped)
    has_masks = True

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
        Option("max_train", int, None, "cap on train images PER CLASS", nullable=True, minimum=1),
        Option("max_val", int, None, "cap on val images PER CLASS", nullable=True, minimum=1),
        Option("max_test", int, None, "cap on test images PER CLASS", nullable=True, minimum=1),
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

    def check(self) -> None:
        self.listing()

    def root_path(self) -> Path:
        text = self.params["root"] or os.environ.get(ENV_ROOT, "")
        if not text.strip():
            raise DataError(f"no image folder given; {HOW_TO}")
        root = Path(text).expanduser().resolve()
        if not root.is_dir():
            raise DataError(f"image folder {root} does not exist; {HOW_TO}")
        return root

    def manifest_path(self, root: Path) -> Path | None:
        if self.manifest is None:
            return None
        path = Path(self.manifest).expanduser()
        path = path if path.is_absolute() else root / path
        if not path.is_file():
            raise DataError(f"manifest {path} does not exist (option manifest={self.manifest!r})")
        return path

    def listing(self) -> Listing:
        """The images of the root (read once per instance); a layout mistake is a DataError."""
        cached = getattr(self, "_listing", None)
        if cached is None:
            if self.val_fraction + self.test_fraction >= 1:
                raise DataError(
                    f"folder: val_fraction + test_fraction ="
                    f" {self.val_fraction + self.test_fraction} leaves nothing for training;"
                    " keep their sum below 1"
                )
            root = self.root_path()
            manifest = self.manifest_path(root)
            cached = from_folders(root) if manifest is None else from_manifest(root, manifest)
            self._listing = cached
        return cached

    def cache_key(self) -> str:
        """sha256 of the loader version, the root, the listing (or manifest) and the options.

        For a manifest only the CSV is hashed: the cache assumes the CSV and the images change
        together (delete the cache if not); folders are listed with sizes and times.
        """
        payload = {
            "loader": LOADER_VERSION,
            "root": str(self.root_path()),
            "listing": self.listing().digest,
            "options": {k: self.params[k] for k in _DATA_OPTIONS},
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def fingerprint(self) -> str:
        return self.cache_key()

    def cache_dir(self, ctx: RunContext) -> Path:
        return Path(ctx.cache_dir) / "folder" / self.cache_key()

    # -- load ---------------------------------------------------------------------------------

    def load(self, split: str, ctx: RunContext) -> Split:
        if split not in SPLITS:
            raise DataError(f"dataset 'folder' has no split {split!r}; use {', '.join(SPLITS)}")
        directory = self.cache_dir(ctx)
        built = False
        if not (directory / _COMPLETE).is_file():
            built = self._build(directory, ctx)
        index = self._index(directory)
        self._enforce_strict(index)
        return self._split(directory, index, split, "built" if built else "cache")

    def _index(self, directory: Path) -> dict[str, Any]:
        cached = getattr(self, "_index_cache", None)
        if cached is not None and cached[0] == directory:
            return cached[1]
        try:
            index = json.loads((directory / _COMPLETE).read_text())
        except (OSError, ValueError) as exc:
            raise DataError(
                f"folder cache {directory} cannot be read ({exc}); delete it and run again"
            ) from None
        self._index_cache = (directory, index)
        return index

    def _enforce_strict(self, index: dict[str, Any]) -> None:
        if not self.strict:
            return
        if index["failures"]:
            first = index["failures"][0]
            raise DataError(
                f"{len(index['failures'])} image(s) could not be used, first {first['path']}"
                f" ({first['reason']}); fix or remove them, or set strict=false to skip them"
            )
        rows = index["rejected"]
        if rows:
            raise DataError(
                f"{index['source']} line {rows[0]['line']}: {rows[0]['path']!r} leads outside"
                f" the root ({len(rows)} such row(s)); fix the manifest, or set strict=false to"
                " skip them"
            )

    def _split(self, directory: Path, index: dict[str, Any], name: str, source: str) -> Split:
        start, stop = index["splits"][name]
        failed = [f for f in index["failures"] if start <= f["row"] < stop]
        bad = {f["row"] for f in failed}
        rows = np.array([i for i in range(start, stop) if i not in bad], dtype=np.int64)
        if len(rows) == 0:
            raise DataError(
                f"folder split '{name}' has no readable image ({len(failed)} skipped); check the"
                " images"
            )
        raw = open_cache(directory / "images.npy", "folder")
        masks = None
        if index["has_masks"]:
            masks = np.asarray(open_cache(directory / "masks.npy", "folder")[rows]) != 0
        labels = np.asarray(index["labels"], dtype=np.int8)[rows]
        patients = index["patients"][start:stop] if index["patients"] else None
        meta = {
            "split": name,
            "source": index["source"],
            "splits": index["split_source"],
            "root": index["root"],
            "cache": str(directory),
            "cache_source": source,
            "fingerprint": self.fingerprint(),
            "image_size": int(self.image_size),
            "healthy": int((labels == 0).sum()),
            "diseased": int((labels == 1).sum()),
            "patients": None if patients is None else len(set(patients)),
            "before_caps": index["before_caps"][name],
            "skipped": skipped(failed),
            "rejected_paths": {
                "count": len(index["rejected"]),
                "rows": index["rejected"][:LISTED],
            },
            "ignored_files": index["ignored"],
        }
        return Split(
            images=ScaledImages(raw, rows),
            labels=labels,
            ids=tuple(index["ids"][i] for i in rows),
            masks=masks,
            meta=meta,
        )

    # -- build --------------------------------------------------------------------------------

    def _assign(self, listing: Listing) -> tuple[np.ndarray, str]:
        labels = np.array([e.label for e in listing.entries], dtype=np.int8)
        if listing.given_splits:
            return np.array([e.split for e in listing.entries], dtype=object), "given"
        groups = np.array(
            [e.patient if e.patient is not None else f"image:{e.rel}" for e in listing.entries],
            dtype=object,
        )
        made = make_splits(
            labels,
            groups,
            val_fraction=self.val_fraction,
            test_fraction=self.test_fraction,
            seed=self.data_seed,
        )
        how = "by patient" if listing.has_patients else "by image"
        return made, (
            f"made {how} with data_seed={self.data_seed}, val_fraction={self.val_fraction},"
            f" test_fraction={self.test_fraction}, stratified by class"
        )

    def _build(self, final: Path, ctx: RunContext) -> bool:
        """Split, cap, decode and store into a private folder renamed into place (atomic).

        Returns whether this call's copy is the one in place (another process may win a race).
        """
        listing = self.listing()
        root = self.root_path()
        started = time.perf_counter()
        assigned, split_source = self._assign(listing)
        labels_all = np.array([e.label for e in listing.entries], dtype=np.int8)
        caps = {"train": self.max_train, "val": self.max_val, "test": self.max_test}
        chosen, splits, before, offset = [], {}, {}, 0
        for name in SPLITS:
            rows = np.flatnonzero(assigned == name)
            before[name] = len(rows)
            rows = cap(rows, labels_all, caps[name], self.data_seed, name)
            chosen += rows.tolist()
            splits[name] = (offset, offset + len(rows))
            offset += len(rows)
        entries = [listing.entries[i] for i in chosen]
        size = int(self.image_size)
        with build_folder(final) as tmp:
            raw = np.lib.format.open_memmap(
                tmp / "images.npy", mode="w+", dtype=np.uint8, shape=(len(entries), 1, size, size)
            )
            masks = None
            if listing.has_masks:
                masks = np.lib.format.open_memmap(
                    tmp / "masks.npy", mode="w+", dtype=np.uint8, shape=(len(entries), size, size)
                )

            def store(i: int, path: Path) -> None:
                pixels = read_image(path)
                raw[i, 0] = prepare(unit_to_gray(pixels), size, self.resize, self.equalize)
                if masks is None:
                    return
                if entries[i].mask is None:
                    masks[i] = 0
                    return
                mask_path = root / entries[i].mask
                mask = read_image(mask_path)
                if mask.shape != pixels.shape:
                    raise DataError(
                        f"mask {mask_path} is {_size(mask)} but its image {path} is"
                        f" {_size(pixels)}; give the mask the image's size"
                    )
                masks[i] = prepare_mask(mask > 0, size, self.resize)

            workers = workers_from_env(ENV_WORKERS)
            desc = f"folder: decoding {len(entries)} images to {size} px ({workers} threads)"
            with ctx.progress.task(desc, total=len(entries)) as task:
                failures = decode_all(
                    [root / e.rel for e in entries], store, workers=workers, advance=task.advance
                )
            raw.flush()
            if masks is not None:
                masks.flush()
            index = {
                "loader": LOADER_VERSION,
                "options": {k: self.params[k] for k in _DATA_OPTIONS},
                "root": str(root),
                "source": listing.source,
                "split_source": split_source,
                "splits": splits,
                "ids": [stem(e.rel) for e in entries],
                "labels": [e.label for e in entries],
                "patients": [e.patient for e in entries] if listing.has_patients else None,
                "has_masks": listing.has_masks,
                "before_caps": before,
                "failures": failures,
                "rejected": listing.rejected,
                "ignored": listing.ignored,
                "build_seconds": round(time.perf_counter() - started, 3),
            }
            (tmp / _COMPLETE).write_text(json.dumps(index))
            self._report(index, ctx)
            if not publish(tmp, final, _COMPLETE):
                return False
            ctx.progress.log(f"folder: cached {len(entries)} images at {final}")
            return True

    @staticmethod
    def _report(index: dict[str, Any], ctx: RunContext) -> None:
        labels = np.asarray(index["labels"], dtype=np.int8)
        bad = {f["row"] for f in index["failures"]}
        sizes = []
        for name, (start, stop) in index["splits"].items():
            ok = [i for i in range(start, stop) if i not in bad]
            abnormal = int(labels[ok].sum()) if ok else 0
            sizes.append(f"{name} {len(ok)} ({len(ok) - abnormal} normal, {abnormal} abnormal)")
        ctx.progress.log(f"folder: {'; '.join(sizes)}; splits {index['split_source']}")
        failures = index["failures"]
        if failures:
            ctx.progress.log(
                f"folder: skipped {len(failures)} image(s), first {failures[0]['path']}"
                f" ({failures[0]['reason']}); listed in the run's provenance"
            )
        rows = index["rejected"]
        if rows:
            ctx.progress.log(
                f"folder: rejected {len(rows)} row(s) of {index['source']} whose path leads"
                f" outside the root, first line {rows[0]['line']}: {rows[0]['path']!r}"
            )

    # -- user images --------------------------------------------------------------------------

    def preprocess(self, image: np.ndarray) -> np.ndarray:
        """A display-intensity image (``[0, 1]``) prepared exactly like the cached ones."""
        prepared = prepare(unit_to_gray(image), int(self.image_size), self.resize, self.equalize)
        return (prepared.astype(np.float32) / 127.5 - 1.0)[None]
