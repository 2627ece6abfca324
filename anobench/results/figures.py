"""Figure panels (input, translation or reconstruction, anomaly map, ground truth) and curves.

``panel_figure`` and ``curves_figure`` build the matplotlib figures (tests look inside them);
``panel`` and ``curves`` save them as the run's ``panel.png`` and ``curves.png``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..api.records import Predictions, Split

#: extras shown between the input and the map, in this order, when a method returns them
IMAGE_EXTRAS = ("healthy_translation", "diseased_translation", "reconstruction")


#: class names of datasets that do not declare their own
CLASS_NAMES = ("healthy", "diseased")
#: the rows ``pick_examples`` chooses per class, easiest first, and how it chooses them
PICKS = ("easiest", "median", "hardest")
HOW_PICKED = (
    "rows: each class's easiest, median and hardest test image by score (label 0: low score"
    " easy; label 1: high score easy)"
)


def pick_examples(split: Split, scores: np.ndarray | None = None) -> list[int]:
    """Per class the easiest, median and hardest test image by score (``PICKS``), so a panel
    shows what the method gets right and where it fails; without scores the first three."""
    labels = np.asarray(split.labels)
    chosen: list[int] = []
    for cls in (0, 1):
        rows = np.flatnonzero(labels == cls)
        if scores is None or len(rows) == 0:
            chosen.extend(rows[: len(PICKS)].tolist())
            continue
        hard = np.asarray(scores, dtype=np.float64)[rows] * (1 if cls == 0 else -1)
        order = rows[np.argsort(hard, kind="stable")]
        picks = [order[0], order[len(order) // 2], order[-1]] if len(order) >= 3 else order
        chosen.extend(int(i) for i in picks)
    return chosen


def _roles(labels: np.ndarray) -> list[str]:
    """The word of each row ``pick_examples`` chose, from its class's row count."""
    words = {3: PICKS, 2: (PICKS[0], PICKS[-1]), 1: ("only one",)}
    counts = {c: int((labels == c).sum()) for c in (0, 1)}
    return [words[counts[c]][int((labels[:k] == c).sum())] for k, c in enumerate(labels)]


def _gray(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img, dtype=np.float32)
    return img.mean(axis=0) if img.ndim == 3 else img


#: colour of the ground-truth outline drawn over the anomaly maps
OUTLINE = "cyan"


def map_scale(maps: np.ndarray) -> tuple[float, float]:
    """One colour range for all maps shown: from 0 (or a lower minimum) to their 99.5th
    percentile, so one bright outlier pixel does not wash out every other map."""
    low = min(0.0, float(np.min(maps)))
    high = float(np.percentile(maps, 99.5))
    return low, high if high > low else low + 1.0


