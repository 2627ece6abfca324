"""Vectorised generator of the DeScarGAN synthetic phantoms (Wolleb et al., MICCAI 2020).

The procedure follows the official ``create_synthetic_dataset.py`` (see README.md for every
deviation). One phantom at 256 x 256 px is:

1. a background of two concentric waves, ``h1*sin(f1*d1) + h2*sin(f2*d2)``, where ``d1`` and
   ``d2`` are the integer ring indices the official ring-by-ring rasteriser leaves in each pixel
   (tabulated once, exactly), around two origins (wave 1 at the *transpose* of ellipse 1's
   centre, wave 2 at ellipse 2's centre, as the official code does);
2. two elliptic contours (small: axes N(40,1) x N(20,1); large: N(70,1) x N(35,1)) drawn as
   bands of ``round(N(5, 0.7))`` one-pixel rings set to 1;
3. a 3x3 Gaussian smoothing (sigma 2, zero padding 1): the healthy image X;
4. for a diseased image, a deformation field ``-grad z`` of a Gaussian bump centred on ellipse 1
   applied with ``grid_sample``: the diseased image Out. The ground truth is ``X - Out``.

Everything works on batches: candidate parameters are drawn in fixed-size chunks from a NumPy
``Generator`` and rejected from their parameters alone, and the accepted phantoms are rasterised
together with torch ops on the CPU. The same seed gives the same arrays.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields

import numpy as np
import torch
import torch.nn.functional as F

#: bump whenever the arrays produced for given options change
GENERATOR_VERSION = "descargan-synthetic/1"

SIZE = 256
#: |GT| above this is a lesion pixel (official evaluation, L132/L159)
MASK_THRESHOLD = 0.44195
CENTRE_LOW, CENTRE_HIGH = 50, 200  # centres are integers in [50, 199]
MIN_CENTRE_DISTANCE = 120.0
N_RINGS = 500  # the official canvas writes rings r = 0..499
BAND_ANGLES = 1000  # angles per drawn ring of an ellipse band
POLY_POINTS = 100  # points of the closed polylines of the intersection test
SMOOTH_SIGMA = 2.0
BUMP_SIGMA = 0.19
MAX_SHIFT = 0.1  # displacement scale, normalised coordinates
#: candidates drawn per chunk; fixed so that the first k phantoms do not depend on how many
#: are requested
CHUNK = 2048
#: phantoms rasterised together; fixed so that results do not depend on the caller
BATCH = 16

# rejection reasons
ACCEPTED, TOO_CLOSE, OUTSIDE, INTERSECT = 0, 1, 2, 3
REASONS = {TOO_CLOSE: "centre_distance", OUTSIDE: "outside_image", INTERSECT: "intersect"}


@dataclass(frozen=True)
class Phantoms:
    """Parameters of a batch of phantoms, one entry per phantom.

    Ellipse 1 (small) is centred at (row ``u``, column ``v``), ellipse 2 (large) at (row ``u2``,
    column ``v2``). Angles are in radians; thicknesses are numbers of one-pixel rings.
    """

    u: np.ndarray
    v: np.ndarray
    u2: np.ndarray
    v2: np.ndarray
    f1: np.ndarray
    f2: np.ndarray
    h1: np.ndarray
    h2: np.ndarray
    a1: np.ndarray
    b1: np.ndarray
    angle1: np.ndarray
    thick1: np.ndarray
    a2: np.ndarray
    b2: np.ndarray
    angle2: np.ndarray
    thick2: np.ndarray

    def __len__(self) -> int:
        return len(self.u)

    def take(self, index: np.ndarray | slice) -> Phantoms:
        return Phantoms(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def as_dict(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def concat(cls, parts: list[Phantoms]) -> Phantoms:
        names = [f.name for f in fields(cls)]
        if not parts:
            empty = sample_candidates(np.random.default_rng(0), 0)
            return empty
        return cls(**{n: np.concatenate([getattr(p, n) for p in parts]) for n in names})


@dataclass
class SamplingStats:
    """How many candidates were drawn to accept the requested phantoms, and why others failed."""

    attempts: int = 0
    accepted: int = 0
    rejected: dict[str, int] = field(default_factory=lambda: {r: 0 for r in REASONS.values()})

    @property
    def acceptance_rate(self) -> float:
        return self.accepted / self.attempts if self.attempts else float("nan")

    def as_dict(self) -> dict[str, object]:
        return {
            "attempts": self.attempts,
            "accepted": self.accepted,
            "acceptance_rate": self.acceptance_rate,
            "rejected": dict(self.rejected),
        }


# --------------------------------------------------------------------------------------------
# parameters and cheap rejection
# --------------------------------------------------------------------------------------------


def sample_candidates(rng: np.random.Generator, n: int) -> Phantoms:
    """Draw ``n`` candidate parameter sets (before any acceptance test)."""
    centres = rng.integers(CENTRE_LOW, CENTRE_HIGH, size=(4, n))
    f1 = rng.uniform(0.2, 0.35, n)
    f2 = rng.uniform(0.35, 0.5, n)
    h1 = rng.uniform(0.2, 0.4, n)
    h2 = rng.uniform(0.2, 0.4, n)
    angle1 = rng.uniform(0.0, 2 * math.pi, n)
    # round(N(5, 0.7)) is below 1 with probability ~1e-10; clip so every ellipse has a band
    thick1 = np.maximum(np.rint(rng.normal(5.0, 0.7, n)), 1).astype(np.int64)
    a1 = rng.normal(40.0, 1.0, n)
    b1 = rng.normal(20.0, 1.0, n)
    a2 = rng.normal(70.0, 1.0, n)
    b2 = rng.normal(35.0, 1.0, n)
    angle2 = rng.uniform(0.0, 2 * math.pi, n)
    thick2 = np.maximum(np.rint(rng.normal(5.0, 0.7, n)), 1).astype(np.int64)
    return Phantoms(
        u=centres[0],
        v=centres[1],
        u2=centres[2],
        v2=centres[3],
        f1=f1,
        f2=f2,
        h1=h1,
        h2=h2,
        a1=a1,
        b1=b1,
        angle1=angle1,
        thick1=thick1,
        a2=a2,
        b2=b2,
        angle2=angle2,
        thick2=thick2,
    )


def centre_distance(ph: Phantoms) -> np.ndarray:
    return np.hypot((ph.u - ph.u2).astype(float), (ph.v - ph.v2).astype(float))


def ellipse_points(
    row: np.ndarray,
    col: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    angle: np.ndarray,
    t: np.ndarray,
    shrink: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Points ``R(angle) @ ((a-i) cos t, (b-i) sin t) + (row, col)`` (float64).

    ``row``/``col``/``a``/``b``/``angle``: ``[B]``; ``t``: ``[P]``; ``shrink``: ``[T]`` band
    offsets ``i`` (default: ``[0]``). Returns rows and columns of shape ``[B, T, P]``.
    """
    if shrink is None:
        shrink = np.zeros(1)
    ca = np.cos(angle)[:, None, None]
    sa = np.sin(angle)[:, None, None]
    x = (a[:, None, None] - shrink[None, :, None]) * np.cos(t)[None, None, :]
    y = (b[:, None, None] - shrink[None, :, None]) * np.sin(t)[None, None, :]
    rows = ca * x - sa * y + np.asarray(row, dtype=float)[:, None, None]
    cols = sa * x + ca * y + np.asarray(col, dtype=float)[:, None, None]
    return rows, cols


