"""Simplex noise (Perlin 2001) summed over octaves: AnoDDPM's structured noise, which MONAI lacks.

Each draw takes a fresh table of random unit gradients and a random offset, so two draws from
one generator differ while a generator in the same state gives the same field.
"""

from __future__ import annotations

import math

import torch

#: the skew / unskew factors of the 2-D simplex grid (equilateral triangles)
_F2 = (math.sqrt(3.0) - 1.0) / 2.0
_G2 = (3.0 - math.sqrt(3.0)) / 6.0
_TABLE = 256
#: scales one octave's sum of corner contributions to about [-1, 1]
_SCALE = 70.0


def simplex2d(
    x: torch.Tensor, y: torch.Tensor, perm: torch.Tensor, grads: torch.Tensor
) -> torch.Tensor:
    """Simplex noise at float64 points ``(x, y)``: ``perm`` a permutation of 0..255 (int64),
    ``grads`` 256 unit gradient vectors ``[256, 2]``. Zero at every lattice vertex."""
    skew = (x + y) * _F2
    i = torch.floor(x + skew)
    j = torch.floor(y + skew)
    unskew = (i + j) * _G2
    x0 = x - (i - unskew)
    y0 = y - (j - unskew)
    # the triangle the point lies in: lower (step in x first) or upper (step in y first)
    lower = x0 > y0
    i1 = lower.to(x.dtype)
    j1 = 1.0 - i1
    step = lower.long()
    corners = (
        (x0, y0, 0, 0),
        (x0 - i1 + _G2, y0 - j1 + _G2, step, 1 - step),
        (x0 - 1.0 + 2.0 * _G2, y0 - 1.0 + 2.0 * _G2, 1, 1),
    )
    ii = i.long() % _TABLE
    jj = j.long() % _TABLE
    total = torch.zeros_like(x)
    for dx, dy, oi, oj in corners:
        hashed = perm[(ii + oi + perm[(jj + oj) % _TABLE]) % _TABLE]
        g = grads[hashed]
        falloff = (0.5 - dx * dx - dy * dy).clamp_min(0.0)
        total = total + falloff**4 * (g[..., 0] * dx + g[..., 1] * dy)
    return _SCALE * total


def simplex_field(
    height: int,
    width: int,
    generator: torch.Generator,
    *,
    period: float,
    octaves: int = 6,
    persistence: float = 0.8,
) -> torch.Tensor:
    """One ``[height, width]`` float64 field: ``sum_o persistence^o * simplex(p * 2^o / period)``
    with fresh gradients and a random offset, then standardised to mean 0 and std 1 (the
    DDPM forward process expects unit-variance noise)."""
    perm = torch.randperm(_TABLE, generator=generator)
    angles = torch.rand(_TABLE, generator=generator, dtype=torch.float64) * (2 * math.pi)
    grads = torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    offset = torch.rand(2, generator=generator, dtype=torch.float64) * _TABLE
    yy, xx = torch.meshgrid(
        torch.arange(height, dtype=torch.float64),
        torch.arange(width, dtype=torch.float64),
        indexing="ij",
    )
    field = torch.zeros(height, width, dtype=torch.float64)
    for o in range(octaves):
        scale = (2.0**o) / period
        field += persistence**o * simplex2d(
            xx * scale + offset[0], yy * scale + offset[1], perm, grads
        )
    return (field - field.mean()) / field.std().clamp_min(1e-12)


def simplex_noise(
    shape: tuple[int, ...],
    generators: list[torch.Generator],
    *,
    period: float,
    octaves: int = 6,
    persistence: float = 0.8,
) -> torch.Tensor:
    """Noise of ``shape`` ``[N, C, H, W]`` (float32): image ``n`` draws its channels from
    ``generators[n]`` (one generator per image keeps an image's noise independent of its
    batch)."""
    n, c, h, w = shape
    out = torch.empty(shape, dtype=torch.float32)
    for k in range(n):
        for ch in range(c):
            out[k, ch] = simplex_field(
                h, w, generators[k], period=period, octaves=octaves, persistence=persistence
            ).float()
    return out
