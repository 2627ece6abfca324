"""One RunSpec -> one RunRecord: resolve plugins, seed, load, fit, predict, score, store."""

from __future__ import annotations

import contextlib
import errno
import math
import os
import sys
import time
import traceback
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..api import hardware, overrides, registry, signals
from ..api.context import CHECKPOINT, Budget, RunContext
from ..api.errors import AnobenchError, ConfigError, MethodFailure, PluginError, StoreError
from ..api.home import MODEL_FILE, cache_dir, runs_dir, store_path
from ..api.interfaces import Dataset, Method, Metric
from ..api.jobs import Job, MetricInfo, Outcome
from ..api.limits import MAX_SEED
from ..api.liveness import alive, this_process
from ..api.progress import Reporter
from ..api.records import (
    MetricResult,
    Predictions,
    RunRecord,
    RunSpec,
    RunStatus,
    Scored,
    Split,
    training_split,
)
from ..api.seeding import seed_everything
from ..api.threads import (
    THREADS_VARIABLE,
    ThreadGovernor,
    available_cores,
    choose_threads,
    set_threads,
    thread_settings,
)
from ..api.validate import check_predictions, check_split, loadable_state
from ..results.figures import curves, panel
from ..results.provenance import device_description, environment
from ..results.resampling import collect as collect_evidence
from ..results.store import Store
from ..results.store.store import DiskFull
from . import gpu, profiles
from .devices import resolve_device
from .hints import resume_command
from .identity import check_same_data, identify, planned_precision, refuse_duplicate

#: the progress task (and failure phase) of loading a run's data
LOAD_DATA = "load data"


def build_spec(
    *,
    dataset: str,
    method: str,
    profile: str = "quick",
    seed: int = 0,
    device: str = "auto",
    dataset_options: Mapping[str, Any] | None = None,
    method_options: Mapping[str, Any] | None = None,
    max_steps: int | None = None,
    time_budget: float | None = None,
) -> RunSpec:
    """Resolve defaults, profile and overrides of both plugins into a fully specified RunSpec."""
    dataset_cls = _plugin_class("dataset", dataset, Dataset)
    method_cls = _plugin_class("method", method, Method)
    if max_steps is not None and max_steps < 1:
        raise ConfigError("--max-steps must be >= 1")
    if time_budget is not None and not math.isfinite(time_budget):
        raise ConfigError(f"--time-budget must be a finite number of seconds, got {time_budget}")
    if time_budget is not None and time_budget <= 0:
        raise ConfigError("--time-budget must be > 0 seconds")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        # the rule of suites (run.suite) and of bench --seeds: an integer >= 0
        raise ConfigError(f"--seed must be an integer >= 0 and <= {MAX_SEED}, got {seed!r}")
    resolved = dataset_cls.resolve(profile, dataset_options or {})
    return RunSpec(
        dataset=dataset,
        method=method,
        dataset_options=dataset_cls.for_method(resolved, method_cls.supervision),
        method_options=method_cls.resolve(profile, method_options or {}),
        profile=profile,
        seed=seed,
        device=device,
        max_steps=max_steps,
        time_budget=time_budget,
    )


def _plugin_class(kind: str, name: str, base: type) -> Any:
    cls = registry.get(kind, name)
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise PluginError(f"{kind} '{name}' is not a subclass of anobench.{base.__name__}")
    return cls


def metric_plugins(names: Sequence[str] | None = None) -> dict[str, type[Metric]]:
    """The metrics to compute: all registered (broken ones skipped) or the named ones."""
    chosen = names or registry.names("metric")
    out: dict[str, type[Metric]] = {}
    for name in chosen:
        try:
            out[name] = registry.get_metric(name)
        except PluginError:
            if names:
                raise
    return out


def compute_metrics(
    metrics: Mapping[str, type[Metric]], test: Scored, val: Scored | None, reporter: Reporter
) -> dict[str, tuple[type[Metric], MetricResult]]:
    """Every metric on its own: one that raises is recorded as undefined with the error."""
    results: dict[str, tuple[type[Metric], MetricResult]] = {}
    with reporter.task("metrics", total=len(metrics)) as task:
        for name, cls in metrics.items():
            if cls.needs_masks and test.split.masks is None:
                result = MetricResult.undefined("the dataset has no pixel masks")
            else:
                try:
                    result = cls().compute(test, val if cls.needs_val else None)
                except Exception as exc:
                    result = MetricResult.undefined(f"metric raised {type(exc).__name__}: {exc}")
                    reporter.log(f"metric '{name}' failed: {exc}")
            results[name] = (cls, result)
            task.advance(1)
    return results


