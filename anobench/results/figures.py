"""Figure panels (input, translation or reconstruction, anomaly map, ground truth) and curves."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from ..api.records import Predictions, Split

#: extras shown between the input and the map, in this order, when a method returns them
IMAGE_EXTRAS = ("healthy_translation", "diseased_translation", "reconstruction")


def pick_examples(split: Split, per_class: int = 3) -> list[int]:
    """The first few test images of each class (stable across runs and methods)."""
    labels = np.asarray(split.labels)
    chosen: list[int] = []
    for cls in (0, 1):
        chosen.extend(np.flatnonzero(labels == cls)[:per_class].tolist())
    return chosen


def _gray(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img, dtype=np.float32)
    return img.mean(axis=0) if img.ndim == 3 else img


def panel(
    split: Split, pred: Predictions, path: Path, title: str, index: Sequence[int] | None = None
) -> Path:
    index = list(pick_examples(split) if index is None else index)
    extras = [k for k in IMAGE_EXTRAS if k in pred.extras]
    columns: list[tuple[str, Any]] = [("input", lambda i: _gray(split.images[i]))]
    columns += [(k.replace("_", " "), lambda i, k=k: _gray(pred.extras[k][i])) for k in extras]
    if pred.maps is not None:
        columns.append(("anomaly map", lambda i: pred.maps[i]))
    if split.masks is not None:
        columns.append(("ground truth", lambda i: split.masks[i].astype(np.float32)))
    rows = max(len(index), 1)
    fig, axes = plt.subplots(
        rows, len(columns), figsize=(2.2 * len(columns), 2.2 * rows), squeeze=False
    )
    vmax = float(np.percentile(pred.maps[index], 99.5)) if pred.maps is not None and index else 1
    for r, i in enumerate(index):
        label = "diseased" if split.labels[i] == 1 else "healthy"
        for c, (name, get) in enumerate(columns):
            ax = axes[r][c]
            if name == "anomaly map":
                ax.imshow(get(i), cmap="inferno", vmin=0 if vmax > 0 else None, vmax=vmax or None)
            elif name == "ground truth":
                ax.imshow(get(i), cmap="gray", vmin=0, vmax=1)
            else:
                ax.imshow(get(i), cmap="gray", vmin=-1, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(name, fontsize=9)
            if c == 0:
                ax.set_ylabel(f"{label}\nscore {pred.scores[i]:.3g}", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def curves(history: Sequence[dict[str, float]], path: Path, title: str) -> Path | None:
    """Training curves from ``RunContext.log`` rows; ``None`` when nothing was logged."""
    if not history:
        return None
    keys = sorted({k for row in history for k in row if k != "step"})
    fig, axes = plt.subplots(len(keys), 1, figsize=(6, 1.8 * len(keys)), squeeze=False)
    for ax, key in zip(axes[:, 0], keys, strict=True):
        pts = [(row["step"], row[key]) for row in history if key in row]
        # sparse series (e.g. one validation loss at the end) are invisible as a bare line
        ax.plot([p[0] for p in pts], [p[1] for p in pts], lw=1, marker="o" if len(pts) < 20 else "")
        ax.set_ylabel(key, fontsize=8)
    axes[-1, 0].set_xlabel("step")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
