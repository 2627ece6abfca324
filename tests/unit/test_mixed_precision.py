"""A threshold chosen on float64 validation values, applied to float32 test values (issue #14).

Under NumPy 2 ``float32_array >= python_float`` compares in float32: the threshold 1.00000001
rounds to 1.0 and every pixel or image at 1.0 is predicted anomalous. The metrics compare in
float64, so the prediction is the one the threshold says.
"""

from __future__ import annotations

import numpy as np
import pytest

from anobench import Predictions, Scored, Split
from anobench.metrics.builtin import ImageAccuracy, ImageBalancedAccuracy, PixelDice
from anobench.results import stats
from anobench.results.resampling import RECIPES, Resampled, collect

#: float32(1.00000001) == 1.0, float32(1.0000001) == 1.00000011920929
VAL_HIGH = 1.00000001
TEST_HIGH = 1.0000001


def _split(maps: np.ndarray, masks: np.ndarray) -> Split:
    labels = masks.reshape(len(masks), -1).any(axis=1).astype(np.int8)
    images = np.zeros((len(maps), 1, *maps.shape[1:]), dtype=np.float32)
    return Split(images, labels, tuple(f"i{k}" for k in range(len(maps))), masks)


def _scored(maps: np.ndarray, masks: np.ndarray) -> Scored:
    scores = maps.reshape(len(maps), -1).max(axis=1)
    return Scored(Predictions(scores=scores, maps=maps), _split(maps, masks))


# one healthy image (all 1.0) and one diseased image whose first pixel is the anomaly
MASKS = np.zeros((2, 2, 2), dtype=bool)
MASKS[1, 0, 0] = True


def _maps(high: float, dtype: type) -> np.ndarray:
    maps = np.ones((2, 2, 2), dtype=dtype)
    maps[1, 0, 0] = high
    return maps


def test_float32_rounding_would_change_the_prediction():
    assert np.float32(VAL_HIGH) == 1.0 and np.float32(TEST_HIGH) > 1.0
    assert not np.all((_maps(TEST_HIGH, np.float32) >= VAL_HIGH) == MASKS)  # the NumPy 2 trap


def test_pixel_dice_compares_float32_test_maps_in_float64():
    val = _scored(_maps(VAL_HIGH, np.float64), MASKS)
    test = _scored(_maps(TEST_HIGH, np.float32), MASKS)
    result = PixelDice().compute(test, val)
    assert result.details["threshold"] == VAL_HIGH
    # by hand: one pixel >= 1.00000001, the anomalous one: Dice 2*1 / (1 + 1) = 1
    # (in float32 all 8 pixels are predicted: 2*1 / (8 + 1) = 2/9)
    assert result.value == 1.0
    assert result.per_image == {"i1": 1.0}


def test_image_accuracy_compares_float32_test_scores_in_float64():
    val = _scored(_maps(VAL_HIGH, np.float64), MASKS)
    test = _scored(_maps(TEST_HIGH, np.float32), MASKS)
    assert test.predictions.scores.dtype == np.float32
    # by hand: score 1.0 < 1.00000001 healthy, 1.0000001 >= it diseased: both right
    # (in float32 both are called diseased: accuracy 1/2, balanced accuracy 1/2)
    accuracy = ImageAccuracy().compute(test, val)
    assert accuracy.details["threshold"] == VAL_HIGH
    assert accuracy.value == 1.0
    assert ImageBalancedAccuracy().compute(test, val).value == 1.0


def test_balanced_accuracy_rows_compare_in_float64():
    scores = np.array([[1.0, TEST_HIGH]], dtype=np.float32)
    labels = np.array([[False, True]])
    assert stats.balanced_accuracy_rows(scores, labels, VAL_HIGH).tolist() == [1.0]


def test_pixel_evidence_keeps_float64_maps_in_float64():
    # float64 test maps just above the threshold: rounded to float32 (1.0) they fall below it
    val = _scored(_maps(VAL_HIGH, np.float64), MASKS)
    test = _scored(_maps(1.00000002, np.float64), MASKS)
    dice = PixelDice().compute(test, val)
    assert dice.value == 1.0
    ev = collect(test.split, test.predictions, [dice.details["threshold"]])
    r = Resampled(ev, np.arange(2)[None], stats.resample_weights(np.arange(2)[None], 2))
    recipe = RECIPES["pixel_dice"][0]
    assert recipe(r, dict(dice.details), True)[0] == pytest.approx(1.0)
    assert recipe(r, dict(dice.details), False)[0] == pytest.approx(1.0)


def test_dice_at_compares_in_float64():
    from anobench.metrics import dice_at

    assert dice_at(MASKS, _maps(TEST_HIGH, np.float32), VAL_HIGH) == 1.0
