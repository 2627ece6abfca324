"""Mini-batches for training loops that must resume exactly where they stopped: the indices
(:class:`EpochSampler`), the images on the run's device (:class:`Batches`) and the copies there."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # imported where used: importing this module stays fast
    import torch

    from .context import RunContext


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


def to_tensor(images: Any, device: torch.device) -> torch.Tensor:
    """A float32 copy of (a slice of) an image array, which may be a read-only memory map."""
    import torch

    return to_device(torch.from_numpy(np.array(images, dtype=np.float32, order="C")), device)


def to_device(tensor: torch.Tensor, device: torch.device | str) -> torch.Tensor:
    """``tensor`` (on the CPU) on ``device``; to a GPU through pinned memory without blocking
    the host, so the copy overlaps the work already queued (CPU runs take the plain path)."""
    import torch

    device = torch.device(device)
    if device.type != "cuda" or tensor.device.type != "cpu":
        return tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)


class Batches:
    """Endless mini-batches of ``min(batch_size, N)`` images (and labels) on ``ctx.device``.

    Indices come from an :class:`EpochSampler` on the run's ``ctx.generator``: reshuffled
    passes, no ragged batch. ``next()`` gives the images, or ``(images, labels)`` when
    ``labels`` is given; the loop calls it with the step, which it ignores.
    """

    def __init__(
        self, images: Any, batch_size: int, ctx: RunContext, labels: Any | None = None
    ) -> None:
        self.images = images
        self.labels = None if labels is None else np.asarray(labels)
        self.device = ctx.device
        self.sampler = EpochSampler(len(images), batch_size, ctx.generator)
        self.n, self.batch = self.sampler.n, self.sampler.batch

    def next(self) -> Any:
        import torch

        index = self.sampler.next()
        x = to_tensor(self.images[index], self.device)
        if self.labels is None:
            return x
        return x, to_device(torch.from_numpy(self.labels[index]), self.device)

    def __call__(self, step: int) -> Any:
        return self.next()

    def state_dict(self) -> dict[str, Any]:
        return self.sampler.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.sampler.load_state_dict(state)
