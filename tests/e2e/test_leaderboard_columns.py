"""``anobench leaderboard --metric``: the terminal table's columns, chosen by metric name or
short header, or all of them; an unknown name is one error line with suggestions."""

from __future__ import annotations

import pytest
from rich.cells import cell_len

from anobench.api import registry

from ..distributions import store_brightness_runs
from .conftest import one_line_error


@pytest.fixture(scope="module")
def home(tmp_path_factory, testplugins_root):
    """brightness on toy, as the quick profile has it and with options changed: run once, for
    the module's tests, which only read them."""
    extras = [[], ["--method-opt", "steps=3", "--time-budget", "1500"]]
    path = tmp_path_factory.mktemp("columns") / "home"
    return store_brightness_runs(path, testplugins_root, extras)


@pytest.fixture
def runs(home, testplugins, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")


def _header(invoke, *args: str) -> list[str]:
    """The header words of each table part, after checking the output fits 100 columns."""
    result = invoke("leaderboard", "--bootstrap", "0", *args)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(cell_len(line) for line in lines) <= 100 and "…" not in result.stdout
    return [w for line in lines if line.startswith("#  method") for w in line.split()]


def test_the_default_columns_are_the_key_metrics(invoke, runs):
    # toy declares no key metrics: its primary metric, then image and pixel AUROC
    words = _header(invoke)
    assert words[:6] == ["#", "method", "n", "pAP", "↑", "*"]
    assert "iAUROC" in words and "pAUROC" in words
    assert "iAP" not in words and "fit" not in words


def test_metric_names_or_short_headers_choose_the_columns(invoke, runs):
    for name in ("image_ap", "iAP"):
        words = _header(invoke, "--metric", name)
        assert "pAP" in words and "iAP" in words  # the primary metric stays
        assert "iAUROC" not in words and "pAUROC" not in words


def test_metric_all_shows_every_metric_and_the_costs(invoke, runs):
    words = _header(invoke, "--metric", "all")
    stored = [n for n in registry.names("metric") if n != "translation_mse_healthy"]
    for name in stored:
        assert registry.get_metric(name).short_name in words, name
    assert {"fit", "predict", "params"} <= set(words)


def test_an_unknown_metric_is_one_line_with_suggestions(invoke, runs):
    one_line_error(
        invoke("leaderboard", "--metric", "pixel_auroc", "--metric", "iAURC"),
        "--metric: unknown metric 'iAURC'",
        "Did you mean iAUROC",
        "image_auroc",
    )


def test_files_keep_every_metric(invoke, runs):
    result = invoke("leaderboard", "--format", "markdown", "--bootstrap", "0")
    header = result.stdout.splitlines()[2]
    for name in ("image_ap", "image_balanced_accuracy", "pixel_aupro", "pixel_dice_oracle"):
        assert f"| {name} " in header, name
