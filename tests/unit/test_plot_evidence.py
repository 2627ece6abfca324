"""The curves of the comparison plots against scikit-learn, and which run stands for a row."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from anobench.results import evidence as evid
from anobench.results.leaderboard import Row
from anobench.results.resampling import Evidence, pixel_counts, pixel_edges


def _evidence(seed: int = 0, n: int = 40) -> Evidence:
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % 3 == 0).astype(np.int8)
    # rounded: many tied scores, which the curves must treat like scikit-learn does
    scores = np.round(rng.normal(labels * 0.8, 1.0), 1)
    return Evidence(tuple(f"i{k}" for k in range(n)), labels, scores)


def test_image_roc_is_scikit_learns_curve_and_area():
    ev = _evidence()
    curve = evid.image_roc(ev)
    fpr, tpr, _ = roc_curve(ev.labels, ev.scores, drop_intermediate=False)
    np.testing.assert_allclose(curve.x, fpr)
    np.testing.assert_allclose(curve.y, tpr)
    assert evid.roc_area(curve) == pytest.approx(roc_auc_score(ev.labels, ev.scores), abs=1e-12)


def test_image_pr_step_area_is_average_precision():
    ev = _evidence(1)
    curve = evid.image_pr(ev)
    assert curve.x[0] == 0 and curve.x[-1] == 1 and np.all(np.diff(curve.x) >= 0)
    assert evid.pr_area(curve) == pytest.approx(
        average_precision_score(ev.labels, ev.scores), abs=1e-12
    )
    # at the lowest threshold everything is predicted positive: precision = prevalence
    assert curve.y[-1] == pytest.approx(ev.labels.mean())


def test_one_class_has_no_curve():
    ev = _evidence()
    healthy = Evidence(ev.ids, np.zeros_like(ev.labels), ev.scores)
    assert evid.image_roc(healthy) is None and evid.image_pr(healthy) is None
    assert evid.pixel_roc(ev) is None  # no pixel histograms stored


def test_pixel_curves_from_histograms_match_the_pooled_pixels():
    rng = np.random.default_rng(2)
    masks = np.zeros((6, 8, 8), bool)
    masks[::2, 2:5, 2:6] = True
    # few distinct values: every value is a bin edge, so the histograms lose nothing
    maps = np.round(rng.normal(masks * 0.7, 1.0), 1).astype(np.float32)
    edges = pixel_edges(maps, masks)
    pos, neg = pixel_counts(maps, masks, edges)
    ev = Evidence(tuple("abcdef"), np.array([1, 0] * 3, np.int8), np.zeros(6), edges, pos, neg)
    truth, values = masks.ravel(), maps.ravel().astype(np.float64)
    roc = evid.pixel_roc(ev)
    assert evid.roc_area(roc) == pytest.approx(roc_auc_score(truth, values), abs=1e-9)
    fpr, tpr, _ = roc_curve(truth, values, drop_intermediate=False)
    # the same points (bins without pixels repeat a point)
    points = set(zip(np.round(roc.x, 12), np.round(roc.y, 12), strict=True))
    assert points == set(zip(np.round(fpr, 12), np.round(tpr, 12), strict=True))
    pr = evid.pixel_pr(ev)
    assert evid.pr_area(pr) == pytest.approx(average_precision_score(truth, values), abs=1e-9)


class _Store:
    """The two store reads :func:`evid.median_run` makes."""

    def __init__(self, values: dict[str, tuple[int, float]]) -> None:
        self.values = values

    def metric_details(self, run_id, metric):
        return self.values[run_id][1], None, {}

    def get_run(self, run_id):
        return SimpleNamespace(spec=SimpleNamespace(seed=self.values[run_id][0]))


def _row(run_ids) -> Row:
    return Row("m", "h", "quick", "", "m", (), tuple(run_ids), 1, 1.0, {}, {})


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"a": (0, 0.9), "b": (1, 0.1), "c": (2, 0.5)}, ("c", 2)),  # odd: the middle run
        ({"a": (0, 0.9), "b": (1, 0.1), "c": (2, 0.5), "d": (3, 0.7)}, ("c", 2)),  # lower middle
        ({"a": (0, 0.5), "b": (1, 0.5)}, ("a", 0)),  # ties: the lower seed
        ({"a": (0, float("nan")), "b": (1, 0.2), "c": (2, 0.4)}, ("b", 1)),  # undefined left out
    ],
)
def test_the_median_seed_stands_for_a_row(values, expected):
    assert evid.median_run(_Store(values), _row(values), "metric") == expected
