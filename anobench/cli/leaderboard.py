"""``anobench leaderboard``: finished runs aggregated over seeds, in one of the output formats."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..api.errors import ConfigError
from ..results.render import FORMATS

if TYPE_CHECKING:
    from ..results.leaderboard import Leaderboard
    from ..results.store import Store
from .common import State, bootstrap_option, console, correction_option


@click.command("leaderboard")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(FORMATS)),
    default=next(iter(FORMATS)),
    show_default=True,
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of the terminal.",
)
@click.option("--dataset", default=None, help="Only this dataset.")
@click.option("--method", default=None, help="Only this method.")
@click.option(
    "--metric",
    "columns",
    multiple=True,
    help="Only these metric columns (repeatable; 'all': every one, and the costs); the primary"
    " metric is always shown. Default: the terminal table shows the dataset's key metrics, the"
    " other formats every metric.",
)
@bootstrap_option
@correction_option
@click.option(
    "--plot",
    "plot_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write each dataset's comparison plots (forest, ROC/PR, score histograms) and,"
    " across datasets, the critical-difference diagram to this folder, as PNG and SVG.",
)
@click.pass_obj
def command(
    state: State,
    fmt: str,
    output: Path | None,
    dataset: str | None,
    method: str | None,
    columns: tuple[str, ...],
    resamples: int,
    correction: str,
    plot_dir: Path | None,
) -> None:
    """Finished runs aggregated over seeds: mean ± std, 95% bootstrap interval, paired test
    against the best method, ranked by the primary metric; average rank across datasets."""
    from ..results import tabulate, terminal
    from ..run.declared import declared
    from ..run.profiles import backfill

    chosen = FORMATS[fmt]
    from ..results.store import NoStore, Store

    try:
        store = state.store(readonly=True)
    except NoStore:
        store = Store(":memory:")  # nothing stored yet: an empty board, and no file made
    every_metric = bool(columns)
    columns = tuple(c for c in columns if c != "all")
    with store:
        board = tabulate.build(
            store,
            dataset=dataset,
            method=method,
            columns=list(columns),
            resamples=resamples,
            all_intervals=chosen.every_interval,
            backfill=backfill,
            declared=declared(),
            correction=correction,
        )
        if plot_dir is not None and board.tables:
            _plots(store, board, plot_dir)
    if not board.tables:
        click.echo(
            "no finished runs yet: start one with 'anobench run --method meandiff"
            " --dataset synthetic'",
            err=True,
        )
        if output is None:
            return
    if chosen.terminal and output is None:
        out = console()
        for table in terminal.rich_tables(board, out.width, every_metric):
            out.print(table)
        return
    text = chosen.text(board)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)
    except OSError as exc:
        raise ConfigError(f"--output {output}: cannot write ({exc.strerror})") from None
    click.echo(f"wrote {output}", err=True)


def _plots(store: Store, board: Leaderboard, folder: Path) -> None:
    from ..results import plots

    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--plot {folder} is a file; give a folder for the plots")
    try:
        written = plots.write(store, board.tables, folder)
        written += _cd_diagram(board, folder)
    except OSError as exc:
        raise ConfigError(f"--plot {folder}: cannot write ({exc.strerror})") from None
    click.echo(f"wrote {len(written)} plot files to {folder}", err=True)


def _cd_diagram(board: Leaderboard, folder: Path) -> list[Path]:
    from ..results import cdplot

    plot = cdplot.cd_diagram(board.rank_test)
    if plot is None:
        click.echo(f"no critical-difference diagram: {cdplot.why_none(board.rank_test)}", err=True)
        return []
    return cdplot.write(plot, folder)
