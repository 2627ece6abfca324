"""Friedman and Nemenyi across datasets against Demšar (JMLR 7, 2006)."""

from __future__ import annotations

import numpy as np
import pytest

from anobench.results import ranktest
from anobench.results.leaderboard import RankRow

#: Demšar's Table 5(a): q_0.05 of the two-tailed Nemenyi test for k = 2 .. 10
Q05 = [1.960, 2.343, 2.569, 2.728, 2.850, 2.949, 3.031, 3.102, 3.164]


def _rows(ranks: np.ndarray) -> list[RankRow]:
    """``ranks[dataset, method]`` (NaN: not ranked there) as the average-rank table's rows."""
    titles = [f"d{i}" for i in range(ranks.shape[0])]
    out = []
    for j in range(ranks.shape[1]):
        column = [None if np.isnan(v) else float(v) for v in ranks[:, j]]
        mean = float(np.nanmean(ranks[:, j]))
        ranked = dict(zip(titles, column, strict=True))
        out.append(RankRow(f"m{j}", f"h{j}", "quick", "", f"m{j}", mean, ranked))
    return out


def test_q_alpha_equals_demsar_table():
    # the table gives three decimals, not all of them rounded (k = 3: 2.3437 is printed 2.343)
    got = [ranktest.q_alpha(k) for k in range(2, 11)]
    assert got == pytest.approx(Q05, abs=1e-3)


def test_critical_difference_of_demsars_example():
    # section 3.2.4: four C4.5 variants on 14 datasets, CD = 2.569 sqrt(4 * 5 / (6 * 14)) = 1.25
    assert round(ranktest.critical_difference(4, 14), 2) == 1.25
    # his average ranks 3.143, 2.000, 2.893, 1.964 span 1.179 < CD: no pair differs
    avg = sorted([3.143, 2.000, 2.893, 1.964])
    assert ranktest.cliques(avg, ranktest.critical_difference(4, 14)) == [(0, 1, 2, 3)]


def test_friedman_equals_demsars_formula_without_ties():
    rng = np.random.default_rng(0)
    ranks = np.vstack([rng.permutation(5) + 1.0 for _ in range(9)])
    ranks[:, 0] = np.minimum(ranks[:, 0], 2)  # m0 is often best
    ranks = np.vstack([np.argsort(np.argsort(r, kind="stable")) + 1.0 for r in ranks])
    test = ranktest.analyse(_rows(ranks))
    n, k = ranks.shape
    avg = ranks.mean(axis=0)
    chi2 = 12 * n / (k * (k + 1)) * (np.sum(avg**2) - k * (k + 1) ** 2 / 4)
    assert test.statistic == pytest.approx(chi2, rel=1e-12)
    assert (test.n, test.k) == (n, k)
    assert test.avg_ranks == pytest.approx(sorted(avg))
    assert test.cd == pytest.approx(ranktest.q_alpha(k) * np.sqrt(k * (k + 1) / (6 * n)))


def test_nemenyi_groups_agree_with_scikit_posthocs():
    sp = pytest.importorskip("scikit_posthocs")
    rng = np.random.default_rng(1)
    values = rng.normal(size=(12, 5)) + np.array([0.0, 0.3, 0.6, 1.5, 2.0])
    ranks = np.vstack([np.argsort(np.argsort(v)) + 1.0 for v in values])  # 1 = smallest
    test = ranktest.analyse(_rows(ranks))
    p = sp.posthoc_nemenyi_friedman(-values).to_numpy()  # scikit-posthocs ranks high = 1
    index = {label: int(label[1:]) for label in test.labels}
    joined = {(a, b) for c in test.cliques for a in c for b in c}
    for a in range(test.k):
        for b in range(a + 1, test.k):
            same = (a, b) in joined
            pa, pb = index[test.labels[a]], index[test.labels[b]]
            assert same == (p[pa, pb] >= 0.05), (test.labels[a], test.labels[b], p[pa, pb])


def test_methods_missing_on_a_dataset_are_left_out_and_the_rest_reranked():
    ranks = np.array([[1, 2, 3], [2, 1, np.nan], [1, 2, np.nan]], dtype=float)
    test = ranktest.analyse(_rows(ranks))
    assert test.dropped == ["m2"] and test.k == 2 and test.statistic is None
    assert "at least 3" in test.note
    assert test.avg_ranks == pytest.approx([4 / 3, 5 / 3])


def test_one_dataset_has_no_test():
    test = ranktest.analyse(_rows(np.array([[1.0, 2.0, 3.0]])))
    assert test.cd is None and "one dataset configuration" in test.note
