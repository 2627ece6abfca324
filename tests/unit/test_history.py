"""Attempts grouped into histories; the store side of resumes and of deleting runs."""

from __future__ import annotations

import pytest

from anobench import MetricResult
from anobench.api.errors import StoreError
from anobench.api.liveness import this_process
from anobench.api.records import RunSpec
from anobench.metrics.builtin import PixelAP
from anobench.results import tabulate
from anobench.results.history import histories
from anobench.results.store import Store
from anobench.results.store import store as store_module
from anobench.run.remove import remove, select


def spec(seed: int = 0, steps: int = 2) -> RunSpec:
    return RunSpec("toy", "brightness", {"n": 6}, {"steps": steps}, seed=seed)


def resolved(precision: str | None) -> dict:
    return {"resolved": {"precision": precision}}


@pytest.fixture
def store(tmp_path, monkeypatch):
    clock = iter(f"2026-01-01T00:{m:02d}:00+00:00" for m in range(60))
    monkeypatch.setattr(store_module, "now", lambda: next(clock))
    with Store(tmp_path / "store.sqlite") as opened:
        yield opened


def finish(store: Store, run_id: str, value: float) -> None:
    result = MetricResult(value, per_image={"a": value})
    store.finish_run(run_id, {"pixel_ap": (PixelAP, result)}, store.get_run(run_id).provenance)


def test_attempts_group_by_configuration_seed_and_precision(store):
    store.start_run("early", spec(), {}, "pixel_ap")  # failed before resolving a precision
    store.end_run("early", "failed", "no data", {})
    store.start_run("a", spec(), resolved("fp32"), "pixel_ap")
    finish(store, "a", 0.5)
    store.start_run("b", spec(), resolved("fp32"), "pixel_ap")
    finish(store, "b", 0.7)  # a --rerun: the leaderboard's run
    store.start_run("c", spec(), resolved("fp32"), "pixel_ap")
    store.end_run("c", "failed", "boom", resolved("fp32"))  # a later attempt that failed
    store.start_run("s1", spec(seed=1), resolved("fp32"), "pixel_ap")
    store.start_run("o", spec(steps=3), {}, "pixel_ap")  # another configuration

    found = {tuple(r.run_id for r in h.runs): h for h in histories(store.runs())}
    assert set(found) == {("early", "a", "b", "c"), ("s1",), ("o",)}
    four = found[("early", "a", "b", "c")]
    assert four.latest.run_id == "c" and four.kept.run_id == "b"
    assert [r.run_id for r in four.older] == ["early", "a", "c"]
    assert four.summary() == "4 attempts: failed, finished, finished, failed"
    assert found[("s1",)].summary() == "1 attempt"
    # the leaderboard's runs are the kept ones
    board = tabulate.build(store, resamples=0)
    used = {run_id for table in board.tables for row in table.rows for run_id in row.run_ids}
    assert used == {"b"}


def test_precisions_are_separate_histories_and_unknown_stays_apart_between_two(store):
    store.start_run("early", spec(), {}, "pixel_ap")
    store.start_run("a", spec(), resolved("fp32"), "pixel_ap")
    finish(store, "a", 0.5)
    store.start_run("b", spec(), resolved("bf16"), "pixel_ap")  # the same on other hardware
    finish(store, "b", 0.6)
    found = histories(store.runs())
    assert [[r.run_id for r in h.runs] for h in found] == [["early"], ["a"], ["b"]]
    board = tabulate.build(store, resamples=0)
    assert sorted(row.run_ids for row in board.tables[0].rows) == [("a",), ("b",)]


def test_a_resume_keeps_how_each_earlier_attempt_ended(store):
    store.start_run("r", spec(), {"seed": 0}, "pixel_ap")
    store.end_run("r", "interrupted", "SIGTERM", {"seed": 0})
    store.restart_run("r", {"seed": 0, "resumed": True})
    store.end_run("r", "failed", "boom", store.get_run("r").provenance)
    kept = store.restart_run("r", {"seed": 0, "resumed": True})
    assert [(e["status"], e["error"]) for e in kept["resumes"]] == [
        ("interrupted", "SIGTERM"),
        ("failed", "boom"),
    ]
    assert store.get_run("r").provenance["resumes"] == kept["resumes"]
    finish(store, "r", 0.5)
    (history,) = histories(store.runs())
    assert history.summary() == "3 attempts: interrupted, failed (resumed), finished (resumed)"


def test_delete_checks_again_inside_its_transaction(store, tmp_path):
    store.start_run("r", spec(), {}, "pixel_ap")
    store.end_run("r", "interrupted", "SIGTERM", {})
    store.start_run("keep", spec(seed=1), {}, "pixel_ap")
    finish(store, "keep", 0.5)
    chosen = select(store, ["r"])
    # resumed by another process after rm looked and before it deleted
    store.restart_run("r", {"owner": this_process()})
    with pytest.raises(StoreError, match="run r is running"):
        remove(store, chosen)
    assert {r.run_id for r in store.runs()} == {"r", "keep"}
    with pytest.raises(StoreError, match="no run 'gone'"):
        store.delete_runs(["keep", "gone"])
    assert {r.run_id for r in store.runs()} == {"r", "keep"}
    store.delete_runs(["keep"])
    assert [r.run_id for r in store.runs()] == ["r"]
    assert store.per_image("keep", "pixel_ap") == {} and store.metric_rows() == []


def test_older_attempts_and_status_narrow_the_selection(store):
    store.start_run("a", spec(), resolved("fp32"), "pixel_ap")
    store.end_run("a", "failed", "boom", resolved("fp32"))
    store.start_run("b", spec(), resolved("fp32"), "pixel_ap")
    finish(store, "b", 0.5)
    store.start_run("c", spec(seed=1), resolved("fp32"), "pixel_ap")
    store.end_run("c", "failed", "boom", resolved("fp32"))
    ids = lambda removals: sorted(r.record.run_id for r in removals)  # noqa: E731
    assert ids(select(store, [], older_attempts=True)) == ["a"]  # c is its history's latest
    assert ids(select(store, [], statuses=["failed"])) == ["a", "c"]
    assert ids(select(store, ["b", "c"], statuses=["failed"])) == ["c"]
    assert ids(select(store, ["a", "a"])) == ["a"]
