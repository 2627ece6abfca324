"""What the installed plugins declare for the leaderboard's narrow table: a dataset's key
metrics and a metric's short name (:class:`anobench.results.columns.Declared`)."""

from __future__ import annotations

from typing import Any

from ..api import registry
from ..api.errors import AnobenchError
from ..results.columns import Declared


def _attribute(kind: str, name: str, attr: str) -> Any:
    """``None`` when the plugin is not installed (runs stored by an earlier setup) or broken."""
    try:
        return getattr(registry.get(kind, name), attr, None)
    except AnobenchError:
        return None


def key_metrics(dataset: str) -> tuple[str, ...] | None:
    found = _attribute("dataset", dataset, "key_metrics")
    if isinstance(found, tuple | list) and all(isinstance(m, str) for m in found):
        return tuple(found)
    return None


def short_name(metric: str) -> str | None:
    found = _attribute("metric", metric, "short_name")
    return found if isinstance(found, str) else None


def declared() -> Declared:
    return Declared(key_metrics=key_metrics, short_name=short_name)
