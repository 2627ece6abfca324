"""Print the Markdown header of a published leaderboard: what ran, where, with what, and when.

Used by regenerate.sh; reads the suite file and the results store, never edits a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

import anobench
from anobench.api.home import store_path
from anobench.results.provenance import git_revision
from anobench.run.identity import identified
from anobench.run.suite import load_suite


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gib() -> str:
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        return f"{pages * size / 2**30:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        return "unknown"


def precision_of(provenance: dict) -> str:
    """``bf16`` / ``fp32`` ... as the run resolved it, "" where the method has no option."""
    resolved = provenance.get("resolved") or {}
    if not resolved.get("precision"):
        return ""
    layout = ", channels-last" if resolved.get("channels_last") else ""
    return f"{resolved['precision']}{layout}"


def cpu_kernels(provenance: dict) -> str:
    cpu = (provenance.get("resolved") or {}).get("cpu")
    if not cpu:
        return "not recorded (runs before precision=auto)"
    bf16 = "native bf16" if cpu.get("native_bf16") else "no native bf16"
    return f"{cpu.get('aten_capability')} ({bf16})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--suite", required=True, type=Path)
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--command", required=True)
    args = parser.parse_args()

    suite = load_suite(args.suite)
    # runs are stored under their data fingerprint: the grid's specs get theirs
    grid = {(s.config_hash(), s.seed): s for s in map(identified, suite.expand())}
    with sqlite3.connect(store_path(args.home.resolve())) as db:
        rows = db.execute(
            "SELECT config_hash, seed, provenance_json, created, finished FROM runs"
            " WHERE status = 'finished'"
        ).fetchall()
    done = {(h, s): (json.loads(p), c, f) for h, s, p, c, f in rows if (h, s) in grid}
    extra = {(h, s) for h, s, *_ in rows} - set(grid)
    missing = [grid[key] for key in grid if key not in done]
    compute = sum(p.get("fit_seconds", 0) + p.get("predict_seconds", 0) for p, *_ in done.values())
    devices = sorted({p.get("device", "?") for p, _, _ in done.values()})
    revisions = Counter((p.get("git_revision") or "unknown")[:12] for p, _, _ in done.values())
    threads = sorted({str(p.get("torch_threads", "?")) for p, _, _ in done.values()})
    # what precision=auto resolved to on the runs' hardware (None: the method has no option)
    precisions = Counter(
        f"{p['plugins']['method']['name'] if 'plugins' in p else '?'}: {precision_of(p)}"
        for p, _, _ in done.values()
        if precision_of(p)
    )
    kernels = sorted({cpu_kernels(p) for p, _, _ in done.values()})
    span = ""
    if done:
        first = min(c for _, c, _ in done.values())
        last = max(f for _, _, f in done.values())
        span = f", runs stored between {first} and {last} (UTC)"

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    lines = [
        f"# Leaderboard: suite `{suite.name}`",
        "",
        "Generated from the results store, never edited by hand. Regenerate with:",
        "",
        "```bash",
        args.command,
        "```",
        "",
        f"- suite: `{args.suite.as_posix()}` ({suite.description or 'no description'})",
        f"- runs: {len(done)} of {len(grid)} finished{span}",
        f"- fit + predict time summed over runs: {compute / 60:.1f} min",
        f"- rendered: {datetime.now(timezone.utc).isoformat(timespec='seconds')}",
        f"- machine: {cpu_model()}, {os.cpu_count()} logical cores, {memory_gib()} RAM,"
        f" GPU {gpu}; run devices: {', '.join(devices) or '-'};"
        f" torch threads per run: {', '.join(threads) or '-'}",
        f"- CPU kernels of the runs: {', '.join(kernels) or '-'}; resolved precision (method:"
        " precision, runs): "
        + (", ".join(f"{k} ({n})" for k, n in sorted(precisions.items())) or "-"),
        "- code of the runs (git revision: runs): "
        + (", ".join(f"{rev} ({n})" for rev, n in revisions.most_common()) or "-"),
        f"- software: anobench {anobench.__version__} (rendered at git"
        f" {(git_revision() or 'unknown')[:12]}),"
        f" Python {platform.python_version()}, torch {torch.__version__},"
        f" numpy {np.__version__}, {platform.platform()}",
    ]
    if missing:
        names = ", ".join(f"{s.method} seed {s.seed}" for s in missing)
        lines.append(f"- **not finished** (failed or not run yet): {names}")
    if extra:
        lines.append(
            f"- note: the store also holds {len(extra)} finished run(s) outside this suite's grid"
            " (the suite changed?); start from an empty home to drop them"
        )
    print("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
