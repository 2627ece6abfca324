"""DeScarGAN's anomaly map and score, apart from the networks and the training loop.

Map: the per-pixel absolute difference, averaged over channels, between the image and its
translation to 'healthy', each min-max rescaled to [-1, 1] first (the official evaluation),
then smoothed with a Gaussian of ``sigma`` pixels (0: none). Score: the classifier head's
'diseased' output, as a probability or as the raw logit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from anobench import DISEASED, gaussian_blur

if TYPE_CHECKING:  # imported where used: importing this module stays fast
    import torch


def minmax(x: torch.Tensor) -> torch.Tensor:
    """Per-image min-max rescaling to [-1, 1] (flat images map to -1)."""
    flat = x.flatten(1)
    lo = flat.min(dim=1).values.view(-1, *[1] * (x.dim() - 1))
    hi = flat.max(dim=1).values.view(-1, *[1] * (x.dim() - 1))
    return 2 * (x - lo) / (hi - lo).clamp_min(1e-12) - 1


def anomaly_map(x: torch.Tensor, to_healthy: torch.Tensor, sigma: float) -> torch.Tensor:
    """``(N, C, H, W)`` images and their healthy translations -> ``(N, H, W)`` maps."""
    diff = (minmax(x) - minmax(to_healthy)).abs().mean(dim=1)
    return gaussian_blur(diff, sigma)


def disease_score(logits: torch.Tensor, score: str) -> torch.Tensor:
    """The 'diseased' column of the classifier's ``(N, 2)`` logits: ``probability`` (softmax)
    or ``logit``."""
    import torch

    if score == "probability":
        return torch.softmax(logits, dim=1)[:, DISEASED]
    return logits[:, DISEASED]
