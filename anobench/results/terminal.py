"""The leaderboard on a terminal: tables that fit the console (``anobench leaderboard``).

Markdown, CSV, JSON and HTML keep every metric (:mod:`anobench.results.render`). Here a table
shows the rank, the method configuration, its seeds, the primary metric as
``mean ± std [lo, hi]`` on one line, the test against the best row and the dataset's key metrics
(``Dataset.key_metrics``) under short headers, which a legend under the table maps back to the
metric names. Nothing is cut to fit: the other metrics drop their std first, columns that still
do not fit continue in a second table with the same rows, and a label too long for its column
keeps its method and profile while its changes from the profile move to a numbered note.
"""

from __future__ import annotations

import textwrap

from rich import box
from rich.cells import cell_len
from rich.console import RenderableType
from rich.markup import escape
from rich.table import Table as RichTable
from rich.text import Text

from . import render
from .labels import fmt_overrides, label
from .leaderboard import COST, Leaderboard, Row, Table

#: a label that wraps onto more lines than this in its column moves its changes to a note
LABEL_LINES = 2
#: the method column is never planned narrower than this
METHOD_MIN = 16
#: narrower than this, the metrics other than the primary drop their std (means only)
METHOD_WANTED = 24
#: the blank between two columns: collapsed padding and the box's blank separator
GAP = 2

#: one column: its header and its cells, one per row
Column = tuple[str, list[str]]


def rich_tables(
    board: Leaderboard, width: int | None = None, every_metric: bool = False
) -> list[RenderableType]:
    """The rich tables of every dataset configuration with their notes, then the average ranks.

    ``every_metric``: every metric of the table and the costs (``--metric``), else the key
    metrics only. ``width``: the console's, which every table then fits (``None``: no limit).
    """
    out = [part for table in board.tables for part in _parts(table, width, every_metric)]
    header, rows = render.summary_rows(board)
    if header:
        columns = [(h, [row[i] for row in rows]) for i, h in enumerate(header)]
        out.append(
            _rich("average rank across datasets", render.summary_notes(board), columns, None)
        )
    return out


def shown_metrics(table: Table, every_metric: bool = False) -> list[str]:
    """The metric columns, primary first."""
    if every_metric:
        return list(table.metrics)
    return list(table.key_metrics) or list(table.metrics[:1])


# -- columns ---------------------------------------------------------------------------------


def _header(table: Table, metric: str) -> str:
    arrow = "↑" if table.higher_is_better.get(metric, True) else "↓"
    star = " *" if metric == table.primary_metric else ""
    return f"{table.short_names.get(metric, metric)} {arrow}{star}"


def _primary_cell(table: Table, row: Row) -> str:
    cell = row.metrics[table.primary_metric]
    text = render.fmt_cell(cell, row.n)
    interval = cell.interval
    if table.resamples and interval is not None and interval.low is not None and text != "-":
        text += " " + render.fmt_ci(interval.low, interval.high)
    return text


def _lead(table: Table, with_primary: bool) -> list[Column]:
    """Rank and seeds, then the primary metric with its interval and the test against the best."""
    rows = table.rows
    out: list[Column] = [
        ("#", ["-" if r.rank is None else str(r.rank) for r in rows]),
        ("n", [f"{r.n} †" if render.few_seeds(r.n) else str(r.n) for r in rows]),
    ]
    if with_primary:
        out.append((_header(table, table.primary_metric), [_primary_cell(table, r) for r in rows]))
        out.append(("p vs best", [render.p_cell(r.vs_best) for r in rows]))
    return out


def _metric(table: Table, metric: str, std: bool) -> Column:
    # a row's text for one seed is its mean alone
    cells = [render.fmt_cell(r.metrics[metric], r.n if std else 1) for r in table.rows]
    return _header(table, metric), cells


def _cost(table: Table, cost: str) -> Column:
    return COST[cost], [render.fmt_cost(cost, r.costs[cost].mean) for r in table.rows]


def _width(columns: list[Column]) -> int:
    return sum(max(map(cell_len, [h, *cells])) + GAP for h, cells in columns)


# -- labels ----------------------------------------------------------------------------------


def _fits(text: str, room: int) -> bool:
    return len(textwrap.wrap(text, max(room, 1))) <= LABEL_LINES


def _labels(table: Table, room: int | None) -> tuple[list[str], list[str]]:
    """Each row's label, and the notes that hold the changes of labels too long to fit."""
    labels, notes = [], []
    for row in table.rows:
        base = label(row.method, row.profile, row.precision, row.overrides)
        keep = room is None or _fits(row.label, room) or not row.overrides
        if keep or not row.label.startswith(base):
            labels.append(row.label)
            continue
        notes.append(f"note {len(notes) + 1} ({row.method}): {fmt_overrides(row.overrides)}.")
        plain = label(row.method, row.profile, row.precision)[:-1]
        labels.append(f"{plain}; note {len(notes)}){row.label[len(base) :]}")
    return labels, notes