def _plugin_versions(spec: RunSpec, metrics: Mapping[str, Any]) -> dict[str, Any]:
    def one(kind: str, name: str) -> dict[str, str]:
        info = registry.info(kind, name)
        return {"name": name, "distribution": info.distribution, "version": info.version}

    return {
        "dataset": one("dataset", spec.dataset),
        "method": one("method", spec.method),
        "metrics": {name: one("metric", name)["version"] for name in metrics},
    }


def _predict(method: Method, split: Split, ctx: RunContext, owner: str) -> Predictions:
    with torch.inference_mode():
        return check_predictions(method.predict(split.images, ctx), split.images, owner)


def _save_predictions(path: Path, split: Split, pred: Predictions) -> None:
    arrays = {"scores": pred.scores, "labels": np.asarray(split.labels), "ids": np.array(split.ids)}
    if pred.maps is not None:
        arrays["maps"] = pred.maps.astype(np.float16)
    np.savez(path, **arrays)


def execute(job: Job, reporter: Reporter | None = None) -> Outcome:
    """Run one job to its outcome (never raises for a failing plugin); writes only artifacts."""
    reporter = reporter or Reporter()
    provenance = dict(job.provenance)
    phase = ["setup"]
    t0 = time.perf_counter()
    restore = thread_settings()
    try:
        # stdout carries the result (--format json): what plugins print goes to stderr
        with gpu.nondeterministic_ops(provenance), contextlib.redirect_stdout(sys.stderr):
            results, evidence = _execute(job, reporter, provenance, phase)
    except KeyboardInterrupt as exc:
        how = signal_name(exc)
        provenance["interrupted_by"] = how
        return Outcome(
            job.run_id,
            RunStatus.INTERRUPTED,
            provenance,
            error=f"interrupted ({how}) during {phase[0]}",
            seconds=time.perf_counter() - t0,
            cause=exc,
        )
    except (Exception, SystemExit) as exc:  # a plugin's sys.exit() fails its run, not anobench
        provenance["traceback"] = traceback.format_exc()
        return Outcome(
            job.run_id,
            RunStatus.FAILED,
            provenance,
            error=_describe(exc, phase[0], job.spec),
            error_type=type(exc).__name__ if isinstance(exc, AnobenchError) else "MethodFailure",
            seconds=time.perf_counter() - t0,
            cause=exc,
        )
    finally:
        restore()
    return Outcome(
        job.run_id,
        RunStatus.FINISHED,
        provenance,
        results=results,
        evidence=evidence,
        seconds=time.perf_counter() - t0,
    )


