"""One ``RunSpec`` resolved once for a run: its plugin classes, device, method setup (``auto``
replaced, the precision) and its identified spec (the data fingerprint).

Each value is worked out on first use and then kept, so ``run``'s check for a finished result,
the registration of the run and its execution share one lookup of each plugin, one device and
one precision. A value that cannot be worked out (a device that is not there) raises where it
is first needed, as before.
"""

from __future__ import annotations

from typing import Any

import torch

from ..api.records import RunSpec
from ..api.resolve import MethodSetup, method_setup, plugin_class
from .devices import resolve_device
from .identity import identify


class Resolved:
    """A spec's plugins, device, method setup and identity, each resolved on first use."""

    def __init__(
        self,
        spec: RunSpec,
        dataset_cls: Any | None = None,
        method_cls: Any | None = None,
        device: str | None = None,
    ) -> None:
        """``device``: the executor's choice where it pins one (else the spec's)."""
        self.spec = spec
        self._requested = device or spec.device
        self.dataset_cls = dataset_cls or plugin_class("dataset", spec.dataset)
        self.method_cls = method_cls or plugin_class("method", spec.method)
        self._device: torch.device | None = None
        self._setup: MethodSetup | None = None
        self._identified: RunSpec | None = None
        self._dataset: Any = None

    @property
    def device(self) -> torch.device:
        if self._device is None:
            self._device = resolve_device(self._requested)
        return self._device

    def check_device(self) -> torch.device:
        """The device, resolved now: one that is not there raises ``ConfigError``."""
        return self.device

    @property
    def setup(self) -> MethodSetup:
        if self._setup is None:
            self._setup = method_setup(self.method_cls, self.spec.method_options, self.device)
        return self._setup

    @property
    def dataset(self) -> Any:
        """The dataset as the run is registered: checked, fingerprinted, its unused options.
        (The run builds its own after seeding: a constructor may draw random numbers.)"""
        if self._dataset is None:
            self._dataset = self.dataset_cls(**self.spec.dataset_options)
        return self._dataset

    @property
    def identified(self) -> RunSpec:
        """The spec with its data fingerprint (checks that the data can be found)."""
        if self._identified is None:
            self._identified = identify(self.spec, self.dataset_cls, self.dataset)
        return self._identified

    def matches(self, spec: RunSpec, device: str | None = None) -> bool:
        """Whether this resolves ``spec`` (as given or identified) for ``device``."""
        same = spec == self.spec or (self._identified is not None and spec == self._identified)
        return same and (device or spec.device) == self._requested
