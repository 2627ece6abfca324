"""Read one user image (PNG, JPEG, TIFF, DICOM or a 2-D NIfTI) as display intensities in ``[0, 1]``.

What ``anobench predict`` feeds to ``Dataset.preprocess``: a 2-D float32 array, 0 = black.

- 8-bit images are divided by 255 and 16-bit ones by 65535 (their nominal range, so contrast is
  never stretched); colour images become luma (ITU-R 601, Pillow's ``convert("L")``).
- DICOM (needs pydicom, ``pip install "anobench[chexpert]"``): the modality LUT (rescale slope
  and intercept) first, then the first VOI window of the file (Window Center / Width with its
  VOI LUT Function: LINEAR, LINEAR_EXACT or SIGMOID, DICOM PS3.3 C.11.2.1.2) or its VOI LUT
  sequence; with neither, the image's own minimum and maximum. MONOCHROME1 is inverted so that
  0 is black like every other input. A multi-frame file uses its first frame.
- NIfTI (``.nii``, ``.nii.gz``; needs nibabel, ``pip install "anobench[nifti]"``): a 2-D slice
  (extra axes of length 1 are dropped), axis 0 as rows exactly as stored (no reorientation),
  scaled from its own minimum and maximum (NIfTI has no nominal range). A 3-D volume is refused:
  slice it first.
"""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path

import numpy as np

from .errors import ConfigError, DataError

FORMATS = "PNG, JPEG, TIFF, DICOM or 2-D NIfTI"
NIFTI_INSTALL = 'pip install "anobench[nifti]"'
DICOM_INSTALL = 'pip install "anobench[chexpert]"'
_OPENING = threading.Lock()
#: the most pixels an image may have, overriding Pillow's decompression-bomb limit
MAX_PIXELS_ENV = "ANOBENCH_MAX_IMAGE_PIXELS"


def max_pixels() -> int | None:
    """``ANOBENCH_MAX_IMAGE_PIXELS`` (0: no limit), else what Pillow refuses to open.

    Pillow warns above ``Image.MAX_IMAGE_PIXELS`` and refuses twice that; anobench refuses at
    the same size with one line, and reads images between the two without Pillow's warning.
    """
    from PIL import Image

    raw = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if raw:
        try:
            value = int(raw)
            if value < 0:
                raise ValueError
        except ValueError:
            raise ConfigError(
                f"{MAX_PIXELS_ENV}={raw!r} is not a number of pixels (0 for no limit)"
            ) from None
        return value or None
    return None if Image.MAX_IMAGE_PIXELS is None else 2 * Image.MAX_IMAGE_PIXELS


def _too_large(path: Path, pixels: int | str, limit: int) -> DataError:
    return DataError(
        f"{path}: the image has {pixels} pixels, over the limit of {limit} pixels (a"
        f" decompression bomb?); if you trust the file, raise the limit with"
        f" {MAX_PIXELS_ENV}=N (0: none; it replaces Pillow's Image.MAX_IMAGE_PIXELS)"
    )


def is_dicom(path: Path) -> bool:
    """DICOM by suffix, or by the ``DICM`` marker after the 128-byte preamble."""
    if path.suffix.lower() in {".dcm", ".dicom"}:
        return True
    try:
        with path.open("rb") as fh:
            fh.seek(128)
            return fh.read(4) == b"DICM"
    except OSError:
        return False


