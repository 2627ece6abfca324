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


def discriminator_backward(
    g: Generator,
    d: Discriminator,
    x: torch.Tensor,
    y: torch.Tensor,
    noise: torch.Tensor,
    alpha: torch.Tensor,
    w: Weights,
    cast: AbstractContextManager,
) -> dict[str, float]:
    """Accumulate the gradients of L_D in D; returns the loss terms.

    ``x``: noisy real batch; ``noise``: the one noise tensor added to every translation. L_D is
    back-propagated in three pieces (real terms, then each class's fake and GP terms) so only one
    piece's graph is alive at a time; the accumulated gradients equal those of the summed loss.
    """
    with cast:
        # translations for the critic only: no graph through G
        with torch.no_grad():
            fakes = {c: g(x, c) + noise for c in CLASSES}
        h = d.features(x)
        cls_loss = F.cross_entropy(d.classify(h).float(), y)
        real_loss = x.new_zeros((), dtype=torch.float32)
        for c in CLASSES:
            member = y == c
            if member.any():
                share = member.float().mean()
                real_loss = real_loss - d.critic(h[member], c).float().mean() * share
    (w.real * real_loss + w.cls_d * cls_loss).backward()
    fake_loss, gp = 0.0, 0.0
    for c in CLASSES:
        with cast:
            share = (y == c).float().mean()
            fake_c = d.critic(d.features(fakes[c]), c).float().mean() * share
            gp_c = gradient_penalty(d, x, fakes[c], c, alpha)
        (w.fake * fake_c + w.gp * gp_c).backward()
        fake_loss += float(fake_c.detach())
        gp += float(gp_c.detach())
    return {"d_real": float(real_loss.detach()), "d_fake": fake_loss, "d_gp": gp,
            "d_cls": float(cls_loss.detach())}  # fmt: skip


def classifier_backward(
    d: Discriminator, x: torch.Tensor, y: torch.Tensor, cast: AbstractContextManager
) -> dict[str, float]:
    """Accumulate the gradients of D's classification loss alone (the warm-up iterations)."""
    with cast:
        loss = F.cross_entropy(d.classify(d.features(x)).float(), y)
    loss.backward()
    return {"d_cls": float(loss.detach())}


def generator_backward(
    g: Generator,
    d: Discriminator,
    x: torch.Tensor,
    y: torch.Tensor,
    noise: torch.Tensor,
    w: Weights,
    cast: AbstractContextManager,
) -> dict[str, float]:
    """Accumulate the gradients of L_G in G; returns the loss terms.

    One piece per translation target t: the adversarial and classification terms of G(x, t), the
    identity term of the images of class t, and the cycle term of the other class's images
    (translated to t and back). Summed over t this is L_G; only one piece's graph is alive.
    """
    totals = dict.fromkeys(("g_adv", "g_cls", "g_id", "g_rec"), 0.0)
    for t in CLASSES:
        other = 1 - t
        with cast:
            fake = g(x, t) + noise
            h = d.features(fake)
            adv = -d.critic(h, t).float().mean()
            target = torch.full((len(x),), t, dtype=torch.long, device=x.device)
            cls_loss = F.cross_entropy(d.classify(h).float(), target)
            identity = x.new_zeros((), dtype=torch.float32)
            reconstruction = x.new_zeros((), dtype=torch.float32)
            own, rest = y == t, y == other
            if own.any():
                # an image translated to its own class must stay unchanged
                identity = F.mse_loss(fake[own].float(), x[own].float())
            if rest.any():
                # there and back again: the other class's images, via t, back to their class
                back = g(fake[rest], other) + noise[rest]
                reconstruction = F.mse_loss(back.float(), x[rest].float())
        loss = (
            w.adv_g * adv + w.cls_g * cls_loss + w.identity * identity
            + w.reconstruction * reconstruction
        )  # fmt: skip
        loss.backward()
        for key, value in zip(totals, (adv, cls_loss, identity, reconstruction), strict=True):
            totals[key] += float(value.detach())
    return totals


def apply(optimizer: torch.optim.Optimizer, module: nn.Module, clip: float) -> None:
    """Clip the accumulated gradients, step, and clear them for the next accumulation."""
    nn.utils.clip_grad_norm_(module.parameters(), clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
