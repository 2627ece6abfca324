"""Store -> :class:`~anobench.results.leaderboard.Leaderboard`: aggregate finished runs over
seeds (pandas), one table per dataset configuration, ranked by its primary metric.

Each table gets mean ± std over seeds, a 95% bootstrap interval over the test images and a
paired test against the best method for the primary metric (see
:mod:`anobench.results.leaderboard_stats`), and the leaderboard each method configuration's
average rank over the dataset configurations. pandas stays in here: what leaves is plain data.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from ..api import overrides as ov
from ..api.errors import ConfigError
from ..api.records import RunSpec
from . import columns as cols
from . import ranktest, stats
from .labels import label, what_ran
from .leaderboard import COST, Cell, Leaderboard, RankRow, Row, Table, run_precision
from .leaderboard_stats import Group, Request, annotate
from .store import Store

#: ``precision`` is what the run's hardware resolved ``auto`` to: runs of one configuration that
#: computed in different precisions are different numbers and get separate rows
KEYS = ["dataset", "dataset_hash", "method", "method_hash", "profile", "precision"]

#: a run's differences from its profile, worked out from its spec (for runs stored before the
#: runner recorded them); ``None`` when that is no longer possible. The CLI passes one that looks
#: the profiles up in the installed plugins: this layer loads no plugin.
Backfill = Callable[[RunSpec], "Mapping[str, Any] | None"]


def build(
    store: Store,
    dataset: str | None = None,
    method: str | None = None,
    columns: list[str] | None = None,
    resamples: int = stats.RESAMPLES,
    seed: int = 0,
    all_intervals: bool = True,
    backfill: Backfill | None = None,
    declared: cols.Declared | None = None,
    correction: str = "holm",
) -> Leaderboard:
    """Tables ranked by each dataset's primary metric (mean over seeds), and the average ranks.

    ``columns`` restricts the metrics shown (the primary metric is always kept for the rank).
    ``resamples`` bootstrap resamples (0 turns intervals and bootstrap tests off) are drawn from
    a generator seeded by ``seed`` and the dataset configuration. ``all_intervals=False``
    computes the primary metric's interval only (all the rendered tables show), which is faster.
    ``backfill`` works out the differences from the profile of runs stored without them.
    ``declared`` looks up the datasets' key metrics and the metrics' short names.
    ``correction`` adjusts each table's p-values vs best (``holm``, ``bonferroni``, ``none``).
    """
    if resamples < 0:
        raise ValueError("resamples must be >= 0")
    df = _long_frame(store, backfill)
    if df.empty:
        return Leaderboard([])
    if dataset:
        df = _only(df, "dataset", dataset)
    if method:
        df = _only(df, "method", method)
    declared = declared or cols.Declared()
    if columns:
        columns = _check_metrics(columns, sorted(set(df["name"])), declared)
    tables = [
        _table(
            store,
            str(dataset_hash),
            part,
            columns,
            resamples,
            seed,
            all_intervals,
            declared,
            correction,
        )
        for dataset_hash, part in df.groupby("dataset_hash", sort=False)
    ]
    summary = _rank_summary(tables)
    return Leaderboard(tables, summary, ranktest.analyse(summary))


def _only(df: pd.DataFrame, key: str, name: str) -> pd.DataFrame:
    """The rows of one dataset or method; an error naming those with finished runs if none."""
    part = df[df[key] == name]
    if part.empty:
        known = ", ".join(sorted(set(df[key]))) or "(none)"
        raise ConfigError(f"--{key} '{name}': no finished runs; {key}s with finished runs: {known}")
    return part


def _check_metrics(columns: list[str], names: list[str], declared: cols.Declared) -> list[str]:
    """The metric names of ``columns``, which may also use the short headers (``pAUROC``)."""
    short = {s: m for m, s in cols.short_names(names, declared).items()}
    out = []
    for column in columns:
        if column not in names and column not in short:
            close = difflib.get_close_matches(column, [*names, *short], n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(
                f"--metric: unknown metric '{column}'.{hint} Valid metrics: {', '.join(names)}"
                " (or all)"
            )
        out.append(column if column in names else short[column])
    return out


def _long_frame(store: Store, backfill: Backfill | None = None) -> pd.DataFrame:
    rows = store.metric_rows()
    if not rows:
        return pd.DataFrame()
    df = pd.DataFrame(rows)
    prov = df["provenance_json"].map(json.loads)
    for key in COST:
        df[key] = prov.map(lambda p, key=key: p.get(key))
    df["precision"] = prov.map(run_precision)
    df["dataset_options"] = df["spec_json"].map(lambda s: json.loads(s)["dataset_options"])
    df["overrides"] = _overrides(df, prov, backfill)
    df = df[df["run_id"].isin(latest_runs(df))]
    return df.drop(columns=["provenance_json", "spec_json"])


def _overrides(df: pd.DataFrame, prov: pd.Series, backfill: Backfill | None) -> list[Any]:
    """Each row's stored differences from its profile, else ``backfill``'s (once per config)."""
    found: dict[str, Any] = {}
    out = []
    for stored, config, spec_json in zip(prov, df["config_hash"], df["spec_json"], strict=True):
        if ov.KEY in stored:
            out.append(stored[ov.KEY])
            continue
        if config not in found:
            made = backfill(RunSpec.from_dict(json.loads(spec_json))) if backfill else None
            found[config] = None if made is None else dict(made)
        out.append(found[config])
    return out


def latest_runs(df: pd.DataFrame) -> set[str]:
    """One run per (configuration, seed, resolved precision): the latest finished one.

    A configuration and seed run again (``anobench run --rerun``) replaces the earlier run in
    every aggregate; "latest" is the largest ``finished`` timestamp, ties broken by run id.
    """
    runs = df.drop_duplicates("run_id").sort_values(["finished", "run_id"])
    return set(runs.drop_duplicates([*KEYS, "seed"], keep="last")["run_id"])


def _metric_order(metrics: list[str], primary: str, level: dict[str, str]) -> list[str]:
    rest = sorted((m for m in metrics if m != primary), key=lambda m: (level.get(m, ""), m))
    return ([primary] if primary in metrics else []) + rest


def _table(
    store: Store,
    dataset_hash: str,
    part: pd.DataFrame,
    columns: list[str] | None,
    resamples: int,
    seed: int,
    all_intervals: bool,
    declared: cols.Declared | None = None,
    correction: str = "holm",
) -> Table:
    primary = (
        str(part["primary_metric"].dropna().iloc[0]) if part["primary_metric"].notna().any() else ""
    )
    level = dict(zip(part["name"], part["level"], strict=False))
    hib = {m: bool(v) for m, v in zip(part["name"], part["higher_is_better"], strict=False)}
    oracle = {m: bool(v) for m, v in zip(part["name"], part["oracle"], strict=False)}
    # metrics that are undefined everywhere (e.g. pixel metrics without masks) are dropped
    defined = part.groupby("name")["value"].apply(lambda v: v.notna().any())
    metrics = _metric_order([m for m, ok in defined.items() if ok], primary, level)
    if columns:
        metrics = [m for m in metrics if m in columns or m == primary]
    declared = declared or cols.Declared()
    name = str(part["dataset"].iloc[0])
    # pivot (not pivot_table): keeps undefined (NaN) values and invents no key combinations
    wide = part.pivot(index=[*KEYS, "run_id", "seed"], columns="name", values="value")
    wide = wide.reset_index()
    costs = part.drop_duplicates("run_id").set_index("run_id")[list(COST)]
    wide = wide.join(costs, on="run_id")
    agg = wide.groupby(KEYS, sort=False).agg(
        seeds=("seed", lambda s: sorted(set(s))), run_ids=("run_id", list)
    )
    # the frame's own column names: they never leave this module
    for col in [*metrics, *COST]:
        values = pd.to_numeric(wide[col], errors="coerce")
        agg[f"mean:{col}"] = values.groupby([wide[k] for k in KEYS], sort=False).mean()
        agg[f"std:{col}"] = values.groupby([wide[k] for k in KEYS], sort=False).std(ddof=1)
    agg = agg.reset_index()
    if primary in metrics:
        agg["rank"] = agg[f"mean:{primary}"].rank(
            ascending=not hib.get(primary, True), method="min"
        )
        agg = agg.sort_values(["rank", "method"]).reset_index(drop=True)
        agg["fractional_rank"] = stats.fractional_ranks(
            agg[f"mean:{primary}"], hib.get(primary, True)
        )
    else:
        agg["rank"] = math.nan
        agg["fractional_rank"] = math.nan
    groups = [
        Group(list(ids), not math.isnan(rank))
        for ids, rank in zip(agg["run_ids"], agg["rank"], strict=True)
    ]
    request = Request(
        metrics, primary, hib, resamples, seed, dataset_hash, all_intervals, correction
    )
    found = annotate(store, part, groups, request)
    stored = _latest_overrides(part, agg["run_ids"])
    agg["overrides"] = [ov.method_part(o) for o in stored]
    agg["base"] = [
        label(r["method"], r["profile"], r["precision"], r["overrides"])
        for r in agg.to_dict("records")
    ]
    labels = _labels(agg)
    rows = []
    for i, r in enumerate(agg.to_dict("records")):
        rows.append(
            Row(
                method=r["method"],
                method_hash=r["method_hash"],
                profile=r["profile"],
                precision=r["precision"],
                label=labels[i],
                seeds=tuple(int(s) for s in r["seeds"]),
                run_ids=tuple(r["run_ids"]),
                rank=None if math.isnan(r["rank"]) else int(r["rank"]),
                fractional_rank=_number(r["fractional_rank"]),
                metrics={
                    m: Cell(_number(r[f"mean:{m}"]), _number(r[f"std:{m}"]), found.intervals[i][m])
                    for m in metrics
                },
                costs={c: Cell(_number(r[f"mean:{c}"]), _number(r[f"std:{c}"])) for c in COST},
                vs_best=found.paired[i],
                overrides=r["overrides"],
            )
        )
    dataset_label, dataset_overrides = _dataset_label(name, list(agg["profile"]), stored)
    return Table(
        dataset=name,
        dataset_hash=dataset_hash,
        dataset_options=dict(part["dataset_options"].iloc[0]),
        primary_metric=primary,
        metrics=metrics,
        rows=rows,
        higher_is_better=hib,
        oracle=oracle,
        resamples=resamples,
        seed=seed,
        ci_over=found.ci_over,
        tests=found.tests,
        correction=correction,
        comparisons=found.comparisons,
        label=dataset_label,
        dataset_overrides=dataset_overrides,
        key_metrics=cols.key_metrics(declared.key_metrics(name), metrics, primary),
        short_names=cols.short_names(metrics, declared),
    )


def _latest_overrides(part: pd.DataFrame, run_ids: pd.Series) -> list[Any]:
    """The stored differences of each group's latest run (a group's runs share their options;
    only a profile redefined between them could make their differences disagree)."""
    runs = part.drop_duplicates("run_id").set_index("run_id")
    return [
        runs.loc[max(ids, key=lambda i: (str(runs.at[i, "finished"]), i)), "overrides"]
        for ids in run_ids
    ]


def _dataset_label(
    dataset: str, profiles: list[str], stored: list[Any]
) -> tuple[str, dict[str, Any] | None]:
    """``synthetic (quick; n_train=50)`` and those differences, from the rows' profiles.

    One dataset configuration can be reached from several profiles (with different
    overrides): each is named, joined by `` | ``, and the differences are ``None``.
    """
    parts = {}
    for profile, one in zip(profiles, stored, strict=True):
        changes = ov.dataset_part(one)
        parts[what_ran(profile, "", changes)] = changes
    if len(parts) == 1:
        ((inner, changes),) = parts.items()
        return f"{dataset} ({inner})", changes
    return f"{dataset} ({' | '.join(sorted(parts))})", None


def _labels(frame: pd.DataFrame) -> list[str]:
    """Each row's ``base`` label, plus the first characters of its method hash when
    configurations of the frame share that label (e.g. runs stored without overrides)."""
    counts = frame["base"].value_counts()
    return [
        f"{base} [{method_hash[:6]}]" if counts[base] > 1 else base
        for base, method_hash in zip(frame["base"], frame["method_hash"], strict=True)
    ]


def _rank_summary(tables: list[Table]) -> list[RankRow]:
    """Each method configuration's mean rank over the dataset configurations it is ranked on.

    Ranks are fractional (tied methods share the mean of their ranks, Demšar 2006).
    """
    rows = [
        {"key": row.key, "table": table.short_title, "rank": row.fractional_rank}
        for table in tables
        for row in table.rows
        if row.fractional_rank is not None
    ]
    if not rows:
        return []
    # a method configuration's label without the hash, from the first table that has it
    base: dict[tuple[str, str, str, str], str] = {}
    for table in tables:
        for row in table.rows:
            base.setdefault(row.key, label(row.method, row.profile, row.precision, row.overrides))
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
        }
    )
    for col in order:
        out[col] = wide[col].to_numpy()
    out["base"] = [base[k] for k in wide.index]
    out["label"] = _labels(out)
    out = out.sort_values(["avg_rank", "label"]).reset_index(drop=True)
    return [
        RankRow(
            method=r["method"],
            method_hash=r["method_hash"],
            profile=r["profile"],
            precision=r["precision"],
            label=r["label"],
            avg_rank=float(r["avg_rank"]),
            ranks={col: _number(r[col]) for col in order},
        )
        for r in out.to_dict("records")
    ]


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)
