"""Training-free references: distance of each pixel from the healthy training population."""

from __future__ import annotations

from typing import Any

import numpy as np

from anobench import Method, Option, Predictions, RunContext, Split, option_set

from .statistics import CHUNK, pixel_mean_std

_SCORE = Option(
    "score",
    str,
    "mean",
    "image score from the map: its mean or its maximum",
    choices=("mean", "max"),
)


class _PopulationReference(Method):
    """Shared fitting and batching; subclasses define the per-pixel map."""

    supervision = "unsupervised"
    uses_gpu = False  # numpy only
    profiles = {"quick": {}, "paper": {}}

    def fit(self, train: Split, val: Split, ctx: RunContext) -> _PopulationReference:
        with ctx.progress.task(f"{self.name}: healthy statistics", total=1) as task:
            self.mean_, self.std_ = pixel_mean_std(train.images)
            task.advance(1)
        return self

    def _map(self, images: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def predict(self, images: np.ndarray, ctx: RunContext) -> Predictions:
        maps = np.empty((len(images), *images.shape[2:]), dtype=np.float32)
        for start in range(0, len(images), CHUNK):
            chunk = np.asarray(images[start : start + CHUNK], dtype=np.float32)
            maps[start : start + CHUNK] = self._map(chunk).mean(axis=1)
        flat = maps.reshape(len(maps), -1)
        scores = flat.max(axis=1) if self.score == "max" else flat.mean(axis=1)
        reconstruction = np.broadcast_to(self.mean_, images.shape)
        return Predictions(scores=scores, maps=maps, extras={"reconstruction": reconstruction})

    def state_dict(self) -> dict[str, Any]:
        import torch

        return {"mean": torch.from_numpy(self.mean_), "std": torch.from_numpy(self.std_)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.mean_ = np.asarray(state["mean"], dtype=np.float32)
        self.std_ = np.asarray(state["std"], dtype=np.float32)


class MeanDiff(_PopulationReference):
    name = "meandiff"
    description = "map = |x - mean healthy training image|, score = map mean (no training)"
    options = option_set(_SCORE)

    def _map(self, images: np.ndarray) -> np.ndarray:
        return np.abs(images - self.mean_)


class ZScore(_PopulationReference):
    name = "zscore"
    description = "map = per-pixel |z-score| against healthy training mean/std (no training)"
    options = option_set(
        _SCORE,
        Option(
            "min_std",
            float,
            1e-2,
            "floor on the per-pixel std, so flat pixels stay finite",
            minimum=1e-8,
        ),
    )

    def _map(self, images: np.ndarray) -> np.ndarray:
        return np.abs(images - self.mean_) / np.maximum(self.std_, self.min_std)
