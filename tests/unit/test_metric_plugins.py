"""The built-in metric plugins: values, threshold sources, flags and undefined results."""

from __future__ import annotations

import math
from importlib import metadata

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from anobench import Metric, MetricResult, Predictions, Scored, Split
from anobench.metrics import aupro, best_balanced_accuracy_threshold, best_dice, builtin, dice_at

ALL = [
    builtin.ImageAUROC,
    builtin.ImageAP,
    builtin.ImageAccuracy,
    builtin.ImageBalancedAccuracy,
    builtin.PixelAUROC,
    builtin.PixelAP,
    builtin.PixelDice,
    builtin.PixelDiceOracle,
    builtin.PixelAUROCPerImage,
    builtin.PixelAUPRO,
]
PIXEL = [cls for cls in ALL if cls.level == "pixel"]


def make_scored(
    seed: int,
    n: int = 12,
    size: int = 10,
    *,
    shift: float = 0.0,
    maps: bool = True,
    masks: bool = True,
    labels: np.ndarray | None = None,
) -> Scored:
    """Half healthy, half diseased images with square lesions; scores/maps hint at them."""
    rng = np.random.default_rng(seed)
    if labels is None:
        labels = np.arange(n) % 2
    labels = np.asarray(labels, dtype=np.int8)
    n = labels.size
    mask = np.zeros((n, size, size), dtype=bool)
    for i in np.flatnonzero(labels):
        y, x = rng.integers(0, size - 3, 2)
        mask[i, y : y + rng.integers(2, 4), x : x + rng.integers(2, 4)] = True
    anomaly = np.round(rng.random((n, size, size)) * 0.6 + 0.5 * mask + shift, 2).astype(np.float32)
    scores = np.round(rng.random(n) + 0.6 * labels + shift, 1)
    split = Split(
        images=np.zeros((n, 1, size, size), np.float32),
        labels=labels,
        ids=tuple(f"img{i:03d}" for i in range(n)),
        masks=mask if masks else None,
    )
    return Scored(Predictions(scores=scores, maps=anomaly if maps else None), split)


def pooled(s: Scored) -> tuple[np.ndarray, np.ndarray]:
    return s.split.masks.ravel(), s.predictions.maps.ravel()


# ---------------------------------------------------------------------------------------------
# registration and flags


def test_entry_points_name_the_classes():
    eps = {ep.name: ep for ep in metadata.entry_points(group="anobench.metrics")}
    for cls in ALL:
        assert cls.name in eps, cls.name
        assert eps[cls.name].load() is cls
        assert issubclass(cls, Metric)
        assert cls.description
        assert cls.level in ("image", "pixel")
        assert cls.higher_is_better is True


def test_flags():
    needs_val = {c.name for c in ALL if c.needs_val}
    assert needs_val == {"image_accuracy", "image_balanced_accuracy", "pixel_dice"}
    assert {c.name for c in ALL if c.oracle} == {"pixel_dice_oracle"}
    assert "upper bound" in builtin.PixelDiceOracle.description
    assert all(c.needs_masks for c in PIXEL)
    assert not any(c.needs_masks for c in ALL if c.level == "image")


# ---------------------------------------------------------------------------------------------
# values


@pytest.mark.parametrize("seed", range(3))
def test_image_ranking_metrics_equal_sklearn(seed):
    test = make_scored(seed, n=30)
    labels, scores = test.split.labels, test.predictions.scores
    auc = builtin.ImageAUROC().compute(test)
    ap = builtin.ImageAP().compute(test)
    assert isinstance(auc.value, float) and isinstance(ap.value, float)
    assert abs(auc.value - roc_auc_score(labels, scores)) < 1e-9
    assert abs(ap.value - average_precision_score(labels, scores)) < 1e-9
    assert auc.details["n_diseased"] == 15 and auc.details["n_healthy"] == 15


@pytest.mark.parametrize("seed", range(3))
def test_pixel_ranking_metrics_pool_all_test_pixels(seed):
    test = make_scored(seed)
    y, s = pooled(test)
    auc = builtin.PixelAUROC().compute(test)
    ap = builtin.PixelAP().compute(test)
    assert abs(auc.value - roc_auc_score(y, s)) < 1e-9
    assert abs(ap.value - average_precision_score(y, s)) < 1e-9
    assert auc.details["n_positive_pixels"] + auc.details["n_negative_pixels"] == y.size


def test_image_thresholds_come_from_validation():
    labels = np.array([0, 1] * 5, dtype=np.int8)
    val = make_scored(1, labels=labels)
    val = Scored(Predictions(scores=np.arange(10) / 10 + 0.3 * labels), val.split)
    test = make_scored(2, labels=labels)
    test = Scored(Predictions(scores=np.arange(10) / 10 + 0.3 * labels + 0.25), test.split)
    t_val, ba_val = best_balanced_accuracy_threshold(val.split.labels, val.predictions.scores)
    t_test, _ = best_balanced_accuracy_threshold(test.split.labels, test.predictions.scores)
    assert t_val != t_test  # the test optimum is elsewhere

    acc = builtin.ImageAccuracy().compute(test, val)
    assert acc.details["threshold"] == t_val
    assert acc.details["val_balanced_accuracy"] == ba_val
    predicted = test.predictions.scores >= t_val
    correct = predicted == (test.split.labels == 1)
    assert acc.value == correct.mean()
    assert acc.per_image == {i: float(c) for i, c in zip(test.split.ids, correct, strict=True)}

    bal = builtin.ImageBalancedAccuracy().compute(test, val)
    labels = test.split.labels == 1
    expected = 0.5 * (predicted[labels].mean() + (~predicted[~labels]).mean())
    assert bal.details["threshold"] == t_val
    assert abs(bal.value - expected) < 1e-12


