"""The user's own images: normal/ and abnormal/ folders (optional masks) or a CSV manifest."""

from .dataset import FolderDataset
from .fixture import make_fixture

__all__ = ["FolderDataset", "make_fixture"]
