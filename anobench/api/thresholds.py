"""``values >= threshold`` in float64: a threshold chosen on one split, applied to another."""

from __future__ import annotations

import numpy as np

#: the loop of ``np.greater_equal`` that compares two float64 values
_FLOAT64 = (np.float64, np.float64, np.bool_)


def at_or_above(values: np.ndarray, threshold: float) -> np.ndarray:
    """``values >= threshold`` compared in float64, whatever the values' dtype.

    A threshold chosen on float64 validation values must not be rounded to the test values'
    dtype: under NumPy 2 ``float32_array >= 1.00000001`` compares with ``float32(1.00000001)``,
    which is 1.0. The values are cast in the ufunc's buffers, not copied whole.
    """
    return np.greater_equal(values, threshold, signature=_FLOAT64)
