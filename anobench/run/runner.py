"""One RunSpec -> one RunRecord: the run's life in the store (prepare, commit, resume, reclaim).

The spec is built in ``spec``, executed in ``execute``, its files written in ``artifacts``;
their names used elsewhere are re-exported here.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..api import overrides, signals
from ..api.context import CHECKPOINT
from ..api.errors import ConfigError, StoreError
from ..api.home import runs_dir, store_path
from ..api.jobs import Job, Outcome
from ..api.liveness import alive, this_process
from ..api.progress import Reporter
from ..api.records import (
    RunRecord,
    RunSpec,
    RunStatus,
)
from ..results.store import Store
from ..results.store.store import DiskFull
from . import gpu, profiles
from .execute import LOAD_DATA, _use_threads, compute_metrics, execute, signal_name
from .hints import resume_command
from .identity import check_same_data, refuse_duplicate
from .resolve import Resolved
from .spec import _plugin_versions, build_spec, metric_plugins

__all__ = [
    "LOAD_DATA",
    "RunInterrupted",
    "Runner",
    "build_spec",
    "compute_metrics",
    "execute",
    "metric_plugins",
    "signal_name",
]


class Runner:
    """Executes RunSpecs against one anobench home (store, cache, artifacts).

    ``run`` is ``prepare`` (register the run in the store), ``execute`` (no store access, may
    happen in another process) and ``commit`` (metrics and status in one transaction); suite
    executors call the three steps themselves so that only the driver writes the store.
    """

    #: whether runs execute on this machine: only then does the precision ``auto`` resolves to
    #: here say which stored runs are the same (a remote executor's machines may differ)
    local = True

    def __init__(
        self,
        home: Path,
        reporter: Reporter | None = None,
        store: Store | None = None,
        threads: int | None = None,
    ):
        self.home = Path(home)
        self.threads = threads
        self.reporter = reporter or Reporter()
        self.store = store or Store(store_path(self.home))
        self._resolved: Resolved | None = None
        #: the metric classes the last ``prepare`` looked up (its ``run`` computes them)
        self._metrics: dict[str, Any] | None = None

    def resolve(
        self, spec: RunSpec, dataset_cls: Any | None = None, method_cls: Any | None = None
    ) -> Resolved:
        """The spec's plugins, device, method setup and identity, each worked out once: the
        last spec's are kept, so checking for a finished run and running it share them."""
        if self._resolved is None or not self._resolved.matches(spec):
            self._resolved = Resolved(spec, dataset_cls, method_cls)
        return self._resolved

    def resume(self, run_id: str, metrics: Sequence[str] | None = None) -> RunRecord:
        """Continue a failed or interrupted run from its last checkpoint, under the same id."""
        record = self.store.get_run(run_id)
        if record.status == RunStatus.FINISHED:
            raise ConfigError(f"run {record.run_id} already finished; nothing to resume")
        check_same_data(record)
        return self.run(record.spec, metrics, resume=record.run_id)

    def finished(self, spec: RunSpec) -> RunRecord | None:
        """The latest finished run of the spec's configuration and seed (its data fingerprint
        included) in the precision it would compute in here, if there is one."""
        resolved = self.resolve(spec)
        spec = resolved.identified
        precision = resolved.setup.precision_label
        run_id = self.store.find_finished(spec.config_hash(), spec.seed, precision)
        return None if run_id is None else self.store.get_run(run_id)

    def run(
        self, spec: RunSpec, metrics: Sequence[str] | None = None, resume: str | None = None
    ) -> RunRecord:
        """Execute one run; raises ``AnobenchError`` (run stored as failed) when it fails.

        An interrupted run of the same configuration and seed that left a checkpoint is resumed
        automatically; ``resume`` names a run to continue explicitly.
        """
        resolved = self.resolve(spec)
        resolved.check_device()  # a device that is not there fails before anything is stored
        job = self.prepare(spec, metrics, resume)
        outcome = execute(job, self.reporter, resolved=resolved, metrics=self._metrics)
        self._resolved = None  # a later run of this spec looks at its data again
        self.commit(outcome)
        if outcome.status == RunStatus.INTERRUPTED:
            signum = getattr(outcome.cause, "signum", signals.signal.SIGINT)
            has_checkpoint = (runs_dir(self.home) / job.run_id / CHECKPOINT).exists()
            raise RunInterrupted(job.run_id, signum, has_checkpoint, self.home)
        if outcome.status == RunStatus.FAILED:
            raise outcome.exception() from outcome.cause
        return self.store.get_run(job.run_id)

    def prepare(
        self,
        spec: RunSpec,
        metrics: Sequence[str] | None = None,
        resume: str | None = None,
        provenance: Mapping[str, Any] | None = None,
    ) -> Job:
        """Check the plugins and register the run as ``running`` (or restart the one resumed)."""
        gpu.deterministic_mode()  # a bad ANOBENCH_DETERMINISTIC fails before anything is stored
        resolved = self.resolve(spec)
        dataset_cls, method_cls = resolved.dataset_cls, resolved.method_cls
        metric_classes = self._metrics = metric_plugins(metrics)
        _use_threads(self.threads, apply=False)  # $ANOBENCH_THREADS out of range: no run stored
        # before the data are looked for; here, with auto resolved as the run will see it
        options = resolved.setup.options if self.local else spec.method_options
        method_cls(**options).check()
        spec = resolved.identified  # checks that the data can be found
        if resume is None:
            refuse_duplicate(self.reclaim(spec), self.store)
            resume = self._interrupted_with_checkpoint(resolved)
            if resume:
                self.reporter.log(f"resuming interrupted run {resume} of the same configuration")
        run_id = resume or uuid.uuid4().hex[:12]
        recorded: dict[str, Any] = {
            **dict(provenance or {}),
            "seed": spec.seed,
            "owner": this_process(),
            # what figures drawn later from the store call label 0 and 1
            "class_names": list(getattr(dataset_cls, "class_names", ("healthy", "diseased"))),
            "plugins": _plugin_versions(spec, metric_classes),
            # the profile as it is now: labels then say what this run changed, even if the
            # plugin's profile is redefined later
            overrides.KEY: profiles.differences(spec, dataset_cls, method_cls),
        }
        unused = resolved.dataset.unused_options()
        for name in unused:  # a label lists what changed the data only
            recorded[overrides.KEY]["dataset"].pop(name, None)
        if resume:
            recorded["resumed"] = True
            recorded = self.store.restart_run(run_id, recorded)
        else:
            workdir = runs_dir(self.home) / run_id
            self.store.start_run(
                run_id, spec, recorded, dataset_cls.primary_metric, artifacts=str(workdir)
            )
        return Job(
            run_id,
            spec,
            str(self.home),
            tuple(metrics) if metrics else None,
            recorded,
            threads=self.threads,
        )

    def commit(self, outcome: Outcome) -> None:
        """Write an outcome: metrics and ``finished`` in one transaction, or the error.

        A full disk while writing the results marks the run failed with the reason (when the
        store can still take that small update) and raises the one-line ``DiskFull``.
        """
        if outcome.status == RunStatus.FINISHED:
            try:
                self.store.finish_run(
                    outcome.run_id, outcome.results, outcome.provenance, evidence=outcome.evidence
                )
            except DiskFull as exc:
                with contextlib.suppress(StoreError):
                    self.store.end_run(
                        outcome.run_id, RunStatus.FAILED, str(exc), outcome.provenance
                    )
                raise StoreError(f"run {outcome.run_id} failed: {exc}") from None
        else:
            self.store.end_run(outcome.run_id, outcome.status, outcome.error, outcome.provenance)

    def reclaim(self, spec: RunSpec) -> list[str]:
        """Mark runs of this configuration and seed left ``running`` by a dead process as
        interrupted (so they resume); returns the ids still running in live processes."""
        live = []
        for run_id, provenance in self.store.find_running(spec.config_hash(), spec.seed):
            if alive(provenance.get("owner")):
                live.append(run_id)
            elif self.store.interrupt_if_running(
                run_id, "the process running it ended without closing it (killed?)"
            ):
                self.reporter.log(f"run {run_id} was left running by a process that is gone")
        return live

    def _interrupted_with_checkpoint(self, resolved: Resolved) -> str | None:
        spec = resolved.identified
        precision = resolved.setup.precision_label if self.local else None
        for run_id in self.store.find_interrupted(spec.config_hash(), spec.seed, precision):
            if (runs_dir(self.home) / run_id / CHECKPOINT).exists():
                return run_id
        return None


class RunInterrupted(signals.Interrupted):
    """A run stored as interrupted; says how to resume it."""

    def __init__(
        self, run_id: str, signum: int, checkpoint: bool, home: Path | None = None
    ) -> None:
        super().__init__(signum)
        self.run_id = run_id
        self.checkpoint = checkpoint
        self.home = home

    def advice(self) -> str:
        where = "from its checkpoint" if self.checkpoint else "from step 0 (no checkpoint yet)"
        return (
            f"run {self.run_id} interrupted ({signal_name(self)}); resume it {where} with:"
            f" {resume_command(self.run_id, self.home)}"
        )
