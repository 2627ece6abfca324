"""Reading user images for ``anobench predict``: PNG, JPEG, TIFF, DICOM, NIfTI in [0, 1]."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from anobench_chexpert.fixture import write_dicom
from PIL import Image

from anobench import ConfigError, DataError
from anobench.api.imageio import read_image, window

RAMP = np.tile(np.arange(0, 4096, 16, dtype=np.uint16), (8, 1))  # 8 x 256, stored 12-bit


def test_png_8_and_16_bit_use_their_nominal_range(tmp_path):
    eight = np.array([[0, 51, 255]], dtype=np.uint8)
    Image.fromarray(eight).save(tmp_path / "a.png")
    assert np.allclose(read_image(tmp_path / "a.png"), [[0, 0.2, 1]])
    sixteen = np.array([[0, 13107, 65535]], dtype=np.uint16)
    Image.fromarray(sixteen).save(tmp_path / "b.png")
    assert np.allclose(read_image(tmp_path / "b.png"), [[0, 0.2, 1]], atol=1e-6)


def test_colour_becomes_luma_and_jpeg_reads(tmp_path):
    rgb = np.zeros((4, 4, 3), dtype=np.uint8)
    rgb[..., 1] = 255
    Image.fromarray(rgb).save(tmp_path / "g.png")
    assert np.allclose(read_image(tmp_path / "g.png"), 150 / 255, atol=1 / 255)
    Image.fromarray(np.full((16, 16), 128, np.uint8)).save(tmp_path / "x.jpg", quality=95)
    out = read_image(tmp_path / "x.jpg")
    assert out.shape == (16, 16) and out.dtype == np.float32
    assert np.allclose(out, 128 / 255, atol=2 / 255)


def test_unreadable_and_missing_files_name_the_file(tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(
        DataError, match=r"bad\.jpg: cannot read this image.*PNG, JPEG, TIFF, DICOM or 2-D NIfTI"
    ):
        read_image(tmp_path / "bad.jpg")
    with pytest.raises(DataError, match=r"nothere\.png: no such file"):
        read_image(tmp_path / "nothere.png")
    with pytest.raises(DataError, match="is a folder"):
        read_image(tmp_path)
    (tmp_path / "bad.dcm").write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"bad\.dcm: not a readable DICOM"):
        read_image(tmp_path / "bad.dcm")


def test_dicom_window_modality_lut_and_monochrome1(tmp_path):
    plain = read_image(write_dicom(tmp_path / "a.dcm", RAMP))
    assert plain.shape == RAMP.shape
    assert plain.min() == 0 and plain.max() == 1  # no window: the image's own range
    assert np.all(np.diff(plain[0]) > 0)
    windowed = read_image(write_dicom(tmp_path / "w.dcm", RAMP, window=(1024, 1024)))
    assert windowed[0, 0] == 0 and windowed[0, -1] == 1  # clipped outside [512, 1536]
    # stored 1024 at the center: ((x - (c - 0.5)) / (w - 1)) + 0.5 of PS3.3 C.11.2.1.2
    assert np.isclose(windowed[0, 64], 0.5 / 1023 + 0.5, atol=1e-6)
    # rescale slope/intercept put the window in modality units: the same picture
    shifted = write_dicom(tmp_path / "s.dcm", RAMP, window=(0, 1024), intercept=-1024)
    assert np.allclose(read_image(shifted), windowed)
    inverted = read_image(write_dicom(tmp_path / "m1.dcm", RAMP, monochrome1=True))
    assert np.allclose(inverted, 1 - plain)
    # DICOM found by its marker even without the suffix
    (tmp_path / "noext").write_bytes((tmp_path / "a.dcm").read_bytes())
    assert np.array_equal(read_image(tmp_path / "noext"), plain)


def test_window_functions_follow_the_standard():
    x = np.array([0.0, 40.0, 50.0, 60.0, 100.0])
    linear = window(x, 50, 21)
    assert linear[0] == 0 and linear[-1] == 1 and np.isclose(linear[2], 0.525)
    assert np.allclose(window(x, 50, 20, "LINEAR_EXACT"), [0, 0, 0.5, 1, 1])
    sigmoid = window(x, 50, 20, "SIGMOID")
    assert np.isclose(sigmoid[2], 0.5) and np.all(np.diff(sigmoid) > 0)


def test_dicom_without_pydicom_names_the_extra(tmp_path, monkeypatch):
    path = write_dicom(tmp_path / "a.dcm", RAMP)
    monkeypatch.setitem(sys.modules, "pydicom", None)
    with pytest.raises(ConfigError, match=r'pip install "anobench\[chexpert\]"'):
        read_image(path)


def _claims_size(path, width: int, height: int) -> None:
    """A small PNG whose header claims ``width`` x ``height`` (a decompression bomb's header)."""
    import struct
    import zlib

    Image.fromarray(np.zeros((4, 4), np.uint8)).save(path)
    data = bytearray(path.read_bytes())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))


