"""Leaderboard: aggregate finished runs over seeds (pandas) into one table per dataset config.

Each table shows mean ± std over seeds, a 95% bootstrap interval over the test images and a
paired test against the best method for the primary metric (see
:mod:`anobench.results.leaderboard_stats`);
:func:`rank_summary` averages each method's rank over the dataset configurations.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from . import stats
from .leaderboard_stats import annotate
from .store import Store

#: ``precision`` is what the run's hardware resolved ``auto`` to: runs of one configuration that
#: computed in different precisions are different numbers and get separate rows
KEYS = ["dataset", "dataset_hash", "method", "method_hash", "profile", "precision"]
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
    #: bootstrap resamples behind the intervals and paired bootstrap tests (0 = off)
    resamples: int = stats.RESAMPLES
    seed: int = 0
    #: metric -> what its interval is computed over
    ci_over: dict[str, str] = field(default_factory=dict)
    #: the paired tests behind the ``p_vs_best`` column (normally one)
    tests: list[str] = field(default_factory=list)

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
    df["precision"] = prov.map(run_precision)
    df["dataset_options"] = df["spec_json"].map(lambda s: json.loads(s)["dataset_options"])
    return df.drop(columns=["provenance_json", "spec_json"])


def run_precision(provenance: dict[str, Any]) -> str:
    """The precision a run computed in ("" for methods without a precision option)."""
    resolved = provenance.get("resolved") or {}
    return str(resolved.get("precision") or "")


def _metric_order(metrics: list[str], primary: str, level: dict[str, str]) -> list[str]:
    rest = sorted((m for m in metrics if m != primary), key=lambda m: (level.get(m, ""), m))
    return ([primary] if primary in metrics else []) + rest


def build(
    store: Store,
    dataset: str | None = None,
    method: str | None = None,
    columns: list[str] | None = None,
    resamples: int = stats.RESAMPLES,
    seed: int = 0,
    all_intervals: bool = True,
) -> list[Table]:
    """Tables ranked by each dataset's primary metric (mean over seeds).

    ``columns`` restricts the metrics shown (the primary metric is always kept for the rank).
    ``resamples`` bootstrap resamples (0 turns intervals and bootstrap tests off) are drawn from
    a generator seeded by ``seed`` and the dataset configuration. ``all_intervals=False``
    computes the primary metric's interval only (all the rendered tables show), which is faster.
    """
    if resamples < 0:
        raise ValueError("resamples must be >= 0")
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
        agg = grouped.agg(
            n=("seed", "nunique"),
            seeds=("seed", lambda s: sorted(set(s))),
            run_ids=("run_id", list),
        )
        for col in [*metrics, *COST]:
            values = pd.to_numeric(wide[col], errors="coerce")
            agg[f"{col}_mean"] = values.groupby([wide[k] for k in KEYS], sort=False).mean()
            agg[f"{col}_std"] = values.groupby([wide[k] for k in KEYS], sort=False).std(ddof=1)
        agg = agg.reset_index()
        if primary in metrics:
            ascending = not hib.get(primary, True)
            agg["rank"] = agg[f"{primary}_mean"].rank(ascending=ascending, method="min")
            agg = agg.sort_values(["rank", "method"]).reset_index(drop=True)
            # tied methods share the mean of their ranks, as in Demšar's average rank
            agg["fractional_rank"] = stats.fractional_ranks(
                agg[f"{primary}_mean"], hib.get(primary, True)
            )
        else:
            agg["rank"] = math.nan
            agg["fractional_rank"] = math.nan
        extra = annotate(
            store,
            part,
            agg,
            metrics,
            primary,
            hib,
            resamples,
            seed,
            str(dataset_hash),
            all_metrics=all_intervals,
        )
        for col, values in extra.columns.items():
            agg[col] = values
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
                resamples=resamples,
                seed=seed,
                ci_over=extra.ci_over,
                tests=extra.tests,
            )
        )
    return tables


def method_label(row: pd.Series, frame: pd.DataFrame) -> str:
    """``method (profile, precision)``, plus the config hash when one method has several
    configurations in the frame."""
    same = frame[
        (frame["method"] == row["method"])
        & (frame["profile"] == row["profile"])
        & (frame["precision"] == row["precision"])
    ]
    precision = row.get("precision") or ""
    label = f"{row['method']} ({row['profile']}{', ' + precision if precision else ''})"
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


def fmt_ci(low: float, high: float, digits: int = 3) -> str:
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return "-"
    return f"[{low:.{digits}f}, {high:.{digits}f}]"


def fmt_p(p: float) -> str:
    if p is None or math.isnan(p):
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def few_seeds(n: int) -> bool:
    return n < stats.MIN_SEEDS


def p_header(table: Table) -> str:
    return f"p vs best ({table.tests[0]})" if len(table.tests) == 1 else "p vs best"


def display_rows(table: Table) -> tuple[list[str], list[list[str]]]:
    """Header and string cells shared by the rich, Markdown and HTML renderers."""
    primary = table.primary_metric
    others = [m for m in table.metrics if m != primary]
    shown = [m for m in table.metrics if m == primary]
    header = ["rank", "method", "n", *[_metric_header(table, m) for m in shown]]
    if shown and table.resamples:
        header.append(f"{primary} 95% CI")
    if shown:
        header.append(p_header(table))
    header += [_metric_header(table, m) for m in others]
    header += list(COST.values())
    rows = []
    for _, row in table.frame.iterrows():
        n = int(row["n"])
        cells = [
            "-" if math.isnan(row["rank"]) else str(int(row["rank"])),
            method_label(row, table.frame),
            f"{n} †" if few_seeds(n) else str(n),
        ]
        for m in shown:
            cells.append(fmt_mean_std(row[f"{m}_mean"], row[f"{m}_std"], n))
            if table.resamples:
                cells.append(fmt_ci(row[f"{m}_ci_low"], row[f"{m}_ci_high"]))
            cells.append("best" if row["p_note"] == "best" else fmt_p(row["p_vs_best"]))
        cells += [fmt_mean_std(row[f"{m}_mean"], row[f"{m}_std"], n) for m in others]
        cells += [fmt_cost(c, row[f"{c}_mean"]) for c in COST]
        rows.append(cells)
    return header, rows


def _metric_header(table: Table, metric: str) -> str:
    arrow = "↑" if table.higher_is_better.get(metric, True) else "↓"
    star = " *" if metric == table.primary_metric else ""
    oracle = " (oracle)" if table.oracle.get(metric) else ""
    return f"{metric}{oracle} {arrow}{star}"


def notes(table: Table) -> list[str]:
    """The legend under a table: what each number is, which test, and why a cell is empty."""
    primary = table.primary_metric
    out = [
        "mean ± std over seeds; n = number of seeds; † = fewer than"
        f" {stats.MIN_SEEDS} seeds (the std is unreliable); * = primary metric, ranked by its mean."
    ]
    frame = table.frame
    labels = [method_label(row, frame) for _, row in frame.iterrows()]
    best = next((lab for lab, n in zip(labels, frame["p_note"], strict=True) if n == "best"), "")
    if primary in table.metrics and table.resamples:
        over = table.ci_over.get(primary, "the test images")
        out.append(
            f"{primary} 95% CI: percentile bootstrap ({table.resamples} resamples, seed"
            f" {table.seed}) of the mean over seeds, over {over}."
        )
    elif primary in table.metrics:
        out.append("intervals off (--bootstrap 0).")
    for test in table.tests:
        if test == stats.PAIRED_BOOTSTRAP:
            out.append(
                f"p vs best: two-sided paired bootstrap test of the difference in {primary} to"
                f" {best}, on the same resampled test images; not corrected for multiple"
                " comparisons."
            )
        elif test == stats.WILCOXON:
            out.append(
                f"p vs best: two-sided Wilcoxon signed-rank test (scipy) against {best} on"
                f" per-image {primary}, averaged over seeds and paired by image id (zero"
                " differences dropped); not corrected for multiple comparisons."
            )
    if any(table.oracle.get(m) for m in table.metrics):
        out.append(
            "(oracle) = the metric chooses its threshold on the test set: an optimistic upper"
            " bound, not a fair comparison."
        )
    if primary in table.metrics:
        out += _reasons(labels, frame["p_note"], "p not computed", skip=("best",))
        out += _reasons(labels, frame[f"{primary}_ci_note"], f"no {primary} interval")
    return out


def _reasons(labels: list[str], reasons: pd.Series, what: str, skip=()) -> list[str]:
    grouped: dict[str, list[str]] = {}
    for label, reason in zip(labels, reasons, strict=True):
        if isinstance(reason, str) and reason not in skip:
            grouped.setdefault(reason, []).append(label)
    return [f"{what} for {', '.join(who)}: {reason}." for reason, who in grouped.items()]


def _method_key(row: pd.Series) -> tuple[str, str, str, str]:
    return (row["method"], row["method_hash"], row["profile"], row["precision"])


def rank_summary(tables: list[Table]) -> pd.DataFrame:
    """Each method configuration's mean rank over the dataset configurations it is ranked on.

    Ranks are fractional (tied methods share the mean of their ranks, Demšar 2006). Columns:
    ``method``, ``method_hash``, ``profile``, ``label``, ``avg_rank``, ``datasets`` (ranked on)
    and one rank column per table title.
    """
    rows = []
    for table in tables:
        name = f"{table.dataset} [{table.dataset_hash[:6]}]"
        for _, row in table.frame.iterrows():
            if not pd.isna(row["fractional_rank"]):
                key = _method_key(row)
                rows.append({"key": key, "table": name, "rank": float(row["fractional_rank"])})
    if not rows:
        return pd.DataFrame()
    long = pd.DataFrame(rows)
    order = list(dict.fromkeys(long["table"]))
    wide = long.pivot(index="key", columns="table", values="rank")[order]
    out = pd.DataFrame(
        {
            "method": [k[0] for k in wide.index],
            "method_hash": [k[1] for k in wide.index],
            "profile": [k[2] for k in wide.index],
            "precision": [k[3] for k in wide.index],
            "avg_rank": wide.mean(axis=1).to_numpy(),
            "datasets": wide.notna().sum(axis=1).to_numpy(),
        }
    )
    for col in order:
        out[col] = wide[col].to_numpy()
    out["label"] = [method_label(row, out) for _, row in out.iterrows()]
    return out.sort_values(["avg_rank", "label"]).reset_index(drop=True)


def summary_rows(tables: list[Table]) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the average-rank table (empty when fewer than two tables rank)."""
    summary = rank_summary(tables)
    if summary.empty or len(tables) < 2:
        return [], []
    tables_cols = [c for c in summary.columns if c not in SUMMARY_COLUMNS]
    header = ["avg rank", "method", "datasets", *[f"rank on {c}" for c in tables_cols]]
    rows = []
    for _, row in summary.iterrows():
        cells = [f"{row['avg_rank']:.2f}", row["label"], f"{row['datasets']}/{len(tables_cols)}"]
        cells += ["-" if pd.isna(row[c]) else f"{row[c]:g}" for c in tables_cols]
        rows.append(cells)
    return header, rows


