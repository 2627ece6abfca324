"""Statistics for leaderboards: bootstrap intervals, paired tests, ranks (numpy + scipy, pure).

Every resampling function takes an index matrix ``[B, n]`` (one bootstrap resample per row) or a
weight matrix ``[B, n]`` (how often each item is drawn), so all B resamples are computed in one
vectorised pass and two methods can be resampled on exactly the same test images (paired).

Conventions: ``labels`` are bool or 0/1 with 1 = positive (diseased / anomalous pixel); scores are
"higher = more anomalous"; a prediction at threshold ``t`` is ``score >= t``. Pixel histograms
are ``[..., K]`` counts over ascending score bins; a bin is one tie group.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ..api.thresholds import at_or_above

#: default number of bootstrap resamples
RESAMPLES = 1000
#: coverage of the bootstrap intervals
CONFIDENCE = 0.95
#: fewest non-zero paired differences for which an exact two-sided Wilcoxon p can reach < 0.05
MIN_WILCOXON_PAIRS = 6
#: fewest seeds for which a std over seeds is shown without the few-seeds marker
MIN_SEEDS = 3
#: replicates that may be undefined (NaN) before an interval is refused
MAX_UNDEFINED_FRACTION = 0.01


class Interval(NamedTuple):
    """A percentile bootstrap interval, or NaNs and the reason there is none."""

    low: float
    high: float
    reason: str | None = None

    @property
    def defined(self) -> bool:
        return self.reason is None


class PairedTest(NamedTuple):
    """A paired test's two-sided p-value and its name; ``p`` is NaN when ``reason`` says why."""

    p: float
    test: str
    n: int
    reason: str | None = None


WILCOXON = "Wilcoxon signed-rank"
PAIRED_BOOTSTRAP = "paired bootstrap"


def generator(seed: int, *keys: str) -> np.random.Generator:
    """A generator seeded by ``seed`` and some names, so each quantity gets its own stream.

    The same table, metric and seed always draw the same resamples, whatever else is shown.
    """
    digest = hashlib.sha256("\x1f".join(keys).encode()).digest()
    return np.random.default_rng([seed, *np.frombuffer(digest[:16], dtype=np.uint32).tolist()])


# ---------------------------------------------------------------------------------------------
# resampling


def resample_indices(
    n: int, resamples: int, rng: np.random.Generator, strata: np.ndarray | None = None
) -> np.ndarray:
    """``[resamples, n]`` indices drawn with replacement; within each stratum when given.

    Stratified resampling keeps each stratum's size (e.g. the number of diseased images), so an
    image-level AUROC is defined in every resample.
    """
    if strata is None:
        return rng.integers(0, n, size=(resamples, n))
    strata = np.asarray(strata)
    if strata.shape != (n,):
        raise ValueError(f"strata must have shape ({n},), got {strata.shape}")
    out = np.empty((resamples, n), dtype=np.int64)
    for value in np.unique(strata):
        members = np.flatnonzero(strata == value)
        picks = rng.integers(0, members.size, size=(resamples, members.size))
        out[:, members] = members[picks]
    return out


def resample_weights(index: np.ndarray, n: int) -> np.ndarray:
    """How often each of ``n`` items is drawn in each resample: ``[B, n]`` float32 counts."""
    b = index.shape[0]
    flat = (index + n * np.arange(b)[:, None]).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n).astype(np.float32)


