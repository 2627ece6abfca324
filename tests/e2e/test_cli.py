"""End to end through the CLI with click's runner, in a temporary home."""

from __future__ import annotations

import json
import traceback

import pytest
from click.testing import CliRunner

from anobench.cli import cli

from .conftest import one_line_error


def test_list_shows_builtins_third_party_and_broken(invoke, testplugins):
    result = invoke("list", "--format", "json")
    assert result.exit_code == 0
    rows = {(r["kind"], r["name"]): r for r in json.loads(result.stdout)}
    assert rows[("method", "meandiff")]["status"] == "ok"
    assert rows[("dataset", "synthetic")]["distribution"] == "anobench"
    assert rows[("method", "brightness")]["distribution"] == "anobench-testplugins"
    assert rows[("method", "broken")]["status"] == "broken"
    assert "broken on purpose" in rows[("method", "broken")]["error"]
    assert rows[("metric", "pixel_dice_oracle")]["oracle"] is True
    text = invoke("list", "--kind", "method")
    assert text.exit_code == 0 and "brightness" in text.stdout and "broken" in text.stdout


def test_third_party_plugin_runs_twice_and_aggregates(invoke, testplugins, home):
    runs = []
    for seed in (0, 1):
        result = invoke(
            "--quiet",
            "run",
            "-m",
            "brightness",
            "-d",
            "toy",
            "--seed",
            str(seed),
            "--device",
            "cpu",
            "--format",
            "json",
        )
        assert result.exit_code == 0, result.output
        runs.append(json.loads(result.stdout))
    assert runs[0]["config_hash"] == runs[1]["config_hash"]
    assert [r["spec"]["seed"] for r in runs] == [0, 1]

    board = json.loads(invoke("leaderboard", "--format", "json").stdout)
    assert len(board) == 1 and board[0]["n"] == 2 and board[0]["seeds"] == "0 1"
    values = [r["metrics"]["pixel_ap"] for r in runs]
    assert board[0]["pixel_ap_mean"] == pytest.approx(sum(values) / 2)

    md = invoke("leaderboard", "--format", "markdown").stdout
    assert "| 1 | brightness (quick) | 2 † |" in md and "±" in md

    out = home / "board.html"
    assert invoke("leaderboard", "--format", "html", "--output", str(out)).exit_code == 0
    assert "<table" in out.read_text() and "brightness" in out.read_text()

    shown = json.loads(invoke("show", runs[0]["run_id"][:8], "--format", "json").stdout)
    assert shown["run_id"] == runs[0]["run_id"]
    assert shown["provenance"]["dataset_fingerprint"]


def test_run_text_output_names_the_figure(invoke, testplugins):
    result = invoke("--quiet", "run", "-m", "brightness", "-d", "toy", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "pixel_ap" in result.stdout
    assert "panel.png" in result.stdout
    listing = invoke("show")
    assert "brightness" in listing.stdout and "finished" in listing.stdout


def test_unknown_method_suggests(invoke):
    one_line_error(invoke("run", "-m", "meandif", "-d", "synthetic"), "Did you mean 'meandiff'")


def test_missing_dataset_files_are_one_line_and_store_no_run(invoke, monkeypatch):
    monkeypatch.delenv("ANOBENCH_CHEXPERT_ROOT", raising=False)
    result = invoke("run", "-m", "meandiff", "-d", "chexpert")
    one_line_error(result, "no CheXpert folder given", "ANOBENCH_CHEXPERT_ROOT")
    assert json.loads(invoke("show", "--format", "json").stdout) == []


def test_bad_method_option(invoke):
    one_line_error(
        invoke("run", "-m", "zscore", "-d", "synthetic", "--method-opt", "min_std=abc"),
        "option 'min_std' expects float",
    )
    one_line_error(
        invoke("run", "-m", "zscore", "-d", "synthetic", "--method-opt", "minstd=1"),
        "unknown option 'minstd'",
        "min_std",
    )


def test_bad_dataset_option_and_device(invoke):
    one_line_error(
        invoke("run", "-m", "zscore", "-d", "synthetic", "--dataset-opt", "image_size=48"),
        "image_size",
    )
    one_line_error(invoke("run", "-m", "zscore", "-d", "synthetic", "--device", "tpu"), "--device")


@pytest.mark.parametrize("method", ["failing", "nanmaps", "badshape"])
def test_failing_plugin_is_one_line_and_stored_as_failed(invoke, testplugins, method):
    assert invoke("-q", "run", "-m", "brightness", "-d", "toy", "--device", "cpu").exit_code == 0
    one_line_error(invoke("-q", "run", "-m", method, "-d", "toy", "--device", "cpu"), method)
    runs = json.loads(invoke("show", "--format", "json").stdout)
    assert sorted(r["status"] for r in runs) == ["failed", "finished"]
    assert len(json.loads(invoke("leaderboard", "--format", "json").stdout)) == 1


def test_debug_shows_the_traceback(home, testplugins):
    args = ["--home", str(home), "-q", "run", "-m", "failing", "-d", "toy"]
    plain = CliRunner().invoke(cli, args)
    assert plain.exit_code != 0 and "Traceback" not in plain.output
    result = CliRunner().invoke(cli, ["--debug", *args])
    assert result.exit_code != 0
    # the exception escapes to the interpreter, which prints it with every frame down to fit()
    shown = "".join(traceback.format_exception(*result.exc_info))
    assert shown.startswith("Traceback (most recent call last)")
    assert 'anobench_testplugins.py", line' in shown and "in fit" in shown
    assert "RuntimeError: boom in fit" in shown


def test_corrupt_store_is_one_line_and_not_overwritten(invoke, home):
    home.mkdir(parents=True)
    (home / "store.sqlite").write_bytes(b"garbage" * 50)
    one_line_error(invoke("leaderboard"), "store.sqlite", "not a usable anobench store")
    assert (home / "store.sqlite").read_bytes() == b"garbage" * 50


def test_unwritable_output_file(invoke, testplugins, home):
    invoke("-q", "run", "-m", "brightness", "-d", "toy", "--device", "cpu")
    (home / "blocker").write_text("x")
    one_line_error(
        invoke("leaderboard", "--format", "csv", "--output", str(home / "blocker" / "x.csv")),
        "--output",
    )


def test_empty_leaderboard_says_how_to_start(invoke):
    result = invoke("leaderboard")
    assert result.exit_code == 0
    assert "anobench run" in result.stderr


def test_empty_store_show_says_how_to_start(invoke):
    result = invoke("show")
    assert result.exit_code == 0
    assert "no runs stored yet" in result.stderr and "anobench run" in result.stderr


def test_resume_flag_continues_an_interrupted_run(invoke, testplugins, monkeypatch):
    monkeypatch.setenv("TESTPLUGINS_INTERRUPT_AT", "2")
    stopped = invoke("-q", "run", "-m", "brightness", "-d", "toy", "--device", "cpu")
    assert stopped.exit_code == 130
    (run,) = json.loads(invoke("show", "--format", "json").stdout)
    assert run["status"] == "interrupted"
    monkeypatch.delenv("TESTPLUGINS_INTERRUPT_AT")
    resumed = invoke("-q", "run", "--resume", run["run_id"], "--format", "json")
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["run_id"] == run["run_id"]
    one_line_error(invoke("run", "--resume", run["run_id"]), "already finished")
    one_line_error(invoke("run", "-m", "brightness"), "--dataset")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--time-budget", "nan"], ["--time-budget", "nan"]),
        (["--time-budget", "inf"], ["--time-budget", "inf"]),
        (["--time-budget", "0"], ["--time-budget", "> 0"]),
        (["--max-steps", "0"], ["--max-steps", ">= 1"]),
        (["--seed", "-1"], ["--seed", ">= 0", "-1"]),
        (["--method-opt", "min_std=nan"], ["zscore", "'min_std'", "finite", "nan"]),
    ],
)
def test_run_rejects_non_finite_and_out_of_range_numbers(invoke, args, fragments):
    result = invoke("run", "-m", "zscore", "-d", "synthetic", *args)
    one_line_error(result, *fragments)
    assert json.loads(invoke("show", "--format", "json").stdout) == []


