"""The ROC and precision-recall plot stays readable with many methods (issue 24, item 13)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from anobench.results import plots
from anobench.results.evidence import Shown
from anobench.results.resampling import Evidence


def _shown(n: int) -> list[Shown]:
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 20)
    out = []
    for i in range(n):
        scores = labels * rng.uniform(0.2, 1.5) + rng.normal(0, 1, len(labels))
        ids = tuple(f"img{j}" for j in range(len(labels)))
        out.append(Shown(f"method{i} (quick)", f"run{i}", 0, Evidence(ids, labels, scores)))
    return out


def test_twelve_methods_keep_the_legend_off_the_curves_and_tell_them_apart():
    table = SimpleNamespace(short_title="folder (quick)", primary_metric="image_auroc")
    plot = plots.image_curves(table, _shown(12))
    fig = plot.figure
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)  # lays the figure out
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    assert legends
    canvas = fig.bbox
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax in fig.axes:
            assert not box.overlaps(ax.get_window_extent(renderer)), "legend covers an axis"
        # all of it on the figure
        assert box.x0 >= canvas.x0 and box.y0 >= canvas.y0 and box.y1 <= canvas.y1
        assert len(legend.get_texts()) == 12
    looks = {(line.get_color(), line.get_linestyle()) for line in fig.axes[0].get_lines()[:12]}
    assert len(looks) == 12
    plot.close()
