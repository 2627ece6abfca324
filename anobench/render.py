"""Render leaderboard tables as rich, Markdown, CSV, JSON or HTML, all from one table model."""

from __future__ import annotations

import html
import io
import json

import pandas as pd

from .leaderboard import Table, display_rows, records

FORMATS = ("rich", "markdown", "csv", "json", "html")
NOTE = (
    "mean ± std over seeds (n = number of seeds); * = primary metric the rank uses;"
    " metrics with 'oracle' in the name choose a threshold on the test set (upper bound)."
)


def rich_tables(tables: list[Table]) -> list:
    from rich.table import Table as RichTable

    out = []
    for table in tables:
        header, rows = display_rows(table)
        rt = RichTable(title=table.title, caption=NOTE, caption_justify="left")
        for i, col in enumerate(header):
            rt.add_column(col, justify="left" if i == 1 else "right", no_wrap=i <= 2)
        for row in rows:
            rt.add_row(*row)
        out.append(rt)
    return out


def markdown(tables: list[Table]) -> str:
    parts = []
    for table in tables:
        header, rows = display_rows(table)
        lines = [f"### {table.title}", ""]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join("---" if i == 1 else "---:" for i in range(len(header))) + "|")
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + f"\n\n{NOTE}\n"


def csv(tables: list[Table]) -> str:
    buf = io.StringIO()
    pd.DataFrame(records(tables)).to_csv(buf, index=False)
    return buf.getvalue()


def as_json(tables: list[Table]) -> str:
    return json.dumps(records(tables), indent=2) + "\n"


def html_page(tables: list[Table], title: str = "anobench leaderboard") -> str:
    body = [f"<h1>{html.escape(title)}</h1>", f"<p>{html.escape(NOTE)}</p>"]
    for table in tables:
        header, rows = display_rows(table)
        body.append(f"<h2>{html.escape(table.title)}</h2>")
        body.append('<table class="leaderboard">')
        body.append("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>")
        for row in rows:
            body.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
        body.append("</table>")
    style = (
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}"
        "th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "td:nth-child(2),th:nth-child(2){text-align:left}th{background:#f3f3f3}"
    )
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{style}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def render(tables: list[Table], fmt: str) -> str:
    """Text output for every format but ``rich``."""
    return {"markdown": markdown, "csv": csv, "json": as_json, "html": html_page}[fmt](tables)
