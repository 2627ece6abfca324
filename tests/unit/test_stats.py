"""anobench.results.stats: bootstrap intervals, ranking metrics on resamples, paired tests,
ranks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats
from sklearn.metrics import average_precision_score, roc_auc_score

from anobench.metrics import best_dice, dice_at
from anobench.results import stats


def _ci(values: np.ndarray, resamples: int = 1000, seed: int = 0) -> stats.Interval:
    rng = stats.generator(seed, "test")
    index = stats.resample_indices(len(values), resamples, rng)
    return stats.percentile_interval(stats.bootstrap_mean(values, index))


def test_bootstrap_interval_contains_the_estimate_and_shrinks_with_n():
    rng = np.random.default_rng(1)
    widths = []
    for n in (25, 100, 400):
        values = rng.normal(0.6, 0.2, n)
        ci = _ci(values)
        assert ci.defined and ci.low < values.mean() < ci.high
        widths.append(ci.high - ci.low)
    assert widths[0] > widths[1] > widths[2]
    # the standard error of a mean falls like 1/sqrt(n): 4x the images, about half the width
    assert widths[1] / widths[2] == pytest.approx(2, rel=0.25)


def test_bootstrap_is_reproducible_under_a_seed():
    values = np.random.default_rng(2).normal(size=80)
    assert _ci(values, seed=3) == _ci(values, seed=3)
    assert _ci(values, seed=3) != _ci(values, seed=4)
    a = stats.generator(0, "table", "metric").integers(0, 1 << 30, 4)
    b = stats.generator(0, "table", "other metric").integers(0, 1 << 30, 4)
    assert not np.array_equal(a, b)


def test_stratified_resamples_keep_each_class_size():
    labels = np.array([0] * 7 + [1] * 3)
    index = stats.resample_indices(10, 200, np.random.default_rng(0), strata=labels)
    assert index.shape == (200, 10)
    assert (labels[index].sum(axis=1) == 3).all()
    weights = stats.resample_weights(index, 10)
    assert (weights.sum(axis=1) == 10).all()
    assert weights[5, 2] == np.count_nonzero(index[5] == 2)


def test_percentile_interval_refuses_mostly_undefined_replicates():
    reps = np.r_[np.full(50, np.nan), np.linspace(0, 1, 950)]
    ci = stats.percentile_interval(reps)
    assert not ci.defined and "undefined in 5%" in ci.reason
    assert stats.percentile_interval(np.r_[np.nan, np.linspace(0, 1, 999)]).defined


def test_row_ranking_metrics_match_scikit_learn_with_ties():
    rng = np.random.default_rng(3)
    scores = np.round(rng.normal(size=(40, 30)), 1)  # many ties
    labels = rng.random((40, 30)) < 0.4
    labels[:, 0], labels[:, 1] = True, False
    auc = stats.auroc_rows(scores, labels)
    ap = stats.average_precision_rows(scores, labels)
    for i in range(40):
        assert auc[i] == pytest.approx(roc_auc_score(labels[i], scores[i]), abs=1e-12)
        assert ap[i] == pytest.approx(average_precision_score(labels[i], scores[i]), abs=1e-12)
    one_class = stats.auroc_rows(scores[:1], np.ones((1, 30), bool))
    assert np.isnan(one_class[0])


def test_binned_metrics_equal_exact_metrics_on_binned_scores():
    rng = np.random.default_rng(4)
    pos = rng.integers(0, 6, 60)
    neg = rng.integers(0, 25, 60)
    bins = np.arange(60)
    labels = np.r_[np.ones(pos.sum(), bool), np.zeros(neg.sum(), bool)]
    scores = np.r_[np.repeat(bins, pos), np.repeat(bins, neg)].astype(float)
    # the curves the store's histograms feed: cumulative counts from the highest bin down
    tp, fp = stats.from_top(pos), stats.from_top(neg)
    assert stats.auroc_from_curves(tp, fp) == pytest.approx(roc_auc_score(labels, scores))
    assert stats.average_precision_from_curves(tp, fp) == pytest.approx(
        average_precision_score(labels, scores)
    )
    assert stats.dice_from_curves(tp, fp) == pytest.approx(best_dice(labels, scores).dice)
    assert stats.dice_from_curves(tp, fp, 33) == pytest.approx(dice_at(labels, scores, 33.0))


def test_wilcoxon_matches_scipy_on_a_textbook_example():
    # scipy's documented example (Cushny & Peebles via Fisher): exact two-sided p = 0.04126
    d = np.array([6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75], dtype=float)
    result = stats.wilcoxon(d, np.zeros_like(d))
    assert result.test == "Wilcoxon signed-rank" and result.reason is None
    assert result.p == pytest.approx(0.041259765625)
    assert result.p == pytest.approx(scipy_stats.wilcoxon(d).pvalue)
    assert result.n == 15


def test_wilcoxon_is_small_for_a_clearly_better_method():
    rng = np.random.default_rng(5)
    other = rng.uniform(0.2, 0.6, 60)
    better = other + 0.1 + rng.normal(0, 0.02, 60)
    assert stats.wilcoxon(better, other).p < 1e-8
    similar = other + rng.normal(0, 0.02, 60)
    assert stats.wilcoxon(similar, other).p > 0.01


def test_wilcoxon_explains_when_it_cannot_run():
    same = np.linspace(0, 1, 20)
    assert math.isnan(stats.wilcoxon(same, same).p)
    assert "all paired per-image differences are zero" in stats.wilcoxon(same, same).reason
    few = stats.wilcoxon(same[:5] + 1, same[:5])
    assert math.isnan(few.p) and "only 5 non-zero paired differences" in few.reason
    nan = np.full(20, np.nan)
    assert stats.wilcoxon(nan, same).reason == "no paired per-image values"
    # zero differences are dropped, NaN pairs too: 8 usable non-zero pairs remain
    best = np.r_[same[:8] + 0.5, same[8:16], np.nan, np.nan, np.nan, np.nan]
    result = stats.wilcoxon(best, same)
    assert result.n == 8 and result.p == pytest.approx(
        scipy_stats.wilcoxon(best[:8], same[:8]).pvalue
    )


def test_paired_bootstrap_p():
    rng = np.random.default_rng(6)
    base = rng.normal(0.5, 0.01, 999)
    clearly = stats.paired_bootstrap(base + 0.1, base, higher_is_better=True)
    assert clearly.p == pytest.approx(2 / 1000) and clearly.test == "paired bootstrap"
    assert stats.paired_bootstrap(base, base, True).p == 1.0
    # lower is better: the best has the smaller values
    assert stats.paired_bootstrap(base - 0.1, base, higher_is_better=False).p < 0.01
    noisy = stats.paired_bootstrap(base + rng.normal(0, 0.01, 999), base, True)
    assert noisy.p > 0.05


def test_fractional_ranks_share_ties_and_skip_nan():
    ranks = stats.fractional_ranks([0.9, 0.8, 0.8, 0.5, math.nan])
    assert ranks[:4].tolist() == [1, 2.5, 2.5, 4] and math.isnan(ranks[4])
    assert stats.fractional_ranks([3.0, 1.0, 2.0], higher_is_better=False).tolist() == [3, 1, 2]
    ranks = stats.fractional_ranks([0.7, 0.7, 0.7])
    assert ranks.tolist() == [2, 2, 2]


@pytest.mark.parametrize("higher_is_better", [True, False])
def test_fractional_ranks_match_scipy_average_ranks(higher_is_better):
    rng = np.random.default_rng(3)
    values = rng.integers(0, 6, size=40).astype(float)  # many ties
    values[[4, 17]] = math.nan
    ranks = stats.fractional_ranks(values, higher_is_better)
    ok = np.isfinite(values)
    key = -values[ok] if higher_is_better else values[ok]
    np.testing.assert_array_equal(ranks[ok], scipy_stats.rankdata(key, method="average"))
    assert np.isnan(ranks[~ok]).all()
