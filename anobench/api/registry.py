"""Plugin discovery through ``importlib.metadata`` entry points, loaded lazily.

A plugin that fails to import is reported as broken with its error and never breaks the others;
one whose optional extra is not installed (:class:`~anobench.api.extras.MissingExtra`) is reported
as needing it, with the ``pip install`` line that adds it.
"""

from __future__ import annotations

import difflib
import fnmatch
import traceback
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from typing import Any

from .errors import PluginError
from .extras import MissingExtra

GROUPS = {
    "dataset": "anobench.datasets",
    "method": "anobench.methods",
    "metric": "anobench.metrics",
}
KINDS = tuple(GROUPS)


@dataclass
class PluginInfo:
    """One entry point. ``load()`` imports it once and remembers the object or the error."""

    kind: str
    name: str
    value: str
    distribution: str
    version: str
    duplicates: list[PluginInfo] = field(default_factory=list)
    _obj: Any = None
    _error: str | None = None
    _extra: str | None = None
    _loaded: bool = False

    def load(self) -> Any:
        if self.duplicates:
            who = ", ".join(f"{d.distribution} ({d.value})" for d in [self, *self.duplicates])
            raise PluginError(
                f"{self.kind} '{self.name}' is registered by more than one distribution: {who};"
                " uninstall one of them"
            )
        if not self._loaded:
            self._loaded = True
            try:
                ep = metadata.EntryPoint(name=self.name, value=self.value, group=GROUPS[self.kind])
                self._obj = ep.load()
                self._error = _not_a_plugin(self.kind, self.value, self._obj)
            except MissingExtra as exc:
                self._extra = exc.extra
                self._error = (
                    f'needs pip install "{self.distribution}[{exc.extra}]"'
                    f" (missing: {', '.join(exc.modules)})"
                )
            except Exception as exc:  # a broken plugin must not break the others
                self._error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        if self._extra is not None:
            raise PluginError(f"{self.kind} '{self.name}' {self._error}")
        if self._error is not None:
            how = "is broken" if self._error.startswith("entry point") else "failed to import"
            raise PluginError(
                f"{self.kind} '{self.name}' from {self.distribution} {how}: {self._error}"
            )
        return self._obj

    @property
    def status(self) -> str:
        try:
            self.load()
        except PluginError:
            return "needs-extra" if self._extra is not None else "broken"
        return "ok"

    @property
    def error(self) -> str | None:
        try:
            self.load()
        except PluginError as exc:
            return str(exc)
        return None


def _not_a_plugin(kind: str, value: str, obj: Any) -> str | None:
    """Why an entry point's object is no plugin of its kind (None when it is one)."""
    from . import interfaces

    base = {"dataset": interfaces.Dataset, "method": interfaces.Method}.get(kind, interfaces.Metric)
    if isinstance(obj, type) and issubclass(obj, base):
        return None
    what = "a class" if isinstance(obj, type) else f"a {type(obj).__name__}"
    return f"entry point {value} is {what}, not a subclass of anobench.{base.__name__}"


def _dist_of(ep: metadata.EntryPoint) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "unknown", "unknown"
    return dist.metadata["Name"] or "unknown", dist.version or "unknown"


@cache
def _scan(kind: str) -> dict[str, PluginInfo]:
    found: dict[str, PluginInfo] = {}
    for ep in metadata.entry_points(group=GROUPS[kind]):
        dist, version = _dist_of(ep)
        info = PluginInfo(kind, ep.name, ep.value, dist, version)
        seen = found.get(ep.name)
        if seen is None:
            found[ep.name] = info
        elif (seen.distribution, seen.value) != (dist, ep.value) and all(
            (d.distribution, d.value) != (dist, ep.value) for d in seen.duplicates
        ):
            # the same distribution seen twice on sys.path is not a conflict
            seen.duplicates.append(info)
    return dict(sorted(found.items()))


def refresh() -> None:
    """Forget what was scanned (after installing a plugin in the same process)."""
    _scan.cache_clear()


def _check_kind(kind: str) -> None:
    if kind not in GROUPS:
        raise PluginError(f"unknown plugin kind '{kind}'; expected one of {', '.join(KINDS)}")


def available(kind: str, pattern: str = "*") -> list[PluginInfo]:
    """Registered plugins of one kind whose names match a shell-style wildcard."""
    _check_kind(kind)
    return [p for name, p in _scan(kind).items() if fnmatch.fnmatchcase(name, pattern)]


def names(kind: str) -> list[str]:
    return [p.name for p in available(kind)]


def info(kind: str, name: str) -> PluginInfo:
    _check_kind(kind)
    plugins = _scan(kind)
    if name not in plugins:
        close = difflib.get_close_matches(name, list(plugins), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        known = ", ".join(plugins) or "(none installed)"
        raise PluginError(
            f"unknown {kind} '{name}'.{hint} Installed: {known}. See 'anobench list'."
        )
    return plugins[name]


def get(kind: str, name: str) -> Any:
    """Load one plugin class by kind and name."""
    return info(kind, name).load()


def get_dataset(name: str) -> Any:
    return get("dataset", name)


def get_method(name: str) -> Any:
    return get("method", name)


def get_metric(name: str) -> Any:
    return get("metric", name)
