"""A dataset of image files on disk (the user's own, or a benchmark's release): one base class.

A subclass says where its files are (``root_path``) and lists them (``listing``: an ``FileEntry``
per image with its label, mask and split); ``FileDataset`` decodes them once into a uint8
memory map under the anobench cache keyed by the listing and the data options, skips and counts
unreadable files and masks of the wrong size (``strict`` fails instead), states each split's
size in its provenance, and prepares ``anobench predict``'s images exactly like the cached
ones. Splits the release does not give are the subclass's business (``assign``).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .context import RunContext
from .digests import content_fingerprint, file_digest
from .errors import DataError
from .imagecache import (
    ScaledImages,
    build_folder,
    decode_all,
    open_cache,
    publish_folder,
    rejected_rows,
    skipped_files,
    workers_from_env,
)
from .imageio import read_image
from .interfaces import SPLITS, Dataset
from .options import Option
from .records import Split
from .space import reserved_memmap
from .squares import square_image, square_mask, unit_to_gray

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".dcm", ".dicom", ".nii", ".nii.gz")
_COMPLETE = "index.json"  # written last; a cache folder without it is not a cache


@dataclass(frozen=True)
class FileEntry:
    rel: str  # image path relative to the root (POSIX)
    label: int  # 0 normal, 1 abnormal
    mask: str | None = None  # mask path relative to the root
    split: str | None = None  # given split, or None when the dataset makes them
    patient: str | None = None


@dataclass
class FileListing:
    """The images of a root, how they were found, and what was left out."""

    entries: list[FileEntry]
    source: str  # what was read: a layout's name or a file's path
    digest: str  # sha256 of what the cache depends on (a split file, or the folder listing)
    rejected: list[dict[str, object]] = field(default_factory=list)  # rows leaving the root
    ignored: int = 0  # files in the folders that are not images

    @property
    def given_splits(self) -> bool:
        return bool(self.entries) and self.entries[0].split is not None

    @property
    def has_masks(self) -> bool:
        return any(e.mask is not None for e in self.entries)

    @property
    def has_patients(self) -> bool:
        return any(e.patient is not None for e in self.entries)


def image_stem(rel: str) -> str:
    """A path without its image extension (``a/b.nii.gz`` -> ``a/b``)."""
    low = rel.lower()
    for ext in IMAGE_EXTENSIONS:
        if low.endswith(ext):
            return rel[: -len(ext)]
    return rel


def is_image(name: str) -> bool:
    return not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS)


def walk_images(folder: Path, recursive: bool = True) -> tuple[list[str], int, list[str]]:
    """Image paths under ``folder`` relative to it (sorted), the count of other files, and
    lines of the listing (path, size, mtime) for a cache key."""
    found, ignored, lines = [], 0, []
    for current, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if recursive else []
        for name in sorted(files):
            path = Path(current) / name
            rel = path.relative_to(folder).as_posix()
            if not is_image(name):
                ignored += not name.startswith(".")
                continue
            try:
                stat = path.stat()
            except OSError as exc:  # a link to nothing, or a file that vanished
                raise DataError(
                    f"{path}: cannot be read ({exc.strerror}; a broken link?): remove it or fix"
                    " the link"
                ) from None
            found.append(rel)
            lines.append(f"{rel}\t{stat.st_size}\t{stat.st_mtime_ns}")
    return found, ignored, lines


_CLASS = {0: "normal (label 0)", 1: "abnormal (label 1)"}


def _where(row: dict[str, Any]) -> str:
    """``line 7`` for a CSV row, else the list it came from (e.g. ``train['0']``)."""
    return f"line {row['line']}" if isinstance(row["line"], int) else str(row["line"])


def _size(pixels: np.ndarray) -> str:
    return f"{pixels.shape[1]}x{pixels.shape[0]}"


def cap_options() -> tuple[Option, ...]:
    """``max_train``, ``max_val``, ``max_test``: the per-class caps every :class:`FileDataset`
    applies (``None``: no cap), for a plugin's ``option_set``."""
    return tuple(
        Option(
            f"max_{split}", int, None, f"cap on {split} images PER CLASS", nullable=True, minimum=1
        )
        for split in SPLITS
    )


def root_folder(given: str | None, env: str, what: str, how_to: str) -> Path:
    """The folder of option ``root`` (else environment variable ``env``), resolved; a missing
    or absent folder is one :class:`DataError` naming ``what`` and ending with ``how_to``."""
    text = given or os.environ.get(env, "")
    if not text.strip():
        raise DataError(f"no {what} given. {how_to}")
    root = Path(text).expanduser().resolve()
    if not root.is_dir():
        raise DataError(f"{what} {root} does not exist. {how_to}")
    return root


