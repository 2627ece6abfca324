"""Exact ranking metrics (AUROC, average precision, best thresholds) from sorted score arrays.

Every function here splits the scores into the scores of the positives and of the negatives, sorts
both in place (numpy's SIMD sort) and reads all the counts it needs with ``searchsorted`` on the
distinct positive score values. Nothing is ever upcast or argsorted, so pooled pixel metrics over
tens of millions of pixels need about one extra copy of the inputs (4 bytes per float32 score plus
a transient bool mask) and a fraction of a second per sort.

Conventions shared by every function:

* ``labels``: bool, or integers/floats that are all 0 or 1; 1 / True = positive (anomalous).
* ``scores``: real numbers of the same shape, higher = more anomalous. Any shape is accepted; the
  arrays are never raveled or copied beyond the positive/negative split. float32 stays float32.
* NaN scores raise :class:`ScoreError` (a ``ValueError``). Infinite scores are ordinary values.
* A prediction at threshold ``t`` is ``score >= t``.
* Counts are int64 / Python ints; float64 is used only for the final sums.
* With a single class present (or no samples), a metric that needs both classes returns NaN;
  :func:`single_class_reason` says why, in words suitable for ``MetricResult.undefined``.

Results agree with scikit-learn's ``roc_auc_score`` and ``average_precision_score`` (ties
included) up to floating-point rounding (far below 1e-9).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from ..api.thresholds import at_or_above

__all__ = [
    "BestDice",
    "BestThreshold",
    "RankedScores",
    "RankingScores",
    "ScoreError",
    "average_precision",
    "best_balanced_accuracy_threshold",
    "best_dice",
    "dice_at",
    "ranking_metrics",
    "roc_auc",
    "single_class_reason",
]

#: number of sorted elements handled per vectorised step (bounds the temporaries)
CHUNK = 1 << 18


class ScoreError(ValueError):
    """Scores that cannot be ranked (NaN, complex, non-numeric)."""


class BestDice(NamedTuple):
    """The maximum pooled Dice over all thresholds and the threshold that reaches it."""

    dice: float
    threshold: float


class BestThreshold(NamedTuple):
    """A threshold chosen by maximising balanced accuracy, and that balanced accuracy."""

    threshold: float
    balanced_accuracy: float


class RankingScores(NamedTuple):
    """AUROC and average precision from one sort."""

    roc_auc: float
    average_precision: float


# ---------------------------------------------------------------------------------------------
# input handling


def as_binary_labels(labels: np.ndarray) -> np.ndarray:
    """``labels`` as a bool array (a view when it already is one); anything but 0/1 is an error."""
    arr = np.asarray(labels)
    if arr.dtype == np.bool_:
        return arr
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"labels must be bool or 0/1 numbers, got dtype {arr.dtype}")
    if arr.size and not np.all((arr == 0) | (arr == 1)):
        raise ValueError("labels must be binary (0/1 or bool)")
    return arr != 0


def as_scores(scores: np.ndarray) -> np.ndarray:
    """``scores`` as a real-valued array, keeping its dtype (float32 stays float32)."""
    arr = np.asarray(scores)
    kind = arr.dtype.kind
    if kind == "b":
        return arr.view(np.uint8)
    if kind in "iuf":
        return arr
    if kind == "c":
        raise ScoreError("scores must be real numbers, got complex values")
    try:
        return arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ScoreError(f"scores must be numbers, got dtype {arr.dtype}") from exc


def single_class_reason(labels: np.ndarray) -> str | None:
    """Why a two-class metric is undefined for ``labels``, or ``None`` when both classes occur."""
    arr = as_binary_labels(labels)
    n = arr.size
    if n == 0:
        return "no samples"
    n_pos = int(np.count_nonzero(arr))
    if n_pos == 0:
        return "only one class present: no positive (anomalous) samples"
    if n_pos == n:
        return "only one class present: no negative (normal) samples"
    return None


def _sorted_runs(
    arr: np.ndarray, chunk: int | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Runs of equal values of a sorted 1-D array, in ascending order, a chunk at a time.

    Yields ``(first, counts, values)``: ``first`` is the index of each run's first element in
    ``arr``, ``counts`` its length, ``values`` its value. A chunk always ends at a run boundary,
    so no run is split between two chunks.
    """
    chunk = chunk or CHUNK
    n = arr.size
    a = 0
    while a < n:
        end = min(a + chunk, n)
        if end < n:
            end = int(np.searchsorted(arr, arr[end - 1], side="right"))
        part = arr[a:end]
        change = np.flatnonzero(part[1:] != part[:-1])
        starts = np.empty(change.size + 1, dtype=np.int64)
        starts[0] = 0
        starts[1:] = change + 1
        counts = np.diff(starts, append=part.size)
        yield a + starts, counts, part[starts]
        a = end


