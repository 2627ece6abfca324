"""Per-pixel statistics of healthy training images, in chunks (images may be memory maps)."""

from __future__ import annotations

import numpy as np

CHUNK = 256


def pixel_mean_std(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (population) standard deviation over the image axis, in float64 accumulators."""
    n = len(images)
    total = np.zeros(images.shape[1:], dtype=np.float64)
    total_sq = np.zeros(images.shape[1:], dtype=np.float64)
    for start in range(0, n, CHUNK):
        chunk = np.asarray(images[start : start + CHUNK], dtype=np.float64)
        total += chunk.sum(axis=0)
        total_sq += np.square(chunk).sum(axis=0)
    mean = total / n
    var = np.maximum(total_sq / n - np.square(mean), 0.0)
    return mean.astype(np.float32), np.sqrt(var).astype(np.float32)
