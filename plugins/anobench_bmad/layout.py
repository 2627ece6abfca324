"""BMAD's released folder layout, read exactly: ``train/``, ``valid/`` and ``test/``.

Image-level sub-benchmarks: ``train/good/*.png``, ``{valid,test}/{good,Ungood}/*.png``.
Pixel-level ones put the images in ``img/`` and, for ``Ungood``, the masks in ``label/`` with the
same file names (``train/good/img/``; a ``train/good/`` without ``img/`` is read as it is).
``valid/`` is anobench's ``val``; nothing is re-split.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from anobench import DataError
from anobench.files import FileEntry, FileListing, image_stem, release_images

#: anobench split -> the release's folder
FOLDERS = {"train": "train", "val": "valid", "test": "test"}


@dataclass(frozen=True)
class Task:
    title: str
    masks: bool  # pixel-level ground truth in the release
    folders: tuple[str, ...]  # names the unpacked folder may have inside a parent root


TASKS = {
    "brain": Task("brain MRI (BraTS2021 slices)", True, ("Brain", "BraTS2021", "Brain_AD")),
    "liver": Task("liver CT (BTCV + LiTS slices)", True, ("Liver", "Liver_AD")),
    "resc": Task("retinal OCT (RESC)", True, ("RESC", "RESC_AD")),
    "oct2017": Task("retinal OCT (OCT2017)", False, ("OCT2017", "OCT17")),
    "rsna": Task("chest X-ray (RSNA)", False, ("Chest-RSNA", "RSNA", "chest-rsna")),
    "camelyon16": Task("histopathology (Camelyon16)", False, ("camelyon16", "camelyon16_256")),
}


def read_release(root: Path, task: str) -> FileListing:
    """Every image of the release with its label, mask and split; layout mistakes raise."""
    spec = TASKS[task]
    where = f"BMAD's {task} release has train/good/, valid/ and test/ with good/ and Ungood/" + (
        " (images in img/, Ungood masks in label/)" if spec.masks else ""
    )
    entries: list[FileEntry] = []
    lines: list[str] = []
    for split, folder in FOLDERS.items():
        base = root / folder
        if not base.is_dir():
            raise DataError(f"{base}: missing split folder; {where}")
        for cls in ("good",) if split == "train" else ("good", "Ungood"):
            cdir = base / cls
            nested = spec.masks and not (split == "train" and not (cdir / "img").is_dir())
            img_dir = cdir / "img" if nested or (cdir / "img").is_dir() else cdir
            found, found_lines = release_images(img_dir, where)
            prefix = img_dir.relative_to(root).as_posix()
            lines += [f"{prefix}/{line}" for line in found_lines]
            masks: dict[str, str] = {}
            if spec.masks and cls == "Ungood":
                label_dir = cdir / "label"
                mask_files, mask_lines = release_images(label_dir, where)
                lines += [f"{folder}/{cls}/label/{line}" for line in mask_lines]
                masks = {image_stem(m): m for m in mask_files}
            for rel in found:
                mask = None
                if spec.masks and cls == "Ungood":
                    mask = masks.pop(image_stem(rel), None)
                    if mask is None:
                        raise DataError(
                            f"{img_dir / rel}: an abnormal image without a mask (no"
                            f" {cdir / 'label' / image_stem(rel)}.*); the release gives every"
                            " Ungood image a mask of the same name"
                        )
                    mask = f"{folder}/{cls}/label/{mask}"
                entries.append(
                    FileEntry(f"{prefix}/{rel}", int(cls == "Ungood"), mask=mask, split=split)
                )
            if masks:
                orphan = next(iter(masks.values()))
                raise DataError(
                    f"{cdir / 'label' / orphan}: a mask without an image (no"
                    f" {img_dir / image_stem(orphan)}.*; {len(masks)} such mask(s)); rename or"
                    " remove it"
                )
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    return FileListing(entries=entries, source=f"BMAD {task} release at {root}", digest=digest)
