"""The curves behind a leaderboard table, read from each run's stored evidence (no new run).

Every row of a table is a method configuration with one run per seed. Scores of different seeds
need not share a scale (a retrained model can score on another range), so pooling them would
draw a curve no run produced. Each row is shown by one run instead: its *median seed*, the run
whose primary metric is the median of the row's runs (the lower of the two middle runs for an
even count, ties broken by seed). The stored metrics of that run are what its curves integrate
to.

Image-level ROC / precision-recall curves are exact, from the stored (score, label) pairs;
pixel-level ones come from the stored per-image pixel histograms, pooled over the test images,
with the pixels of one bin treated as tied (so their area is the binned pooled AUROC / AP the
bootstrap uses, within a hair of the exact stored value).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import stats
from .leaderboard import Row, Table
from .resampling import Evidence
from .store import Store

#: how the run drawn for a row is chosen (for captions)
CHOICE = "median seed by {metric} (the lower middle run for an even number of seeds)"


@dataclass(frozen=True)
class Shown:
    """The run that stands for one row in the curve plots, with its evidence (``None``: the
    run stored none, ``note`` says why)."""

    label: str
    run_id: str
    seed: int
    evidence: Evidence | None
    note: str | None = None


@dataclass(frozen=True)
class Curve:
    """Points of one curve, in drawing order; ``x``/``y`` lie in [0, 1]."""

    x: np.ndarray
    y: np.ndarray


def median_run(store: Store, row: Row, metric: str) -> tuple[str, int]:
    """``(run_id, seed)`` of the row's median-seed run by ``metric`` (undefined values last)."""
    found = []
    for run_id, seed in zip(row.run_ids, _seeds(store, row), strict=True):
        stored = store.metric_details(run_id, metric)
        value = math.nan if stored is None else stored[0]
        found.append((math.isnan(value), value if not math.isnan(value) else 0.0, seed, run_id))
    found.sort()
    defined = [f for f in found if not f[0]] or found
    _, _, seed, run_id = defined[(len(defined) - 1) // 2]
    return run_id, seed


def _seeds(store: Store, row: Row) -> list[int]:
    return [store.get_run(run_id).spec.seed for run_id in row.run_ids]


def shown_runs(store: Store, table: Table) -> list[Shown]:
    """One run per row of ``table`` (rank order), with its evidence loaded."""
    out = []
    for row in table.rows:
        run_id, seed = median_run(store, row, table.primary_metric)
        blob = store.evidence(run_id)
        note = None if blob is not None else "the run stored no evidence"
        ev = None if blob is None else Evidence.from_bytes(blob)
        out.append(Shown(row.label, run_id, seed, ev, note))
    return out


def _at_or_above(sorted_values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    return len(sorted_values) - np.searchsorted(sorted_values, thresholds, side="left")


def _image_counts(ev: Evidence) -> tuple[np.ndarray, np.ndarray] | None:
    """True and false positives at every distinct score, from the highest down."""
    labels = np.asarray(ev.labels) == 1
    scores = np.asarray(ev.scores, dtype=np.float64)
    if labels.all() or not labels.any():
        return None
    thresholds = np.unique(scores)[::-1]
    tp = _at_or_above(np.sort(scores[labels]), thresholds)
    fp = _at_or_above(np.sort(scores[~labels]), thresholds)
    return tp.astype(np.float64), fp.astype(np.float64)


def _pixel_counts(ev: Evidence) -> tuple[np.ndarray, np.ndarray] | None:
    """Pooled anomalous / normal pixels at or above each bin, from the highest bin down."""
    if not ev.has_pixels:
        return None
    tp = stats.from_top(ev.pos.sum(axis=0, dtype=np.int64))[::-1].astype(np.float64)
    fp = stats.from_top(ev.neg.sum(axis=0, dtype=np.int64))[::-1].astype(np.float64)
    if tp[-1] == 0 or fp[-1] == 0:
        return None
    return tp, fp


def _roc(counts: tuple[np.ndarray, np.ndarray] | None) -> Curve | None:
    if counts is None:
        return None
    tp, fp = counts
    return Curve(np.concatenate([[0.0], fp / fp[-1]]), np.concatenate([[0.0], tp / tp[-1]]))


def _pr(counts: tuple[np.ndarray, np.ndarray] | None) -> Curve | None:
    """Recall / precision points; drawn as steps (``steps-pre``) their area is the AP."""
    if counts is None:
        return None
    tp, fp = counts
    keep = tp + fp > 0
    tp, fp = tp[keep], fp[keep]
    precision = tp / (tp + fp)
    return Curve(np.concatenate([[0.0], tp / tp[-1]]), np.concatenate([precision[:1], precision]))


def image_roc(ev: Evidence) -> Curve | None:
    """False / true positive rates at every score threshold; ``None`` with one class only."""
    return _roc(_image_counts(ev))


def image_pr(ev: Evidence) -> Curve | None:
    return _pr(_image_counts(ev))


def pixel_roc(ev: Evidence) -> Curve | None:
    """``None`` when the run stored no pixel histograms or a pixel class is absent."""
    return _roc(_pixel_counts(ev))


def pixel_pr(ev: Evidence) -> Curve | None:
    return _pr(_pixel_counts(ev))


def roc_area(curve: Curve) -> float:
    """Trapezoidal area (ties as diagonal segments: the AUROC with ties counted half)."""
    return float(np.sum(np.diff(curve.x) * (curve.y[1:] + curve.y[:-1]) / 2))


def pr_area(curve: Curve) -> float:
    """Area under the step curve: average precision."""
    return float(np.sum(np.diff(curve.x) * curve.y[1:]))
