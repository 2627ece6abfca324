"""Speed of the vectorised synthetic generator against a literal per-sample baseline.

    python benchmarks/perf/synthetic_generation.py --n 4000 --size 256

The baseline below follows the official DeScarGAN ``create_synthetic_dataset.py`` procedure
literally, one candidate at a time: both wave backgrounds are rasterised ring by ring (500 rings
x 10000 angles, float indices truncated toward zero) on a 2000 x 2000 canvas as soon as the
centres pass the distance test, the ellipse bands are drawn in Python loops, the polylines are
tested for intersection with a pure-Python segment test, then the image is smoothed, deformed
(autograd gradient of the bump, as the official code does) and normalised. It uses the plugin's
acceptance rule (every drawn pixel inside the image), so both generators produce the same
distribution. The same baseline renders a few of the vectorised generator's phantoms to measure
how closely the two agree.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from anobench_synthetic import generator as gen

# --------------------------------------------------------------------------------------------
# literal baseline
# --------------------------------------------------------------------------------------------

THETA = np.linspace(0, 2 * np.pi, 10000)
BAND_T = np.linspace(0, 2 * np.pi, 1000)


def literal_wave(f: float, h: float, row_origin: int, col_origin: int) -> np.ndarray:
    """One wave: rings r = 0..499 written at truncated coordinates on a 2000 x 2000 canvas."""
    canvas = np.zeros((2000, 2000), dtype=np.float32)
    for r in range(500):
        rows = (r * np.sin(THETA) + row_origin).astype(np.int64)  # truncation toward zero
        cols = (r * np.cos(THETA) + col_origin).astype(np.int64)
        canvas[rows, cols] = math.sin(r * f) * h  # negative indices wrap, as in the original
    return canvas[:256, :256]


def literal_waves(p: dict) -> np.ndarray:
    """Wave 1 around (row v, col u) and wave 2 around (row u2, col v2), as in the original."""
    # original: tensor[r*sin + v, r*cos + u] and tensor2[r*cos + u2, r*sin + v2]
    w1 = literal_wave(p["f1"], p["h1"], p["v"], p["u"])
    canvas = np.zeros((2000, 2000), dtype=np.float32)
    for r in range(500):
        rows = (r * np.cos(THETA) + p["u2"]).astype(np.int64)
        cols = (r * np.sin(THETA) + p["v2"]).astype(np.int64)
        canvas[rows, cols] = math.sin(r * p["f2"]) * p["h2"]
    return w1 + canvas[:256, :256]


def literal_bands(u, v, a, b, angle, thickness) -> list[tuple[np.ndarray, np.ndarray]]:
    """Rounded pixel coordinates of each band, one Python iteration per band."""
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    bands = []
    for i in range(thickness):
        pts = rot @ np.stack([(a - i) * np.cos(BAND_T), (b - i) * np.sin(BAND_T)])
        bands.append((np.round(pts[0] + u), np.round(pts[1] + v)))
    return bands


def literal_polyline(u, v, a, b, angle, n=100) -> list[tuple[float, float]]:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    ca, sa = math.cos(angle), math.sin(angle)
    return [
        (
            u + a * ca * math.cos(s) - b * sa * math.sin(s),
            v + a * sa * math.cos(s) + b * ca * math.sin(s),
        )
        for s in t
    ]


def _segments_meet(p1, p2, q1, q2) -> bool:
    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    if cross(p1, p2, q1) * cross(p1, p2, q2) > 0 or cross(q1, q2, p1) * cross(q1, q2, p2) > 0:
        return False
    return all(
        max(p1[k], p2[k]) >= min(q1[k], q2[k]) and max(q1[k], q2[k]) >= min(p1[k], p2[k])
        for k in range(2)
    )


def literal_intersect(pa, pb) -> bool:
    n, m = len(pa), len(pb)
    for i in range(n):
        for j in range(m):
            if _segments_meet(pa[i], pa[(i + 1) % n], pb[j], pb[(j + 1) % m]):
                return True
    return False


def literal_smooth(canvas: np.ndarray) -> torch.Tensor:
    g = torch.arange(3, dtype=torch.float32)
    k1 = torch.exp(-(((g - 1) / 2.0) ** 2) / 2) / (2.0 * math.sqrt(2 * math.pi))
    kernel = k1[:, None] * k1[None, :]
    kernel = (kernel / kernel.sum()).view(1, 1, 3, 3)
    return F.conv2d(torch.from_numpy(canvas)[None, None], kernel, padding=1)


def literal_deform(x: torch.Tensor, u: int, v: int) -> torch.Tensor:
    """Autograd gradient of the bump on a linspace meshgrid, then grid_sample (as the original)."""
    lin = np.linspace(-1, 1, 256).astype(np.float32)
    gx, gy = (torch.tensor(a) for a in np.meshgrid(lin, lin))
    grid = torch.stack([gx, gy], dim=-1)[None]
    gx.requires_grad_(True)
    gy.requires_grad_(True)
    mx = torch.tensor(2 * (v / 256) - 1).float()
    my = torch.tensor(2 * (u / 256) - 1).float()
    s = 0.19
    z = torch.exp(-((gx - mx) ** 2 / (2 * s**2) + (gy - my) ** 2 / (2 * s**2))) / (
        2 * np.pi * s * s
    )
    z.sum().backward()
    disp = torch.stack([-gx.grad, -gy.grad], dim=-1)[None]
    disp[disp != disp] = 0
    return F.grid_sample(x, grid + disp / disp.max() * 0.1, align_corners=False)


def literal_render(p: dict) -> tuple[torch.Tensor, torch.Tensor]:
    canvas = literal_waves(p)
    for key in ("1", "2"):
        centre = (p["u"], p["v"]) if key == "1" else (p["u2"], p["v2"])
        for rows, cols in literal_bands(
            *centre, p["a" + key], p["b" + key], p["angle" + key], p["thick" + key]
        ):
            canvas[rows.astype(np.int64), cols.astype(np.int64)] = 1
    x = literal_smooth(canvas)
    return x, literal_deform(x, p["u"], p["v"])


def literal_generate(n_accepted: int, seed: int) -> tuple[float, int]:
    """Generate ``n_accepted`` images one candidate at a time; returns (seconds, attempts)."""
    rng = np.random.default_rng(seed)
    accepted = attempts = 0
    start = time.perf_counter()
    while accepted < n_accepted:
        attempts += 1
        f1, f2 = rng.uniform(0.2, 0.35), rng.uniform(0.35, 0.5)
        h1, h2 = rng.uniform(0.2, 0.4), rng.uniform(0.2, 0.4)
        u, v, u2, v2 = (int(c) for c in rng.integers(50, 200, 4))
        if math.hypot(u - u2, v - v2) <= 120:
            continue
        p = {"u": u, "v": v, "u2": u2, "v2": v2, "f1": f1, "f2": f2, "h1": h1, "h2": h2}
        canvas = literal_waves(p)  # the original draws the background before any other test
        inside = True
        for key, (cu, cv), (ma, mb) in (("1", (u, v), (40, 20)), ("2", (u2, v2), (70, 35))):
            p["angle" + key] = rng.uniform(0, 2 * np.pi)
            p["thick" + key] = max(int(np.round(rng.normal(5, 0.7))), 1)
            p["a" + key], p["b" + key] = rng.normal(ma, 1), rng.normal(mb, 1)
            for rows, cols in literal_bands(
                cu, cv, p["a" + key], p["b" + key], p["angle" + key], p["thick" + key]
            ):
                if rows.min() < 0 or cols.min() < 0 or rows.max() > 255 or cols.max() > 255:
                    inside = False
                    continue
                canvas[rows.astype(np.int64), cols.astype(np.int64)] = 1
        ring1 = literal_polyline(u, v, p["a1"], p["b1"], p["angle1"])
        ring2 = literal_polyline(u2, v2, p["a2"], p["b2"], p["angle2"])
        if literal_intersect(ring1, ring2) or not inside:
            continue
        x = literal_smooth(canvas)
        out = literal_deform(x, u, v)
        _ = gen.normalise(x), gen.normalise(out), x - out
        accepted += 1
    return time.perf_counter() - start, attempts


# --------------------------------------------------------------------------------------------
# benchmark
# --------------------------------------------------------------------------------------------


def fidelity(n: int, seed: int) -> dict[str, float]:
    """Render ``n`` of the vectorised generator's phantoms literally and compare."""
    rng, _ = gen.seed_streams(seed, 0)
    ph, _ = gen.sample_phantoms(rng, n)
    ring_agree, px_close, max_diff, out_diff, gt_agree = [], [], [], [], []
    for k in range(n):
        one = ph.take(slice(k, k + 1))
        p = {name: value[0].item() for name, value in one.as_dict().items()}
        lit_x, lit_out = literal_render(p)
        with torch.no_grad():
            x = gen.render_healthy(one)
            out = gen.deform(x, one.u, one.v)
        lit_waves = torch.from_numpy(literal_waves(p))
        ring_agree.append(float((gen.waves(one)[0] - lit_waves).abs().lt(1e-5).float().mean()))
        diff = (x - lit_x).abs()
        px_close.append(float(diff.lt(1e-4).float().mean()))
        max_diff.append(float(diff.max()))
        out_diff.append(float((out - lit_out).abs().max()))
        gt = (x - out).abs() > gen.MASK_THRESHOLD
        lit_gt = (lit_x - lit_out).abs() > gen.MASK_THRESHOLD
        gt_agree.append(float((gt == lit_gt).float().mean()))
    return {
        "wave_pixels_equal": float(np.mean(ring_agree)),
        "image_pixels_within_1e-4": float(np.mean(px_close)),
        "healthy_max_abs_diff": float(np.max(max_diff)),
        "diseased_max_abs_diff": float(np.max(out_diff)),
        "mask_pixels_equal": float(np.mean(gt_agree)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4000, help="images from the vectorised generator")
    parser.add_argument("--size", type=int, default=256, help="output image size")
    parser.add_argument("--baseline", type=int, default=10, help="images from the literal baseline")
    parser.add_argument("--fidelity", type=int, default=5, help="phantoms rendered both ways")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_grad_enabled(True)

    gen.generate_split(8, 8, seed=args.seed + 1, image_size=args.size)  # warm-up
    n_h = args.n // 2
    n_d = args.n - n_h
    # outputs preallocated and touched once: on fresh VM memory the first write of every page
    # costs more than generating the image, which measures the machine, not the generator
    out = {k: np.ones(s, d) for k, (s, d) in gen.array_specs(args.n, args.size).items()}
    t0 = time.perf_counter()
    result = gen.generate_split(n_h, n_d, seed=args.seed, image_size=args.size, out=out)
    fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    gen.generate_split(n_h, n_d, seed=args.seed, image_size=args.size)
    fast_cold = time.perf_counter() - t0

    slow, attempts = literal_generate(args.baseline, args.seed)
    per_fast, per_slow = fast / args.n, slow / args.baseline
    stats = result.stats

    print(f"torch threads: {torch.get_num_threads()}")
    print(
        f"vectorised: {args.n} images at {args.size} px in {fast:.2f} s"
        f" ({1000 * per_fast:.2f} ms/image); with fresh output arrays {fast_cold:.2f} s"
    )
    print(
        f"  acceptance {stats.acceptance_rate:.3f} ({stats.accepted}/{stats.attempts});"
        f" rejected {stats.rejected}"
    )
    print(
        f"literal baseline: {args.baseline} images in {slow:.2f} s ({per_slow:.3f} s/image,"
        f" {attempts} attempts)"
    )
    print(f"speed-up: {per_slow / per_fast:.0f}x")
    goal = "meets" if per_fast * 4000 <= 15 else "misses"
    print(f"4000 images: {per_fast * 4000:.2f} s ({goal} the 15 s goal)")
    if args.fidelity:
        print(f"fidelity over {args.fidelity} phantoms (vectorised vs literal):")
        for key, value in fidelity(args.fidelity, args.seed).items():
            print(f"  {key}: {value:.6g}")


if __name__ == "__main__":
    main()
