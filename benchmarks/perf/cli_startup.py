"""CLI start-up: CPU seconds of the commands that only look, each in a fresh interpreter.

Builds (once, in ``--home``) a store of 24 training-free runs: ``meandiff`` and ``zscore`` on
32 px ``synthetic`` data, 12 seeds each. Then runs ``python -m anobench.cli`` (what the
``anobench`` script runs) ``--repeat`` times for each of ``--help``, ``list``, ``show`` and
``leaderboard`` and prints the median CPU seconds (user + system of the child, from
``getrusage(RUSAGE_CHILDREN)``: a loaded machine changes wall time far more than CPU time), the
median wall seconds and whether the command imported torch (``-X importtime``).

The tree measured is whichever ``anobench`` the interpreter imports: to compare with another
checkout, put it first on ``PYTHONPATH`` (``PYTHONPATH=/path/to/it:/path/to/it/plugins``).

Usage: ``python benchmarks/perf/cli_startup.py [--home /tmp/anobench-startup] [--repeat 5]``
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

COMMANDS = (("--help",), ("list",), ("show",), ("leaderboard",))
TINY = ("image_size=32", "n_train=16", "n_val=4", "n_test=8")
METHODS = ("meandiff", "zscore")
SEEDS = range(12)


def anobench(home: Path, *args: str, importtime: bool = False) -> subprocess.CompletedProcess:
    flags = ["-X", "importtime"] if importtime else []
    command = [sys.executable, *flags, "-m", "anobench.cli", "--home", str(home), *args]
    # ``-m`` puts the working directory first on sys.path: an empty one keeps PYTHONPATH's tree
    with tempfile.TemporaryDirectory() as empty:
        return subprocess.run(command, capture_output=True, text=True, check=True, cwd=empty)


def build_store(home: Path) -> None:
    """24 runs through the CLI in this process (torch is imported once, not 24 times)."""
    from click.testing import CliRunner

    from anobench.cli import cli

    dataset_opts = [arg for opt in TINY for arg in ("--dataset-opt", opt)]
    for method in METHODS:
        for seed in SEEDS:
            args = ["--home", str(home), "--quiet", "run", "-m", method, "-d", "synthetic"]
            args += [*dataset_opts, "--seed", str(seed), "--device", "cpu", "--threads", "1"]
            result = CliRunner().invoke(cli, args)
            if result.exit_code != 0:
                raise SystemExit(f"building the store failed: {result.output}")


def measure(home: Path, args: tuple[str, ...], repeat: int) -> tuple[float, float]:
    """Median CPU and wall seconds of ``repeat`` fresh runs."""
    cpu, wall = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        anobench(home, *args)
        wall.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(cpu), statistics.median(wall)


def imports_torch(home: Path, args: tuple[str, ...]) -> bool:
    trace = anobench(home, *args, importtime=True).stderr
    return any(line.split("|")[-1].strip() == "torch" for line in trace.splitlines())


def anobench_runs(home: Path) -> int:
    """Finished runs in the home's store (0 when there is none yet)."""
    from anobench.api.home import store_path

    store = store_path(home)
    if not store.exists():
        return 0

    with closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as db:
        return db.execute("SELECT COUNT(*) FROM runs WHERE status = 'finished'").fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path("/tmp/anobench-startup"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("ANOBENCH_THREADS", "1")
    where = "import anobench, anobench_reference as r; print(anobench.__file__, r.__file__)"
    with tempfile.TemporaryDirectory() as empty:
        found = subprocess.run(
            [sys.executable, "-c", where], capture_output=True, text=True, cwd=empty
        )
    print(f"measuring anobench and plugins from: {found.stdout.strip()}")
    shown = anobench_runs(args.home)
    if shown < len(METHODS) * len(SEEDS):
        print(f"building a store of {len(METHODS) * len(SEEDS)} runs in {args.home} ...")
        build_store(args.home)
    print(f"{'command':<14} {'CPU s':>7} {'wall s':>7}  torch imported")
    for command in COMMANDS:
        cpu, wall = measure(args.home, command, args.repeat)
        torch = "yes" if imports_torch(args.home, command) else "no"
        print(f"{' '.join(command):<14} {cpu:7.2f} {wall:7.2f}  {torch}")


if __name__ == "__main__":
    main()
