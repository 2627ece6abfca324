"""What a run keeps so its pooled metrics can be recomputed on resampled test images.

A mean over images (``image_accuracy``, ``pixel_auroc_per_image``) is resampled from its stored
per-image values. Pooled metrics are not means over images, so each run also stores *evidence*:

* image level: every test image's id, label and score; image AUROC, AP and balanced accuracy
  are recomputed exactly on resampled (score, label) pairs;
* pixel level: for every test image, the counts of its anomalous and normal pixels in K shared
  ascending score bins. Pooled pixel AUROC / AP are recomputed with the pixels of a bin treated
  as tied; the bin edges include every pixel threshold a metric reported (Dice), so pooled Dice
  at that threshold is recomputed exactly.

A metric names its recipe in ``Metric.resample`` (one of
``anobench.api.interfaces.RESAMPLE_RECIPES``);
the recipes are the functions in ``RECIPES``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..api.records import DISEASED, Predictions, Split
from . import stats

#: score bins per pooled-pixel histogram (half from all pixels, half from anomalous pixels)
BINS = 1024
#: pixels sampled to place the bin edges (edges need only follow the distribution)
EDGE_SAMPLE = 2_000_000


@dataclass(frozen=True)
class Evidence:
    """Per-image inputs of a run's pooled metrics; ``pos``/``neg`` are ``[N, K]`` pixel counts."""

    ids: tuple[str, ...]
    labels: np.ndarray
    scores: np.ndarray
    edges: np.ndarray | None = None
    pos: np.ndarray | None = None
    neg: np.ndarray | None = None

    @property
    def has_pixels(self) -> bool:
        return self.edges is not None

    def to_bytes(self) -> bytes:
        arrays: dict[str, np.ndarray] = {
            "ids": np.array(self.ids, dtype=str),
            "labels": np.asarray(self.labels, dtype=np.int8),
            "scores": np.asarray(self.scores, dtype=np.float64),
        }
        if self.has_pixels:
            top = max(int(self.pos.max(initial=0)), int(self.neg.max(initial=0)))
            dtype = np.uint16 if top < 2**16 else np.uint32
            arrays.update(edges=self.edges, pos=self.pos.astype(dtype), neg=self.neg.astype(dtype))
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Evidence:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            pixels = "edges" in z.files
            return cls(
                ids=tuple(str(i) for i in z["ids"]),
                labels=z["labels"],
                scores=z["scores"],
                edges=z["edges"] if pixels else None,
                pos=z["pos"] if pixels else None,
                neg=z["neg"] if pixels else None,
            )

    def aligned(self, ids: Sequence[str]) -> Evidence | None:
        """The same evidence in the order of ``ids``; ``None`` when an id is missing."""
        where = {image_id: i for i, image_id in enumerate(self.ids)}
        try:
            order = np.array([where[i] for i in ids], dtype=np.int64)
        except KeyError:
            return None
        return Evidence(
            ids=tuple(ids),
            labels=self.labels[order],
            scores=self.scores[order],
            edges=self.edges,
            pos=None if self.pos is None else self.pos[order],
            neg=None if self.neg is None else self.neg[order],
        )


