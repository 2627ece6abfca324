"""A fake MedIAnomaly set in the exact released layout, for tests and dry runs.

Nothing here comes from MedIAnomaly: the images are drawn (an abnormal image carries a bright
disc, its mask). What is real is the layout: ``images/`` and ``data.json`` (``train["0"]``,
``test["0"]``, ``test["1"]``) for the chest X-ray, brain tumour and fundus sets; ``train/``,
``test/normal/``, ``test/tumor/`` and ``test/annotation/`` (``..._flair_...`` ->
``..._seg_...``) for BraTS2021; ``train/good/``, ``test/good/``, ``test/Ungood/`` for Camelyon16.

    python -m anobench_medianomaly.fixture /tmp/MedIAnomaly-Data/RSNA --task rsna
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from anobench.testing import lesion_image

from .layout import TASKS


@dataclass
class Fixture:
    root: Path
    train: list[str] = field(default_factory=list)  # relative paths
    test_normal: list[str] = field(default_factory=list)
    test_abnormal: list[str] = field(default_factory=list)
    masks: dict[str, str] = field(default_factory=dict)
    corrupt: str | None = None


def make_fixture(
    root: str | Path,
    *,
    task: str = "rsna",
    train: int = 20,
    test: tuple[int, int] = (6, 6),
    size: int = 40,
    seed: int = 0,
    corrupt: bool = True,
) -> Fixture:
    """Write a fake ``task`` set under ``root`` (the folder named like the release's)."""
    layout = TASKS[task].layout
    root = Path(root)
    rng = np.random.default_rng(seed)
    out = Fixture(root=root)

    def save(rel: str, pixels: np.ndarray) -> str:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(root / rel)
        return rel

    groups = [("train", 0, train), ("normal", 0, test[0]), ("abnormal", 1, test[1])]
    for group, label, n in groups:
        for i in range(n):
            pixels, mask = lesion_image(size, bool(label), rng)
            if layout == "json":
                rel = save(f"images/{group}_{i:04d}.png", pixels)
            elif layout == "brats":
                sub = {"train": "train", "normal": "test/normal", "abnormal": "test/tumor"}[group]
                rel = save(f"{sub}/BraTS2021_{i:05d}_flair_{70 + i}.png", pixels)
                if label:
                    mask_rel = f"test/annotation/BraTS2021_{i:05d}_seg_{70 + i}.png"
                    out.masks[rel] = save(mask_rel, mask.astype(np.uint8) * 255)
            else:
                sub = {"train": "train/good", "normal": "test/good", "abnormal": "test/Ungood"}
                rel = save(f"{sub[group]}/{group}_{i:04d}.png", pixels)
            {"train": out.train, "normal": out.test_normal, "abnormal": out.test_abnormal}[
                group
            ].append(rel)
    if layout == "json":
        names = {k: [p.split("/", 1)[1] for p in v] for k, v in (
            ("train", out.train), ("n", out.test_normal), ("a", out.test_abnormal))}  # fmt: skip
        data = {"train": {"0": names["train"]}, "test": {"0": names["n"], "1": names["a"]}}
        (root / "data.json").write_text(json.dumps(data, indent=1))
    if corrupt:
        out.corrupt = out.train[0]
        (root / out.corrupt).write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(rng.integers(0, 256, 300)))
    return out


def main(argv: list[str] | None = None) -> None:
    """``python -m anobench_medianomaly.fixture ROOT [--task T]``: write a fake set."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m anobench_medianomaly.fixture",
        description="Write a fake MedIAnomaly set (generated images, the released layout); then"
        " run with --dataset-opt root=ROOT --dataset-opt task=TASK.",
    )
    parser.add_argument("root", metavar="ROOT", nargs="?", default="fake-medianomaly")
    parser.add_argument("--task", choices=tuple(TASKS), default="rsna")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    made = make_fixture(args.root, task=args.task, seed=args.seed)
    print(
        f"wrote a fake MedIAnomaly {args.task} set ({len(made.train)} train,"
        f" {len(made.test_normal)} + {len(made.test_abnormal)} test) to {made.root}"
    )


if __name__ == "__main__":  # pragma: no cover - a convenience for users
    main()
