"""The one progress view of a suite: an overall bar (done, failed, skipped, ETA) and the runs
in flight with their current phase; plain lines when stderr is not a terminal."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from ..api.progress import Pace, Throttle, rich_progress
from ..api.records import RunStatus


def _result_line(item: Any) -> str:
    took = f" in {item.seconds:.1f} s" if item.seconds is not None else ""
    if item.status == RunStatus.FINISHED:
        value = "-" if item.value is None else f"{item.value:.4f}"
        metric = f", {item.primary} {value}" if item.primary else ""
        return f"finished {item.label}{took} (run {item.run_id}{metric})"
    run = f" (run {item.run_id})" if item.run_id else ""
    return f"{item.status} {item.label}{took}{run}: {item.error}"


class BenchView:
    """Silent: ``--quiet``, tests and library use."""

    def start(self, suite: str, todo: int, skipped: int, executor: str) -> None:
        self.todo, self.done, self.failed, self.skipped_count = todo, 0, 0, skipped

    def started(self, item: Any) -> None:
        pass

    def event(self, event: tuple[Any, ...]) -> None:
        pass

    def finished(self, item: Any) -> None:
        if item.status == RunStatus.FINISHED:
            self.done += 1
        else:
            self.failed += 1

    def skipped(self, item: Any) -> None:
        self.todo -= 1
        self.skipped_count += 1

    def stop(self) -> None:
        pass

    def counter(self) -> str:
        return f"[{self.done + self.failed}/{self.todo}]"


class PlainView(BenchView):
    """One line per started and finished run; progress lines of each run with elapsed time and
    ETA once every ``interval`` seconds and at each 10%, never closer than ``min_gap``."""

    def __init__(
        self,
        stream: Any = None,
        interval: float = 60.0,
        min_gap: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream or sys.stderr
        self.interval = interval
        self.min_gap = min_gap
        self.clock = clock
        self._tasks: dict[str, tuple[str, Pace, Throttle]] = {}  # run id -> its current task
        self._labels: dict[str, str] = {}

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def start(self, suite: str, todo: int, skipped: int, executor: str) -> None:
        super().start(suite, todo, skipped, executor)
        self._print(f"suite {suite}: {todo} run(s) to do, {skipped} already done ({executor})")

    def started(self, item: Any) -> None:
        self._labels[item.run_id] = item.label
        self._print(f"{self.counter()} started {item.label} (run {item.run_id})")

    def event(self, event: tuple[Any, ...]) -> None:
        run_id = event[1]
        label = self._labels.get(run_id, run_id)
        if event[0] == "log":
            self._print(f"  {label}: {event[2]}")
        if event[0] == "done":
            self._tasks.pop(run_id, None)
        if event[0] != "task":
            return
        _, _, name, completed, total, info = event
        now = self.clock()
        current = self._tasks.get(run_id)
        if current is None or current[0] != name:  # a new task of this run: its own clock
            current = (name, Pace(now), Throttle(now, self.interval, self.min_gap))
            self._tasks[run_id] = current
        _, pace, throttle = current
        pace.seen(completed, now)
        if throttle.due(completed, total, now):
            self._print(f"  {label}: {pace.line(name, completed, total, now, info)}")

    def finished(self, item: Any) -> None:
        super().finished(item)
        self._print(f"{self.counter()} {_result_line(item)}")

    def skipped(self, item: Any) -> None:
        super().skipped(item)
        self._print(f"skipped {item.label}: {item.status} (run {item.run_id})")


class RichView(BenchView):
    def __init__(self, console: Any = None) -> None:
        from rich.console import Console

        self.console = console or Console(stderr=True)
        self.progress = rich_progress(self.console, transient=True)
        self._runs: dict[str, Any] = {}

    def _overall(self) -> None:
        info = f"[green]{self.done} done[/] · [red]{self.failed} failed[/] · {self.skipped_count}"
        info += " skipped (already done)"
        self.progress.update(
            self._suite, total=self.todo, completed=self.done + self.failed, info=info
        )

    def start(self, suite: str, todo: int, skipped: int, executor: str) -> None:
        super().start(suite, todo, skipped, executor)
        self.console.print(
            f"suite {suite}: {todo} run(s) to do, {skipped} already done ({executor})",
            highlight=False,
            markup=False,
        )
        self.progress.start()
        self._suite = self.progress.add_task(f"suite {suite}", total=todo, info="")
        self._overall()

    def started(self, item: Any) -> None:
        self._runs[item.run_id] = self.progress.add_task(f"  {item.label}", total=None, info="")

    def event(self, event: tuple[Any, ...]) -> None:
        task = self._runs.get(event[1])
        if task is None:
            return
        if event[0] == "log":
            self.progress.console.print(f"  {event[2]}", highlight=False, markup=False)
        if event[0] != "task":
            return
        _, _, name, completed, total, info = event
        self.progress.update(task, total=total, completed=completed, info=f"{name} {info}")

    def finished(self, item: Any) -> None:
        super().finished(item)
        task = self._runs.pop(item.run_id, None) if item.run_id else None
        if task is not None:
            self.progress.remove_task(task)
        from rich.markup import escape

        colour = "green" if item.status == RunStatus.FINISHED else "red"
        self.progress.console.print(
            f"[{colour}]{escape(self.counter())}[/] {escape(_result_line(item))}", highlight=False
        )
        self._overall()

    def skipped(self, item: Any) -> None:
        super().skipped(item)
        self._overall()

    def stop(self) -> None:
        self.progress.stop()


def make_view(quiet: bool = False) -> BenchView:
    """rich on a terminal, plain lines otherwise, nothing when quiet."""
    if quiet:
        return BenchView()
    if sys.stderr.isatty():
        return RichView()
    return PlainView()
