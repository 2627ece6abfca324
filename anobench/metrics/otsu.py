"""Otsu's threshold (Otsu, IEEE SMC 1979) of one anomaly map, as scikit-image computes it.

256 equal bins between the map's minimum and maximum; the threshold is the centre of the bin
that maximises the between-class variance of "at or below" vs "above" (first bin on ties),
and the foreground is ``map > threshold``. A constant map has its value as the threshold (so
no pixel is foreground).
"""

from __future__ import annotations

import numpy as np

BINS = 256


def otsu_threshold(values: np.ndarray, bins: int = BINS) -> float:
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    low, high = float(flat.min()), float(flat.max())
    if low == high:
        return low
    hist, edges = np.histogram(flat, bins=bins, range=(low, high))
    centres = (edges[:-1] + edges[1:]) / 2
    hist = hist.astype(np.float64)
    below = np.cumsum(hist)
    above = np.cumsum(hist[::-1])[::-1]
    mean_below = np.cumsum(hist * centres) / np.maximum(below, 1e-300)
    mean_above = (np.cumsum((hist * centres)[::-1]) / np.maximum(above[::-1], 1e-300))[::-1]
    between = below[:-1] * above[1:] * (mean_below[:-1] - mean_above[1:]) ** 2
    return float(centres[int(np.argmax(between))])
