"""The one line of a run's summary that says what data it saw: the size of each split by class,
how the splits were made, and training images the method could not use."""

from __future__ import annotations

from typing import Any

from ..api.interfaces import SPLITS


def data_line(provenance: dict[str, Any]) -> str | None:
    data = provenance.get("data")
    if not isinstance(data, dict) or not data:
        return None
    parts = []
    for name in SPLITS:
        counts = data.get(name)
        if isinstance(counts, dict) and "healthy" in counts:
            normal, abnormal = counts["healthy"], counts.get("diseased", 0)
            parts.append(f"{name} {normal + abnormal} ({normal} normal, {abnormal} abnormal)")
    line = "data: " + "; ".join(parts)
    made = (data.get("train") or {}).get("splits")
    if isinstance(made, str):
        line += f"; splits {made}"
    train = data.get("train") or {}
    used = provenance.get("trained_on")
    if isinstance(used, int) and "healthy" in train:
        unused = train["healthy"] + train.get("diseased", 0) - used
        if unused > 0:
            line += (
                f". {unused} abnormal training image(s) unused: the method learns from normal"
                " images only"
            )
    return line
