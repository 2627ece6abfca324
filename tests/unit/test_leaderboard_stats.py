"""Leaderboard statistics from a store: intervals, paired tests, few-seed marker, ranks."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats as scipy_stats

from anobench import MetricResult
from anobench.api.records import RunSpec
from anobench.results import render, tabulate, terminal
from anobench.results.leaderboard import Leaderboard
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


def _record(board, method):
    return next(r for r in render.records(board) if r["method"] == method)


def test_wilcoxon_against_the_best_on_seed_averaged_per_image_values(store):
    board = tabulate.build(store, resamples=200)
    (table,) = board.tables
    good, bad = _record(board, "good"), _record(board, "bad")
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
    header, rows = render.display_rows(table)
    assert "p vs best (Wilcoxon signed-rank, Holm)" in header and "hit 95% CI" in header
    assert rows[0][5] == "best" and rows[1][5] == "<0.001"
    assert any("Wilcoxon signed-rank test" in n for n in render.notes(table))


def test_metrics_without_a_resampling_route_say_why(store):
    board = tabulate.build(store, resamples=100)
    good = _record(board, "good")
    assert good["pooled_ci_low"] is None
    assert good["pooled_ci_note"] == "no per-image values and no recomputation recipe"
    assert "not the mean of its per-image values" in good["dice_oracle_ci_note"]
    off = tabulate.build(store, resamples=0)
    bad = _record(off, "bad")
    assert bad["hit_ci_low"] is None and "bootstrap off" in bad["hit_ci_note"]
    # Wilcoxon needs no resampling
    assert bad["p_test"] == "Wilcoxon signed-rank"
    header, _ = render.display_rows(off.tables[0])
    assert "hit 95% CI" not in header


def test_intervals_do_not_depend_on_the_rows_shown(store):
    both = _record(tabulate.build(store, resamples=200), "bad")
    alone = _record(tabulate.build(store, method="bad", resamples=200), "bad")
    assert (alone["hit_ci_low"], alone["hit_ci_high"]) == (both["hit_ci_low"], both["hit_ci_high"])
    assert alone["p_note"] == "best"


def test_few_seeds_marker_appears_and_disappears(store):
    board = tabulate.build(store, resamples=0)
    table = board.tables[0]
    _, rows = render.display_rows(table)
    cells = {row[1]: row[2] for row in rows}
    assert cells == {"good (quick)": "3", "bad (quick)": "2 †"}
    assert _record(board, "bad")["few_seeds"] is True
    assert any("† = fewer than 3 seeds" in n for n in render.notes(table))
    _add(store, "bad", 2, np.full(30, 0.3))
    _, rows = render.display_rows(tabulate.build(store, resamples=0).tables[0])
    assert {row[2] for row in rows} == {"3"}


def test_oracle_metrics_are_labelled_in_every_format(store):
    board = tabulate.build(store, resamples=0)
    header, _ = render.display_rows(board.tables[0])
    assert "dice_oracle (oracle) ↑" in header
    assert _record(board, "good")["oracle_metrics"] == "dice_oracle"
    for fmt in ("markdown", "html"):
        assert "dice_oracle (oracle)" in render.render(board, fmt)
    assert "(oracle) = the metric chooses its threshold on the test set" in render.markdown(board)
    assert json.loads(render.as_json(board))[0]["oracle_metrics"] == "dice_oracle"
    assert "oracle_metrics" in render.csv(board).splitlines()[0]


def test_average_rank_across_datasets_with_ties(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        # size 16: a best, b and c tied; size 32: b, a, c; d only on size 32 (last)
        for method, v16, v32 in (("a", 0.9, 0.8), ("b", 0.5, 0.9), ("c", 0.5, 0.7)):
            _add(store, method, 0, np.full(30, v16), size=16)
            _add(store, method, 0, np.full(30, v32), size=32)
        _add(store, "d", 0, np.full(30, 0.1), size=32)
        board = tabulate.build(store, resamples=0)
        summary = {row.method: row for row in board.summary}
        assert summary["a"].avg_rank == pytest.approx((1 + 2) / 2)
        assert summary["b"].avg_rank == pytest.approx((2.5 + 1) / 2)
        assert summary["c"].avg_rank == pytest.approx((2.5 + 3) / 2)
        assert summary["d"].avg_rank == 4 and summary["d"].datasets == 1
        assert list(summary) == ["a", "b", "c", "d"]
        header, rows = render.summary_rows(board)
        assert header[:3] == ["avg rank", "method", "datasets"]
        assert rows[1][:3] == ["1.75", "b (quick)", "2/2"] and rows[1][3:] == ["2.5", "1"]
        assert rows[3][3] == "-"
        rec = _record(board, "c")
        assert rec["avg_rank"] == pytest.approx(2.75) and rec["datasets_ranked"] == 2
        md = render.markdown(board)
        assert "### Average rank across datasets" in md and "| 1.50 | a (quick) | 2/2 |" in md
        assert "Average rank across datasets" in render.html_page(board)
        # competition ranks in the tables themselves: the tie shares rank 2
        ranks = {r["method"]: r["rank"] for r in render.records(Leaderboard(board.tables[:1]))}
        assert ranks == {"a": 1, "b": 2, "c": 2}


def test_an_undefined_primary_is_not_ranked_or_tested(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        _add(store, "a", 0, np.full(30, 0.9))
        _add(store, "nan", 0, np.full(30, math.nan))
        board = tabulate.build(store, resamples=50)
        rec = _record(board, "nan")
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
        board = tabulate.build(store, resamples=0)
    console = Console(record=True, width=300)
    for rt in terminal.rich_tables(board):
        console.print(rt)
    text = console.export_text()
    for table in board.tables:
        # hex hashes like "[e2c42d]" must not be swallowed as rich markup
        assert f"[{table.dataset_hash}]" in text and f"[{table.dataset_hash[:6]}]" in text


def test_the_table_is_plain_data_and_the_cli_offers_the_registered_formats(store):
    from anobench.cli import cli
    from anobench.results.leaderboard import Cell, Interval, Row

    board = tabulate.build(store, resamples=50)
    row = board.tables[0].rows[0]
    assert isinstance(row, Row) and isinstance(row.metrics["hit"], Cell)
    assert isinstance(row.metrics["hit"].interval, Interval)
    assert row.metrics["pooled"].interval.low is None  # missing numbers are None, never NaN
    assert all(
        isinstance(v, float) for v in (row.metrics["hit"].mean, row.costs["fit_seconds"].mean)
    )
    (option,) = [p for p in cli.commands["leaderboard"].params if p.name == "fmt"]
    assert list(option.type.choices) == list(render.FORMATS)
    assert list(render.FORMATS) == ["rich", "markdown", "csv", "json", "html"]
    assert option.default == "rich"
    # JSON is valid JSON: empty notes are null, not NaN
    text = render.as_json(board)
    assert "NaN" not in text and json.loads(text)[0]["p_test"] is None


def test_repeated_runs_count_once_per_seed_the_latest_finished(tmp_path, monkeypatch):
    """Runs repeating a configuration and seed: only the latest finished one is aggregated."""
    from anobench.results.store import store as store_module

    clock = iter(f"2026-01-01T00:00:{s:02d}+00:00" for s in range(60))
    monkeypatch.setattr(store_module, "now", lambda: next(clock))
    rng = np.random.default_rng(1)
    with Store(tmp_path / "dup.sqlite") as dup, Store(tmp_path / "one.sqlite") as one:
        latest = {}
        # ae seed 0 three times (the last is the one that counts), seed 1 once
        for k, seed in enumerate((0, 0, 0, 1)):
            values = rng.uniform(0.1 * k, 0.1 * k + 0.5, 30)
            spec = RunSpec("toy", "ae", {"size": 16}, {}, seed=seed)
            run_id = f"run-{9 - k}"  # the latest has the smallest id: order is by `finished`
            dup.start_run(run_id, spec, {"seed": seed}, "hit")
            per_image = dict(zip(IDS, map(float, values), strict=True))
            result = MetricResult(float(np.mean(values)), per_image=per_image)
            dup.finish_run(run_id, {"hit": (HIT, result)}, {"seed": seed, "fit_seconds": 1.0})
            latest[seed] = values
        for seed, values in latest.items():
            _add(one, "ae", seed, values)
        for s in (dup, one):  # keep the two stores' tables comparable: only the metric `hit`
            with s._write() as db:
                db.execute("DELETE FROM metrics WHERE name != 'hit'")
                db.execute("DELETE FROM per_image WHERE metric != 'hit'")
        got = render.records(tabulate.build(dup, resamples=200))
        want = render.records(tabulate.build(one, resamples=200))
    means = [float(np.mean(v)) for v in latest.values()]
    (row,) = got
    assert row["n"] == 2 and row["seeds"] == "0 1"
    assert row["hit_mean"] == pytest.approx(np.mean(means))
    assert row["hit_std"] == pytest.approx(np.std(means, ddof=1))
    for r in (row, want[0]):
        r.pop("run_ids", None)
    assert json.dumps(got, sort_keys=True) == json.dumps(want, sort_keys=True)


def _no_nan(constant):
    raise ValueError(f"invalid JSON constant {constant}")


def test_json_is_strict_and_says_why_a_value_is_null(tmp_path):
    undefined = {"spread": (POOLED, MetricResult(math.nan, reason="needs two classes"))}
    defined = {"spread": (POOLED, MetricResult(0.3))}
    with Store(tmp_path / "s.sqlite") as store:
        _add(store, "lone", 0, np.full(30, 0.4), extra=defined)  # one seed: no std
        for seed in range(2):
            _add(store, "blank", seed, np.full(30, 0.5), extra=undefined)
        board = tabulate.build(store, resamples=0)
    rows = {r["method"]: r for r in json.loads(render.as_json(board), parse_constant=_no_nan)}
    assert rows["blank"]["spread_mean"] is None and rows["blank"]["spread_std"] is None
    assert "undefined on every seed" in rows["blank"]["spread_note"]
    assert rows["lone"]["spread_mean"] == 0.3 and rows["lone"]["spread_std"] is None
    assert rows["lone"]["spread_note"] == "no std: one seed"
    assert rows["blank"]["hit_note"] is None  # defined on both seeds: mean and std, no note
