"""Diffusion models for anomaly detection on MONAI (``pip install "anobench[diffusion]"``)."""

from anobench import require_extra

require_extra("diffusion", "monai")

from .method import AnoDDPM, DDPMGuided  # noqa: E402

__all__ = ["AnoDDPM", "DDPMGuided"]
