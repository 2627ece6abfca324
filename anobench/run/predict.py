"""Apply a stored run's trained method to a user's own images (``anobench predict``).

The run's spec rebuilds the method (same resolved options) and the dataset (for its
``preprocess``: size, channels, equalisation); ``model.pt`` restores the learned state with
``torch.load(weights_only=True)``. Outputs: one figure per image (input as the model sees it,
anomaly map, overlay; a healthy translation or reconstruction when the method returns one),
``scores.json``, ``scores.csv`` and ``maps.npz`` (with those images too). Each score gets a
verdict at the image threshold the run chose on its validation split, when it stored one.
"""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..api.context import make_context
from ..api.errors import ConfigError, DataError
from ..api.home import MODEL_FILE, runs_dir, store_path
from ..api.imageio import read_image
from ..api.interfaces import Dataset, Method
from ..api.progress import Reporter
from ..api.records import Predictions, RunRecord
from ..api.resolve import MethodSetup, method_setup, plugin_class
from ..api.validate import check_predictions
from ..results.figures import IMAGE_EXTRAS
from ..results.store import Store
from . import gpu
from .devices import resolve_device
from .verdict import Threshold, stored_threshold


@dataclass(frozen=True)
class PredictResult:
    run_id: str
    output: Path
    rows: list[dict[str, Any]]
    threshold: Threshold


def default_output(home: Path, run_id: str) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Path(home) / "predictions" / run_id / stamp


