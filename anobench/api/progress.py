"""One progress reporter handed down by the CLI; plugins never print directly."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

#: the event a worker's reporter sends when its run's data are ready (see ``Reporter.data_ready``)
DATA_READY = "data ready"


class Task:
    """A handle on one progress bar: ``advance`` it and attach live fields (e.g. losses).

    ``deadline``: the ``time.monotonic()`` at which a time budget ends the task whatever its
    total; the ETA shown is never later than it. ``unit``: what ``completed`` counts
    (``splits``, ``images``), shown where the count is.
    """

    def __init__(
        self,
        reporter: Reporter,
        key: Any,
        total: float | None,
        deadline: float | None = None,
        unit: str = "",
    ) -> None:
        self._reporter = reporter
        self._key = key
        self.total = total
        self.deadline = deadline
        self.unit = unit
        self.completed = 0.0

    def advance(self, amount: float = 1, **fields: Any) -> None:
        self.completed += amount
        self._reporter._advance(self, amount, fields)


class Reporter:
    """Silent reporter: the default under tests and remote executors."""

    @contextmanager
    def task(
        self,
        description: str,
        total: float | None = None,
        deadline: float | None = None,
        unit: str = "",
    ) -> Iterator[Task]:
        handle = Task(self, description, total, deadline, unit)
        self._start(handle, description)
        try:
            yield handle
        finally:
            self._stop(handle)

    def log(self, message: str) -> None:
        """A line of information (warnings, skipped files, checkpoints)."""

    def data_ready(self) -> None:
        """The run's data are loaded (and cached): a suite driver may start the other runs of
        the same dataset configuration. Called by the runner, not by plugins."""

    def _start(self, task: Task, description: str) -> None:
        pass

    def _advance(self, task: Task, amount: float, fields: dict[str, Any]) -> None:
        pass

    def _stop(self, task: Task) -> None:
        pass


def _fmt_fields(fields: dict[str, Any]) -> str:
    parts = []
    for k, v in fields.items():
        parts.append(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}")
    return " ".join(parts)


def duration(seconds: float) -> str:
    """``12s``, ``3m12s``, ``1h02m``: the width of rich's clock, readable in a log."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole // 60 % 60:02d}m"


class Pace:
    """Elapsed time and ETA of one task, as the terminal view shows them.

    The speed counts only the steps taken since the task's first update, so a resumed stage
    that jumps to its checkpoint's step at once (and a slow first step) does not make the ETA
    optimistic.
    """

    def __init__(self, started: float) -> None:
        self.started = started
        self._base: tuple[float, float] | None = None  # (time, completed) at the first update

    def seen(self, completed: float, now: float) -> None:
        """Every update of the task: the first one with progress is where the speed counts from."""
        if self._base is None and completed > 0:
            self._base = (now, completed)

    def line(
        self,
        name: str,
        completed: float,
        total: float | None,
        now: float,
        info: str,
        deadline: float | None = None,
    ) -> str:
        """``name: 400/1850 (22%) 3m12s elapsed, ETA 11m30s info``."""
        self.seen(completed, now)
        parts = [f"{name}: {completed:g}"]
        if total:
            parts[0] += f"/{total:g} ({100 * completed / total:.0f}%)"
        timing = f"{duration(now - self.started)} elapsed"
        eta = self.eta(completed, total, now, deadline)
        if eta is not None:
            timing += f", ETA {duration(eta)}"
        parts.append(timing)
        if info:
            parts.append(info)
        return " ".join(parts)

    def eta(
        self, completed: float, total: float | None, now: float, deadline: float | None = None
    ) -> float | None:
        """The remaining steps at the speed so far, but no later than ``deadline``."""
        left = None if deadline is None else max(0.0, deadline - now)
        if not total or self._base is None:
            return left
        since, done = now - self._base[0], completed - self._base[1]
        if done <= 0 or since <= 0:
            return left
        eta = max(0.0, total - completed) * since / done
        return eta if left is None else min(eta, left)


