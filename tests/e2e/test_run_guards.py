"""``run`` refuses what it would silently get wrong (issue 24, item 15): options beside
``--resume`` that cannot apply, a duplicate of a run training in another process, and plugin
output mixed into ``--format json``."""

from __future__ import annotations

import json

import pytest

from anobench.api import registry
from anobench.api.liveness import this_process
from anobench.results.store import Store
from anobench.run.identity import identify
from anobench.run.runner import build_spec

from .conftest import one_line_error


@pytest.fixture
def interrupted(invoke, testplugins, monkeypatch):
    monkeypatch.setenv("TESTPLUGINS_INTERRUPT_AT", "2")
    assert invoke("-q", "run", "-m", "brightness", "-d", "toy").exit_code == 130
    monkeypatch.delenv("TESTPLUGINS_INTERRUPT_AT")
    return json.loads(invoke("show", "--format", "json").stdout)[0]["run_id"]


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["-m", "failing"], "--method"),
        (["--rerun"], "--rerun"),
        (["--method-opt", "steps=9"], "--method-opt"),
        (["--max-steps", "3"], "--max-steps"),
    ],
)
def test_resume_refuses_options_it_cannot_apply(invoke, interrupted, extra, named):
    result = invoke("run", "--resume", interrupted, *extra)
    one_line_error(result, "--resume", named, "leave them out")
    (run,) = json.loads(invoke("show", "--format", "json").stdout)
    assert run["status"] == "interrupted"  # nothing ran
    # what does go with --resume still does
    resumed = invoke("-q", "run", "--resume", interrupted, "--threads", "1", "--format", "json")
    assert resumed.exit_code == 0, resumed.output


def test_a_run_training_in_another_process_is_not_started_twice(invoke, testplugins, home):
    spec = identify(build_spec(dataset="toy", method="brightness"))
    with Store(home / "store.sqlite") as store:
        store.start_run("elsewhere", spec, {"owner": this_process()}, "pixel_ap")
    result = invoke("run", "-m", "brightness", "-d", "toy")
    one_line_error(result, "run elsewhere", "is running in process", "wait for it")
    with Store(home / "store.sqlite") as store:
        assert [r.run_id for r in store.runs()] == ["elsewhere"]


def test_what_a_plugin_prints_does_not_break_json(invoke, testplugins, monkeypatch):
    cls = registry.get("method", "brightness")
    fit = cls.fit

    def chatty(self, train, val, ctx):
        print("epoch 1: loss 0.5 (printed by the plugin)")
        return fit(self, train, val, ctx)

    monkeypatch.setattr(cls, "fit", chatty)
    result = invoke("-q", "run", "-m", "brightness", "-d", "toy", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "finished"
    assert "printed by the plugin" in result.stderr
