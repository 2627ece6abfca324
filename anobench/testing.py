"""The plugin contract as executable checks, for built-ins and third parties alike.

Use in a plugin's own tests, one test item per rule (a broken rule hides no other)::

    from anobench.testing import parametrize_with_checks

    @parametrize_with_checks([MyMethod, MyDataset])
    def test_contract(check):
        check()

or all rules in one test: ``check_method(MyMethod, workdir=tmp_path)`` (also ``check_dataset``,
``check_metric``). Each check raises ``AssertionError`` naming the plugin and the broken rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .api.context import make_context
from .api.interfaces import Dataset, Method, Metric
from .api.records import Split
from .checks import Check, run_checks
from .checks import checks as _plugin_checks

__all__ = [
    "Check",
    "check_dataset",
    "check_method",
    "check_metric",
    "checks",
    "lesion_image",
    "make_context",
    "parametrize_with_checks",
    "toy_split",
    "write_dicom",
]


def toy_split(
    n_healthy: int = 6,
    n_diseased: int = 6,
    size: int = 32,
    channels: int = 1,
    seed: int = 0,
    name: str = "toy",
) -> Split:
    """Smooth random backgrounds; diseased images carry a bright disc (the mask)."""
    rng = np.random.default_rng(seed)
    n = n_healthy + n_diseased
    labels = np.array([0] * n_healthy + [1] * n_diseased, dtype=np.int8)
    rng.shuffle(labels)
    yy, xx = np.mgrid[:size, :size]
    images = np.empty((n, channels, size, size), dtype=np.float32)
    masks = np.zeros((n, size, size), dtype=bool)
    for i in range(n):
        fx, fy = rng.uniform(0.1, 0.3, 2)
        phase = rng.uniform(0, 6.28)
        base = 0.4 * np.sin(fx * xx + phase) * np.cos(fy * yy)
        base = base + 0.05 * rng.standard_normal((size, size))
        if labels[i] == 1:
            cy, cx = rng.integers(size // 4, 3 * size // 4, 2)
            r = max(2, size // 8)
            masks[i] = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
            base = np.where(masks[i], 0.9, base)
        images[i] = np.clip(base, -1, 1)[None]
    ids = tuple(f"{name}-{i:04d}" for i in range(n))
    return Split(images=images, labels=labels, ids=ids, masks=masks)


# -- the contract --------------------------------------------------------------------------------


def _checks(plugin: type, **settings: Any) -> Iterator[Check]:
    return _plugin_checks(plugin, make_context=make_context, toy_split=toy_split, **settings)


def checks(plugin: type, **settings: Any) -> list[Check]:
    """One check per rule of the contract for a method, dataset or metric class; each is a
    callable that raises ``AssertionError`` naming the plugin and the rule. ``settings``:
    ``options``, ``workdir`` and ``seed`` (methods and datasets), ``size`` and ``atol``
    (methods), ``profile`` (datasets), ``seed`` (metrics)."""
    return list(_checks(plugin, **settings))


def parametrize_with_checks(
    plugins: Iterable[type | tuple[type, Mapping[str, Any]]],
    *,
    expected_failures: Mapping[str, Mapping[str, str]] | None = None,
) -> Any:
    """A ``pytest.mark.parametrize`` over every rule of every plugin: one test item each, so a
    broken rule does not hide the others.

    ``plugins``: classes, or ``(class, settings)`` pairs (the settings of :func:`checks`).
    ``expected_failures``: plugin name -> {rule: reason}; those items are marked ``xfail``
    (strict: a rule that starts to pass must lose its mark). Use::

        @parametrize_with_checks([MyMethod, MyDataset])
        def test_contract(check):
            check()
    """
    import pytest

    expected = {name: dict(rules) for name, rules in (expected_failures or {}).items()}
    params = []
    for item in plugins:
        cls, settings = item if isinstance(item, tuple) else (item, {})
        for check in _checks(cls, **dict(settings)):
            reason = expected.get(check.name, {}).pop(check.rule, None)
            marks = () if reason is None else pytest.mark.xfail(reason=reason, strict=True)
            params.append(pytest.param(check, id=check.id, marks=marks))
    unknown = {name: sorted(rules) for name, rules in expected.items() if rules}
    if unknown:
        raise ValueError(f"expected_failures names rules that no plugin has: {unknown}")
    return pytest.mark.parametrize("check", params)


def _run(
    plugin: type,
    base: type,
    kind: str,
    collect: bool,
    expected_failures: Mapping[str, str] | None,
    **settings: Any,
) -> list[str]:
    if not (isinstance(plugin, type) and issubclass(plugin, base)):
        name = getattr(plugin, "name", getattr(plugin, "__name__", repr(plugin)))
        raise AssertionError(f"{kind} '{name}': must subclass anobench.{base.__name__}")
    return run_checks(list(_checks(plugin, **settings)), collect, expected_failures)


def check_method(
    cls: type[Method],
    *,
    options: Mapping[str, Any] | None = None,
    workdir: Path | str | None = None,
    seed: int = 0,
    size: int = 32,
    atol: float = 1e-5,
    collect: bool = False,
    expected_failures: Mapping[str, str] | None = None,
) -> list[str]:
    """Run the method contract on tiny toy data; returns the rules that passed.

    ``options`` override the class's ``test_options`` (small, fast settings). Raises
    ``AssertionError`` at the first broken rule, or with every broken rule when ``collect``;
    ``expected_failures`` (rule -> reason) are not raised.
    """
    settings = {"options": options, "workdir": workdir, "seed": seed, "size": size, "atol": atol}
    return _run(cls, Method, "method", collect, expected_failures, **settings)


def check_dataset(
    cls: type[Dataset],
    *,
    options: Mapping[str, Any] | None = None,
    profile: str = "quick",
    workdir: Path | str | None = None,
    collect: bool = False,
    expected_failures: Mapping[str, str] | None = None,
) -> list[str]:
    """Load every split twice and check the data conventions; returns the rules that passed
    (``collect`` and ``expected_failures`` as for :func:`check_method`)."""
    settings = {"options": options, "profile": profile, "workdir": workdir}
    return _run(cls, Dataset, "dataset", collect, expected_failures, **settings)


def check_metric(
    cls: type[Metric],
    *,
    seed: int = 0,
    collect: bool = False,
    expected_failures: Mapping[str, str] | None = None,
) -> list[str]:
    """Perfect predictions must score at least as well as random ones; edge cases must not
    crash. Returns the rules that passed (``collect`` and ``expected_failures`` as for
    :func:`check_method`)."""
    return _run(cls, Metric, "metric", collect, expected_failures, seed=seed)


# -- image files ---------------------------------------------------------------------------------


def write_dicom(
    path: str | Path,
    pixels: np.ndarray,
    *,
    monochrome1: bool = False,
    window: tuple[float, float] | None = None,
    slope: float = 1.0,
    intercept: float = 0.0,
    bits_stored: int = 12,
) -> Path:
    """Write an uncompressed single-frame greyscale DICOM (a CR image) for tests of predict.

    ``pixels`` are stored values (unsigned, ``bits_stored`` bits); ``window`` is (center, width)
    in modality units. Needs pydicom.
    """
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    path = Path(path)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1"  # Computed Radiography
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "CR"
    ds.PatientID = "FAKE-0001"
    ds.Rows, ds.Columns = (int(v) for v in pixels.shape)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME1" if monochrome1 else "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, bits_stored, bits_stored - 1
    ds.PixelRepresentation = 0
    ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    ds.PixelData = np.ascontiguousarray(pixels, dtype="<u2").tobytes()
    try:
        ds.save_as(path, enforce_file_format=True)
    except TypeError:  # pydicom < 3
        ds.save_as(path, write_like_original=False)
    return path


def lesion_image(
    size: int, abnormal: bool, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A stand-in scan for fixtures: an 8-bit smooth greyscale picture and its mask (a bright
    disc when ``abnormal``, else empty)."""
    yy, xx = np.mgrid[:size, :size].astype(np.float64) / size
    img = 90 + 60 * np.sin(3 * xx + rng.uniform(0, 3)) * np.cos(2 * yy) + rng.normal(0, 5, xx.shape)
    mask = np.zeros((size, size), dtype=bool)
    if abnormal:
        cx, cy, r = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.08, 0.18)
        mask = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
        img[mask] += 100
    return np.clip(img, 0, 255).astype(np.uint8), mask
