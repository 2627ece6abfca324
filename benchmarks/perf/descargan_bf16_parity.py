"""DeScarGAN bf16 parity at identical weights: the per-step loss error of bf16 autocast.

A free-running bf16 trajectory drifts away from fp32 because a GAN amplifies any difference
(``descargan_train_step.py`` reports that drift). This benchmark separates the numerical error
from the chaos: it trains in fp32 and, before every step, evaluates the same step's losses
(D and, every 5th step, G) in bf16 + channels_last on a copy of the current fp32 weights and the
same batch, noise and alpha. It prints the error of every loss term and of the totals, scaled by
the term's mean magnitude over the run.

    python benchmarks/perf/descargan_bf16_parity.py --size 256 --batch 10 --steps 20
"""

from __future__ import annotations

import argparse
import copy

import torch
from anobench_descargan.networks import (
    Discriminator,
    Generator,
    init_discriminator,
    init_generator,
)
from anobench_descargan.training import (
    Weights,
    apply,
    discriminator_backward,
    generator_backward,
)

from anobench import Precision

CPU = torch.device("cpu")


def d_total(parts: dict[str, float], w: Weights) -> float:
    return (
        w.real * parts["d_real"] + w.fake * parts["d_fake"] + w.gp * parts["d_gp"]
        + w.cls_d * parts["d_cls"]
    )  # fmt: skip


def g_total(parts: dict[str, float], w: Weights) -> float:
    return (
        w.adv_g * parts["g_adv"] + w.cls_g * parts["g_cls"] + w.identity * parts["g_id"]
        + w.reconstruction * parts["g_rec"]
    )  # fmt: skip


def bf16_losses(g, d, x, y, noise, alpha, w, with_g: bool) -> dict[str, float]:
    """The step's losses in bf16 + channels_last on copies of the current weights."""
    g16, d16 = copy.deepcopy(g), copy.deepcopy(d)
    g16.to(memory_format=torch.channels_last)
    d16.to(memory_format=torch.channels_last)
    x16 = x.contiguous(memory_format=torch.channels_last)
    cast = Precision("bf16", False, "cpu").autocast()
    parts = discriminator_backward(g16, d16, x16, y, noise, alpha, w, cast)
    if with_g:
        d16.requires_grad_(False)
        parts.update(generator_backward(g16, d16, x16, y, noise, w, cast))
    return parts


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--batch", type=int, default=10)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--g-width", type=int, default=64)
    p.add_argument("--d-width", type=int, default=32)
    args = p.parse_args()
    torch.manual_seed(0)
    g, d = Generator(1, args.g_width), Discriminator(1, args.d_width, args.size)
    init_generator(g)
    init_discriminator(d)
    opt_g = torch.optim.Adam(g.parameters(), 1e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), 1e-4, betas=(0.5, 0.999))
    data = torch.Generator().manual_seed(1)
    w, fp32 = Weights(), Precision("fp32", False, "cpu").autocast()
    refs: dict[str, list[float]] = {}
    lows: dict[str, list[float]] = {}
    print(
        f"DeScarGAN bf16 vs fp32 at identical weights, {args.size} px, batch {args.batch},"
        f" widths G {args.g_width} / D {args.d_width}, {torch.get_num_threads()} threads"
    )
    for i in range(args.steps):
        x = torch.rand(args.batch, 1, args.size, args.size, generator=data) * 2 - 1
        y = torch.arange(args.batch) % 2
        noise = 0.05 * torch.rand(x.shape, generator=data)
        alpha = torch.rand(args.batch, 1, 1, 1, generator=data)
        with_g = (i + 1) % 5 == 0
        low = bf16_losses(g, d, x, y, noise, alpha, w, with_g)
        ref = discriminator_backward(g, d, x, y, noise, alpha, w, fp32)
        apply(opt_d, d, 10.0)
        if with_g:
            d.requires_grad_(False)
            ref.update(generator_backward(g, d, x, y, noise, w, fp32))
            d.requires_grad_(True)
            apply(opt_g, g, 10.0)
        ref["D total"], low["D total"] = d_total(ref, w), d_total(low, w)
        if with_g:
            ref["G total"], low["G total"] = g_total(ref, w), g_total(low, w)
        for key, value in ref.items():
            refs.setdefault(key, []).append(value)
            lows.setdefault(key, []).append(low[key])
        print(f"  step {i + 1:2d}: D total fp32 {ref['D total']:.4g} bf16 {low['D total']:.4g}")
    # losses cross zero (WGAN terms), so errors are scaled by the term's typical magnitude over
    # the run, not by the value of the step
    print("error of bf16 = |bf16 - fp32| / mean |fp32| of the term over the steps:")
    for key, values in refs.items():
        scale = max(sum(abs(v) for v in values) / len(values), 1e-6)
        errs = sorted(abs(a - b) / scale for a, b in zip(lows[key], values, strict=True))
        print(
            f"  {key:8s} max {errs[-1]:.3g}  median {errs[len(errs) // 2]:.3g}  (scale {scale:.3g})"
        )


if __name__ == "__main__":
    main()
