"""Decode and prepare CheXpert images (greyscale, square, resized, optionally equalised).

The same ``prepare`` runs on the cached training images and on a user's image in
``anobench predict``, so both see identical preprocessing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # imported where used: importing this module stays fast
    from PIL import Image


RESIZES = ("crop", "pad", "stretch")


def to_gray(img: Image.Image) -> Image.Image:
    """8-bit greyscale: 16-bit values scaled by 1/257, colour converted to luma."""
    from PIL import Image

    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        pixels = np.asarray(img, dtype=np.float64)
        top = 255.0 if pixels.max() <= 255 else 65535.0
        return Image.fromarray(np.round(np.clip(pixels / top, 0, 1) * 255).astype(np.uint8))
    return img if img.mode == "L" else img.convert("L")


def prepare(img: Image.Image, size: int, resize: str, equalize: bool) -> np.ndarray:
    """A greyscale image as uint8 ``[size, size]``.

    ``crop``: centre square of the shorter side; ``pad``: black borders to a square;
    ``stretch``: both sides scaled independently. Resampling is Pillow's antialiased bilinear;
    equalisation (Pillow ``ImageOps.equalize``) runs after resizing.
    """
    from PIL import Image, ImageOps

    img = to_gray(img)
    width, height = img.size
    side = min(width, height) if resize == "crop" else max(width, height)
    if resize == "crop":
        left, top = (width - side) // 2, (height - side) // 2
        img = img.crop((left, top, left + side, top + side))
    elif resize == "pad":
        canvas = Image.new("L", (side, side), 0)
        canvas.paste(img, ((side - width) // 2, (side - height) // 2))
        img = canvas
    img = img.resize((size, size), Image.Resampling.BILINEAR)
    if equalize:
        img = ImageOps.equalize(img)
    return np.asarray(img, dtype=np.uint8)


def decode(path: Path, size: int, resize: str, equalize: bool) -> np.ndarray:
    """Read one image file and ``prepare`` it; raises ``OSError``/``ValueError`` if unreadable.

    JPEGs are decoded at full size (no reduced DCT scale), so ``anobench predict`` on the same
    file gives exactly the cached pixels.
    """
    from PIL import Image

    with Image.open(path) as img:
        img.load()
        return prepare(img, size, resize, equalize)


def decode_all(
    paths: Sequence[Path],
    out: np.ndarray,
    *,
    size: int,
    resize: str,
    equalize: bool,
    workers: int,
    advance: Callable[[int], None],
) -> list[dict[str, str]]:
    """Decode ``paths[i]`` into ``out[i, 0]`` in parallel threads; returns the failures.

    Pillow releases the GIL while decoding and resizing, so threads scale across cores.
    """
    from PIL import UnidentifiedImageError

    def one(i: int) -> dict[str, str] | None:
        path = paths[i]
        if not path.is_file():
            return {"path": str(path), "reason": "missing file"}
        try:
            out[i, 0] = decode(path, size, resize, equalize)
        except (OSError, ValueError, UnidentifiedImageError, SyntaxError) as exc:
            return {"path": str(path), "reason": f"unreadable: {exc}"}
        return None

    failures: list[dict[str, str]] = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for failure in pool.map(one, range(len(paths)), chunksize=16):
            if failure is not None:
                failures.append(failure)
            advance(1)
    return failures


class ScaledImages:
    """A uint8 ``[N, C, H, W]`` array (e.g. a memory map) seen as float32 in ``[-1, 1]``.

    Conversion (``x / 127.5 - 1``) happens on access, so the cache stays uint8 on disk and in
    memory; indexing with an int, a slice or an index array returns a plain float32 ndarray.
    ``rows`` selects (and orders) the rows of ``raw`` this view exposes.
    """

    dtype = np.dtype(np.float32)
    ndim = 4

    def __init__(self, raw: np.ndarray, rows: np.ndarray) -> None:
        self._raw = raw
        self._rows = np.asarray(rows, dtype=np.int64)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (len(self._rows), *self._raw.shape[1:])  # type: ignore[return-value]

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def nbytes(self) -> int:
        return self.size * 4

    def __len__(self) -> int:
        return len(self._rows)

    @staticmethod
    def _scale(data: np.ndarray) -> np.ndarray:
        out = np.asarray(data, dtype=np.float32)
        out /= 127.5
        out -= 1.0
        return out

    def __getitem__(self, key):
        first, rest = (key[0], key[1:]) if isinstance(key, tuple) else (key, ())
        if first is Ellipsis:
            return np.asarray(self)[key]
        rows = self._rows[first]
        if np.ndim(rows) == 0:
            data = self._raw[int(rows)]
        else:
            rows = np.asarray(rows)
            # a contiguous run of rows reads as one slice of the memory map
            if len(rows) and np.all(np.diff(rows) == 1):
                data = self._raw[int(rows[0]) : int(rows[-1]) + 1]
            else:
                data = self._raw[rows]
        if rest:
            data = data[rest] if np.ndim(rows) == 0 else data[(slice(None), *rest)]
        return self._scale(data)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __array__(self, dtype=None, copy=None):
        out = np.empty(self.shape, dtype=np.float32)
        for start in range(0, len(self), 1024):
            out[start : start + 1024] = self[start : start + 1024]
        return out if dtype is None else out.astype(dtype, copy=False)

    def astype(self, dtype, copy: bool = True) -> np.ndarray:
        return np.asarray(self).astype(dtype, copy=False)

    def copy(self) -> np.ndarray:
        return np.asarray(self)

    def min(self) -> np.float32:
        return self._scale(np.asarray(self._raw[self._rows].min()))[()]

    def max(self) -> np.float32:
        return self._scale(np.asarray(self._raw[self._rows].max()))[()]
