"""``anobench report``: one static HTML page of the stored results that opens from ``file://``.

The page holds the leaderboard tables with their statistics, then per dataset configuration and
method configuration the figure panel and training curves of every run and each run's spec and
provenance (collapsible). Figures are copied into ``figures/`` next to ``index.html`` and linked
by relative paths, or embedded as data URIs (``embed=True``: a single self-contained file).
Every string from the store is escaped.
"""

from __future__ import annotations

import base64
import html
import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from string import Template
from typing import Any

from ..api.errors import ConfigError
from ..api.home import runs_dir
from ..api.records import RunRecord, RunStatus
from ..api.version import __version__
from . import cdplot, environments, plots, render, tabulate
from .history import History, histories
from .leaderboard import Leaderboard, run_precision
from .store import Store

FIGURES = {"panel.png": "figure panel", "curves.png": "training curves"}
#: why a comparison plot of a table is missing
NO_PLOT = (
    ("image-curves", "no image ROC/PR curves or score histograms: the runs stored no evidence"
     " (stored before store schema 2, or see a run's provenance 'evidence_error')"),
    ("pixel-curves", "no pixel ROC/PR curves: no run stored pixel histograms (the dataset has"
     " no masks, or the methods return no maps)"),
)  # fmt: skip
EMPTY = "no finished runs yet: start one with 'anobench run --method meandiff --dataset synthetic'"

PAGE = Template(
    """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>$style</style>
</head><body>
<header><h1>$title</h1><p class="meta">$meta</p>$where$toc</header>
<main>
$body
</main>
<div id="zoom" hidden title="click to close"></div>
<script>
// marks every figure that decoded (a headless browser test reads data-loaded from the DOM)
window.addEventListener("load", function () {
  document.querySelectorAll("img").forEach(function (img) {
    img.dataset.loaded = img.complete && img.naturalWidth > 0 ? "true" : "false";
  });
  document.body.dataset.ready = "true";
});
// an embedded figure has no file to open: a click shows it at full resolution over the page
document.addEventListener("click", function (event) {
  var zoom = document.getElementById("zoom");
  var link = event.target.closest("a.full[data-embedded]");
  if (link) {
    event.preventDefault();
    var image = link.querySelector("img");
    zoom.replaceChildren(image.cloneNode());
    zoom.hidden = false;
  } else if (event.target.closest("#zoom")) {
    zoom.hidden = true;
  }
});
</script>
</body></html>
"""
)

STYLE = render.STYLE + (
    "header{border-bottom:2px solid #ddd;margin-bottom:1.5em}.meta{color:#666;font-size:0.9em}"
    "h2{margin-top:2em;border-bottom:1px solid #eee}h3{margin-top:1.5em}"
    ".scroll{overflow-x:auto}"
    ".runs{display:flex;flex-wrap:wrap;gap:1.5em}"
    ".run{border:1px solid #e3e3e3;border-radius:6px;padding:0.8em;max-width:100%;flex:0 1 auto}"
    ".run h4{margin:0 0 0.5em 0;font-size:1em}"
    ".figs{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}"
    "figure{margin:0}figure img{width:300px;max-width:100%;height:auto;border:1px solid #eee}"
    ".figs .missing{width:300px}"
    "figcaption{font-size:0.8em;color:#666}"
    ".missing{color:#888;font-style:italic;font-size:0.9em}"
    "details{margin-top:0.5em}summary{cursor:pointer;color:#245}"
    "pre{background:#f7f7f7;padding:0.6em;font-size:0.75em;max-height:30em;overflow:auto}"
    ".empty{font-size:1.2em;color:#a33}"
    "table.failed td{text-align:left}"
    "table.where td,table.where th{text-align:left;font-size:0.85em}"
    ".plots figure img{width:900px}"
    "a.full{cursor:zoom-in}"
    "#zoom{position:fixed;inset:0;background:rgba(0,0,0,0.85);overflow:auto;cursor:zoom-out}"
    "#zoom img{display:block;margin:1em auto;max-width:none;background:#fff}"
)


@dataclass
class ReportResult:
    """Where the page went and what it holds."""

    path: Path
    runs: int = 0
    figures: int = 0
    missing: list[str] = field(default_factory=list)
    empty: bool = False


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


