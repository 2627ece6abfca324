"""Labels say what ran: a run with overrides is named by its profile and what it changed, in
every leaderboard format and the report; JSON and CSV carry the changes as fields."""

from __future__ import annotations

import csv
import html
import io
import json
import shutil
import sqlite3

import pytest

from anobench.api import registry
from anobench.api.home import store_path
from anobench.results.render import FORMATS

from ..distributions import store_brightness_runs

PLAIN = "brightness (quick)"
CHANGED = "brightness (quick; steps=3, time_budget=1500)"


@pytest.fixture(scope="module")
def stored(tmp_path_factory, testplugins_root):
    """brightness on toy as the quick profile has it, with a method option and a time budget
    changed, and on toy with fewer images: run once for the module, in a home of its own."""
    extras = [[], ["--method-opt", "steps=3", "--time-budget", "1500"], ["--dataset-opt", "n=4"]]
    home = tmp_path_factory.mktemp("labels") / "home"
    return store_brightness_runs(home, testplugins_root, extras)


@pytest.fixture
def runs(stored, home, testplugins):
    """The module's runs in this test's home: a copy (a home can be copied; its store keeps
    run folders relative to it), which the test may change."""
    shutil.copytree(stored, home)


def _board(invoke, fmt: str) -> str:
    result = invoke("leaderboard", "--format", fmt, "--bootstrap", "0")
    assert result.exit_code == 0, result.output
    return result.stdout


def test_every_format_labels_the_changes(invoke, runs, home):
    assert set(FORMATS) == {"rich", "markdown", "csv", "json", "html"}
    for fmt in ("rich", "markdown", "html"):
        text = _board(invoke, fmt)
        for label in (PLAIN, CHANGED, "toy (quick) [", "toy (quick; n=4) ["):
            assert html.escape(label) in text if fmt == "html" else label in text, (fmt, label)
        # the changed run is no longer told apart by a hash only
        assert f"{PLAIN} [" not in text
    md = _board(invoke, "markdown")
    assert f"| {CHANGED} |" in md and f"| {PLAIN} |" in md
    assert invoke("report", "--bootstrap", "0").exit_code == 0
    page = (home / "report" / "index.html").read_text()
    assert html.escape(CHANGED) in page and html.escape("toy (quick; n=4)") in page


def test_show_names_what_each_run_changed(invoke, runs):
    result = invoke("show")
    assert result.exit_code == 0, result.output
    assert "quick; steps=3, time_budget=1500" in result.stdout
    # the plain quick run shows the bare profile, nothing invented
    lines = [line for line in result.stdout.splitlines() if "brightness" in line]
    assert any("quick " in line and "steps=" not in line for line in lines)


def test_json_and_csv_carry_the_overrides(invoke, runs):
    rows = {(r["dataset_label"], r["label"]): r for r in json.loads(_board(invoke, "json"))}
    assert set(rows) == {
        ("toy (quick)", PLAIN),
        ("toy (quick)", CHANGED),
        ("toy (quick; n=4)", PLAIN),
    }
    assert rows[("toy (quick)", CHANGED)]["overrides"] == {"steps": 3, "time_budget": 1500}
    assert rows[("toy (quick)", PLAIN)]["overrides"] == {}
    assert rows[("toy (quick)", PLAIN)]["dataset_overrides"] == {}
    assert rows[("toy (quick; n=4)", PLAIN)]["dataset_overrides"] == {"n": 4}
    table = list(csv.DictReader(io.StringIO(_board(invoke, "csv"))))
    changed = next(r for r in table if r["label"] == CHANGED)
    assert changed["overrides"] == "steps=3; time_budget=1500"
    assert changed["dataset_overrides"] == ""
    small = next(r for r in table if r["dataset_label"] == "toy (quick; n=4)")
    assert small["dataset_overrides"] == "n=4" and small["overrides"] == ""


def test_a_changed_option_back_at_the_profile_value_is_no_change(invoke, testplugins):
    # steps=10 is the paper profile's own value
    for extra in (["--method-opt", "steps=10"], []):
        result = invoke(
            "--quiet", "run", "-m", "brightness", "-d", "toy", "--profile", "paper", *extra
        )
        assert result.exit_code == 0, result.output
    (row,) = json.loads(_board(invoke, "json"))
    assert row["label"] == "brightness (paper)" and row["overrides"] == {} and row["n"] == 1
    assert row["dataset_label"] == "toy (paper)"


def test_runs_stored_without_overrides_are_worked_out_from_the_profiles(invoke, runs, home):
    with sqlite3.connect(store_path(home)) as db:
        for run_id, text in db.execute("SELECT run_id, provenance_json FROM runs").fetchall():
            provenance = json.loads(text)
            assert "overrides" in provenance
            del provenance["overrides"]
            db.execute(
                "UPDATE runs SET provenance_json = ? WHERE run_id = ?",
                (json.dumps(provenance), run_id),
            )
    rows = json.loads(_board(invoke, "json"))
    assert sorted(r["label"] for r in rows) == [PLAIN, PLAIN, CHANGED]
    assert {json.dumps(r["overrides"], sort_keys=True) for r in rows} == {
        "{}",
        '{"steps": 3, "time_budget": 1500.0}',
    }


def test_list_options_shows_every_profile(invoke, testplugins):
    result = invoke("list", "--kind", "method", "--kind", "dataset", "--format", "json")
    rows = {(r["kind"], r["name"]): r for r in json.loads(result.stdout)}
    # the quick profile of a real method, not the declared (paper) default
    quick = registry.get("method", "descargan").profiles["quick"]["epochs"]
    epochs = rows[("method", "descargan")]["options"]["epochs"]
    assert epochs["profiles"]["quick"] == quick != epochs["default"] == epochs["profiles"]["paper"]
    synthetic = rows[("dataset", "synthetic")]["options"]["n_train"]
    assert (
        synthetic["profiles"]["paper"]
        == registry.get("dataset", "synthetic").profiles["paper"]["n_train"]
    )
    steps = rows[("method", "brightness")]["options"]["steps"]
    assert steps["default"] == 5 and steps["profiles"] == {"quick": 5, "paper": 10}
    text = invoke("list", "brightness", "--options").stdout
    assert "method brightness: options" in text
    header = next(line for line in text.splitlines() if "description" in line)
    cells = [c.strip() for c in header.split("┃")[1:-1]]
    assert cells == ["option", "type", "quick", "paper", "description"]
    row = next(line for line in text.splitlines() if "training steps" in line)
    assert [c.strip() for c in row.split("│")[1:5]] == ["steps", "int", "5", "10"]
