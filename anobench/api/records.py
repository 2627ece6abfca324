"""Frozen data records passed between the harness and plugins."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from .errors import ConfigError, DataError, PluginError

HEALTHY = 0
DISEASED = 1


class RunStatus(str, Enum):
    """Where a stored run stands. The values are the strings the store holds (and JSON shows);
    a member compares equal to its string, so ``record.status == "finished"`` keeps working."""

    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    INTERRUPTED = "interrupted"

    __str__ = str.__str__
    __format__ = str.__format__


def _freeze(mapping: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(mapping or {})


@dataclass(frozen=True)
class Split:
    """One split of a dataset.

    ``images``: float32 ``[N, C, H, W]`` in ``[-1, 1]`` (may be a memory map).
    ``labels``: int8 ``[N]``, 0 = healthy, 1 = diseased.
    ``masks``: bool ``[N, H, W]`` pixel ground truth, or ``None`` when the dataset has none.
    ``ids``: stable string ids, one per image.
    ``extras``: named arrays aligned with the images (e.g. ``healthy_twin``).
    ``meta``: free-form facts about the split (counts, source, skipped files).
    """

    images: np.ndarray
    labels: np.ndarray
    ids: tuple[str, ...]
    masks: np.ndarray | None = None
    extras: Mapping[str, np.ndarray] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.labels)
        if self.images.ndim != 4:
            raise DataError(f"Split.images must be [N, C, H, W], got shape {self.images.shape}")
        if self.images.shape[0] != n or len(self.ids) != n:
            raise DataError(
                f"Split has {self.images.shape[0]} images, {n} labels and {len(self.ids)} ids"
            )
        if self.masks is not None and self.masks.shape != (n, *self.images.shape[2:]):
            raise DataError(
                f"Split.masks must be [N, H, W] = {(n, *self.images.shape[2:])},"
                f" got {self.masks.shape}"
            )
        object.__setattr__(self, "ids", tuple(self.ids))
        object.__setattr__(self, "extras", _freeze(self.extras))
        object.__setattr__(self, "meta", _freeze(self.meta))

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray) -> Split:
        """The images selected by a boolean mask or an index array, extras included."""
        index = np.asarray(index)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        return Split(
            images=np.asarray(self.images[index]),
            labels=np.asarray(self.labels[index]),
            ids=tuple(self.ids[i] for i in index),
            masks=None if self.masks is None else np.asarray(self.masks[index]),
            extras={k: np.asarray(v[index]) for k, v in self.extras.items()},
            meta=dict(self.meta),
        )

    def counts(self) -> dict[str, int]:
        labels = np.asarray(self.labels)
        return {
            "healthy": int((labels == HEALTHY).sum()),
            "diseased": int((labels == DISEASED).sum()),
        }


@dataclass(frozen=True)
class Predictions:
    """What a method returns for N images.

    ``scores``: float ``[N]``, higher = more likely diseased.
    ``maps``: float ``[N, H, W]``, higher = more anomalous, same size as the input; or ``None``.
    ``extras``: optional named arrays, e.g. ``reconstruction`` or ``healthy_translation``
    (``[N, C, H, W]``), used by figures and translation metrics.
    """

    scores: np.ndarray
    maps: np.ndarray | None = None
    extras: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "extras", _freeze(self.extras))


@dataclass(frozen=True)
class Scored:
    """A split together with a method's predictions on it (what metrics consume)."""

    predictions: Predictions
    split: Split


@dataclass(frozen=True)
class MetricResult:
    """A metric's value; ``per_image`` maps image ids to values when it is a mean over images.

    A metric that cannot be computed returns ``value = nan`` and says why in ``reason``.
    """

    value: float
    per_image: Mapping[str, float] = field(default_factory=dict)
    reason: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def undefined(cls, reason: str) -> MetricResult:
        return cls(value=math.nan, reason=reason)

    @property
    def defined(self) -> bool:
        return not math.isnan(self.value)


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def short_hash(obj: Any, length: int = 12) -> str:
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:length]