# -- legend ----------------------------------------------------------------------------------


def legend(table: Table, metrics: list[str], means_only: bool = False) -> str:
    """``columns: pAP = pixel_ap, Dice@val = pixel_dice, ...``: what the short headers mean."""
    parts = []
    for m in metrics:
        oracle = " (oracle)" if table.oracle.get(m) else ""
        parts.append(f"{table.short_names.get(m, m)} = {m}{oracle}")
    text = "columns: " + ", ".join(parts)
    if table.primary_metric in metrics and table.resamples:
        text += f"; [lo, hi] = the {table.primary_metric} 95% CI"
    if means_only and any(m != table.primary_metric for m in metrics):
        text += "; the other metrics show means only (a wider terminal shows their std)"
    return text + "."


def _hidden(table: Table, metrics: list[str], every_metric: bool) -> list[str]:
    hidden = [m for m in table.metrics if m not in metrics]
    if every_metric and not hidden:
        return []
    what = ", ".join(hidden) + " and the costs" if hidden else "the costs"
    return [
        f"more columns: {what}: '--metric all' shows them all, '--metric NAME' (repeatable)"
        " the ones named; the markdown, csv, json and html formats carry them all."
    ]


# -- tables ----------------------------------------------------------------------------------


def _pack(lead: list[Column], rest: list[Column], fixed: int, width: int) -> list[list[Column]]:
    """``rest`` in order over as few parts as keep ``METHOD_WANTED`` for the method column; the
    first part also holds ``lead``, the others its first ``fixed`` columns."""
    parts: list[list[Column]] = [list(lead)]
    for column in rest:
        if len(parts[-1]) > fixed and width - _width([*parts[-1], column]) < METHOD_WANTED:
            parts.append(list(lead[:fixed]))
        parts[-1].append(column)
    return parts


def _parts(table: Table, width: int | None, every_metric: bool) -> list[RenderableType]:
    """The table (in parts, if its columns do not fit in one), then its notes."""
    metrics = shown_metrics(table, every_metric)
    with_primary = table.primary_metric in metrics
    others = [m for m in metrics if m != table.primary_metric]
    lead = _lead(table, with_primary)
    costs = [_cost(table, c) for c in COST] if every_metric else []
    rest = [*(_metric(table, m, std=True) for m in others), *costs]
    means_only = width is not None and width - _width([*lead, *rest]) < METHOD_WANTED
    if means_only:
        rest = [*(_metric(table, m, std=False) for m in others), *costs]
    parts = [[*lead, *rest]]
    if width is not None and width - _width(parts[0]) < METHOD_MIN:
        parts = _pack(lead, rest, 2, width)
    room = None if width is None else max(min(width - _width(p) for p in parts), METHOD_MIN)
    labels, label_notes = _labels(table, room)
    out: list[RenderableType] = []
    for i, part in enumerate(parts):
        shown = [m for m in metrics if _header(table, m) in {h for h, _ in part}]
        caption = [legend(table, shown, means_only and i == 0)]
        title = table.title if i == 0 else f"{table.short_title}, continued"
        columns = [part[0], ("method", labels), *part[1:]]
        # a part that cannot fit even so (a very narrow console) wraps its cells, never cuts
        fits = width is not None and width - _width(part) >= METHOD_MIN
        out.append(_rich(title, caption, columns, METHOD_MIN if fits else None))
    # under the last part, as wide as the console (a caption is as narrow as its table)
    notes = [*label_notes, *render.notes(table, metrics), *_hidden(table, metrics, every_metric)]
    out.append(Text("\n".join(notes) + "\n"))
    return out


def _rich(
    title: str, caption: list[str], columns: list[Column], method_min: int | None
) -> RichTable:
    """The method column (the second) wraps, no other does: ``method_min=None`` lets every
    column wrap, for a table whose width is not planned."""
    # "[e2c42d]"-style hashes in titles and labels would otherwise be read as rich markup
    rt = RichTable(
        title=escape(title),
        caption=escape("\n".join(caption)),
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    for i, (header, _) in enumerate(columns):
        method = i == 1
        rt.add_column(
            escape(header),
            justify="left" if method else "right",
            no_wrap=method_min is not None and not method,
            overflow="fold",
            min_width=method_min if method else None,
        )
    for r in range(len(columns[0][1])):
        rt.add_row(*(escape(cells[r]) for _, cells in columns))
    return rt
