"""Optional extras: a plugin whose third-party library is not installed says which extra to add.

A plugin module calls :func:`require_extra` before importing the library; the registry then
lists it as needing ``pip install "<distribution>[<extra>]"`` instead of as broken.
"""

from __future__ import annotations

import importlib.util


class MissingExtra(ImportError):
    """Raised at a plugin's import when a module of its optional extra is not installed."""

    def __init__(self, extra: str, modules: list[str]) -> None:
        self.extra = extra
        self.modules = list(modules)
        super().__init__(f"needs the optional extra '{extra}' (missing: {', '.join(modules)})")


def require_extra(extra: str, *modules: str) -> None:
    """Raise :class:`MissingExtra` unless every top-level module in ``modules`` is importable."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExtra(extra, missing)
