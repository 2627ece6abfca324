"""``anobench predict``: score the user's own images with a stored run's trained method."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..api.progress import make_reporter
from .common import State, console


@click.command("predict")
@click.option("--run", "run_id", required=True, metavar="RUN_ID", help="A stored run (id/prefix).")
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for figures and scores. Default: <home>/predictions/<run-id>/<timestamp>.",
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_obj
def command(
    state: State, run_id: str, images: tuple[Path, ...], output: Path | None, device: str, fmt: str
) -> None:
    """Apply a stored run's trained method to PNG, JPEG, TIFF, DICOM or NIfTI IMAGES.

    Each image is read as display intensities (DICOM: modality LUT, then its first VOI window;
    MONOCHROME1 inverted), prepared like the run's dataset (size, channels, equalisation) and
    scored; writes a figure per image plus scores.json, scores.csv and maps.npz. Each score
    gets a verdict (anomalous or normal) at the image threshold the run chose on its validation
    split; a run that stored no such threshold gets none.
    """
    from ..run.predict import predict_files

    result = predict_files(
        state.home,
        run_id,
        list(images),
        output=output,
        device=device,
        reporter=make_reporter(state.quiet or fmt == "json"),
    )
    if fmt == "json":
        payload = {
            "run_id": result.run_id,
            "output": str(result.output),
            "threshold": result.threshold.to_dict(),
            "images": result.rows,
        }
        click.echo(json.dumps(payload, indent=2))
        return
    from rich.table import Table

    table = Table(title=f"run {result.run_id}")
    for column in ("file", "score", "verdict", "map max", "figure"):
        table.add_column(column, overflow="fold")
    for row in result.rows:
        peak = "-" if row["map_max"] is None else f"{row['map_max']:.4g}"
        verdict = row["verdict"] or "-"
        table.add_row(row["file"], f"{row['score']:.4g}", verdict, peak, row["figure"])
    out = console()
    out.print(table)
    out.print(result.threshold.describe(), highlight=False, markup=False)
    out.print(f"wrote {result.output} (scores.json, scores.csv, maps.npz)", highlight=False)
