"""The statistics of a reviewer through the CLI: DeLong's p vs best for image AUROC, corrected
for multiple comparisons in every format, and the critical-difference diagram across datasets
(``leaderboard --plot``, ``report``), from a store written directly (no training)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from sklearn.metrics import roc_auc_score

from anobench import MetricResult
from anobench.api.records import RunSpec
from anobench.cli import cli
from anobench.results import delong
from anobench.results.resampling import Evidence
from anobench.results.store import Store

AUROC = SimpleNamespace(level="image", higher_is_better=True, oracle=False, resample="image_auroc")
N = 40
LABELS = np.r_[np.ones(N // 2), np.zeros(N // 2)].astype(np.int8)
IDS = tuple(f"img-{i:03d}" for i in range(N))
#: how far each method's scores separate the classes
METHODS = {"good": 1.5, "fair": 0.8, "weak": 0.3, "poor": 0.1}


def _scores(method: str, size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([size, seed, list(METHODS).index(method)])
    return METHODS[method] * LABELS + rng.normal(size=N)


def _home(tmp_path, sizes=(16, 24)):
    home = tmp_path / "home"
    home.mkdir()
    with Store(home / "store.sqlite") as store:
        for size in sizes:
            for method in METHODS:
                for seed in (0, 1):
                    spec = RunSpec("toy", method, {"size": size}, {}, seed=seed)
                    run_id = f"{method}-{size}-{seed}"
                    scores = _scores(method, size, seed)
                    store.start_run(run_id, spec, {"seed": seed}, "image_auroc")
                    value = float(roc_auc_score(LABELS, scores))
                    store.finish_run(
                        run_id,
                        {"image_auroc": (AUROC, MetricResult(value))},
                        {"seed": seed},
                        evidence=Evidence(IDS, LABELS, scores).to_bytes(),
                    )
    return home


@pytest.fixture
def no_table_plots(monkeypatch):
    """The per-dataset plots (forest, curves, histograms; tested elsewhere) cost seconds."""
    from anobench.results import plots

    monkeypatch.setattr(plots, "table_plots", lambda store, table: [])


def _invoke(home, *args):
    result = CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def _holm_by_hand(p: list[float]) -> list[float]:
    order = sorted(range(len(p)), key=lambda i: p[i])
    out, running = [0.0] * len(p), 0.0
    for step, i in enumerate(order):
        running = max(running, min(1.0, p[i] * (len(p) - step)))
        out[i] = running
    return out


def test_delong_p_vs_best_corrected_in_csv_json_markdown_and_html(tmp_path):
    home = _home(tmp_path, sizes=(16,))
    records = json.loads(_invoke(home, "leaderboard", "--format", "json").stdout)
    best = next(r for r in records if r["p_note"] == "best")
    others = [r for r in records if r["p_note"] != "best"]
    labels = LABELS == 1
    for rec in others:
        got = delong.paired(
            np.vstack([_scores(best["method"], 16, s) for s in (0, 1)]),
            np.vstack([_scores(rec["method"], 16, s) for s in (0, 1)]),
            labels,
        )
        assert rec["p_test"] == "DeLong" and rec["p_vs_best"] == pytest.approx(got.p)
        assert rec["diff_vs_best"] == pytest.approx(
            best["image_auroc_mean"] - rec["image_auroc_mean"]
        )
        assert rec["diff_vs_best_ci_low"] < rec["diff_vs_best"] < rec["diff_vs_best_ci_high"]
        assert rec["p_correction"] == "holm" and rec["p_comparisons"] == 3
    expected = _holm_by_hand([r["p_vs_best"] for r in others])
    assert [r["p_vs_best_corrected"] for r in others] == pytest.approx(expected)
    assert any(r["p_vs_best_corrected"] > r["p_vs_best"] for r in others)

    # DeLong needs no bootstrap: the same p-values with the intervals off
    off = json.loads(_invoke(home, "leaderboard", "--format", "json", "--bootstrap", "0").stdout)
    assert [r["p_vs_best"] for r in off] == [r["p_vs_best"] for r in records]

    from anobench.results.render import fmt_p

    md = _invoke(home, "leaderboard", "--format", "markdown").stdout
    assert "p vs best (DeLong, Holm)" in md and "Holm-corrected (step-down" in md
    assert "over the 3 comparisons" in md and "Δ best − row [95% CI]" in md
    for rec in others:
        assert f"| {fmt_p(rec['p_vs_best_corrected'])} |" in md
    html = _invoke(home, "leaderboard", "--format", "html").stdout
    assert "p vs best (DeLong, Holm)" in html and "Holm-corrected" in html
    csv = _invoke(home, "leaderboard", "--format", "csv").stdout
    assert "p_vs_best_corrected" in csv.splitlines()[0]
    terminal = _invoke(home, "leaderboard").stdout
    assert "Holm-corrected" in terminal
    for rec in others:
        assert fmt_p(rec["p_vs_best_corrected"]) in terminal

    raw = _invoke(home, "leaderboard", "--format", "markdown", "--correction", "none").stdout
    assert "p vs best (DeLong)" in raw and "not corrected for multiple comparisons" in raw
    for rec in others:
        assert f"| {fmt_p(rec['p_vs_best'])} |" in raw
    bonf = json.loads(
        _invoke(home, "leaderboard", "--format", "json", "--correction", "bonferroni").stdout
    )
    for rec in (r for r in bonf if r["p_note"] != "best"):
        assert rec["p_vs_best_corrected"] == pytest.approx(min(1.0, 3 * rec["p_vs_best"]))


def test_cd_diagram_across_two_datasets(tmp_path, no_table_plots):
    home = _home(tmp_path)
    folder = tmp_path / "plots"
    result = _invoke(home, "leaderboard", "--format", "markdown", "--plot", str(folder))
    assert (
        "Friedman test (scipy" in result.stdout and "Nemenyi critical difference" in result.stdout
    )
    with Image.open(folder / "cd-diagram.png") as png:
        assert png.size[0] > 400
    assert (folder / "cd-diagram.svg").read_text().count('id="clique') >= 1
    report = tmp_path / "report"
    _invoke(home, "report", "--output", str(report), "--bootstrap", "50")
    page = (report / "index.html").read_text()
    assert "critical-difference diagram" in page and "figures/cd-diagram.png" in page
    assert (report / "figures" / "cd-diagram.png").exists()


def test_one_dataset_draws_no_cd_diagram_and_says_why(tmp_path, no_table_plots):
    home = _home(tmp_path, sizes=(16,))
    folder = tmp_path / "plots"
    result = _invoke(home, "leaderboard", "--format", "markdown", "--plot", str(folder))
    assert "no critical-difference diagram: one dataset configuration" in result.stderr
    assert not (folder / "cd-diagram.png").exists()
    report = tmp_path / "report"
    _invoke(home, "report", "--output", str(report), "--bootstrap", "0")
    assert (
        "no critical-difference diagram: one dataset configuration"
        in (report / "index.html").read_text()
    )
