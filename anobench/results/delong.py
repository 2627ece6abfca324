"""DeLong's test for correlated image AUROCs, with the fast algorithm of Sun & Xu (IEEE SPL 2014).

Several score vectors on the same test images (rows of ``scores``; one per run) give AUROCs whose
covariance DeLong, DeLong & Clarke-Pearson (Biometrics 1988) estimate from the structural
components of the Mann-Whitney statistic. Sun & Xu compute the components from midranks, one
sort per score vector, instead of comparing every positive with every negative image.

A contrast of the AUROCs (here: the mean over one method's seeds minus the mean over another's)
then has the variance ``w' S w`` and a normal z-test. Ties count one half, as in the AUROC.
No maintained Python package offers the test with a contrast over several runs; it is short.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

#: the normal quantile of a two-sided 95% interval
Z95 = 1.959963984540054
DELONG = "DeLong"


class Components(NamedTuple):
    """The AUROCs of ``k`` score vectors and their ``[k, k]`` DeLong covariance."""

    auc: np.ndarray
    cov: np.ndarray


class Contrast(NamedTuple):
    """``diff = w' auc``, its standard error, two-sided p and 95% interval (NaN and why)."""

    diff: float
    se: float
    p: float
    low: float
    high: float
    reason: str | None = None


def _midranks(x: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(x, method="average", axis=-1)


def components(scores: np.ndarray, labels: np.ndarray) -> Components:
    """AUROC of every row of ``scores`` ``[k, n]`` and their covariance (Sun & Xu's algorithm).

    ``labels``: ``n`` values, 1 (or True) = positive; higher scores = more positive.
    """
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    labels = np.asarray(labels).astype(bool)
    pos, neg = scores[:, labels], scores[:, ~labels]
    m, n = pos.shape[1], neg.shape[1]
    if m < 2 or n < 2:
        raise ValueError(f"DeLong needs at least 2 positive and 2 negative images ({m}, {n})")
    tx, ty = _midranks(pos), _midranks(neg)
    tz = _midranks(np.concatenate([pos, neg], axis=1))
    auc = (tz[:, :m].sum(axis=1) - m * (m + 1) / 2) / (m * n)
    # structural components: for each positive, the share of negatives it outranks; for each
    # negative, the share of positives that outrank it
    v10 = (tz[:, :m] - tx) / n
    v01 = 1.0 - (tz[:, m:] - ty) / m
    cov = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return Components(auc, cov)


def contrast(parts: Components, weights: np.ndarray) -> Contrast:
    """The z-test of ``weights' auc = 0`` and the 95% interval of ``weights' auc``."""
    w = np.asarray(weights, dtype=np.float64)
    diff = float(w @ parts.auc)
    var = float(w @ parts.cov @ w)
    if not var > 1e-300:
        nan = math.nan
        why = "the two methods order the test images identically (DeLong's variance is 0)"
        return Contrast(diff, 0.0, nan, nan, nan, why)
    se = math.sqrt(var)
    z = diff / se
    p = math.erfc(abs(z) / math.sqrt(2))
    return Contrast(diff, se, p, diff - Z95 * se, diff + Z95 * se)


def paired(best: np.ndarray, other: np.ndarray, labels: np.ndarray) -> Contrast:
    """``mean AUROC over best's runs - mean over other's runs`` (rows: runs on the same images)."""
    best, other = np.atleast_2d(best), np.atleast_2d(other)
    parts = components(np.concatenate([best, other]), labels)
    w = np.concatenate([np.full(len(best), 1 / len(best)), np.full(len(other), -1 / len(other))])
    return contrast(parts, w)
