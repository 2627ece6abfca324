"""The profiles of installed plugins, resolved: what a spec changes from its profile, and what
each option is in every profile (``anobench list --options``)."""

from __future__ import annotations

from typing import Any

from ..api import overrides, registry
from ..api.errors import AnobenchError
from ..api.interfaces import Configurable
from ..api.records import RunSpec


def differences(
    spec: RunSpec, dataset_cls: type[Configurable], method_cls: type[Configurable]
) -> dict[str, dict[str, Any]]:
    """What ``spec`` sets differently from its profile (see :mod:`anobench.api.overrides`)."""
    return overrides.differences(
        spec, dataset_cls.resolve(spec.profile, {}), method_cls.resolve(spec.profile, {})
    )


def backfill(spec: RunSpec) -> dict[str, dict[str, Any]] | None:
    """The differences of a run stored before the runner recorded them, from the plugins
    installed now; ``None`` when a plugin or the profile is gone or broken."""
    try:
        dataset_cls = registry.get("dataset", spec.dataset)
        method_cls = registry.get("method", spec.method)
        return differences(spec, dataset_cls, method_cls)
    except (AnobenchError, AttributeError, TypeError):
        # a plugin object that is no Configurable any more has no profiles to compare with
        return None


def option_values(cls: type[Configurable]) -> dict[str, dict[str, Any] | str]:
    """Each profile's resolved options (``{profile: {option: value}}``), in declared order.

    A profile that does not resolve (a bad value in the plugin) maps to its error text.
    """
    out: dict[str, dict[str, Any] | str] = {}
    for profile in cls.profiles:
        try:
            out[profile] = cls.resolve(profile, {})
        except AnobenchError as exc:
            out[profile] = str(exc)
    return out
