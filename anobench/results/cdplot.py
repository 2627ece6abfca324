"""The critical-difference (CD) diagram of a leaderboard across dataset configurations
(Demšar, JMLR 2006): each method configuration on the average-rank axis (1 = best, left), a
bar the length of Nemenyi's CD, and thick lines joining the methods whose average ranks differ
by less than the CD (not significantly different). Drawn from
:class:`~anobench.results.leaderboard.RankTest` alone (matplotlib, Agg).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from .leaderboard import RankTest
from .plots import Plot

#: the file name stem of the diagram, in ``leaderboard --plot`` folders and the report
STEM = "cd-diagram"


def why_none(test: RankTest | None) -> str:
    """Why a leaderboard has no diagram (``cd_diagram`` returned ``None``)."""
    if test is None:
        return "no test across datasets was computed"
    return test.note or "no method configuration is ranked on every dataset configuration"


def cd_diagram(test: RankTest | None) -> Plot | None:
    """The diagram, or ``None`` when there is no CD (one dataset, fewer than 2 methods)."""
    if test is None or test.cd is None or test.k < 2:
        return None
    k = test.k
    low, high = 1, max(k, 2)
    half = (k + 1) // 2
    fig, ax = plt.subplots(
        figsize=(8, 1.4 + 0.25 * half + 0.15 * len(test.cliques)), layout="constrained"
    )
    ax.set_xlim(low - 0.6, high + 0.6)
    top = 1.0
    ax.set_ylim(-0.5 - 0.45 * half - 0.3 * len(test.cliques), 2.3)
    ax.axis("off")
    # the rank axis
    ax.hlines(top, low, high, color="k", lw=1)
    for r in range(low, high + 1):
        ax.vlines(r, top, top + 0.15, color="k", lw=1)
        ax.text(r, top + 0.25, str(r), ha="center", va="bottom", fontsize=9)
    # the CD bar, above the axis at the left
    ax.hlines(top + 0.9, low, low + test.cd, color="k", lw=2, gid="cd")
    for x in (low, low + test.cd):
        ax.vlines(x, top + 0.8, top + 1.0, color="k", lw=1)
    ax.text(low + test.cd / 2, top + 1.05, f"CD = {test.cd:.2f}", ha="center", fontsize=9)
    # methods: the better half labelled on the left, the others on the right
    for i, (name, rank) in enumerate(zip(test.labels, test.avg_ranks, strict=True)):
        left = i < half
        row = i if left else k - 1 - i
        y = -0.2 - 0.3 * len(test.cliques) - 0.45 * row
        edge = low - 0.5 if left else high + 0.5
        ax.plot([rank, rank, edge], [top, y, y], color="0.25", lw=0.8, gid="method")
        ax.text(
            edge + (-0.05 if left else 0.05),
            y,
            f"{name} ({rank:.2f})",
            ha="right" if left else "left",
            va="center",
            fontsize=8,
        )
    # cliques: thick lines just under the axis
    for n, members in enumerate(test.cliques):
        a, b = test.avg_ranks[members[0]], test.avg_ranks[members[-1]]
        y = top - 0.3 - 0.3 * n
        ax.hlines(y, a - 0.03, b + 0.03, color="tab:red", lw=3, gid="clique")
    friedman = "" if test.p is None else f"; Friedman p = {test.p:.3g}"
    fig.suptitle(
        f"Average rank over {test.n} dataset configurations (1 = best){friedman}", fontsize=10
    )
    alt = (
        f"Critical-difference diagram of {k} method configurations over {test.n} dataset"
        f" configurations: best {test.labels[0]} (average rank {test.avg_ranks[0]:.2f});"
        f" Nemenyi CD {test.cd:.2f}; {len(test.cliques)} groups of methods not significantly"
        " different."
    )
    caption = (
        f"Average ranks on the primary metric (1 = best); the bar is Nemenyi's critical"
        f" difference at alpha = {test.alpha:g} ({test.cd:.3f}); methods joined by a red line"
        " do not differ significantly."
    )
    if test.dropped:
        caption += (
            f" Left out (not ranked on every dataset configuration): {', '.join(test.dropped)}."
        )
    return Plot(STEM, fig, alt, caption)


def write(plot: Plot, folder: Path) -> list[Path]:
    """``folder/cd-diagram.png`` and ``.svg``; the paths written. Closes the figure."""
    folder.mkdir(parents=True, exist_ok=True)
    return plot.save(folder, STEM)
