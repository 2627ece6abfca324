"""Training-free reference methods: the floor every learned method must beat."""

from .meandiff import MeanDiff, ZScore

__all__ = ["MeanDiff", "ZScore"]
