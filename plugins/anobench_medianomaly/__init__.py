"""MedIAnomaly (Cai et al., 2024): its pre-processed anomaly detection sets from the user's copy."""

from .dataset import MedIAnomalyDataset
from .fixture import make_fixture

__all__ = ["MedIAnomalyDataset", "make_fixture"]
