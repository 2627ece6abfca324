"""Every output format of the leaderboard, drawn from one model
(:class:`~anobench.results.leaderboard.Leaderboard`), and :data:`FORMATS`, the one list of
formats that ``anobench leaderboard --format`` offers.

The Markdown and HTML tables share their header, cells and legend (:func:`display_rows`,
:func:`notes`, :func:`summary_rows`); CSV and JSON share the flat numeric :func:`records`. The
report (:mod:`anobench.results.report`) reuses the HTML pieces. The terminal draws a narrower
table from the same pieces (:mod:`anobench.results.terminal`); written to a file it is Markdown.
"""

from __future__ import annotations

import html
import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import delong, stats
from .labels import fmt_overrides
from .leaderboard import COST, Cell, Leaderboard, PairedTest, Table
from .multiplicity import NAMES as CORRECTION_NAMES

#: the fields of :func:`records` that hold a mapping of differences from the profile
OVERRIDE_FIELDS = ("dataset_overrides", "overrides")

STYLE = (
    "body{font-family:sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin-bottom:0.5em}"
    "th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}td{white-space:nowrap}"
    "td:nth-child(2),th:nth-child(2){text-align:left}th{background:#f3f3f3}"
    "ul.notes{font-size:0.85em;color:#555;margin-top:0;margin-bottom:2em}"
)
SUMMARY_NOTE = (
    "average rank: each method configuration's rank on the primary metric of every dataset"
    " configuration it ran on (ties share the mean of their ranks), averaged; lower is better."
    " Compare average ranks only between methods ranked on the same datasets."
)

