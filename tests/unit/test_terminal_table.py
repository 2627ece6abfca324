"""The terminal leaderboard fits the console: key metrics under short headers with a legend,
the primary metric and its interval on one line, long labels moved to notes, nothing cut; the
other formats keep every metric."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from rich.cells import cell_len
from rich.console import Console

from anobench import MetricResult
from anobench.api import registry
from anobench.api.records import RunSpec
from anobench.results import columns, render, tabulate, terminal
from anobench.results.store import Store
from anobench.run.declared import declared

IDS = [f"img-{i:03d}" for i in range(40)]
#: (method, precision, overrides, seeds)
CONFIGS = [
    ("meandiff", "", {}, (0, 1, 2)),
    (
        "descargan",
        "bf16",
        {"method": {"epochs": 5, "lr": 0.0002, "lambda_rec": 50.0}, "run": {"time_budget": 1500.0}},
        (0, 1),
    ),
    ("vae", "", {"method": {"latent_dim": 8}}, (0,)),
    ("anogan", "", {}, (0, 1, 2)),
]
SYNTHETIC_KEYS = ["pixel_ap", "pixel_dice", "pixel_auroc", "image_auroc"]


def _metrics() -> dict[str, SimpleNamespace]:
    """Every built-in metric as the store records it; values are means of per-image values."""
    out = {}
    for name in registry.names("metric"):
        cls = registry.get_metric(name)
        out[name] = SimpleNamespace(
            level=cls.level, higher_is_better=cls.higher_is_better, oracle=cls.oracle, resample=None
        )
    return out


@pytest.fixture
def store(tmp_path):
    rng = np.random.default_rng(1)
    infos = _metrics()
    with Store(tmp_path / "s.sqlite") as s:
        for k, (method, precision, changes, seeds) in enumerate(CONFIGS):
            for seed in seeds:
                spec = RunSpec("synthetic", method, {"image_size": 64}, {"k": k}, seed=seed)
                run_id = f"{method}-{seed}"
                prov = {"overrides": changes, "resolved": {"precision": precision}}
                s.start_run(run_id, spec, prov, "pixel_ap")
                results = {}
                for name, info in infos.items():
                    values = rng.uniform(0.05, 0.95, len(IDS))
                    per_image = dict(zip(IDS, map(float, values), strict=True))
                    results[name] = (info, MetricResult(float(values.mean()), per_image=per_image))
                s.finish_run(run_id, results, {**prov, "fit_seconds": 12.5})
        yield s


def _render(board, width: int, every_metric: bool = False) -> str:
    console = Console(width=width, record=True)
    for part in terminal.rich_tables(board, width, every_metric):
        console.print(part)
    return console.export_text()


def _label(text: str, method: str) -> str:
    """A row's method cell, its wrapped lines joined (the column starts at 3; labels hold no
    double space, which separates columns)."""
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line[3:].startswith(f"{method} ("))
    parts = [lines[first][3:].split("  ")[0]]
    for line in lines[first + 1 :]:
        if line[:3].strip():
            break
        parts.append(line[3:].split("  ")[0].strip())
    return " ".join(p for p in parts if p)


def _header_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("#  method")]


def test_the_key_metrics_fit_100_columns_and_nothing_is_cut(store):
    board = tabulate.build(store, resamples=200, all_intervals=False, declared=declared())
    (table,) = board.tables
    assert table.key_metrics == SYNTHETIC_KEYS
    text = _render(board, 100)
    assert "…" not in text
    assert max(cell_len(line) for line in text.splitlines()) <= 100
    (header,) = _header_lines(text)  # one table: nothing had to continue in a second part
    assert header.split() == [
        "#", "method", "n", "pAP", "↑", "*", "p", "vs", "best",
        "Dice@val", "↑", "pAUROC", "↑", "iAUROC", "↑",
    ]  # fmt: skip
    assert (
        "columns: pAP = pixel_ap, Dice@val = pixel_dice, pAUROC = pixel_auroc,"
        " iAUROC = image_auroc" in " ".join(text.split())
    )
    # the primary metric of every row on one line: mean ± std [lo, hi] of the seeds' values
    by_method = {row.method: row for row in table.rows}
    for method, _, _, seeds in CONFIGS:
        values = [store.metric_details(f"{method}-{s}", "pixel_ap")[0] for s in seeds]
        cell = by_method[method].metrics["pixel_ap"]
        text_cell = f"{np.mean(values):.3f}"
        if len(seeds) > 1:
            text_cell += f" ± {np.std(values, ddof=1):.3f}"
        text_cell += f" [{cell.interval.low:.3f}, {cell.interval.high:.3f}]"
        (line,) = [line for line in text.splitlines() if f"  {method} (" in line]
        assert text_cell in line, (text_cell, line)
    # the long list of changes moves to a note, whole; the short one stays in its label
    assert _label(text, "descargan") == "descargan (quick, bf16; note 1)"
    note = "note 1 (descargan): epochs=5, lambda_rec=50, lr=0.0002, time_budget=1500."
    assert note in " ".join(text.split())
    assert _label(text, "vae") == "vae (quick; latent_dim=8)"
    # where the other columns are
    assert "more columns: image_accuracy, image_ap" in text and "'--metric all'" in text


def test_a_wide_console_shows_every_label_whole_and_the_std(store):
    board = tabulate.build(store, resamples=0, declared=declared())
    text = _render(board, 200)
    assert "descargan (quick, bf16; epochs=5, lambda_rec=50, lr=0.0002, time_budget=1500)" in text
    assert "note 1" not in text
    row = next(r for r in board.tables[0].rows if r.method == "meandiff")
    dice = row.metrics["pixel_dice"]
    assert f"{dice.mean:.3f} ± {dice.std:.3f}" in text


def test_every_metric_continues_in_parts_that_fit(store):
    board = tabulate.build(store, resamples=0, declared=declared())
    text = _render(board, 100, every_metric=True)
    assert "…" not in text
    assert max(cell_len(line) for line in text.splitlines()) <= 100
    headers = " ".join(_header_lines(text))
    assert len(_header_lines(text)) > 1
    for name in registry.names("metric"):
        assert f"{board.tables[0].short_names[name]} " in headers, name
    assert "fit s" in headers and "params" in headers
    assert "Dice@test = pixel_dice_oracle (oracle)" in " ".join(text.split())


def test_a_console_too_narrow_for_one_line_wraps_cells_and_cuts_nothing(store):
    board = tabulate.build(store, resamples=200, all_intervals=False, declared=declared())
    text = _render(board, 50)
    assert "…" not in text
    assert max(cell_len(line) for line in text.splitlines()) <= 50
    words = text.split()
    for row in board.tables[0].rows:
        interval = row.metrics["pixel_ap"].interval
        assert f"[{interval.low:.3f}," in words and f"{interval.high:.3f}]" in words


def test_the_other_formats_keep_every_metric(store):
    board = tabulate.build(store, resamples=0, declared=declared())
    header = render.markdown(board).splitlines()[2]
    csv_header = render.csv(board).splitlines()[0]
    for name in registry.names("metric"):
        assert f"{name} " in header, name
        assert f"{name}_mean" in csv_header
    assert "fit s" in header


def test_short_names_fall_back_to_ones_derived_from_the_name():
    assert columns.derived_short_name("image_f1_score") == "iF1Score"
    assert columns.derived_short_name("pixel_auroc_per_image") == "pAUROCPerIma"
    assert columns.derived_short_name("image_ap") == "iAP"
    assert columns.derived_short_name("translation_mse_healthy") == "TraMSEHea"
    assert columns.derived_short_name("a_very_long_metric_name_here") == (
        "a_very_long_metric_name_here"
    )
    given = columns.Declared(short_name={"pixel_ap": "pAP", "x_ap": "pAP"}.get)
    # two metrics that would share a header keep their names
    assert columns.short_names(["pixel_ap", "x_ap", "image_auroc"], given) == {
        "pixel_ap": "pixel_ap",
        "x_ap": "x_ap",
        "image_auroc": "iAUROC",
    }


def test_key_metrics_put_the_primary_first_and_default_to_the_aurocs():
    have = ["pixel_ap", "image_auroc", "image_ap", "pixel_auroc"]
    assert columns.key_metrics(None, have, "image_ap") == ["image_ap", "image_auroc", "pixel_auroc"]
    assert columns.key_metrics(("pixel_auroc", "nosuch"), have, "pixel_ap") == [
        "pixel_ap",
        "pixel_auroc",
    ]
    assert columns.key_metrics((), ["image_ap"], "image_ap") == ["image_ap"]
