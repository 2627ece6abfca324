"""Intervals and significance for one leaderboard table (one dataset configuration).

For every row (a method configuration, aggregated over its seeds) and metric:

* a 95% percentile bootstrap interval over the test images for the value the table shows (the
  mean over seeds). All rows of a table share the same resampled test sets, drawn from a
  generator seeded by ``seed`` and the dataset configuration, so intervals do not change when
  other rows are filtered out, and two rows can be compared resample by resample.
  - metrics with a recomputation recipe (``Metric.resample``; pooled metrics) are recomputed
    on each resample for each seed's run from its stored evidence, then averaged over seeds;
    resamples are stratified by label (the number of diseased images is kept);
  - metrics whose value is the mean of their per-image values are resampled over the images
    that have a value, after averaging each image's value over seeds;
  - any other metric gets no interval, and the reason says why.
* for the primary metric, a two-sided paired test of each row against the best row: DeLong's
  test for image AUROC (:mod:`anobench.results.delong`; the difference of the means over seeds,
  every run's scores on the same test images), a paired bootstrap of the difference (other
  recipe metrics, same resamples) or, when only per-image values exist, Wilcoxon's signed-rank
  test on per-image values averaged over seeds, paired by image id. The p-values of a table are
  then corrected for multiple comparisons (:mod:`anobench.results.multiplicity`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import delong, stats
from .leaderboard import Interval, PairedTest
from .multiplicity import adjust
from .resampling import RECIPES, Evidence, Resampled, replicate
from .store import Store

NO_EVIDENCE = "stored before store schema 2, or see the run's provenance 'evidence_error'"
#: relative tolerance for "the value is the mean of its per-image values"
MEAN_TOLERANCE = 1e-6
#: the recipe whose paired test is DeLong's rather than the bootstrap
DELONG_RECIPE = "image_auroc"
#: how far the AUROC recomputed from the evidence may be from the stored value
DELONG_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Request:
    """What to compute for one table (one dataset configuration)."""

    #: the table's metrics, primary first
    metrics: list[str]
    primary: str
    higher_is_better: Mapping[str, bool]
    #: bootstrap resamples (0: no intervals and no bootstrap tests)
    resamples: int
    seed: int
    #: the dataset configuration's hash: with ``seed`` it seeds the resamples
    key: str
    #: False: the primary metric's interval only (what the rendered tables show)
    all_metrics: bool = True
    #: the correction of the p-values vs best (:data:`anobench.results.multiplicity.CORRECTIONS`)
    correction: str = "holm"


@dataclass(frozen=True)
class Group:
    """One row of the table: its runs (one per seed) and whether its primary metric ranks."""

    run_ids: list[str]
    ranked: bool


@dataclass
class TableStats:
    """What the statistics add to one table: per row, an interval for every metric and the
    paired test against the best row; per table, what the intervals are over and which tests."""

    intervals: list[dict[str, Interval]] = field(default_factory=list)
    paired: list[PairedTest] = field(default_factory=list)
    #: metric -> what its interval is computed over (for the legend and the records)
    ci_over: dict[str, str] = field(default_factory=dict)
    #: names of the paired tests used for the primary metric (one, normally)
    tests: list[str] = field(default_factory=list)
    n_images: int = 0
    #: how many p-values the correction is over
    comparisons: int = 0


@dataclass
class _Row:
    run_ids: list[str]
    values: dict[str, list[float]]  # metric -> stored value per run
    details: dict[str, list[dict[str, Any]]]  # metric -> details per run


def _recipe(part: pd.DataFrame, metric: str) -> str | None:
    stored = part.loc[part["name"] == metric, "resample"].dropna()
    name = str(stored.iloc[0]) if len(stored) else metric  # runs stored without the column
    return name if name in RECIPES else None


class _Evidence:
    """Evidence blobs of a table's runs, loaded once and aligned to one image order."""

    def __init__(self, store: Store, run_ids: list[str]) -> None:
        self.store = store
        self.raw: dict[str, Evidence | None] = {}
        for run_id in run_ids:
            blob = store.evidence(run_id)
            self.raw[run_id] = None if blob is None else Evidence.from_bytes(blob)
        found = [e for e in self.raw.values() if e is not None]
        if found:
            # the ids of the first run in sorted order: independent of which rows are shown
            first = found[0]
            order = np.argsort(np.array(first.ids, dtype=str), kind="stable")
            self.ids = tuple(first.ids[i] for i in order)
            self.labels = first.labels[order]
        else:
            self.ids, self.labels = (), np.zeros(0, dtype=np.int8)

    def aligned(self, run_id: str) -> tuple[Evidence | None, str | None]:
        ev = self.raw.get(run_id)
        if ev is None:
            return None, f"run {run_id} has no stored evidence ({NO_EVIDENCE})"
        out = ev.aligned(self.ids)
        if out is None or len(ev.ids) != len(self.ids):
            return None, f"run {run_id} was tested on other images than the other runs"
        return out, None