def is_nifti(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(".nii") or name.endswith(".nii.gz")


def read_nifti(path: Path) -> np.ndarray:
    try:
        import nibabel
    except ImportError:
        raise ConfigError(
            f"{path} is a NIfTI file and reading NIfTI needs nibabel: {NIFTI_INSTALL}"
        ) from None
    try:
        pixels = np.asarray(nibabel.load(str(path)).get_fdata(), dtype=np.float64)
    except Exception as exc:
        raise DataError(f"{path}: not a readable NIfTI file ({exc})") from None
    squeezed = pixels.reshape([n for n in pixels.shape if n != 1] or [1])
    if squeezed.ndim != 2:
        raise DataError(
            f"{path}: expected a 2-D NIfTI slice, got shape {pixels.shape}; save one slice per"
            " file (e.g. the axial slices of a volume)"
        )
    if not np.isfinite(squeezed).all():
        raise DataError(f"{path}: the NIfTI slice holds NaN or infinite values")
    return _min_max(squeezed)


def read_image(path: str | Path) -> np.ndarray:
    """The image at ``path`` as float32 ``[H, W]`` in ``[0, 1]``; ``DataError`` naming the file."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path} is a folder; give the {FORMATS} image files themselves")
    if not path.is_file():
        raise DataError(f"{path}: no such file (expected a {FORMATS} image)")
    if is_dicom(path):
        return read_dicom(path)
    if is_nifti(path):
        return read_nifti(path)
    from PIL import Image, UnidentifiedImageError

    limit = max_pixels()
    try:
        # Pillow's limit and the warning filters are process-wide: threads (datasets decode in
        # a pool) must not interleave the swap and its restore, or the limit stays off
        with _OPENING, warnings.catch_warnings():
            # anobench enforces its own limit below; Pillow's checks would warn or refuse first
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
            try:
                img = Image.open(path)
            finally:
                Image.MAX_IMAGE_PIXELS = saved
        with img:
            width, height = img.size
            if limit is not None and width * height > limit:
                raise _too_large(path, width * height, limit)
            img.load()
            return _pil_to_unit(img)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise DataError(
            f"{path}: cannot read this image ({exc}); anobench reads {FORMATS} files"
        ) from None


def _pil_to_unit(img) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(img, dtype=np.float32) / 65535.0
    if img.mode == "I":
        pixels = np.asarray(img, dtype=np.float64)
        top = 255.0 if pixels.max() <= 255 else 65535.0
        return np.clip(pixels / top, 0.0, 1.0).astype(np.float32)
    if img.mode == "F":
        pixels = np.asarray(img, dtype=np.float64)
        if not np.isfinite(pixels).all():  # read_image names the file
            raise ValueError(f"{int((~np.isfinite(pixels)).sum())} NaN or infinite pixels")
        return _min_max(pixels)
    return np.asarray(img.convert("L"), dtype=np.float32) / 255.0


def _min_max(pixels: np.ndarray) -> np.ndarray:
    low, high = float(np.min(pixels)), float(np.max(pixels))
    if high <= low:
        return np.zeros(pixels.shape, dtype=np.float32)
    return ((pixels - low) / (high - low)).astype(np.float32)


def read_dicom(path: Path) -> np.ndarray:
    try:
        import pydicom
    except ImportError:
        raise ConfigError(
            f"{path} is a DICOM file and reading DICOM needs pydicom: {DICOM_INSTALL}"
        ) from None
    try:
        ds = pydicom.dcmread(path)
    except Exception as exc:
        raise DataError(f"{path}: not a readable DICOM file ({exc})") from None
    if "PixelData" not in ds:
        raise DataError(f"{path}: the DICOM file holds no image (no Pixel Data element)")
    try:
        pixels = np.asarray(ds.pixel_array)
    except Exception as exc:
        raise DataError(
            f"{path}: cannot decode the DICOM pixel data ({exc}); compressed transfer syntaxes"
            " need a decoder such as 'pip install pylibjpeg pylibjpeg-libjpeg'"
        ) from None
    samples = int(ds.get("SamplesPerPixel", 1))
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        pixels = pixels[0]
    if samples > 1:
        weights = np.array([0.299, 0.587, 0.114], dtype=np.float64)[: pixels.shape[-1]]
        return _min_max(pixels.astype(np.float64) @ (weights / weights.sum()))
    if pixels.ndim != 2:
        raise DataError(f"{path}: expected a 2-D greyscale DICOM image, got shape {pixels.shape}")
    values = _modality(pixels, ds)
    unit = _voi(values, ds)
    if str(ds.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        unit = 1.0 - unit
    return unit.astype(np.float32)


def _modality(pixels: np.ndarray, ds) -> np.ndarray:
    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
    return pixels.astype(np.float64) * slope + intercept


def _first(value) -> float:
    try:
        return float(value[0])
    except TypeError:
        return float(value)


def _voi(values: np.ndarray, ds) -> np.ndarray:
    if "WindowCenter" in ds and "WindowWidth" in ds:
        center, width = _first(ds.WindowCenter), _first(ds.WindowWidth)
        function = str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR").upper()
        if width > 0:
            return window(values, center, width, function)
    if "VOILUTSequence" in ds:
        try:
            from pydicom.pixels import apply_voi_lut
        except ImportError:  # pydicom < 3
            from pydicom.pixel_data_handlers.util import apply_voi_lut

        return _min_max(np.asarray(apply_voi_lut(values, ds, index=0), dtype=np.float64))
    return _min_max(values)


def window(values: np.ndarray, center: float, width: float, function: str = "LINEAR") -> np.ndarray:
    """DICOM VOI windowing (PS3.3 C.11.2.1.2/3) mapped to ``[0, 1]``."""
    if function == "SIGMOID":
        return 1.0 / (1.0 + np.exp(-4.0 * (values - center) / width))
    if function == "LINEAR_EXACT":
        return np.clip((values - center) / width + 0.5, 0.0, 1.0)
    if width < 1:
        raise DataError(f"DICOM Window Width {width} is below 1, which LINEAR windowing forbids")
    if width == 1:
        return (values > center - 0.5).astype(np.float64)
    return np.clip((values - (center - 0.5)) / (width - 1) + 0.5, 0.0, 1.0)
