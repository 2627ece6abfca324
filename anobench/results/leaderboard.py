"""The leaderboard as plain data: built once from the store (:mod:`anobench.results.tabulate`),
then drawn by every output format (:mod:`anobench.results.render`) and by the report.

A :class:`Leaderboard` holds one :class:`Table` per dataset configuration and the average-rank
summary across them. A table's :class:`Row` is one method configuration aggregated over its
seeds; its cells (:class:`Cell`) hold mean, std and, where the bootstrap could compute one, a
95% :class:`Interval`; :class:`PairedTest` is the row's test against the best row. Missing
numbers are ``None``, never NaN.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: the cost columns of every table and their headers
COST = {"fit_seconds": "fit s", "predict_seconds": "predict s", "n_parameters": "params"}


def run_precision(provenance: dict[str, Any]) -> str:
    """The precision a run computed in ("" for methods without a precision option).

    Runs of one configuration whose hardware resolved ``auto`` differently computed different
    numbers: the leaderboard keeps them in separate rows, labelled ``method (profile, precision)``.
    A CUDA run whose fp32 work was allowed TF32 tensor cores counts as ``tf32``.
    """
    resolved = provenance.get("resolved") or {}
    precision = str(resolved.get("precision") or "")
    # fp32 data multiplied in TF32 on a GPU are other numbers than fp32: never the same row
    tf32 = ((provenance.get("cuda") or {}).get("tf32") or {}).values()
    if any(tf32) and precision in ("", "fp32"):
        return "tf32"
    return precision


@dataclass(frozen=True)
class Interval:
    """A 95% interval; ``low``/``high`` are ``None`` when there is none, and ``note`` says why."""

    low: float | None = None
    high: float | None = None
    note: str | None = None


@dataclass(frozen=True)
class Cell:
    """One metric (or cost) of one row: mean and std over the row's seeds."""

    mean: float | None
    std: float | None
    #: ``None`` for costs
    interval: Interval | None = None


@dataclass(frozen=True)
class PairedTest:
    """The primary metric of a row against the best row: ``note`` is "best" for the best row
    itself, or why no p-value was computed."""

    #: the raw (uncorrected) p-value
    p: float | None = None
    test: str | None = None
    note: str | None = None
    #: ``p`` corrected over the table's comparisons (see ``Table.correction``)
    p_corrected: float | None = None
    #: DeLong only: the difference best - this row and its 95% interval
    diff: float | None = None
    diff_low: float | None = None
    diff_high: float | None = None


@dataclass(frozen=True)
class Row:
    """One method configuration on one dataset configuration, aggregated over its seeds."""

    method: str
    method_hash: str
    profile: str
    precision: str
    #: ``method (profile[, precision][; k=v, ...])`` (see :mod:`anobench.results.labels`), plus
    #: the method hash when configurations of the table would share it
    label: str
    seeds: tuple[int, ...]
    run_ids: tuple[str, ...]
    #: competition rank by the primary metric's mean (ties share the best rank); ``None``
    #: when the primary metric is undefined
    rank: int | None
    #: ties share the mean of their ranks (Demšar's average rank)
    fractional_rank: float | None
    metrics: dict[str, Cell]
    costs: dict[str, Cell]
    vs_best: PairedTest = field(default_factory=PairedTest)
    #: what the method configuration sets differently from its profile (options and run-level
    #: settings such as ``time_budget``); ``None`` for runs stored without it, whose plugins are
    #: no longer installed
    overrides: dict[str, Any] | None = None

    @property
    def n(self) -> int:
        return len(self.seeds)

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What makes a method configuration: the rows of one key are compared across tables."""
        return (self.method, self.method_hash, self.profile, self.precision)


@dataclass(frozen=True)
class Table:
    """One dataset configuration's ranking, best row first."""

    dataset: str
    dataset_hash: str
    dataset_options: dict[str, Any]
    primary_metric: str
    #: the metrics shown, primary first
    metrics: list[str]
    rows: list[Row]
    higher_is_better: dict[str, bool] = field(default_factory=dict)
    oracle: dict[str, bool] = field(default_factory=dict)
    #: bootstrap resamples behind the intervals and paired bootstrap tests (0 = off)
    resamples: int = 0
    seed: int = 0
    #: metric -> what its interval is computed over
    ci_over: dict[str, str] = field(default_factory=dict)
    #: the paired tests behind the rows' ``vs_best`` (normally one)
    tests: list[str] = field(default_factory=list)
    #: ``dataset (profile[; k=v, ...])``: the dataset options that differ from the profile of
    #: the table's runs (profiles joined by `` | `` in the rare table whose runs name several)
    label: str = ""
    #: the dataset options that differ from the profile; ``None`` where unknown or where the
    #: table's runs name several profiles
    dataset_overrides: dict[str, Any] | None = None
    #: the metrics a narrow table shows by default, primary first (the dataset's ``key_metrics``)
    key_metrics: list[str] = field(default_factory=list)
    #: metric -> its short header (``pAP``); a legend maps it back
    short_names: dict[str, str] = field(default_factory=dict)
    #: the multiple-comparison correction of ``p vs best`` (``holm``, ``bonferroni``, ``none``)
    correction: str = "holm"
    #: how many p-values the correction is over (the rows with a p vs best)
    comparisons: int = 0

    @property
    def title(self) -> str:
        opts = ", ".join(f"{k}={v}" for k, v in self.dataset_options.items())
        return f"{self.label or self.dataset} [{self.dataset_hash}]: {opts}"

    @property
    def short_title(self) -> str:
        return f"{self.label or self.dataset} [{self.dataset_hash[:6]}]"


@dataclass(frozen=True)
class RankRow:
    """A method configuration's mean rank over the tables it is ranked on."""

    method: str
    method_hash: str
    profile: str
    precision: str
    label: str
    avg_rank: float
    #: table short title -> fractional rank there (``None``: not ranked on it)
    ranks: dict[str, float | None]

    @property
    def datasets(self) -> int:
        return sum(rank is not None for rank in self.ranks.values())

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.method, self.method_hash, self.profile, self.precision)


@dataclass(frozen=True)
class RankTest:
    """Friedman's test and Nemenyi's critical difference over the dataset configurations (Demšar
    2006), on the method configurations ranked on all of them; ``note`` says why there is none."""

    #: the method configurations tested, best average rank first, and their average ranks
    labels: list[str] = field(default_factory=list)
    avg_ranks: list[float] = field(default_factory=list)
    #: datasets (blocks) and methods
    n: int = 0
    k: int = 0
    #: Friedman's chi-square and its p-value (``None`` with fewer than 3 methods)
    statistic: float | None = None
    p: float | None = None
    alpha: float = 0.05
    q_alpha: float | None = None
    cd: float | None = None
    #: runs of methods (indices into ``labels``) whose average ranks differ by less than ``cd``
    cliques: list[tuple[int, ...]] = field(default_factory=list)
    #: method configurations left out because they are not ranked on every dataset
    dropped: list[str] = field(default_factory=list)
    note: str | None = None


@dataclass(frozen=True)
class Leaderboard:
    tables: list[Table]
    #: best average rank first; empty when nothing is ranked
    summary: list[RankRow] = field(default_factory=list)
    #: the test across datasets (``None``: not computed)
    rank_test: RankTest | None = None

    def __bool__(self) -> bool:
        return bool(self.tables)