class _Figures:
    """Copies (or embeds) run figures; returns ``<img>`` tags with relative or data URIs."""

    def __init__(self, output: Path, embed: bool) -> None:
        self.folder = output / "figures"
        self.embed = embed
        self.count = 0

    def tag(self, path: Path, run_id: str, alt: str) -> str:
        try:
            if self.embed:
                src = _data_uri(path.read_bytes())
            else:
                self.folder.mkdir(parents=True, exist_ok=True)
                name = f"{run_id}-{path.name}"
                shutil.copyfile(path, self.folder / name)
                src = f"figures/{name}"
        except OSError as exc:
            raise ConfigError(f"cannot copy the figure {path} ({exc.strerror})") from None
        return self._linked(src, f'alt="{_esc(alt)}" data-run="{_esc(run_id)}"')

    def plot_tag(self, plot: plots.Plot, stem: str) -> str:
        """The plot as PNG (copied next to an SVG of it, or embedded)."""
        png = plot.data("png")
        if self.embed:
            return self._linked(_data_uri(png), f'alt="{_esc(plot.alt)}"')
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / f"{stem}.png").write_bytes(png)
            (self.folder / f"{stem}.svg").write_bytes(plot.data("svg"))
        except OSError as exc:
            raise ConfigError(f"cannot write the plot {stem} ({exc.strerror})") from None
        return self._linked(f"figures/{stem}.png", f'alt="{_esc(plot.alt)}"')

    def _linked(self, src: str, attributes: str) -> str:
        """The image inside a link that opens it at full resolution (the file, or for an
        embedded image the page's zoom view)."""
        self.count += 1
        image = f'<img src="{_esc(src)}" {attributes}>'
        if self.embed:
            return f'<a class="full" href="#zoom" data-embedded>{image}</a>'
        return f'<a class="full" href="{_esc(src)}">{image}</a>'


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _artifact_dir(record: RunRecord, home: Path) -> Path | None:
    """The run's artifact folder; a relative stored path is retried under ``home``."""
    candidates = [Path(record.artifacts)] if record.artifacts else []
    candidates.append(runs_dir(home) / record.run_id)
    return next((p for p in candidates if p.is_dir()), None)


def _provenance(record: RunRecord) -> str:
    data = record.to_dict()
    data["provenance"] = {k: v for k, v in data["provenance"].items() if k != "traceback"}
    return json.dumps(data, indent=2, default=str, sort_keys=True)


def _run_card(record: RunRecord, home: Path, figures: _Figures, result: ReportResult) -> str:
    spec = record.spec
    primary = record.primary_metric or ""
    value = record.metrics.get(primary)
    shown = "-" if value is None or value != value else f"{value:.4f}"
    parts = [
        '<div class="run">',
        f"<h4>seed {_esc(spec.seed)} · run {_esc(record.run_id)} · {_esc(primary)} {_esc(shown)}"
        "</h4>",
        '<div class="figs">',
    ]
    folder = _artifact_dir(record, home)
    for name, what in FIGURES.items():
        path = None if folder is None else folder / name
        if path is not None and path.is_file():
            alt = f"{what} of {spec.method} on {spec.dataset}, seed {spec.seed}"
            parts.append(
                f"<figure>{figures.tag(path, record.run_id, alt)}"
                f"<figcaption>{_esc(what)}</figcaption></figure>"
            )
        else:
            reason = (
                "the method logged no training steps"
                if name == "curves.png" and folder is not None
                else "not stored"
            )
            parts.append(f'<p class="missing">no {_esc(what)} ({_esc(reason)})</p>')
            result.missing.append(f"{record.run_id}/{name}")
    parts.append("</div>")
    parts.append(
        f"<details><summary>spec and provenance of run {_esc(record.run_id)}</summary>"
        f"<pre>{_esc(_provenance(record))}</pre></details>"
    )
    parts.append("</div>")
    return "\n".join(parts)


