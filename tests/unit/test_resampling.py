"""anobench.results.resampling: run evidence and metric recomputation on resampled test images."""

from __future__ import annotations

import numpy as np
import pytest

from anobench import Predictions, Scored
from anobench.metrics import ranking_metrics
from anobench.metrics.builtin import (
    ImageAUROC,
    ImageBalancedAccuracy,
    PixelAP,
    PixelDice,
    PixelDiceOracle,
)
from anobench.results import stats
from anobench.results.resampling import BINS, RECIPES, Evidence, Resampled, collect, replicate
from anobench.testing import toy_split


@pytest.fixture(scope="module")
def scored():
    split = toy_split(20, 20, size=32, seed=1)
    rng = np.random.default_rng(0)
    maps = (split.images[:, 0] + 0.8 * rng.standard_normal(split.images[:, 0].shape)).astype(
        np.float32
    )
    pred = Predictions(scores=maps.reshape(len(maps), -1).max(axis=1), maps=maps)
    val = toy_split(10, 10, size=32, seed=2)
    val_maps = (val.images[:, 0] + 0.8 * rng.standard_normal(val.images[:, 0].shape)).astype(
        np.float32
    )
    val_pred = Predictions(scores=val_maps.reshape(20, -1).max(axis=1), maps=val_maps)
    return Scored(pred, split), Scored(val_pred, val)


def _resampled(evidence: Evidence, resamples: int = 500) -> Resampled:
    rng = np.random.default_rng(0)
    index = stats.resample_indices(len(evidence.ids), resamples, rng, evidence.labels)
    return Resampled(evidence, index, stats.resample_weights(index, len(evidence.ids)))


def test_evidence_round_trips_and_aligns(scored):
    test, _ = scored
    ev = collect(test.split, test.predictions)
    assert ev.has_pixels and ev.pos.shape == (40, len(ev.edges)) and len(ev.edges) <= BINS + 2
    assert ev.pos.sum() == test.split.masks.sum()
    assert ev.pos.sum() + ev.neg.sum() == test.split.masks.size
    back = Evidence.from_bytes(ev.to_bytes())
    assert back.ids == ev.ids and np.array_equal(back.pos, ev.pos)
    assert np.array_equal(back.scores, ev.scores) and np.array_equal(back.edges, ev.edges)
    order = list(reversed(ev.ids))
    flipped = ev.aligned(order)
    assert flipped.ids == tuple(order) and np.array_equal(flipped.neg, ev.neg[::-1])
    assert ev.aligned([*order, "missing"]) is None
    no_maps = collect(test.split, Predictions(scores=test.predictions.scores))
    assert not no_maps.has_pixels
    assert Evidence.from_bytes(no_maps.to_bytes()).pos is None


def test_pixel_recipes_reproduce_the_exact_metrics_on_the_full_test_set(scored):
    test, val = scored
    dice = PixelDice().compute(test, val)
    oracle = PixelDiceOracle().compute(test)
    ev = collect(
        test.split, test.predictions, [dice.details["threshold"], oracle.details["threshold"]]
    )
    r = _resampled(ev)
    exact = ranking_metrics(test.split.masks, test.predictions.maps)
    ap = RECIPES["pixel_ap"][0](r, {}, True)[0]
    auc = RECIPES["pixel_auroc"][0](r, {}, True)[0]
    # binned: pixels sharing a bin are ties, so close to (not exactly) the exact values
    assert ap == pytest.approx(exact.average_precision, abs=3e-3)
    assert auc == pytest.approx(exact.roc_auc, abs=1e-3)
    # the thresholds are bin edges: pooled Dice is exact there
    assert RECIPES["pixel_dice"][0](r, dict(dice.details), True)[0] == pytest.approx(dice.value)
    assert RECIPES["pixel_dice_oracle"][0](r, {}, True)[0] == pytest.approx(oracle.value)


def test_replicates_are_centred_on_the_stored_value_and_cover_it(scored):
    test, val = scored
    ev = collect(test.split, test.predictions)
    r = _resampled(ev)
    value = PixelAP().compute(test).value
    reps = replicate("pixel_ap", r, {}, value)
    assert reps.shape == (500,)
    ci = stats.percentile_interval(reps)
    assert ci.low < value < ci.high
    auroc = ImageAUROC().compute(test)
    ci = stats.percentile_interval(replicate("image_auroc", r, {}, auroc.value))
    assert ci.low < auroc.value < ci.high
    balanced = ImageBalancedAccuracy().compute(test, val)
    reps = replicate("image_balanced_accuracy", r, dict(balanced.details), balanced.value)
    assert stats.percentile_interval(reps).low <= balanced.value


def test_replicate_refuses_evidence_that_does_not_match(scored):
    test, _ = scored
    r = _resampled(collect(test.split, test.predictions))
    with pytest.raises(ValueError, match="does not match the stored"):
        replicate("pixel_ap", r, {}, 0.9)
    with pytest.raises(ValueError, match="no threshold"):
        replicate("pixel_dice", r, {}, 0.1)
    no_pixels = _resampled(collect(test.split, Predictions(scores=test.predictions.scores)))
    with pytest.raises(ValueError, match="no pixel counts"):
        replicate("pixel_auroc", no_pixels, {}, 0.5)


def test_every_builtin_recipe_is_declared_by_its_metric():
    from anobench.api import registry

    declared = {registry.get_metric(n).resample for n in registry.names("metric")} - {None}
    assert declared == set(RECIPES)


def test_the_recipes_a_metric_may_name_are_the_ones_that_exist():
    from anobench.api.interfaces import RESAMPLE_RECIPES

    assert set(RESAMPLE_RECIPES) == set(RECIPES) and len(RESAMPLE_RECIPES) == len(RECIPES)
