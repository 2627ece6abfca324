"""DeScarGAN's losses computed piece by piece: the implementation before ``gan_iteration``
batched them, kept as the independent reference the equivalence tests compare it with.

L_D is back-propagated in three pieces (real terms, then each class's fake and GP terms) and L_G
in one piece per translation target, so only one piece's graph is alive at a time.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import torch
import torch.nn.functional as F
from anobench_descargan.networks import Discriminator, Generator
from anobench_descargan.training import CLASSES, apply
from anobench_descargan.weights import Weights


def iteration_reference(
    g: Generator,
    d: Discriminator,
    x: torch.Tensor,
    y: torch.Tensor,
    noise: torch.Tensor,
    alpha: torch.Tensor,
    w: Weights,
    cast: AbstractContextManager,
    opt_d: torch.optim.Optimizer,
    opt_g: torch.optim.Optimizer,
    clip: float,
    g_step: bool,
) -> dict[str, Any]:
    """A D step and, when ``g_step``, a G step, piece by piece."""
    losses: dict[str, Any] = discriminator_backward_reference(g, d, x, y, noise, alpha, w, cast)
    apply(opt_d, d, clip)
    if g_step:
        d.requires_grad_(False)
        try:
            losses.update(generator_backward_reference(g, d, x, y, noise, w, cast))
        finally:
            d.requires_grad_(True)
        apply(opt_g, g, clip)
    return losses


def gradient_penalty_reference(
    d: Discriminator, real: torch.Tensor, fake: torch.Tensor, cls: int, alpha: torch.Tensor
) -> torch.Tensor:
    """WGAN-GP on the critic of one class: mean((||grad of the summed patch map|| - 1)^2)."""
    mixed = (alpha * real + (1 - alpha) * fake).detach().requires_grad_(True)
    out = d.critic(d.features(mixed), cls)
    (grad,) = torch.autograd.grad(out.float().sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def discriminator_backward_reference(
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
            gp_c = gradient_penalty_reference(d, x, fakes[c], c, alpha)
        (w.fake * fake_c + w.gp * gp_c).backward()
        fake_loss += float(fake_c.detach())
        gp += float(gp_c.detach())
    return {"d_real": float(real_loss.detach()), "d_fake": fake_loss, "d_gp": gp,
            "d_cls": float(cls_loss.detach())}  # fmt: skip


def generator_backward_reference(
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