# -- cells -----------------------------------------------------------------------------------


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_mean_std(mean: float | None, std: float | None, n: int, digits: int = 3) -> str:
    if _missing(mean):
        return "-"
    if n < 2 or _missing(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def fmt_cell(cell: Cell, n: int) -> str:
    return fmt_mean_std(cell.mean, cell.std, n)


def fmt_cost(col: str, value: float | None) -> str:
    if _missing(value):
        return "-"
    if col == "n_parameters":
        return f"{value / 1e6:.2f}M" if value >= 1e5 else f"{value:,.0f}"
    return f"{value:.2f}"


def fmt_ci(low: float | None, high: float | None, digits: int = 3) -> str:
    if _missing(low) or _missing(high):
        return "-"
    return f"[{low:.{digits}f}, {high:.{digits}f}]"


def fmt_p(p: float | None) -> str:
    if _missing(p):
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def few_seeds(n: int) -> bool:
    return n < stats.MIN_SEEDS


# -- the tables' header, cells and legend ----------------------------------------------------


def p_header(table: Table) -> str:
    what = [table.tests[0]] if len(table.tests) == 1 else []
    if table.correction != "none":
        what.append(CORRECTION_NAMES[table.correction])
    return f"p vs best ({', '.join(what)})" if what else "p vs best"


def p_cell(test: PairedTest) -> str:
    """The corrected p-value vs best (what the tables show), or ``best``."""
    if test.note == "best":
        return "best"
    return fmt_p(test.p if test.p_corrected is None else test.p_corrected)


def has_diff(table: Table) -> bool:
    return any(row.vs_best.diff is not None for row in table.rows)


def diff_cell(test: PairedTest) -> str:
    if test.diff is None:
        return "-"
    return f"{test.diff:+.3f} {fmt_ci(test.diff_low, test.diff_high)}"


def correction_note(table: Table) -> str:
    """How the p-values vs best of a table are corrected (the legend's words)."""
    m = table.comparisons
    if table.correction == "none":
        return "not corrected for multiple comparisons (--correction none)"
    how = "step-down" if table.correction == "holm" else "single-step"
    return (
        f"{CORRECTION_NAMES[table.correction]}-corrected ({how}, family-wise error) over the"
        f" {m} comparison{'' if m == 1 else 's'} with the best in this table; the raw p in"
        " CSV/JSON"
    )


def _metric_header(table: Table, metric: str) -> str:
    arrow = "↑" if table.higher_is_better.get(metric, True) else "↓"
    star = " *" if metric == table.primary_metric else ""
    oracle = " (oracle)" if table.oracle.get(metric) else ""
    return f"{metric}{oracle} {arrow}{star}"


def display_rows(table: Table) -> tuple[list[str], list[list[str]]]:
    """Header and string cells shared by the Markdown and HTML renderers (and the report)."""
    primary = table.primary_metric
    others = [m for m in table.metrics if m != primary]
    shown = [m for m in table.metrics if m == primary]
    header = ["rank", "method", "n", *[_metric_header(table, m) for m in shown]]
    if shown and table.resamples:
        header.append(f"{primary} 95% CI")
    if shown:
        header.append(p_header(table))
        if has_diff(table):
            header.append("Δ best − row [95% CI]")
    header += [_metric_header(table, m) for m in others]
    header += list(COST.values())
    rows = []
    for row in table.rows:
        n = row.n
        cells = [
            "-" if row.rank is None else str(row.rank),
            row.label,
            f"{n} †" if few_seeds(n) else str(n),
        ]
        for m in shown:
            cell = row.metrics[m]
            cells.append(fmt_cell(cell, n))
            if table.resamples:
                cells.append(fmt_ci(cell.interval.low, cell.interval.high))
            cells.append(p_cell(row.vs_best))
            if has_diff(table):
                cells.append(diff_cell(row.vs_best))
        cells += [fmt_cell(row.metrics[m], n) for m in others]
        cells += [fmt_cost(c, row.costs[c].mean) for c in COST]
        rows.append(cells)
    return header, rows


def notes(table: Table, shown: list[str] | None = None) -> list[str]:
    """The legend under a table: what each number is, which test, and why a cell is empty.

    ``shown``: the metrics the table shows (default: all of the table's).
    """
    primary = table.primary_metric
    shown = table.metrics if shown is None else shown
    out = [
        "mean ± std over seeds, one run per seed (the latest finished, if it was run again);"
        f" n = number of seeds; † = fewer than {stats.MIN_SEEDS} seeds (the std is unreliable);"
        " * = primary metric, ranked by its mean."
    ]
    labels = [row.label for row in table.rows]
    best = next((row.label for row in table.rows if row.vs_best.note == "best"), "")
    if primary in table.metrics and table.resamples:
        over = table.ci_over.get(primary, "the test images")
        out.append(
            f"{primary} 95% CI: percentile bootstrap ({table.resamples} resamples, seed"
            f" {table.seed}) of the mean over seeds, over {over}."
        )
    elif primary in table.metrics:
        out.append("intervals off (--bootstrap 0).")
    corrected = correction_note(table)
    for test in table.tests:
        if test == delong.DELONG:
            out.append(
                f"p vs best: two-sided DeLong test (Sun & Xu's fast algorithm) of the difference"
                f" in {primary} to {best}: the mean over each method's seeds, every run scored on"
                f" the same test images (DeLong's covariance of all their AUROCs); {corrected}."
                " Δ best − row (markdown, HTML; diff_vs_best_* in CSV/JSON): that difference and"
                " its 95% DeLong interval."
            )
        elif test == stats.PAIRED_BOOTSTRAP:
            out.append(
                f"p vs best: two-sided paired bootstrap test of the difference in {primary} to"
                f" {best}, on the same resampled test images; {corrected}."
            )
        elif test == stats.WILCOXON:
            out.append(
                f"p vs best: two-sided Wilcoxon signed-rank test (scipy) against {best} on"
                f" per-image {primary}, averaged over seeds and paired by image id (zero"
                f" differences dropped); {corrected}."
            )
    if any(table.oracle.get(m) for m in shown):
        out.append(
            "(oracle) = the metric chooses its threshold on the test set: an optimistic upper"
            " bound, not a fair comparison."
        )
    if primary in table.metrics:
        p_notes = [row.vs_best.note for row in table.rows]
        out += _reasons(labels, p_notes, "p not computed", skip=("best",))
        ci_notes = [row.metrics[primary].interval.note for row in table.rows]
        out += _reasons(labels, ci_notes, f"no {primary} interval")
    return out


def _reasons(
    labels: list[str], reasons: list[str | None], what: str, skip: tuple[str, ...] = ()
) -> list[str]:
    grouped: dict[str, list[str]] = {}
    for label, reason in zip(labels, reasons, strict=True):
        if isinstance(reason, str) and reason not in skip:
            grouped.setdefault(reason, []).append(label)
    return [f"{what} for {', '.join(who)}: {reason}." for reason, who in grouped.items()]


def summary_notes(board: Leaderboard) -> list[str]:
    """The legend under the average-rank table: what the ranks are, Friedman and Nemenyi."""
    out = [SUMMARY_NOTE]
    test = board.rank_test
    if test is None:
        return out
    if test.dropped:
        out.append(
            f"Friedman and Nemenyi need every method on every dataset (scipy takes complete"
            f" blocks only): left out, not ranked on every dataset configuration:"
            f" {', '.join(test.dropped)}; the others are ranked again among themselves."
        )
    if test.statistic is not None:
        out.append(
            f"Friedman test (scipy, ties corrected) over N = {test.n} dataset configurations"
            f" and k = {test.k} method configurations: chi2 = {test.statistic:.3f},"
            f" p = {fmt_p(test.p)}."
        )
    elif test.note:
        out.append(f"no Friedman test: {test.note}.")
    if test.cd is not None:
        groups = "; ".join(", ".join(test.labels[i] for i in c) for c in test.cliques) or "none"
        out.append(
            f"Nemenyi critical difference (alpha = {test.alpha:g}): CD = {test.cd:.3f} ="
            f" q_alpha {test.q_alpha:.3f} × sqrt(k(k+1)/(6N)); average ranks closer than CD are"
            f" not significantly different: {groups}. Use it where Friedman's p is below alpha,"
            f" and with N small (Demšar 2006 recommends N ≥ 10) as a sketch only."
        )
    return out


def summary_rows(board: Leaderboard) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the average-rank table (empty when fewer than two tables rank)."""
    if not board.summary or len(board.tables) < 2:
        return [], []
    titles = list(board.summary[0].ranks)
    header = ["avg rank", "method", "datasets", *[f"rank on {t}" for t in titles]]
    rows = []
    for row in board.summary:
        cells = [f"{row.avg_rank:.2f}", row.label, f"{row.datasets}/{len(titles)}"]
        cells += ["-" if row.ranks[t] is None else f"{row.ranks[t]:g}" for t in titles]
        rows.append(cells)
    return header, rows


# -- flat records (CSV, JSON) ----------------------------------------------------------------


def records(board: Leaderboard) -> list[dict[str, Any]]:
    """Flat numeric records (CSV / JSON): one per (dataset config, method config).

    ``overrides`` and ``dataset_overrides`` are mappings (``None`` where unknown): JSON keeps
    them, CSV writes ``epochs=5; time_budget=1500``.
    """
    average = {row.key: (row.avg_rank, row.datasets) for row in board.summary}
    out = []
    for table in board.tables:
        oracle = " ".join(m for m in table.metrics if table.oracle.get(m))
        for row in table.rows:
            avg, ranked_on = average.get(row.key, (None, 0))
            rec: dict[str, Any] = {
                "dataset": table.dataset,
                "dataset_hash": table.dataset_hash,
                "dataset_options": json.dumps(table.dataset_options, sort_keys=True),
                "primary_metric": table.primary_metric,
                "rank": row.rank,
                "method": row.method,
                "method_hash": row.method_hash,
                "profile": row.profile,
                "precision": row.precision,
                # after the columns older versions wrote, so readers by position keep working
                "label": row.label,
                "overrides": row.overrides,
                "dataset_label": table.label,
                "dataset_overrides": table.dataset_overrides,
                "n": row.n,
                "seeds": " ".join(map(str, row.seeds)),
                "few_seeds": few_seeds(row.n),
                "oracle_metrics": oracle,
                "p_vs_best": row.vs_best.p,
                "p_test": row.vs_best.test,
                "p_note": row.vs_best.note,
                "ci_resamples": table.resamples,
                "ci_seed": table.seed,
                "fractional_rank": row.fractional_rank,
                "avg_rank": avg,
                "datasets_ranked": ranked_on,
                # after the columns older versions wrote (readers by position keep working)
                "p_vs_best_corrected": row.vs_best.p_corrected,
                "p_correction": table.correction,
                "p_comparisons": table.comparisons,
                "diff_vs_best": row.vs_best.diff,
                "diff_vs_best_ci_low": row.vs_best.diff_low,
                "diff_vs_best_ci_high": row.vs_best.diff_high,
            }
            cells = {**row.metrics, **row.costs}
            for m in [*table.metrics, *COST]:
                rec[f"{m}_mean"] = cells[m].mean
                rec[f"{m}_std"] = cells[m].std
                rec[f"{m}_note"] = _missing_note(cells[m], row.n)
            for m in table.metrics:
                interval = row.metrics[m].interval
                rec[f"{m}_ci_low"] = interval.low
                rec[f"{m}_ci_high"] = interval.high
                rec[f"{m}_ci_note"] = interval.note
                rec[f"{m}_ci_over"] = table.ci_over.get(m)
            out.append(rec)
    return out


# -- the formats -----------------------------------------------------------------------------


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(h.replace("|", "\\|") for h in header) + " |"]
    lines.append("|" + "|".join("---" if i == 1 else "---:" for i in range(len(header))) + "|")
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return lines


def markdown(board: Leaderboard) -> str:
    parts = []
    for table in board.tables:
        header, rows = display_rows(table)
        lines = [f"### {table.title}", "", *_md_table(header, rows), ""]
        lines += [f"- {note}" for note in notes(table)]
        parts.append("\n".join(lines))
    header, rows = summary_rows(board)
    if header:
        lines = ["### Average rank across datasets", "", *_md_table(header, rows), ""]
        parts.append("\n".join([*lines, *(f"- {n}" for n in summary_notes(board))]))
    return "\n\n".join(parts) + "\n"


def csv(board: Leaderboard) -> str:
    import pandas as pd

    rows = records(board)
    for rec in rows:
        for key in OVERRIDE_FIELDS:
            rec[key] = None if rec[key] is None else fmt_overrides(rec[key], sep="; ")
    buf = io.StringIO()
    pd.DataFrame(rows).to_csv(buf, index=False)
    return buf.getvalue()


def _missing_note(cell: Cell, n: int) -> str | None:
    """Why a mean or std is null in CSV / JSON (``None`` when both are there)."""
    if _missing(cell.mean):
        return (
            "no value: undefined on every seed of this configuration"
            " ('anobench show RUN_ID' gives each run's reason)"
        )
    if _missing(cell.std):
        return "no std: one seed" if n < 2 else "no std: undefined on all but one seed"
    return None


def as_json(board: Leaderboard) -> str:
    # allow_nan=False: a NaN that slipped through is an error here, never invalid JSON out
    return json.dumps(records(board), indent=2, allow_nan=False) + "\n"


def html_table(header: list[str], rows: list[list[str]], caption: str = "") -> list[str]:
    out = ['<table class="leaderboard">']
    if caption:
        out.append(f"<caption>{html.escape(caption)}</caption>")
    out.append("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
    out.append("</table>")
    return out


def html_notes(lines: list[str]) -> str:
    return '<ul class="notes">' + "".join(f"<li>{html.escape(n)}</li>" for n in lines) + "</ul>"


def html_fragment(board: Leaderboard, level: int = 2) -> str:
    """The tables, their legends and the average-rank table as HTML (escaped), without a page."""
    body = []
    for table in board.tables:
        header, rows = display_rows(table)
        body.append(f"<h{level}>{html.escape(table.title)}</h{level}>")
        body += html_table(header, rows)
        body.append(html_notes(notes(table)))
    header, rows = summary_rows(board)
    if header:
        body.append(f"<h{level}>Average rank across datasets</h{level}>")
        body += html_table(header, rows)
        body.append(html_notes(summary_notes(board)))
    return "\n".join(body)


def html_page(board: Leaderboard, title: str = "anobench leaderboard") -> str:
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>\n"
        f"<h1>{html.escape(title)}</h1>\n" + html_fragment(board) + "\n</body></html>\n"
    )


@dataclass(frozen=True)
class Format:
    """One ``--format`` of ``anobench leaderboard``."""

    name: str
    #: the whole leaderboard as text (what ``--output`` writes)
    text: Callable[[Leaderboard], str]
    #: True: every metric's interval is computed (else the primary metric's, which is faster)
    every_interval: bool = False
    #: drawn on the terminal with rich (``text`` is what a file gets)
    terminal: bool = False


#: every output format, in the order ``--format`` lists them; the first is the default
FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        # the terminal tables; written to a file they are Markdown
        Format("rich", markdown, terminal=True),
        Format("markdown", markdown),
        # csv and json carry every metric's interval; the tables show the primary one
        Format("csv", csv, every_interval=True),
        Format("json", as_json, every_interval=True),
        Format("html", html_page),
    )
}


def render(board: Leaderboard, fmt: str) -> str:
    """The text of one format (``rich``: its Markdown, what a file gets)."""
    return FORMATS[fmt].text(board)
