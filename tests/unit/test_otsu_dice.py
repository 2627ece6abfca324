"""``pixel_dice_otsu``: per-image Dice at each map's Otsu threshold, against literal loops."""

from __future__ import annotations

import math
from bisect import bisect_right

import numpy as np
import pytest

from anobench import Predictions, Scored, Split
from anobench.metrics.builtin import PixelDiceOtsu
from anobench.metrics.otsu import otsu_threshold
from anobench.testing import check_metric


def literal_otsu(values, bins=256):
    """Otsu by a plain loop over pixels and candidate splits (no cumulative sums)."""
    flat = [float(v) for v in np.ravel(values)]
    low, high = min(flat), max(flat)
    if low == high:
        return low
    edges = np.linspace(low, high, bins + 1).tolist()
    centres = [(edges[k] + edges[k + 1]) / 2 for k in range(bins)]
    counts = [0] * bins
    for v in flat:
        counts[min(bisect_right(edges, v) - 1, bins - 1)] += 1
    best, best_k = -1.0, 0
    for k in range(bins - 1):
        w0 = sum(counts[: k + 1])
        w1 = sum(counts[k + 1 :])
        if w0 == 0 or w1 == 0:
            continue
        m0 = sum(c * x for c, x in zip(counts[: k + 1], centres[: k + 1], strict=True)) / w0
        m1 = sum(c * x for c, x in zip(counts[k + 1 :], centres[k + 1 :], strict=True)) / w1
        between = w0 * w1 * (m0 - m1) ** 2
        if between > best:
            best, best_k = between, k
    return centres[best_k]


def literal_dice(mask, pred):
    tp = sum(1 for m, p in zip(np.ravel(mask), np.ravel(pred), strict=True) if m and p)
    return 2 * tp / (int(np.sum(mask)) + int(np.sum(pred)))


def _maps(seed, n=6, size=12, decimals=None):
    rng = np.random.default_rng(seed)
    masks = np.zeros((n, size, size), bool)
    maps = rng.gamma(2.0, 1.0, (n, size, size))
    for i in range(n // 2, n):
        r, c = rng.integers(0, size - 4, 2)
        masks[i, r : r + 4, c : c + 4] = True
        maps[i][masks[i]] += rng.uniform(0, 4)
    if decimals is not None:
        maps = np.round(maps, decimals)  # ties
    labels = np.array([0] * (n // 2) + [1] * (n - n // 2), np.int8)
    return masks, maps.astype(np.float32), labels


def _scored(masks, maps, labels):
    images = np.zeros((len(labels), 1, *masks.shape[1:]), np.float32)
    split = Split(images=images, labels=labels, ids=[f"i{k}" for k in range(len(labels))],
                  masks=masks)  # fmt: skip
    return Scored(Predictions(scores=maps.reshape(len(maps), -1).max(1), maps=maps), split)


@pytest.mark.parametrize("seed, decimals", [(0, None), (1, 1), (2, 0), (3, 2)])
def test_threshold_and_metric_equal_the_literal_loops(seed, decimals):
    masks, maps, labels = _maps(seed, decimals=decimals)
    for m in maps:
        assert math.isclose(otsu_threshold(m), literal_otsu(m), rel_tol=1e-9, abs_tol=1e-12)
    result = PixelDiceOtsu().compute(_scored(masks, maps, labels))
    expected = {
        f"i{i}": literal_dice(masks[i], maps[i] > literal_otsu(maps[i]))
        for i in np.flatnonzero(labels == 1)
    }
    assert result.per_image.keys() == expected.keys()
    for key, value in expected.items():
        assert math.isclose(result.per_image[key], value, abs_tol=1e-12)
    assert math.isclose(result.value, float(np.mean(list(expected.values()))), abs_tol=1e-12)


def test_equals_scikit_image_when_installed():
    filters = pytest.importorskip("skimage.filters")
    for seed in range(5):
        for m in _maps(seed, decimals=seed % 3)[1]:
            assert math.isclose(otsu_threshold(m), float(filters.threshold_otsu(m)), rel_tol=1e-6)


def test_edge_cases_and_contract():
    masks, maps, labels = _maps(4)
    masks[-1] = False  # a diseased image with nothing annotated is skipped and counted
    maps[0] = 1.0  # a constant map: threshold = its value, nothing foreground
    assert otsu_threshold(maps[0]) == 1.0
    result = PixelDiceOtsu().compute(_scored(masks, maps, labels))
    assert result.details["skipped_empty_mask"] == 1 and len(result.per_image) == 2
    assert not PixelDiceOtsu().compute(_scored(masks, maps, np.zeros(6, np.int8))).defined
    maps[3, 0, 0] = np.nan
    assert "NaN" in PixelDiceOtsu().compute(_scored(masks, maps, labels)).reason
    assert "perfect beats random" in check_metric(PixelDiceOtsu)
    assert not PixelDiceOtsu.oracle and PixelDiceOtsu.resample is None


def test_pyproject_registers_the_metric_and_the_new_datasets():
    from pathlib import Path

    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]
    metrics = project["entry-points"]["anobench.metrics"]
    assert metrics["pixel_dice_otsu"] == "anobench.metrics.builtin:PixelDiceOtsu"
    datasets = project["entry-points"]["anobench.datasets"]
    assert datasets["folder"] == "anobench_folder:FolderDataset"
    assert datasets["bmad"] == "anobench_bmad:BMADDataset"
    assert datasets["medianomaly"] == "anobench_medianomaly:MedIAnomalyDataset"
    assert "nibabel>=5" in project["optional-dependencies"]["dev"]
