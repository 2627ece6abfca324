"""One DeScarGAN iteration: a discriminator step and, every n_critic-th, a generator step.

Losses and weights follow the official code (github.com/JuliaWolleb/DeScarGAN); everything that
differs is listed in this plugin's README. ``gan_iteration`` is the one step the method trains
with; the tests hold an independent per-piece implementation of the same losses to check it.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .networks import DISEASED, HEALTHY, Discriminator, Generator, replay_batch_stats
from .weights import Weights

CLASSES = (HEALTHY, DISEASED)


def make_adam(params: Any, lr: float, betas: tuple[float, float]) -> torch.optim.Adam:
    """Adam as one fused kernel over all parameters (the same update as the per-tensor loop)."""
    return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)


def _scaled(loss: torch.Tensor, scaler: Any) -> torch.Tensor:
    return loss if scaler is None else scaler.scale(loss)


def translations(
    g: Generator, x: torch.Tensor, noise: torch.Tensor, cast: AbstractContextManager, grad: bool
) -> list[torch.Tensor]:
    """G(x, c) + noise for both classes, with G's graph when ``grad`` (for a G step to reuse)."""
    with cast, torch.set_grad_enabled(grad):
        return [g(x, c) + noise for c in CLASSES]


def discriminator_backward(
    g: Generator,
    d: Discriminator,
    x: torch.Tensor,
    y: torch.Tensor,
    noise: torch.Tensor,
    alpha: torch.Tensor,
    w: Weights,
    cast: AbstractContextManager,
    fakes: list[torch.Tensor] | None = None,
    scaler: Any = None,
    gp_scale: float = 1.0,
) -> dict[str, torch.Tensor]:
    """Accumulate the gradients of L_D in D; returns the loss terms (0-d tensors).

    ``x``: noisy real batch; ``noise``: the one noise tensor added to every translation;
    ``fakes``: the translations to both classes (computed here without a graph when None);
    ``gp_scale``: the gradient penalty's weight is ``w.gp * gp_scale``; 0 skips the penalty
    (lazy regularisation: a penalty on every k-th step only, weighted k times).
    D has no normalisation layer and its only random layer (dropout) is in the classification
    head, so every image's encoder features, critic map and input gradient depend on that image
    alone: the real batch and both translations go through the encoder as one batch, the two GP
    mixes as another with one input-gradient call, and L_D takes one backward. The gradients
    equal those of the per-piece reference up to float summation order (tested in float64).
    """
    if fakes is None:
        fakes = translations(g, x, noise, cast, grad=False)
    fakes = [f.detach() for f in fakes]
    n = len(x)
    with cast:
        h = d.features(torch.cat([x, *fakes]))
        h_real = h[:n]
        cls_loss = F.cross_entropy(d.classify(h_real).float(), y)
        real_loss = x.new_zeros((), dtype=torch.float32)
        fake_loss = x.new_zeros((), dtype=torch.float32)
        for i, c in enumerate(CLASSES):
            member = y == c
            share = member.float().mean()
            if member.any():
                real_loss = real_loss - d.critic(h_real[member], c).float().mean() * share
            h_fake = h[(i + 1) * n : (i + 2) * n]
            fake_loss = fake_loss + d.critic(h_fake, c).float().mean() * share
    losses = {
        "d_real": real_loss.detach(),
        "d_fake": fake_loss.detach(),
        "d_cls": cls_loss.detach(),
    }
    total = w.real * real_loss + w.cls_d * cls_loss + w.fake * fake_loss
    if gp_scale:
        gp = _gradient_penalty(d, x, fakes, alpha, cast)
        total = total + w.gp * gp_scale * gp
        losses["d_gp"] = gp.detach()
    _scaled(total, scaler).backward()
    return losses


def penalty_scale(it: int, gp_every: int) -> int:
    """The penalty's weight factor at GAN iteration ``it``: ``gp_every`` on the first iteration
    of every ``gp_every``, 0 (skipped) on the others (lazy regularisation)."""
    return gp_every if it % gp_every == 0 else 0


def _gradient_penalty(
    d: Discriminator,
    x: torch.Tensor,
    fakes: list[torch.Tensor],
    alpha: torch.Tensor,
    cast: AbstractContextManager,
) -> torch.Tensor:
    n = len(x)
    with cast:
        # WGAN-GP of each class's critic on its own mix: one alpha per sample, shared by both
        mixed = torch.cat([alpha * x + (1 - alpha) * f for f in fakes])
        mixed = mixed.detach().requires_grad_(True)
        hm = d.features(mixed)
        out = sum(d.critic(hm[i * n : (i + 1) * n], c).float().sum() for i, c in enumerate(CLASSES))
        # from the unscaled critic: at GradScaler's scale (2**16 at first) these input gradients
        # overflow fp16 and the penalty is NaN; the caller scales its total as a whole
        (grad,) = torch.autograd.grad(out, mixed, create_graph=True)
        per_image = (grad.flatten(1).norm(dim=1) - 1) ** 2
        return per_image.view(len(CLASSES), n).mean(dim=1).sum()


def classifier_backward(
    d: Discriminator,
    x: torch.Tensor,
    y: torch.Tensor,
    cast: AbstractContextManager,
    scaler: Any = None,
) -> dict[str, torch.Tensor]:
    """Accumulate the gradients of D's classification loss alone (the warm-up iterations)."""
    with cast:
        loss = F.cross_entropy(d.classify(d.features(x)).float(), y)
    _scaled(loss, scaler).backward()
    return {"d_cls": loss.detach()}


