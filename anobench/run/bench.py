"""Run a suite: check the grid against the store, dispatch through an executor, commit outcomes.

Only this driver writes the store. A configuration and seed that already finished (through
``anobench bench`` or ``anobench run``) is skipped, so an interrupted suite resumes where it
stopped; one that a live process is running is left to it; a run left ``running`` by a dead
process is marked interrupted by ``Runner.prepare`` and resumed from its checkpoint if it has
one. Every run's failure stays its own: the others go on and the report lists it.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..api.errors import AnobenchError
from ..api.jobs import Outcome
from ..api.liveness import alive
from ..api.progress import DATA_READY
from ..api.records import RunSpec, RunStatus
from ..api.signals import Interrupted, listening
from ..results.store import Store
from .bench_view import BenchView
from .executors import Executor
from .identity import identified, planned_precision
from .runner import Runner
from .suite import Suite

#: statuses of a grid item: a run's own status (finished, failed, interrupted, running), or
#: one of these three, which no stored run has
DONE, FAILED, INTERRUPTED = RunStatus.FINISHED, RunStatus.FAILED, RunStatus.INTERRUPTED
#: seconds a stopped suite waits for its runs in flight to checkpoint
STOP_GRACE = 30.0
SKIPPED, ELSEWHERE, TODO = "skipped", "running elsewhere", "todo"


@dataclass
class Item:
    """One point of the grid and what became of it."""

    spec: RunSpec
    status: str = TODO
    run_id: str | None = None
    error: str | None = None
    seconds: float | None = None
    primary: str | None = None
    value: float | None = None
    started: float = field(default=0.0, repr=False)

    @property
    def label(self) -> str:
        s = self.spec
        return f"{s.method} ({s.profile}) on {s.dataset}, seed {s.seed}"

    def to_dict(self) -> dict[str, Any]:
        s = self.spec
        return {
            "dataset": s.dataset,
            "method": s.method,
            "profile": s.profile,
            "seed": s.seed,
            "config_hash": s.config_hash(),
            "status": self.status,
            "run_id": self.run_id,
            "error": self.error,
            "seconds": self.seconds,
            "primary_metric": self.primary,
            "value": self.value,
        }


@dataclass
class Report:
    suite: str
    executor: str
    items: list[Item]
    seconds: float

    def count(self, status: str) -> int:
        return sum(item.status == status for item in self.items)

    @property
    def failed(self) -> list[Item]:
        return [i for i in self.items if i.status == FAILED]

    def to_dict(self) -> dict[str, Any]:
        statuses = (DONE, SKIPPED, FAILED, INTERRUPTED, ELSEWHERE)
        return {
            "suite": self.suite,
            "executor": self.executor,
            "seconds": self.seconds,
            "counts": {status: self.count(status) for status in statuses},
            "runs": [item.to_dict() for item in self.items],
        }


def _check(item: Item, store: Store, local: bool = True) -> None:
    """Skip the item if its configuration and seed finished (in the precision it would compute
    in here, for a ``local`` executor), or if a live process runs it."""
    spec = item.spec
    try:
        precision: str | None = planned_precision(spec) if local else None
    except AnobenchError:
        precision = None  # the run itself will say what is wrong
    finished = store.find_finished(spec.config_hash(), spec.seed, precision)
    if finished:
        item.status, item.run_id = SKIPPED, finished
        record = store.get_run(finished)
        value = record.metrics.get(record.primary_metric or "")
        if value is not None:
            item.primary = record.primary_metric
            item.value = None if math.isnan(value) else float(value)
        return
    for run_id, provenance in store.find_running(spec.config_hash(), spec.seed):
        owner = provenance.get("owner")
        if alive(owner):
            item.status, item.run_id = ELSEWHERE, run_id
            item.error = f"running in process {owner.get('pid')} on {owner.get('host')}"
            return
    item.status = TODO


def plan(specs: list[RunSpec], store: Store, local: bool = True) -> list[Item]:
    """The grid with what the store already holds; reads only. ``local``: the runs execute on
    this machine (a remote executor's precision is not known here: any finished one counts)."""
    items = [Item(identified(spec)) for spec in specs]
    for item in items:
        _check(item, store, local)
    return items


def _primary(outcome: Outcome, runner: Runner, item: Item) -> None:
    if outcome.status != DONE:
        return
    primary = runner.store.get_run(outcome.run_id).primary_metric
    result = outcome.results.get(primary or "")
    if result is not None:
        item.primary = primary
        item.value = None if math.isnan(result[1].value) else float(result[1].value)


class _DataGate:
    """Lets one run per dataset configuration load (generate, decode, cache) its data before the
    others of that configuration start, so N workers do not each build the same cache."""

    def __init__(self) -> None:
        self.ready: set[str] = set()
        self.loading: dict[str, str] = {}  # run id -> dataset hash

    def take(self, todo: deque[Item]) -> Item | None:
        for item in todo:
            key = item.spec.dataset_hash()
            if key in self.ready or key not in self.loading.values():
                todo.remove(item)
                return item
        return None

    def started(self, item: Item) -> None:
        key = item.spec.dataset_hash()
        if key not in self.ready and item.run_id:
            self.loading[item.run_id] = key

    def release(self, run_id: str) -> None:
        key = self.loading.pop(run_id, None)
        if key is not None:
            self.ready.add(key)


def _drive(
    todo: deque[Item],
    inflight: dict[str, Item],
    gate: _DataGate,
    runner: Runner,
    executor: Executor,
    suite: Suite,
    view: BenchView,
    poll: float,
    stops: list[int],
) -> None:
    """Submit, wait, commit until nothing is left; a noted stop signal ends it between polls."""
    while todo or inflight:
        if stops:  # a stop signal arrived: leave at this safe point
            raise Interrupted(stops[0])
        while todo and len(inflight) < executor.slots:
            item = gate.take(todo)
            if item is None:  # the rest wait for data another run is caching
                break
            _check(item, runner.store)  # another process may have done it meanwhile
            if item.status != TODO:
                view.skipped(item)
                continue
            try:
                job = runner.prepare(item.spec, suite.metrics, provenance={"suite": suite.name})
            except AnobenchError as exc:
                item.status, item.error = FAILED, str(exc)
                view.finished(item)
                continue
            item.run_id, item.started = job.run_id, time.perf_counter()
            item.status = RunStatus.RUNNING
            inflight[job.run_id] = item
            executor.submit(job)
            gate.started(item)
            view.started(item)
        for job, outcome in executor.wait(poll):
            runner.commit(outcome)
            gate.release(job.run_id)
            item = inflight.pop(job.run_id)
            item.status, item.error = outcome.status, outcome.error
            item.seconds = time.perf_counter() - item.started
            _primary(outcome, runner, item)
            view.finished(item)
        for event in executor.events():
            if event[0] == DATA_READY:
                gate.release(event[1])
            view.event(event)
    if stops:
        raise Interrupted(stops[0])


def run_suite(
    suite: Suite,
    items: list[Item],
    runner: Runner,
    executor: Executor,
    view: BenchView | None = None,
    poll: float = 0.2,
) -> Report:
    """Run the items still to do; always closes the executor.

    On an exception (Ctrl-C included) the workers are stopped, runs in flight are marked
    interrupted (the next invocation resumes them) and the exception propagates.
    """
    view = view or BenchView()
    # runs whose jobs an earlier driver left queued or running (Slurm): followed, not resubmitted
    adopt = getattr(executor, "adopt", None)
    adopted = adopt(items, runner) if adopt else []
    todo = deque(item for item in items if item.status == TODO)
    view.start(suite.name, len(todo), len(items) - len(todo), executor.describe())
    inflight: dict[str, Item] = {item.run_id: item for item in adopted if item.run_id}
    for item in adopted:
        view.started(item)
    gate = _DataGate()
    t0 = time.perf_counter()
    stops: list[int] = []

    def stop_asked(signum: int) -> bool:
        # only noted: raised from the handler, the interruption could land inside
        # concurrent.futures' locks and leak one, and the driver then hung at exit
        stops.append(signum)
        return True

    try:
        with listening(stop_asked):
            _drive(todo, inflight, gate, runner, executor, suite, view, poll, stops)
    except BaseException:
        try:
            # let the runs in flight checkpoint where they are before the workers go
            stop = getattr(executor, "stop", None)
            for job, outcome in stop(STOP_GRACE) if stop else []:
                runner.commit(outcome)
                item = inflight.pop(job.run_id)
                item.status, item.error = outcome.status, outcome.error
                view.finished(item)
            executor.close(kill=True)
        finally:
            # jobs that outlive the driver stay running: the next bench adopts them
            detached = getattr(executor, "outlives_driver", False)
            for run_id, item in inflight.items():
                if not detached:
                    runner.store.interrupt_if_running(run_id, "the suite was stopped while it ran")
                    item.status = INTERRUPTED
            view.stop()
        raise
    executor.close()
    view.stop()
    return Report(suite.name, executor.describe(), items, time.perf_counter() - t0)