@dataclass(frozen=True)
class RunSpec:
    """Everything that defines one run.

    Options are stored fully resolved (defaults + profile + overrides), so the hash identifies the
    configuration. Seed and device are not part of the configuration: runs differing only in seed
    aggregate into one leaderboard row, and the device is provenance.

    ``data_fingerprint`` (set by ``anobench.run.identity`` before a run is looked up or stored)
    is the dataset's ``fingerprint()``: once known, it stands in the identity for the
    ``location_options`` (where the data are: ``root``, a manifest's path), which stay in the
    spec to load the data and for people to read, but identify nothing.
    """

    dataset: str
    method: str
    dataset_options: Mapping[str, Any]
    method_options: Mapping[str, Any]
    profile: str = "quick"
    seed: int = 0
    device: str = "auto"
    max_steps: int | None = None
    time_budget: float | None = None
    data_fingerprint: str | None = None
    location_options: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "dataset_options", dict(sorted(self.dataset_options.items())))
        object.__setattr__(self, "method_options", dict(sorted(self.method_options.items())))
        object.__setattr__(self, "location_options", tuple(sorted(self.location_options)))

    def data_identity(self) -> dict[str, Any]:
        """What identifies the data: the options, the fingerprint in place of the options that
        only locate them (without a fingerprint, as before: every option)."""
        options = dict(self.dataset_options)
        if self.data_fingerprint is None:
            return {"dataset_options": options}
        for name in self.location_options:
            options.pop(name, None)
        return {"dataset_options": options, "data_fingerprint": self.data_fingerprint}

    def config(self) -> dict[str, Any]:
        """The seed-free, device-free configuration that leaderboard rows group by."""
        return {
            "dataset": self.dataset,
            **self.data_identity(),
            "method": self.method,
            "method_options": dict(self.method_options),
            "profile": self.profile,
            "max_steps": self.max_steps,
            "time_budget": self.time_budget,
        }

    def config_hash(self) -> str:
        return short_hash(self.config())

    def dataset_hash(self) -> str:
        identity = self.data_identity()
        if self.data_fingerprint is None:  # the hash of runs stored before fingerprints
            return short_hash({"dataset": self.dataset, "options": dict(self.dataset_options)})
        return short_hash({"dataset": self.dataset, **identity})

    def method_hash(self) -> str:
        return short_hash(
            {
                "method": self.method,
                "options": dict(self.method_options),
                "max_steps": self.max_steps,
                "time_budget": self.time_budget,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSpec:
        return cls(**dict(data))


@dataclass(frozen=True)
class RunRecord:
    """One stored run: its spec, status, metrics and provenance."""

    run_id: str
    spec: RunSpec
    status: RunStatus
    metrics: Mapping[str, float]
    provenance: Mapping[str, Any]
    error: str | None = None
    created: str | None = None
    finished: str | None = None
    artifacts: str | None = None
    metric_reasons: Mapping[str, str] = field(default_factory=dict)
    primary_metric: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", RunStatus(self.status))

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status.value,
            "spec": self.spec.to_dict(),
            "config_hash": self.spec.config_hash(),
            "metrics": {k: (None if math.isnan(v) else v) for k, v in self.metrics.items()},
            "metric_reasons": dict(self.metric_reasons),
            "provenance": dict(self.provenance),
            "error": self.error,
            "created": self.created,
            "finished": self.finished,
            "artifacts": self.artifacts,
            "primary_metric": self.primary_metric,
        }


def training_split(split: Split, supervision: str, owner: str) -> Split:
    """What a method may learn from: healthy images only for unsupervised methods."""
    if supervision == "unsupervised":
        return split.subset(np.asarray(split.labels) == HEALTHY)
    if supervision == "weak":
        if len(np.unique(split.labels)) < 2:
            raise ConfigError(f"{owner} is weakly supervised and needs both classes in training")
        return split
    raise PluginError(f"{owner} declares supervision={supervision!r}; use 'unsupervised' or 'weak'")
