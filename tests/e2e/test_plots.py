"""Comparison plots from a real store: what each plot draws, ``leaderboard --plot DIR`` and the
report's comparison section, figure links and what-ran-where header."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from click.testing import CliRunner

from anobench.cli import cli
from anobench.results import evidence, plots, tabulate
from anobench.results.store import Store

from .conftest import one_line_error

TINY = ["--dataset-opt", "image_size=32", "--dataset-opt", "n_train=20",
        "--dataset-opt", "n_val=6", "--dataset-opt", "n_test=10"]  # fmt: skip
METHODS = ("meandiff", "zscore")
RESAMPLES = "200"


def _invoke(home, *args, ok=True):
    result = CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    path = tmp_path_factory.mktemp("plots") / "home"
    for method in METHODS:
        for seed in (0, 1):
            _invoke(path, "-q", "run", "-m", method, "-d", "synthetic", "--seed", str(seed), *TINY)
    return path


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def table_and_store(home):
    with Store(home / "store.sqlite", readonly=True) as store:
        board = tabulate.build(store, resamples=int(RESAMPLES))
        yield board.tables[0], store


def _curves(ax):
    return [line for line in ax.lines if line.get_gid() != "chance"]


def test_forest_bars_are_the_leaderboard_json_intervals(home, table_and_store):
    table, _ = table_and_store
    rows = json.loads(
        _invoke(home, "leaderboard", "--format", "json", "--bootstrap", RESAMPLES).stdout
    )
    metric = table.primary_metric
    plot = plots.forest(table)
    (ax,) = plot.figure.axes
    (bars,) = [c for c in ax.collections if c.get_gid() == "interval"]
    (means,) = [line for line in ax.lines if line.get_gid() == "mean"]
    # best first: the top bar (largest y) is rank 1
    by_height = sorted(zip(bars.get_segments(), means.get_xdata(), means.get_ydata(), strict=True),
                       key=lambda s: -s[2])  # fmt: skip
    expected = sorted(rows, key=lambda r: r["rank"])
    assert len(by_height) == len(expected) == len(METHODS)
    ticks = zip(ax.get_yticks(), [t.get_text() for t in ax.get_yticklabels()], strict=True)
    labels = [text for _, text in sorted(ticks, key=lambda t: -t[0])]
    for (segment, mean, _), rec, label in zip(by_height, expected, labels, strict=True):
        (low, _), (high, _) = segment
        assert low == rec[f"{metric}_ci_low"] and high == rec[f"{metric}_ci_high"]
        assert mean == rec[f"{metric}_mean"]
        assert label.startswith(rec["label"])
    assert metric in ax.get_xlabel() and "95% bootstrap interval" in plot.caption


@pytest.mark.parametrize("level", ["image", "pixel"])
def test_roc_and_pr_draw_one_curve_per_method_on_unit_axes(table_and_store, level):
    table, store = table_and_store
    shown = evidence.shown_runs(store, table)
    plot = getattr(plots, f"{level}_curves")(table, shown)
    roc_ax, pr_ax = plot.figure.axes[:2]
    for ax in (roc_ax, pr_ax):
        assert len(_curves(ax)) == len(table.rows) == len(METHODS)
        assert ax.get_xlim() == (0, 1) and ax.get_ylim() == (0, 1)
    # each curve's area is the stored metric of the run it draws
    for s, line in zip(shown, _curves(roc_ax), strict=True):
        stored = store.metric_details(s.run_id, f"{level}_auroc")[0]
        assert f"AUROC {stored:.3f}" in line.get_label() and s.label in line.get_label()
    for s, line in zip(shown, _curves(pr_ax), strict=True):
        assert f"AP {store.metric_details(s.run_id, f'{level}_ap')[0]:.3f}" in line.get_label()
    assert "median seed by" in plot.caption and plot.alt


def test_score_histograms_count_each_class_per_method(table_and_store):
    table, store = table_and_store
    plot = plots.score_histograms(table, evidence.shown_runs(store, table))
    axes = [ax for ax in plot.figure.axes if ax.get_visible()]
    assert len(axes) == len(METHODS)
    for ax in axes:
        healthy, diseased = ax.containers
        # tiny synthetic: n_test=10 per class
        assert sum(p.get_height() for p in healthy) == 10
        assert sum(p.get_height() for p in diseased) == 10
        assert [t.get_text() for t in ax.get_legend().get_texts()] == [
            "healthy (10)",
            "diseased (10)",
        ]


def test_leaderboard_plot_writes_png_and_svg(home, tmp_path):
    out = tmp_path / "plots"
    result = _invoke(home, "leaderboard", "--bootstrap", "50", "--plot", str(out))
    names = sorted(p.name for p in out.iterdir())
    stems = ["forest", "image-curves", "pixel-curves", "score-histograms"]
    (slug,) = [n.removesuffix("-forest.png") for n in names if n.endswith("-forest.png")]
    assert re.fullmatch(r"synthetic-[0-9a-f]{6}", slug)
    assert names == sorted(f"{slug}-{s}.{fmt}" for s in stems for fmt in ("png", "svg"))
    for name in names:
        data = (out / name).read_bytes()
        assert data.startswith(b"\x89PNG") if name.endswith(".png") else b"<svg" in data[:1000]
    assert f"wrote 8 plot files to {out}" in result.stderr
    assert "rank" in result.stdout  # the table is still shown


def test_leaderboard_plot_into_a_file_is_one_error(home, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = _invoke(home, "leaderboard", "--bootstrap", "0", "--plot", str(blocker), ok=False)
    one_line_error(result, "--plot", str(blocker), "is a file")
    assert blocker.read_text() == "x"


def _comparison(page: str) -> str:
    return page.split('<section id="comparison">', 1)[1].split("</section>", 1)[0]


def test_report_shows_the_plots_with_alt_text_and_links_to_full_size(home, tmp_path):
    out = tmp_path / "report"
    _invoke(home, "report", "-o", str(out), "--bootstrap", "100")
    page = (out / "index.html").read_text()
    section = _comparison(page)
    images = re.findall(r'<a class="full" href="([^"]+)"><img src="([^"]+)" alt="([^"]+)"', section)
    assert len(images) == 4
    for href, src, alt in images:
        assert href == src and (out / href).is_file() and len(alt) > 40
    assert "Forest plot of pixel_ap" in section and "median seed by pixel_ap" in section
    assert len(re.findall(r'<a href="(figures/[^"]+\.svg)">SVG</a>', section)) == 4
    # every run's panel is a link to its full-resolution file
    panels = re.findall(r'<a class="full" href="([^"]+)"><img [^>]*data-run="([^"]+)"', page)
    assert len(panels) == 4
    for href, run_id in panels:
        assert href == f"figures/{run_id}-panel.png" and (out / href).is_file()
        assert (out / href).read_bytes() == (home / "runs" / run_id / "panel.png").read_bytes()


def test_report_header_says_what_ran_where(home, tmp_path):
    import torch

    out = tmp_path / "report"
    _invoke(home, "report", "-o", str(out), "--bootstrap", "0")
    header = (out / "index.html").read_text().split("</header>", 1)[0]
    assert "What ran where" in header
    with Store(home / "store.sqlite", readonly=True) as store:
        prov = store.runs()[0].provenance
    # all four runs ran in one place with one setting: one row
    row = re.findall(r"<tr><td>4</td>(.*?)</tr>", header)
    assert len(row) == 1
    for value in (prov["hostname"], torch.__version__, "method&#x27;s own", "1 of", prov["python"]):
        assert value in row[0], value


def test_embedded_report_opens_figures_in_a_zoom_view(home, tmp_path):
    out = tmp_path / "report"
    _invoke(home, "report", "-o", str(out), "--bootstrap", "0", "--embed")
    page = (out / "index.html").read_text()
    links = re.findall(r'<a class="full" href="#zoom" data-embedded><img src="data:image/png', page)
    assert len(links) == 4 + 4 and '<div id="zoom" hidden' in page
    assert not Path(out / "figures").exists()


def test_runs_without_evidence_get_a_forest_and_say_why_no_curves(home, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(home, old)
    # runs stored before store schema 2 have no evidence
    with sqlite3.connect(old / "store.sqlite") as db:
        db.execute("DELETE FROM evidence")
    out = tmp_path / "plots"
    _invoke(old, "leaderboard", "--bootstrap", "50", "--plot", str(out))
    assert sorted(p.name.split("-", 2)[2] for p in out.iterdir()) == ["forest.png", "forest.svg"]
    _invoke(old, "report", "-o", str(tmp_path / "report"), "--bootstrap", "50")
    section = _comparison((tmp_path / "report" / "index.html").read_text())
    assert section.count("<img ") == 1
    assert "no image ROC/PR curves or score histograms: the runs stored no evidence" in section
    assert "No interval: meandiff (quick), zscore (quick)." in section