def generator_backward(
    g: Generator,
    d: Discriminator,
    x: torch.Tensor,
    y: torch.Tensor,
    noise: torch.Tensor,
    w: Weights,
    cast: AbstractContextManager,
    fakes: list[torch.Tensor] | None = None,
    scaler: Any = None,
) -> dict[str, torch.Tensor]:
    """Accumulate the gradients of L_G in G; returns the loss terms (0-d tensors).

    Per translation target t: the adversarial and classification terms of G(x, t), the identity
    term of the images of class t, and the cycle term of the other class's images (translated to
    t and back); L_G is their sum. ``fakes``: G(x, t) + noise with G's graph (the D step's, when
    it shares them). Both translations go through D's encoder as one batch (see
    ``discriminator_backward``); G keeps one call per batch and target, since its BatchNorm
    normalises with the statistics of the batch it is given. One backward for L_G.
    """
    n = len(x)
    backs: list[torch.Tensor | None] = []
    with cast:
        if fakes is None:
            # G's calls in the reference order (each translation, then its way back), so the
            # running statistics see the same sequence of batches
            fakes = []
            for t in CLASSES:
                fakes.append(g(x, t) + noise)
                backs.append(_cycle(g, fakes[-1], x, y, noise, t))
        else:
            backs = [_cycle(g, fakes[t], x, y, noise, t) for t in CLASSES]
        h = d.features(torch.cat(fakes))
        terms = []
        for i, t in enumerate(CLASSES):
            ht = h[i * n : (i + 1) * n]
            adv = -d.critic(ht, t).float().mean()
            target = torch.full((n,), t, dtype=torch.long, device=x.device)
            cls_loss = F.cross_entropy(d.classify(ht).float(), target)
            identity = x.new_zeros((), dtype=torch.float32)
            reconstruction = x.new_zeros((), dtype=torch.float32)
            own, rest = y == t, y == 1 - t
            if own.any():
                # an image translated to its own class must stay unchanged
                identity = F.mse_loss(fakes[i][own].float(), x[own].float())
            if backs[i] is not None:
                reconstruction = F.mse_loss(backs[i].float(), x[rest].float())
            terms.append(torch.stack([adv, cls_loss, identity, reconstruction]))
    parts = terms[0] + terms[1]
    loss = (
        w.adv_g * parts[0] + w.cls_g * parts[1] + w.identity * parts[2]
        + w.reconstruction * parts[3]
    )  # fmt: skip
    _scaled(loss, scaler).backward()
    parts = parts.detach()
    return dict(zip(("g_adv", "g_cls", "g_id", "g_rec"), parts.unbind(), strict=True))


def _cycle(
    g: Generator, fake: torch.Tensor, x: torch.Tensor, y: torch.Tensor, noise: torch.Tensor, t: int
) -> torch.Tensor | None:
    """There and back again: the other class's images, via t, back to their class."""
    rest = y == 1 - t
    if not rest.any():
        return None
    return g(fake[rest], 1 - t) + noise[rest]


def apply(
    optimizer: torch.optim.Optimizer, module: nn.Module, clip: float, scaler: Any = None
) -> None:
    """Clip the accumulated gradients, step, and clear them for the next accumulation."""
    if scaler is not None:
        scaler.unscale_(optimizer)  # clip the true gradients
    nn.utils.clip_grad_norm_(module.parameters(), clip)
    if scaler is None:
        optimizer.step()
    else:
        scaler.step(optimizer)
    optimizer.zero_grad(set_to_none=True)


def gan_iteration(
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
    scaler: Any = None,
    gp_scale: float = 1.0,
) -> dict[str, torch.Tensor]:
    """A D step and, when ``g_step``, a G step; returns the loss terms (0-d tensors).
    ``gp_scale``: as in ``discriminator_backward``.

    With a G step, the D step's translations G(x, c) + noise keep their graph and the G step
    reuses them: G's weights do not change between the two (only D steps in between), and in
    training mode BatchNorm normalises with the batch's own statistics, so the reference's
    second evaluation computes the same tensors. What the second evaluation also did is update
    the running statistics once more; G's calls record their batch statistics and they are
    replayed in the reference's order (translations for D, then per target: translation, way
    back), so the running statistics are the same too (tested).
    At 256 px, batch 10 and the official widths it peaks at about 7.0 GiB (bf16).
    """
    if not g_step:
        losses = discriminator_backward(
            g, d, x, y, noise, alpha, w, cast, scaler=scaler, gp_scale=gp_scale
        )
        apply(opt_d, d, clip, scaler)
        if scaler is not None:
            scaler.update()
        return losses
    calls: list = []
    g.record_batch_stats(calls)
    try:
        fakes = translations(g, x, noise, cast, grad=True)
        losses = discriminator_backward(g, d, x, y, noise, alpha, w, cast, fakes, scaler, gp_scale)
        apply(opt_d, d, clip, scaler)
        d.requires_grad_(False)
        try:
            losses.update(generator_backward(g, d, x, y, noise, w, cast, fakes, scaler))
        finally:
            d.requires_grad_(True)
    finally:
        g.record_batch_stats(None)
    to_healthy, to_diseased, *backs = calls
    # the way back of target t exists when the batch holds images of the other class
    back_of = dict(zip([t for t in CLASSES if (y == 1 - t).any()], backs, strict=True))
    order = [to_healthy, to_diseased]
    for t, translated in zip(CLASSES, (to_healthy, to_diseased), strict=True):
        order += [translated, *([back_of[t]] if t in back_of else [])]
    replay_batch_stats(order)
    apply(opt_g, g, clip, scaler)
    if scaler is not None:
        scaler.update()
    return losses
