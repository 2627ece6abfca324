"""Partial diffusion and its way back on MONAI's schedulers, plus classifier guidance.

MONAI's ``DDIMScheduler`` provides the deterministic DDIM update (``step``, eta 0) and its
inversion (``reversed_step``); ``DDPMScheduler`` the forward process (``add_noise``) and the
ancestral posterior. What MONAI lacks and this module adds: the guided noise estimate of
Dhariwal & Nichol (2021), the gradient of the classifier's log-probability that it needs, and
an ancestral step whose fresh noise is supplied by the caller (AnoDDPM's simplex noise).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

#: eps(x_t, t) for a batch at one timestep
EpsModel = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
#: gradient of the guidance objective w.r.t. x_t, at one timestep
GradFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def ddim_stride(scheduler, level: int, steps: int) -> int:
    """Configure ``scheduler`` (a MONAI ``DDIMScheduler``) for ``steps`` DDIM steps between
    timestep 0 and ``level``; returns the stride. MONAI derives the stride from the number of
    inference steps over the whole schedule, so the stride must divide that schedule."""
    total = int(scheduler.num_train_timesteps)
    if not 0 < level < total:
        raise ValueError(f"the noise level must lie in 1..{total - 1}, got {level}")
    if steps < 1 or level % steps:
        raise ValueError(f"the noise level {level} must be a multiple of the steps {steps}")
    stride = level // steps
    scheduler.set_timesteps(max(1, total // stride))
    if total // scheduler.num_inference_steps != stride:
        raise ValueError(
            f"a DDIM stride of {stride} does not divide the {total}-step schedule evenly;"
            " choose the noise level and steps so that it does"
        )
    return stride


def _timesteps(t: int, n: int, device: torch.device) -> torch.Tensor:
    return torch.full((n,), t, dtype=torch.long, device=device)


def ddim_encode(eps: EpsModel, scheduler, x0: torch.Tensor, level: int, steps: int) -> torch.Tensor:
    """Deterministic DDIM encoding of ``x0`` to noise level ``level`` in ``steps`` steps."""
    stride = ddim_stride(scheduler, level, steps)
    x = x0
    for t in range(0, level, stride):
        e = eps(x, _timesteps(t, len(x), x.device))
        x, _ = scheduler.reversed_step(e, t, x)
    return x


def ddim_decode(
    eps: EpsModel,
    scheduler,
    xt: torch.Tensor,
    level: int,
    steps: int,
    guide: GradFn | None = None,
) -> torch.Tensor:
    """Deterministic DDIM decoding from ``level`` to timestep 0 in ``steps`` steps; with
    ``guide`` the noise estimate is shifted by :func:`guided_eps` at every step."""
    stride = ddim_stride(scheduler, level, steps)
    x = xt
    for t in range(level, 0, -stride):
        ts = _timesteps(t, len(x), x.device)
        e = eps(x, ts)
        if guide is not None:
            e = guided_eps(e, guide(x, ts), scheduler.alphas_cumprod[t])
        x, _ = scheduler.step(e, t, x)
    return x


def guided_eps(eps: torch.Tensor, grad: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
    """Classifier guidance for DDIM (Dhariwal & Nichol 2021, eq. 14; Wolleb et al. 2022):
    ``eps - sqrt(1 - alpha_bar_t) * grad``, ``grad`` = s * d log p(y | x_t) / d x_t."""
    return eps - (1.0 - alpha_bar).sqrt().to(eps.dtype) * grad


def log_prob_gradient(
    classifier: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    t: torch.Tensor,
    target: int,
    scale: float,
) -> torch.Tensor:
    """``scale * d/dx log softmax(classifier(x, t))[target]`` for every image of the batch (the
    images are independent, so the gradient of the batch sum is each image's own)."""
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        logp = torch.log_softmax(classifier(xg, t).float(), dim=1)[:, target]
        (grad,) = torch.autograd.grad(logp.sum(), xg)
    return scale * grad


def ancestral_step(
    scheduler, e: torch.Tensor, t: int, x: torch.Tensor, noise: torch.Tensor
) -> torch.Tensor:
    """One DDPM step x_t -> x_{t-1} (MONAI ``DDPMScheduler``, fixed-small variance) whose fresh
    noise is ``noise`` instead of MONAI's Gaussian draw: MONAI's mean is recovered by replaying
    its draw from a copy of the generator it used."""
    gen = torch.Generator(device=x.device)
    seed_state = gen.get_state()
    prev, _ = scheduler.step(e, t, x, generator=gen)
    if t == 0:
        return prev
    gen.set_state(seed_state)
    drawn = torch.randn(e.size(), dtype=e.dtype, layout=e.layout, generator=gen, device=e.device)
    std = posterior_std(scheduler, t).to(x.dtype)
    return prev - std * drawn + std * noise


def posterior_std(scheduler, t: int) -> torch.Tensor:
    """sqrt(beta_t (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t)): DDPM's fixed-small sigma_t."""
    ab = scheduler.alphas_cumprod
    prev = ab[t - 1] if t > 0 else torch.ones_like(ab[0])
    var = scheduler.betas[t] * (1 - prev) / (1 - ab[t])
    return var.clamp_min(1e-20).sqrt()


def partial_diffusion(
    eps: EpsModel,
    scheduler,
    x0: torch.Tensor,
    level: int,
    noise_fn: Callable[[], torch.Tensor],
) -> torch.Tensor:
    """AnoDDPM's reconstruction: q(x_L | x_0) with ``noise_fn()`` noise, then the ancestral
    chain L -> 0 with fresh ``noise_fn()`` noise at every step (MONAI ``DDPMScheduler``)."""
    t0 = _timesteps(level, len(x0), x0.device)
    x = scheduler.add_noise(x0, noise_fn().to(x0), t0)
    for t in range(level, -1, -1):
        e = eps(x, _timesteps(t, len(x), x.device))
        x = ancestral_step(scheduler, e, t, x, noise_fn().to(x) if t > 0 else torch.zeros_like(x))
    return x