# ---------------------------------------------------------------------------------------------
# the sorted split


class RankedScores:
    """The scores of the positives and of the negatives, each sorted ascending.

    Build it once (``RankedScores.from_arrays(labels, scores)``) and read any number of metrics;
    each metric is one pass over the runs of distinct positive score values.
    """

    __slots__ = ("_scan", "neg", "pos")

    def __init__(self, pos: np.ndarray, neg: np.ndarray) -> None:
        """``pos`` and ``neg``: 1-D arrays sorted ascending, without NaN (not checked)."""
        self.pos = pos
        self.neg = neg
        self._scan: dict[str, float] | None = None

    @classmethod
    def from_arrays(cls, labels: np.ndarray, scores: np.ndarray) -> RankedScores:
        mask = as_binary_labels(labels)
        values = as_scores(scores)
        if mask.shape != values.shape:
            raise ValueError(f"labels {mask.shape} and scores {values.shape} differ in shape")
        pos = values[mask]  # boolean indexing copies: these arrays are ours to sort
        inverse = np.logical_not(mask)
        neg = values[inverse]
        del inverse
        pos.sort()
        neg.sort()
        if values.dtype.kind == "f" and (
            (pos.size and np.isnan(pos[-1])) or (neg.size and np.isnan(neg[-1]))
        ):  # NaN sorts last
            raise ScoreError("scores contain NaN")
        return cls(pos, neg)

    @property
    def n_pos(self) -> int:
        return int(self.pos.size)

    @property
    def n_neg(self) -> int:
        return int(self.neg.size)

    def reason(self) -> str | None:
        """Why two-class metrics are undefined here, or ``None``."""
        if self.n_pos + self.n_neg == 0:
            return "no samples"
        if self.n_pos == 0:
            return "only one class present: no positive (anomalous) samples"
        if self.n_neg == 0:
            return "only one class present: no negative (normal) samples"
        return None

    # one pass over the distinct positive values computes every quantity
    def _scanned(self) -> dict[str, float]:
        if self._scan is not None:
            return self._scan
        pos, neg = self.pos, self.neg
        n_pos, n_neg = self.n_pos, self.n_neg
        mw = 0  # 2 x Mann-Whitney U, exact Python int
        ap = 0.0
        best_dice, dice_t = -math.inf, math.nan
        best_j, j_t = -math.inf, math.nan
        for first, counts, values in _sorted_runs(pos):
            below = np.searchsorted(neg, values, side="left")  # negatives < t
            upto = np.searchsorted(neg, values, side="right")  # negatives <= t
            mw += int(np.dot(counts, below + upto))
            tp = n_pos - first  # positives >= t
            fp = n_neg - below  # negatives >= t
            ap += float(np.dot(counts, tp / (tp + fp)))
            dice = 2.0 * tp / (tp + fp + n_pos)
            i = _last_argmax(dice)
            if dice[i] >= best_dice:  # later chunks hold higher thresholds: ties -> highest t
                best_dice, dice_t = float(dice[i]), float(values[i])
            if n_neg:
                youden = tp / n_pos - fp / n_neg
                i = _last_argmax(youden)
                if youden[i] >= best_j:
                    best_j, j_t = float(youden[i]), float(values[i])
        two_class = n_pos > 0 and n_neg > 0
        self._scan = {
            "roc_auc": mw / (2 * n_pos * n_neg) if two_class else math.nan,
            "average_precision": ap / n_pos if two_class else math.nan,
            "dice": best_dice if n_pos else math.nan,
            "dice_threshold": dice_t,
            "balanced_accuracy": 0.5 + 0.5 * best_j if two_class else math.nan,
            "balanced_accuracy_threshold": j_t if two_class else math.nan,
        }
        return self._scan

    def roc_auc(self) -> float:
        """Area under the ROC curve (ties count one half); NaN with a single class."""
        return self._scanned()["roc_auc"]

    def average_precision(self) -> float:
        """Step-wise average precision, as scikit-learn; NaN with a single class."""
        return self._scanned()["average_precision"]

    def best_dice(self) -> BestDice:
        """Maximum pooled Dice over all thresholds; NaN without positives."""
        scan = self._scanned()
        return BestDice(scan["dice"], scan["dice_threshold"])

    def best_balanced_accuracy(self) -> BestThreshold:
        """Threshold maximising balanced accuracy; NaN with a single class."""
        scan = self._scanned()
        return BestThreshold(scan["balanced_accuracy_threshold"], scan["balanced_accuracy"])


