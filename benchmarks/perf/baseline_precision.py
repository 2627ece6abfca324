"""Training steps of the baselines (ae, vae, anogan, fanogan, classifier) in fp32 against the
precision that ``auto`` picks on this machine, alternating in one process (a load that comes and
goes hits both alike).

Each sample is a fit of ``--steps`` steps of the method's ``quick`` profile on the synthetic
quick data (64 px; the training images its supervision allows), from scratch, with the given
thread count, less a fit of no step (the set-up and the final checkpoint); prints the median
seconds per step of each precision and their ratio. f-AnoGAN's steps are WGAN-GP iterations (5
critic steps each); the classifier's include its validation once per epoch (fp32 in both).
The first sample of each is a warm-up and not counted.

    python benchmarks/perf/baseline_precision.py --steps 30 --repeats 4
    python benchmarks/perf/baseline_precision.py --methods classifier --steps 38 --repeats 3
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from anobench import Precision
from anobench.api import registry
from anobench.api.records import training_split
from anobench.testing import make_context


def _fit_seconds(name: str, precision: str, train, val, steps: int, threads: int) -> float:
    """Seconds of a fit of ``steps`` steps, less those of a fit of none (building the networks,
    the final checkpoint): per step."""
    cls = registry.get_method(name)
    took = []
    for n in (0, steps):
        method = cls(**cls.resolve("quick", {"precision": precision}))
        with tempfile.TemporaryDirectory() as work:
            ctx = make_context(Path(work), seed=0, max_steps=n, threads=threads)
            start = time.perf_counter()
            method.fit(train, val, ctx)
            took.append(time.perf_counter() - start)
    return (took[1] - took[0]) / steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--methods", nargs="+", default=["ae", "vae", "anogan", "fanogan", "classifier"])
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--repeats", type=int, default=4)
    p.add_argument("--threads", type=int, default=1, help="torch threads (the suite: 1 per run)")
    args = p.parse_args()
    auto = Precision.resolve("auto", "auto", "cpu").name
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    print(f"CPU: {cpu}; auto = {auto}; {args.threads} thread(s); torch {torch.__version__}")
    data_cls = registry.get_dataset("synthetic")
    data = data_cls(**data_cls.resolve("quick", {}))
    ctx = make_context(Path(tempfile.mkdtemp(prefix="anobench-prec-")) / "data", seed=0)
    for name in args.methods:
        cls = registry.get_method(name)
        train = training_split(data.load("train", ctx), cls.supervision, name)
        val = training_split(data.load("val", ctx), cls.supervision, name)
        times: dict[str, list[float]] = {"fp32": [], auto: []}
        for i in range(args.repeats + 1):
            for precision in times:
                seconds = _fit_seconds(name, precision, train, val, args.steps, args.threads)
                if i:  # the first round warms up the kernels
                    times[precision].append(seconds)
        fp32, fast = (statistics.median(times[k]) for k in ("fp32", auto))
        print(f"{name:8s} fp32 {fp32:.4f} s/step  {auto} {fast:.4f} s/step  {fp32 / fast:.2f}x")


if __name__ == "__main__":
    main()
