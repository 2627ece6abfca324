"""Decode and prepare CheXpert images (greyscale, square, resized, optionally equalised).

The same ``prepare`` runs on the cached training images and on a user's image in
``anobench predict``, so both see identical preprocessing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from anobench.files import RESIZES, ScaledImages, square_image

__all__ = ["RESIZES", "ScaledImages", "decode", "prepare"]

#: the shared square geometry under the name this plugin has always used
prepare = square_image


def decode(path: Path, size: int, resize: str, equalize: bool) -> np.ndarray:
    """Read one image file and ``prepare`` it; raises ``OSError``/``ValueError`` if unreadable.

    JPEGs are decoded at full size (no reduced DCT scale), so ``anobench predict`` on the same
    file gives exactly the cached pixels.
    """
    from PIL import Image

    with Image.open(path) as img:
        img.load()
        return prepare(img, size, resize, equalize)
