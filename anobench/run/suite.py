"""Benchmark suites as data: a TOML file of datasets, methods and seeds, expanded into RunSpecs.

A suite is read with ``tomllib`` and never executed. Every field is checked up front (unknown
keys, wrong types, unknown plugins, unknown or mistyped options) and a mistake is one
``ConfigError`` naming the file, the table and the field. RunSpecs come from
``runner.build_spec``, the function behind ``anobench run``, so a suite run and a single run of
the same configuration share a config hash and count as the same result.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..api import registry
from ..api.errors import AnobenchError, ConfigError
from ..api.limits import MAX_SEED
from ..api.records import RunSpec
from .runner import build_spec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

#: allowed keys and what each one holds, for the error messages
SUITE_KEYS = {
    "name": "the suite's name (default: the file name)",
    "description": "one line on what the suite is for",
    "seeds": "list of run seeds, e.g. [0, 1, 2]",
    "device": "auto, cpu, cuda or cuda:N",
    "profile": "default profile of every method (default: quick)",
    "metrics": "metrics to compute (default: all installed)",
    "max_steps": "training step budget of every method",
    "time_budget": "training wall-clock budget of every method, in seconds",
    "datasets": "[[datasets]] tables",
    "methods": "[[methods]] tables",
    "slurm": "[slurm] table: partition, account, time, cpus, mem, gpus, sbatch (--executor slurm)",
}
DATASET_KEYS = {
    "name": "dataset name (see 'anobench list --kind dataset')",
    "profile": "dataset profile (default: the method's profile)",
    "options": "dataset option overrides, e.g. { image_size = 32 }",
}
METHOD_KEYS = {
    "name": "method name (see 'anobench list --kind method')",
    "profile": "method (and dataset) profile, e.g. quick or paper",
    "options": "method option overrides, e.g. { lr = 0.001 }",
    "max_steps": "training step budget of this method",
    "time_budget": "training wall-clock budget of this method, in seconds",
}


@dataclass(frozen=True)
class Entry:
    """One ``[[datasets]]`` or ``[[methods]]`` table."""

    kind: str
    index: int
    name: str
    profile: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    max_steps: int | None = None
    time_budget: float | None = None

    @property
    def where(self) -> str:
        return f"[[{self.kind}s]] #{self.index + 1} ({self.name})"


@dataclass(frozen=True)
class Suite:
    """A parsed suite file; ``expand()`` turns it into the grid of RunSpecs."""

    path: Path
    name: str
    description: str
    seeds: tuple[int, ...]
    device: str
    profile: str
    datasets: tuple[Entry, ...]
    methods: tuple[Entry, ...]
    metrics: tuple[str, ...] | None = None
    max_steps: int | None = None
    time_budget: float | None = None
    #: the [slurm] table (``executors.slurm_options.SlurmOptions``), used by --executor slurm
    slurm: Any = None

    def error(self, where: str, problem: str) -> ConfigError:
        return ConfigError(f"suite {self.path}: {where}: {problem}")

    def expand(
        self, seeds: Sequence[int] | None = None, device: str | None = None
    ) -> list[RunSpec]:
        """Every dataset x method x seed as a RunSpec, in file order (seeds innermost)."""
        seeds = tuple(seeds) if seeds else self.seeds
        device = (device or self.device).strip().lower()
        if not _DEVICE.match(device):
            raise ConfigError(f"device {device!r}: use auto, cpu, cuda or cuda:N")
        self._check_metrics()
        specs: list[RunSpec] = []
        seen: dict[tuple[str, int], str] = {}
        for dataset in self.datasets:
            self._check_plugin(dataset)
            for method in self.methods:
                self._check_plugin(method)
                for seed in seeds:
                    spec = self._spec(dataset, method, seed, device)
                    key = (spec.config_hash(), seed)
                    here = f"{dataset.where} x {method.where}"
                    if key in seen:
                        raise self.error(
                            here,
                            f"repeats the configuration of {seen[key]} (seed {seed}); remove one"
                            " of them or give them different options",
                        )
                    seen[key] = here
                    specs.append(spec)
        return specs

    def _check_metrics(self) -> None:
        for name in self.metrics or ():
            try:
                registry.get("metric", name)
            except AnobenchError as exc:
                raise self.error("metrics", str(exc)) from None

    def _check_plugin(self, entry: Entry) -> None:
        try:
            registry.get(entry.kind, entry.name)
        except AnobenchError as exc:
            raise self.error(entry.where, str(exc)) from None

    def _spec(self, dataset: Entry, method: Entry, seed: int, device: str) -> RunSpec:
        profile = method.profile or self.profile
        dataset_options = self._interpolate(dataset)
        if dataset.profile:
            try:
                chosen = registry.get("dataset", dataset.name).profile_options(dataset.profile)
            except AnobenchError as exc:
                raise self.error(f"{dataset.where}: profile", str(exc)) from None
            dataset_options = {**chosen, **dataset_options}
        try:
            registry.get("method", method.name).profile_options(profile)
        except AnobenchError as exc:
            where = f"{method.where}: profile" if method.profile else "profile"
            raise self.error(where, str(exc)) from None
        try:
            registry.get("method", method.name).resolve(profile, self._interpolate(method))
        except AnobenchError as exc:
            raise self.error(f"{method.where}: options", str(exc)) from None
        try:
            registry.get("dataset", dataset.name).resolve(profile, dataset_options)
        except AnobenchError as exc:
            raise self.error(f"{dataset.where}: options", str(exc)) from None
        try:
            return build_spec(
                dataset=dataset.name,
                method=method.name,
                profile=profile,
                seed=seed,
                device=device,
                dataset_options=dataset_options,
                method_options=self._interpolate(method),
                max_steps=method.max_steps if method.max_steps is not None else self.max_steps,
                time_budget=(
                    method.time_budget if method.time_budget is not None else self.time_budget
                ),
            )
        except AnobenchError as exc:
            raise self.error(f"{dataset.where} x {method.where}", str(exc)) from None

    def _interpolate(self, entry: Entry) -> dict[str, Any]:
        """``${NAME}`` in string options is replaced by the environment variable NAME."""
        out = {}
        for key, value in entry.options.items():
            if isinstance(value, str):

                def lookup(match: re.Match[str], key: str = key) -> str:
                    name = match.group(1)
                    if name not in os.environ:
                        raise self.error(
                            f"{entry.where}: options.{key}",
                            f"uses ${{{name}}}, which is not set; export {name}=... first",
                        )
                    return os.environ[name]

                value = _VARIABLE.sub(lookup, value)
            out[key] = value
        return out


def load_suite(path: str | os.PathLike[str]) -> Suite:
    """Read and check a suite file (structure, types, plugin and metric names)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"suite file {path} not found; pass the path of a .toml suite")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"suite {path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"suite {path}: cannot read it ({exc.strerror})") from None
    check = _Checker(path)
    check.keys(data, SUITE_KEYS, "top level")
    name = check.typed(data, "name", str, "top level", default=path.stem)
    seeds = check.seeds(data.get("seeds", [0]), "seeds")
    device = check.typed(data, "device", str, "top level", default="auto")
    if not _DEVICE.match(device.strip().lower()):
        raise check.error("device", f"{device!r} is not a device; use auto, cpu, cuda or cuda:N")
    metrics = data.get("metrics")
    if metrics is not None:
        if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
            raise check.error("metrics", 'expected a list of metric names, e.g. ["pixel_ap"]')
        if not metrics:
            raise check.error("metrics", "is empty; leave it out to compute every metric")
        metrics = tuple(metrics)
    suite = Suite(
        path=path,
        name=name,
        description=check.typed(data, "description", str, "top level", default=""),
        seeds=seeds,
        device=device.strip().lower(),
        profile=check.typed(data, "profile", str, "top level", default="quick"),
        datasets=check.entries(data, "dataset", DATASET_KEYS),
        methods=check.entries(data, "method", METHOD_KEYS),
        metrics=metrics,
        max_steps=check.budget(data, "max_steps", "top level"),
        time_budget=check.budget(data, "time_budget", "top level"),
        slurm=_slurm(data, path),
    )
    suite._check_metrics()
    for entry in (*suite.datasets, *suite.methods):
        suite._check_plugin(entry)
    return suite