def test_a_decompression_bomb_names_the_file_the_limit_and_how_to_raise_it(tmp_path):
    _claims_size(tmp_path / "bomb.png", 40000, 40000)
    with pytest.raises(DataError) as info:
        read_image(tmp_path / "bomb.png")
    message = str(info.value)
    assert "bomb.png" in message and "1600000000 pixels" in message
    assert f"limit of {2 * Image.MAX_IMAGE_PIXELS} pixels" in message
    assert "ANOBENCH_MAX_IMAGE_PIXELS" in message and "Image.MAX_IMAGE_PIXELS" in message
    assert "\n" not in message


def test_the_pixel_limit_can_be_raised_and_lowered(tmp_path, monkeypatch):
    Image.fromarray(np.zeros((30, 40), np.uint8)).save(tmp_path / "small.png")
    monkeypatch.setenv("ANOBENCH_MAX_IMAGE_PIXELS", "1000")
    with pytest.raises(DataError, match=r"1200 pixels.*limit of 1000"):
        read_image(tmp_path / "small.png")
    monkeypatch.setenv("ANOBENCH_MAX_IMAGE_PIXELS", "2000")
    assert read_image(tmp_path / "small.png").shape == (30, 40)
    monkeypatch.setenv("ANOBENCH_MAX_IMAGE_PIXELS", "lots")
    with pytest.raises(ConfigError, match="ANOBENCH_MAX_IMAGE_PIXELS"):
        read_image(tmp_path / "small.png")


def test_a_large_image_under_the_limit_reads_without_pillows_warning(tmp_path, monkeypatch):
    """An image over Pillow's warning size but under anobench's limit (twice that): no raw
    warning. Pillow's size is lowered to 100 x 100 pixels for the test: at its default (89 M
    pixels) the image takes seconds to decode; anobench reads the limit from Pillow either way."""
    import warnings

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100 * 100)
    monkeypatch.delenv("ANOBENCH_MAX_IMAGE_PIXELS", raising=False)
    Image.new("1", (110, 110)).save(tmp_path / "big.png")
    with pytest.warns(Image.DecompressionBombWarning):  # Pillow itself warns on this image
        Image.open(tmp_path / "big.png").close()
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        pixels = read_image(tmp_path / "big.png")
    assert pixels.shape == (110, 110)


def test_tiff_8_and_16_bit_use_their_nominal_range(tmp_path):
    Image.fromarray(np.array([[0, 51, 255]], dtype=np.uint8)).save(tmp_path / "a.tif")
    assert np.allclose(read_image(tmp_path / "a.tif"), [[0, 0.2, 1]])
    sixteen = np.array([[0, 13107, 65535]], dtype=np.uint16)
    Image.fromarray(sixteen).save(tmp_path / "b.tiff")
    assert np.allclose(read_image(tmp_path / "b.tiff"), [[0, 0.2, 1]], atol=1e-6)


def test_a_2d_nifti_slice_reads_as_stored_and_scaled_by_its_range(tmp_path):
    nibabel = pytest.importorskip("nibabel")
    pixels = np.array([[-100.0, 0.0, 100.0], [50.0, 25.0, -50.0]])
    for name, array in (("s.nii", pixels), ("t.nii.gz", pixels[:, :, None])):
        nibabel.save(nibabel.Nifti1Image(array, np.eye(4)), str(tmp_path / name))
        assert np.allclose(read_image(tmp_path / name), (pixels + 100) / 200, atol=1e-6)
    volume = np.zeros((4, 4, 3))
    nibabel.save(nibabel.Nifti1Image(volume, np.eye(4)), str(tmp_path / "v.nii"))
    with pytest.raises(DataError, match=r"v\.nii: expected a 2-D NIfTI slice, got shape"):
        read_image(tmp_path / "v.nii")
    (tmp_path / "bad.nii.gz").write_bytes(b"not gzip")
    with pytest.raises(DataError, match=r"bad\.nii\.gz: not a readable NIfTI file"):
        read_image(tmp_path / "bad.nii.gz")


def test_nifti_without_nibabel_names_the_extra(tmp_path, monkeypatch):
    (tmp_path / "s.nii").write_bytes(b"\0" * 400)
    monkeypatch.setitem(sys.modules, "nibabel", None)
    with pytest.raises(ConfigError, match=r'pip install "anobench\[nifti\]"'):
        read_image(tmp_path / "s.nii")


def test_reading_in_threads_leaves_pillows_limit_in_place(tmp_path, monkeypatch):
    import time
    from concurrent.futures import ThreadPoolExecutor

    opener = Image.open

    def slow_open(*args, **kwargs):  # widens the window between the swap and its restore
        time.sleep(0.002)
        return opener(*args, **kwargs)

    monkeypatch.setattr(Image, "open", slow_open)
    before = Image.MAX_IMAGE_PIXELS
    paths = []
    for i in range(64):
        Image.fromarray(np.full((8, 8), i, np.uint8)).save(tmp_path / f"{i}.png")
        paths.append(tmp_path / f"{i}.png")
    for _ in range(5):
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(read_image, paths))
        assert before == Image.MAX_IMAGE_PIXELS
