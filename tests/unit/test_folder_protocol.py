"""``make_splits(abnormal_split="test")``: no abnormal group in train, val's share in val,
the rest in test; normal images drawn as with ``stratified``; patients never split."""

from __future__ import annotations

import numpy as np
from anobench_folder.splits import make_splits


def test_the_one_class_protocol_keeps_abnormal_groups_out_of_training():
    labels = np.array([0] * 60 + [1] * 30)
    groups = np.array([f"p{i // 2}" for i in range(90)], dtype=object)  # two images a patient
    options = {"val_fraction": 0.1, "test_fraction": 0.2, "seed": 5}
    one_class = make_splits(labels, groups, abnormal_split="test", **options)
    stratified = make_splits(labels, groups, abnormal_split="stratified", **options)
    abnormal = labels == 1
    assert not (one_class[abnormal] == "train").any()
    # 15 abnormal patients: round(1.5) = 2 to val, 13 to test (a literal count per patient)
    pairs = list(zip(groups[abnormal], one_class[abnormal], strict=True))
    patients = {split: {g for g, s in pairs if s == split} for split in ("val", "test")}
    assert (len(patients["val"]), len(patients["test"])) == (2, 13)
    # the normal images are split exactly as before
    assert list(one_class[~abnormal]) == list(stratified[~abnormal])
    assert (stratified[abnormal] == "train").any()
    for g in set(groups):
        assert len(set(one_class[groups == g])) == 1
