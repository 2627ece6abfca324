"""From an image to the generator's latent space, and the anomaly scores built on it.

AnoGAN (Schlegl et al. 2017) searches z for each image by backpropagation; f-AnoGAN (Schlegl et
al. 2019) replaces the search with a trained encoder. Both score an image by how well the
frozen generator reproduces it, in pixels and in discriminator features.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .training import frozen


@dataclass(frozen=True)
class Mapped:
    """Per-image results of a mapping; ``score = residual + feature`` (both already weighted)."""

    score: torch.Tensor  # [N]
    residual: torch.Tensor  # [N]
    feature: torch.Tensor  # [N]
    reconstruction: torch.Tensor  # [N, C, H, W]
    latent: torch.Tensor  # [N, latent_dim]


# -- AnoGAN: iterative latent search --------------------------------------------------------


def initial_latents(images: np.ndarray, seed: int, dim: int) -> torch.Tensor:
    """z_1 ~ U[-1, 1]^dim per image, seeded by ``seed`` and a checksum of the image's pixels.

    The start point of an image therefore never depends on the other images in its batch nor
    on their order, and the same image always starts from the same point.
    """
    rows = []
    for image in images:
        digest = zlib.crc32(np.ascontiguousarray(image, dtype=np.float32).tobytes())
        rng = np.random.default_rng([int(seed), digest])
        rows.append(rng.uniform(-1.0, 1.0, dim))
    return torch.from_numpy(np.stack(rows).astype(np.float32))


def anogan_loss(
    generator: nn.Module,
    discriminator: nn.Module,
    x: torch.Tensor,
    fx: torch.Tensor,
    z: torch.Tensor,
    lam: float,
) -> Mapped:
    """Per-image L(z) = (1 - lam) * sum|x - G(z)| + lam * sum|f(x) - f(G(z))| (L1 sums)."""
    recon = generator(z)
    residual = (x - recon).abs().flatten(1).sum(dim=1)
    feature = (fx - discriminator.features(recon)).abs().sum(dim=1)
    score = (1 - lam) * residual + lam * feature
    return Mapped(score, (1 - lam) * residual, lam * feature, recon, z)


def latent_search(
    generator: nn.Module,
    discriminator: nn.Module,
    x: torch.Tensor,
    z0: torch.Tensor,
    *,
    steps: int,
    lr: float,
    betas: tuple[float, float],
    lam: float,
) -> Mapped:
    """Batched AnoGAN search: one z per image, ``steps`` Adam updates, then the final loss.

    The objective is the SUM of the per-image losses, so the gradient w.r.t. an image's z is
    that image's own gradient (G and D are frozen in eval mode, so images do not interact);
    Adam's moments are elementwise, hence per image. The result equals searching each image
    alone, whatever the batch size.
    """
    with torch.inference_mode(False), torch.enable_grad(), frozen(generator, discriminator):
        x = x.clone()
        fx = discriminator.features(x)
        z = z0.clone().to(x.device, x.dtype).requires_grad_(True)
        opt = torch.optim.Adam([z], lr=lr, betas=betas)
        for _ in range(steps):
            total = anogan_loss(generator, discriminator, x, fx, z, lam).score.sum()
            opt.zero_grad(set_to_none=True)
            total.backward()
            opt.step()
        with torch.no_grad():
            final = anogan_loss(generator, discriminator, x, fx, z.detach(), lam)
    return final


# -- f-AnoGAN: encoder mapping (izi_f) -------------------------------------------------------


def izif(
    encoder: nn.Module,
    generator: nn.Module,
    critic: nn.Module,
    x: torch.Tensor,
    kappa: float,
) -> Mapped:
    """Per-image MSE(x, G(E(x))) + kappa * MSE(f(x), f(G(E(x)))), f = the critic's features.

    The same terms are the izi_f training loss (their batch mean) and the anomaly score.
    """
    z = encoder(x)
    # the terms in fp32 also when the networks run under autocast (training in bf16 / fp16)
    recon = generator(z).float()
    residual = (x - recon).pow(2).flatten(1).mean(dim=1)
    feature = (critic.features(x).float() - critic.features(recon).float()).pow(2).mean(dim=1)
    return Mapped(residual + kappa * feature, residual, kappa * feature, recon, z)
