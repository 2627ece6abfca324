"""How much a method's healthy translation changes images that are already healthy.

DeScarGAN's synthetic evaluation reports MSE(norm(G(x, healthy)), norm(x)) on healthy test images
(per-image min-max normalisation to [-1, 1]); a good translator leaves healthy images alone.
"""

from __future__ import annotations

import numpy as np

from ..api.interfaces import Metric
from ..api.records import HEALTHY, MetricResult, Scored

EXTRA = "healthy_translation"


def minmax(x: np.ndarray) -> np.ndarray:
    """Per-image min-max rescaling of ``[N, ...]`` to [-1, 1] (flat images map to -1)."""
    flat = x.reshape(len(x), -1).astype(np.float64)
    lo = flat.min(axis=1, keepdims=True)
    span = np.maximum(flat.max(axis=1, keepdims=True) - lo, 1e-12)
    return (2 * (flat - lo) / span - 1).reshape(x.shape)


class HealthyTranslationMSE(Metric):
    name = "translation_mse_healthy"
    short_name = "MSE→healthy"
    description = (
        "MSE between each healthy test image and its healthy translation (both min-max"
        " normalised to [-1, 1]), averaged; needs a method that returns 'healthy_translation'"
    )
    level = "image"
    higher_is_better = False

    def compute(self, test: Scored, val: Scored | None = None) -> MetricResult:
        translation = test.predictions.extras.get(EXTRA)
        if translation is None:
            return MetricResult.undefined(f"the method returns no '{EXTRA}'")
        healthy = np.flatnonzero(np.asarray(test.split.labels) == HEALTHY)
        if len(healthy) == 0:
            return MetricResult.undefined("the test split has no healthy images")
        images = np.asarray(test.split.images)[healthy]
        moved = np.asarray(translation)[healthy]
        if moved.shape != images.shape:
            return MetricResult.undefined(
                f"'{EXTRA}' has shape {moved.shape[1:]}, images have {images.shape[1:]}"
            )
        errors = np.square(minmax(moved) - minmax(images)).reshape(len(healthy), -1).mean(axis=1)
        per_image = {test.split.ids[i]: float(e) for i, e in zip(healthy, errors, strict=True)}
        return MetricResult(value=float(errors.mean()), per_image=per_image)