def _slurm(data: Mapping[str, Any], path: Path) -> Any:
    from .executors.slurm_options import parse

    return parse(data["slurm"], f"suite {path}: [slurm]") if "slurm" in data else None


class _Checker:
    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, where: str, problem: str) -> ConfigError:
        return ConfigError(f"suite {self.path}: {where}: {problem}")

    def keys(self, table: Mapping[str, Any], allowed: Mapping[str, str], where: str) -> None:
        import difflib

        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(key, list(allowed), n=1)
                hint = f"did you mean '{close[0]}'? " if close else ""
                raise self.error(where, f"unknown key '{key}'; {hint}allowed: {', '.join(allowed)}")

    def typed(
        self, table: Mapping[str, Any], key: str, kind: type, where: str, default: Any
    ) -> Any:
        if key not in table:
            return default
        value = table[key]
        if not isinstance(value, kind) or isinstance(value, bool) != (kind is bool):
            raise self.error(
                f"{where}: {key}" if where != "top level" else key,
                f"expected {kind.__name__}, got {value!r}",
            )
        return value

    def seeds(self, value: Any, where: str) -> tuple[int, ...]:
        ok = isinstance(value, list) and all(
            isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= MAX_SEED for s in value
        )
        if not ok or not value:
            raise self.error(
                where, f"expected a non-empty list of seeds >= 0 and <= {MAX_SEED}, got {value!r}"
            )
        if len(set(value)) != len(value):
            raise self.error(where, f"repeats a seed: {value!r}")
        return tuple(value)

    def budget(self, table: Mapping[str, Any], key: str, where: str) -> Any:
        if key not in table:
            return None
        value = table[key]
        label = f"{where}: {key}" if where != "top level" else key
        if key == "max_steps":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise self.error(label, f"expected an integer >= 1, got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(label, f"expected a number of seconds > 0, got {value!r}")
        if not math.isfinite(value) or value <= 0:
            raise self.error(label, f"expected a finite number of seconds > 0, got {value!r}")
        return float(value)

    def entries(
        self, data: Mapping[str, Any], kind: str, allowed: Mapping[str, str]
    ) -> tuple[Entry, ...]:
        key = f"{kind}s"
        tables = data.get(key)
        if not isinstance(tables, list) or not tables:
            raise self.error(
                key, f"expected at least one [[{key}]] table with name = ..., e.g. [[{key}]]"
            )
        out = []
        for index, table in enumerate(tables):
            where = f"[[{key}]] #{index + 1}"
            if not isinstance(table, dict):
                raise self.error(where, f"expected a table, got {table!r}")
            name = table.get("name")
            if not isinstance(name, str) or not name:
                raise self.error(where, f'needs name = "..." ({allowed["name"]})')
            where = f"{where} ({name})"
            self.keys(table, allowed, where)
            options = table.get("options", {})
            if not isinstance(options, dict):
                raise self.error(
                    f"{where}: options", f"expected a table such as {{ key = 1 }}, got {options!r}"
                )
            profile = self.typed(table, "profile", str, where, default=None)
            out.append(
                Entry(
                    kind=kind,
                    index=index,
                    name=name,
                    profile=profile,
                    options=dict(options),
                    max_steps=self.budget(table, "max_steps", where),
                    time_budget=self.budget(table, "time_budget", where),
                )
            )
        return tuple(out)
