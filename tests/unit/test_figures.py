"""What the run's figures show: ``panel.png`` (shared map scale, ground-truth outline) and
``curves.png`` (one step axis, earlier stages shaded)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.contour import ContourSet
from matplotlib.patches import Rectangle

from anobench.api.records import Predictions, Split
from anobench.results.figures import curves_figure, panel_figure


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _split_and_pred() -> tuple[Split, Predictions]:
    rng = np.random.default_rng(0)
    masks = np.zeros((2, 16, 16), bool)
    masks[1, 4:9, 5:11] = True  # image 1 is diseased with a lesion; image 0 is healthy
    images = rng.uniform(-1, 1, (2, 1, 16, 16)).astype(np.float32)
    maps = rng.uniform(0, 3, (2, 16, 16)).astype(np.float32)
    maps[1, 0, 0] = 40.0  # one outlier pixel
    split = Split(images=images, labels=np.array([0, 1], np.int8), ids=("h", "d"), masks=masks)
    return split, Predictions(scores=np.array([0.2, 1.5]), maps=maps)


def _map_axes(fig):
    return [ax for ax in fig.axes if ax.images and ax.images[0].get_cmap().name == "inferno"]


def test_the_panel_maps_share_one_labelled_colour_bar(tmp_path):
    split, pred = _split_and_pred()
    fig = panel_figure(split, pred, "t", [0, 1])
    maps = _map_axes(fig)
    assert len(maps) == 2
    high = np.percentile(pred.maps, 99.5)  # both rows shown: one range over both maps
    for ax in maps:
        assert ax.images[0].get_clim() == pytest.approx((0.0, high))
    bar = maps[-1].images[0].colorbar
    assert bar is not None and bar.ax in fig.axes and bar.ax not in maps
    assert bar.vmin == pytest.approx(0.0) and bar.vmax == pytest.approx(high)
    label = bar.ax.get_ylabel()
    assert "one scale for all rows" in label and f"{high:.3g}" in label
    # one bar for the column, not one per row
    assert sum(ax.get_label() == "<colorbar>" for ax in fig.axes) == 1


def test_the_ground_truth_is_outlined_on_the_diseased_map_only():
    split, pred = _split_and_pred()
    healthy, diseased = _map_axes(panel_figure(split, pred, "t", [0, 1]))
    assert not [c for c in healthy.collections if isinstance(c, ContourSet)]
    (outline,) = [c for c in diseased.collections if isinstance(c, ContourSet)]
    assert list(outline.levels) == [0.5]
    # the outline runs around the lesion's pixels (rows 4-8, columns 5-10)
    xy = np.concatenate(outline.allsegs[0])
    assert xy[:, 0].min() >= 4 and xy[:, 0].max() <= 11
    assert xy[:, 1].min() >= 3 and xy[:, 1].max() <= 9
    assert "ground truth" in healthy.get_title()


def test_without_masks_there_is_no_outline():
    split, pred = _split_and_pred()
    bare = Split(images=split.images, labels=split.labels, ids=split.ids)
    fig = panel_figure(bare, pred, "t", [0, 1])
    contours = [c for ax in fig.axes for c in ax.collections if isinstance(c, ContourSet)]
    assert not contours


def _history():
    warm = [{"step": s, "d_cls": 1.0 / s} for s in range(1, 4)]
    gan = [{"step": s, "d_cls": 0.1, "g_rec": 2.0 / s} for s in range(4, 9)]
    return [*warm, *gan, {"step": 8, "val_loss": 0.5}]


def test_the_curves_share_one_step_axis_and_shade_the_warm_up():
    stages = [{"name": "classifier warm-up", "start": 0}, {"name": "GAN training", "start": 3}]
    fig = curves_figure(_history(), "t", stages)
    axes = fig.axes
    assert [ax.get_ylabel() for ax in axes] == ["d_cls", "g_rec", "val_loss"]
    assert all(axes[0].get_shared_x_axes().joined(axes[0], ax) for ax in axes[1:])
    for ax in axes:
        (span,) = [p for p in ax.patches if isinstance(p, Rectangle)]
        left, right = span.get_x(), span.get_x() + span.get_width()
        # covers the warm-up steps 1-3 and none of the GAN steps 4-8
        assert left < 1 and 3 < right < 4
        (line,) = ax.get_lines()[1:]
        assert line.get_xdata()[0] == pytest.approx(right)
    names = [t.get_text() for t in axes[0].texts]
    assert names == ["classifier warm-up", "GAN training"]


def test_one_stage_draws_no_marks():
    fig = curves_figure(_history(), "t", [{"name": "training", "start": 0}])
    assert all(not ax.patches and not ax.texts for ax in fig.axes)
    assert curves_figure([], "t") is None
