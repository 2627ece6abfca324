"""Stored runs -> MLflow: one MLflow run per anobench run, one experiment per dataset configuration.

Each MLflow run gets the resolved options as params (``method.*``, ``dataset.*``), every metric,
fit and predict seconds, the training log as step metrics (``train/<name>``), the figure panel,
the curves and ``model.pt`` as artifacts, and tags naming the anobench run (id, seed, config
hash, git revision). Exporting is idempotent: a run already exported (tag ``anobench.run_id``)
with the same end time is left as it is; one whose anobench run changed since (resumed, rerun)
is replaced.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..api.errors import ConfigError
from ..api.home import MODEL_FILE
from ..api.records import RunRecord

TAG_RUN = "anobench.run_id"
TAG_ENDED = "anobench.finished"
#: files of a run folder logged as artifacts, when present
ARTIFACTS = ("panel.png", "curves.png", MODEL_FILE)
TRAINING_LOG = "training_log.jsonl"
#: MLflow's limits per log_batch call
_PARAMS_PER_BATCH, _METRICS_PER_BATCH = 100, 1000
_PARAM_LENGTH = 6000


@dataclass
class Exported:
    run_id: str
    mlflow_run_id: str
    experiment: str
    action: str  # "created", "unchanged" or "replaced"


def experiment_name(record: RunRecord) -> str:
    """One experiment per dataset configuration: its name and the hash of its options."""
    return f"anobench/{record.spec.dataset}/{record.spec.dataset_hash()}"


def params(record: RunRecord) -> dict[str, str]:
    spec = record.spec
    out = {
        "method": spec.method,
        "dataset": spec.dataset,
        "profile": spec.profile,
        "seed": str(spec.seed),
        "device": spec.device,
        "max_steps": str(spec.max_steps),
        "time_budget": str(spec.time_budget),
    }
    for prefix, options in (("method", spec.method_options), ("dataset", spec.dataset_options)):
        for key, value in sorted(options.items()):
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            out[f"{prefix}.{key}"] = text[:_PARAM_LENGTH]
    resolved = (record.provenance.get("resolved") or {}).get("options") or {}
    for key, value in sorted(resolved.items()):
        out[f"resolved.{key}"] = str(value)[:_PARAM_LENGTH]
    return out


def tags(record: RunRecord) -> dict[str, str]:
    prov = record.provenance
    out = {
        TAG_RUN: record.run_id,
        TAG_ENDED: record.finished or "",
        "anobench.seed": str(record.spec.seed),
        "anobench.config_hash": record.spec.config_hash(),
        "anobench.dataset_hash": record.spec.dataset_hash(),
        "anobench.status": str(record.status),
        "anobench.git_revision": str(prov.get("git_revision") or "unknown"),
        "anobench.version": str(prov.get("anobench_version") or ""),
        "mlflow.runName": f"{record.spec.method} seed {record.spec.seed} ({record.run_id})",
    }
    if prov.get("git_revision"):
        out["mlflow.source.git.commit"] = str(prov["git_revision"])
    if prov.get("dataset_fingerprint"):
        out["anobench.dataset_fingerprint"] = str(prov["dataset_fingerprint"])
    for name, reason in record.metric_reasons.items():
        out[f"anobench.undefined.{name}"] = reason[:_PARAM_LENGTH]
    return out


def metrics(record: RunRecord) -> dict[str, float]:
    out = {
        name: float(value)
        for name, value in record.metrics.items()
        if value is not None and math.isfinite(value)
    }
    for key in ("fit_seconds", "predict_seconds", "predict_seconds_per_image"):
        if isinstance(record.provenance.get(key), int | float):
            out[key] = float(record.provenance[key])
    return out


def training_curve(folder: Path | None) -> Iterator[tuple[str, float, int]]:
    """(``train/<name>``, value, step) of every scalar in the run's training log."""
    path = folder / TRAINING_LOG if folder else None
    if path is None or not path.exists():
        return
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        step = int(row.pop("step", 0))
        for name, value in row.items():
            if isinstance(value, int | float) and math.isfinite(value):
                yield f"train/{name}", float(value), step


def _millis(stamp: str | None) -> int | None:
    if not stamp:
        return None
    try:
        return int(datetime.fromisoformat(stamp).timestamp() * 1000)
    except ValueError:
        return None


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class MlflowExporter:
    def __init__(self, tracking_uri: str | None = None) -> None:
        try:
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise ConfigError(
                'anobench export mlflow needs MLflow: pip install -e ".[mlflow]" (or pip'
                " install 'mlflow>=2.10')"
            ) from None
        try:
            self.client = MlflowClient(tracking_uri=tracking_uri)
            self.client.search_experiments(max_results=1)  # reachable, and a store it accepts
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            where = tracking_uri or "MLflow's default tracking URI ($MLFLOW_TRACKING_URI)"
            raise ConfigError(f"--tracking-uri {where}: {first}") from None
        self._experiments: dict[str, str] = {}

    def _experiment(self, name: str) -> str:
        if name not in self._experiments:
            found = self.client.get_experiment_by_name(name)
            self._experiments[name] = (
                found.experiment_id if found else self.client.create_experiment(name)
            )
        return self._experiments[name]

    def export(self, records: Sequence[RunRecord]) -> list[Exported]:
        return [self.export_one(record) for record in records]

    def export_one(self, record: RunRecord) -> Exported:
        name = experiment_name(record)
        experiment = self._experiment(name)
        earlier = self.client.search_runs(
            [experiment], filter_string=f"tags.`{TAG_RUN}` = '{record.run_id}'"
        )
        action = "created"
        for old in earlier:
            if old.data.tags.get(TAG_ENDED) == (record.finished or ""):
                return Exported(record.run_id, old.info.run_id, name, "unchanged")
        for old in earlier:  # the anobench run changed since it was exported
            self.client.delete_run(old.info.run_id)
            action = "replaced"
        run = self.client.create_run(
            experiment, start_time=_millis(record.created), tags=tags(record)
        )
        mlflow_id = run.info.run_id
        self._log(mlflow_id, record)
        ended = _millis(record.finished)
        self.client.set_terminated(mlflow_id, _status(record), end_time=ended)
        return Exported(record.run_id, mlflow_id, name, action)

    def _log(self, mlflow_id: str, record: RunRecord) -> None:
        from mlflow.entities import Metric, Param

        stamp = _millis(record.finished) or int(time.time() * 1000)
        param_list = [Param(k, v) for k, v in params(record).items()]
        for chunk in _chunks(param_list, _PARAMS_PER_BATCH):
            self.client.log_batch(mlflow_id, params=chunk)
        folder = Path(record.artifacts) if record.artifacts else None
        values = [Metric(k, v, stamp, 0) for k, v in metrics(record).items()]
        values += [Metric(k, v, stamp, step) for k, v, step in training_curve(folder)]
        for chunk in _chunks(values, _METRICS_PER_BATCH):
            self.client.log_batch(mlflow_id, metrics=chunk)
        for name in ARTIFACTS:
            if folder is not None and (folder / name).is_file():
                self.client.log_artifact(mlflow_id, str(folder / name))


def _status(record: RunRecord) -> str:
    return {"finished": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}.get(
        str(record.status), "RUNNING"
    )
