"""Which CheXpert rows form the task: labels, views, uncertainty policy, patient split, balance.

Healthy = ``No Finding == 1.0``; diseased = ``Pleural Effusion == 1.0`` (after the uncertainty
policy). Rows are split train/val/test **by patient** with the data seed, so no patient's images
appear in two splits; the patient assignment uses every patient of train.csv, so changing a
selection option never moves a patient to another split.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .table import DISEASE_COLUMN, HEALTHY_COLUMN, OTHER_FINDINGS, Table

POLICIES = ("drop", "ones", "zeros")
VIEWS = ("all", "AP", "PA")
BALANCES = ("none", "class", "class_view")
SPLIT_CODES = {"train": 0, "val": 1, "test": 2}
EXCLUDED = -1
_UNKNOWN = -1.0  # an uncertain cell the "drop" policy leaves unresolved


@dataclass(frozen=True)
class Criteria:
    uncertain: str = "drop"
    effusion_only: bool = False
    view: str = "all"
    frontal_only: bool = True


def resolve(values: np.ndarray, policy: str) -> np.ndarray:
    """Uncertain (-1) cells: ``ones`` -> 1, ``zeros`` -> 0, ``drop`` -> left at -1 (unknown)."""
    if policy == "ones":
        return np.where(values == -1, 1.0, values)
    if policy == "zeros":
        return np.where(values == -1, 0.0, values)
    return values


def view_group(table: Table) -> np.ndarray:
    """AP, PA, other frontal (LL/RL/blank) or lateral, per row: the strata of ``class_view``."""
    group = np.where(table.frontal, "other", "lateral").astype(object)
    for name in ("AP", "PA"):
        group[table.frontal & (table.projection == name)] = name
    return group


def label_rows(table: Table, criteria: Criteria) -> tuple[np.ndarray, dict[str, int]]:
    """Per row: 0 healthy, 1 diseased or -1 excluded; and how many rows each rule excluded."""
    n = len(table)
    labels = np.full(n, EXCLUDED, dtype=np.int8)
    reasons: dict[str, int] = {}

    def exclude(mask: np.ndarray, reason: str) -> np.ndarray:
        reasons[reason] = int(mask.sum())
        return mask

    gone = exclude(table.rel == "", "rejected_path")
    if criteria.frontal_only or criteria.view != "all":
        gone = gone | exclude(~gone & ~table.frontal, "lateral")
    if criteria.view != "all":
        gone = gone | exclude(~gone & (table.projection != criteria.view), "other_projection")
    pe = resolve(table.labels[DISEASE_COLUMN], criteria.uncertain)
    healthy = table.labels[HEALTHY_COLUMN] == 1
    diseased = pe == 1
    gone = gone | exclude(~gone & (pe == _UNKNOWN), "uncertain_effusion")
    gone = gone | exclude(~gone & healthy & diseased, "healthy_and_diseased")
    if criteria.effusion_only:
        others = np.stack([resolve(table.labels[c], criteria.uncertain) for c in OTHER_FINDINGS])
        positive = (others == 1).any(axis=0)
        unknown = (others == _UNKNOWN).any(axis=0)
        gone = gone | exclude(~gone & diseased & positive, "co_findings")
        gone = gone | exclude(~gone & diseased & unknown, "uncertain_co_findings")
    gone = gone | exclude(~gone & ~healthy & ~diseased, "not_in_task")
    labels[~gone & healthy] = 0
    labels[~gone & diseased] = 1
    return labels, reasons


def assign_patients(
    patients: np.ndarray, val_fraction: float, test_fraction: float, data_seed: int
) -> dict[int, int]:
    """Patient number -> split code (0 train, 1 val, 2 test), a seeded shuffle of all patients."""
    unique = np.unique(patients[patients >= 0])
    order = np.random.default_rng([data_seed, 0]).permutation(len(unique))
    n = len(unique)
    n_test = round(test_fraction * n)
    n_val = round(val_fraction * n)
    if n >= 3:  # tiny trees (fixtures) still get every split
        n_test = max(n_test, 1 if test_fraction > 0 else 0)
        n_val = max(n_val, 1 if val_fraction > 0 else 0)
    n_test = min(n_test, max(n - 1, 0))
    n_val = min(n_val, max(n - 1 - n_test, 0))
    codes = np.zeros(n, dtype=np.int64)
    codes[order[:n_test]] = SPLIT_CODES["test"]
    codes[order[n_test : n_test + n_val]] = SPLIT_CODES["val"]
    return dict(zip(unique.tolist(), codes.tolist(), strict=True))


def subsample(
    index: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    balance: str,
    cap: int | None,
    rng: np.random.Generator,
) -> np.ndarray:
    """Balance the classes (overall or within each view) and cap each class; sorted indices.

    With ``class_view`` the cap is shared out over the views in proportion to their balanced
    sizes (largest remainder) and drawn within each (class, view) cell, so every view keeps as
    many healthy as diseased images under the cap too.
    """
    keep = np.asarray(index, dtype=np.int64)
    if balance != "none":
        strata = [None] if balance == "class" else sorted(set(groups[keep].tolist()))
        cells = []
        for stratum in strata:
            inside = keep if stratum is None else keep[groups[keep] == stratum]
            cells.append([inside[labels[inside] == c] for c in (0, 1)])
        sizes = [min(len(p) for p in per_class) for per_class in cells]
        if balance == "class_view" and cap is not None:
            sizes = _share(sizes, cap)
        chosen = [
            rng.choice(p, n, replace=False)
            for per_class, n in zip(cells, sizes, strict=True)
            for p in per_class
        ]
        keep = np.sort(np.concatenate(chosen)) if chosen else keep[:0]
    if cap is not None:
        chosen = []
        for c in (0, 1):
            members = keep[labels[keep] == c]
            if len(members) > cap:
                members = rng.choice(members, cap, replace=False)
            chosen.append(members)
        keep = np.sort(np.concatenate(chosen))
    return keep


def _share(sizes: list[int], cap: int) -> list[int]:
    """``sizes`` scaled down to sum to ``cap`` (largest remainder, ties to the first stratum)."""
    total = sum(sizes)
    if total <= cap:
        return sizes
    exact = [cap * n / total for n in sizes]
    out = [int(e) for e in exact]
    by_remainder = sorted(range(len(sizes)), key=lambda i: (out[i] - exact[i], i))
    for i in by_remainder[: cap - sum(out)]:
        out[i] += 1
    return out


@dataclass
class Selection:
    """Rows of train.csv per split (and of valid.csv), with labels and what was excluded."""

    rows: dict[str, np.ndarray] = field(default_factory=dict)  # split -> table row indices
    labels: dict[str, np.ndarray] = field(default_factory=dict)  # split -> int8 labels
    excluded: dict[str, dict[str, int]] = field(default_factory=dict)  # csv -> reason -> rows
    candidates: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> class counts
    views: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> view -> images
    patients: dict[str, int] = field(default_factory=dict)  # split -> distinct patients


def _class_counts(labels: np.ndarray) -> dict[str, int]:
    return {"healthy": int((labels == 0).sum()), "diseased": int((labels == 1).sum())}


def select(
    train: Table,
    valid: Table | None,
    criteria: Criteria,
    *,
    val_fraction: float,
    test_fraction: float,
    data_seed: int,
    balance: str,
    caps: dict[str, int | None],
) -> Selection:
    out = Selection()
    labels, out.excluded["train.csv"] = label_rows(train, criteria)
    groups = view_group(train)
    split_of = assign_patients(train.patient, val_fraction, test_fraction, data_seed)
    codes = np.array([split_of.get(int(p), -1) for p in train.patient], dtype=np.int64)
    for name, code in SPLIT_CODES.items():
        index = np.flatnonzero((codes == code) & (labels != EXCLUDED))
        out.candidates[name] = _class_counts(labels[index])
        rng = np.random.default_rng([data_seed, 1, code])
        keep = subsample(index, labels, groups, balance, caps.get(name), rng)
        out.rows[name], out.labels[name] = keep, labels[keep]
        out.views[name] = dict(sorted(Counter(groups[keep].tolist()).items()))
        out.patients[name] = len(np.unique(train.patient[keep]))
    if valid is not None:
        valid_labels, out.excluded["valid.csv"] = label_rows(valid, criteria)
        keep = np.flatnonzero(valid_labels != EXCLUDED)
        out.rows["official_valid"], out.labels["official_valid"] = keep, valid_labels[keep]
        out.candidates["official_valid"] = _class_counts(valid_labels[keep])
        views = Counter(view_group(valid)[keep].tolist())
        out.views["official_valid"] = dict(sorted(views.items()))
        out.patients["official_valid"] = len(np.unique(valid.patient[keep]))
    return out
