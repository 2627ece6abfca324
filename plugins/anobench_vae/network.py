"""The convolutional (variational) autoencoder of MedIAnomaly's 64 px recipe, as a pure module.

Encoder: stride-2 ``Conv 4x4 (no bias) + BN + ReLU`` stages down to 4 x 4. Bottleneck: flatten,
``Linear -> hidden + BN1d + ReLU + Linear -> latent`` (``2 * latent`` = mean and log-variance
when variational), and back ``Linear -> hidden + BN1d + ReLU + Linear -> flat``. Decoder: the
mirror with ``ConvTranspose 4x4 stride 2``; the last layer has no BN/ReLU (linear output).

Sizes: the published net has four stages at 64 px, widths 16, 32, 64, 64 (``base * 2**j``
capped at ``4 * base``). Other sizes use ``log2(size / 4)`` stages with the same rule, so the
bottleneck always sees ``4 * base x 4 x 4`` = 1024 features: 32 px drops the last 64-wide stage,
128 and 256 px add 64-wide stages next to the bottleneck.
"""

from __future__ import annotations

import torch
from torch import nn


def stages(size: int) -> int:
    """Stride-2 stages from ``size`` px down to 4 x 4."""
    if size < 8 or size & (size - 1):
        raise ValueError(f"image side must be a power of two >= 8, got {size}")
    return size.bit_length() - 3  # log2(size / 4)


def _mlp(c_in: int, hidden: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(c_in, hidden), nn.BatchNorm1d(hidden), nn.ReLU(True), nn.Linear(hidden, c_out)
    )


class ConvAutoencoder(nn.Module):
    """``variational=True``: the VAE (returns mean and log-variance); ``False``: the plain AE."""

    def __init__(
        self,
        size: int,
        channels: int,
        *,
        variational: bool,
        latent_dim: int = 16,
        hidden: int = 1024,
        base: int = 16,
    ) -> None:
        super().__init__()
        n = stages(size)
        widths = [min(base * 2**j, 4 * base) for j in range(n)]
        self.variational = variational
        self.latent_dim = latent_dim
        self.top = widths[-1]
        flat = 16 * self.top

        enc: list[nn.Module] = []
        c_in = channels
        for c_out in widths:
            enc += [
                nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(True),
            ]
            c_in = c_out
        self.encoder = nn.Sequential(*enc)
        self.to_latent = _mlp(flat, hidden, (2 if variational else 1) * latent_dim)
        self.from_latent = _mlp(latent_dim, hidden, flat)

        dec: list[nn.Module] = []
        outs = [*widths[-2::-1], channels]
        c_in = self.top
        for i, c_out in enumerate(outs):
            dec.append(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False))
            if i < len(outs) - 1:
                dec += [nn.BatchNorm2d(c_out), nn.ReLU(True)]
            c_in = c_out
        self.decoder = nn.Sequential(*dec)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(mean, log_variance)`` for the VAE, ``(code, None)`` for the AE."""
        h = self.to_latent(self.encoder(x).flatten(1))
        if self.variational:
            mu, log_var = h.chunk(2, dim=1)
            return mu, log_var
        return h, None

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        h = self.from_latent(z).view(len(z), self.top, 4, 4)
        return self.decoder(h)

    def forward(
        self, x: torch.Tensor, noise: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Reconstruction, mean (or code) and log-variance.

        The VAE decodes ``mu + noise * exp(log_var / 2)`` when ``noise`` (standard normal, the
        shape of the mean) is given, and the mean otherwise (deterministic inference).
        """
        mu, log_var = self.encode(x)
        z = mu
        if noise is not None and log_var is not None:
            z = mu + noise * torch.exp(0.5 * log_var)
        return self.decode(z), mu, log_var


def kl_per_image(mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) averaged over the latent dimensions (MedIAnomaly's reduction)."""
    return (-0.5 * (1 + log_var - mu.pow(2) - log_var.exp())).mean(dim=1)
