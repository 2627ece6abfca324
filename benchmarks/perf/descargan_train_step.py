"""DeScarGAN training iteration: plain fp32 eager vs bf16 autocast + channels_last.

Both variants run the same code path (anobench_descargan.training) on the same initial weights
and batches, in this process. Prints seconds per iteration, the speed-up, and how far the bf16
loss trajectory drifts from fp32 over the measured steps. Peak memory is measured in a fresh
child process per variant (ru_maxrss), so one variant's allocations do not hide the other's.

    python benchmarks/perf/descargan_train_step.py --size 256 --batch 10 --steps 20
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

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
    autocast,
    discriminator_backward,
    generator_backward,
)

VARIANTS = {"fp32 eager": ("fp32", False), "bf16 + channels_last": ("bf16", True)}


def run(variant: str, args: argparse.Namespace) -> dict:
    precision, channels_last = VARIANTS[variant]
    torch.manual_seed(0)
    g, d = Generator(1, args.g_width), Discriminator(1, args.d_width, args.size)
    init_generator(g)
    init_discriminator(d)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    g.to(memory_format=fmt)
    d.to(memory_format=fmt)
    opt_g = torch.optim.Adam(g.parameters(), 1e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), 1e-4, betas=(0.5, 0.999))
    data = torch.Generator().manual_seed(1)
    cast = autocast(torch.device("cpu"), precision)
    w = Weights()
    losses, times = [], []
    for i in range(args.warmup + args.steps):
        x = torch.rand(args.batch, 1, args.size, args.size, generator=data) * 2 - 1
        x = x.contiguous(memory_format=fmt)
        y = torch.arange(args.batch) % 2
        noise = 0.05 * torch.rand(x.shape, generator=data)
        alpha = torch.rand(args.batch, 1, 1, 1, generator=data)
        t = time.perf_counter()
        parts = discriminator_backward(g, d, x, y, noise, alpha, w, cast)
        apply(opt_d, d, 10.0)
        if (i + 1) % 5 == 0:
            d.requires_grad_(False)
            generator_backward(g, d, x, y, noise, w, cast)
            d.requires_grad_(True)
            apply(opt_g, g, 10.0)
        if i >= args.warmup:
            times.append(time.perf_counter() - t)
            losses.append(
                w.real * parts["d_real"] + w.fake * parts["d_fake"] + w.gp * parts["d_gp"]
                + w.cls_d * parts["d_cls"]
            )  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    return {"seconds": sum(times) / len(times), "losses": losses, "peak_gib": peak}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--batch", type=int, default=10)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--g-width", type=int, default=64)
    p.add_argument("--d-width", type=int, default=32)
    p.add_argument("--variant", choices=list(VARIANTS), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.variant:  # child process: one variant, result as JSON
        print(json.dumps(run(args.variant, args)))
        return
    results = {}
    for variant in VARIANTS:
        cmd = [sys.executable, __file__, *sys.argv[1:], "--variant", variant]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        results[variant] = json.loads(out.strip().splitlines()[-1])
    base, fast = results["fp32 eager"], results["bf16 + channels_last"]
    drift = [
        abs(a - b) / max(abs(a), 1e-6) for a, b in zip(base["losses"], fast["losses"], strict=True)
    ]
    print(
        f"DeScarGAN training iteration, {args.size} px, batch {args.batch}, "
        f"widths G {args.g_width} / D {args.d_width}, {torch.get_num_threads()} threads, "
        f"{args.steps} measured steps (G every 5th)"
    )
    for name, r in results.items():
        print(f"  {name:22s} {r['seconds']:8.3f} s/iter   peak RSS {r['peak_gib']:.2f} GiB")
    print(f"  speed-up: {base['seconds'] / fast['seconds']:.2f}x")
    print(
        f"  D-loss trajectory, bf16 vs fp32: max relative difference {max(drift):.3g},"
        f" mean {sum(drift) / len(drift):.3g}"
    )
    print("  fp32 D losses:", " ".join(f"{v:.3g}" for v in base["losses"]))
    print("  bf16 D losses:", " ".join(f"{v:.3g}" for v in fast["losses"]))


if __name__ == "__main__":
    main()
