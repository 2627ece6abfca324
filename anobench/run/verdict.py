"""The verdict on a predicted score at the image threshold a run chose on its validation split.

The threshold is the one the run's ``image_balanced_accuracy`` (or ``image_accuracy``) metric
chose on validation images and stored in its details; a run without it has no verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..api.thresholds import at_or_above
from ..results.store import Store

#: metrics whose stored details hold the validation image threshold (the same one), in order
THRESHOLD_METRICS = ("image_balanced_accuracy", "image_accuracy")
ANOMALOUS = "anomalous"
NORMAL = "normal"


@dataclass(frozen=True)
class Threshold:
    """The run's validation threshold (``value``) and where it came from, or why there is none."""

    value: float | None
    metric: str | None = None
    source: str | None = None
    missing: str | None = None

    def verdict(self, score: float) -> str | None:
        if self.value is None:
            return None
        above = bool(at_or_above(np.array([score], np.float64), self.value)[0])
        return ANOMALOUS if above else NORMAL

    def explain(self, score: float) -> str:
        """``score 2.31 -> anomalous (threshold 1.07 from validation)``, or why there is none."""
        if self.value is None:
            return f"score {score:.4g} (no verdict: {self.missing})"
        verdict = self.verdict(score)
        return f"score {score:.4g} -> {verdict} (threshold {self.value:.4g} from validation)"

    def describe(self) -> str:
        """One line on what the verdicts mean, or why there are none."""
        if self.value is None:
            return f"no verdict: {self.missing}"
        return (
            f"verdict: anomalous when score >= {self.value:.4g} (threshold chosen on the run's"
            f" validation split, stored with its {self.metric})"
        )

    def to_dict(self) -> dict:
        if self.value is None:
            return {"value": None, "missing": self.missing}
        return {"value": self.value, "metric": self.metric, "source": self.source}


def stored_threshold(store: Store, run_id: str) -> Threshold:
    reasons = []
    for name in THRESHOLD_METRICS:
        stored = store.metric_details(run_id, name)
        if stored is None:
            continue
        _, reason, details = stored
        threshold = details.get("threshold")
        if isinstance(threshold, (int, float)) and math.isfinite(threshold):
            return Threshold(float(threshold), name, details.get("threshold_source"))
        reasons.append(f"{name}: {reason or 'no threshold stored'}")
    if reasons:
        return Threshold(None, missing=f"the run chose no validation threshold ({reasons[0]})")
    return Threshold(
        None,
        missing=(
            f"the run stored no validation threshold (it computed neither {THRESHOLD_METRICS[0]}"
            f" nor {THRESHOLD_METRICS[1]})"
        ),
    )
