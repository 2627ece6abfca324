"""Leaderboard: aggregate finished runs over seeds (pandas) into one table per dataset config."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .store import Store

KEYS = ["dataset", "dataset_hash", "method", "method_hash", "profile"]
COST = {"fit_seconds": "fit s", "predict_seconds": "predict s", "n_parameters": "params"}


@dataclass
class Table:
    """One dataset configuration's ranking; ``frame`` holds numbers, one row per method config."""

    dataset: str
    dataset_hash: str
    dataset_options: dict[str, Any]
    primary_metric: str
    metrics: list[str]
    frame: pd.DataFrame
    higher_is_better: dict[str, bool] = field(default_factory=dict)
    oracle: dict[str, bool] = field(default_factory=dict)

    @property
    def title(self) -> str:
        opts = ", ".join(f"{k}={v}" for k, v in self.dataset_options.items())
        return f"{self.dataset} [{self.dataset_hash}] ({opts})"


def _long_frame(store: Store) -> pd.DataFrame:
    rows = store.metric_rows()
    if not rows:
        return pd.DataFrame()
    df = pd.DataFrame(rows)
    prov = df["provenance_json"].map(json.loads)
    for key in COST:
        df[key] = prov.map(lambda p, key=key: p.get(key))
    df["dataset_options"] = df["spec_json"].map(lambda s: json.loads(s)["dataset_options"])
    return df.drop(columns=["provenance_json", "spec_json"])


def _metric_order(metrics: list[str], primary: str, level: dict[str, str]) -> list[str]:
    rest = sorted((m for m in metrics if m != primary), key=lambda m: (level.get(m, ""), m))
    return ([primary] if primary in metrics else []) + rest


def build(
    store: Store,
    dataset: str | None = None,
    method: str | None = None,
    columns: list[str] | None = None,
) -> list[Table]:
    """Tables ranked by each dataset's primary metric (mean over seeds).

    ``columns`` restricts the metrics shown (the primary metric is always kept for the rank).
    """
    df = _long_frame(store)
    if df.empty:
        return []
    if dataset:
        df = df[df["dataset"] == dataset]
    if method:
        df = df[df["method"] == method]
    tables = []
    for dataset_hash, part in df.groupby("dataset_hash", sort=False):
        primary = (
            str(part["primary_metric"].dropna().iloc[0])
            if part["primary_metric"].notna().any()
            else ""
        )
        level = dict(zip(part["name"], part["level"], strict=False))
        hib = {m: bool(v) for m, v in zip(part["name"], part["higher_is_better"], strict=False)}
        oracle = {m: bool(v) for m, v in zip(part["name"], part["oracle"], strict=False)}
        # metrics that are undefined everywhere (e.g. pixel metrics without masks) are dropped
        defined = part.groupby("name")["value"].apply(lambda v: v.notna().any())
        metrics = _metric_order([m for m, ok in defined.items() if ok], primary, level)
        if columns:
            metrics = [m for m in metrics if m in columns or m == primary]
        # pivot (not pivot_table): keeps undefined (NaN) values and invents no key combinations
        wide = part.pivot(index=[*KEYS, "run_id", "seed"], columns="name", values="value")
        wide = wide.reset_index()
        costs = part.drop_duplicates("run_id").set_index("run_id")[list(COST)]
        wide = wide.join(costs, on="run_id")
        grouped = wide.groupby(KEYS, sort=False)
        agg = grouped.agg(n=("seed", "nunique"), seeds=("seed", lambda s: sorted(set(s))))
        for col in [*metrics, *COST]:
            values = pd.to_numeric(wide[col], errors="coerce")
            agg[f"{col}_mean"] = values.groupby([wide[k] for k in KEYS], sort=False).mean()
            agg[f"{col}_std"] = values.groupby([wide[k] for k in KEYS], sort=False).std(ddof=1)
        agg = agg.reset_index()
        if primary in metrics:
            ascending = not hib.get(primary, True)
            agg["rank"] = agg[f"{primary}_mean"].rank(ascending=ascending, method="min")
            agg = agg.sort_values(["rank", "method"]).reset_index(drop=True)
        else:
            agg["rank"] = math.nan
        tables.append(
            Table(
                dataset=str(part["dataset"].iloc[0]),
                dataset_hash=str(dataset_hash),
                dataset_options=dict(part["dataset_options"].iloc[0]),
                primary_metric=primary,
                metrics=metrics,
                frame=agg,
                higher_is_better=hib,
                oracle=oracle,
            )
        )
    return tables


def method_label(row: pd.Series, frame: pd.DataFrame) -> str:
    """``method (profile)``, plus the config hash when one method has several configs."""
    same = frame[(frame["method"] == row["method"]) & (frame["profile"] == row["profile"])]
    label = f"{row['method']} ({row['profile']})"
    return f"{label} [{row['method_hash'][:6]}]" if len(same) > 1 else label


def fmt_mean_std(mean: float, std: float, n: int, digits: int = 3) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "-"
    if n < 2 or std is None or math.isnan(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def fmt_cost(col: str, value: float) -> str:
    if value is None or math.isnan(value):
        return "-"
    if col == "n_parameters":
        return f"{value / 1e6:.2f}M" if value >= 1e5 else f"{value:,.0f}"
    return f"{value:.2f}"


def display_rows(table: Table) -> tuple[list[str], list[list[str]]]:
    """Header and string cells shared by the rich, Markdown and HTML renderers."""
    header = ["rank", "method", "n", *[_metric_header(table, m) for m in table.metrics]]
    header += list(COST.values())
    rows = []
    for _, row in table.frame.iterrows():
        n = int(row["n"])
        cells = [
            "-" if math.isnan(row["rank"]) else str(int(row["rank"])),
            method_label(row, table.frame),
            str(n),
        ]
        cells += [fmt_mean_std(row[f"{m}_mean"], row[f"{m}_std"], n) for m in table.metrics]
        cells += [fmt_cost(c, row[f"{c}_mean"]) for c in COST]
        rows.append(cells)
    return header, rows


def _metric_header(table: Table, metric: str) -> str:
    arrow = "↑" if table.higher_is_better.get(metric, True) else "↓"
    star = " *" if metric == table.primary_metric else ""
    return f"{metric} {arrow}{star}"


def records(tables: list[Table]) -> list[dict[str, Any]]:
    """Flat numeric records (CSV / JSON): one per (dataset config, method config)."""
    out = []
    for table in tables:
        for _, row in table.frame.iterrows():
            rec: dict[str, Any] = {
                "dataset": table.dataset,
                "dataset_hash": table.dataset_hash,
                "dataset_options": json.dumps(table.dataset_options, sort_keys=True),
                "primary_metric": table.primary_metric,
                "rank": None if math.isnan(row["rank"]) else int(row["rank"]),
                "method": row["method"],
                "method_hash": row["method_hash"],
                "profile": row["profile"],
                "n": int(row["n"]),
                "seeds": " ".join(map(str, row["seeds"])),
            }
            for m in [*table.metrics, *COST]:
                for stat in ("mean", "std"):
                    value = row[f"{m}_{stat}"]
                    rec[f"{m}_{stat}"] = None if pd.isna(value) else float(value)
            out.append(rec)
    return out
