"""Render leaderboard tables as rich, Markdown, CSV, JSON or HTML, all from one table model."""

from __future__ import annotations

import html
import io
import json

import pandas as pd

from .leaderboard import SUMMARY_NOTE, Table, display_rows, notes, records, summary_rows

FORMATS = ("rich", "markdown", "csv", "json", "html")
STYLE = (
    "body{font-family:sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin-bottom:0.5em}"
    "th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}td{white-space:nowrap}"
    "td:nth-child(2),th:nth-child(2){text-align:left}th{background:#f3f3f3}"
    "ul.notes{font-size:0.85em;color:#555;margin-top:0;margin-bottom:2em}"
)


def rich_tables(tables: list[Table]) -> list:
    from rich.markup import escape
    from rich.table import Table as RichTable

    def one(title: str, caption: str, header: list[str], rows: list[list[str]], wrap: int):
        # "[e2c42d]"-style hashes in titles and labels would otherwise be read as rich markup
        rt = RichTable(title=escape(title), caption=escape(caption), caption_justify="left")
        for i, col in enumerate(header):
            rt.add_column(escape(col), justify="left" if i == 1 else "right", no_wrap=i <= wrap)
        for row in rows:
            rt.add_row(*(escape(c) for c in row))
        return rt

    out = []
    for table in tables:
        header, rows = display_rows(table)
        out.append(one(table.title, "\n".join(notes(table)), header, rows, wrap=2))
    header, rows = summary_rows(tables)
    if header:
        out.append(one("average rank across datasets", SUMMARY_NOTE, header, rows, wrap=-1))
    return out


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(h.replace("|", "\\|") for h in header) + " |"]
    lines.append("|" + "|".join("---" if i == 1 else "---:" for i in range(len(header))) + "|")
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return lines


def markdown(tables: list[Table]) -> str:
    parts = []
    for table in tables:
        header, rows = display_rows(table)
        lines = [f"### {table.title}", "", *_md_table(header, rows), ""]
        lines += [f"- {note}" for note in notes(table)]
        parts.append("\n".join(lines))
    header, rows = summary_rows(tables)
    if header:
        lines = ["### Average rank across datasets", "", *_md_table(header, rows), ""]
        parts.append("\n".join([*lines, f"- {SUMMARY_NOTE}"]))
    return "\n\n".join(parts) + "\n"


def csv(tables: list[Table]) -> str:
    buf = io.StringIO()
    pd.DataFrame(records(tables)).to_csv(buf, index=False)
    return buf.getvalue()


def as_json(tables: list[Table]) -> str:
    return json.dumps(records(tables), indent=2) + "\n"


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


def html_fragment(tables: list[Table], level: int = 2) -> str:
    """The tables, their legends and the average-rank table as HTML (escaped), without a page."""
    body = []
    for table in tables:
        header, rows = display_rows(table)
        body.append(f"<h{level}>{html.escape(table.title)}</h{level}>")
        body += html_table(header, rows)
        body.append(html_notes(notes(table)))
    header, rows = summary_rows(tables)
    if header:
        body.append(f"<h{level}>Average rank across datasets</h{level}>")
        body += html_table(header, rows)
        body.append(html_notes([SUMMARY_NOTE]))
    return "\n".join(body)


def html_page(tables: list[Table], title: str = "anobench leaderboard") -> str:
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>\n"
        f"<h1>{html.escape(title)}</h1>\n" + html_fragment(tables) + "\n</body></html>\n"
    )


def render(tables: list[Table], fmt: str) -> str:
    """Text output for every format but ``rich``."""
    return {"markdown": markdown, "csv": csv, "json": as_json, "html": html_page}[fmt](tables)