def load_trained(
    home: Path, run_id: str, device: str = "cpu"
) -> tuple[RunRecord, Method, Dataset, Threshold, MethodSetup]:
    """A stored run's method with its learned state, its dataset (for ``preprocess``), its
    validation image threshold and its setup on ``device`` (the method is built with ``auto``
    resolved for that device, the device a ``--device`` value)."""
    # only reads: a read-only (or full) home can still predict into --output elsewhere
    with Store(store_path(Path(home)), readonly=True) as store:
        record = store.get_run(run_id)
        threshold = stored_threshold(store, record.run_id)
    spec = record.spec
    folder = Path(record.artifacts) if record.artifacts else runs_dir(Path(home)) / record.run_id
    model_path = folder / MODEL_FILE
    if not model_path.is_file():
        rerun = (
            f"rerun it ('anobench run -m {spec.method} -d {spec.dataset} --seed {spec.seed}')"
            " and predict with the new run id"
        )
        if record.status == "finished":
            raise ConfigError(
                f"run {record.run_id} is finished but its saved model {model_path} is missing"
                f" (has no saved model: was {folder} deleted?); {rerun}"
            )
        raise ConfigError(
            f"run {record.run_id} ({record.status}) has no saved model at {model_path}; only a"
            f" finished run keeps one: {rerun}"
        )
    method_cls = plugin_class("method", spec.method)
    dataset_cls = plugin_class("dataset", spec.dataset)
    on = resolve_device(device)
    try:
        setup = method_setup(method_cls, spec.method_options, on)
        method = method_cls(**setup.options)
        dataset = dataset_cls(**spec.dataset_options)
    except ConfigError as exc:
        raise ConfigError(
            f"run {record.run_id} was made with options the installed plugins no longer accept"
            f" ({exc}); reinstall the plugin version recorded in 'anobench show {record.run_id}'"
        ) from None
    try:
        state = torch.load(model_path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise DataError(
            f"{model_path}: cannot load the saved model ({_load_error(exc)}); the file is damaged"
            " or was not written by anobench: run the configuration again (anobench run ...)"
        ) from None
    try:
        method.load_state_dict(state)
    except Exception as exc:
        raise DataError(
            f"{model_path}: method '{spec.method}' cannot restore this saved state"
            f" ({type(exc).__name__}: {exc}); was it saved by another version of the plugin?"
        ) from None
    return record, method, dataset, threshold, setup


def prepare(dataset: Dataset, files: Sequence[Path]) -> np.ndarray:
    """Read and preprocess every file before any model work, so a bad file fails fast."""
    images = []
    for path in files:
        prepared = np.asarray(dataset.preprocess(read_image(path)), dtype=np.float32)
        if prepared.ndim != 3:
            raise DataError(
                f"dataset '{dataset.name}'.preprocess returned shape {prepared.shape} for {path};"
                " expected [C, H, W]"
            )
        if images and prepared.shape != images[0].shape:
            raise DataError(f"{path}: preprocessed to {prepared.shape}, not {images[0].shape}")
        images.append(prepared)
    return np.stack(images)


def predict_files(
    home: Path,
    run_id: str,
    files: Sequence[str | Path],
    output: Path | None = None,
    device: str = "auto",
    reporter: Reporter | None = None,
) -> PredictResult:
    """Score ``files`` with a stored run's model; writes figures and score tables to ``output``."""
    if not files:
        raise ConfigError("predict needs at least one image file")
    paths = [Path(f) for f in files]
    record, method, dataset, threshold, setup = load_trained(home, run_id, device)
    images = prepare(dataset, paths)
    spec = record.spec
    reporter = reporter or Reporter()
    owner = f"method '{spec.method}'"
    with tempfile.TemporaryDirectory(prefix="anobench-predict-") as tmp:
        ctx = make_context(
            tmp, spec.seed, device=setup.device, progress=reporter, precision=setup.precision
        )
        # as the run computed: TF32 only where its precision was tf32
        gpu.configure(ctx.device, (record.provenance.get("resolved") or {}).get("precision"))
        with torch.inference_mode():
            pred = check_predictions(method.predict(images, ctx), images, owner)
    output = Path(output) if output else default_output(Path(home), record.run_id)
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--output {output}: cannot create the folder ({exc.strerror})") from None
    rows = _write(output, record, paths, images, pred, threshold)
    return PredictResult(run_id=record.run_id, output=output, rows=rows, threshold=threshold)


def _figure_names(paths: Sequence[Path]) -> list[str]:
    return [f"{i:03d}_{p.stem}.png" for i, p in enumerate(paths)]


def _image_extras(pred: Predictions, n: int) -> dict[str, np.ndarray]:
    """The extras a figure can show as images (``[N, C, H, W]``), in :data:`IMAGE_EXTRAS` order."""
    shown = {}
    for name in IMAGE_EXTRAS:
        value = pred.extras.get(name)
        if value is not None and np.ndim(value) == 4 and len(value) == n:
            shown[name] = np.asarray(value)
    return shown


def _write(
    output: Path,
    record: RunRecord,
    paths: Sequence[Path],
    images: np.ndarray,
    pred: Predictions,
    threshold: Threshold,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    names = _figure_names(paths)
    spec = record.spec
    title = f"{spec.method} (run {record.run_id}, {spec.dataset}, profile {spec.profile})"
    extras = _image_extras(pred, len(paths))
    for i, path in enumerate(paths):
        score = float(pred.scores[i])
        row: dict[str, Any] = {
            "file": str(path),
            "score": score,
            "verdict": threshold.verdict(score),
            "threshold": threshold.value,
            "map_max": None,
            "map_mean": None,
            "figure": names[i],
        }
        if pred.maps is not None:
            row["map_max"] = float(pred.maps[i].max())
            row["map_mean"] = float(pred.maps[i].mean())
        amap = None if pred.maps is None else pred.maps[i]
        shown = {k: v[i] for k, v in extras.items()}
        figure(images[i], amap, row, output / names[i], title, shown, threshold.explain(score))
        rows.append(row)
    summary = {
        "run_id": record.run_id,
        "method": spec.method,
        "dataset": spec.dataset,
        "profile": spec.profile,
        "seed": spec.seed,
        "method_options": dict(spec.method_options),
        "dataset_options": dict(spec.dataset_options),
        "score": "higher = more anomalous (for weakly supervised classifiers: P(diseased))",
        "threshold": threshold.to_dict(),
        "input_shape": list(images.shape[1:]),
        "images": rows,
    }
    (output / "scores.json").write_text(json.dumps(summary, indent=2, default=str))
    with (output / "scores.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    files = np.array([str(p) for p in paths])
    arrays: dict[str, np.ndarray] = {"scores": pred.scores, "files": files}
    if pred.maps is not None:
        arrays["maps"] = pred.maps.astype(np.float32)
    arrays.update({k: v.astype(np.float32) for k, v in extras.items()})
    np.savez_compressed(output / "maps.npz", **arrays)
    return rows


def figure_of(
    image: np.ndarray,
    amap: np.ndarray | None,
    row: dict[str, Any],
    title: str,
    extras: dict[str, np.ndarray] | None = None,
    verdict: str | None = None,
) -> Any:
    """The matplotlib figure of one image: input, extras (e.g. its healthy translation), anomaly
    map and overlay, headed by its score and verdict."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    extras = extras or {}
    gray = np.asarray(image, dtype=np.float32).mean(axis=0)
    columns = 1 + len(extras) + (0 if amap is None else 2)
    fig, axes = plt.subplots(1, columns, figsize=(3.2 * columns, 3.6), squeeze=False)
    axes = axes[0]
    axes[0].imshow(gray, cmap="gray", vmin=-1, vmax=1)
    axes[0].set_title("input (as the model sees it)", fontsize=8)
    for ax, (name, extra) in zip(axes[1:], extras.items(), strict=False):
        ax.imshow(np.asarray(extra, dtype=np.float32).mean(axis=0), cmap="gray", vmin=-1, vmax=1)
        ax.set_title(name.replace("_", " "), fontsize=8)
    if amap is None:
        axes[0].set_xlabel("this method gives no anomaly map", fontsize=8)
    else:
        map_ax, overlay_ax = axes[-2], axes[-1]
        low, high = float(amap.min()), float(amap.max())
        top = high if high > low else None
        shown = map_ax.imshow(amap, cmap="inferno", vmin=low, vmax=top)
        map_ax.set_title("anomaly map", fontsize=8)
        fig.colorbar(shown, ax=map_ax, fraction=0.046, pad=0.04)
        overlay_ax.imshow(gray, cmap="gray", vmin=-1, vmax=1)
        overlay_ax.imshow(amap, cmap="inferno", alpha=0.45, vmin=low, vmax=top)
        overlay_ax.set_title("overlay", fontsize=8)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    heading = verdict or f"score {row['score']:.4g}"
    fig.suptitle(f"{Path(row['file']).name}: {heading}\n{title}", fontsize=8)
    fig.tight_layout()
    return fig


def figure(
    image: np.ndarray,
    amap: np.ndarray | None,
    row: dict[str, Any],
    path: Path,
    title: str,
    extras: dict[str, np.ndarray] | None = None,
    verdict: str | None = None,
) -> Path:
    """Save :func:`figure_of` as ``path``."""
    import matplotlib.pyplot as plt

    fig = figure_of(image, amap, row, title, extras, verdict)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _load_error(exc: BaseException) -> str:
    """torch's refusal in one line: its explanation of ``weights_only`` spans paragraphs."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if line.endswith("error:") and i + 1 < len(lines):  # "WeightsUnpickler error:"
            return f"{line.rsplit(': ', 1)[-1]} {lines[i + 1]}"
    return lines[0] if lines else type(exc).__name__