def _half_extents(a: np.ndarray, b: np.ndarray, angle: np.ndarray) -> tuple[np.ndarray, ...]:
    """Exact half-extents of a rotated ellipse along rows and along columns."""
    c, s = np.cos(angle), np.sin(angle)
    return np.hypot(a * c, b * s), np.hypot(a * s, b * c)


def _surely_outside(centre_r, centre_c, a, b, angle) -> np.ndarray:
    """True where the outer band certainly has a rounded pixel outside [0, 255] (analytic).

    The 1000 sampled angles come within 1e-3 px of the true extent, so an extent that passes the
    rounding border by more than that is certainly outside; the rest is checked exactly.
    """
    er, ec = _half_extents(a, b, angle)
    tol = 1e-3
    hi = SIZE - 0.5
    return (
        (centre_r + er - tol > hi)
        | (centre_c + ec - tol > hi)
        | (centre_r - er + tol < -0.5)
        | (centre_c - ec + tol < -0.5)
    )


def _band_inside(centre_r, centre_c, a, b, angle) -> np.ndarray:
    """Exact test: every rounded pixel of the outer band (the largest) lies in the image.

    Inner bands have strictly smaller extents in every direction, so they are inside as well.
    """
    t = np.linspace(0.0, 2 * math.pi, BAND_ANGLES)
    rows, cols = ellipse_points(centre_r, centre_c, a, b, angle, t)
    rows, cols = np.rint(rows), np.rint(cols)
    return (
        (rows.min(axis=(1, 2)) >= 0)
        & (rows.max(axis=(1, 2)) <= SIZE - 1)
        & (cols.min(axis=(1, 2)) >= 0)
        & (cols.max(axis=(1, 2)) <= SIZE - 1)
    )


