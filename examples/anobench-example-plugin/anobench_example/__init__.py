"""An example anobench method plugin: distance from the median healthy image, smoothed."""

from __future__ import annotations

from typing import Any

import numpy as np

from anobench import Method, Option, Predictions, RunContext, Split, option_set


# torch and scipy are imported in the methods that use them, so `anobench list` stays fast
class MedianDiff(Method):
    name = "mediandiff"
    description = "map = Gaussian-smoothed |x - median healthy training image| (example plugin)"
    supervision = "unsupervised"
    options = option_set(
        Option("sigma", float, 1.0, "Gaussian smoothing of the map, in pixels", minimum=0.0),
        Option("max_images", int, 2000, "healthy images used for the median", minimum=1),
    )
    profiles = {"quick": {"max_images": 500}, "paper": {}}
    test_options = {"max_images": 50}

    def fit(self, train: Split, val: Split, ctx: RunContext) -> MedianDiff:
        with ctx.progress.task("mediandiff: median image", total=1) as task:
            # a seeded subset keeps fitting cheap and reproducible on big datasets
            rng = np.random.default_rng(ctx.seed)
            count = min(self.max_images, len(train))
            index = np.sort(rng.choice(len(train), size=count, replace=False))
            self.median_ = np.median(np.asarray(train.images[index]), axis=0).astype(np.float32)
            task.advance(1)
        return self

    def predict(self, images: np.ndarray, ctx: RunContext) -> Predictions:
        from scipy.ndimage import gaussian_filter

        diff = np.abs(np.asarray(images, dtype=np.float32) - self.median_).mean(axis=1)
        if self.sigma > 0:
            diff = gaussian_filter(diff, sigma=(0, self.sigma, self.sigma))
        scores = diff.reshape(len(diff), -1).mean(axis=1)
        return Predictions(scores=scores, maps=diff.astype(np.float32))

    def state_dict(self) -> dict[str, Any]:
        import torch

        return {"median": torch.from_numpy(self.median_)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.median_ = np.asarray(state["median"], dtype=np.float32)
