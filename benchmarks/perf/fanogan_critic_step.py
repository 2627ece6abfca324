"""f-AnoGAN's WGAN-GP critic step with the down blocks' conv + mean-pool as one stride-2 conv
(``networks.conv_mean_pool``, the current code) against the literal conv, then pool (the
previous release), alternating in one process.

One step is what the quick profile's WGAN stage repeats five times per generator update: a
generated batch, the gradient penalty (a double backward through the critic), the Wasserstein
distance and an Adam step, under the precision ``auto`` picks here. Prints the median seconds
per step of each and their ratio; both compute the same function (tests/unit/test_anogan.py).

    python benchmarks/perf/fanogan_critic_step.py --steps 8 --repeats 6
    ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 python benchmarks/perf/fanogan_critic_step.py
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import torch
from anobench_anogan import networks as nets
from torch.nn import functional as F

from anobench import Precision

_FUSED = nets.ResBlock.forward


def _literal(block: nets.ResBlock, x: torch.Tensor) -> torch.Tensor:
    if block.resample != "down":  # the generator's up blocks are the same in both
        return _FUSED(block, x)
    h = block.conv1(F.relu(block.norm1(x)))
    h = block.conv2(F.relu(block.norm2(h)))
    return block.shortcut(F.avg_pool2d(x, 2)) + F.avg_pool2d(h, 2)


def _critic_step(critic, generator, opt, amp: Precision, batch: int, latent: int) -> None:
    real = torch.rand(batch, 1, 64, 64) * 2 - 1
    with torch.no_grad(), amp.autocast():
        fake = generator(torch.randn(batch, latent)).float()
    alpha = torch.rand(batch, 1, 1, 1)
    mixed = (real + alpha * (fake - real)).requires_grad_(True)
    with amp.autocast():
        (grad,) = torch.autograd.grad(critic(mixed).float().sum(), mixed, create_graph=True)
        penalty = (grad.float().flatten(1).norm(dim=1) - 1).pow(2).mean()
        distance = critic(real).float().mean() - critic(fake).float().mean()
    loss = -distance + 10.0 * penalty
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=8, help="critic steps per sample")
    p.add_argument("--repeats", type=int, default=6)
    p.add_argument("--base", type=int, default=8, help="network width (quick: 8, paper: 64)")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    amp = Precision.resolve("auto", "off", "cpu")
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    print(f"CPU: {cpu}; {amp.name}; {args.threads} thread(s); torch {torch.__version__}")
    torch.manual_seed(0)
    critic = nets.ResNetCritic(64, 1, args.base)
    generator = nets.ResNetGenerator(64, 1, 128, args.base)
    opt = torch.optim.Adam(critic.parameters(), lr=1e-4, betas=(0.0, 0.9))
    times: dict[str, list[float]] = {"conv, then pool": [], "one stride-2 conv": []}
    for i in range(args.repeats + 1):
        for name, forward in zip(times, (_literal, _FUSED), strict=True):
            nets.ResBlock.forward = forward
            start = time.perf_counter()
            for _ in range(args.steps):
                _critic_step(critic, generator, opt, amp, args.batch, 128)
            if i:  # the first round warms up the kernels
                times[name].append((time.perf_counter() - start) / args.steps)
    nets.ResBlock.forward = _FUSED
    old, new = (statistics.median(v) for v in times.values())
    print(f"conv, then pool {old:.4f} s/step  one stride-2 conv {new:.4f} s/step  {old / new:.2f}x")


if __name__ == "__main__":
    main()
