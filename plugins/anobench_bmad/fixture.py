"""A fake BMAD sub-benchmark in the exact released layout, for tests and dry runs.

Nothing here comes from BMAD: the images are drawn (an abnormal image carries a bright disc,
its mask). What is real is the layout of the README's trees: ``train/good/``, ``valid/`` and
``test/`` with ``good/`` and ``Ungood/``; for pixel-level tasks the images in ``img/`` and the
``Ungood`` masks (0/255 PNG) in ``label/`` with the same file names, named like BMAD's brain
slices (``00003_60.png``: volume, slice).

    python -m anobench_bmad.fixture /tmp/fake-bmad/Brain --task brain
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from anobench.testing import lesion_image

from .layout import FOLDERS, TASKS

COUNTS = {"train": (16, 0), "val": (4, 4), "test": (6, 6)}  # (good, Ungood)


@dataclass
class Fixture:
    root: Path
    images: dict[str, list[str]] = field(default_factory=dict)  # split -> relative paths
    masks: dict[str, str] = field(default_factory=dict)  # image -> mask, relative to the root
    corrupt: str | None = None


def make_fixture(
    root: str | Path,
    *,
    task: str = "brain",
    size: int = 40,
    seed: int = 0,
    corrupt: bool = True,
    counts: dict[str, tuple[int, int]] | None = None,
) -> Fixture:
    """Write a fake ``task`` release under ``root`` (``root`` holds train/, valid/, test/)."""
    spec = TASKS[task]
    root = Path(root)
    rng = np.random.default_rng(seed)
    out = Fixture(root=root)
    volume = 0
    for split, folder in FOLDERS.items():
        out.images[split] = []
        for cls, n in zip(("good", "Ungood"), (counts or COUNTS)[split], strict=True):
            for i in range(n):
                volume += 1
                name = f"{volume:05d}_{60 + i}.png"
                img_dir = Path(folder, cls, "img" if spec.masks else "")
                pixels, mask = lesion_image(size, cls == "Ungood", rng)
                (root / img_dir).mkdir(parents=True, exist_ok=True)
                Image.fromarray(pixels).save(root / img_dir / name)
                rel = (img_dir / name).as_posix()
                out.images[split].append(rel)
                if spec.masks and cls == "Ungood":
                    label = Path(folder, cls, "label", name)
                    (root / label).parent.mkdir(parents=True, exist_ok=True)
                    Image.fromarray(mask.astype(np.uint8) * 255).save(root / label)
                    out.masks[rel] = label.as_posix()
    if corrupt:
        out.corrupt = out.images["train"][0]
        (root / out.corrupt).write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(rng.integers(0, 256, 300)))
    return out


def main(argv: list[str] | None = None) -> None:
    """``python -m anobench_bmad.fixture ROOT [--task T]``: write a fake release."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m anobench_bmad.fixture",
        description="Write a fake BMAD sub-benchmark (generated images, the released layout);"
        " then run with --dataset-opt root=ROOT --dataset-opt task=TASK.",
    )
    parser.add_argument("root", metavar="ROOT", nargs="?", default="fake-bmad")
    parser.add_argument("--task", choices=tuple(TASKS), default="brain")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    made = make_fixture(args.root, task=args.task, seed=args.seed)
    sizes = ", ".join(f"{s} {len(v)}" for s, v in made.images.items())
    print(
        f"wrote a fake BMAD {args.task} release ({sizes}; {len(made.masks)} masks) to {made.root}"
    )


if __name__ == "__main__":  # pragma: no cover - a convenience for users
    main()
