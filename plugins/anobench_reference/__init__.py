"""Reference methods: training-free floors (meandiff, zscore) and a supervised classifier."""

from .classifier import Classifier
from .meandiff import MeanDiff, ZScore

__all__ = ["Classifier", "MeanDiff", "ZScore"]
