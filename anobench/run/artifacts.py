"""What a finished run leaves in its folder: predictions, model, figures, bootstrap evidence."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..api.context import RunContext
from ..api.home import MODEL_FILE
from ..api.interfaces import Dataset, Method, Metric
from ..api.progress import Reporter
from ..api.records import (
    MetricResult,
    Predictions,
    RunSpec,
    Split,
)
from ..api.validate import loadable_state
from ..results.figures import curves, panel
from ..results.resampling import collect as collect_evidence
from .spec import _plugin_class


def _save_predictions(path: Path, split: Split, pred: Predictions) -> None:
    arrays = {"scores": pred.scores, "labels": np.asarray(split.labels), "ids": np.array(split.ids)}
    if pred.maps is not None:
        arrays["maps"] = pred.maps.astype(np.float16)
    np.savez(path, **arrays)


def _evidence(
    test: Split,
    pred: Predictions,
    results: Mapping[str, tuple[type[Metric], MetricResult]],
    provenance: dict[str, Any],
    reporter: Reporter,
) -> bytes | None:
    """What the leaderboard's bootstrap needs; its failure costs the intervals, not the run."""
    # pixel thresholds become bin edges, so pooled Dice at them is recomputed exactly
    thresholds = [
        float(result.details["threshold"])
        for cls, result in results.values()
        if cls.level == "pixel" and result.defined and "threshold" in result.details
    ]
    try:
        return collect_evidence(test, pred, thresholds).to_bytes()
    except Exception as exc:
        provenance["evidence_error"] = f"{type(exc).__name__}: {exc}"
        reporter.log(f"no bootstrap evidence stored: {exc}")
        return None


def _artifacts(
    workdir: Path,
    spec: RunSpec,
    method: Method,
    test: Split,
    pred: Predictions,
    ctx: RunContext,
    dataset_cls: type[Dataset] | None = None,
) -> None:
    _save_predictions(workdir / "predictions.npz", test, pred)
    # a finished run's model must load back the way ``anobench predict`` loads it
    state = loadable_state(method.state_dict(), f"method '{spec.method}'")
    torch.save(state, workdir / MODEL_FILE)
    torch.load(workdir / MODEL_FILE, map_location="cpu", weights_only=True)
    title = f"{spec.method} on {spec.dataset} (profile {spec.profile}, seed {spec.seed})"
    dataset_cls = dataset_cls or _plugin_class("dataset", spec.dataset, Dataset)
    names = getattr(dataset_cls, "class_names", None)
    panel(test, pred, workdir / "panel.png", title, names=names or ("healthy", "diseased"))
    curves(ctx.history, workdir / "curves.png", title, ctx.stages)
