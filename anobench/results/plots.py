"""Comparison plots of one leaderboard table, from the store alone (matplotlib, Agg).

* ``forest``: the primary metric's mean over seeds and its 95% bootstrap interval per method,
  best first, the very numbers of the leaderboard's :class:`~anobench.results.leaderboard.Table`;
* ``image-curves``: image-level ROC and precision-recall curves of every method, one axis each;
* ``pixel-curves``: the same at pixel level, where the dataset has masks;
* ``score-histograms``: each method's image scores, healthy and diseased apart.

Curves and histograms draw one run per method (see :mod:`anobench.results.evidence`).
Each :class:`Plot` carries its figure and the alt text and caption that describe it.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from . import evidence as evid
from .evidence import Curve, Shown
from .leaderboard import Table
from .store import Store

FORMATS = ("png", "svg")
DPI = 100
#: inches of figure height per legend line of the curve plots
LEGEND_LINE = 0.19
#: line styles of the curves after the first ten colours
STYLES = ("-", "--", ":", "-.")


@dataclass
class Plot:
    """One figure of one table: ``name`` is the file name stem (``forest``, ...)."""

    name: str
    figure: Figure
    alt: str
    caption: str

    def data(self, fmt: str = "png") -> bytes:
        buf = io.BytesIO()
        self.figure.savefig(buf, format=fmt, dpi=DPI)
        return buf.getvalue()

    def close(self) -> None:
        plt.close(self.figure)

    def save(self, folder: Path, stem: str) -> list[Path]:
        """``folder/<stem>.png`` and ``.svg``; the paths written. Closes the figure."""
        try:
            written = []
            for fmt in FORMATS:
                path = folder / f"{stem}.{fmt}"
                self.figure.savefig(path, format=fmt, dpi=DPI)
                written.append(path)
            return written
        finally:
            self.close()


def slug(table: Table) -> str:
    """A file-name stem naming the dataset configuration: ``synthetic-68390a``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", table.dataset) + "-" + table.dataset_hash[:6]


def _methods(n: int) -> str:
    return f"{n} method" + ("" if n == 1 else "s")


def forest(table: Table) -> Plot | None:
    """Mean and 95% interval of the primary metric per row, best at the top."""
    metric = table.primary_metric
    rows = [r for r in table.rows if metric in r.metrics and r.metrics[metric].mean is not None]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(rows) + 1.4), layout="constrained")
    y = np.arange(len(rows))[::-1]
    means = [r.metrics[metric].mean for r in rows]
    lows, highs, ys, missing = [], [], [], []
    for yi, row in zip(y, rows, strict=True):
        ci = row.metrics[metric].interval
        if ci is not None and ci.low is not None and ci.high is not None:
            lows.append(ci.low)
            highs.append(ci.high)
            ys.append(yi)
        else:
            missing.append(row.label)
    ax.hlines(ys, lows, highs, color="0.3", lw=2, gid="interval")
    ax.plot(means, y, "o", color="tab:blue", gid="mean")
    ax.set_yticks(y, [f"{r.label} (n={r.n})" for r in rows], fontsize=8)
    arrow = "↑" if table.higher_is_better.get(metric, True) else "↓"
    ax.set_xlabel(f"{metric} {arrow}: mean over seeds, 95% bootstrap interval", fontsize=9)
    ax.grid(axis="x", color="0.9")
    ax.set_ylim(-0.6, len(rows) - 0.4)
    fig.suptitle(table.short_title, fontsize=10)
    best = rows[0].label
    shown = f"{len(ys)} of {len(rows)} methods have an interval"
    alt = (
        f"Forest plot of {metric} on {table.short_title}: {_methods(len(rows))}, best first"
        f" ({best}, mean {means[0]:.4f}); {shown}."
    )
    caption = (
        f"{metric} per method: dot = mean over seeds, bar = 95% bootstrap interval"
        f" ({table.ci_over.get(metric, 'none computed')}), best first."
    )
    if missing:
        caption += f" No interval: {', '.join(missing)}."
    return Plot("forest", fig, alt, caption)


