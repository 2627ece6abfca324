"""Mini-batch indices for training loops that must resume exactly where they stopped."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # imported where used: importing this module stays fast
    import torch


class EpochSampler:
    """Endless batches of ``min(batch_size, n)`` indices from reshuffled passes over ``n`` items.

    A batch that crosses the end of a pass is completed from the next permutation, so no batch
    is ragged (BatchNorm needs more than one image). Permutations are drawn from ``generator``
    (the run's seeded ``ctx.generator``); ``state_dict`` holds the current pass and position, so
    a resumed run draws the same batches as an uninterrupted one.
    """

    def __init__(self, n: int, batch_size: int, generator: torch.Generator) -> None:
        import torch

        if n < 1:
            raise ValueError("EpochSampler needs at least one item")
        self.n = n
        self.batch = min(batch_size, n)
        self.generator = generator
        self.perm = torch.empty(0, dtype=torch.long)
        self.pos = 0

    def next(self) -> np.ndarray:
        import torch

        parts, need = [], self.batch
        while need:
            if self.pos >= len(self.perm):
                self.perm = torch.randperm(self.n, generator=self.generator)
                self.pos = 0
            take = self.perm[self.pos : self.pos + need]
            self.pos += len(take)
            need -= len(take)
            parts.append(take)
        return torch.cat(parts).numpy()

    def state_dict(self) -> dict[str, Any]:
        return {"perm": self.perm.clone(), "pos": self.pos}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.perm = state["perm"].clone()
        self.pos = int(state["pos"])
