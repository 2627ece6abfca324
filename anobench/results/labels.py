"""The names the leaderboard gives configurations: ``name (profile[, precision][; k=v, ...])``.

The part after ``;`` lists what the configuration sets differently from its profile (see
:mod:`anobench.api.overrides`), sorted by name, each value written as on the command line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def fmt_value(value: Any) -> str:
    """A value as ``--method-opt`` takes it: ``5``, ``0.0002``, ``1500``, ``true``, ``none``."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        # the shortest text that reads back as the same float, without a trailing ".0"
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return str(value)


def fmt_overrides(overrides: Mapping[str, Any] | None, sep: str = ", ") -> str:
    """``epochs=5, time_budget=1500`` (sorted by name); "" when none or unknown."""
    return sep.join(f"{key}={fmt_value(overrides[key])}" for key in sorted(overrides or {}))


def what_ran(profile: str, precision: str = "", overrides: Mapping[str, Any] | None = None) -> str:
    """``quick, bf16; epochs=5, time_budget=1500``: what goes in a label's parentheses."""
    inner = profile + (f", {precision}" if precision else "")
    changes = fmt_overrides(overrides)
    return f"{inner}; {changes}" if changes else inner


def label(
    name: str, profile: str, precision: str = "", overrides: Mapping[str, Any] | None = None
) -> str:
    """``descargan (quick, bf16; epochs=5, time_budget=1500)``."""
    return f"{name} ({what_ran(profile, precision, overrides)})"
