"""Synthetic phantoms of DeScarGAN (Wolleb et al., MICCAI 2020)."""
from .dataset import SyntheticDataset

__all__ = ["SyntheticDataset"]
