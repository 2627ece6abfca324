"""Images and masks to a square of ``size`` pixels: crop, pad or stretch, then resample.

Datasets that read the user's files share this so that ``anobench predict`` (through
``Dataset.preprocess``) and the cached images see the same pixels, and so that a mask goes
through exactly the geometry of its image (nearest neighbour, so it stays binary).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps

RESIZES = ("crop", "pad", "stretch")


def to_gray(img: Image.Image) -> Image.Image:
    """8-bit greyscale: 16-bit values scaled by 1/257, colour converted to luma."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        pixels = np.asarray(img, dtype=np.float64)
        top = 255.0 if pixels.max() <= 255 else 65535.0
        return Image.fromarray(np.round(np.clip(pixels / top, 0, 1) * 255).astype(np.uint8))
    return img if img.mode == "L" else img.convert("L")


def unit_to_gray(pixels: np.ndarray) -> Image.Image:
    """Display intensities in ``[0, 1]`` (``imageio.read_image``) as an 8-bit greyscale image."""
    values = np.round(np.clip(np.asarray(pixels, dtype=np.float64), 0, 1) * 255)
    return Image.fromarray(values.astype(np.uint8))


def _square(img: Image.Image, size: int, resize: str, resample: int) -> Image.Image:
    width, height = img.size
    side = min(width, height) if resize == "crop" else max(width, height)
    if resize == "crop":
        left, top = (width - side) // 2, (height - side) // 2
        img = img.crop((left, top, left + side, top + side))
    elif resize == "pad":
        canvas = Image.new("L", (side, side), 0)
        canvas.paste(img, ((side - width) // 2, (side - height) // 2))
        img = canvas
    return img.resize((size, size), resample)


def square_image(img: Image.Image, size: int, resize: str, equalize: bool) -> np.ndarray:
    """A greyscale image as uint8 ``[size, size]``.

    ``crop``: centre square of the shorter side; ``pad``: black borders to a square;
    ``stretch``: both sides scaled independently. Resampling is Pillow's antialiased bilinear;
    equalisation (Pillow ``ImageOps.equalize``) runs after resizing.
    """
    img = _square(to_gray(img), size, resize, Image.Resampling.BILINEAR)
    if equalize:
        img = ImageOps.equalize(img)
    return np.asarray(img, dtype=np.uint8)


def square_mask(mask: np.ndarray, size: int, resize: str) -> np.ndarray:
    """A mask (non-zero = anomalous) as bool ``[size, size]``, same geometry as ``square_image``."""
    img = Image.fromarray((np.asarray(mask) != 0).astype(np.uint8) * 255)
    return np.asarray(_square(img, size, resize, Image.Resampling.NEAREST)) > 127