def polyline(ph_row, ph_col, a, b, angle, n: int = POLY_POINTS) -> np.ndarray:
    """Closed polyline of ``n`` points (``endpoint=False``), as in the official test: ``[B, n, 2]``.

    Points are ``(row, column)``; the outer band's axes are used.
    """
    t = np.linspace(0.0, 2 * math.pi, n, endpoint=False)
    rows, cols = ellipse_points(ph_row, ph_col, a, b, angle, t)
    return np.stack([rows[:, 0], cols[:, 0]], axis=-1)


def polylines_intersect(p: np.ndarray, q: np.ndarray, chunk: int = 64) -> np.ndarray:
    """Whether the closed polylines ``p[k]`` and ``q[k]`` (``[K, n, 2]``) cross or touch.

    Every segment pair is tested at once: two segments meet iff each one's endpoints lie on
    opposite sides of (or on) the other's line and their bounding boxes overlap (the box test
    settles the collinear case).
    """
    out = np.zeros(len(p), dtype=bool)
    for s in range(0, len(p), chunk):
        P1 = p[s : s + chunk, :, None, :]
        P2 = np.roll(p[s : s + chunk], -1, axis=1)[:, :, None, :]
        Q1 = q[s : s + chunk, None, :, :]
        Q2 = np.roll(q[s : s + chunk], -1, axis=1)[:, None, :, :]

        def cross(o, a, b):
            return (a[..., 0] - o[..., 0]) * (b[..., 1] - o[..., 1]) - (a[..., 1] - o[..., 1]) * (
                b[..., 0] - o[..., 0]
            )

        straddle = (cross(P1, P2, Q1) * cross(P1, P2, Q2) <= 0) & (
            cross(Q1, Q2, P1) * cross(Q1, Q2, P2) <= 0
        )
        boxes = np.ones_like(straddle)
        for k in range(2):
            boxes &= np.maximum(P1[..., k], P2[..., k]) >= np.minimum(Q1[..., k], Q2[..., k])
            boxes &= np.maximum(Q1[..., k], Q2[..., k]) >= np.minimum(P1[..., k], P2[..., k])
        out[s : s + chunk] = (straddle & boxes).any(axis=(1, 2))
    return out


def rejection_reasons(ph: Phantoms) -> np.ndarray:
    """Per candidate: ``ACCEPTED`` (0) or the first failed test, cheapest tests first."""
    reason = np.full(len(ph), ACCEPTED, dtype=np.int8)
    dist = centre_distance(ph)
    reason[dist <= MIN_CENTRE_DISTANCE] = TOO_CLOSE

    # inside the image: analytic pre-filter, then the exact rounded outer band
    idx = np.flatnonzero(reason == ACCEPTED)
    sub = ph.take(idx)
    out = _surely_outside(sub.u, sub.v, sub.a1, sub.b1, sub.angle1) | _surely_outside(
        sub.u2, sub.v2, sub.a2, sub.b2, sub.angle2
    )
    reason[idx[out]] = OUTSIDE
    idx = idx[~out]
    sub = ph.take(idx)
    inside = _band_inside(sub.u, sub.v, sub.a1, sub.b1, sub.angle1) & _band_inside(
        sub.u2, sub.v2, sub.a2, sub.b2, sub.angle2
    )
    reason[idx[~inside]] = OUTSIDE
    idx = idx[inside]

    # polylines: only ellipses whose bounding circles overlap can meet
    sub = ph.take(idx)
    reach = np.maximum(sub.a1, sub.b1) + np.maximum(sub.a2, sub.b2)
    near = dist[idx] <= reach
    if near.any():
        near_idx = idx[near]
        s = ph.take(near_idx)
        hit = polylines_intersect(
            polyline(s.u, s.v, s.a1, s.b1, s.angle1), polyline(s.u2, s.v2, s.a2, s.b2, s.angle2)
        )
        reason[near_idx[hit]] = INTERSECT
    return reason