def percentile_interval(replicates: np.ndarray, confidence: float = CONFIDENCE) -> Interval:
    """The central ``confidence`` percentile interval of bootstrap replicates."""
    values = np.asarray(replicates, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if values.size == 0:
        return Interval(math.nan, math.nan, "no bootstrap resamples")
    undefined = 1 - finite.size / values.size
    if undefined > MAX_UNDEFINED_FRACTION:
        return Interval(
            math.nan,
            math.nan,
            f"the metric is undefined in {undefined:.0%} of the bootstrap resamples",
        )
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(finite, [tail, 100 - tail])
    return Interval(float(low), float(high))


def bootstrap_mean(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """The mean of ``values`` in each resample (``index`` from :func:`resample_indices`)."""
    return np.asarray(values, dtype=np.float64)[index].mean(axis=1)


# ---------------------------------------------------------------------------------------------
# ranking metrics, one value per row


def auroc_rows(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Exact AUROC of each row (ties count 1/2), as scikit-learn's ``roc_auc_score``."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    ranks = _scipy().rankdata(scores, axis=1)
    n_pos = labels.sum(axis=1).astype(np.float64)
    n_neg = labels.shape[1] - n_pos
    rank_sum = np.where(labels, ranks, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return np.where((n_pos > 0) & (n_neg > 0), auc, np.nan)


def average_precision_rows(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Exact average precision of each row, as scikit-learn's ``average_precision_score``.

    A group of tied scores is one threshold: its positives enter the recall step together, at
    the precision of the whole group.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    order = np.argsort(-scores, axis=1, kind="stable")
    s = np.take_along_axis(scores, order, axis=1)
    hits = np.take_along_axis(labels, order, axis=1)
    tp = np.cumsum(hits, axis=1)
    group_end = np.ones_like(hits)
    group_end[:, :-1] = s[:, 1:] != s[:, :-1]
    # true positives at the end of the previous tie group (tp never decreases along a row)
    at_ends = np.where(group_end, tp, 0)
    before = np.zeros_like(tp)
    before[:, 1:] = np.maximum.accumulate(at_ends, axis=1)[:, :-1]
    precision = tp / np.arange(1, s.shape[1] + 1)
    steps = np.where(group_end, (tp - before) * precision, 0.0).sum(axis=1)
    n_pos = tp[:, -1].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_pos > 0, steps / n_pos, np.nan)


def balanced_accuracy_rows(scores: np.ndarray, labels: np.ndarray, threshold: float) -> np.ndarray:
    """Mean of sensitivity and specificity of ``score >= threshold``, per row."""
    labels = np.asarray(labels).astype(bool)
    predicted = at_or_above(np.asarray(scores), threshold)
    n_pos = labels.sum(axis=1)
    n_neg = labels.shape[1] - n_pos
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = (predicted & labels).sum(axis=1) / n_pos
        tnr = (~predicted & ~labels).sum(axis=1) / n_neg
    return np.where((n_pos > 0) & (n_neg > 0), (tpr + tnr) / 2, np.nan)


# ---------------------------------------------------------------------------------------------
# ranking metrics from binned counts (pooled pixels), one value per row


def from_top(counts: np.ndarray) -> np.ndarray:
    """Counts at or above each bin (thresholds from the highest bin down): ``tp``/``fp`` curves.

    Resampling is linear, so resampled curves are ``weights @ from_top(per_image_counts)``.
    """
    counts = np.asarray(counts)
    return np.cumsum(counts[..., ::-1], axis=-1)[..., ::-1]


def _real(x: np.ndarray) -> np.ndarray:
    """Float32 stays float32 (resampled curves are large); integers become float64."""
    x = np.asarray(x)
    return x.astype(np.result_type(x.dtype, np.float32), copy=False)


def _below(curve: np.ndarray) -> np.ndarray:
    """The curve one bin higher (what lies strictly above each bin); 0 past the last bin."""
    out = np.zeros_like(curve)
    out[..., :-1] = curve[..., 1:]
    return out


def auroc_from_curves(tp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """AUROC from cumulative counts ``[..., K]`` (:func:`from_top`); pixels in a bin are tied."""
    tp = _real(tp)
    fp = _real(fp)
    above = _below(tp)
    n_pos, n_neg = tp[..., 0], fp[..., 0]
    pairs = np.einsum("...k,...k->...", fp - _below(fp), above + 0.5 * (tp - above))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n_pos > 0) & (n_neg > 0), pairs / (n_pos * n_neg), np.nan)


def average_precision_from_curves(tp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """Average precision from cumulative counts ``[..., K]``; each bin is one tie group."""
    tp = _real(tp)
    predicted = tp + _real(fp)
    # a bin without predictions has no positives either: its term is 0
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    n_pos = tp[..., 0]
    steps = np.einsum("...k,...k->...", tp - _below(tp), precision)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_pos > 0, steps / n_pos, np.nan)


def dice_from_curves(tp: np.ndarray, fp: np.ndarray, start: int | None = None) -> np.ndarray:
    """Pooled Dice of ``score >= edges[start]`` from cumulative counts; the best bin if None."""
    tp = _real(tp)
    fp = _real(fp)
    if start is not None:
        tp, fp, n_pos = tp[..., start], fp[..., start], tp[..., 0]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n_pos > 0, 2 * tp / (tp + fp + n_pos), np.nan)
    n_pos = tp[..., :1]
    with np.errstate(invalid="ignore", divide="ignore"):
        dice = 2 * tp / (tp + fp + n_pos)
    # a threshold above every score predicts nothing: Dice 0, so the best is never below 0
    best = np.maximum(dice.max(axis=-1), 0.0)
    return np.where(n_pos[..., 0] > 0, best, np.nan)


# ---------------------------------------------------------------------------------------------
# paired tests


def wilcoxon(best: np.ndarray, other: np.ndarray) -> PairedTest:
    """Two-sided Wilcoxon signed-rank test of paired values (scipy), or why it was not run.

    Pairs with a NaN on either side are dropped; zero differences are dropped (Wilcoxon's
    convention), and scipy's ``wilcoxon`` runs on the remaining differences.
    """
    best = np.asarray(best, dtype=np.float64)
    other = np.asarray(other, dtype=np.float64)
    keep = np.isfinite(best) & np.isfinite(other)
    diff = best[keep] - other[keep]
    n = int(np.count_nonzero(diff))
    if keep.sum() == 0:
        return PairedTest(math.nan, WILCOXON, 0, "no paired per-image values")
    if n == 0:
        return PairedTest(math.nan, WILCOXON, 0, "all paired per-image differences are zero")
    if n < MIN_WILCOXON_PAIRS:
        return PairedTest(
            math.nan,
            WILCOXON,
            n,
            f"only {n} non-zero paired differences (needs {MIN_WILCOXON_PAIRS})",
        )
    # dropped here rather than by scipy, which switches to the normal approximation when zeros
    # are present; without them small samples get the exact distribution
    result = _scipy().wilcoxon(diff[diff != 0])
    return PairedTest(float(result.pvalue), WILCOXON, n)


def paired_bootstrap(best: np.ndarray, other: np.ndarray, higher_is_better: bool) -> PairedTest:
    """Two-sided bootstrap p-value of the difference ``best - other`` (0 = no difference).

    ``best`` and ``other`` are the two methods' metric values on the same resampled test sets.
    The p-value is twice the smaller tail of the resampled differences at zero, with the usual
    +1 correction, so it is never below ``2 / (B + 1)``.
    """
    best = np.asarray(best, dtype=np.float64)
    other = np.asarray(other, dtype=np.float64)
    diff = best - other if higher_is_better else other - best
    diff = diff[np.isfinite(diff)]
    if diff.size == 0:
        return PairedTest(math.nan, PAIRED_BOOTSTRAP, 0, "no bootstrap resamples")
    tail = min(np.count_nonzero(diff <= 0), np.count_nonzero(diff >= 0))
    p = min(1.0, 2 * (1 + tail) / (diff.size + 1))
    return PairedTest(p, PAIRED_BOOTSTRAP, int(diff.size))


# ---------------------------------------------------------------------------------------------
# ranks


def fractional_ranks(values: Sequence[float], higher_is_better: bool = True) -> np.ndarray:
    """Rank 1 = best; tied values share the mean of their ranks (Demšar 2006); NaN stays NaN."""
    values = np.asarray(values, dtype=np.float64)
    ranks = np.full(values.shape, np.nan)
    ok = np.isfinite(values)
    if ok.any():
        key = -values[ok] if higher_is_better else values[ok]
        # average ranks of tied groups in numpy: scipy.stats alone costs ~0.8 s of CPU to import,
        # more than the rest of a leaderboard's start-up
        _, group, counts = np.unique(key, return_inverse=True, return_counts=True)
        last = np.cumsum(counts)
        ranks[ok] = ((last - counts + 1 + last) / 2)[group.ravel()]
    return ranks


def _scipy():
    """scipy.stats, imported on first use: ``anobench`` starts without it."""
    from scipy import stats

    return stats
