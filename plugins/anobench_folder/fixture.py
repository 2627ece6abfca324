"""A fake image root in each layout the ``folder`` dataset reads, for tests and dry runs.

The images are drawn (a smooth greyscale background; an abnormal image carries a bright disc,
which is its mask) in a mix of formats: 8-bit PNG, 16-bit PNG, JPEG and TIFF, plus DICOM and
2-D NIfTI when pydicom and nibabel are installed. Layouts:

- ``folders``: ``normal/``, ``abnormal/`` (two levels deep) and ``masks/`` mirroring ``abnormal/``;
- ``splits``: the same three under ``train/``, ``val/`` and ``test/``;
- ``manifest``: ``images/...`` and ``manifest.csv`` (path, label, mask, patient; ``split`` too
  with ``given_splits``), several images per patient.

    python -m anobench_folder.fixture /tmp/my-images   # then --dataset-opt root=/tmp/my-images
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from anobench.testing import lesion_image

LAYOUTS = ("folders", "splits", "manifest")


@dataclass
class Fixture:
    root: Path
    normal: list[str] = field(default_factory=list)  # image paths relative to the root
    abnormal: list[str] = field(default_factory=list)
    masks: dict[str, str] = field(default_factory=dict)  # image -> mask, relative to the root
    manifest: Path | None = None
    corrupt: str | None = None  # relative path of the unreadable image


def formats() -> tuple[str, ...]:
    found = [".png", ".png16", ".jpg", ".tif"]
    try:
        import pydicom  # noqa: F401

        found.append(".dcm")
    except ImportError:
        pass
    try:
        import nibabel  # noqa: F401

        found.append(".nii.gz")
    except ImportError:
        pass
    return tuple(found)


def write_image(path: Path, pixels: np.ndarray, kind: str) -> Path:
    """Save 8-bit ``pixels`` as ``kind``; returns the written path (its real extension)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == ".png16":
        path = path.with_suffix(".png")
        Image.fromarray(pixels.astype(np.uint16) * 257).save(path)
    elif kind == ".jpg":
        path = path.with_suffix(".jpg")
        Image.fromarray(pixels).save(path, quality=95)
    elif kind == ".dcm":
        from anobench.testing import write_dicom

        path = path.with_suffix(".dcm")
        write_dicom(path, pixels.astype(np.uint16), window=(127.5, 256), bits_stored=8)
    elif kind == ".nii.gz":
        import nibabel

        path = path.with_suffix(".nii.gz")
        nibabel.save(nibabel.Nifti1Image(pixels.astype(np.float32), np.eye(4)), str(path))
    else:
        path = path.with_suffix(kind)
        Image.fromarray(pixels).save(path)
    return path


def make_fixture(
    root: str | Path,
    *,
    layout: str = "folders",
    normal: int = 24,
    abnormal: int = 12,
    size: int = 40,
    seed: int = 0,
    masks: bool = True,
    corrupt: bool = True,
    given_splits: bool = False,
    kinds: tuple[str, ...] | None = None,
) -> Fixture:
    """Write a fake root under ``root``; ``corrupt`` replaces one normal image with garbage."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, not {layout!r}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    kinds = kinds or formats()
    out = Fixture(root=root)
    rows: list[dict[str, str]] = []
    split_of = ("train", "train", "train", "val", "test", "test")
    count = 0
    for label, n in (("normal", normal), ("abnormal", abnormal)):
        for i in range(n):
            pixels, mask = lesion_image(size, label == "abnormal", rng)
            split = split_of[i % len(split_of)]
            sub = f"site{i % 2}/case{i:03d}"
            if layout == "folders":
                base, mask_base = f"{label}/{sub}", f"masks/{sub}"
            elif layout == "splits":
                base, mask_base = f"{split}/{label}/{sub}", f"{split}/masks/{sub}"
            else:
                base, mask_base = f"images/{label}/{sub}", f"images/masks/{sub}"
            written = write_image(root / base, pixels, kinds[count % len(kinds)])
            count += 1
            rel = written.relative_to(root).as_posix()
            (out.abnormal if label == "abnormal" else out.normal).append(rel)
            mask_rel = ""
            if label == "abnormal" and masks:
                target = root / f"{mask_base}.png"
                target.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(mask.astype(np.uint8) * 255).save(target)
                mask_rel = target.relative_to(root).as_posix()
                out.masks[rel] = mask_rel
            row = {"path": rel, "label": label, "mask": mask_rel, "patient": f"P{i // 3:03d}"}
            if given_splits:
                row["split"] = split
            rows.append(row)
    if corrupt:
        out.corrupt = out.normal[0]
        (root / out.corrupt).write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(rng.integers(0, 256, 300)))
    if layout == "manifest":
        out.manifest = root / "manifest.csv"
        with out.manifest.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return out


def main(argv: list[str] | None = None) -> None:
    """``python -m anobench_folder.fixture [ROOT]``: write a fake root under ``ROOT``."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m anobench_folder.fixture",
        description="Write a fake image root (generated images) in one of the folder dataset's"
        " layouts; then run with --dataset-opt root=ROOT (and manifest=manifest.csv for the"
        " manifest layout).",
    )
    parser.add_argument("root", metavar="ROOT", nargs="?", default="fake-images")
    parser.add_argument("--layout", choices=LAYOUTS, default="folders")
    parser.add_argument("--normal", type=int, default=24, help="normal images")
    parser.add_argument("--abnormal", type=int, default=12, help="abnormal images")
    parser.add_argument("--size", type=int, default=40, help="image side in pixels")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    made = make_fixture(
        args.root,
        layout=args.layout,
        normal=args.normal,
        abnormal=args.abnormal,
        size=args.size,
        seed=args.seed,
    )
    print(
        f"wrote {len(made.normal)} normal and {len(made.abnormal)} abnormal images"
        f" ({len(made.masks)} masks, layout {args.layout}) to {made.root}"
    )


if __name__ == "__main__":  # pragma: no cover - a convenience for users
    main()