def _groups(
    records: Iterable[RunRecord],
) -> dict[str, dict[tuple[str, str, str, str], list[RunRecord]]]:
    out: dict[str, dict[tuple[str, str, str, str], list[RunRecord]]] = {}
    for r in records:
        key = (r.spec.method, r.spec.method_hash(), r.spec.profile, run_precision(r.provenance))
        out.setdefault(r.spec.dataset_hash(), {}).setdefault(key, []).append(r)
    return out


def _failed(unfinished: list[History]) -> str:
    """One row per configuration and seed that has no finished run: its latest attempt."""
    if not unfinished:
        return ""
    rows = [
        '<h2 id="unfinished">Runs that did not finish</h2>',
        '<div class="scroll"><table class="leaderboard failed">',
        "<tr><th>run</th><th>method</th><th>dataset</th><th>seed</th><th>status</th>"
        "<th>attempts</th><th>error</th></tr>",
    ]
    for history in unfinished:
        r = history.latest
        others = [o.run_id for o in history.older]
        attempts = history.summary() + (f" (earlier runs {', '.join(others)})" if others else "")
        cells = [r.run_id, r.spec.method, r.spec.dataset, r.spec.seed, r.status, attempts]
        cells.append(r.error or "")
        rows.append("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in cells) + "</tr>")
    rows.append("</table></div>")
    return "\n".join(rows)


def _intervals(board: Leaderboard) -> str:
    """Every metric's interval, collapsed under each table (the tables show the primary one)."""
    parts = []
    for table in board.tables:
        header = ["method", *[f"{m} 95% CI" for m in table.metrics]]
        rows = []
        for row in table.rows:
            intervals = [row.metrics[m].interval for m in table.metrics]
            rows.append([row.label, *[render.fmt_ci(i.low, i.high) for i in intervals]])
        notes = [f"{m}: over {over}." for m, over in table.ci_over.items()]
        parts.append(
            f"<details><summary>95% intervals of every metric: {_esc(table.title)}</summary>"
            '<div class="scroll">'
            + "\n".join(render.html_table(header, rows))
            + "</div>"
            + render.html_notes(notes)
            + "</details>"
        )
    return "\n".join(parts)


def _comparison(store: Store, board: Leaderboard, figures: _Figures) -> str:
    """Each table's plots (forest, ROC/PR, score histograms), captioned."""
    parts = ['<section id="comparison">', "<h2>Comparison</h2>"]
    for table in board.tables:
        parts.append(f"<h3>{_esc(table.title)}</h3>")
        parts.append('<div class="figs plots">')
        made = plots.table_plots(store, table)
        for plot in made:
            try:
                stem = f"{plots.slug(table)}-{plot.name}"
                svg = "" if figures.embed else f' (<a href="figures/{_esc(stem)}.svg">SVG</a>)'
                parts.append(
                    f"<figure>{figures.plot_tag(plot, stem)}"
                    f"<figcaption>{_esc(plot.caption)}{svg}</figcaption></figure>"
                )
            finally:
                plot.close()
        names = {plot.name for plot in made}
        parts += [
            f'<p class="missing">{_esc(why)}</p>' for name, why in NO_PLOT if name not in names
        ]
        parts.append("</div>")
    parts.append("</section>")
    return "\n".join(parts)


def _cd_section(board: Leaderboard, figures: _Figures) -> str:
    """The critical-difference diagram across datasets, or why there is none."""
    parts = ["<h3>Across datasets: critical-difference diagram</h3>"]
    plot = cdplot.cd_diagram(board.rank_test)
    if plot is None:
        why = f"no critical-difference diagram: {cdplot.why_none(board.rank_test)}."
        parts.append(f'<p class="missing">{_esc(why)}</p>')
        return "\n".join(parts)
    try:
        svg = "" if figures.embed else f' (<a href="figures/{cdplot.STEM}.svg">SVG</a>)'
        parts.append(
            f'<div class="figs plots"><figure>{figures.plot_tag(plot, cdplot.STEM)}'
            f"<figcaption>{_esc(plot.caption)}{svg}</figcaption></figure></div>"
        )
    finally:
        plot.close()
    return "\n".join(parts)


def _where(records: list[RunRecord]) -> str:
    """What ran where, from the finished runs' provenance."""
    rows = environments.summary(records)
    if not rows:
        return ""
    header = ["runs", *environments.COLUMNS]
    body = [[str(n), *values] for n, values in rows]
    return (
        "<details open><summary>What ran where (from the runs' provenance)</summary>"
        '<div class="scroll"><table class="leaderboard where">'
        + "<tr>"
        + "".join(f"<th>{_esc(h)}</th>" for h in header)
        + "</tr>"
        + "".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in row) + "</tr>" for row in body)
        + "</table></div></details>"
    )


