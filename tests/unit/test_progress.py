"""Plain progress lines (stderr not a terminal): elapsed time and ETA, at a modest rate."""

from __future__ import annotations

import io
import re

import pytest

from anobench.api.progress import PlainReporter, duration
from anobench.run.bench_view import PlainView

LINE = re.compile(r"^train: (\d+)/(\d+) \((\d+)%\) (\S+) elapsed, ETA (\S+)(?: loss=\S+)?$")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _progress_lines(stream: io.StringIO) -> list[str]:
    return [line for line in stream.getvalue().splitlines() if "elapsed" in line]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59.4, "59s"), (192, "3m12s"), (690, "11m30s"), (3725, "1h02m")],
)
def test_duration(seconds, text):
    assert duration(seconds) == text


def test_lines_carry_elapsed_and_eta_at_each_tenth():
    clock, out = Clock(), io.StringIO()
    reporter = PlainReporter(out, clock=clock)
    with reporter.task("train", total=800) as task:
        for _ in range(800):
            clock.now += 0.125  # 100 s in all
            task.advance(1, loss=0.5)
    lines = _progress_lines(out)
    # one line per 10% (every 10 s, under the 30 s interval), not one per step
    assert len(lines) == 10
    for line in lines:
        done, total, percent, elapsed, eta = LINE.match(line).groups()
        done = int(done)
        assert int(total) == 800 and int(percent) == round(done / 8)
        assert elapsed == duration(done * 0.125)
        assert eta == duration((800 - done) * 0.125)  # constant speed: the remaining steps
    assert lines[0] == "train: 80/800 (10%) 10s elapsed, ETA 1m30s loss=0.5"
    assert out.getvalue().splitlines()[-1] == "train done (800 in 1m40s)"


def test_a_task_without_total_logs_every_interval():
    clock, out = Clock(), io.StringIO()
    reporter = PlainReporter(out, interval=30, clock=clock)
    with reporter.task("scan") as task:
        for _ in range(200):
            clock.now += 0.5
            task.advance(1)
    lines = _progress_lines(out)
    assert lines == ["scan: 60 30s elapsed", "scan: 120 1m00s elapsed", "scan: 180 1m30s elapsed"]


def test_a_fast_task_logs_no_progress_lines():
    clock, out = Clock(), io.StringIO()
    reporter = PlainReporter(out, clock=clock)
    with reporter.task("train", total=100) as task:
        for _ in range(100):
            clock.now += 0.0078125  # under 1 s in all: under the 5 s between two lines
            task.advance(1)
    assert _progress_lines(out) == []
    assert out.getvalue().splitlines() == ["train ...", "train done (100 in 1s)"]


def test_a_resumed_stage_counts_its_speed_from_the_steps_it_takes():
    clock, out = Clock(), io.StringIO()
    reporter = PlainReporter(out, clock=clock)
    with reporter.task("train", total=1000) as task:
        task.advance(500)  # the checkpoint's step, at once
        for _ in range(500):
            clock.now += 0.25
            task.advance(1)
    first = _progress_lines(out)[0]
    # the jump crossed 50%: a line after the 5 s gap, 20 steps later; 480 left at 0.25 s each
    # (a speed from the start of the task would say 480 * 5 / 520 s: 5s)
    assert first == "train: 520/1000 (52%) 5s elapsed, ETA 2m00s"


def test_bench_plain_view_lines_carry_elapsed_and_eta_and_are_rate_limited():
    clock, out = Clock(), io.StringIO()
    view = PlainView(out, clock=clock)
    view.start("s", 1, 0, "local")
    view.started(type("Item", (), {"run_id": "r1", "label": "m on d seed 0"})())
    view.event(("task", "r1", "train", 0, 600, ""))
    for step in range(1, 601):
        clock.now += 0.5  # 300 s in all; events as a worker sends them
        view.event(("task", "r1", "train", step, 600, "loss=0.1"))
    lines = _progress_lines(out)
    assert len(lines) == 10  # every 10% (30 s), under the 60 s interval
    assert lines[0] == "  m on d seed 0: train: 60/600 (10%) 30s elapsed, ETA 4m30s loss=0.1"
    view.event(("done", "r1", "train"))
    view.event(("task", "r1", "predict", 1, 2, ""))  # a new task starts its own clock
    clock.now += 15
    view.event(("task", "r1", "predict", 2, 2, ""))
    assert _progress_lines(out)[-1] == "  m on d seed 0: predict: 2/2 (100%) 15s elapsed, ETA 0s"
