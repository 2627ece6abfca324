"""What ran where: the machines, software versions, precision and threads of stored runs,
summarised from their provenance (one row per distinct combination, with its run count)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from ..api.records import RunRecord

#: column header -> how to read it from a run's provenance
COLUMNS = ("host", "device", "CPU", "precision", "threads", "python", "torch", "numpy", "anobench")


def _precision(resolved: dict[str, Any]) -> str:
    if "precision" not in resolved:
        return "not recorded"
    # a method without a precision option computes as its own code says
    return str(resolved["precision"] or "method's own")


def _threads(resolved: dict[str, Any]) -> str:
    threads, cores = resolved.get("threads"), resolved.get("cores_available")
    if threads is None:
        return "not recorded"
    return f"{threads} of {cores} cores" if cores else str(threads)


def describe(provenance: dict[str, Any]) -> tuple[str, ...]:
    """One run's values of :data:`COLUMNS` ("-" where its provenance lacks them)."""
    resolved = provenance.get("resolved") or {}
    cpu = (resolved.get("cpu") or {}).get("model")
    git = provenance.get("git_revision")
    version = str(provenance.get("anobench_version") or "-")
    if git:
        version += f" (git {git[:10]}{'-dirty' if git.endswith('-dirty') else ''})"
    values = (
        provenance.get("hostname"),
        provenance.get("device"),
        cpu,
        _precision(resolved),
        _threads(resolved),
        provenance.get("python"),
        provenance.get("torch_version"),
        provenance.get("numpy_version"),
        version,
    )
    return tuple("-" if v is None else str(v) for v in values)


def summary(records: Iterable[RunRecord]) -> list[tuple[int, tuple[str, ...]]]:
    """``(runs, values)`` per distinct combination, most runs first."""
    counts = Counter(describe(dict(r.provenance)) for r in records)
    return sorted(((n, values) for values, n in counts.items()), key=lambda x: (-x[0], x[1]))