def sample_phantoms(rng: np.random.Generator, n: int) -> tuple[Phantoms, SamplingStats]:
    """The first ``n`` accepted phantoms of the candidate stream of ``rng``.

    Candidates are drawn in chunks of ``CHUNK``, so the first ``k`` phantoms are the same
    whatever ``n >= k`` is asked for.
    """
    stats = SamplingStats()
    parts: list[Phantoms] = []
    while stats.accepted < n:
        cand = sample_candidates(rng, CHUNK)
        reason = rejection_reasons(cand)
        ok = np.flatnonzero(reason == ACCEPTED)
        need = n - stats.accepted
        used = CHUNK if len(ok) < need else int(ok[need - 1]) + 1
        ok = ok[:need]
        stats.attempts += used
        stats.accepted += len(ok)
        for code, name in REASONS.items():
            stats.rejected[name] += int((reason[:used] == code).sum())
        parts.append(cand.take(ok))
    return Phantoms.concat(parts), stats


# --------------------------------------------------------------------------------------------
# rasterisation
# --------------------------------------------------------------------------------------------


#: angles per ring of the official wave rasteriser
WAVE_ANGLES = 10000
#: offset of the origin in the ring table; offsets -256..255 from the origin are tabulated
_TABLE_ORIGIN = SIZE


@functools.cache
def ring_table() -> torch.Tensor:
    """Ring index the official rasteriser leaves in each cell around an origin: ``[512, 512]``.

    Entry ``[256 + dr, 256 + dc]`` is the largest ring ``r < 500`` that writes a point at row
    offset ``dr`` and column offset ``dc``, where a point ``(r*sin(theta), r*cos(theta))`` lands
    in the cell ``floor`` of its coordinates, for the official 10000 angles
    ``linspace(0, 2*pi, 10000)``. This is exactly the official loop (later rings overwrite
    earlier ones), run once on a canvas around an integer origin: for the non-negative
    coordinates that fall in the image, truncation toward zero is ``floor``, and ``floor(x + c)
    = floor(x) + c`` for an integer ``c``. Rows follow ``sin`` and columns ``cos`` (wave 1); the
    transpose serves wave 2, whose rows follow ``cos``.
    """
    theta = np.linspace(0.0, 2 * math.pi, WAVE_ANGLES)
    sin, cos = np.sin(theta), np.cos(theta)
    width = 2 * _TABLE_ORIGIN
    table = np.full((width, width), -1, dtype=np.int64)
    for r in range(N_RINGS):
        rows = np.floor(r * sin + _TABLE_ORIGIN).astype(np.int64)
        cols = np.floor(r * cos + _TABLE_ORIGIN).astype(np.int64)
        keep = (rows >= 0) & (rows < width) & (cols >= 0) & (cols < width)
        table[rows[keep], cols[keep]] = r
    if (table < 0).any():
        raise AssertionError("a cell of the ring table was never written")
    return torch.from_numpy(table)


def ring_distance(
    row_origin: np.ndarray, col_origin: np.ndarray, transpose: bool = False
) -> torch.Tensor:
    """Ring index of every pixel around ``(row_origin, col_origin)``: int64 ``[B, 256, 256]``.

    Pixel ``i >= 1`` along an axis is the cell at offset ``i - c``. The official code truncates
    float indices toward zero, so pixel 0 also collects the slightly negative coordinates: it is
    the union of the cells at offsets ``-1 - c`` and ``-c``, and takes the larger ring (the last
    write). ``transpose``: rows follow ``cos`` and columns ``sin`` (wave 2).
    """
    ro = np.asarray(row_origin, dtype=np.int64)
    co = np.asarray(col_origin, dtype=np.int64)
    if len(ro) and (ro.min() < 1 or co.min() < 1 or ro.max() >= SIZE or co.max() >= SIZE):
        raise ValueError("wave origins must lie in [1, 255]")
    table = ring_table().T if transpose else ring_table()
    o = _TABLE_ORIGIN
    out = torch.empty((len(ro), SIZE, SIZE), dtype=torch.int64)
    for k, (r, c) in enumerate(zip(ro.tolist(), co.tolist(), strict=True)):
        r0, c0 = o - r, o - c
        out[k] = table[r0 : r0 + SIZE, c0 : c0 + SIZE]
        out[k, 0, :] = torch.maximum(out[k, 0, :], table[r0 - 1, c0 : c0 + SIZE])
        out[k, :, 0] = torch.maximum(out[k, :, 0], table[r0 : r0 + SIZE, c0 - 1])
        out[k, 0, 0] = max(int(out[k, 0, 0]), int(table[r0 - 1, c0 - 1]))
    return out


