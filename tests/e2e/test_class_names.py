"""Figures call the classes what the dataset calls them and show easy and hard cases (issue 24,
item 12): a folder of normal/ and abnormal/ images is not healthy/diseased."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from anobench_folder.fixture import make_fixture

from anobench.api.records import Predictions, Split
from anobench.results import figures, plots, tabulate
from anobench.results.evidence import shown_runs
from anobench.results.store import Store


def test_a_folder_run_s_panel_and_histograms_say_normal_and_abnormal(
    invoke, home, tmp_path, monkeypatch
):
    made = make_fixture(tmp_path / "data", normal=18, abnormal=18, corrupt=False, kinds=(".png",))
    drawn = []
    original = figures.panel_figure

    def keep(*args, **kwargs):
        fig = original(*args, **kwargs)
        drawn.append([ax.get_ylabel() for ax in fig.axes if "\nscore" in ax.get_ylabel()])
        return fig

    monkeypatch.setattr(figures, "panel_figure", keep)
    args = ("-q", "run", "-m", "meandiff", "-d", "folder", "--device", "cpu")
    result = invoke(*args, "--dataset-opt", f"root={made.root}", "--dataset-opt", "image_size=16")
    assert result.exit_code == 0, result.output
    (rows,) = drawn
    assert [r.split("\n")[0] for r in rows] == [
        f"{name}, {pick}" for name in ("normal", "abnormal") for pick in figures.PICKS
    ]
    with Store(home / "store.sqlite", readonly=True) as store:
        table = tabulate.build(store, resamples=0).tables[0]
        plot = plots.score_histograms(
            table, shown_runs(store, table), plots.class_names(store, shown_runs(store, table))
        )
        texts = [t.get_text() for t in plot.figure.axes[0].get_legend().get_texts()]
    assert [t.split(" ")[0] for t in texts] == ["normal", "abnormal"]
    assert "normal and abnormal test images" in plot.alt
    plt.close("all")


def test_the_panel_shows_each_class_s_easiest_median_and_hardest_image():
    labels = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    scores = np.array([0.5, 0.9, 0.1, 0.2, 0.7, 0.6, 0.3, 0.4])
    split = Split(
        images=np.zeros((8, 1, 4, 4), np.float32), labels=labels, ids=tuple(map(str, range(8)))
    )
    # normal (label 0): low is easy -> 0.1 (2), median of 0.1,0.3,0.5,0.7 -> 0.5 (0), 0.7 (4);
    # abnormal (label 1): high is easy -> 0.9 (1), then 0.4 (7) at the middle, 0.2 (3)
    assert figures.pick_examples(split, scores) == [2, 0, 4, 1, 7, 3]
    assert figures.pick_examples(split) == [0, 2, 4, 1, 3, 5]  # no scores: the first three
    fig = figures.panel_figure(
        split, Predictions(scores=scores), "t", [2, 1], ("normal", "abnormal"), ["easiest"] * 2
    )
    assert [ax.get_ylabel().split("\n")[0] for ax in fig.axes] == [
        "normal, easiest",
        "abnormal, easiest",
    ]
    plt.close(fig)
