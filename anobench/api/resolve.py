"""What a plugin is and what a method computes with, worked out once per run.

``plugin_class`` looks a plugin up and checks its kind (the one error for an unknown or
invalid plugin: ``PluginError``). ``method_setup`` replaces ``auto`` in a method's hardware
options by what the device does best and derives the precision its run context announces, so
a method is never constructed with ``auto``: the runner, ``predict`` and the contract checks
all build methods from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import hardware, registry
from .errors import PluginError
from .interfaces import Dataset, Method, Metric

if TYPE_CHECKING:
    import torch

_BASES = {"dataset": Dataset, "method": Method, "metric": Metric}


def plugin_class(kind: str, name: str) -> Any:
    """The plugin class registered as ``name``; ``PluginError`` if it is not one of ``kind``."""
    cls = registry.get(kind, name)
    base = _BASES[kind]
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise PluginError(f"{kind} '{name}' is not a subclass of anobench.{base.__name__}")
    return cls


@dataclass(frozen=True)
class MethodSetup:
    """A method's options with ``auto`` resolved for one device, and its run's precision."""

    #: the options to construct the method with (no ``auto`` in its hardware options)
    options: dict[str, Any]
    #: the hardware options as resolved (the run's provenance)
    resolved: dict[str, Any]
    #: what the run context announces: the method's own precision where it declares one,
    #: else what ``auto`` means on the device
    precision: hardware.Precision
    #: whether the method declares a precision option
    declares: bool
    #: the device it was resolved for
    device: torch.device

    @property
    def precision_label(self) -> str:
        """The precision a stored run is labelled with: ``""`` for a method without one."""
        return self.precision.name if self.declares else ""


def method_setup(
    method_cls: type[Method], options: Mapping[str, Any], device: torch.device | str
) -> MethodSetup:
    """Resolve ``auto`` in ``options`` for ``device`` (each hardware value once)."""
    import torch

    device = torch.device(device)
    values, resolved = hardware.resolve_options(method_cls.options, dict(options), device)
    declared = method_cls.options.by_name().values()
    name = next((o.name for o in declared if o.hardware == "precision"), None)
    fmt = next((o.name for o in declared if o.hardware == "channels_last"), None)
    if name is not None and name in values:
        precision = str(values[name])
    else:
        precision = hardware.resolve_precision("auto", device)
    layout = values.get(fmt, "auto") if fmt else "auto"
    channels_last = hardware.resolve_channels_last(layout, precision, device)
    return MethodSetup(
        options=values,
        resolved=resolved,
        precision=hardware.Precision(precision, channels_last, device.type),
        declares=name is not None,
        device=device,
    )
