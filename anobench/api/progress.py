"""One progress reporter handed down by the CLI; plugins never print directly."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: the event a worker's reporter sends when its run's data are ready (see ``Reporter.data_ready``)
DATA_READY = "data ready"


class Task:
    """A handle on one progress bar: ``advance`` it and attach live fields (e.g. losses)."""

    def __init__(self, reporter: Reporter, key: Any, total: float | None) -> None:
        self._reporter = reporter
        self._key = key
        self.total = total
        self.completed = 0.0

    def advance(self, amount: float = 1, **fields: Any) -> None:
        self.completed += amount
        self._reporter._advance(self, amount, fields)


class Reporter:
    """Silent reporter: the default under tests and remote executors."""

    @contextmanager
    def task(self, description: str, total: float | None = None) -> Iterator[Task]:
        handle = Task(self, description, total)
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


class PlainReporter(Reporter):
    """Plain log lines for non-TTY output; at most one progress line per ``interval`` seconds."""

    def __init__(self, stream: Any = None, interval: float = 10.0) -> None:
        self.stream = stream or sys.stderr
        self.interval = interval
        self._last: dict[int, float] = {}
        self._names: dict[int, str] = {}

    def log(self, message: str) -> None:
        print(message, file=self.stream, flush=True)

    def _start(self, task: Task, description: str) -> None:
        self._names[id(task)] = description
        self._last[id(task)] = time.monotonic()
        self.log(f"{description} ...")

    def _advance(self, task: Task, amount: float, fields: dict[str, Any]) -> None:
        now = time.monotonic()
        if now - self._last.get(id(task), 0.0) >= self.interval:
            self._last[id(task)] = now
            total = f"/{task.total:g}" if task.total else ""
            self.log(f"{self._names[id(task)]}: {task.completed:g}{total} {_fmt_fields(fields)}")

    def _stop(self, task: Task) -> None:
        self.log(f"{self._names.pop(id(task), '')} done ({task.completed:g})")


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
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        console=console,
        transient=transient,
    )


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
        self._ids[id(task)] = self.progress.add_task(description, total=task.total, info="")

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
