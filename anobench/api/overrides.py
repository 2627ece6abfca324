"""What a configuration changes from its named profile.

A run's options are stored fully resolved, so ``epochs=5`` on the command line leaves a spec that
looks like any other ``quick`` run but for its hash. The runner records the differences from the
profile's own resolved values in the run's provenance (key ``overrides``) when it stores the
run, and every leaderboard label shows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .records import RunSpec

#: the provenance key of a run's differences from its profile
KEY = "overrides"
#: run-level settings that no profile sets: any value given is a difference
RUN_SETTINGS = ("max_steps", "time_budget")


def changed(resolved: Mapping[str, Any], profile: Mapping[str, Any]) -> dict[str, Any]:
    """The options of ``resolved`` whose value is not the profile's, by name."""
    return {
        key: value
        for key, value in sorted(resolved.items())
        if key not in profile or profile[key] != value
    }


def differences(
    spec: RunSpec, dataset_profile: Mapping[str, Any], method_profile: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """``{"dataset": ..., "method": ..., "run": ...}``: what ``spec`` sets differently from the
    resolved options of its profile (``*_profile``), and the run-level settings it gives."""
    run = {name: getattr(spec, name) for name in RUN_SETTINGS if getattr(spec, name) is not None}
    return {
        "dataset": changed(spec.dataset_options, dataset_profile),
        "method": changed(spec.method_options, method_profile),
        "run": run,
    }


def method_part(stored: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The differences of the method configuration: its options and the run-level settings
    (``run.`` in front of a setting whose name a method option also has); ``None`` if unknown."""
    if stored is None:
        return None
    method = dict(stored.get("method") or {})
    for key, value in (stored.get("run") or {}).items():
        method[f"run.{key}" if key in method else key] = value
    return dict(sorted(method.items()))


def dataset_part(stored: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The differences of the dataset configuration; ``None`` if unknown."""
    return None if stored is None else dict(sorted((stored.get("dataset") or {}).items()))
