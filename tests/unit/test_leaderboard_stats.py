"""Leaderboard statistics from a store: intervals, paired tests, few-seed marker, ranks."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats as scipy_stats

from anobench import MetricResult, RunSpec
from anobench.results import leaderboard as lb
from anobench.results import render
from anobench.results.store import Store

HIT = SimpleNamespace(level="image", higher_is_better=True, oracle=False, resample=None)
ORACLE = SimpleNamespace(level="pixel", higher_is_better=True, oracle=True, resample=None)
POOLED = SimpleNamespace(level="image", higher_is_better=True, oracle=False, resample=None)
IDS = [f"img-{i:03d}" for i in range(30)]


def _add(store, method, seed, values, size=16, extra=None):
    """One finished run whose primary metric ``hit`` is the mean of per-image ``values``."""
    spec = RunSpec("toy", method, {"size": size}, {}, seed=seed)
    run_id = f"{method}-{size}-{seed}"
    store.start_run(run_id, spec, {"seed": seed}, "hit")
    per_image = dict(zip(IDS, map(float, values), strict=True))
    results = {
        "hit": (HIT, MetricResult(float(np.mean(values)), per_image=per_image)),
        "dice_oracle": (ORACLE, MetricResult(0.5, per_image=per_image)),  # not their mean
        "pooled": (POOLED, MetricResult(0.7)),  # no per-image values, no recipe
        **(extra or {}),
    }
    store.finish_run(run_id, results, {"seed": seed, "fit_seconds": 1.0})


@pytest.fixture
def store(tmp_path):
    rng = np.random.default_rng(0)
    base = rng.uniform(0.2, 0.6, (3, 30))
    with Store(tmp_path / "s.sqlite") as s:
        for seed in range(3):
            _add(s, "good", seed, base[seed] + 0.2 + rng.normal(0, 0.02, 30))
        for seed in range(2):
            _add(s, "bad", seed, base[seed])
        yield s


def _record(tables, method):
    return next(r for r in lb.records(tables) if r["method"] == method)


def test_wilcoxon_against_the_best_on_seed_averaged_per_image_values(store):
    tables = lb.build(store, resamples=200)
    (table,) = tables
    good, bad = _record(tables, "good"), _record(tables, "bad")
    assert good["rank"] == 1 and good["p_note"] == "best" and good["p_vs_best"] is None
    assert bad["p_test"] == "Wilcoxon signed-rank"
    per = {
        m: np.mean([list(store.per_image(f"{m}-16-{s}", "hit").values()) for s in seeds], axis=0)
        for m, seeds in (("good", range(3)), ("bad", range(2)))
    }
    assert bad["p_vs_best"] == pytest.approx(scipy_stats.wilcoxon(per["good"] - per["bad"]).pvalue)
    assert bad["p_vs_best"] < 1e-6
    for rec in (good, bad):
        assert rec["hit_ci_low"] < rec["hit_mean"] < rec["hit_ci_high"]
    assert "per-image value" in good["hit_ci_over"]
    header, rows = lb.display_rows(table)
    assert "p vs best (Wilcoxon signed-rank)" in header and "hit 95% CI" in header
    assert rows[0][5] == "best" and rows[1][5] == "<0.001"
    assert any("Wilcoxon signed-rank test" in n for n in lb.notes(table))


def test_metrics_without_a_resampling_route_say_why(store):
    tables = lb.build(store, resamples=100)
    good = _record(tables, "good")
    assert good["pooled_ci_low"] is None
    assert good["pooled_ci_note"] == "no per-image values and no recomputation recipe"
    assert "not the mean of its per-image values" in good["dice_oracle_ci_note"]
    off = lb.build(store, resamples=0)
    bad = _record(off, "bad")
    assert bad["hit_ci_low"] is None and "bootstrap off" in bad["hit_ci_note"]
    # Wilcoxon needs no resampling
    assert bad["p_test"] == "Wilcoxon signed-rank"
    header, _ = lb.display_rows(off[0])
    assert "hit 95% CI" not in header


def test_intervals_do_not_depend_on_the_rows_shown(store):
    both = _record(lb.build(store, resamples=200), "bad")
    alone = _record(lb.build(store, method="bad", resamples=200), "bad")
    assert (alone["hit_ci_low"], alone["hit_ci_high"]) == (both["hit_ci_low"], both["hit_ci_high"])
    assert alone["p_note"] == "best"


def test_few_seeds_marker_appears_and_disappears(store):
    table = lb.build(store, resamples=0)[0]
    _, rows = lb.display_rows(table)
    cells = {row[1]: row[2] for row in rows}
    assert cells == {"good (quick)": "3", "bad (quick)": "2 †"}
    assert _record([table], "bad")["few_seeds"] is True
    assert any("† = fewer than 3 seeds" in n for n in lb.notes(table))
    _add(store, "bad", 2, np.full(30, 0.3))
    _, rows = lb.display_rows(lb.build(store, resamples=0)[0])
    assert {row[2] for row in rows} == {"3"}


def test_oracle_metrics_are_labelled_in_every_format(store):
    tables = lb.build(store, resamples=0)
    header, _ = lb.display_rows(tables[0])
    assert "dice_oracle (oracle) ↑" in header
    assert _record(tables, "good")["oracle_metrics"] == "dice_oracle"
    for fmt in ("markdown", "html"):
        assert "dice_oracle (oracle)" in render.render(tables, fmt)
    assert "(oracle) = the metric chooses its threshold on the test set" in render.markdown(tables)
    assert json.loads(render.as_json(tables))[0]["oracle_metrics"] == "dice_oracle"
    assert "oracle_metrics" in render.csv(tables).splitlines()[0]


def test_average_rank_across_datasets_with_ties(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        # size 16: a best, b and c tied; size 32: b, a, c; d only on size 32 (last)
        for method, v16, v32 in (("a", 0.9, 0.8), ("b", 0.5, 0.9), ("c", 0.5, 0.7)):
            _add(store, method, 0, np.full(30, v16), size=16)
            _add(store, method, 0, np.full(30, v32), size=32)
        _add(store, "d", 0, np.full(30, 0.1), size=32)
        tables = lb.build(store, resamples=0)
        summary = lb.rank_summary(tables).set_index("method")
        assert summary.loc["a", "avg_rank"] == pytest.approx((1 + 2) / 2)
        assert summary.loc["b", "avg_rank"] == pytest.approx((2.5 + 1) / 2)
        assert summary.loc["c", "avg_rank"] == pytest.approx((2.5 + 3) / 2)
        assert summary.loc["d", "avg_rank"] == 4 and summary.loc["d", "datasets"] == 1
        assert list(summary.index) == ["a", "b", "c", "d"]
        header, rows = lb.summary_rows(tables)
        assert header[:3] == ["avg rank", "method", "datasets"]
        assert rows[1][:3] == ["1.75", "b (quick)", "2/2"] and rows[1][3:] == ["2.5", "1"]
        assert rows[3][3] == "-"
        rec = _record(tables, "c")
        assert rec["avg_rank"] == pytest.approx(2.75) and rec["datasets_ranked"] == 2
        md = render.markdown(tables)
        assert "### Average rank across datasets" in md and "| 1.50 | a (quick) | 2/2 |" in md
        assert "Average rank across datasets" in render.html_page(tables)
        # competition ranks in the tables themselves: the tie shares rank 2
        ranks = {r["method"]: r["rank"] for r in lb.records(tables[:1])}
        assert ranks == {"a": 1, "b": 2, "c": 2}


def test_an_undefined_primary_is_not_ranked_or_tested(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        _add(store, "a", 0, np.full(30, 0.9))
        _add(store, "nan", 0, np.full(30, math.nan))
        tables = lb.build(store, resamples=50)
        rec = _record(tables, "nan")
        assert rec["rank"] is None and rec["p_note"] == "hit is undefined"
        assert rec["hit_ci_note"] == "undefined"


def test_rich_output_keeps_bracketed_hashes(tmp_path):
    from rich.console import Console

    # rich reads "[" + a letter ... "]" as a style tag: choose hashes that start with a letter
    sizes = [
        s for s in range(8, 300) if RunSpec("toy", "a", {"size": s}, {}).dataset_hash()[0] > "9"
    ]
    with Store(tmp_path / "s.sqlite") as store:
        for size in sizes[:2]:
            _add(store, "a", 0, np.full(30, 0.5), size=size)
        tables = lb.build(store, resamples=0)
    console = Console(record=True, width=300)
    for rt in render.rich_tables(tables):
        console.print(rt)
    text = console.export_text()
    for table in tables:
        # hex hashes like "[e2c42d]" must not be swallowed as rich markup
        assert f"[{table.dataset_hash}]" in text and f"[{table.dataset_hash[:6]}]" in text
