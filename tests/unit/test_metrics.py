"""The functional metric API: exactness against scikit-learn and slow reference implementations."""

from __future__ import annotations

import math
from bisect import bisect_right

import numpy as np
import pytest
from scipy import ndimage
from sklearn.metrics import average_precision_score, roc_auc_score

from anobench.metrics import (
    ScoreError,
    aupro,
    aupro_details,
    average_precision,
    best_balanced_accuracy_threshold,
    best_dice,
    dice_at,
    per_image_auroc,
    ranking_metrics,
    roc_auc,
    single_class_reason,
)
from anobench.metrics import ranking as ranking_module

try:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    HAVE_HYPOTHESIS = True
except ImportError:  # pragma: no cover - hypothesis is optional
    HAVE_HYPOTHESIS = False


def tied_data(seed: int, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores with heavy ties of a random kind (rounded, integer, float32, ...)."""
    rng = np.random.default_rng(seed)
    n = n or int(rng.integers(2, 400))
    labels = rng.random(n) < rng.uniform(0.05, 0.95)
    labels[0], labels[-1] = True, False  # both classes
    kind = seed % 5
    base = rng.random(n) + 0.4 * labels * rng.uniform(-1, 1)
    if kind == 0:
        scores = np.round(base, 1)
    elif kind == 1:
        scores = np.round(base, 2).astype(np.float32)
    elif kind == 2:
        scores = rng.integers(-3, 4, n)
    elif kind == 3:
        scores = base.astype(np.float32)
    else:
        scores = np.round(base * 3)
    return labels, scores


# ---------------------------------------------------------------------------------------------
# AUROC and AP


@pytest.mark.parametrize("seed", range(60))
def test_auroc_and_ap_equal_sklearn_with_ties(seed):
    labels, scores = tied_data(seed)
    assert abs(roc_auc(labels, scores) - roc_auc_score(labels, scores)) < 1e-9
    assert abs(average_precision(labels, scores) - average_precision_score(labels, scores)) < 1e-9
    both = ranking_metrics(labels, scores)
    assert both.roc_auc == roc_auc(labels, scores)
    assert both.average_precision == average_precision(labels, scores)
    assert isinstance(both.roc_auc, float) and isinstance(both.average_precision, float)


@pytest.mark.parametrize("seed", range(6))
def test_runs_crossing_chunk_boundaries(monkeypatch, seed):
    monkeypatch.setattr(ranking_module, "CHUNK", 3)
    rng = np.random.default_rng(seed)
    labels = rng.random(500) < 0.4
    scores = np.round(rng.random(500) + 0.3 * labels, 1).astype(np.float32)  # long tied runs
    assert abs(roc_auc(labels, scores) - roc_auc_score(labels, scores)) < 1e-9
    assert abs(average_precision(labels, scores) - average_precision_score(labels, scores)) < 1e-9
    dice, t = best_dice(labels, scores)
    assert (dice, t) == brute_force_best_dice(labels, scores)


def test_multidimensional_and_integer_labels():
    rng = np.random.default_rng(1)
    masks = rng.random((3, 8, 9)) < 0.2
    maps = np.round(rng.random((3, 8, 9)), 1).astype(np.float32)
    ref_auc = roc_auc_score(masks.ravel(), maps.ravel())
    assert abs(roc_auc(masks, maps) - ref_auc) < 1e-12
    assert abs(roc_auc(masks.astype(np.int8), maps) - ref_auc) < 1e-12
    assert abs(roc_auc(masks.astype(float), maps) - ref_auc) < 1e-12
    # non-contiguous views are fine and not raveled
    assert (
        abs(
            roc_auc(masks[:, ::2], maps[:, ::2])
            - roc_auc_score(masks[:, ::2].ravel(), maps[:, ::2].ravel())
        )
        < 1e-12
    )


def test_constant_and_tiny_inputs():
    assert roc_auc([0, 1], [0.3, 0.3]) == 0.5
    assert average_precision([0, 1], [0.3, 0.3]) == average_precision_score([0, 1], [0.3, 0.3])
    assert roc_auc([0, 1], [0.1, 0.9]) == 1.0
    assert roc_auc([1, 0], [0.1, 0.9]) == 0.0
    assert average_precision([0, 1], [0.1, 0.9]) == 1.0
    assert average_precision([1, 0], [0.1, 0.9]) == 0.5
    labels = np.array([0, 1, 0, 1, 1, 0, 0])
    constant = np.full(7, 2.0, dtype=np.float32)
    assert roc_auc(labels, constant) == 0.5
    assert abs(average_precision(labels, constant) - 3 / 7) < 1e-15
    # boolean and infinite scores are ordinary values
    assert roc_auc([0, 1, 1], [False, True, False]) == roc_auc_score([0, 1, 1], [0, 1, 0])
    assert roc_auc([0, 1], [-np.inf, np.inf]) == 1.0


def test_float32_stays_float32_and_is_exact():
    rng = np.random.default_rng(3)
    labels = rng.random(20_000) < 0.05
    scores = (rng.random(20_000) + 0.2 * labels).astype(np.float32)
    ranked = ranking_module.RankedScores.from_arrays(labels, scores)
    assert ranked.pos.dtype == np.float32 and ranked.neg.dtype == np.float32
    assert abs(ranked.roc_auc() - roc_auc_score(labels, scores)) < 1e-9
    assert abs(ranked.average_precision() - average_precision_score(labels, scores)) < 1e-9


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ([0, 0, 0], "no positive"),
        ([True, True], "no negative"),
        ([], "no samples"),
    ],
)
def test_single_class_is_nan_with_a_reason(labels, expected):
    scores = np.linspace(0, 1, len(labels))
    assert math.isnan(roc_auc(labels, scores))
    assert math.isnan(average_precision(labels, scores))
    assert all(math.isnan(x) for x in best_balanced_accuracy_threshold(labels, scores))
    reason = single_class_reason(labels)
    assert reason is not None and expected in reason
    if expected == "no samples":
        return
    assert "only one class present" in reason


def test_single_class_reason_none_with_both_classes():
    assert single_class_reason([0, 1]) is None


def test_nan_scores_raise():
    with pytest.raises(ScoreError, match="NaN"):
        roc_auc([0, 1, 1], [0.1, np.nan, 0.3])
    with pytest.raises(ValueError, match="NaN"):
        average_precision([0, 1, 0], np.array([0.1, 0.2, np.nan], dtype=np.float32))


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="shape"):
        roc_auc([0, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="binary"):
        roc_auc([0, 2], [0.1, 0.2])


# ---------------------------------------------------------------------------------------------
# thresholds: Dice and balanced accuracy


def brute_force_best_dice(labels, scores):
    labels = np.asarray(labels, dtype=bool)
    scores = np.asarray(scores)
    best, best_t = -1.0, None
    for t in np.unique(scores):  # ascending: ">=" keeps the highest threshold among ties
        pred = scores >= t
        dice = 2 * np.sum(pred & labels) / (pred.sum() + labels.sum())
        if dice >= best:
            best, best_t = dice, float(t)
    return float(best), best_t


def brute_force_best_balanced_accuracy(labels, scores):
    labels = np.asarray(labels, dtype=bool)
    scores = np.asarray(scores)
    best, best_t = -1.0, None
    for t in np.unique(scores):
        pred = scores >= t
        ba = 0.5 * (np.mean(pred[labels]) + np.mean(~pred[~labels]))
        if ba >= best - 1e-15:
            best, best_t = ba, float(t)
    return best_t, float(best)


@pytest.mark.parametrize("seed", range(40))
def test_best_dice_equals_brute_force(seed):
    labels, scores = tied_data(seed)
    dice, threshold = best_dice(labels, scores)
    ref_dice, ref_t = brute_force_best_dice(labels, scores)
    assert abs(dice - ref_dice) < 1e-12
    assert threshold == ref_t
    assert abs(dice_at(labels, scores, threshold) - dice) < 1e-12


@pytest.mark.parametrize("seed", range(40))
def test_best_balanced_accuracy_equals_brute_force(seed):
    labels, scores = tied_data(seed)
    threshold, ba = best_balanced_accuracy_threshold(labels, scores)
    ref_t, ref_ba = brute_force_best_balanced_accuracy(labels, scores)
    assert abs(ba - ref_ba) < 1e-12
    assert threshold == ref_t


def test_balanced_accuracy_tie_break_is_the_highest_threshold():
    # t = 0.9 and t = 0.2 both classify (1 of 2 positives, all negatives right) -> J = 0.5 ...
    labels = [1, 0, 1, 0]
    scores = [0.9, 0.5, 0.2, 0.1]
    threshold, ba = best_balanced_accuracy_threshold(labels, scores)
    # t=0.9: TPR .5 FPR 0 -> .75; t=0.2: TPR 1, FPR .5 -> .75; the highest wins
    assert (threshold, ba) == (0.9, 0.75)


def test_best_dice_edge_cases():
    assert best_dice([1, 1, 1], [0.1, 0.5, 0.2]) == (1.0, 0.1)  # no negatives: predict all
    assert all(math.isnan(x) for x in best_dice([0, 0], [0.1, 0.2]))
    assert best_dice([0, 1, 0], [0.4, 0.4, 0.4]) == (0.5, 0.4)
    assert dice_at([0, 0], [0.1, 0.2], 0.5) == 1.0  # empty vs empty
    assert math.isnan(dice_at([0, 0], [0.1, 0.2], 0.5, empty_value=math.nan))
    assert dice_at([0, 1], [0.1, 0.2], 0.15) == 1.0
    assert dice_at([0, 1], [0.1, 0.2], 0.05) == 2 / 3


# ---------------------------------------------------------------------------------------------
# AUPRO


def slow_aupro(masks, maps, fpr_limit, connectivity=8):
    """Straightforward definition: one curve point per distinct map value, MVTec trapezoid."""
    structure = np.ones((3, 3)) if connectivity == 8 else None
    regions = []
    for i in range(masks.shape[0]):
        labelled, k = ndimage.label(masks[i], structure=structure)
        regions += [(i, labelled == r) for r in range(1, k + 1)]
    normal = ~masks
    fprs, pros = [0.0], [0.0]
    for t in np.unique(maps)[::-1]:
        pred = maps >= t
        fprs.append(np.sum(pred & normal) / normal.sum())
        pros.append(np.mean([pred[i][region].mean() for i, region in regions]))
    x, y = np.array(fprs), np.array(pros)
    correction = 0.0
    if fpr_limit not in x:
        ins = bisect_right(x.tolist(), fpr_limit)
        y_cut = y[ins - 1] + (y[ins] - y[ins - 1]) * (fpr_limit - x[ins - 1]) / (
            x[ins] - x[ins - 1]
        )
        correction = 0.5 * (y_cut + y[ins - 1]) * (fpr_limit - x[ins - 1])
    keep = x <= fpr_limit
    x, y = x[keep], y[keep]
    return (np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(x)) + correction) / fpr_limit


def blob_data(seed, n=4, size=14, decimals=1):
    rng = np.random.default_rng(seed)
    masks = ndimage.binary_dilation(rng.random((n, size, size)) < 0.03, iterations=1)
    masks[0] = False  # a healthy image
    masks[1, 2, 2] = masks[1, 3, 3] = True  # two diagonal neighbours: one 8-connected region
    noise = rng.random((n, size, size))
    maps = np.round(0.6 * noise + 0.5 * masks * rng.random((n, 1, 1)), decimals).astype(np.float32)
    return masks, maps


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("limit", [0.3, 0.05, 1.0])
def test_aupro_equals_slow_reference(seed, limit):
    masks, maps = blob_data(seed, decimals=1 + seed % 2)
    assert abs(aupro(masks, maps, limit) - slow_aupro(masks, maps, limit)) < 1e-9


@pytest.mark.parametrize("seed", range(3))
def test_aupro_chunked_and_four_connected(monkeypatch, seed):
    monkeypatch.setattr(ranking_module, "CHUNK", 2)
    masks, maps = blob_data(seed, n=3, size=12)
    for conn in (4, 8):
        fast = aupro(masks, maps, 0.3, connectivity=conn)
        assert abs(fast - slow_aupro(masks, maps, 0.3, connectivity=conn)) < 1e-9
    assert (
        aupro_details(masks, maps, connectivity=4).n_regions
        > aupro_details(masks, maps, connectivity=8).n_regions
    )


def test_aupro_continuous_scores_and_edge_cases():
    masks, maps = blob_data(11, n=3, size=10, decimals=6)
    assert abs(aupro(masks, maps) - slow_aupro(masks, maps, 0.3)) < 1e-9
    assert aupro(masks, masks.astype(np.float32)) == 1.0  # perfect map
    assert aupro(masks, (~masks).astype(np.float32)) == 0.0  # inverted map
    # constant map: the curve is the diagonal, area 0.3**2 / 2, divided by 0.3
    assert abs(aupro(masks, np.zeros(masks.shape, np.float32)) - 0.15) < 1e-12
    empty = aupro_details(np.zeros((2, 4, 4), bool), np.ones((2, 4, 4)))
    assert math.isnan(empty.value) and "no anomalous" in empty.reason
    full = aupro_details(np.ones((1, 4, 4), bool), np.ones((1, 4, 4)))
    assert math.isnan(full.value) and "no normal" in full.reason
    with pytest.raises(ScoreError):
        aupro(masks, np.where(masks, np.nan, 0.0))
    with pytest.raises(ValueError, match="fpr_limit"):
        aupro(masks, maps, 0.0)


# ---------------------------------------------------------------------------------------------
# per-image AUROC


def test_per_image_auroc_equals_sklearn_per_image():
    masks, maps = blob_data(5, n=6, size=16, decimals=2)
    masks[2] = True  # no normal pixel: skipped
    result = per_image_auroc(masks, maps)
    expected = {
        i: roc_auc_score(masks[i].ravel(), maps[i].ravel())
        for i in range(6)
        if 0 < masks[i].sum() < masks[i].size
    }
    assert set(result.values) == set(expected)
    for i, value in expected.items():
        assert abs(result.values[i] - value) < 1e-12
    assert abs(result.mean - np.mean(list(expected.values()))) < 1e-12
    assert result.skipped_no_positive == sum(not m.any() for m in masks)
    assert result.skipped_no_negative == 1
    some = per_image_auroc(masks, maps, images=[1, 2, 3])
    assert some.values == {i: v for i, v in result.values.items() if i in (1, 2, 3)}
    assert some.skipped_no_negative == 1
    nothing = per_image_auroc(np.zeros((2, 3, 3), bool), np.ones((2, 3, 3)))
    assert nothing.values == {} and math.isnan(nothing.mean) and nothing.skipped_no_positive == 2


# ---------------------------------------------------------------------------------------------
# optional property-based check (only where hypothesis is installed)

if HAVE_HYPOTHESIS:

    @settings(max_examples=60, deadline=None)
    @given(
        st.lists(st.tuples(st.booleans(), st.integers(-3, 3)), min_size=2, max_size=60).filter(
            lambda pairs: len({p[0] for p in pairs}) == 2
        )
    )
    def test_property_agrees_with_sklearn(pairs):
        labels = np.array([p[0] for p in pairs])
        scores = np.array([p[1] for p in pairs], dtype=np.float32) / 2
        assert abs(roc_auc(labels, scores) - roc_auc_score(labels, scores)) < 1e-9
        assert (
            abs(average_precision(labels, scores) - average_precision_score(labels, scores)) < 1e-9
        )
        assert best_dice(labels, scores) == brute_force_best_dice(labels, scores)
