"""The records a run travels in between processes: a registered ``Job`` goes to an executor, an
``Outcome`` comes back, and ``MetricInfo`` says what the store needs to know about each metric.

They are plain data (they pickle), so the runner, every executor and the store share them
without depending on each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from . import errors
from .errors import AnobenchError, MethodFailure
from .records import MetricResult, RunSpec, RunStatus


@dataclass(frozen=True)
class MetricInfo:
    """What the store needs to know about a metric; plain data, so results cross processes."""

    level: str
    higher_is_better: bool
    oracle: bool = False
    resample: str | None = None


@dataclass(frozen=True)
class Job:
    """A run registered in the store, ready to execute in any process (it holds no store handle).

    ``provenance`` is what the registering process recorded (owner, resumed, suite); ``device``
    lets an executor pin the device a worker was given (e.g. ``cuda`` inside a Ray GPU task).
    """

    run_id: str
    spec: RunSpec
    home: str
    metrics: tuple[str, ...] | None = None
    provenance: Mapping[str, Any] = field(default_factory=dict)
    device: str | None = None
    #: CPU threads for the run; ``None`` chooses from the cores free when it starts
    threads: int | None = None


@dataclass
class Outcome:
    """What executing a job produced; the store is written from it by ``Runner.commit``."""

    run_id: str
    #: finished, failed or interrupted (never running)
    status: RunStatus
    provenance: dict[str, Any]
    results: dict[str, tuple[MetricInfo, MetricResult]] = field(default_factory=dict)
    #: per-image inputs of the pooled metrics (``anobench.results.resampling.Evidence`` as bytes)
    evidence: bytes | None = None
    error: str | None = None
    error_type: str = "MethodFailure"
    seconds: float = 0.0
    #: the exception itself, kept only in the process that raised it (it may not pickle)
    cause: BaseException | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.status = RunStatus(self.status)

    def portable(self) -> Outcome:
        return replace(self, cause=None)

    def exception(self) -> AnobenchError:
        message = f"run {self.run_id} failed: {self.error}"
        if self.cause is not None:
            return _as_anobench(self.cause, message)
        cls = getattr(errors, self.error_type, None)
        if not (isinstance(cls, type) and issubclass(cls, AnobenchError)):
            cls = MethodFailure
        return cls(message)


def _as_anobench(exc: BaseException, message: str) -> AnobenchError:
    if isinstance(exc, AnobenchError):
        return type(exc)(message)
    return MethodFailure(message)