def panel_figure(
    split: Split,
    pred: Predictions,
    title: str,
    index: Sequence[int],
    names: Sequence[str] = CLASS_NAMES,
    roles: Sequence[str] | None = None,
) -> Figure:
    """Rows of images; the anomaly maps share one colour bar and show the ground-truth outline.

    ``names``: what label 0 and 1 are called; ``roles``: a word per row (``easiest``, ...)."""
    extras = [k for k in IMAGE_EXTRAS if k in pred.extras]
    columns: list[tuple[str, Any]] = [("input", lambda i: _gray(split.images[i]))]
    columns += [(k.replace("_", " "), lambda i, k=k: _gray(pred.extras[k][i])) for k in extras]
    if pred.maps is not None:
        columns.append(("anomaly map", lambda i: pred.maps[i]))
    if split.masks is not None:
        columns.append(("ground truth", lambda i: split.masks[i].astype(np.float32)))
    rows = max(len(index), 1)
    fig, axes = plt.subplots(
        rows,
        len(columns),
        figsize=(2.2 * len(columns) + 0.8, 2.2 * rows + 0.4),
        squeeze=False,
        layout="constrained",
    )
    low, high = map_scale(pred.maps[list(index)]) if pred.maps is not None and index else (0, 1)
    shown = None
    for r, i in enumerate(index):
        label = names[int(split.labels[i] == 1)]
        if roles is not None:
            label = f"{label}, {roles[r]}"
        for c, (name, get) in enumerate(columns):
            ax = axes[r][c]
            if name == "anomaly map":
                shown = ax.imshow(get(i), cmap="inferno", vmin=low, vmax=high)
                mask = None if split.masks is None else split.masks[i]
                if mask is not None and mask.any():
                    ax.contour(mask.astype(np.float32), levels=[0.5], colors=OUTLINE, linewidths=1)
            elif name == "ground truth":
                ax.imshow(get(i), cmap="gray", vmin=0, vmax=1)
            else:
                ax.imshow(get(i), cmap="gray", vmin=-1, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                outlined = name == "anomaly map" and split.masks is not None
                heading = f"{name}\n({OUTLINE}: ground truth)" if outlined else name
                ax.set_title(heading, fontsize=8)
            if c == 0:
                ax.set_ylabel(f"{label}\nscore {pred.scores[i]:.3g}", fontsize=8)
    if shown is not None:
        col = [name for name, _ in columns].index("anomaly map")
        bar = fig.colorbar(shown, ax=axes[:, col].tolist(), shrink=0.9)
        bar.set_label(
            f"one scale for all rows: {low:.3g} to {high:.3g}"
            "\n(99.5th percentile, above it clipped)",
            fontsize=7,
        )
        bar.ax.tick_params(labelsize=7)
    fig.suptitle(title, fontsize=10)
    return fig


def panel(
    split: Split,
    pred: Predictions,
    path: Path,
    title: str,
    index: Sequence[int] | None = None,
    names: Sequence[str] = CLASS_NAMES,
) -> Path:
    roles = None
    if index is None:
        index = pick_examples(split, pred.scores)
        roles = _roles(np.asarray(split.labels)[index])
    fig = panel_figure(split, pred, title, list(index), names, roles)
    if roles is not None:
        fig.supxlabel(
            HOW_PICKED.replace("label 0", names[0]).replace("label 1", names[1]), fontsize=7
        )
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def stage_spans(
    stages: Sequence[Mapping[str, Any]], last_step: int
) -> list[tuple[str, float, float]]:
    """``(name, from, to)`` in step coordinates: a stage holds the logged steps after its start up
    to the next stage's start, so its span runs half a step either side of them."""
    spans = []
    for k, stage in enumerate(stages):
        end = stages[k + 1]["start"] if k + 1 < len(stages) else last_step
        if end > stage["start"]:
            spans.append((str(stage["name"]), stage["start"] + 0.5, end + 0.5))
    return spans


def curves_figure(
    history: Sequence[dict[str, float]], title: str, stages: Sequence[Mapping[str, Any]] = ()
) -> Figure | None:
    """Every logged series over one step axis; earlier stages shaded, each stage named."""
    if not history:
        return None
    keys = sorted({k for row in history for k in row if k != "step"})
    fig, axes = plt.subplots(
        len(keys), 1, figsize=(6, 1.8 * len(keys) + 0.4), squeeze=False, sharex=True
    )
    spans = stage_spans(stages, max(int(row["step"]) for row in history))
    for ax, key in zip(axes[:, 0], keys, strict=True):
        pts = [(row["step"], row[key]) for row in history if key in row]
        # sparse series (e.g. one validation loss at the end) are invisible as a bare line
        ax.plot([p[0] for p in pts], [p[1] for p in pts], lw=1, marker="o" if len(pts) < 20 else "")
        ax.set_ylabel(key, fontsize=8)
        if len(spans) > 1:
            for name, a, b in spans[:-1]:
                ax.axvspan(a, b, color="0.85", zorder=0, label=name)
            for _, a, _ in spans[1:]:
                ax.axvline(a, color="0.4", lw=1, ls="--")
    if len(spans) > 1:
        top = axes[0, 0]
        for name, a, b in spans:
            top.text(
                (a + b) / 2, 0.96, name, transform=top.get_xaxis_transform(),
                ha="center", va="top", fontsize=7, color="0.25",
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 1},
            )  # fmt: skip
    axes[-1, 0].xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[-1, 0].set_xlabel("step (one counter across all training stages)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def curves(
    history: Sequence[dict[str, float]],
    path: Path,
    title: str,
    stages: Sequence[Mapping[str, Any]] = (),
) -> Path | None:
    """Training curves from ``RunContext.log`` rows; ``None`` when nothing was logged."""
    fig = curves_figure(history, title, stages)
    if fig is None:
        return None
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