def annotate(store: Store, part: pd.DataFrame, groups: list[Group], request: Request) -> TableStats:
    """Intervals of every row and metric, and the paired tests of the primary metric.

    ``part`` holds the table's long metric rows (one per run and metric); ``groups`` are the
    table's rows in rank order (the first ranked one is the best).
    """
    metrics, primary, resamples = request.metrics, request.primary, request.resamples
    seed, table_key = request.seed, request.key
    out = TableStats()
    shown = metrics
    metrics = [m for m in metrics if request.all_metrics or m == primary]
    rows = [_row(part, group.run_ids, metrics) for group in groups]
    all_runs = [r for row in rows for r in row.run_ids]
    recipes = {m: _recipe(part, m) for m in metrics}
    per_image = _per_image(store, all_runs)
    use_delong = recipes.get(primary) == DELONG_RECIPE
    wanted = (resamples and any(recipes.values())) or use_delong
    evidence = _Evidence(store, all_runs) if wanted else None
    index = weights = None
    if resamples and evidence is not None and evidence.ids:
        out.n_images = len(evidence.ids)
        rng = stats.generator(seed, table_key, "test images")
        index = stats.resample_indices(len(evidence.ids), resamples, rng, strata=evidence.labels)
        weights = stats.resample_weights(index, len(evidence.ids))

    low = {m: [math.nan] * len(rows) for m in metrics}
    high = {m: [math.nan] * len(rows) for m in metrics}
    note: dict[str, list[str | None]] = {m: [None] * len(rows) for m in metrics}
    primary_reps: list[np.ndarray | None] = [None] * len(rows)
    primary_images: list[pd.Series | None] = [None] * len(rows)

    for i, row in enumerate(rows):
        reps, reasons = _recipe_replicates(row, recipes, evidence, index, weights)
        for m in metrics:
            if not row.values[m] or all(math.isnan(v) for v in row.values[m]):
                note[m][i] = "undefined"
                continue
            images = _image_means(per_image, row, m)
            if recipes[m] and m in reps:
                interval = stats.percentile_interval(reps[m])
                out.ci_over.setdefault(m, _recipe_over(recipes[m], out.n_images))
                if m == primary:
                    primary_reps[i] = reps[m]
            elif images is not None and isinstance(images, pd.Series):
                if m == primary:
                    primary_images[i] = images
                if not resamples:
                    note[m][i] = "bootstrap off (--bootstrap 0)"
                    continue
                rng = stats.generator(seed, table_key, m, "per-image values")
                idx = stats.resample_indices(len(images), resamples, rng)
                interval = stats.percentile_interval(stats.bootstrap_mean(images.to_numpy(), idx))
                out.ci_over.setdefault(
                    m, "the test images with a per-image value (their values averaged over seeds)"
                )
            else:
                reason = reasons.get(m) or (images if isinstance(images, str) else None)
                if not resamples:
                    reason = "bootstrap off (--bootstrap 0)"
                note[m][i] = reason or "no per-image values and no recomputation recipe"
                continue
            low[m][i], high[m][i], note[m][i] = interval

    for i in range(len(rows)):
        out.intervals.append(
            {
                m: Interval(_number(low[m][i]), _number(high[m][i]), note[m][i])
                if m in metrics
                else Interval(note="not computed (primary metric only)")
                for m in shown
            }
        )
    scores = _delong_scores(evidence, rows, primary) if use_delong else None
    _paired_tests(out, groups, request, primary_reps, primary_images, scores)
    return out


def _delong_scores(
    evidence: _Evidence | None, rows: list[_Row], metric: str
) -> tuple[np.ndarray, list[np.ndarray | str]] | None:
    """The test labels and, per row, its runs' scores ``[seeds, images]`` (or why not)."""
    if evidence is None or not evidence.ids:
        return None
    out: list[np.ndarray | str] = []
    for row in rows:
        found: list[np.ndarray] | str = []
        for run_id, value in zip(row.run_ids, row.values[metric], strict=True):
            ev, reason = evidence.aligned(run_id)
            if ev is None:
                found = reason or f"run {run_id} has no evidence"
                break
            if math.isnan(value):
                found = f"run {run_id}: {metric} is undefined"
                break
            auc = float(stats.auroc_rows(ev.scores[None], ev.labels[None] == 1)[0])
            if not abs(auc - value) <= DELONG_TOLERANCE:
                found = f"run {run_id}: its evidence gives {metric} {auc:.6f}, stored {value:.6f}"
                break
            found.append(ev.scores)
        out.append(found if isinstance(found, str) else np.vstack(found))
    return evidence.labels == 1, out


