"""MedIAnomaly's released layouts (Cai et al., 2024), read exactly.

Chest X-ray, brain tumour MRI and fundus sets (RSNA, VinCXR, BrainTumor, LAG): ``images/`` and
``data.json``, whose ``train["0"]`` lists the training images (all normal) and ``test["0"]`` /
``test["1"]`` the normal / abnormal test images, by file name inside ``images/``.
BraTS2021: ``train/*.png`` (normal slices), ``test/normal/``, ``test/tumor/`` and
``test/annotation/`` (the mask of ``X_flair_Y.png`` is ``X_seg_Y.png``). Camelyon16:
``train/good/``, ``test/good/``, ``test/Ungood/``. The release has no validation split.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from anobench import DataError
from anobench.files import FileEntry, FileListing, file_sha256, inside_root, release_images


@dataclass(frozen=True)
class Task:
    title: str
    folder: str  # the release's folder name
    layout: str  # "json", "brats" or "camelyon"


TASKS = {
    "rsna": Task("chest X-ray (RSNA pneumonia)", "RSNA", "json"),
    "vincxr": Task("chest X-ray (VinDr-CXR)", "VinCXR", "json"),
    "braintumor": Task("brain tumour MRI", "BrainTumor", "json"),
    "lag": Task("fundus (LAG glaucoma)", "LAG", "json"),
    "brats2021": Task("brain MRI slices (BraTS2021), with masks", "BraTS2021", "brats"),
    "camelyon16": Task("histopathology (Camelyon16)", "Camelyon16", "camelyon"),
}


def _names(data: dict, key: str, label: str, path: Path) -> list:
    part = data.get(key)
    if not isinstance(part, dict):
        raise DataError(
            f"{path}: no {key!r} object; MedIAnomaly's data.json has train and test, each"
            ' listing image names under "0" (normal) and test also under "1" (abnormal)'
        )
    names = part.get(label)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise DataError(f"{path}: {key}[{label!r}] is missing or not a list of file names")
    return names


def _from_json(root: Path) -> FileListing:
    path = root / "data.json"
    if not path.is_file():
        raise DataError(f"{path}: missing; the release holds images/ and data.json")
    if not (root / "images").is_dir():
        raise DataError(
            f"{root / 'images'}: missing folder; the release holds images/ and data.json"
        )
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read this JSON ({exc})") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected an object with train and test")
    unknown = [k for k in (data.get("test") or {}) if k not in ("0", "1")]
    if unknown:
        raise DataError(
            f'{path}: test has the unknown label {unknown[0]!r}; labels are "0" (normal) and'
            ' "1" (abnormal)'
        )
    listed = [("train", 0, n) for n in _names(data, "train", "0", path)]
    listed += [("test", 0, n) for n in _names(data, "test", "0", path)]
    listed += [("test", 1, n) for n in _names(data, "test", "1", path)]
    entries, rejected, seen = [], [], set()
    for split, label, name in listed:
        rel = inside_root(name)
        if rel is None:
            rejected.append({"line": f"{split}[{str(label)!r}]", "path": name})
            continue
        if rel in seen:
            raise DataError(f"{path}: {name!r} is listed twice")
        seen.add(rel)
        entries.append(FileEntry(f"images/{rel}", label, split=split))
    return FileListing(
        entries=entries, source=str(path), digest=file_sha256(path), rejected=rejected
    )


def _from_folders(root: Path, layout: str) -> FileListing:
    if layout == "brats":
        what = "the BraTS2021 release has train/, test/normal/, test/tumor/, test/annotation/"
        parts = [("train", "train", 0), ("test", "test/normal", 0), ("test", "test/tumor", 1)]
    else:
        what = "the Camelyon16 release has train/good/, test/good/ and test/Ungood/"
        parts = [("train", "train/good", 0), ("test", "test/good", 0), ("test", "test/Ungood", 1)]
    entries, lines = [], []
    masks: dict[str, str] = {}
    if layout == "brats":
        found, mask_lines = release_images(root / "test/annotation", what)
        masks = dict.fromkeys(found, "")
        lines += [f"test/annotation/{line}" for line in mask_lines]
    for split, sub, label in parts:
        found, sub_lines = release_images(root / sub, what)
        lines += [f"{sub}/{line}" for line in sub_lines]
        for name in found:
            mask = None
            if layout == "brats" and label == 1:
                mask_name = name.replace("flair", "seg")
                if mask_name not in masks:
                    raise DataError(
                        f"{root / sub / name}: a tumour slice without a mask (no"
                        f" {root / 'test/annotation' / mask_name})"
                    )
                del masks[mask_name]
                mask = f"test/annotation/{mask_name}"
            entries.append(FileEntry(f"{sub}/{name}", label, mask=mask, split=split))
    if masks:
        orphan = next(iter(masks))
        raise DataError(
            f"{root / 'test/annotation' / orphan}: a mask without an image (no tumour slice"
            f" named {orphan.replace('seg', 'flair')!r}; {len(masks)} such mask(s))"
        )
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    return FileListing(entries=entries, source=f"{root} ({layout} layout)", digest=digest)


def read_release(root: Path, task: str) -> FileListing:
    layout = TASKS[task].layout
    return _from_json(root) if layout == "json" else _from_folders(root, layout)
