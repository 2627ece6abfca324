"""The ETA a run shows honours its time budget (issue 24, item 11: DeScarGAN showed 6m46s
just before its --time-budget stopped training)."""

from __future__ import annotations

import io

from anobench_descargan.method import DeScarGAN

from anobench.api.context import Budget
from anobench.api.progress import PlainReporter, Reporter
from anobench.testing import make_context, toy_split


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_eta_is_never_later_than_the_deadline():
    clock, out = Clock(), io.StringIO()
    reporter = PlainReporter(out, clock=clock)
    # 800 steps at 8 per second would take 100 s, but the budget ends 20 s after the start
    with reporter.task("train", total=800, deadline=clock.now + 20) as task:
        for _ in range(80):
            clock.now += 0.125
            task.advance(1)
    first = next(line for line in out.getvalue().splitlines() if "elapsed" in line)
    assert first == "train: 80/800 (10%) 10s elapsed, ETA 10s"


def test_a_task_without_deadline_keeps_the_speed_eta():
    clock, out = Clock(), io.StringIO()
    with PlainReporter(out, clock=clock).task("train", total=800) as task:
        for _ in range(80):
            clock.now += 0.125
            task.advance(1)
    assert "ETA 1m30s" in out.getvalue()


class Deadlines(Reporter):
    def __init__(self) -> None:
        self.tasks: dict[str, float | None] = {}

    def _start(self, task, description):
        self.tasks[description] = task.deadline


def test_descargan_hands_its_time_budget_to_the_progress(tmp_path):
    ctx = make_context(tmp_path)
    ctx.budget = Budget(max_steps=3, seconds=600.0)
    ctx.budget.start()
    ctx.progress = Deadlines()
    data = toy_split(4, 4, size=32, seed=1)
    DeScarGAN(**DeScarGAN.test_options).fit(data, data, ctx)
    training = {k: v for k, v in ctx.progress.tasks.items() if k.startswith("descargan:")}
    assert training, ctx.progress.tasks
    end = ctx.budget.deadline()
    assert end is not None
    for deadline in training.values():
        assert deadline is not None and deadline <= end
