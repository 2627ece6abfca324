"""Reconstruction baselines: a convolutional VAE and the same network as a plain AE."""

from .method import AE, VAE

__all__ = ["AE", "VAE"]
