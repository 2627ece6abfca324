"""Repeated attempts of one configuration and seed read as one history; ``rm`` deletes runs."""

from __future__ import annotations

import json

from anobench.api.context import CHECKPOINT
from anobench.api.home import runs_dir, store_path
from anobench.api.liveness import this_process
from anobench.api.records import RunSpec
from anobench.results.store import Store

from .conftest import one_line_error

RUN = ("-q", "run", "-m", "brightness", "-d", "toy", "--device", "cpu", "--format", "json")


def _ids(invoke) -> set[str]:
    shown = invoke("show", "--format", "json").stdout  # nothing before there is a store
    return {r["run_id"] for r in json.loads(shown or "[]")}


def _interrupted_without_checkpoint(invoke, home, monkeypatch) -> str:
    """An interrupted attempt that leaves no checkpoint, so the next run is a new attempt."""
    before = _ids(invoke)
    monkeypatch.setenv("TESTPLUGINS_INTERRUPT_AT", "2")
    assert invoke(*RUN).exit_code == 130
    monkeypatch.delenv("TESTPLUGINS_INTERRUPT_AT")
    after = _ids(invoke)
    (run_id,) = after - before
    (runs_dir(home) / run_id / CHECKPOINT).unlink()
    return run_id


def _three_attempts(invoke, home, monkeypatch) -> list[str]:
    first = _interrupted_without_checkpoint(invoke, home, monkeypatch)
    second = _interrupted_without_checkpoint(invoke, home, monkeypatch)
    done = invoke(*RUN)
    assert done.exit_code == 0, done.output
    return [first, second, json.loads(done.stdout)["run_id"]]


def test_three_attempts_are_one_history_line(invoke, testplugins, home, monkeypatch):
    ids = _three_attempts(invoke, home, monkeypatch)
    assert len(set(ids)) == 3  # three run rows, not one resumed row
    listing = invoke("show")
    assert listing.exit_code == 0, listing.output
    lines = [line for line in listing.stdout.splitlines() if "brightness" in line]
    assert len(lines) == 1, listing.stdout
    assert ids[2] in lines[0] and "finished" in lines[0]
    assert "3 attempts: interrupted, interrupted, finished" in lines[0]

    one = invoke("show", ids[0])
    assert one.exit_code == 0, one.output
    assert "3 attempts" in one.stdout
    assert all(run_id in one.stdout for run_id in ids)
    assert f"{ids[2]} finished" in one.stdout and "used by the leaderboard" in one.stdout
    record = json.loads(invoke("show", ids[1], "--format", "json").stdout)
    assert record["attempts"] == ids

    board = json.loads(invoke("leaderboard", "--format", "json", "--bootstrap", "0").stdout)
    assert board[0]["n"] == 1
    page = home / "report"
    assert invoke("report", "--output", str(page), "--bootstrap", "0").exit_code == 0
    html = (page / "index.html").read_text()
    assert ids[2] in html and ids[0] not in html and ids[1] not in html


def test_a_resumed_run_shows_what_it_resumed_from(invoke, testplugins, monkeypatch):
    monkeypatch.setenv("TESTPLUGINS_INTERRUPT_AT", "2")
    assert invoke(*RUN).exit_code == 130
    monkeypatch.delenv("TESTPLUGINS_INTERRUPT_AT")
    (run,) = json.loads(invoke("show", "--format", "json").stdout)
    assert invoke("-q", "run", "--resume", run["run_id"]).exit_code == 0
    listing = invoke("show").stdout
    assert "2 attempts: interrupted, finished (resumed)" in listing
    one = invoke("show", run["run_id"]).stdout
    assert "resumed from its checkpoint" in one and "interrupted at" in one


def test_unfinished_attempts_of_a_history_are_one_report_row(
    invoke, testplugins, home, monkeypatch
):
    first = _interrupted_without_checkpoint(invoke, home, monkeypatch)
    second = _interrupted_without_checkpoint(invoke, home, monkeypatch)
    page = home / "report"
    assert invoke("report", "--output", str(page), "--bootstrap", "0").exit_code == 0
    html = (page / "index.html").read_text()
    assert html.count("<td>interrupted</td>") == 1
    assert second in html and "2 attempts" in html
    assert first in html  # named among the attempts of that row


def test_rm_deletes_rows_and_folder_and_dry_run_deletes_nothing(
    invoke, testplugins, home, monkeypatch
):
    ids = _three_attempts(invoke, home, monkeypatch)
    dry = invoke("rm", "--older-attempts", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert sorted(line.split()[2] for line in dry.stdout.splitlines()) == sorted(ids[:2])
    assert all((runs_dir(home) / run_id).is_dir() for run_id in ids)
    with Store(store_path(home)) as store:
        assert len(store.runs()) == 3

    gone = invoke("rm", ids[2])
    assert gone.exit_code == 0, gone.output
    assert gone.stdout.startswith(f"deleted {ids[2]} finished brightness on toy")
    assert not (runs_dir(home) / ids[2]).exists()
    with Store(store_path(home)) as store:
        assert sorted(r.run_id for r in store.runs()) == sorted(ids[:2])
        assert store.metric_rows() == [] and store.evidence(ids[2]) is None
        assert store._db.execute("SELECT COUNT(*) FROM per_image").fetchone()[0] == 0
    assert (runs_dir(home) / ids[0]).is_dir()  # nothing else touched

    assert invoke("rm", "--status", "interrupted").exit_code == 0
    assert json.loads(invoke("show", "--format", "json").stdout) == []
    assert not any((runs_dir(home) / run_id).exists() for run_id in ids)


def test_rm_refuses_unknown_ids_and_running_runs(invoke, testplugins, home):
    assert invoke(*RUN).exit_code == 0
    (kept,) = json.loads(invoke("show", "--format", "json").stdout)
    one_line_error(invoke("rm", kept["run_id"], "nosuchrun"), "no run 'nosuchrun'", "nothing")
    with Store(store_path(home)) as store:
        spec = RunSpec("toy", "brightness", {}, {}, seed=7)
        store.start_run("live1", spec, {"owner": this_process()}, "pixel_ap")
    one_line_error(invoke("rm", "live1"), "live1", "running")
    one_line_error(invoke("rm", kept["run_id"], "live1"), "running")
    one_line_error(invoke("rm"), "RUN_ID", "--status")
    with Store(store_path(home)) as store:
        assert sorted(r.run_id for r in store.runs()) == sorted([kept["run_id"], "live1"])
    assert (runs_dir(home) / kept["run_id"]).is_dir()


def test_rm_without_a_store_creates_none(invoke, home):
    one_line_error(invoke("rm", "abc"), "nothing to delete")
    assert not store_path(home).exists()
