"""DeScarGAN inference: the official batch-1 loop (G in train mode) vs anobench's batched path.

The fp32 batched path gives the same anomaly maps as the loop (per-image normalisation is
exact); the bf16 + channels_last batched path (``predict_precision=bf16``, ``channels_last``)
trades exactness for speed. Prints images per second, the speed-ups over the loop and the
largest map differences.

    python benchmarks/perf/descargan_inference.py --size 256 --images 40
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from anobench_descargan import DeScarGAN
from anobench_descargan.anomaly_map import minmax

from anobench import RunContext


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--images", type=int, default=40)
    p.add_argument("--batch", type=int, default=20)
    p.add_argument("--g-width", type=int, default=64)
    p.add_argument("--d-width", type=int, default=32)
    args = p.parse_args()
    torch.manual_seed(0)
    model = DeScarGAN(g_width=args.g_width, d_width=args.d_width,
                      predict_batch_size=args.batch)  # fmt: skip
    model._build(1, args.size, torch.device("cpu"))
    images = np.random.default_rng(0).uniform(-1, 1, (args.images, 1, args.size, args.size))
    images = images.astype(np.float32)
    ctx = RunContext(workdir="/tmp/anobench-bench-inference")

    t = time.perf_counter()
    batched = model.predict(images, ctx).maps
    t_batched = time.perf_counter() - t
    model.predict_precision, model.channels_last = "bf16", True
    model.predict(images[: args.batch], ctx)  # first bf16 call: one-off kernel selection
    t = time.perf_counter()
    fast = model.predict(images, ctx).maps
    t_fast = time.perf_counter() - t

    g, d = model.generator_, model.discriminator_
    g.train()  # as the official evaluation: G in train mode, one image at a time
    d.eval()
    loop = []
    t = time.perf_counter()
    with torch.no_grad():
        for image in images:
            x = torch.from_numpy(image[None])
            loop.append((minmax(x) - minmax(g(x, 0))).abs().mean(1)[0].numpy())
            d.classify(d.features(x))
            g(x, 1)  # the official loop also translates to 'diseased'
    t_loop = time.perf_counter() - t
    diff = np.abs(np.stack(loop) - batched).max()
    diff_fast = np.abs(np.stack(loop) - fast)
    print(
        f"DeScarGAN inference, {args.images} images of {args.size} px, batch {args.batch},"
        f" {torch.get_num_threads()} threads"
    )
    print(f"  batch-1 loop (official, fp32): {args.images / t_loop:8.2f} images/s")
    print(f"  batched fp32 (anobench):       {args.images / t_batched:8.2f} images/s")
    print(f"  batched bf16 + channels_last:  {args.images / t_fast:8.2f} images/s")
    print(f"  fp32 batched: {t_loop / t_batched:.2f}x the loop, max |map difference| {diff:.2e}")
    print(
        f"  bf16 batched: {t_loop / t_fast:.2f}x the loop, map difference max"
        f" {diff_fast.max():.2e}, mean {diff_fast.mean():.2e} (maps span 0..2)"
    )


if __name__ == "__main__":
    main()