class FileDataset(Dataset):
    """Base of datasets read from image files. Subclasses set ``name`` and the options
    ``image_size``, ``resize``, ``equalize``, ``strict`` (and optionally ``data_seed`` and the
    per-class caps ``max_train``, ``max_val``, ``max_test``), and implement ``root_path`` and
    ``read_listing``; ``data_options`` names the options that change the cached pixels."""

    #: options whose values change which images are cached or their pixels (the cache key)
    data_options: ClassVar[tuple[str, ...]] = ("image_size", "resize", "equalize")
    #: environment variable with the decoding thread count (default: every core)
    workers_env: ClassVar[str] = "ANOBENCH_DECODE_WORKERS"
    #: bump when decoding, selection or the cache layout changes: old caches are then ignored
    loader_version: ClassVar[int] = 1
    location_options: ClassVar[tuple[str, ...]] = ("root",)

    def root_path(self) -> Path:
        raise NotImplementedError

    def read_listing(self) -> FileListing:
        """The images of the root; a layout mistake is one ``DataError`` naming the fix."""
        raise NotImplementedError

    def assign(self, listing: FileListing) -> tuple[np.ndarray, str]:
        """The split of every entry and how it was chosen; by default the given splits."""
        return np.array([e.split for e in listing.entries], dtype=object), "given"

    def check(self) -> None:
        self.listing()

    def listing(self) -> FileListing:
        """``read_listing`` once per instance."""
        cached = getattr(self, "_listing", None)
        if cached is None:
            cached = self.read_listing()
            self._listing = cached
        return cached

    def cache_key(self) -> str:
        """sha256 of the dataset, its loader version, the root, the listing's digest and the
        data options. Where the digest covers a split file only, the cache assumes the file and
        the images change together (delete the cache if not)."""
        payload = {
            "dataset": self.name,
            "loader": self.loader_version,
            "root": str(self.root_path()),
            "listing": self.listing().digest,
            "options": {k: self.params[k] for k in self.data_options},
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def fingerprint(self) -> str:
        """The listing and the bytes of every listed image and mask, not where they are: the
        same images under another root (or a manifest elsewhere) are the same data."""
        cached = getattr(self, "_fingerprint", None)
        if cached is None:
            root = self.root_path()
            rows = (
                [
                    e.rel,
                    e.label,
                    e.split,
                    e.patient,
                    e.mask,
                    file_digest(root / e.rel),
                    None if e.mask is None else file_digest(root / e.mask),
                ]
                for e in self.listing().entries
            )
            header = {"dataset": self.name, "loader": self.loader_version}
            cached = self._fingerprint = content_fingerprint(header, rows)
        return cached

    def cache_dir(self, ctx: RunContext) -> Path:
        return Path(ctx.cache_dir) / self.name / self.cache_key()

    # -- load ---------------------------------------------------------------------------------

    def load(self, split: str, ctx: RunContext) -> Split:
        if split not in SPLITS:
            raise DataError(
                f"dataset '{self.name}' has no split {split!r}; use {', '.join(SPLITS)}"
            )
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
                f"{self.name} cache {directory} cannot be read ({exc}); delete it and run again"
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
                f"{index['source']} {_where(rows[0])}: {rows[0]['path']!r} leads outside the"
                f" root ({len(rows)} such row(s)); fix the list, or set strict=false to skip them"
            )

    def _split(self, directory: Path, index: dict[str, Any], name: str, source: str) -> Split:
        start, stop = index["splits"][name]
        failed = [f for f in index["failures"] if start <= f["row"] < stop]
        bad = {f["row"] for f in failed}
        rows = np.array([i for i in range(start, stop) if i not in bad], dtype=np.int64)
        self._check_classes(index, name, start, stop, failed)  # names the class and a file
        if len(rows) == 0:
            raise DataError(
                f"{self.name} split '{name}' has no readable image ({len(failed)} skipped);"
                " check the images"
            )
        raw = open_cache(directory / "images.npy", self.name)
        masks = None
        if index["has_masks"]:
            masks = np.asarray(open_cache(directory / "masks.npy", self.name)[rows]) != 0
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
            "skipped": skipped_files(failed),
            "rejected_paths": rejected_rows(index["rejected"]),
            "ignored_files": index["ignored"],
        }
        return Split(
            images=ScaledImages(raw, rows),
            labels=labels,
            ids=tuple(index["ids"][i] for i in rows),
            masks=masks,
            meta=meta,
        )

    def _check_classes(
        self, index: dict[str, Any], name: str, start: int, stop: int, failed: list[dict]
    ) -> None:
        """A class whose every image of the split was skipped: the run would learn or test
        nothing of it (numpy's warnings about empty means, then a late error), so say why."""
        labels = np.asarray(index["labels"][start:stop], dtype=np.int8)
        bad = np.zeros(len(labels), dtype=bool)
        bad[[f["row"] - start for f in failed]] = True
        for label in (0, 1):
            listed = labels == label
            if listed.any() and bad[listed].all():
                first = next(f for f in failed if index["labels"][f["row"]] == label)
                raise DataError(
                    f"{self.name} split '{name}': all {int(listed.sum())} {_CLASS[label]}"
                    f" image(s) were skipped, first {first['path']} ({first['reason']}); fix"
                    " them"
                )

    # -- build --------------------------------------------------------------------------------

    def _build(self, final: Path, ctx: RunContext) -> bool:
        """Split, cap, decode and store into a private folder renamed into place (atomic).

        Returns whether this call's copy is the one in place (another process may win a race).
        """
        listing = self.listing()
        root = self.root_path()
        started = time.perf_counter()
        assigned, split_source = self.assign(listing)
        labels_all = np.array([e.label for e in listing.entries], dtype=np.int8)
        caps = {s: self.params.get(f"max_{s}") for s in SPLITS}
        chosen, splits, before, offset = [], {}, {}, 0
        for name in SPLITS:
            rows = np.flatnonzero(assigned == name)
            before[name] = len(rows)
            rows = cap(rows, labels_all, caps[name], int(self.params.get("data_seed", 0)), name)
            chosen += rows.tolist()
            splits[name] = (offset, offset + len(rows))
            offset += len(rows)
        entries = [listing.entries[i] for i in chosen]
        size = int(self.image_size)
        with build_folder(final) as tmp:
            raw = reserved_memmap(tmp / "images.npy", np.uint8, (len(entries), 1, size, size))
            masks = None
            if listing.has_masks:
                masks = reserved_memmap(tmp / "masks.npy", np.uint8, (len(entries), size, size))

            def store(i: int, path: Path) -> None:
                pixels = read_image(path)
                raw[i, 0] = square_image(unit_to_gray(pixels), size, self.resize, self.equalize)
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
                masks[i] = square_mask(mask > 0, size, self.resize)

            workers = workers_from_env(self.workers_env, default=ctx.threads)
            desc = f"{self.name}: decoding {len(entries)} images to {size} px ({workers} threads)"
            with ctx.progress.task(desc, total=len(entries)) as task:
                failures = decode_all(
                    [root / e.rel for e in entries], store, workers=workers, advance=task.advance
                )
            raw.flush()
            if masks is not None:
                masks.flush()
            index = {
                "loader": self.loader_version,
                "options": {k: self.params[k] for k in self.data_options},
                "root": str(root),
                "source": listing.source,
                "split_source": split_source,
                "splits": splits,
                "ids": [image_stem(e.rel) for e in entries],
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
            if not publish_folder(tmp, final, _COMPLETE):
                return False
            ctx.progress.log(f"{self.name}: cached {len(entries)} images at {final}")
            return True

    def _report(self, index: dict[str, Any], ctx: RunContext) -> None:
        labels = np.asarray(index["labels"], dtype=np.int8)
        bad = {f["row"] for f in index["failures"]}
        sizes = []
        for name, (start, stop) in index["splits"].items():
            ok = [i for i in range(start, stop) if i not in bad]
            abnormal = int(labels[ok].sum()) if ok else 0
            sizes.append(f"{name} {len(ok)} ({len(ok) - abnormal} normal, {abnormal} abnormal)")
        ctx.progress.log(f"{self.name}: {'; '.join(sizes)}; splits {index['split_source']}")
        failures = index["failures"]
        if failures:
            ctx.progress.log(
                f"{self.name}: skipped {len(failures)} image(s), first {failures[0]['path']}"
                f" ({failures[0]['reason']}); listed in the run's provenance"
            )
        rows = index["rejected"]
        if rows:
            ctx.progress.log(
                f"{self.name}: rejected {len(rows)} row(s) of {index['source']} whose path leads"
                f" outside the root, first {_where(rows[0])}: {rows[0]['path']!r}"
            )

    # -- user images --------------------------------------------------------------------------

    def preprocess(self, image: np.ndarray) -> np.ndarray:
        """A display-intensity image (``[0, 1]``) prepared exactly like the cached ones."""
        prepared = square_image(
            unit_to_gray(image), int(self.image_size), self.resize, self.equalize
        )
        return (prepared.astype(np.float32) / 127.5 - 1.0)[None]


_CODES = {"train": 0, "val": 1, "test": 2}


def cap(
    rows: np.ndarray, labels: np.ndarray, limit: int | None, seed: int, split: str
) -> np.ndarray:
    """At most ``limit`` rows per class, drawn with the seed; sorted row numbers."""
    rows = np.asarray(rows, dtype=np.int64)
    if limit is None:
        return rows
    rng = np.random.default_rng([seed, 1, _CODES[split]])
    kept = []
    for label in (0, 1):
        inside = rows[labels[rows] == label]
        kept.append(inside if len(inside) <= limit else rng.choice(inside, limit, replace=False))
    return np.sort(np.concatenate(kept))
