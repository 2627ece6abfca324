"""Training plumbing shared by AnoGAN and f-AnoGAN: batches, resumable stages, frozen nets.

Everything random is drawn from the run's seeded ``ctx.generator`` (on the CPU, then moved to
``ctx.device``), and everything that changes during training (weights, optimiser moments, BN
statistics, the generator state, the position in the shuffled epoch, the step) is checkpointed,
so a resumed fit ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from anobench import EpochSampler, RunContext

Losses = dict[str, float]


def steps_for_epochs(epochs: float, n_images: int, batch: int, batches_per_step: int = 1) -> int:
    """Optimiser steps that show the discriminator (or network) ``epochs`` passes of real data."""
    return max(1, math.ceil(epochs * n_images / (batch * batches_per_step)))


def init_seed(ctx: RunContext) -> int:
    """A seed for weight initialisation, drawn from the run's generator."""
    return int(torch.randint(0, 2**31 - 1, (1,), generator=ctx.generator))


def build_seeded(seed: int, factory: Callable[[], nn.Module]) -> nn.Module:
    """Construct (and initialise) a module under ``seed`` without touching the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return factory()


def to_tensor(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """A float32 copy of (a slice of) an image array, which may be a read-only memory map."""
    return torch.from_numpy(np.array(images, dtype=np.float32, order="C")).to(device)


def rand(ctx: RunContext, *shape: int, normal: bool = False) -> torch.Tensor:
    """Uniform [0, 1) or standard normal noise from ``ctx.generator``, on ``ctx.device``."""
    draw = torch.randn if normal else torch.rand
    return draw(shape, generator=ctx.generator).to(ctx.device)


class BatchStream:
    """Endless mini-batches of a fixed size from reshuffled passes over the training images.

    A batch that crosses the end of a pass is completed from the next permutation, so every
    batch has ``min(batch_size, N)`` images (no ragged last batch for BatchNorm).
    """

    def __init__(self, images: np.ndarray, batch_size: int, ctx: RunContext) -> None:
        self.images = images
        self.ctx = ctx
        self.sampler = EpochSampler(len(images), batch_size, ctx.generator)
        self.n, self.batch = self.sampler.n, self.sampler.batch

    def next(self) -> torch.Tensor:
        return to_tensor(self.images[self.sampler.next()], self.ctx.device)

    def state_dict(self) -> dict[str, Any]:
        return self.sampler.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.sampler.load_state_dict(state)


@contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """Eval mode and no parameter gradients for ``modules``; restored afterwards."""
    saved = [(m, m.training, [p.requires_grad for p in m.parameters()]) for m in modules]
    for m in modules:
        m.eval()
        m.requires_grad_(False)
    try:
        yield
    finally:
        for m, training, flags in saved:
            m.train(training)
            for p, flag in zip(m.parameters(), flags, strict=True):
                p.requires_grad_(flag)


@contextmanager
def bn_stats_frozen(module: nn.Module) -> Iterator[None]:
    """Batch statistics in the forward pass, but running statistics left unchanged."""
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum


@dataclass
class Stage:
    """One phase of training: ``steps`` calls of ``step(i)`` (``i`` counts from 0 in the stage).

    ``seconds``: an own wall-clock cap (measured on the run's budget clock) after which the
    stage ends and the next begins; ``validate``: scalars logged at checkpoints and at the end.
    """

    name: str
    steps: int
    step: Callable[[int], Losses]
    seconds: float | None = None
    validate: Callable[[], Losses] | None = None


class Trainer:
    """Runs stages with one global step counter, the run's budget, logs and checkpoints.

    The run's budget (``ctx.budget``) stops everything, resumably: the stage in progress is
    continued by a later fit with the same workdir. A stage's own cap (``Stage.seconds``) ends
    only that stage.
    """

    def __init__(
        self,
        ctx: RunContext,
        modules: Mapping[str, nn.Module],
        optimizers: Mapping[str, torch.optim.Optimizer],
        stream: BatchStream,
        checkpoint_every: int,
    ) -> None:
        self.ctx = ctx
        self.modules = modules
        self.optimizers = optimizers
        self.stream = stream
        self.every = checkpoint_every
        self.stage = 0
        self.step = 0
        self.stage_start = 0

    def state(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "step": self.step,
            "stage_start": self.stage_start,
            "modules": {k: m.state_dict() for k, m in self.modules.items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "stream": self.stream.state_dict(),
            "rng": self.ctx.generator.get_state(),
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        for k, m in self.modules.items():
            m.load_state_dict(state["modules"][k])
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
        self.stream.load_state_dict(state["stream"])
        self.ctx.generator.set_state(state["rng"])
        self.stage = int(state["stage"])
        self.step = int(state["step"])
        self.stage_start = int(state["stage_start"])

    def save(self) -> None:
        self.ctx.checkpoint(self.state())

    def _validate(self, stage: Stage) -> None:
        if stage.validate is not None:
            self.ctx.log(self.step, **stage.validate())

    def run(self, stages: list[Stage]) -> int:
        """Train (resuming from the workdir's checkpoint if any); returns the global step."""
        ctx = self.ctx
        state = ctx.resume()
        if state is not None:
            self.restore(state)
        for index in range(self.stage, len(stages)):
            stage = stages[index]
            if index > self.stage:
                self.stage, self.stage_start = index, self.step
            first = self.step
            stop = self.stage_start + stage.steps
            total = max(0, ctx.budget.steps(stop) - self.stage_start)
            with ctx.progress.task(stage.name, total=total) as task:
                if self.step > self.stage_start:
                    task.advance(self.step - self.stage_start)
                while self.step < stop and not ctx.budget.expired(self.step):
                    if stage.seconds is not None and ctx.budget.elapsed() >= stage.seconds:
                        break
                    losses = stage.step(self.step - self.stage_start)
                    self.step += 1
                    ctx.log(self.step, **losses)
                    task.advance(1, **losses)
                    if self.step % self.every == 0:
                        self._validate(stage)
                        self.save()
            if ctx.budget.expired(self.step):
                break
            if self.step > first and self.step % self.every != 0:
                self._validate(stage)
        self.save()
        return self.step
