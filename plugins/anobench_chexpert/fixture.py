"""A fake CheXpert tree in the exact layout of the release, for tests and dry runs.

Nothing here comes from CheXpert: the images are drawn (two dark lung fields; effusion whitens
the lung bases) and the labels cycle through fixed study profiles. What is real is the layout:
``train.csv`` / ``valid.csv`` with the 19-column header, ``Path`` values with the release
prefix, ``train/patientNNNNN/studyM/viewK_{frontal|lateral}.jpg``, label cells ``1.0``,
``0.0``, ``-1.0`` or blank in train.csv and binary in valid.csv, AP/PA/LL frontal views,
laterals with a blank AP/PA, several studies per patient. Optionally one corrupt JPEG and one
``Path`` that tries to leave the root.

    python -m anobench_chexpert.fixture /tmp/fake-chexpert   # then --dataset-opt root=...
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from anobench.testing import write_dicom

from .table import COLUMNS, LABELS

__all__ = ["Fixture", "make_fixture", "write_dicom"]

#: label profiles of train.csv studies, cycled in this order (unlisted columns are blank)
STUDY_PROFILES: tuple[dict[str, str], ...] = (
    {"No Finding": "1.0"},
    {"No Finding": "1.0", "Support Devices": "1.0"},
    {"Pleural Effusion": "1.0", "Support Devices": "1.0"},
    {"Pleural Effusion": "1.0", "Lung Opacity": "1.0"},
    {"No Finding": "1.0", "Support Devices": "-1.0"},
    {"Pleural Effusion": "1.0", "Edema": "-1.0"},
    {"Pleural Effusion": "1.0", "Cardiomegaly": "0.0"},
    {"Pleural Effusion": "-1.0"},
    {"Pleural Effusion": "-1.0", "Atelectasis": "1.0"},
    {"Pleural Effusion": "0.0", "Consolidation": "1.0"},
    {"Pneumonia": "-1.0", "Fracture": "0.0"},
    {"Pleural Effusion": "0.0", "Edema": "0.0", "Support Devices": "0.0"},
)
#: valid.csv is labelled by radiologists: every cell 0.0 or 1.0
VALID_PROFILES: tuple[dict[str, str], ...] = (
    {"No Finding": "1.0"},
    {"Pleural Effusion": "1.0"},
    {"Cardiomegaly": "1.0"},
    {"Pleural Effusion": "1.0", "Edema": "1.0"},
)
ESCAPING_PATH = "CheXpert-v1.0-small/../../outside/patient99999/study1/view1_frontal.jpg"


@dataclass
class Fixture:
    root: Path
    train_rows: list[dict[str, str]] = field(default_factory=list)
    valid_rows: list[dict[str, str]] = field(default_factory=list)
    corrupt: Path | None = None
    escaping_line: int | None = None


def draw(width: int, height: int, effusion: bool, lateral: bool, rng: np.random.Generator):
    """A chest-like greyscale picture: bright body, dark lungs, white fluid at the bases."""
    from PIL import Image

    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    img = 150 + 40 * (yy / height) + rng.normal(0, 6, (height, width))
    centres = [(0.5, 0.5)] if lateral else [(0.3, 0.45), (0.7, 0.45)]
    for cx, cy in centres:
        rx, ry = (0.3 if lateral else 0.15) * width, 0.3 * height
        inside = ((xx - cx * width) / rx) ** 2 + ((yy - cy * height) / ry) ** 2 <= 1
        img[inside] -= 90
        if effusion:
            base = inside & (yy > (cy + 0.15) * height + rng.normal(0, 4))
            img[base] += 80
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def _row(path: str, view: str, projection: str, labels: dict[str, str], rng) -> dict[str, str]:
    row = {c: "" for c in COLUMNS}
    row.update(
        {
            "Path": path,
            "Sex": str(rng.choice(["Male", "Female"])),
            "Age": str(int(rng.integers(20, 91))),
            "Frontal/Lateral": view,
            "AP/PA": projection,
        }
    )
    row.update(labels)
    return row


def _write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows(rows)


def _views(study: int, patient: int) -> list[tuple[str, str, str]]:
    """(file, Frontal/Lateral, AP/PA) of one study: a frontal, often a lateral, sometimes two."""
    projection = "AP" if (patient + study) % 3 else "PA"
    views = [("view1_frontal.jpg", "Frontal", projection)]
    if (patient + study) % 2 == 0:
        views.append(("view2_lateral.jpg", "Lateral", ""))
    if patient % 7 == 0 and study == 1:
        views.append(("view3_frontal.jpg", "Frontal", "LL" if patient % 14 == 0 else projection))
    return views


def make_fixture(
    root: str | Path,
    *,
    patients: int = 40,
    valid_patients: int = 8,
    seed: int = 0,
    release: str = "CheXpert-v1.0-small",
    size: tuple[int, int] = (390, 320),
    corrupt: bool = True,
    escape: bool = True,
) -> Fixture:
    """Write a fake CheXpert release under ``root`` (``root`` holds train.csv)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = Fixture(root=root)
    study_count = 0

    def image(rel: str, effusion: bool, lateral: bool) -> None:
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        width = int(size[0] + rng.integers(-10, 11))
        height = int(size[1] + rng.integers(-10, 11))
        draw(width, height, effusion, lateral, rng).save(target, quality=90)

    for patient in range(1, patients + 1):
        for study in range(1, 2 + patient % 3):
            labels = STUDY_PROFILES[study_count % len(STUDY_PROFILES)]
            study_count += 1
            effusion = labels.get("Pleural Effusion") in ("1.0", "-1.0")
            for file, view, projection in _views(study, patient):
                rel = f"train/patient{patient:05d}/study{study}/{file}"
                image(rel, effusion, view == "Lateral")
                out.train_rows.append(_row(f"{release}/{rel}", view, projection, labels, rng))
    for i in range(valid_patients):
        patient = 64541 + i
        chosen = VALID_PROFILES[i % len(VALID_PROFILES)]
        labels = {c: chosen.get(c, "0.0") for c in LABELS}
        for file, view, projection in _views(1, patient):
            rel = f"valid/patient{patient:05d}/study1/{file}"
            image(rel, chosen.get("Pleural Effusion") == "1.0", view == "Lateral")
            out.valid_rows.append(_row(f"{release}/{rel}", view, projection, labels, rng))
    if corrupt:
        # the first healthy frontal image becomes garbage behind a JPEG marker
        row = next(
            r
            for r in out.train_rows
            if r["No Finding"] == "1.0" and r["Frontal/Lateral"] == "Frontal"
        )
        out.corrupt = root / row["Path"].split("/", 1)[1]
        out.corrupt.write_bytes(b"\xff\xd8\xff\xe0" + bytes(rng.integers(0, 256, 600, np.uint8)))
    if escape:
        out.train_rows.append(_row(ESCAPING_PATH, "Frontal", "PA", {"No Finding": "1.0"}, rng))
        out.escaping_line = len(out.train_rows) + 1
    _write_csv(root / "train.csv", out.train_rows)
    _write_csv(root / "valid.csv", out.valid_rows)
    return out


def main(argv: list[str] | None = None) -> None:
    """``python -m anobench_chexpert.fixture [ROOT]``: write a fake tree under ``ROOT``."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m anobench_chexpert.fixture",
        description="Write a fake CheXpert tree (generated images, the release's layout) for"
        " tests and dry runs; then run with --dataset-opt root=ROOT.",
    )
    parser.add_argument(
        "root",
        metavar="ROOT",
        nargs="?",
        default="fake-chexpert",
        help="folder to create; it holds train.csv (default: fake-chexpert)",
    )
    parser.add_argument("--patients", type=int, default=40, help="train.csv patients")
    parser.add_argument("--seed", type=int, default=0, help="seed of images and labels")
    args = parser.parse_args(argv)
    target = Path(args.root)
    made = make_fixture(target, patients=args.patients, seed=args.seed)
    print(f"wrote {len(made.train_rows)} train and {len(made.valid_rows)} valid rows to {target}")


if __name__ == "__main__":  # pragma: no cover - a convenience for users
    main()