def _execute(
    job: Job, reporter: Reporter, provenance: dict[str, Any], phase: list[str]
) -> tuple[dict[str, tuple[MetricInfo, MetricResult]], bytes | None]:
    spec = job.spec
    home = Path(job.home)
    dataset_cls = _plugin_class("dataset", spec.dataset, Dataset)
    method_cls = _plugin_class("method", spec.method, Method)
    metric_classes = metric_plugins(job.metrics)
    device = resolve_device(job.device or spec.device)
    threads = _use_threads(job.threads)
    method_options, resolved = hardware.resolve_options(
        method_cls.options, dict(spec.method_options), device
    )
    precision = _context_precision(method_cls, method_options, device)
    declares = any(o.hardware == "precision" for o in method_cls.options.options)
    provenance["resolved"] = {
        # a method without a precision option computes as its own code says: recorded as None
        **(precision.to_dict() if declares else {"precision": None, "channels_last": None}),
        "options": resolved,
        "threads": threads,
        "cores_available": available_cores(),
        "cpu": hardware.cpu_features().to_dict(),
    }
    provenance.update(
        {
            **environment(),
            "device": device_description(device),
            "plugins": _plugin_versions(spec, metric_classes),
            "seed": spec.seed,
        }
    )
    owner = f"method '{spec.method}'"
    generator = seed_everything(spec.seed)
    # TF32 only for precision=tf32, cuda:N current, the card's versions recorded
    provenance.update(gpu.configure(device, precision.name if declares else None))
    ctx = RunContext(
        device=device,
        seed=spec.seed,
        workdir=runs_dir(home) / job.run_id,
        cache_dir=cache_dir(home),
        progress=reporter,
        budget=Budget(max_steps=spec.max_steps, seconds=spec.time_budget),
        precision=precision,
        threads=threads,
    )
    ctx.generator = generator
    if job.threads is None and not os.environ.get(THREADS_VARIABLE):
        ctx.governor = ThreadGovernor(threads)
    phase[0] = LOAD_DATA
    dataset = dataset_cls(**spec.dataset_options)
    # worked out when the run was identified (a worker need not read every file again)
    provenance["dataset_fingerprint"] = spec.data_fingerprint or dataset.fingerprint()
    splits = {}
    with reporter.task(LOAD_DATA, total=3, unit="splits") as task:
        for name in ("train", "val", "test"):
            splits[name] = dataset.load(name, ctx)
            check_split(splits[name], f"dataset '{spec.dataset}'", name)
            task.advance(1)
    # a suite driver may now start the other runs of this dataset configuration: data cached
    reporter.data_ready()
    provenance["data"] = {
        name: {**s.counts(), **{k: v for k, v in s.meta.items() if _jsonable(v)}}
        for name, s in splits.items()
    }
    method = method_cls(**method_options)
    train = training_split(splits["train"], method_cls.supervision, owner)
    fit_val = training_split(splits["val"], method_cls.supervision, owner)
    provenance["trained_on"] = len(train)
    phase[0] = "fit"
    ctx.budget.start()
    t0 = time.perf_counter()
    with signals.listening(ctx.request_stop):
        fitted = method.fit(train, fit_val, ctx)
    ctx.on_stop(None)
    provenance["fit_seconds"] = time.perf_counter() - t0
    if ctx.notes:
        provenance["method_notes"] = dict(ctx.notes)
    if ctx.governor is not None and ctx.governor.changes:
        provenance["resolved"]["thread_changes"] = ctx.governor.changes
    if fitted is not method:
        raise MethodFailure(f"{owner}: fit() must return self")
    provenance["n_parameters"] = method.num_parameters()
    provenance["training_steps_logged"] = len({row["step"] for row in ctx.history})
    phase[0] = "predict"
    # validation predictions only feed thresholds; skip them when no metric chooses one
    needs_val = any(cls.needs_val for cls in metric_classes.values())
    val_pred = _predict(method, splits["val"], ctx, owner) if needs_val else None
    provenance["val_predicted"] = needs_val
    t0 = time.perf_counter()
    test_pred = _predict(method, splits["test"], ctx, owner)
    provenance["predict_seconds"] = time.perf_counter() - t0
    provenance["predict_seconds_per_image"] = provenance["predict_seconds"] / len(splits["test"])
    phase[0] = "metrics"
    results = compute_metrics(
        metric_classes,
        Scored(test_pred, splits["test"]),
        None if val_pred is None else Scored(val_pred, splits["val"]),
        reporter,
    )
    phase[0] = "artifacts"
    _artifacts(ctx.workdir, spec, method, splits["test"], test_pred, ctx)
    evidence = _evidence(splits["test"], test_pred, results, provenance, reporter)
    infos = {
        name: (
            MetricInfo(
                cls.level, cls.higher_is_better, bool(cls.oracle), getattr(cls, "resample", None)
            ),
            result,
        )
        for name, (cls, result) in results.items()
    }
    return infos, evidence


def _evidence(
    test: Split,
    pred: Predictions,
    results: Mapping[str, tuple[type[Metric], MetricResult]],
    provenance: dict[str, Any],
    reporter: Reporter,
) -> bytes | None:
    """What the leaderboard's bootstrap needs; its failure costs the intervals, not the run."""
    # pixel thresholds become bin edges, so pooled Dice at them is recomputed exactly
    thresholds = [
        float(result.details["threshold"])
        for cls, result in results.values()
        if cls.level == "pixel" and result.defined and "threshold" in result.details
    ]
    try:
        return collect_evidence(test, pred, thresholds).to_bytes()
    except Exception as exc:
        provenance["evidence_error"] = f"{type(exc).__name__}: {exc}"
        reporter.log(f"no bootstrap evidence stored: {exc}")
        return None


