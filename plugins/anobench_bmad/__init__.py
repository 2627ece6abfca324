"""BMAD (Bao et al., 2023): medical anomaly detection benchmarks from the user's copy."""

from .dataset import BMADDataset
from .fixture import make_fixture

__all__ = ["BMADDataset", "make_fixture"]
