"""AnoGAN and f-AnoGAN: GANs of healthy images, with a latent search or an encoder."""

from .methods import AnoGAN, FAnoGAN

__all__ = ["AnoGAN", "FAnoGAN"]
