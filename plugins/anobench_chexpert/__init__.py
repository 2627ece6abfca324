"""CheXpert (Irvin et al., AAAI 2019) from the user's own copy: No Finding vs Pleural Effusion."""

from .dataset import CheXpertDataset
from .fixture import make_fixture

__all__ = ["CheXpertDataset", "make_fixture"]
