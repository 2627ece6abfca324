"""DeLong's test (Sun & Xu's algorithm) against R's pROC 1.18.0: the values in
tests/fixtures/delong/proc.csv were written by tests/fixtures/delong/proc.R (its header says how
to run it) from the scores in scores.csv; R is not needed to run these tests."""

from __future__ import annotations

import csv
import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from anobench.results import delong

HERE = Path(__file__).parents[1] / "fixtures" / "delong"
SETS = ("continuous", "ratings", "small_tied")
NAMES = ("a", "b", "c")
#: R writes 15 significant digits
TOL = 1e-12


def _scores(name: str) -> tuple[np.ndarray, np.ndarray]:
    with open(HERE / "scores.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["set"] == name]
    labels = np.array([int(r["label"]) for r in rows])
    return np.array([[float(r[x]) for r in rows] for x in NAMES]), labels


def _reference(name: str) -> dict[tuple[str, str, str], float]:
    with open(HERE / "proc.csv") as f:
        lines = [line for line in f if not line.startswith("#")]
    return {
        (r["kind"], r["x"], r["y"]): float(r["value"])
        for r in csv.DictReader(lines)
        if r["set"] == name
    }


@pytest.mark.parametrize("name", SETS)
def test_aurocs_and_covariance_equal_proc(name):
    scores, labels = _scores(name)
    ref = _reference(name)
    parts = delong.components(scores, labels)
    for i, x in enumerate(NAMES):
        assert parts.auc[i] == pytest.approx(ref[("auc", x, x)], abs=TOL)
        for j, y in enumerate(NAMES):
            key = ("cov", x, y) if ("cov", x, y) in ref else ("cov", y, x)
            assert parts.cov[i, j] == pytest.approx(ref[key], abs=TOL)


@pytest.mark.parametrize("name", SETS)
def test_paired_test_equals_proc_roc_test(name):
    scores, labels = _scores(name)
    ref = _reference(name)
    for (i, x), (j, y) in itertools.combinations(enumerate(NAMES), 2):
        got = delong.paired(scores[i], scores[j], labels)
        assert got.reason is None
        assert got.diff / got.se == pytest.approx(ref[("z", x, y)], abs=1e-9)
        assert got.p == pytest.approx(ref[("p", x, y)], abs=1e-9)
        assert got.low == pytest.approx(ref[("ci_low", x, y)], abs=1e-9)
        assert got.high == pytest.approx(ref[("ci_high", x, y)], abs=1e-9)


def test_the_mean_over_seeds_is_a_contrast_of_procs_covariance():
    """Two runs (seeds) of one method against one run of another: the difference of the means
    and its variance w' S w, with S and the AUROCs taken from pROC."""
    scores, labels = _scores("ratings")
    ref = _reference("ratings")
    auc = np.array([ref[("auc", x, x)] for x in NAMES])
    cov = np.array([[ref.get(("cov", x, y), ref.get(("cov", y, x))) for y in NAMES] for x in NAMES])
    w = np.array([0.5, 0.5, -1.0])
    got = delong.paired(scores[:2], scores[2:], labels)
    assert got.diff == pytest.approx(w @ auc, abs=TOL)
    assert got.se == pytest.approx(math.sqrt(w @ cov @ w), abs=TOL)


def test_identical_scores_have_no_p_value():
    scores, labels = _scores("continuous")
    got = delong.paired(scores[0], scores[0], labels)
    assert math.isnan(got.p) and "identically" in got.reason


def test_too_few_images_of_a_class_is_refused():
    with pytest.raises(ValueError, match="2 positive"):
        delong.components(np.array([[0.1, 0.2, 0.3]]), np.array([1, 0, 0]))