def build_report(
    store: Store,
    home: Path,
    output: Path,
    dataset: str | None = None,
    method: str | None = None,
    resamples: int = 1000,
    embed: bool = False,
    backfill: tabulate.Backfill | None = None,
    correction: str = "holm",
) -> ReportResult:
    """Write ``output/index.html`` (and ``output/figures/`` unless ``embed``); ``backfill`` as
    in :func:`anobench.results.tabulate.build`."""
    if output.exists() and not output.is_dir():
        raise ConfigError(f"--output {output} is a file; give a folder for index.html")
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--output {output}: cannot create the folder ({exc.strerror})") from None
    board = tabulate.build(
        store,
        dataset=dataset,
        method=method,
        resamples=resamples,
        backfill=backfill,
        correction=correction,
    )
    records = [
        r
        for r in store.runs()
        if (dataset is None or r.spec.dataset == dataset)
        and (method is None or r.spec.method == method)
    ]
    finished = [r for r in records if r.status == RunStatus.FINISHED]
    result = ReportResult(path=output / "index.html", runs=len(finished))
    figures = _Figures(output, embed)
    body: list[str] = []
    toc: list[tuple[str, str]] = []
    if not board.tables:
        result.empty = True
        body.append(f'<p class="empty">{_esc(EMPTY)}</p>')
    else:
        toc.append(("leaderboard", "Leaderboard"))
        body.append('<h2 id="leaderboard">Leaderboard</h2>')
        body.append('<div class="scroll">' + render.html_fragment(board, level=3) + "</div>")
        if resamples:
            body.append(_intervals(board))
        toc.append(("comparison", "Comparison"))
        body.append(_comparison(store, board, figures))
        body.append(_cd_section(board, figures))
        groups = _groups(finished)
        for number, table in enumerate(board.tables):
            anchor = f"dataset-{number}"
            toc.append((anchor, f"Runs: {table.title}"))
            body.append(f'<h2 id="{anchor}">Runs: {_esc(table.title)}</h2>')
            by_method = groups.get(table.dataset_hash, {})
            for row in table.rows:
                counted = [r for r in by_method.get(row.key, []) if r.run_id in row.run_ids]
                runs = sorted(counted, key=lambda r: (r.spec.seed, r.created or ""))
                primary = table.primary_metric
                summary = render.fmt_cell(row.metrics[primary], row.n)
                body.append(f"<h3>{_esc(row.label)}: {_esc(primary)} {_esc(summary)}</h3>")
                body.append('<div class="runs">')
                body += [_run_card(r, home, figures, result) for r in runs]
                body.append("</div>")
    # a configuration and seed that finished once is in the leaderboard: its other attempts
    # are not runs that did not finish ('anobench show' lists them)
    unfinished = [h for h in histories(records) if h.kept.status != RunStatus.FINISHED]
    if unfinished:
        toc.append(("unfinished", "Runs that did not finish"))
        body.append(_failed(unfinished))
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    filters = ", ".join(
        f"{k} = {v}" for k, v in (("dataset", dataset), ("method", method)) if v is not None
    )
    meta = (
        f"generated {generated} by anobench {__version__} from {store.path}; {len(finished)}"
        f" finished runs" + (f" ({filters})" if filters else "")
    )
    links = "".join(f'<li><a href="#{a}">{_esc(t)}</a></li>' for a, t in toc)
    page = PAGE.substitute(
        title="anobench report",
        style=STYLE,
        meta=_esc(meta),
        where=_where(finished),
        toc=f"<nav><ul>{links}</ul></nav>" if toc else "",
        body="\n".join(body),
    )
    try:
        result.path.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--output {output}: cannot write the report ({exc.strerror})") from None
    result.figures = figures.count
    return result