def test_pixel_dice_threshold_comes_from_validation():
    val = make_scored(3)
    test = make_scored(4, shift=0.2)
    val_dice, t_val = best_dice(*pooled(val))
    _, t_test = best_dice(*pooled(test))
    assert t_val != t_test

    result = builtin.PixelDice().compute(test, val)
    assert result.details["threshold"] == t_val
    assert result.details["val_dice"] == val_dice
    assert abs(result.value - dice_at(*pooled(test), t_val)) < 1e-12
    diseased = np.flatnonzero(test.split.labels == 1)
    assert set(result.per_image) == {test.split.ids[i] for i in diseased}
    for i in diseased:
        expected = dice_at(test.split.masks[i], test.predictions.maps[i], t_val)
        assert abs(result.per_image[test.split.ids[i]] - expected) < 1e-12


def test_pixel_dice_oracle_searches_the_test_set():
    test = make_scored(5)
    dice, threshold = best_dice(*pooled(test))
    result = builtin.PixelDiceOracle().compute(test)
    assert builtin.PixelDiceOracle.oracle is True
    assert result.value == dice and result.details["threshold"] == threshold
    assert "test" in result.details["threshold_source"]
    assert len(result.per_image) == 6


def test_pixel_auroc_per_image_protocol():
    test = make_scored(6)
    result = builtin.PixelAUROCPerImage().compute(test)
    expected = {}
    for i in np.flatnonzero(test.split.labels == 1):
        expected[test.split.ids[i]] = roc_auc_score(
            test.split.masks[i].ravel(), test.predictions.maps[i].ravel()
        )
    assert result.per_image.keys() == expected.keys()
    for key, value in expected.items():
        assert abs(result.per_image[key] - value) < 1e-12
    assert abs(result.value - np.mean(list(expected.values()))) < 1e-12


def test_pixel_aupro():
    test = make_scored(7)
    result = builtin.PixelAUPRO().compute(test)
    assert result.value == aupro(test.split.masks, test.predictions.maps, 0.3)
    assert result.details["fpr_limit"] == 0.3 and result.details["n_regions"] >= 6


def test_constant_scores_are_fine():
    test = make_scored(8)
    flat = Scored(
        Predictions(scores=np.zeros(len(test.split)), maps=np.ones_like(test.predictions.maps)),
        test.split,
    )
    assert builtin.ImageAUROC().compute(flat).value == 0.5
    assert builtin.PixelAUROC().compute(flat).value == 0.5
    assert builtin.PixelAUROCPerImage().compute(flat).value == 0.5
    assert builtin.PixelDiceOracle().compute(flat).defined
    assert builtin.ImageAccuracy().compute(flat, flat).value == 0.5


# ---------------------------------------------------------------------------------------------
# undefined, never a crash


def assert_undefined(result: MetricResult, words: str) -> None:
    assert isinstance(result, MetricResult)
    assert not result.defined and math.isnan(result.value)
    assert result.reason and words in result.reason, result.reason


@pytest.mark.parametrize("cls", PIXEL)
def test_no_maps(cls):
    test, val = make_scored(0, maps=False), make_scored(1, maps=False)
    assert_undefined(cls().compute(test, val), "method returns no anomaly maps")


@pytest.mark.parametrize("cls", PIXEL)
def test_no_masks(cls):
    test, val = make_scored(0, masks=False), make_scored(1)
    assert_undefined(cls().compute(test, val), "no pixel masks")


@pytest.mark.parametrize("cls", [c for c in ALL if c.needs_val])
def test_missing_validation(cls):
    assert_undefined(cls().compute(make_scored(0)), "validation")


@pytest.mark.parametrize("cls", ALL)
def test_all_healthy_test_set(cls):
    labels = np.zeros(6, dtype=np.int8)
    test = make_scored(0, labels=labels)
    val = make_scored(1)
    result = cls().compute(test, val)
    if cls is builtin.ImageAccuracy:  # accuracy is defined on one class
        assert result.defined
    else:
        assert_undefined(result, "")


@pytest.mark.parametrize("cls", [c for c in ALL if c.needs_val])
def test_single_class_validation(cls):
    val = make_scored(1, labels=np.zeros(6, dtype=np.int8))
    assert_undefined(cls().compute(make_scored(0), val), "threshold")


@pytest.mark.parametrize("cls", ALL)
def test_nan_predictions(cls):
    test = make_scored(0)
    bad = Scored(
        Predictions(
            scores=np.where(test.split.labels == 1, np.nan, 0.5),
            maps=np.where(test.split.masks, np.float32(np.nan), test.predictions.maps),
        ),
        test.split,
    )
    assert_undefined(cls().compute(bad, make_scored(1)), "NaN")


def test_shape_mismatch_is_undefined():
    test = make_scored(0)
    bad = Scored(Predictions(test.predictions.scores, test.predictions.maps[:, :5]), test.split)
    assert_undefined(builtin.PixelAUROC().compute(bad), "shape")
    bad = Scored(Predictions(test.predictions.scores[:3], None), test.split)
    assert_undefined(builtin.ImageAUROC().compute(bad), "shape")
