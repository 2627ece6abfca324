"""Corrections of a family of p-values for multiple comparisons (every method against the best).

Holm's step-down method (Scand. J. Statist. 1979) controls the family-wise error as Bonferroni
does and rejects at least as much. Both are a sort and a running maximum: statsmodels'
``multipletests`` has them, but would be a large dependency for ten lines; the tests compare
the two.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

#: the ``--correction`` choices; the first is the default
CORRECTIONS = ("holm", "bonferroni", "none")
NAMES = {"holm": "Holm", "bonferroni": "Bonferroni", "none": "uncorrected"}


def adjust(p: Sequence[float | None], method: str = "holm") -> list[float | None]:
    """Adjusted p-values in the order of ``p``; ``None``/NaN entries are not in the family."""
    if method not in CORRECTIONS:
        raise ValueError(f"unknown correction {method!r}; one of {', '.join(CORRECTIONS)}")
    out: list[float | None] = [None] * len(p)
    where = [i for i, v in enumerate(p) if v is not None and not math.isnan(v)]
    values = np.array([p[i] for i in where], dtype=np.float64)
    m = len(values)
    if method == "none" or m == 0:
        adjusted = values
    elif method == "bonferroni":
        adjusted = np.minimum(values * m, 1.0)
    else:
        order = np.argsort(values, kind="stable")
        # the i-th smallest p times (m - i), made non-decreasing along the order
        steps = values[order] * (m - np.arange(m))
        adjusted = np.empty(m)
        adjusted[order] = np.minimum(np.maximum.accumulate(steps), 1.0)
    for i, value in zip(where, adjusted, strict=True):
        out[i] = float(value)
    return out