class Throttle:
    """When a log line is due: every ``interval`` seconds, and at each 10% of a task with a
    total, but never two lines closer than ``min_gap`` seconds."""

    def __init__(self, started: float, interval: float, min_gap: float) -> None:
        self.interval = interval
        self.min_gap = min_gap
        self._last = started
        self._tenth = 0

    def due(self, completed: float, total: float | None, now: float) -> bool:
        tenth = int(10 * completed / total) if total else 0
        since = now - self._last
        if since >= self.interval or (tenth > self._tenth and since >= self.min_gap):
            self._last, self._tenth = now, tenth
            return True
        return False


class PlainReporter(Reporter):
    """Plain log lines for non-TTY output (CI logs, ``nohup``, Slurm): progress with elapsed
    time and ETA every ``interval`` seconds and at each 10%, never closer than ``min_gap``."""

    def __init__(
        self,
        stream: Any = None,
        interval: float = 30.0,
        min_gap: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream or sys.stderr
        self.interval = interval
        self.min_gap = min_gap
        self.clock = clock
        self._tasks: dict[int, tuple[str, Pace, Throttle]] = {}

    def log(self, message: str) -> None:
        print(message, file=self.stream, flush=True)

    def _start(self, task: Task, description: str) -> None:
        now = self.clock()
        self._tasks[id(task)] = (
            description,
            Pace(now),
            Throttle(now, self.interval, self.min_gap),
        )
        self.log(f"{description} ...")

    def _advance(self, task: Task, amount: float, fields: dict[str, Any]) -> None:
        name, pace, throttle = self._tasks[id(task)]
        now = self.clock()
        pace.seen(task.completed, now)
        if throttle.due(task.completed, task.total, now):
            info = _fmt_fields(fields)
            self.log(pace.line(name, task.completed, task.total, now, info, task.deadline))

    def _stop(self, task: Task) -> None:
        name, pace, _ = self._tasks.pop(id(task), ("", Pace(self.clock()), None))
        took = duration(self.clock() - pace.started)
        unit = f" {task.unit}" if task.unit else ""
        self.log(f"{name} done ({task.completed:g}{unit} in {took})")


def rich_progress(console: Any, transient: bool) -> Any:
    """The one rich progress layout: description, bar, n/total, elapsed, ETA, live fields."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        _budgeted(TimeRemainingColumn)(),
        TextColumn("{task.fields[info]}"),
        console=console,
        transient=transient,
    )


def _budgeted(base: type) -> type:
    """rich's time-remaining column, capped by a task's ``deadline`` field (a time budget)."""
    from rich.text import Text

    class BudgetedRemaining(base):  # type: ignore[misc, valid-type]
        def render(self, task: Any) -> Any:
            deadline = task.fields.get("deadline")
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if left is None or (task.time_remaining is not None and task.time_remaining <= left):
                return super().render(task)
            minutes, seconds = divmod(int(left), 60)
            hours, minutes = divmod(minutes, 60)
            return Text(f"{hours:d}:{minutes:02d}:{seconds:02d}", style="progress.remaining")

    return BudgetedRemaining


class RichReporter(Reporter):
    """rich progress bars with ETA and live fields."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console

        self.console = console or Console(stderr=True)
        self.progress = rich_progress(self.console, transient=False)
        self._ids: dict[int, Any] = {}
        self._open = 0

    def log(self, message: str) -> None:
        self.console.print(message, highlight=False, markup=False)

    def _start(self, task: Task, description: str) -> None:
        if self._open == 0:
            self.progress.start()
        self._open += 1
        self._ids[id(task)] = self.progress.add_task(
            description, total=task.total, info="", deadline=task.deadline
        )

    def _advance(self, task: Task, amount: float, fields: dict[str, Any]) -> None:
        self.progress.update(self._ids[id(task)], advance=amount, info=_fmt_fields(fields))

    def _stop(self, task: Task) -> None:
        self._ids.pop(id(task), None)
        self._open -= 1
        if self._open == 0:
            self.progress.stop()


def make_reporter(quiet: bool = False) -> Reporter:
    """rich on a terminal, plain lines otherwise, nothing when quiet."""
    if quiet:
        return Reporter()
    if sys.stderr.isatty():
        return RichReporter()
    return PlainReporter()
