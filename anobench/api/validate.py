"""Checks on what plugins hand back, so a broken plugin is named instead of corrupting results."""

from __future__ import annotations

import numpy as np

from .errors import DataError, MethodFailure
from .records import Predictions, Split


def check_split(split: Split, owner: str, name: str) -> None:
    labels = np.asarray(split.labels)
    if len(split) == 0:
        raise DataError(f"{owner} returned an empty '{name}' split")
    if not np.isin(labels, (0, 1)).all():
        raise DataError(f"{owner}: '{name}' labels must be 0 (healthy) or 1 (diseased)")
    if split.images.dtype != np.float32:
        raise DataError(f"{owner}: '{name}' images must be float32, got {split.images.dtype}")
    if split.masks is not None and split.masks.dtype != bool:
        raise DataError(f"{owner}: '{name}' masks must be bool, got {split.masks.dtype}")
    if len(set(split.ids)) != len(split.ids):
        raise DataError(f"{owner}: '{name}' ids are not unique")


def check_predictions(pred: Predictions, images: np.ndarray, owner: str) -> Predictions:
    """Return the predictions as float arrays, or raise naming the plugin and the problem."""
    n, _, h, w = images.shape
    scores = np.asarray(pred.scores, dtype=np.float64)
    if scores.shape != (n,):
        raise MethodFailure(f"{owner} returned scores of shape {scores.shape}, expected ({n},)")
    if not np.isfinite(scores).all():
        bad = int((~np.isfinite(scores)).sum())
        raise MethodFailure(f"{owner} returned {bad} NaN/inf image scores")
    maps = pred.maps
    if maps is not None:
        maps = np.asarray(maps, dtype=np.float32)
        if maps.shape != (n, h, w):
            raise MethodFailure(
                f"{owner} returned maps of shape {maps.shape}, expected {(n, h, w)} (one map per"
                " image, same size as the input)"
            )
        if not np.isfinite(maps).all():
            bad = int((~np.isfinite(maps)).sum())
            raise MethodFailure(f"{owner} returned anomaly maps with {bad} NaN/inf pixels")
    return Predictions(scores=scores, maps=maps, extras=pred.extras)
