"""DeScarGAN training iteration: the per-piece reference step vs the fast step, per precision.

Every variant runs on the same initial weights and batches. Each precision runs in a fresh child
process that interleaves the steps' iterations (robust ratios on a shared machine); ``--memory``
runs every step in its own child instead, so its peak RSS (ru_maxrss) is its own. A sample is
one cycle of iterations (G steps every --n-critic and lazy penalties every --gp-every both recur
in it); prints the median seconds per iteration over the cycles, the ratios side by side, and how
far each loss trajectory drifts from the first variant's when both train the same networks (a
GAN amplifies rounding differences: this measures chaos as much as precision; the equivalence
of the steps is tested in float64 in tests/unit/test_descargan.py).

    # the quick profile's iteration (64 px, its batch, widths, n_critic, gp_every, g_skip, EMA)
    python benchmarks/perf/descargan_train_step.py --quick --steps 12
    # the same with the penalty on every step (the step before the lazy penalty)
    python benchmarks/perf/descargan_train_step.py --quick --steps 12 --gp-every 1
    # the official settings (256 px, batch 10, widths 64 / 32, G every 5th iteration)
    python benchmarks/perf/descargan_train_step.py --size 256 --batch 10 --steps 10

Steps: ``reference`` is the per-piece implementation (tests/unit/descargan_reference.py: three
D backwards, two G backwards, the translations evaluated twice, per-tensor Adam, the penalty on
every D step): the step of the releases before the batched one; ``fast`` is
``training.gan_iteration`` with fused Adam and the penalty on every --gp-every-th D step, as the
method trains, with D's last stage at --d-top x d_width; ``previous`` is the same step with the
previous release's D (last stage at 16x d_width, as the reference and the official code);
``compiled`` is the fast step with G's forward under ``torch.compile`` (default mode; its first
cycle, printed apart, includes the compilation: --warmup 2 keeps it out of the median).
Precisions: fp32, fp32 + channels_last, bf16 + channels_last, and ``auto`` (what
``anobench.Precision.resolve`` picks on this machine, as a run does).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from anobench_descargan import training
from anobench_descargan.networks import (
    Discriminator,
    Generator,
    init_discriminator,
    init_generator,
)
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

PRECISIONS = {"fp32": ("fp32", False), "fp32+cl": ("fp32", True), "bf16+cl": ("bf16", True)}
STEPS = ("reference", "previous", "fast", "compiled")
#: the steps that train D with its last stage at --d-top (the others: 16x, as the official code)
CURRENT = ("fast", "compiled")


def _precisions() -> dict[str, tuple[str, bool]]:
    from anobench import Precision

    out = dict(PRECISIONS)
    auto = Precision.resolve("auto", "auto", "cpu")  # what a run picks on this machine
    out[f"auto={auto.name}{'+cl' if auto.channels_last else ''}"] = (auto.name, auto.channels_last)
    return out


def _reference_iteration(g, d, x, y, noise, alpha, w, cast, opt_d, opt_g, clip, g_step):
    # the previous step lives on as the tests' reference: import it from the checkout
    root = str(Path(__file__).resolve().parents[2])
    if root not in sys.path:
        sys.path.insert(0, root)
    from tests.unit.descargan_reference import iteration_reference

    return iteration_reference(g, d, x, y, noise, alpha, w, cast, opt_d, opt_g, clip, g_step)


def _batched_iteration(*args, gp_scale=1.0):
    return training.gan_iteration(*args, gp_scale=gp_scale)


def _setup(step: str, precision_name: str, args: argparse.Namespace):
    """A closure running one iteration of ``step`` per call: (seconds, summed losses)."""
    precision, channels_last = _precisions()[precision_name]
    torch.manual_seed(0)
    g = Generator(1, args.g_width, skip0=args.quick)
    # only the current steps take --d-top: the others keep the previous releases' D (16x, official)
    d = Discriminator(1, args.d_width, args.size, top=args.d_top if step in CURRENT else 16)
    init_generator(g)
    init_discriminator(d, "kaiming" if args.quick else "xavier")
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    g.to(memory_format=fmt)
    d.to(memory_format=fmt)
    lr_g, lr_d = (2e-3, 2e-4) if args.quick else (1e-4, 1e-4)
    if step != "reference":
        opt_g = training.make_adam(g.parameters(), lr_g, (0.5, 0.999))
        opt_d = training.make_adam(d.parameters(), lr_d, (0.5, 0.999))
        iteration = _batched_iteration
    else:
        opt_g = torch.optim.Adam(g.parameters(), lr_g, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(d.parameters(), lr_d, betas=(0.5, 0.999))
        iteration = _reference_iteration
    ema = None
    if args.quick:
        ema = AveragedModel(g, multi_avg_fn=get_ema_multi_avg_fn(0.998), use_buffers=True)
    if step == "compiled":  # after the average's deep copy, which keeps the eager forward
        g.forward = torch.compile(g.forward)
    n_critic = args.n_critic
    # the per-piece reference puts the penalty on every D step (the releases before lazy penalties)
    gp_every = args.gp_every if step != "reference" else 1
    w = training.Weights(cls_d=50.0) if args.quick else training.Weights()
    data = torch.Generator().manual_seed(1)
    from anobench import Precision

    cast = Precision(precision, False, "cpu").autocast()
    state = {"i": 0}

    def iterate() -> tuple[float, float]:
        i = state["i"]
        state["i"] += 1
        x = torch.rand(args.batch, 1, args.size, args.size, generator=data) * 2 - 1
        x = x.contiguous(memory_format=fmt)
        y = torch.arange(args.batch) % 2
        noise = 0.05 * torch.rand(x.shape, generator=data)
        noise = noise.contiguous(memory_format=fmt)
        alpha = torch.rand(args.batch, 1, 1, 1, generator=data)
        g_step = (i + 1) % n_critic == 0
        lazy = {"gp_scale": training.penalty_scale(i, gp_every)} if step != "reference" else {}
        t = time.perf_counter()
        parts = iteration(g, d, x, y, noise, alpha, w, cast, opt_d, opt_g, 10.0, g_step, **lazy)
        if g_step and ema is not None:
            ema.update_parameters(g)
        seconds = time.perf_counter() - t
        # the penalty's value is left out: a lazy step computes it on some iterations only
        return seconds, sum(float(v) for k, v in parts.items() if k != "d_gp")

    def one() -> tuple[float, float]:
        # one cycle (G steps and penalties both recur in it): seconds per iteration, last loss
        times, loss = [], 0.0
        for _ in range(args.cycle):
            seconds, loss = iterate()
            times.append(seconds)
        return sum(times) / len(times), loss

    return one


def run(steps: list[str], precision_name: str, args: argparse.Namespace) -> dict:
    """The steps' iterations interleaved (A B A B ...), so a load that comes and goes on a shared
    machine hits all of them alike; medians per step."""
    closures = {step: _setup(step, precision_name, args) for step in steps}
    out = {step: {"times": [], "losses": [], "first": 0.0} for step in steps}
    for i in range(args.warmup + args.steps):
        for step, one in closures.items():
            start = time.perf_counter()
            seconds, loss = one()
            if i == 0:
                out[step]["first"] = time.perf_counter() - start
            if i >= args.warmup:
                out[step]["times"].append(seconds)
                out[step]["losses"].append(loss)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    return {
        step: {
            "seconds": statistics.median(r["times"]),
            "losses": r["losses"],
            "peak_gib": peak,
            "first_cycle": r["first"],
        }
        for step, r in out.items()
    }


def _operator_profile(args: argparse.Namespace) -> None:
    """Self time of each operator over ``--steps`` cycles of the fast step, in shares."""
    from torch.profiler import ProfilerActivity, profile

    one = _setup("fast", args.ops, args)
    for _ in range(args.warmup):
        one()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(args.steps):
            one()
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    iterations = args.steps * args.cycle
    print(f"Operators of the fast step, {args.ops}, {iterations} iterations, CPU: {_cpu()}")
    print(f"  {'operator':42s} {'share':>6s} {'ms/iter':>8s} {'calls/iter':>10s}")
    shown = 0.0
    for e in sorted(events, key=lambda e: -e.self_cpu_time_total)[:12]:
        share = e.self_cpu_time_total / total
        shown += share
        print(
            f"  {e.key[:42]:42s} {share:6.1%} {e.self_cpu_time_total / 1e3 / iterations:8.1f}"
            f" {e.count / iterations:10.1f}"
        )
    print(f"  {'every other operator':42s} {1 - shown:6.1%}")


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            info = fh.read()
    except OSError:
        return platform.processor()
    model = next(
        (ln.split(":", 1)[1].strip() for ln in info.splitlines() if "model name" in ln), "?"
    )
    flags = set(next((ln for ln in info.splitlines() if ln.startswith("flags")), "").split())
    isa = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    return f"{model} ({', '.join(isa)})"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="the quick profile's iteration")
    p.add_argument("--size", type=int)
    p.add_argument("--batch", type=int)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--n-critic", type=int, help="a G step every N iterations")
    p.add_argument("--gp-every", type=int, help="the current step's penalty every N D steps (lazy)")
    p.add_argument("--g-width", type=int)
    p.add_argument("--d-width", type=int)
    p.add_argument(
        "--d-top", type=int, help="the fast step's D last stage, x d_width (the others: 16)"
    )
    p.add_argument(
        "--steps-only", choices=STEPS, nargs="+", default=[s for s in STEPS if s != "compiled"]
    )
    p.add_argument("--precisions", nargs="+", help="a subset of: " + ", ".join(_precisions()))
    p.add_argument(
        "--memory",
        action="store_true",
        help="one child process per step (peak RSS per step) instead of interleaving the steps",
    )
    p.add_argument(
        "--ops",
        metavar="PRECISION",
        help="instead: torch's profiler over --steps cycles of the fast step in this precision,"
        " time per operator kind (which kernels the step is made of)",
    )
    p.add_argument("--variant", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.quick:  # the quick profile as the plugin declares it now
        from anobench_descargan import DeScarGAN

        quick = DeScarGAN.resolve("quick", {})
        defaults = (64, quick["batch_size"], quick["g_width"], quick["d_width"])
        defaults += (quick["n_critic"], quick["gp_every"], quick["d_top"])
    else:
        defaults = (256, 10, 64, 32, 5, 1, 16)
    names = ("size", "batch", "g_width", "d_width", "n_critic", "gp_every", "d_top")
    for name, value in zip(names, defaults, strict=True):
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.cycle = math.lcm(args.n_critic, args.gp_every)
    if args.ops:
        _operator_profile(args)
        return
    if args.variant:  # child process: one precision, its steps, result as JSON
        print(json.dumps(run(args.variant[1:], args.variant[0], args)))
        return
    precisions = args.precisions or list(_precisions())
    groups = [[s] for s in args.steps_only] if args.memory else [args.steps_only]
    results = {}
    for precision in precisions:
        for steps in groups:
            cmd = [sys.executable, __file__, *sys.argv[1:], "--variant", precision, *steps]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            for step, r in json.loads(out.strip().splitlines()[-1]).items():
                results[step, precision] = r
    capped = {
        k: os.environ[k] for k in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA") if k in os.environ
    }
    print(
        f"DeScarGAN training iteration{' (quick profile)' if args.quick else ''}, {args.size} px,"
        f" batch {args.batch}, widths G {args.g_width} / D {args.d_width} (last stage"
        f" {args.d_top}x; reference and previous: 16x),"
        f" {torch.get_num_threads()} threads, median of {args.steps} cycles of {args.cycle}"
        f" iterations (G every {args.n_critic}, the current step's penalty every"
        f" {args.gp_every}, the reference's every 1)"
    )
    print(f"  CPU: {_cpu()}; ISA cap: {capped or 'none'}; torch {torch.__version__}")
    base = next(iter(results.values()))
    print(f"  {'step':10s} {'precision':14s} {'s/iter':>8s} {'vs first':>9s} {'vs ref':>7s}"
          f" {'vs prev':>7s} {'peak RSS':>9s} {'loss drift':>10s} {'1st cycle':>9s}")  # fmt: skip
    for (step, precision), r in results.items():
        ref = results.get(("reference", precision), r)
        prev = results.get(("previous", precision), r)
        # losses compare only between the same networks
        same = args.d_top == 16 or (step in CURRENT) == (next(iter(results))[0] in CURRENT)
        drift = (
            max(
                abs(a - b) / max(abs(a), 1e-6)
                for a, b in zip(base["losses"], r["losses"], strict=True)
            )
            if same
            else float("nan")
        )
        vs_first, vs_ref = base["seconds"] / r["seconds"], ref["seconds"] / r["seconds"]
        vs_prev = prev["seconds"] / r["seconds"]
        print(
            f"  {step:10s} {precision:14s} {r['seconds']:8.3f} {vs_first:8.2f}x {vs_ref:6.2f}x"
            f" {vs_prev:6.2f}x"
            f" {r['peak_gib']:7.2f} GiB {drift:10.3g} {r['first_cycle']:8.1f}s"
        )


if __name__ == "__main__":
    main()