def _number(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _row(part: pd.DataFrame, run_ids: list[str], metrics: list[str]) -> _Row:
    mine = part[part["run_id"].isin(run_ids)]
    values: dict[str, list[float]] = {}
    details: dict[str, list[dict[str, Any]]] = {}
    for m in metrics:
        rows = mine[mine["name"] == m].set_index("run_id").reindex(run_ids)
        values[m] = [math.nan if pd.isna(v) else float(v) for v in rows["value"]]
        details[m] = [json.loads(d) if isinstance(d, str) else {} for d in rows["details_json"]]
    return _Row(run_ids, values, details)


def _per_image(store: Store, run_ids: list[str]) -> pd.DataFrame:
    rows = store.per_image_rows(run_ids)
    return pd.DataFrame(rows, columns=["run_id", "metric", "image_id", "value"])


def _image_means(per_image: pd.DataFrame, row: _Row, metric: str) -> pd.Series | str | None:
    """Each image's value averaged over the row's runs, or why there is none to resample."""
    mine = per_image[(per_image["metric"] == metric) & per_image["run_id"].isin(row.run_ids)]
    if mine.empty:
        return None
    for run_id, value in zip(row.run_ids, row.values[metric], strict=True):
        got = mine.loc[mine["run_id"] == run_id, "value"]
        if got.empty:
            return f"run {run_id} stored no per-image values"
        mean = float(got.mean())
        if not math.isclose(mean, value, rel_tol=MEAN_TOLERANCE, abs_tol=1e-12):
            return (
                f"the value is not the mean of its per-image values ({value:.4g} vs {mean:.4g});"
                " a pooled metric needs a recomputation recipe"
            )
    means = mine.groupby("image_id")["value"].mean().dropna()
    return means.sort_index() if len(means) else None


def _recipe_replicates(
    row: _Row,
    recipes: Mapping[str, str | None],
    evidence: _Evidence | None,
    index: np.ndarray | None,
    weights: np.ndarray | None,
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The row's recipe metrics on every resample, averaged over its runs (seeds)."""
    wanted = [m for m, r in recipes.items() if r]
    if not wanted:
        return {}, {}
    if evidence is None or index is None or weights is None:
        return {}, {m: f"no run of this table stored evidence ({NO_EVIDENCE})" for m in wanted}
    sums: dict[str, np.ndarray] = {}
    reasons: dict[str, str] = {}
    for k, run_id in enumerate(row.run_ids):
        ev, reason = evidence.aligned(run_id)
        resampled = None if ev is None else Resampled(ev, index, weights)
        for m in wanted:
            if m in reasons:
                continue
            value = row.values[m][k]
            if resampled is None or math.isnan(value):
                reasons[m] = reason or f"run {run_id}: the metric is undefined"
                continue
            try:
                reps = replicate(recipes[m], resampled, row.details[m][k], value)
            except ValueError as exc:
                reasons[m] = f"run {run_id}: {exc}"
                continue
            sums[m] = sums.get(m, 0) + reps
    n = len(row.run_ids)
    return {m: s / n for m, s in sums.items() if m not in reasons}, reasons


def _recipe_over(recipe: str, n_images: int) -> str:
    return f"{n_images} test images resampled within each class; {RECIPES[recipe][1]}"


def _paired_tests(
    out: TableStats,
    groups: list[Group],
    request: Request,
    reps: list[np.ndarray | None],
    images: list[pd.Series | None],
    scores: tuple[np.ndarray, list[np.ndarray | str]] | None = None,
) -> None:
    primary = request.primary
    n = len(groups)
    p: list[float] = [math.nan] * n
    test: list[str | None] = [None] * n
    note: list[str | None] = [None] * n
    diff: list[tuple[float, float, float] | None] = [None] * n
    ranked = np.array([group.ranked for group in groups], dtype=bool)
    if n and ranked.any():
        best = int(np.flatnonzero(ranked)[0])
        note[best] = "best"
        hib = request.higher_is_better.get(primary, True)
        for i in range(n):
            if i == best:
                continue
            by_delong = scores is not None and not isinstance(scores[1][best], str)
            if not ranked[i]:
                note[i] = f"{primary} is undefined"
            elif by_delong and not isinstance(scores[1][i], str):
                labels, runs = scores
                try:
                    result = delong.paired(runs[best], runs[i], labels)
                except ValueError as exc:  # too few images of a class
                    test[i], note[i] = delong.DELONG, str(exc)
                    continue
                p[i], test[i], note[i] = result.p, delong.DELONG, result.reason
                diff[i] = (result.diff, result.low, result.high)
            elif reps[best] is not None and reps[i] is not None:
                result = stats.paired_bootstrap(reps[best], reps[i], hib)
                p[i], test[i], note[i] = result.p, result.test, result.reason
            elif images[best] is not None and images[i] is not None:
                a, b = images[best].align(images[i], join="inner")
                result = stats.wilcoxon(a.to_numpy(), b.to_numpy())
                p[i], test[i], note[i] = result.p, result.test, result.reason
            elif not request.resamples:
                note[i] = f"no per-image {primary} values and the bootstrap is off"
            else:
                note[i] = f"no per-image {primary} values or evidence to pair on"
    corrected = adjust([_number(v) for v in p], request.correction)
    out.comparisons = sum(v is not None for v in corrected)
    out.paired = [
        PairedTest(
            _number(p[i]),
            test[i],
            note[i],
            corrected[i],
            *((None, None, None) if diff[i] is None else (_number(v) for v in diff[i])),
        )
        for i in range(n)
    ]
    out.tests = sorted({t for t in test if t})