def pixel_edges(
    maps: np.ndarray, masks: np.ndarray, thresholds: Sequence[float] = ()
) -> np.ndarray:
    """Ascending bin edges: quantiles of all pixels and of anomalous pixels, plus ``thresholds``.

    The first edge is the lowest score, so every pixel falls in a bin; the last bin is open.
    """
    flat = maps.reshape(-1)
    stride = max(1, flat.size // EDGE_SAMPLE)
    q = np.linspace(0, 1, BINS // 2 + 1)
    parts = [np.quantile(flat[::stride], q), [float(flat.min())], np.asarray(thresholds, float)]
    positive = maps[masks]
    if positive.size:
        parts.append(np.quantile(positive[:: max(1, positive.size // EDGE_SAMPLE)], q))
    edges = np.unique(np.concatenate([np.asarray(p, dtype=np.float64) for p in parts]))
    return edges[np.isfinite(edges)]


def pixel_counts(
    maps: np.ndarray, masks: np.ndarray, edges: np.ndarray, chunk: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """Per image, anomalous and normal pixel counts in each bin ``[edges[k], edges[k+1])``."""
    n, k = len(maps), len(edges)
    pos = np.zeros((n, k), dtype=np.int64)
    neg = np.zeros((n, k), dtype=np.int64)
    for a in range(0, n, chunk):
        b = min(a + chunk, n)
        values = np.asarray(maps[a:b], dtype=np.float64).reshape(b - a, -1)
        bins = np.searchsorted(edges, values, side="right") - 1
        truth = np.asarray(masks[a:b]).reshape(b - a, -1).astype(np.int64)
        slot = (np.arange(b - a)[:, None] * 2 + truth) * k + bins
        counts = np.bincount(slot.ravel(), minlength=(b - a) * 2 * k).reshape(b - a, 2, k)
        neg[a:b], pos[a:b] = counts[:, 0], counts[:, 1]
    return pos, neg


def collect(split: Split, pred: Predictions, thresholds: Sequence[float] = ()) -> Evidence:
    """The evidence of one run's test predictions (pixel counts when maps and masks exist)."""
    labels = (np.asarray(split.labels) == DISEASED).astype(np.int8)
    scores = np.asarray(pred.scores, dtype=np.float64)
    if pred.maps is None or split.masks is None:
        return Evidence(split.ids, labels, scores)
    maps = np.asarray(pred.maps)
    if maps.dtype.kind != "f":
        maps = maps.astype(np.float32)
    # float maps keep their dtype: rounding float64 maps to float32 would move pixels across a
    # float64 threshold (pixel_counts bins them in float64)
    masks = np.asarray(split.masks, dtype=bool)
    edges = pixel_edges(maps, masks, thresholds)
    pos, neg = pixel_counts(maps, masks, edges)
    return Evidence(split.ids, labels, scores, edges, pos, neg)


# ---------------------------------------------------------------------------------------------
# recipes: a run's metric recomputed on B resampled test sets


class Resampled:
    """One run's evidence under a set of resamples (``index`` ``[B, N]``, aligned evidence)."""

    def __init__(self, evidence: Evidence, index: np.ndarray, weights: np.ndarray) -> None:
        self.evidence = evidence
        self.index = index
        self.weights = weights
        self._pixels: tuple[np.ndarray, np.ndarray] | None = None

    def image(self) -> tuple[np.ndarray, np.ndarray]:
        return self.evidence.scores[self.index], self.evidence.labels[self.index] == 1

    def curves(self) -> tuple[np.ndarray, np.ndarray]:
        """Pooled ``[B, K]`` pixel counts at or above each bin, per resample (cached).

        Counting is linear, so each resample's curve is the weighted sum of the images' curves.
        """
        if self._pixels is None:
            ev = self.evidence
            # only images with anomalous pixels contribute to the true-positive curve
            rows = np.flatnonzero(ev.pos.any(axis=1))
            tp = stats.from_top(ev.pos[rows].astype(np.float32))
            fp = stats.from_top(ev.neg.astype(np.float32))
            self._pixels = (self.weights[:, rows] @ tp, self.weights @ fp)
        return self._pixels

    def full_curves(self) -> tuple[np.ndarray, np.ndarray]:
        ev = self.evidence
        return stats.from_top(ev.pos.sum(axis=0)), stats.from_top(ev.neg.sum(axis=0))


Recipe = Callable[[Resampled, Mapping[str, Any], bool], np.ndarray]


def _image(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Recipe:
    def recipe(r: Resampled, details: Mapping[str, Any], full: bool) -> np.ndarray:
        if full:
            ev = r.evidence
            return fn(ev.scores[None], ev.labels[None] == 1)
        return fn(*r.image())

    return recipe


def _threshold_index(edges: np.ndarray, details: Mapping[str, Any]) -> int:
    threshold = details.get("threshold")
    if threshold is None:
        raise ValueError("the stored metric records no threshold")
    k = int(np.searchsorted(edges, float(threshold), side="left"))
    if k >= len(edges) or edges[k] != float(threshold):
        raise ValueError("the threshold is not a bin edge of the stored pixel counts")
    return k


def _pixel(fn: Callable[..., np.ndarray], thresholded: bool = False) -> Recipe:
    def recipe(r: Resampled, details: Mapping[str, Any], full: bool) -> np.ndarray:
        if not r.evidence.has_pixels:
            raise ValueError("the run stored no pixel counts (no maps or no masks)")
        tp, fp = r.full_curves() if full else r.curves()
        if thresholded:
            return np.atleast_1d(fn(tp, fp, _threshold_index(r.evidence.edges, details)))
        return np.atleast_1d(fn(tp, fp))

    return recipe


def _balanced_accuracy(r: Resampled, details: Mapping[str, Any], full: bool) -> np.ndarray:
    threshold = details.get("threshold")
    if threshold is None:
        raise ValueError("the stored metric records no threshold")
    ev = r.evidence
    scores, labels = (ev.scores[None], ev.labels[None] == 1) if full else r.image()
    return stats.balanced_accuracy_rows(scores, labels, float(threshold))


#: recipe name -> (function, how the resampled value is computed)
RECIPES: dict[str, tuple[Recipe, str]] = {
    "image_auroc": (_image(stats.auroc_rows), "exact, from (score, label) pairs"),
    "image_ap": (_image(stats.average_precision_rows), "exact, from (score, label) pairs"),
    "image_balanced_accuracy": (
        _balanced_accuracy,
        "exact, from (score, label) pairs at the stored validation threshold",
    ),
    "pixel_auroc": (_pixel(stats.auroc_from_curves), "pooled, from per-image pixel histograms"),
    "pixel_ap": (
        _pixel(stats.average_precision_from_curves),
        "pooled, from per-image pixel histograms",
    ),
    "pixel_dice": (
        _pixel(stats.dice_from_curves, thresholded=True),
        "pooled, exact at the stored validation threshold",
    ),
    "pixel_dice_oracle": (
        _pixel(stats.dice_from_curves),
        "pooled, best threshold re-searched on each resample's pixel histograms",
    ),
}


def replicate(
    recipe: str, resampled: Resampled, details: Mapping[str, Any], value: float
) -> np.ndarray:
    """The metric on every resample, shifted so the full test set gives the stored ``value``.

    The shift removes the (small) difference between binned and exact pooled pixel metrics, so
    the interval is centred like the exact value the leaderboard shows. Raises ``ValueError``
    with the reason when the recipe cannot run on this evidence.
    """
    fn = RECIPES[recipe][0]
    full = float(fn(resampled, details, True)[0])
    gap = value - full
    # a large gap means the evidence does not belong to this value: refuse rather than mislead
    if not np.isfinite(gap) or abs(gap) > 0.02:
        raise ValueError(f"recomputed value {full:.4f} does not match the stored {value:.4f}")
    return fn(resampled, details, False) + gap
