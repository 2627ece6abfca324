"""Pooled pixel AUROC + AP: anobench.metrics vs scikit-learn on the same arrays.

Generates ``n_images x size x size`` float32 anomaly maps quantised to 1/256 steps (many ties;
``--levels 0`` for continuous maps) and
bool masks with about 5% anomalous pixels, then, in this process:

* times ``roc_auc_score`` + ``average_precision_score`` (scikit-learn) on the raveled arrays;
* times ``roc_auc`` + ``average_precision`` (two independent calls) and ``ranking_metrics``
  (both from one sort) from ``anobench.metrics``;
* checks that the values agree to 1e-9;
* measures the peak extra memory of ours with ``tracemalloc`` (numpy reports its allocations to
  it) relative to the size of the inputs (bool masks + float32 maps).

Usage: ``python benchmarks/perf/pixel_metrics.py [--n-images 500] [--size 256] [--levels 256]
[--repeat 3]``
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from collections.abc import Callable

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from anobench.metrics import average_precision, ranking_metrics, roc_auc


def make_data(
    n_images: int, size: int, levels: int = 256, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Masks with a few discs per diseased image (~5% positives) and noisy maps quantised to
    ``1 / levels`` steps (``levels = 0``: continuous float32, nearly no ties)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    masks = np.zeros((n_images, size, size), dtype=bool)
    for i in range(n_images):
        if i % 2:  # every other image is healthy
            continue
        for _ in range(rng.integers(1, 4)):
            cy, cx = rng.integers(0, size, 2)
            r = rng.uniform(0.08, 0.16) * size
            masks[i] |= (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    maps = rng.random((n_images, size, size), dtype=np.float32)
    maps *= np.float32(0.7)
    maps[masks] += np.float32(0.35)
    if levels:
        np.multiply(maps, np.float32(levels), out=maps)
        np.floor(maps, out=maps)
        np.divide(maps, np.float32(levels), out=maps)
    return masks, maps


def best_time(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    best, value = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t0)
    return best, value


def peak_extra_bytes(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=500)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument(
        "--levels", type=int, default=256, help="quantisation steps per unit (0: continuous)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs (ours)")
    parser.add_argument("--sklearn-repeat", type=int, default=1)
    args = parser.parse_args()

    masks, maps = make_data(args.n_images, args.size, args.levels)
    labels, scores = masks.ravel(), maps.ravel()  # views: both arrays are contiguous
    input_bytes = labels.nbytes + scores.nbytes
    print(
        f"{labels.size:,} pixels ({args.n_images} x {args.size} x {args.size}),"
        f" {labels.mean():.1%} positive, {np.unique(scores).size} distinct scores,"
        f" input {input_bytes / 2**20:.0f} MiB"
    )

    t_sk, (sk_auc, sk_ap) = best_time(
        lambda: (roc_auc_score(labels, scores), average_precision_score(labels, scores)),
        args.sklearn_repeat,
    )
    t_two, (auc, ap) = best_time(
        lambda: (roc_auc(labels, scores), average_precision(labels, scores)), args.repeat
    )
    t_one, both = best_time(lambda: ranking_metrics(labels, scores), args.repeat)
    for name, ours, ref in [
        ("AUROC", auc, sk_auc),
        ("AP", ap, sk_ap),
        ("AUROC (one sort)", both.roc_auc, sk_auc),
        ("AP (one sort)", both.average_precision, sk_ap),
    ]:
        assert abs(ours - ref) <= 1e-9, f"{name}: ours {ours!r} vs sklearn {ref!r}"

    mem_two = peak_extra_bytes(lambda: (roc_auc(labels, scores), average_precision(labels, scores)))
    mem_one = peak_extra_bytes(lambda: ranking_metrics(labels, scores))

    print(f"values: AUROC {auc:.12f} (sklearn {sk_auc:.12f}), AP {ap:.12f} (sklearn {sk_ap:.12f})")
    print(f"{'implementation':<44}{'seconds':>9}{'speed-up':>10}{'peak mem / input':>18}")
    print(f"{'sklearn roc_auc_score + average_precision':<44}{t_sk:>9.3f}{1.0:>9.1f}x{'-':>18}")
    print(
        f"{'anobench roc_auc + average_precision':<44}{t_two:>9.3f}{t_sk / t_two:>9.1f}x"
        f"{mem_two / input_bytes:>18.2f}"
    )
    print(
        f"{'anobench ranking_metrics (one sort)':<44}{t_one:>9.3f}{t_sk / t_one:>9.1f}x"
        f"{mem_one / input_bytes:>18.2f}"
    )


if __name__ == "__main__":
    main()
