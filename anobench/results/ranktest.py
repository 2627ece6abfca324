"""Methods compared across dataset configurations: Friedman's test on their ranks and Nemenyi's
critical difference (CD), as Demšar (JMLR 7, 2006) recommends for several methods on several
datasets.

scipy computes the test (``friedmanchisquare``, with its correction for tied ranks) and the
studentized range quantile behind the CD (``studentized_range``): ``q_alpha`` is its quantile
for ``k`` groups and infinite degrees of freedom over ``sqrt(2)``, and two methods differ
significantly when their average ranks differ by at least
``CD = q_alpha * sqrt(k (k + 1) / (6 N))``.

Both need a complete design (every method on every dataset; scipy refuses samples of unequal
length): method configurations not ranked on every dataset configuration are left out, named in
the legend, and the others are ranked again among themselves on each dataset.
"""

from __future__ import annotations

import math

import numpy as np

from . import stats
from .leaderboard import RankRow, RankTest

ALPHA = 0.05


def q_alpha(k: int, alpha: float = ALPHA) -> float:
    """The Nemenyi critical value for ``k`` methods (Demšar's Table 5a: 2.569 for k = 4)."""
    from scipy.stats import studentized_range

    return float(studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2))


def critical_difference(k: int, n: int, alpha: float = ALPHA) -> float:
    """Nemenyi's CD of average ranks for ``k`` methods on ``n`` datasets."""
    return q_alpha(k, alpha) * math.sqrt(k * (k + 1) / (6 * n))


def cliques(avg_ranks: list[float], cd: float) -> list[tuple[int, ...]]:
    """The maximal runs of methods (sorted by average rank) that span less than ``cd``."""
    out: list[tuple[int, ...]] = []
    last = -1
    for i in range(len(avg_ranks)):
        j = i
        while j + 1 < len(avg_ranks) and avg_ranks[j + 1] - avg_ranks[i] < cd:
            j += 1
        if j > i and j > last:
            out.append(tuple(range(i, j + 1)))
            last = j
    return out


def analyse(summary: list[RankRow], alpha: float = ALPHA) -> RankTest:
    """Friedman and Nemenyi on the rows of the average-rank table (``summary``)."""
    if not summary:
        return RankTest(note="no method is ranked")
    titles = list(summary[0].ranks)
    if len(titles) < 2:
        return RankTest(
            n=len(titles),
            note="one dataset configuration: Friedman's test and the critical difference"
            " compare methods across several",
        )
    complete = [r for r in summary if all(r.ranks[t] is not None for t in titles)]
    dropped = [r.label for r in summary if r not in complete]
    if len(complete) < 2:
        return RankTest(
            n=len(titles),
            dropped=dropped,
            note="fewer than 2 method configurations are ranked on every dataset configuration",
        )
    values = np.array([[r.ranks[t] for r in complete] for t in titles], dtype=np.float64)
    # ranked again among the methods kept: a dropped method no longer shifts the others' ranks
    ranks = np.vstack([stats.fractional_ranks(block, higher_is_better=False) for block in values])
    avg = ranks.mean(axis=0)
    order = np.argsort(avg, kind="stable")
    n, k = ranks.shape
    statistic = p = None
    note = None
    if k >= 3:
        from scipy.stats import friedmanchisquare

        with np.errstate(invalid="ignore", divide="ignore"):
            result = friedmanchisquare(*ranks.T)
        if np.isfinite(result.statistic):
            statistic, p = float(result.statistic), float(result.pvalue)
        else:
            note = "Friedman's test is undefined: every dataset ranks the methods alike"
    else:
        note = "Friedman's test needs at least 3 method configurations"
    qa = q_alpha(k, alpha)
    cd = qa * math.sqrt(k * (k + 1) / (6 * n))
    sorted_avg = [float(avg[i]) for i in order]
    return RankTest(
        labels=[complete[i].label for i in order],
        avg_ranks=sorted_avg,
        n=n,
        k=k,
        statistic=statistic,
        p=p,
        alpha=alpha,
        q_alpha=qa,
        cd=cd,
        cliques=cliques(sorted_avg, cd),
        dropped=dropped,
        note=note,
    )
