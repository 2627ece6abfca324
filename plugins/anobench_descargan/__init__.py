"""DeScarGAN (Wolleb, Sandkühler, Cattin, MICCAI 2020) as an anobench method plugin."""

from .method import DeScarGAN

__all__ = ["DeScarGAN"]
