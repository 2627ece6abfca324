"""What the user's root holds: one ``FileEntry`` per image, from folders or from a CSV manifest.

Folders: ``normal/`` and ``abnormal/`` (any depth), optionally ``masks/`` mirroring
``abnormal/`` by relative path (any image extension); or the same three under ``train/``,
``val/`` and ``test/`` when the splits are given. Manifest: a CSV with the columns ``path`` and
``label`` and optionally ``mask``, ``split`` and ``patient`` (names in any case and order).
Every layout mistake is one ``DataError`` naming the file, line or folder and the fix.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from anobench import SPLITS, DataError
from anobench.files import (
    IMAGE_EXTENSIONS,
    FileEntry,
    FileListing,
    image_stem,
    inside_root,
    walk_images,
)

if TYPE_CHECKING:  # imported where used: listing this plugin stays fast
    import pandas as pd

CLASSES = {"normal": 0, "abnormal": 1}
#: manifest label spellings (case-insensitive)
LABELS = {
    "normal": 0,
    "healthy": 0,
    "0": 0,
    "abnormal": 1,
    "anomalous": 1,
    "diseased": 1,
    "1": 1,
}
SPLIT_NAMES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}
REQUIRED = ("path", "label")
OPTIONAL = ("mask", "split", "patient")


def _class_folders(base: Path, split: str | None, root: Path) -> tuple[list[FileEntry], int, list]:
    where = f"{base}" if split is None else f"{base} (split '{split}')"
    missing = [name for name in CLASSES if not (base / name).is_dir()]
    if missing:
        raise DataError(
            f"{where}: no {' and no '.join(f'{m}/' for m in missing)} folder; anobench's folder"
            " layout is normal/ and abnormal/ (any depth inside), with optional masks/"
            " mirroring abnormal/"
        )
    entries, ignored, lines = [], 0, []
    masks: dict[str, str] = {}
    if (base / "masks").is_dir():
        found, skipped, mask_lines = walk_images(base / "masks")
        ignored += skipped
        lines += [f"masks/{line}" for line in mask_lines]
        for rel in found:
            key = image_stem(rel)
            if key in masks:
                raise DataError(
                    f"{base / 'masks' / rel} and {base / 'masks' / masks[key]}: two masks for one"
                    " image; keep one"
                )
            masks[key] = rel
    prefix = "" if split is None else f"{base.relative_to(root).as_posix()}/"
    for name, label in CLASSES.items():
        found, skipped, class_lines = walk_images(base / name)
        ignored += skipped
        lines += [f"{name}/{line}" for line in class_lines]
        for rel in found:
            mask = masks.pop(image_stem(rel), None) if label else None
            entries.append(
                FileEntry(
                    rel=f"{prefix}{name}/{rel}",
                    label=label,
                    mask=None if mask is None else f"{prefix}masks/{mask}",
                    split=split,
                )
            )
    if masks:
        orphan = next(iter(masks.values()))
        raise DataError(
            f"{base / 'masks' / orphan}: a mask without an image (no"
            f" abnormal/{image_stem(orphan)}.*; {len(masks)} such mask(s)); masks/ mirrors"
            " abnormal/ by relative path: rename or remove it"
        )
    return entries, ignored, lines


def from_folders(root: Path) -> FileListing:
    present = [s for s in SPLITS if (root / s).is_dir()]
    if present and any((root / c).is_dir() for c in CLASSES):
        raise DataError(
            f"{root} holds both split folders ({', '.join(present)}) and normal/ or abnormal/;"
            " keep one layout"
        )
    lines: list[str] = []
    entries: list[FileEntry] = []
    ignored = 0
    if present:
        absent = [s for s in SPLITS if s not in present]
        if absent:
            raise DataError(
                f"{root / absent[0]}: missing split folder (found {', '.join(present)}); give all"
                " of train/, val/ and test/, or put normal/ and abnormal/ directly in the root"
                " and let the dataset split them"
            )
        for split in SPLITS:
            found, skipped, split_lines = _class_folders(root / split, split, root)
            entries += found
            ignored += skipped
            lines += [f"{split}/{line}" for line in split_lines]
        source = "split folders"
    else:
        entries, ignored, lines = _class_folders(root, None, root)
        source = "folders"
    _check_masks(entries, str(root / "masks"))
    for split in SPLITS if present else ():
        if not any(e.split == split for e in entries):
            raise DataError(f"{root / split}: holds no image; every split needs images")
    if not entries:
        raise DataError(
            f"{root}: normal/ and abnormal/ hold no image ({', '.join(IMAGE_EXTENSIONS)})"
        )
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    return FileListing(entries=entries, source=source, digest=digest, ignored=ignored)


def _check_masks(entries: list[FileEntry], where: str) -> None:
    """Masks for some abnormal images but not all: pixel metrics would count the rest as
    anomaly-free, so this is refused."""
    abnormal = [e for e in entries if e.label == 1]
    without = [e for e in abnormal if e.mask is None]
    if without and len(without) < len(abnormal):
        raise DataError(
            f"{without[0].rel}: an abnormal image without a mask, while {where} has masks for"
            f" others ({len(without)} of {len(abnormal)} lack one); give every abnormal image a"
            " mask, or none"
        )


# -- manifest ----------------------------------------------------------------------------------


def _cell(frame: pd.DataFrame, column: str, row: int) -> str:
    return str(frame[column].iloc[row]).strip()


def from_manifest(root: Path, manifest: Path) -> FileListing:
    """Parse and check the manifest; paths are relative to ``root``."""
    import pandas as pd

    try:
        frame = pd.read_csv(manifest, dtype=str, keep_default_na=False, na_filter=False)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{manifest}: cannot read this CSV ({exc})") from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise DataError(
            f"{manifest}: missing column(s) {', '.join(repr(c) for c in missing)} (found"
            f" {', '.join(repr(c) for c in frame.columns)}); a manifest has the columns path and"
            " label, optionally mask, split and patient"
        )
    if frame.empty:
        raise DataError(f"{manifest}: has a header but no rows")
    entries: list[FileEntry] = []
    rejected: list[dict[str, object]] = []
    seen: dict[str, int] = {}
    for i in range(len(frame)):
        line = i + 2
        where = f"{manifest} line {line}"
        text = _cell(frame, "label", i)
        label = LABELS.get(text.lower())
        if label is None:
            raise DataError(
                f"{where}, column 'label': unknown label {text!r}; use normal or abnormal"
                " (also healthy/diseased, 0/1)"
            )
        value = _cell(frame, "path", i)
        rel = inside_root(value)
        mask_value = _cell(frame, "mask", i) if "mask" in frame.columns else ""
        mask = inside_root(mask_value) if mask_value else None
        if rel is None or (mask_value and mask is None):
            rejected.append({"line": line, "path": value if rel is None else mask_value})
            continue
        if rel in seen:
            raise DataError(f"{where}, column 'path': {value!r} repeats line {seen[rel]}")
        seen[rel] = line
        if mask is not None and label == 0:
            raise DataError(
                f"{where}, column 'mask': a normal image with a mask ({mask_value!r}); masks"
                " mark anomalies: clear the cell or fix the label"
            )
        split = None
        if "split" in frame.columns:
            text = _cell(frame, "split", i)
            split = SPLIT_NAMES.get(text.lower())
            if split is None:
                raise DataError(
                    f"{where}, column 'split': unknown split {text!r}; use train, val or test"
                    " (or drop the column to let the dataset split)"
                )
        patient = None
        if "patient" in frame.columns:
            patient = _cell(frame, "patient", i)
            if not patient:
                raise DataError(f"{where}, column 'patient': empty; give every row a patient id")
        entries.append(FileEntry(rel=rel, label=label, mask=mask, split=split, patient=patient))
    if not entries:
        raise DataError(f"{manifest}: every row's path leads outside the root {root}")
    if "split" in frame.columns:
        for split in SPLITS:
            if not any(e.split == split for e in entries):
                raise DataError(
                    f"{manifest}, column 'split': no row is in '{split}'; every split needs"
                    " rows (or drop the column to let the dataset split)"
                )
    _check_masks(entries, str(manifest))
    digest = hashlib.sha256(manifest.read_bytes()).hexdigest()
    return FileListing(entries=entries, source=str(manifest), digest=digest, rejected=rejected)
