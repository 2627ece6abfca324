"""One DeScarGAN iteration: a discriminator step and, every n_critic-th, a generator step.

Losses and weights follow the official code (reference notes section 3); everything that differs
is listed in this plugin's README.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .networks import DISEASED, HEALTHY, Discriminator, Generator

CLASSES = (HEALTHY, DISEASED)


@dataclass(frozen=True)
class Weights:
    real: float = 20.0
    fake: float = 20.0
    gp: float = 10.0
    cls_d: float = 5.0
    adv_g: float = 1.0
    cls_g: float = 1.0
    identity: float = 50.0
    reconstruction: float = 50.0


def autocast(device: torch.device, precision: str) -> AbstractContextManager:
    """bf16 autocast (no loss scaling needed) or nothing."""
    if precision == "fp32":
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def gradient_penalty(
    d: Discriminator, real: torch.Tensor, fake: torch.Tensor, cls: int, alpha: torch.Tensor
) -> torch.Tensor:
    """WGAN-GP on the critic of one class: mean((||grad of the summed patch map|| - 1)^2)."""
    mixed = (alpha * real + (1 - alpha) * fake).detach().requires_grad_(True)
    out = d.critic(d.features(mixed), cls)
    (grad,) = torch.autograd.grad(out.float().sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def discriminator_loss(
    g: Generator,
    d: Discriminator,
    x: torch.Tensor,
    y: torch.Tensor,
    noise: torch.Tensor,
    alpha: torch.Tensor,
    w: Weights,
    cast: AbstractContextManager,
) -> tuple[torch.Tensor, dict[str, float]]:
    """``x``: noisy real batch; ``noise``: the one noise tensor added to every translation."""
    with cast:
        # translations for the critic only: no graph through G (saves most of the memory)
        with torch.no_grad():
            fakes = {c: g(x, c) + noise for c in CLASSES}
        h = d.features(x)
        cls_loss = F.cross_entropy(d.classify(h).float(), y)
        real_loss = x.new_zeros(())
        fake_loss = x.new_zeros(())
        gp = x.new_zeros(())
        for c in CLASSES:
            member = y == c
            share = member.float().mean()
            if member.any():
                real_loss = real_loss - d.critic(h[member], c).float().mean() * share
            fake_loss = fake_loss + d.critic(d.features(fakes[c]), c).float().mean() * share
            gp = gp + gradient_penalty(d, x, fakes[c], c, alpha)
    loss = w.real * real_loss + w.fake * fake_loss + w.gp * gp + w.cls_d * cls_loss
    parts = {"d_real": real_loss, "d_fake": fake_loss, "d_gp": gp, "d_cls": cls_loss}
    return loss, {k: float(v.detach()) for k, v in parts.items()}


def generator_loss(
    g: Generator,
    d: Discriminator,
    x: torch.Tensor,
    y: torch.Tensor,
    noise: torch.Tensor,
    w: Weights,
    cast: AbstractContextManager,
) -> tuple[torch.Tensor, dict[str, float]]:
    with cast:
        fakes = {c: g(x, c) + noise for c in CLASSES}
        adv = x.new_zeros(())
        cls_loss = x.new_zeros(())
        identity = x.new_zeros(())
        reconstruction = x.new_zeros(())
        for c in CLASSES:
            h = d.features(fakes[c])
            adv = adv - d.critic(h, c).float().mean()
            target = torch.full((len(x),), c, dtype=torch.long, device=x.device)
            cls_loss = cls_loss + F.cross_entropy(d.classify(h).float(), target)
            member = y == c
            if member.any():
                # identity: an image translated to its own class; cycle: there and back again
                identity = identity + F.mse_loss(fakes[c][member].float(), x[member].float())
                back = g(fakes[1 - c][member], c) + noise[member]
                reconstruction = reconstruction + F.mse_loss(back.float(), x[member].float())
    loss = (
        w.adv_g * adv
        + w.cls_g * cls_loss
        + w.identity * identity
        + w.reconstruction * reconstruction
    )
    parts = {"g_adv": adv, "g_cls": cls_loss, "g_id": identity, "g_rec": reconstruction}
    return loss, {k: float(v.detach()) for k, v in parts.items()}


def step(
    optimizer: torch.optim.Optimizer, loss: torch.Tensor, module: nn.Module, clip: float
) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_norm_(module.parameters(), clip)
    optimizer.step()