def _curves(
    table: Table,
    shown: list[Shown],
    level: str,
    roc: Callable[[evid.Evidence], Curve | None],
    pr: Callable[[evid.Evidence], Curve | None],
) -> Plot | None:
    pairs = [(s, roc(s.evidence), pr(s.evidence)) for s in shown if s.evidence is not None]
    pairs = [p for p in pairs if p[1] is not None and p[2] is not None]
    if not pairs:
        return None
    # one legend below both axes, a line per method: ten or more never cover the curves
    columns = 1 if len(pairs) <= 8 else 2
    height = 5 + LEGEND_LINE * math.ceil(len(pairs) / columns)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, height), layout="constrained")
    handles, entries = [], []
    for i, (s, roc_curve, pr_curve) in enumerate(pairs):
        name = f"{s.label}, seed {s.seed}"
        # ten colours, then the same colours dashed, dotted, ...: no two methods look alike
        look = {"color": f"C{i % 10}", "ls": STYLES[(i // 10) % len(STYLES)]}
        auroc, ap = evid.roc_area(roc_curve), evid.pr_area(pr_curve)
        # unclipped: a perfect curve runs along the axes' edges and must stay visible there
        (line,) = left.plot(
            roc_curve.x, roc_curve.y, lw=1.3, clip_on=False, zorder=3, **look,
            label=f"{name}: AUROC {auroc:.3f}",
        )  # fmt: skip
        right.plot(
            pr_curve.x, pr_curve.y, lw=1.3, drawstyle="steps-pre", clip_on=False, zorder=3,
            **look, label=f"{name}: AP {ap:.3f}",
        )  # fmt: skip
        handles.append(line)
        entries.append(f"{name}: AUROC {auroc:.3f}, AP {ap:.3f}")
    left.plot([0, 1], [0, 1], ls=":", color="0.6", lw=1, gid="chance")
    # a method that ranks at random has the positives' share as its precision
    prevalence = pairs[0][2].y[-1]
    right.axhline(prevalence, ls=":", color="0.6", lw=1, gid="chance")
    for ax, (xl, yl) in (
        (left, ("false positive rate", "true positive rate")),
        (right, ("recall", "precision")),
    ):
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
        ax.set_aspect("equal")
        ax.grid(color="0.92")
    fig.legend(
        handles, entries, loc="outside lower center", ncols=columns, fontsize=8, frameon=False
    )
    left.set_title(f"{level} ROC", fontsize=10)
    right.set_title(f"{level} precision-recall", fontsize=10)
    fig.suptitle(table.short_title, fontsize=10)
    choice = evid.CHOICE.format(metric=table.primary_metric)
    drawn = {id(p[0]) for p in pairs}
    without = [s.label for s in shown if id(s) not in drawn]
    alt = (
        f"{level.capitalize()} ROC curves (left) and precision-recall curves (right) of"
        f" {_methods(len(pairs))} on {table.short_title}, one run each."
    )
    caption = f"{level.capitalize()} ROC and precision-recall, one curve per method: its {choice}."
    if level == "pixel":
        caption += " Pooled over the test images' pixels, from the stored per-image histograms."
    if without:
        caption += f" Not drawn (no stored {level} evidence): {', '.join(without)}."
    return Plot(f"{level}-curves", fig, alt, caption)


def image_curves(table: Table, shown: list[Shown]) -> Plot | None:
    return _curves(table, shown, "image", evid.image_roc, evid.image_pr)


def pixel_curves(table: Table, shown: list[Shown]) -> Plot | None:
    """``None`` when no run stored pixel histograms (a dataset without masks)."""
    return _curves(table, shown, "pixel", evid.pixel_roc, evid.pixel_pr)


def score_histograms(
    table: Table, shown: list[Shown], names: tuple[str, str] = ("healthy", "diseased")
) -> Plot | None:
    """One axis per method (its own score scale), the two classes (``names``) on shared bins."""
    found = [s for s in shown if s.evidence is not None]
    if not found:
        return None
    cols = min(3, len(found))
    rows = math.ceil(len(found) / cols)
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(max(3.6 * cols, 6), 2.6 * rows + 0.5),
        squeeze=False,
        layout="constrained",
    )
    for ax, s in zip(axes.flat, found, strict=False):
        scores = np.asarray(s.evidence.scores, dtype=np.float64)
        labels = np.asarray(s.evidence.labels) == 1
        finite = scores[np.isfinite(scores)]
        bins = np.histogram_bin_edges(finite, bins=20) if finite.size else 10
        for name, pick, colour in (
            (names[0], ~labels, "tab:blue"),
            (names[1], labels, "tab:red"),
        ):
            ax.hist(
                scores[pick], bins=bins, alpha=0.55, color=colour, label=f"{name} ({pick.sum()})"
            )
        ax.set_title(f"{s.label}, seed {s.seed}", fontsize=8)
        ax.set_xlabel("image score", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(found) :]:
        ax.set_visible(False)
    fig.suptitle(f"{table.short_title}: image scores by class", fontsize=10)
    choice = evid.CHOICE.format(metric=table.primary_metric)
    alt = (
        f"Histograms of the image scores of {_methods(len(found))} on {table.short_title},"
        f" {names[0]} and {names[1]} test images overlaid, one panel per method."
    )
    caption = f"Image scores per class, one panel per method (its own score scale): its {choice}."
    return Plot("score-histograms", fig, alt, caption)


def class_names(store: Store, shown: list[Shown]) -> tuple[str, str]:
    """The dataset's names of label 0 and 1, as its runs recorded them (older runs: none)."""
    for s in shown:
        names = store.get_run(s.run_id).provenance.get("class_names")
        if isinstance(names, list) and len(names) == 2:
            return str(names[0]), str(names[1])
    return ("healthy", "diseased")


def table_plots(store: Store, table: Table) -> list[Plot]:
    """Every plot of one table that its stored evidence allows, in reading order."""
    shown = evid.shown_runs(store, table)
    made = [
        forest(table),
        image_curves(table, shown),
        pixel_curves(table, shown),
        score_histograms(table, shown, class_names(store, shown)),
    ]
    return [p for p in made if p is not None]


def write(store: Store, tables: list[Table], folder: Path) -> list[Path]:
    """``folder/<dataset>-<hash>-<plot>.png`` and ``.svg`` for every table; the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for table in tables:
        for plot in table_plots(store, table):
            written += plot.save(folder, f"{slug(table)}-{plot.name}")
    return written
