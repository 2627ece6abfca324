"""Synthetic phantoms of DeScarGAN (Wolleb et al., MICCAI 2020) as an anobench dataset."""

from .dataset import SyntheticDataset

__all__ = ["SyntheticDataset"]
