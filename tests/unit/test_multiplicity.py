"""Holm and Bonferroni against a hand computation and statsmodels' ``multipletests``."""

from __future__ import annotations

import numpy as np
import pytest

from anobench.results.multiplicity import adjust


def test_holm_by_hand():
    # sorted 0.01, 0.02, 0.03, 0.04 times 4, 3, 2, 1 = 0.04, 0.06, 0.06, 0.04; running maximum
    # 0.04, 0.06, 0.06, 0.06; back in the given order
    got = adjust([0.03, 0.01, 0.04, 0.02], "holm")
    assert got == pytest.approx([0.06, 0.04, 0.06, 0.06], abs=1e-15)


def test_bonferroni_and_none_by_hand():
    assert adjust([0.3, 0.01], "bonferroni") == pytest.approx([0.6, 0.02])
    assert adjust([0.7, 0.01], "bonferroni") == pytest.approx([1.0, 0.02])
    assert adjust([0.7, 0.01], "none") == [0.7, 0.01]


def test_missing_p_values_are_not_in_the_family():
    got = adjust([None, 0.01, float("nan"), 0.02], "holm")
    assert got[0] is None and got[2] is None
    assert got[1] == pytest.approx(0.02) and got[3] == pytest.approx(0.02)
    assert adjust([], "holm") == []


@pytest.mark.parametrize("method", ["holm", "bonferroni"])
def test_equals_statsmodels(method):
    multipletests = pytest.importorskip("statsmodels.stats.multitest").multipletests
    rng = np.random.default_rng(3)
    for n in (1, 2, 5, 17):
        p = rng.uniform(size=n) ** 3
        p[: n // 3] = p[0]  # ties
        expected = multipletests(p, method=method)[1]
        assert adjust(list(p), method) == pytest.approx(list(expected), abs=1e-15)


def test_unknown_correction():
    with pytest.raises(ValueError, match="holm"):
        adjust([0.1], "sidak")
