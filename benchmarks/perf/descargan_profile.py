"""Where the README's main job spends its time: one ``anobench run --method descargan --dataset
synthetic`` in this process, with timers around its pieces.

Every timed piece counts its own time only (a G forward inside the G step is G forward, not G
step), so the shares add up to the wall time; ``other`` is what no timer covers (imports, the
store, Python between the timed calls). CPU only: the timers read the wall clock and a CPU
computes synchronously.

    python benchmarks/perf/descargan_profile.py                      # the main job, fresh home
    ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 \\
        python benchmarks/perf/descargan_profile.py                  # as an AVX2-only CPU
    python benchmarks/perf/descargan_profile.py -- --seed 1 --method-opt epochs=4

Arguments after ``--`` go to ``anobench run``. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import functools
import platform
import re
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch

#: the pieces a network call or a backward belongs to, innermost first
PHASES = ("predict", "warm-up", "D step", "G step")


class Clock:
    """Exclusive wall time per label: a call's time minus that of the timed calls inside it."""

    def __init__(self) -> None:
        self.stack: list[list[Any]] = []
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def phase(self) -> str:
        for label, *_ in reversed(self.stack):
            for key in PHASES:
                if label.startswith(key):
                    return key
        return "GAN"

    def wrap(self, owner: Any, attr: str, label: str | None = None) -> None:
        """Time ``owner.attr``; ``label`` None: named by the phase it runs in."""
        fn = getattr(owner, attr)

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            name = label if label is not None else f"{self.phase()}: {attr_names[attr]}"
            self.stack.append([name, time.perf_counter(), 0.0])
            try:
                return fn(*args, **kwargs)
            finally:
                name, start, inner = self.stack.pop()
                took = time.perf_counter() - start
                self.seconds[name] += took - inner
                self.calls[name] += 1
                if self.stack:
                    self.stack[-1][2] += took

        setattr(owner, attr, timed)


attr_names = {
    "forward": "G forward",
    "features": "D forward",
    "classify": "D forward",
    "critic": "D forward",
    "backward": "backward",
    "grad": "gradient-penalty input gradient",
}


def install(clock: Clock) -> None:
    from anobench_descargan import method, networks, training
    from anobench_synthetic import dataset

    from anobench.api import context, progress, trainer
    from anobench.run import artifacts, execute

    for attr in ("features", "classify", "critic"):
        clock.wrap(networks.Discriminator, attr)
    clock.wrap(networks.Generator, "forward")
    clock.wrap(torch.Tensor, "backward")
    clock.wrap(torch.autograd, "grad")
    clock.wrap(training, "discriminator_backward", "D step: losses (the rest)")
    clock.wrap(training, "generator_backward", "G step: losses (the rest)")
    clock.wrap(training, "classifier_backward", "warm-up: loss (the rest)")
    clock.wrap(training, "apply", "optimisers: clip + Adam")
    clock.wrap(training, "replay_batch_stats", "G BatchNorm statistics replay")
    clock.wrap(method.DeScarGAN, "_batch", "batches: read, flip, noise, layout")
    clock.wrap(method.DeScarGAN, "_gan_iteration", "GAN iteration: noise draws (the rest)")
    clock.wrap(method.DeScarGAN, "fit", "fit: Python between the pieces")
    clock.wrap(method.DeScarGAN, "predict", "predict: maps, copies (the rest)")
    clock.wrap(trainer.Trainer, "update_ema", "EMA of G")
    clock.wrap(trainer.Trainer, "save", "checkpoints")
    clock.wrap(trainer.Trainer, "_validate", "validation during training")
    clock.wrap(context.RunContext, "log", "loss log (ctx.log)")
    clock.wrap(progress.Task, "advance", "progress bar")
    clock.wrap(dataset.SyntheticDataset, "load", "data: generate or read the phantoms")
    clock.wrap(execute, "compute_metrics", "metrics")
    clock.wrap(execute, "_artifacts", "figure panel + artifacts")
    clock.wrap(execute, "_evidence", "evidence (per-image values)")
    clock.wrap(artifacts, "_save_predictions", "predictions written")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, help="results home (default: a fresh temporary one)")
    ap.add_argument("run_args", nargs="*", help="after --: more `anobench run` arguments")
    args = ap.parse_args()

    clock = Clock()
    install(clock)
    from anobench.api.hardware import cpu_features
    from anobench.cli.root import cli

    home = args.home or Path(tempfile.mkdtemp(prefix="anobench-profile-"))
    argv = ["--home", str(home), "--quiet", "run", "-m", "descargan", "-d", "synthetic"]
    start = time.perf_counter()
    cli.main([*argv, *args.run_args], standalone_mode=False)
    wall = time.perf_counter() - start

    timed = sum(clock.seconds.values())
    rows = sorted(clock.seconds.items(), key=lambda kv: -kv[1])
    rows.append(("other: CLI, store, imports, what no timer covers", wall - timed))
    cpu = cpu_features()
    model = next(
        (
            re.sub(r"\s+", " ", line.split(":", 1)[1]).strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    print(f"anobench {' '.join([*argv, *args.run_args])}")
    print(f"CPU: {model}; flags {cpu.to_dict()}; torch {torch.__version__}; wall {wall:.1f} s\n")
    print("| piece | seconds | share | calls |")
    print("|---|---:|---:|---:|")
    for name, seconds in rows:
        calls = clock.calls.get(name, "")
        print(f"| {name} | {seconds:.1f} | {100 * seconds / wall:.1f} % | {calls} |")


if __name__ == "__main__":
    main()
