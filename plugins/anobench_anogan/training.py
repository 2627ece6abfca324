"""Training helpers shared by AnoGAN and f-AnoGAN: seeded construction, noise, frozen nets.

The loop is ``anobench.Trainer``. Everything random is drawn from the run's seeded
``ctx.generator`` (on the CPU, then moved to ``ctx.device``), which the loop checkpoints with the
weights, optimiser moments and the position in the shuffled epoch, so a resumed fit ends with the
same weights as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from anobench import RunContext


def init_seed(ctx: RunContext) -> int:
    """A seed for weight initialisation, drawn from the run's generator."""
    return int(torch.randint(0, 2**31 - 1, (1,), generator=ctx.generator))


def build_seeded(seed: int, factory: Callable[[], nn.Module]) -> nn.Module:
    """Construct (and initialise) a module under ``seed`` without touching the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return factory()


def rand(ctx: RunContext, *shape: int, normal: bool = False) -> torch.Tensor:
    """Uniform [0, 1) or standard normal noise from ``ctx.generator``, on ``ctx.device``."""
    draw = torch.randn if normal else torch.rand
    return draw(shape, generator=ctx.generator).to(ctx.device)


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
