"""anobench.gaussian_blur against a literal loop and scipy.ndimage."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from anobench import gaussian_blur


def _gaussian_loop(image: np.ndarray, sigma: float) -> np.ndarray:
    """A separable Gaussian filter written out: symmetric edges, radius int(4 sigma + 0.5)."""
    radius = int(4 * sigma + 0.5)
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    out = image.astype(np.float64)
    for axis in (0, 1):
        padded = np.pad(
            out, [(radius, radius) if a == axis else (0, 0) for a in (0, 1)], "symmetric"
        )
        acc = np.zeros_like(out)
        for k, w in enumerate(taps):
            acc += w * np.take(padded, range(k, k + out.shape[axis]), axis=axis)
        out = acc
    return out


@pytest.mark.parametrize("sigma", [0.7, 2.0, 4.0])
def test_each_map_is_filtered_alone_as_the_loop_and_scipy_do(sigma):
    maps = np.random.default_rng(3).random((3, 17, 23)).astype(np.float32)
    maps[1, 5, 7] = 40.0  # an outlier in one map must not leak into the others
    blurred = gaussian_blur(torch.from_numpy(maps), sigma)
    assert blurred.dtype == torch.float32 and blurred.shape == maps.shape
    for got, image in zip(blurred.numpy(), maps, strict=True):
        np.testing.assert_allclose(got, _gaussian_loop(image, sigma), rtol=1e-5, atol=1e-5)
    scipy = gaussian_filter(maps, sigma=(0, sigma, sigma), mode="reflect")
    np.testing.assert_allclose(blurred.numpy(), scipy, rtol=1e-5, atol=1e-5)


def test_sigma_zero_returns_the_maps_themselves():
    maps = torch.rand(2, 8, 8)
    assert gaussian_blur(maps, 0.0) is maps


def test_constants_and_mass_are_kept():
    flat = torch.full((2, 16, 16), 3.0)
    torch.testing.assert_close(gaussian_blur(flat, 2.0), flat)
    spike = torch.zeros(1, 33, 33)
    spike[0, 16, 16] = 1.0
    blurred = gaussian_blur(spike, 2.0)
    assert blurred[0, 16, 16] < 0.1 and abs(blurred.sum().item() - 1.0) < 1e-5
