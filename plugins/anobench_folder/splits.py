"""Splits made by the dataset when the user gave none.

Images are grouped by patient when the manifest names patients (else each image is its own
group), and groups are drawn into test, val and train with ``data_seed``, separately for groups
with and without an abnormal image, so no patient is in two splits. Where the abnormal groups go
is the protocol (``abnormal_split``): ``stratified`` draws them like the normal ones (both
classes in every split, for weakly supervised methods); ``test`` keeps them out of training
(val's share to val, for thresholds chosen there, every other one to test), since a method
trained on normal images only would never see them.
"""

from __future__ import annotations

import numpy as np

#: where abnormal images go when the splits are made
ABNORMAL_SPLITS = ("auto", "test", "stratified")


def _share(n: int, fraction: float) -> int:
    """Groups of one stratum for a split: the rounded share, at least one when there are
    three or more groups to draw from and the fraction is not zero."""
    count = round(n * fraction)
    if fraction > 0 and n >= 3:
        count = max(1, count)
    return min(count, n)


def make_splits(
    labels: np.ndarray,
    groups: np.ndarray,
    *,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    abnormal_split: str = "stratified",
) -> np.ndarray:
    """The split name of every image (object array), patient-disjoint and stratified."""
    labels = np.asarray(labels)
    groups = np.asarray(groups, dtype=object)
    names = sorted(set(groups.tolist()))
    abnormal = {g for g in groups[labels == 1].tolist()}
    out = np.empty(len(labels), dtype=object)
    for stratum, members in enumerate(
        ([g for g in names if g not in abnormal], [g for g in names if g in abnormal])
    ):
        rng = np.random.default_rng([seed, stratum])
        order = [members[i] for i in rng.permutation(len(members))]
        n_test = _share(len(order), test_fraction)
        n_val = _share(len(order) - n_test, val_fraction / max(1e-12, 1 - test_fraction))
        if stratum == 1 and abnormal_split == "test":
            n_val = _share(len(order), val_fraction)
            n_test = len(order) - n_val  # none left for train
        assigned = {g: "test" for g in order[:n_test]}
        assigned.update({g: "val" for g in order[n_test : n_test + n_val]})
        assigned.update({g: "train" for g in order[n_test + n_val :]})
        for i in np.flatnonzero(np.isin(groups, list(assigned))):
            out[i] = assigned[groups[i]]
    return out