def waves(ph: Phantoms, out: torch.Tensor | None = None) -> torch.Tensor:
    """Background ``h1*sin(f1*d1) + h2*sin(f2*d2)``, float32 ``[B, 256, 256]``.

    Ring values ``h*sin(f*r)`` are tabulated per phantom (float64, stored as float32 as in the
    official canvas) and looked up by ring index.
    """
    b = len(ph)
    if out is None:
        out = torch.zeros((b, SIZE, SIZE), dtype=torch.float32)
    r = np.arange(N_RINGS, dtype=float)
    # wave 1 at (row v, col u): the transpose of ellipse 1's centre; wave 2 at (row u2, col v2)
    for k, (f, h, ro, co) in enumerate(((ph.f1, ph.h1, ph.v, ph.u), (ph.f2, ph.h2, ph.u2, ph.v2))):
        table = torch.from_numpy(h[:, None] * np.sin(f[:, None] * r[None, :])).to(torch.float32)
        d = ring_distance(ro, co, transpose=k == 1)
        values = table.gather(1, d.view(b, -1)).view(b, SIZE, SIZE)
        if k == 0:
            out.copy_(values)
        else:
            out.add_(values)
    return out


def ellipse_indices(ph: Phantoms, pad: int = 0) -> torch.Tensor:
    """Flat pixel indices of both ellipses' bands on a canvas padded by ``pad``: ``[B, M]``.

    Phantoms with fewer bands than the batch maximum repeat their outer band's indices.
    """
    t = np.linspace(0.0, 2 * math.pi, BAND_ANGLES)
    width = SIZE + 2 * pad
    parts = []
    for u, v, a, b, angle, thick in (
        (ph.u, ph.v, ph.a1, ph.b1, ph.angle1, ph.thick1),
        (ph.u2, ph.v2, ph.a2, ph.b2, ph.angle2, ph.thick2),
    ):
        n_bands = int(thick.max()) if len(ph) else 1
        shrink = np.arange(n_bands, dtype=float)
        rows, cols = ellipse_points(u, v, a, b, angle, t, shrink)
        rows, cols = np.rint(rows).astype(np.int64), np.rint(cols).astype(np.int64)
        valid = shrink[None, :, None] < thick[:, None, None]
        inside = (rows >= 0) & (rows < SIZE) & (cols >= 0) & (cols < SIZE)
        if not np.all(inside | ~valid):
            raise AssertionError("an accepted phantom has ellipse pixels outside the image")
        flat = (rows + pad) * width + (cols + pad)
        flat = np.where(valid, flat, flat[:, :1, :])
        parts.append(flat.reshape(len(ph), -1))
    return torch.from_numpy(np.concatenate(parts, axis=1))


def ellipse_mask(ph: Phantoms) -> torch.Tensor:
    """Pixels set to 1 by the two ellipses, bool ``[B, 256, 256]`` (for tests and figures)."""
    canvas = torch.zeros((len(ph), SIZE * SIZE), dtype=torch.bool)
    canvas.scatter_(1, ellipse_indices(ph), True)
    return canvas.view(len(ph), SIZE, SIZE)


def smoothing_kernel() -> torch.Tensor:
    """Normalised 3x3 Gaussian kernel with sigma 2, ``[3, 3]`` (float32)."""
    g = torch.arange(3, dtype=torch.float32) - 1.0
    k1 = torch.exp(-(g**2) / (2 * SMOOTH_SIGMA**2)) / (SMOOTH_SIGMA * math.sqrt(2 * math.pi))
    k = k1[:, None] * k1[None, :]
    return k / k.sum()


