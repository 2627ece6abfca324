from __future__ import annotations

import math

import numpy as np

from anobench import Predictions, Scored
from anobench.metrics.translation import HealthyTranslationMSE, minmax
from anobench.testing import toy_split


def test_identity_translation_scores_zero_and_shifts_are_ignored():
    split = toy_split(4, 4)
    same = Predictions(np.zeros(8), extras={"healthy_translation": split.images * 0.5 + 0.1})
    result = HealthyTranslationMSE().compute(Scored(same, split))
    assert result.value < 1e-12  # min-max normalisation removes affine intensity changes
    assert len(result.per_image) == 4


def test_value_is_mean_squared_error_of_normalised_healthy_images():
    split = toy_split(3, 2, seed=4)
    rng = np.random.default_rng(0)
    moved = rng.uniform(-1, 1, split.images.shape).astype(np.float32)
    result = HealthyTranslationMSE().compute(
        Scored(Predictions(np.zeros(5), extras={"healthy_translation": moved}), split)
    )
    healthy = np.asarray(split.labels) == 0
    expected = np.mean(
        [np.mean((minmax(moved[i : i + 1]) - minmax(split.images[i : i + 1])) ** 2)
         for i in np.flatnonzero(healthy)]
    )  # fmt: skip
    assert math.isclose(result.value, expected, rel_tol=1e-9)


def test_without_translation_it_is_undefined_with_a_reason():
    split = toy_split(2, 2)
    result = HealthyTranslationMSE().compute(Scored(Predictions(np.zeros(4)), split))
    assert math.isnan(result.value) and "healthy_translation" in result.reason
