"""The denoising autoencoder of Kascenas et al. (2022) on MONAI's U-Net
(``pip install "anobench[diffusion]"``, the extra that brings MONAI)."""

from anobench import require_extra

require_extra("diffusion", "monai")

from .method import DAE  # noqa: E402

__all__ = ["DAE"]
