"""Leaderboard bootstrap: vectorised resampling (anobench.results stats / resampling) vs loops.

For ``--n-images`` test images and ``--resamples`` bootstrap resamples, in this process:

* mean of per-image values: ``bootstrap_mean`` (one fancy-index) vs a Python loop of ``mean``;
* image AUROC / AP: ``auroc_rows`` / ``average_precision_rows`` on the ``[B, N]`` resampled
  (score, label) matrix vs a loop of scikit-learn's ``roc_auc_score`` / ``average_precision_score``
  (values checked equal);
* pooled pixel AP of ``size x size`` maps: the ``pixel_ap`` recipe (one matmul of resample
  weights with per-image cumulative histograms, then AP of ``[B, K]`` curves) vs recomputing the
  exact pooled AP on the concatenated pixels of each resample (``anobench.metrics``; timed on
  ``--naive-resamples`` resamples and scaled per resample), plus the time to collect the
  evidence once per run.

Usage: ``python benchmarks/perf/leaderboard_bootstrap.py [--n-images 500] [--resamples 1000]
[--size 64] [--naive-resamples 10]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from anobench import Predictions
from anobench.metrics import ranking_metrics
from anobench.results import stats
from anobench.results.resampling import Resampled, collect, replicate
from anobench.testing import toy_split


def timed(fn, repeat: int = 1):
    """The result and the best wall time of ``repeat`` calls."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=500)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--naive-resamples", type=int, default=10)
    args = parser.parse_args()
    n, b = args.n_images, args.resamples
    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(n // 2), np.ones(n - n // 2)].astype(bool)
    scores = rng.normal(size=n) + labels
    index = stats.resample_indices(n, b, rng, strata=labels)
    print(f"{n} images, {b} resamples")

    values = rng.uniform(size=n)
    fast, t_fast = timed(lambda: stats.bootstrap_mean(values, index), 3)
    slow, t_slow = timed(lambda: np.array([values[i].mean() for i in index]), 3)
    assert np.allclose(fast, slow)
    print(f"mean of per-image values: {t_fast * 1e3:8.1f} ms vs loop {t_slow * 1e3:8.1f} ms"
          f"  ({t_slow / t_fast:.1f}x)")  # fmt: skip

    for name, ours, ref in (
        ("image AUROC", stats.auroc_rows, roc_auc_score),
        ("image AP", stats.average_precision_rows, average_precision_score),
    ):
        fast, t_fast = timed(lambda ours=ours: ours(scores[index], labels[index]), 3)
        slow, t_slow = timed(lambda ref=ref: np.array([ref(labels[i], scores[i]) for i in index]))
        assert np.allclose(fast, slow, atol=1e-12)
        print(f"{name:24s}: {t_fast * 1e3:8.1f} ms vs sklearn loop {t_slow * 1e3:8.1f} ms"
              f"  ({t_slow / t_fast:.1f}x)")  # fmt: skip

    split = toy_split(n // 2, n - n // 2, size=args.size, seed=1)
    maps = (split.images[:, 0] + 0.8 * rng.standard_normal(split.images[:, 0].shape)).astype(
        np.float32
    )
    pred = Predictions(scores=maps.reshape(n, -1).max(axis=1), maps=maps)
    evidence, t_collect = timed(lambda: collect(split, pred))
    blob = evidence.to_bytes()
    exact = ranking_metrics(split.masks, maps).average_precision
    idx = stats.resample_indices(n, b, rng, strata=evidence.labels)
    w = stats.resample_weights(idx, n)
    reps, t_fast = timed(lambda: replicate("pixel_ap", Resampled(evidence, idx, w), {}, exact), 3)
    k = args.naive_resamples
    naive, t_naive = timed(
        lambda: [ranking_metrics(split.masks[i], maps[i]).average_precision for i in idx[:k]]
    )
    per_fast, per_naive = t_fast / b, t_naive / k
    gap = np.abs(np.array(naive) - reps[:k]).max()
    print(
        f"pooled pixel AP ({args.size}px): {t_fast * 1e3:8.1f} ms for {b} resamples vs exact"
        f" recomputation {per_naive * 1e3:.1f} ms per resample ({per_naive / per_fast:.0f}x per"
        f" resample); max |binned - exact| on {k} resamples {gap:.1e}"
    )
    print(
        f"evidence per run: collect {t_collect * 1e3:.0f} ms, {len(evidence.edges)} bins,"
        f" {len(blob) / 1e3:.0f} kB stored"
    )
    ci = stats.percentile_interval(reps)
    print(f"pixel AP {exact:.4f}, 95% CI [{ci.low:.4f}, {ci.high:.4f}]")


if __name__ == "__main__":
    main()