def _last_argmax(values: np.ndarray) -> int:
    """Index of the last maximum (the highest threshold among equally good ones)."""
    return int(values.size - 1 - np.argmax(values[::-1]))


# ---------------------------------------------------------------------------------------------
# functional API


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Exact area under the ROC curve (= Mann-Whitney U / (n_pos * n_neg), ties count 1/2).

    Equals ``sklearn.metrics.roc_auc_score``. NaN when only one class is present (see
    :func:`single_class_reason`); :class:`ScoreError` when a score is NaN.
    """
    return RankedScores.from_arrays(labels, scores).roc_auc()


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Exact average precision: sum over distinct positive score values ``t`` of
    ``(#positives == t / n_pos) * precision(score >= t)``.

    Equals ``sklearn.metrics.average_precision_score`` (ties grouped as there). NaN when only one
    class is present (scikit-learn would return 1.0 without negatives and 0.0 without positives).
    """
    return RankedScores.from_arrays(labels, scores).average_precision()


def ranking_metrics(labels: np.ndarray, scores: np.ndarray) -> RankingScores:
    """AUROC and average precision together, from a single split and sort."""
    ranked = RankedScores.from_arrays(labels, scores)
    return RankingScores(ranked.roc_auc(), ranked.average_precision())


def best_dice(labels: np.ndarray, scores: np.ndarray) -> BestDice:
    """Exact maximum over all thresholds ``t`` of pooled Dice ``2TP / (2TP + FP + FN)`` of
    ``scores >= t``.

    The maximum is always reached at a distinct score value of a positive, so those are the only
    candidates; with several equally good thresholds the highest is returned. ``(nan, nan)`` when
    there is no positive (Dice is then 0 or undefined at every threshold).
    """
    return RankedScores.from_arrays(labels, scores).best_dice()


def dice_at(
    labels: np.ndarray, scores: np.ndarray, threshold: float, *, empty_value: float = 1.0
) -> float:
    """Pooled Dice of the prediction ``scores >= threshold`` against ``labels``.

    When both the labels and the prediction are empty, Dice is 0/0; ``empty_value`` (default 1.0:
    perfect agreement on "nothing there") is returned instead.
    """
    mask = as_binary_labels(labels)
    values = as_scores(scores)
    if mask.shape != values.shape:
        raise ValueError(f"labels {mask.shape} and scores {values.shape} differ in shape")
    if values.dtype.kind == "f" and math.isnan(threshold):
        raise ScoreError("threshold is NaN")
    pred = at_or_above(values, threshold)
    n_pred = int(np.count_nonzero(pred))
    n_true = int(np.count_nonzero(mask))
    np.logical_and(pred, mask, out=pred)
    tp = int(np.count_nonzero(pred))
    if n_pred + n_true == 0:
        return float(empty_value)
    return 2.0 * tp / (n_pred + n_true)


def best_balanced_accuracy_threshold(labels: np.ndarray, scores: np.ndarray) -> BestThreshold:
    """The threshold ``t`` maximising balanced accuracy (equivalently Youden's J) of ``score >= t``.

    Candidates are the distinct scores of the positives (the optimum is always one of them).
    Tie-break: among equally good thresholds the **highest** is returned, which is also the
    highest threshold that gives the optimal classification of these samples. Returns
    ``BestThreshold(threshold, balanced_accuracy)``; both NaN when only one class is present.
    """
    return RankedScores.from_arrays(labels, scores).best_balanced_accuracy()