SUMMARY_COLUMNS = ("method", "method_hash", "profile", "precision", "avg_rank", "datasets", "label")
SUMMARY_NOTE = (
    "average rank: each method configuration's rank on the primary metric of every dataset"
    " configuration it ran on (ties share the mean of their ranks), averaged; lower is better."
    " Compare average ranks only between methods ranked on the same datasets."
)


def records(tables: list[Table]) -> list[dict[str, Any]]:
    """Flat numeric records (CSV / JSON): one per (dataset config, method config)."""
    summary = rank_summary(tables)
    average = {}
    if not summary.empty:
        average = {
            _method_key(row): (float(row["avg_rank"]), int(row["datasets"]))
            for _, row in summary.iterrows()
        }
    out = []
    for table in tables:
        oracle = " ".join(m for m in table.metrics if table.oracle.get(m))
        for _, row in table.frame.iterrows():
            avg, ranked_on = average.get(_method_key(row), (None, 0))
            rec: dict[str, Any] = {
                "dataset": table.dataset,
                "dataset_hash": table.dataset_hash,
                "dataset_options": json.dumps(table.dataset_options, sort_keys=True),
                "primary_metric": table.primary_metric,
                "rank": None if math.isnan(row["rank"]) else int(row["rank"]),
                "method": row["method"],
                "method_hash": row["method_hash"],
                "profile": row["profile"],
                "precision": row["precision"],
                "n": int(row["n"]),
                "seeds": " ".join(map(str, row["seeds"])),
                "few_seeds": few_seeds(int(row["n"])),
                "oracle_metrics": oracle,
                "p_vs_best": _number(row["p_vs_best"]),
                "p_test": row["p_test"],
                "p_note": row["p_note"],
                "ci_resamples": table.resamples,
                "ci_seed": table.seed,
                "fractional_rank": _number(row["fractional_rank"]),
                "avg_rank": avg,
                "datasets_ranked": ranked_on,
            }
            for m in [*table.metrics, *COST]:
                for stat in ("mean", "std"):
                    rec[f"{m}_{stat}"] = _number(row[f"{m}_{stat}"])
            for m in table.metrics:
                rec[f"{m}_ci_low"] = _number(row[f"{m}_ci_low"])
                rec[f"{m}_ci_high"] = _number(row[f"{m}_ci_high"])
                rec[f"{m}_ci_note"] = row[f"{m}_ci_note"]
                rec[f"{m}_ci_over"] = table.ci_over.get(m)
            out.append(rec)
    return out


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)
