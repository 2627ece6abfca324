"""One job to its outcome: seed, load, fit, predict, score (no store access; any process)."""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ..api import hardware, signals
from ..api.context import RunContext, make_context
from ..api.errors import AnobenchError, ConfigError, MethodFailure
from ..api.home import cache_dir, runs_dir
from ..api.interfaces import Dataset, Method, Metric
from ..api.jobs import Job, MetricInfo, Outcome
from ..api.progress import Reporter
from ..api.records import (
    MetricResult,
    Predictions,
    RunSpec,
    RunStatus,
    Scored,
    Split,
    training_split,
)
from ..api.threads import (
    THREADS_VARIABLE,
    ThreadGovernor,
    available_cores,
    choose_threads,
    set_threads,
    thread_settings,
)
from ..api.validate import check_predictions, check_split
from ..results.provenance import device_description, environment
from . import gpu, profiles
from .artifacts import _artifacts, _evidence
from .resolve import Resolved
from .spec import _plugin_class, _plugin_versions, metric_plugins

#: the progress task (and failure phase) of loading a run's data
LOAD_DATA = "load data"


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


def _predict(method: Method, split: Split, ctx: RunContext, owner: str) -> Predictions:
    with torch.inference_mode():
        return check_predictions(method.predict(split.images, ctx), split.images, owner)


def execute(
    job: Job,
    reporter: Reporter | None = None,
    *,
    resolved: Resolved | None = None,
    metrics: Mapping[str, type[Metric]] | None = None,
) -> Outcome:
    """Run one job to its outcome (never raises for a failing plugin); writes only artifacts.

    ``resolved``, ``metrics``: what the registering process worked out for this job already
    (in the same process); a worker resolves the job itself.
    """
    reporter = reporter or Reporter()
    provenance = dict(job.provenance)
    phase = ["setup"]
    t0 = time.perf_counter()
    restore = thread_settings()
    try:
        # stdout carries the result (--format json): what plugins print goes to stderr
        with gpu.nondeterministic_ops(provenance), contextlib.redirect_stdout(sys.stderr):
            results, evidence = _execute(job, reporter, provenance, phase, resolved, metrics)
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
    job: Job,
    reporter: Reporter,
    provenance: dict[str, Any],
    phase: list[str],
    known: Resolved | None = None,
    metrics: Mapping[str, type[Metric]] | None = None,
) -> tuple[dict[str, tuple[MetricInfo, MetricResult]], bytes | None]:
    spec = job.spec
    home = Path(job.home)
    if known is None or not known.matches(spec, job.device):
        known = Resolved(spec, device=job.device)
    dataset_cls, method_cls = known.dataset_cls, known.method_cls
    metric_classes = dict(metrics) if metrics is not None else metric_plugins(job.metrics)
    device = known.device
    threads = _use_threads(job.threads)
    setup = known.setup
    method_options, resolved, precision = setup.options, setup.resolved, setup.precision
    declares = setup.declares
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
    # everything seeded here, before the card is set up (as it always was)
    ctx = make_context(
        runs_dir(home) / job.run_id,
        spec.seed,
        spec.max_steps,
        device,
        seconds=spec.time_budget,
        cache_dir=cache_dir(home),
        progress=reporter,
        precision=precision,
        threads=threads,
        start=False,
    )
    # TF32 only for precision=tf32, cuda:N current, the card's versions recorded
    provenance.update(gpu.configure(device, precision.name if declares else None))
    if job.threads is None and not os.environ.get(THREADS_VARIABLE):
        ctx.governor = ThreadGovernor(threads)
    phase[0] = LOAD_DATA
    # built here, after the seeding, as always: a plugin's constructor may draw random numbers
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
    _artifacts(ctx.workdir, spec, method, splits["test"], test_pred, ctx, dataset_cls)
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