def smooth(padded: torch.Tensor) -> torch.Tensor:
    """3x3 Gaussian filter of a zero-padded ``[B, 258, 258]`` canvas -> ``[B, 256, 256]``.

    Nine shifted multiply-adds: the same sums as ``conv2d(padding=1)``, several times faster
    for one channel on a CPU.
    """
    kernel = smoothing_kernel().tolist()
    out = torch.zeros((*padded.shape[:-2], SIZE, SIZE), dtype=padded.dtype)
    for i in range(3):
        for j in range(3):
            out.add_(padded[..., i : i + SIZE, j : j + SIZE], alpha=kernel[i][j])
    return out


def render_healthy(ph: Phantoms) -> torch.Tensor:
    """Healthy images X before normalisation, float32 ``[B, 1, 256, 256]``."""
    b = len(ph)
    canvas = torch.zeros((b, SIZE + 2, SIZE + 2), dtype=torch.float32)
    waves(ph, out=canvas[:, 1:-1, 1:-1])
    canvas.view(b, -1).scatter_(1, ellipse_indices(ph, pad=1), 1.0)
    return smooth(canvas)[:, None]


def identity_grid() -> torch.Tensor:
    """The official sampling grid: ``linspace(-1, 1, 256)`` on both axes, 'xy' order."""
    lin = torch.from_numpy(np.linspace(-1.0, 1.0, SIZE)).to(torch.float32)
    gy, gx = torch.meshgrid(lin, lin, indexing="ij")
    return torch.stack([gx, gy], dim=-1)  # [..., 0] varies along columns


def displacement(u: np.ndarray, v: np.ndarray) -> torch.Tensor:
    """Displacement ``-grad z / max * 0.1`` of the bump on ellipse 1: ``[B, 256, 256, 2]``.

    ``z = exp(-((x-mx)^2 + (y-my)^2) / (2 s^2)) / (2 pi s^2)`` with ``s = 0.19``, centred at
    ``mx = 2v/256 - 1`` (column axis) and ``my = 2u/256 - 1`` (row axis), on the official
    ``linspace(-1, 1, 256)`` grid. The gradient is analytic and separable (a product of a column
    factor and a row factor); the maximum is taken over both components, as in the official code.
    """
    lin = identity_grid()[0, :, 0]  # the grid's x values along columns (= y values along rows)
    mx = torch.from_numpy(2 * (np.asarray(v) / SIZE) - 1).to(torch.float32)[:, None]
    my = torch.from_numpy(2 * (np.asarray(u) / SIZE) - 1).to(torch.float32)[:, None]
    s2 = BUMP_SIGMA**2
    col = torch.exp(-((lin - mx) ** 2) / (2 * s2))  # [B, 256] along columns
    row = torch.exp(-((lin - my) ** 2) / (2 * s2))  # [B, 256] along rows
    col_grad = col * (lin - mx) / s2  # -d/dx of the column factor
    row_grad = row * (lin - my) / s2
    c = 1.0 / (2 * math.pi * s2)
    peak = c * torch.maximum(col_grad.amax(1) * row.amax(1), row_grad.amax(1) * col.amax(1))
    scale = (c * MAX_SHIFT / peak)[:, None, None]
    dx = scale * row[:, :, None] * col_grad[:, None, :]
    dy = scale * row_grad[:, :, None] * col[:, None, :]
    return torch.stack([dx, dy], dim=-1)


def deform(
    healthy: torch.Tensor, u: np.ndarray, v: np.ndarray, align_corners: bool = False
) -> torch.Tensor:
    """Diseased images: ``grid_sample(X, grid + disp)``, bilinear, zero padding.

    ``align_corners=False`` is the official call (the torch default since 1.3). With the
    ``linspace(-1, 1, 256)`` grid it samples pixel ``j`` at ``j*256/255 - 0.5``: a 256/255 zoom
    that reads half a pixel of zero padding at the border, so the outermost pixels of every
    diseased image are halved (a class cue, see README). ``True`` samples at pixel centres.
    """
    if len(healthy) == 0:
        return healthy.clone()
    grid = displacement(u, v).add_(identity_grid()[None])
    return F.grid_sample(
        healthy, grid, mode="bilinear", padding_mode="zeros", align_corners=align_corners
    )