def _artifacts(
    workdir: Path, spec: RunSpec, method: Method, test: Split, pred: Predictions, ctx: RunContext
) -> None:
    _save_predictions(workdir / "predictions.npz", test, pred)
    # a finished run's model must load back the way ``anobench predict`` loads it
    state = loadable_state(method.state_dict(), f"method '{spec.method}'")
    torch.save(state, workdir / MODEL_FILE)
    torch.load(workdir / MODEL_FILE, map_location="cpu", weights_only=True)
    title = f"{spec.method} on {spec.dataset} (profile {spec.profile}, seed {spec.seed})"
    names = getattr(_plugin_class("dataset", spec.dataset, Dataset), "class_names", None)
    panel(test, pred, workdir / "panel.png", title, names=names or ("healthy", "diseased"))
    curves(ctx.history, workdir / "curves.png", title, ctx.stages)


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
        spec = identify(spec)
        run_id = self.store.find_finished(spec.config_hash(), spec.seed, planned_precision(spec))
        return None if run_id is None else self.store.get_run(run_id)

    def run(
        self, spec: RunSpec, metrics: Sequence[str] | None = None, resume: str | None = None
    ) -> RunRecord:
        """Execute one run; raises ``AnobenchError`` (run stored as failed) when it fails.

        An interrupted run of the same configuration and seed that left a checkpoint is resumed
        automatically; ``resume`` names a run to continue explicitly.
        """
        resolve_device(spec.device)  # a device that is not there fails before anything is stored
        job = self.prepare(spec, metrics, resume)
        outcome = execute(job, self.reporter)
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
        dataset_cls = _plugin_class("dataset", spec.dataset, Dataset)
        method_cls = _plugin_class("method", spec.method, Method)
        metric_classes = metric_plugins(metrics)
        _use_threads(self.threads, apply=False)  # $ANOBENCH_THREADS out of range: no run stored
        method_cls(**spec.method_options).check()  # before the data are looked for
        spec = identify(spec)  # checks that the data can be found
        if resume is None:
            refuse_duplicate(self.reclaim(spec), self.store)
            resume = self._interrupted_with_checkpoint(spec)
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
        unused = dataset_cls(**spec.dataset_options).unused_options()
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

    def _interrupted_with_checkpoint(self, spec: RunSpec) -> str | None:
        precision = planned_precision(spec) if self.local else None
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


def signal_name(exc: BaseException) -> str:
    signum = getattr(exc, "signum", None)
    return signals.signal.Signals(signum).name if signum else "SIGINT"


def _use_threads(requested: int | None, apply: bool = True) -> int:
    """Set and return this run's CPU threads: as requested (``--threads``, or the executor's
    share of the cores), else the usable cores that no other process keeps busy."""
    try:
        threads = choose_threads(requested, busy=-1.0 if apply else None)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if apply:
        set_threads(threads)
    return threads


def _context_precision(
    method_cls: type[Method], options: Mapping[str, Any], device: torch.device
) -> hardware.Precision:
    """The precision the run context announces: the method's own resolved options where it
    declares them, else what ``auto`` means on this device."""
    declared = method_cls.options.by_name()
    name = next((o.name for o in declared.values() if o.hardware == "precision"), None)
    fmt = next((o.name for o in declared.values() if o.hardware == "channels_last"), None)
    return hardware.Precision.resolve(
        options.get(name, "auto") if name else "auto",
        options.get(fmt, "auto") if fmt else "auto",
        device,
    )


def _jsonable(value: Any) -> bool:
    return isinstance(value, str | int | float | bool | list | dict | type(None))


def _describe(exc: BaseException, phase: str, spec: RunSpec) -> str:
    if isinstance(exc, AnobenchError):
        owner = f"method '{spec.method}'"
        if isinstance(exc, MethodFailure) and owner not in str(exc):
            return f"{owner}: {exc}"  # e.g. a loss that diverged, raised by the run context
        return str(exc)
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        where = exc.filename or "the run's files"
        return (
            f"no space left on the device writing {where} during {phase}: free space (or pass"
            " --home on a larger disk) and rerun"
        )
    who = f"dataset '{spec.dataset}'" if phase == LOAD_DATA else f"method '{spec.method}'"
    if phase == LOAD_DATA and _too_large(exc):
        return (
            f"{who} could not allocate its images during {phase} ({type(exc).__name__}: {exc});"
            f" {_size_options(spec)}: lower them"
        )
    if isinstance(exc, SystemExit):
        return f"{who} called sys.exit({exc.code!r}) during {phase}; a plugin must raise instead"
    return f"{who} raised {type(exc).__name__} during {phase}: {exc}"


def _too_large(exc: BaseException) -> bool:
    """Arrays beyond memory, disk or the file system's file size (a huge size option)."""
    sizes = (errno.EINVAL, errno.EFBIG, errno.ENOMEM)
    return isinstance(exc, MemoryError | OverflowError) or (
        isinstance(exc, OSError) and exc.errno in sizes
    )


def _size_options(spec: RunSpec) -> str:
    """The dataset's integer options the spec sets apart from its profile: the likely culprit."""
    try:
        changed = profiles.differences(
            spec,
            _plugin_class("dataset", spec.dataset, Dataset),
            _plugin_class("method", spec.method, Method),
        )["dataset"]
    except AnobenchError:
        changed = dict(spec.dataset_options)
    ints = {k: v for k, v in changed.items() if isinstance(v, int) and not isinstance(v, bool)}
    shown = ", ".join(f"{k}={v}" for k, v in sorted(ints.items(), key=lambda kv: -kv[1]))
    return f"its size options set here: {shown}" if shown else "its image count and size"