def test_unknown_run_id_hints_at_a_command_that_exists(invoke):
    result = invoke("show", "nosuchrun")
    one_line_error(result, "no run 'nosuchrun'", "'anobench show' lists the stored runs")
    assert "--list" not in result.stderr


def test_leaderboard_filters_and_metrics_that_match_nothing_are_errors(invoke, testplugins):
    assert invoke("-q", "run", "-m", "brightness", "-d", "toy", "--device", "cpu").exit_code == 0
    one_line_error(invoke("leaderboard", "--dataset", "nosuch"), "'nosuch'", "toy")
    one_line_error(invoke("leaderboard", "--method", "nosuch"), "'nosuch'", "brightness")
    one_line_error(
        invoke("leaderboard", "--metric", "pixel_aq"),
        "unknown metric 'pixel_aq'",
        "Did you mean pixel_ap",
        "image_auroc",
    )
    ok = invoke("leaderboard", "--dataset", "toy", "--method", "brightness", "--metric", "pixel_ap")
    assert ok.exit_code == 0 and "brightness" in ok.stdout


def test_a_finished_configuration_and_seed_is_not_run_again_unless_rerun(
    invoke, testplugins, home, monkeypatch
):
    from anobench.api.home import store_path
    from anobench.results import tabulate
    from anobench.results.store import Store
    from anobench.results.store import store as store_module

    clock = iter(f"2026-01-01T00:{m:02d}:00+00:00" for m in range(60))
    monkeypatch.setattr(store_module, "now", lambda: next(clock))
    args = ("run", "-m", "brightness", "-d", "toy", "--device", "cpu", "--format", "json")
    first = invoke("--quiet", *args)
    assert first.exit_code == 0, first.output
    run_id = json.loads(first.stdout)["run_id"]

    again = invoke("--quiet", *args)
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["run_id"] == run_id  # the stored result, on stdout
    assert f"already finished: run {run_id} (use --rerun to run it again)" in again.stderr
    with Store(store_path(home)) as store:
        assert [r.run_id for r in store.runs()] == [run_id]

    text = invoke("--quiet", *args[:-2])
    assert text.exit_code == 0 and "already finished" in text.output and run_id in text.output

    rerun = invoke("--quiet", *args, "--rerun")
    assert rerun.exit_code == 0, rerun.output
    new_id = json.loads(rerun.stdout)["run_id"]
    assert new_id != run_id and "already finished" not in rerun.stderr
    with Store(store_path(home)) as store:
        assert sorted(r.run_id for r in store.runs()) == sorted([run_id, new_id])
        (row,) = tabulate.build(store, resamples=0).tables[0].rows
    assert row.run_ids == (new_id,) and row.seeds == (0,)
    board = json.loads(invoke("leaderboard", "--format", "json", "--bootstrap", "0").stdout)
    assert board[0]["n"] == 1
    page = home / "report"
    assert invoke("report", "--output", str(page), "--bootstrap", "0").exit_code == 0
    html = (page / "index.html").read_text()
    assert f"run {new_id}" in html and f"run {run_id}" not in html  # only the counted run