def normalise(images: torch.Tensor) -> torch.Tensor:
    """Per-image min-max rescale to exactly ``[-1, 1]`` (the official ``normalize``)."""
    if len(images) == 0:
        return images.clone()
    flat = images.flatten(1)
    lo = flat.amin(dim=1).view(-1, *([1] * (images.dim() - 1)))
    hi = flat.amax(dim=1).view(-1, *([1] * (images.dim() - 1)))
    return (2 * (images - lo) / (hi - lo) - 1).clamp_(-1.0, 1.0)


# --------------------------------------------------------------------------------------------
# a whole split
# --------------------------------------------------------------------------------------------

ARRAY_KEYS = ("images", "labels", "masks", "healthy_twin", "gt_diff")


def array_specs(n: int, image_size: int) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Shapes and dtypes of the arrays of a split of ``n`` images."""
    s = image_size
    return {
        "images": ((n, 1, s, s), np.dtype(np.float32)),
        "labels": ((n,), np.dtype(np.int8)),
        "masks": ((n, s, s), np.dtype(np.bool_)),
        "healthy_twin": ((n, 1, s, s), np.dtype(np.float32)),
        "gt_diff": ((n, s, s), np.dtype(np.float32)),
    }


def downsample_factor(image_size: int) -> int:
    if not isinstance(image_size, int) or image_size < 1 or SIZE % image_size:
        raise ValueError(
            f"image_size must divide {SIZE} (e.g. 32, 64, 128, 256), got {image_size!r}"
        )
    return SIZE // image_size


def seed_streams(seed: int, stream: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent generators for the phantom parameters and the class order of one stream."""
    params = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream, 0)))
    labels = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream, 1)))
    return params, labels


@dataclass
class GeneratedSplit:
    arrays: Mapping[str, np.ndarray]
    phantoms: Phantoms
    stats: SamplingStats


def generate_split(
    n_healthy: int,
    n_diseased: int,
    *,
    seed: int,
    stream: int = 0,
    image_size: int = SIZE,
    out: Mapping[str, np.ndarray] | None = None,
    progress: Callable[[int], object] | None = None,
    align_corners: bool = False,
) -> GeneratedSplit:
    """Generate ``n_healthy + n_diseased`` images from independent phantoms, classes shuffled.

    Each accepted phantom yields one image: the healthy X or the diseased Out. Arrays (see
    ``array_specs``): ``images`` and ``healthy_twin`` are per-image min-max normalised to
    ``[-1, 1]`` at the output size; ``gt_diff`` is ``X - Out`` in raw units (zeros for healthy
    images), area-downsampled; ``masks`` is ``|gt_diff| > 0.44195`` at the output size.
    ``out`` may hold preallocated (e.g. memory-mapped) arrays to fill. ``align_corners``: see
    ``deform`` (``False`` is the official behaviour).
    """
    factor = downsample_factor(image_size)
    n = n_healthy + n_diseased
    params_rng, label_rng = seed_streams(seed, stream)
    phantoms, stats = sample_phantoms(params_rng, n)
    labels = np.zeros(n, dtype=np.int8)
    labels[:n_diseased] = 1
    label_rng.shuffle(labels)

    if out is None:
        out = {
            k: np.empty(shape, dtype) for k, (shape, dtype) in array_specs(n, image_size).items()
        }
    out["labels"][:] = labels

    with torch.no_grad():
        for start in range(0, n, BATCH):
            sl = slice(start, min(start + BATCH, n))
            ph = phantoms.take(sl)
            healthy = render_healthy(ph)
            gt = torch.zeros_like(healthy)
            sick = np.flatnonzero(labels[sl] == 1)
            diseased = deform(healthy[sick], ph.u[sick], ph.v[sick], align_corners)
            gt[sick] = healthy[sick] - diseased
            if factor > 1:
                healthy, diseased, gt = (F.avg_pool2d(x, factor) for x in (healthy, diseased, gt))
            twin = normalise(healthy)
            image = twin.clone()
            image[sick] = normalise(diseased)
            out["images"][sl] = image.numpy()
            out["healthy_twin"][sl] = twin.numpy()
            out["gt_diff"][sl] = gt[:, 0].numpy()
            out["masks"][sl] = (gt[:, 0].abs() > MASK_THRESHOLD).numpy()
            if progress is not None:
                progress(sl.stop - sl.start)
    return GeneratedSplit(arrays=out, phantoms=phantoms, stats=stats)
