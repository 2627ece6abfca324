"""A run's spec from the choices made: plugins looked up, profile and overrides resolved."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..api import registry
from ..api.errors import ConfigError, PluginError
from ..api.interfaces import Dataset, Method, Metric
from ..api.limits import MAX_SEED
from ..api.records import (
    RunSpec,
)
from ..api.resolve import plugin_class


def build_spec(
    *,
    dataset: str,
    method: str,
    profile: str = "quick",
    seed: int = 0,
    device: str = "auto",
    dataset_options: Mapping[str, Any] | None = None,
    method_options: Mapping[str, Any] | None = None,
    max_steps: int | None = None,
    time_budget: float | None = None,
    dataset_cls: type[Dataset] | None = None,
    method_cls: type[Method] | None = None,
) -> RunSpec:
    """Resolve defaults, profile and overrides of both plugins into a fully specified RunSpec.

    ``dataset_cls``, ``method_cls``: the classes where the caller has looked them up already.
    """
    dataset_cls = dataset_cls or plugin_class("dataset", dataset)
    method_cls = method_cls or plugin_class("method", method)
    if max_steps is not None and max_steps < 1:
        raise ConfigError("--max-steps must be >= 1")
    if time_budget is not None and not math.isfinite(time_budget):
        raise ConfigError(f"--time-budget must be a finite number of seconds, got {time_budget}")
    if time_budget is not None and time_budget <= 0:
        raise ConfigError("--time-budget must be > 0 seconds")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        # the rule of suites (run.suite) and of bench --seeds: an integer >= 0
        raise ConfigError(f"--seed must be an integer >= 0 and <= {MAX_SEED}, got {seed!r}")
    resolved = dataset_cls.resolve(profile, dataset_options or {})
    return RunSpec(
        dataset=dataset,
        method=method,
        dataset_options=dataset_cls.for_method(resolved, method_cls.supervision),
        method_options=method_cls.resolve(profile, method_options or {}),
        profile=profile,
        seed=seed,
        device=device,
        max_steps=max_steps,
        time_budget=time_budget,
    )


def _plugin_class(kind: str, name: str, base: type | None = None) -> Any:
    return plugin_class(kind, name)


def metric_plugins(names: Sequence[str] | None = None) -> dict[str, type[Metric]]:
    """The metrics to compute: all registered (broken ones skipped) or the named ones."""
    chosen = names or registry.names("metric")
    out: dict[str, type[Metric]] = {}
    for name in chosen:
        try:
            out[name] = registry.get_metric(name)
        except PluginError:
            if names:
                raise
    return out


def _plugin_versions(spec: RunSpec, metrics: Mapping[str, Any]) -> dict[str, Any]:
    def one(kind: str, name: str) -> dict[str, str]:
        info = registry.info(kind, name)
        return {"name": name, "distribution": info.distribution, "version": info.version}

    return {
        "dataset": one("dataset", spec.dataset),
        "method": one("method", spec.method),
        "metrics": {name: one("metric", name)["version"] for name in metrics},
    }
