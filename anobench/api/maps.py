"""Post-processing of anomaly maps that methods share."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: ``import anobench`` stays free of torch
    import torch


def gaussian_blur(maps: torch.Tensor, sigma: float) -> torch.Tensor:
    """Each ``[H, W]`` map of ``[N, H, W]`` filtered with a Gaussian of ``sigma`` pixels.

    Separable, radius ``int(4 sigma + 0.5)`` (at most the map's side), edges extended by their
    mirror image including the edge pixel: scipy.ndimage's ``gaussian_filter(mode="reflect")``.
    Runs on the maps' device; ``sigma <= 0`` returns ``maps`` unchanged.
    """
    import torch
    from torch.nn import functional as F

    if sigma <= 0:
        return maps
    radius = max(1, min(int(4 * sigma + 0.5), *maps.shape[-2:]))
    t = torch.arange(-radius, radius + 1, dtype=maps.dtype, device=maps.device)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    kernel = (kernel / kernel.sum()).view(1, 1, 1, -1)
    x = maps[:, None]
    for dim in (-1, -2):
        head = x.narrow(dim, 0, radius).flip(dim)
        tail = x.narrow(dim, x.shape[dim] - radius, radius).flip(dim)
        x = F.conv2d(torch.cat([head, x, tail], dim=dim), kernel)
        kernel = kernel.view(1, 1, -1, 1)
    return x[:, 0]
