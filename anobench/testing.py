"""The plugin contract as executable checks, for built-ins and third parties alike.

Use in a plugin's own tests::

    from anobench.testing import check_method
    def test_contract(tmp_path):
        check_method(MyMethod, workdir=tmp_path)

Each check raises ``AssertionError`` naming the plugin and the broken rule.
"""

from __future__ import annotations

import difflib
import io
import math
import tempfile
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .api import registry
from .api.context import Budget, RunContext
from .api.errors import MethodFailure
from .api.interfaces import SHORT_NAME_MAX, SPLITS, Dataset, Method, Metric
from .api.records import MetricResult, Predictions, Scored, Split, training_split
from .api.seeding import seed_everything
from .api.validate import check_predictions, check_split, loadable_state

__all__ = [
    "check_dataset",
    "check_method",
    "check_metric",
    "lesion_image",
    "make_context",
    "toy_split",
    "write_dicom",
]

#: step budget every method must honour under ``check_method``
CHECK_MAX_STEPS = 3


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


@contextmanager
def _workdir(path: Path | str | None):
    if path is not None:
        yield Path(path)
        return
    with tempfile.TemporaryDirectory(prefix="anobench-check-") as tmp:
        yield Path(tmp)


def make_context(
    workdir: Path | str, seed: int = 0, max_steps: int | None = None, device: str = "cpu"
) -> RunContext:
    """A run context as the runner builds it: everything seeded, budget clock started."""
    workdir = Path(workdir)
    ctx = RunContext(
        device=device,
        seed=seed,
        workdir=workdir,
        cache_dir=workdir / "cache",
        budget=Budget(max_steps=max_steps),
    )
    ctx.generator = seed_everything(seed)
    ctx.budget.start()
    return ctx


def _fail(owner: str, rule: str) -> AssertionError:
    return AssertionError(f"{owner}: {rule}")


def _checked(pred: Predictions, images: np.ndarray, owner: str) -> Predictions:
    try:
        return check_predictions(pred, images, owner)
    except MethodFailure as exc:
        raise AssertionError(str(exc)) from None


def _close(a: np.ndarray | None, b: np.ndarray | None, atol: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and np.allclose(a, b, atol=atol, rtol=0)


# -- methods -------------------------------------------------------------------------------------


def check_method(
    cls: type[Method],
    *,
    options: Mapping[str, Any] | None = None,
    workdir: Path | str | None = None,
    seed: int = 0,
    size: int = 32,
    atol: float = 1e-5,
) -> list[str]:
    """Run the method contract on tiny toy data; returns the names of the checks that passed.

    ``options`` override the class's ``test_options`` (small, fast settings).
    """
    owner = f"method '{getattr(cls, 'name', cls.__name__)}'"
    passed: list[str] = []
    if not (isinstance(cls, type) and issubclass(cls, Method)):
        raise _fail(owner, "must subclass anobench.Method")
    if not cls.name:
        raise _fail(owner, "class attribute 'name' is empty")
    if cls.supervision not in ("unsupervised", "weak"):
        raise _fail(owner, f"supervision must be 'unsupervised' or 'weak', not {cls.supervision!r}")
    for profile in ("quick", "paper"):
        if profile not in cls.profiles:
            raise _fail(owner, f"needs a '{profile}' profile (has {list(cls.profiles)})")
        cls.resolve(profile, {})
    passed.append("declaration")

    params = cls.resolve("quick", {**dict(cls.test_options), **dict(options or {})})
    method = cls(**params)
    if method.get_params() != params:
        raise _fail(owner, "the constructor must store its options unchanged (get_params)")
    learned = [a for a in vars(method) if a.endswith("_") and not a.startswith("_")]
    if learned:
        raise _fail(owner, f"the constructor must not learn; it set {learned}")
    passed.append("constructor")

    train_full = toy_split(8, 8, size=size, seed=seed + 1, name="train")
    val_full = toy_split(4, 4, size=size, seed=seed + 2, name="val")
    test = toy_split(4, 4, size=size, seed=seed + 3, name="test")
    train = training_split(train_full, cls.supervision, owner)
    val = training_split(val_full, cls.supervision, owner)
    if cls.supervision == "unsupervised" and np.asarray(train.labels).any():
        raise _fail(owner, "unsupervised methods must only see healthy training images")

    def fit_predict(workdir: Path) -> tuple[Method, RunContext, Predictions]:
        ctx = make_context(workdir, seed, max_steps=CHECK_MAX_STEPS)
        model = cls(**params)
        out = model.fit(train, val, ctx)
        if out is not model:
            raise _fail(owner, "fit() must return self")
        with torch.inference_mode():
            pred = _checked(model.predict(test.images, ctx), test.images, owner)
        return model, ctx, pred

    with _workdir(workdir) as root:
        model, ctx, pred = fit_predict(root / "first")
        passed.append("fit-predict shapes")
        steps = [row["step"] for row in ctx.history]
        if steps and max(steps) > CHECK_MAX_STEPS:
            raise _fail(
                owner, f"ignored the step budget: logged step {max(steps)} > {CHECK_MAX_STEPS}"
            )
        passed.append("budget")

        _, _, again = fit_predict(root / "second")
        if not (_close(pred.scores, again.scores, atol) and _close(pred.maps, again.maps, atol)):
            raise _fail(owner, f"two fits with seed {seed} gave different predictions")
        passed.append("determinism")

        with torch.inference_mode():
            part = _checked(model.predict(test.images[:3], ctx), test.images[:3], owner)
        if not (
            _close(part.scores, pred.scores[:3], 1e-4)
            and _close(part.maps, None if pred.maps is None else pred.maps[:3], 1e-4)
        ):
            raise _fail(owner, "predictions of an image must not depend on the other images")
        passed.append("batch independence")

        # what the runner saves as model.pt: numpy arrays as tensors, the rest refused
        try:
            saved = loadable_state(model.state_dict(), owner)
        except MethodFailure as exc:
            raise AssertionError(str(exc)) from None
        buffer = io.BytesIO()
        torch.save(saved, buffer)
        buffer.seek(0)
        state = torch.load(buffer, map_location="cpu", weights_only=True)
        restored = cls(**params)
        restored.load_state_dict(state)
        with torch.inference_mode():
            back = _checked(restored.predict(test.images, ctx), test.images, owner)
        if not (_close(pred.scores, back.scores, 1e-4) and _close(pred.maps, back.maps, 1e-4)):
            raise _fail(owner, "a model restored from state_dict predicts differently")
        passed.append("save-load")

        n = model.num_parameters()
        if not isinstance(n, int) or n < 0:
            raise _fail(owner, f"num_parameters() must be a non-negative int, got {n!r}")
        passed.append("parameters")
    return passed


# -- datasets ------------------------------------------------------------------------------------


def check_dataset(
    cls: type[Dataset],
    *,
    options: Mapping[str, Any] | None = None,
    profile: str = "quick",
    workdir: Path | str | None = None,
) -> list[str]:
    """Load every split twice and check the data conventions; returns the passed checks."""
    owner = f"dataset '{getattr(cls, 'name', cls.__name__)}'"
    passed: list[str] = []
    if not (isinstance(cls, type) and issubclass(cls, Dataset)):
        raise _fail(owner, "must subclass anobench.Dataset")
    if not cls.name:
        raise _fail(owner, "class attribute 'name' is empty")
    if cls.primary_metric not in registry.names("metric"):
        raise _fail(owner, f"primary_metric {cls.primary_metric!r} is not a registered metric")
    _check_key_metrics(cls, owner)

    with _workdir(workdir) as root:
        # datasets whose data cannot ship generate a stand-in copy for the checks
        stand_in = cls.test_data(root / "test-data")
        overrides = {**dict(cls.test_options), **dict(stand_in), **dict(options or {})}
        params = cls.resolve(profile, overrides)
        dataset = cls(**params)
        fingerprint = dataset.fingerprint()
        if not isinstance(fingerprint, str) or not fingerprint:
            raise _fail(owner, "fingerprint() must return a non-empty string")
        if cls(**params).fingerprint() != fingerprint:
            raise _fail(owner, "fingerprint() must be stable for the same options")
        passed.append("declaration")

        ctx = make_context(root, seed=0)
        seen: set[str] = set()
        for name in SPLITS:
            split = dataset.load(name, ctx)
            check_split(split, owner, name)
            images = np.asarray(split.images)
            if np.asarray(split.labels).dtype != np.int8:
                raise _fail(owner, f"'{name}' labels must be int8")
            if images.min() < -1 - 1e-6 or images.max() > 1 + 1e-6:
                raise _fail(owner, f"'{name}' images must lie in [-1, 1]")
            if (split.masks is not None) != cls.has_masks:
                raise _fail(owner, f"'{name}' masks presence contradicts has_masks={cls.has_masks}")
            if split.masks is not None and split.masks[np.asarray(split.labels) == 0].any():
                raise _fail(owner, f"'{name}' healthy images must have empty masks")
            if seen & set(split.ids):
                raise _fail(owner, f"'{name}' shares image ids with another split")
            seen |= set(split.ids)
            again = cls(**params).load(name, make_context(root, seed=1))
            if again.ids != split.ids or not np.array_equal(np.asarray(again.images), images):
                raise _fail(
                    owner, f"'{name}' differs between two loads (or depends on the run seed)"
                )
        if len(np.unique(dataset.load("test", ctx).labels)) < 2:
            raise _fail(owner, "the test split needs both classes")
        passed += ["splits", "determinism", "disjoint ids"]
    return passed


def _check_key_metrics(cls: type[Dataset], owner: str) -> None:
    declared = cls.key_metrics
    if isinstance(declared, str) or not isinstance(declared, tuple | list):
        raise _fail(owner, f"key_metrics must be a tuple of metric names, not {declared!r}")
    known = registry.names("metric")
    for name in declared:
        if name not in known:
            close = difflib.get_close_matches(str(name), known, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise _fail(
                owner, f"key_metrics names {name!r}, which is not a registered metric{hint}"
            )


# -- metrics -------------------------------------------------------------------------------------


def check_metric(cls: type[Metric], *, seed: int = 0) -> list[str]:
    """Perfect predictions must score at least as well as random ones; edge cases must not crash."""
    owner = f"metric '{getattr(cls, 'name', cls.__name__)}'"
    passed: list[str] = []
    if not (isinstance(cls, type) and issubclass(cls, Metric)):
        raise _fail(owner, "must subclass anobench.Metric")
    if not cls.name or cls.level not in ("image", "pixel"):
        raise _fail(owner, "needs a name and level 'image' or 'pixel'")
    if cls.oracle and "oracle" not in cls.name:
        raise _fail(owner, "an oracle metric must say so in its name")
    short = cls.short_name
    if not isinstance(short, str) or len(short) > SHORT_NAME_MAX or short != short.strip():
        raise _fail(
            owner,
            f"short_name must be a string of at most {SHORT_NAME_MAX} characters, not {short!r}",
        )
    passed.append("declaration")

    rng = np.random.default_rng(seed)
    val_split = toy_split(10, 10, seed=seed + 10, name="val")
    test_split = toy_split(10, 10, seed=seed + 11, name="test")

    def perfect(split: Split) -> Predictions:
        # a perfect translator leaves healthy images alone; a perfect reconstruction is the input
        images = split.images
        return Predictions(
            scores=np.asarray(split.labels, dtype=np.float64),
            maps=split.masks.astype(np.float32),
            extras={"healthy_translation": images, "reconstruction": images},
        )

    def noisy(split: Split) -> Predictions:
        n, _, h, w = split.images.shape
        shape = split.images.shape
        extras = {
            "healthy_translation": rng.uniform(-1, 1, shape).astype(np.float32),
            "reconstruction": rng.uniform(-1, 1, shape).astype(np.float32),
        }
        return Predictions(
            scores=rng.random(n), maps=rng.random((n, h, w)).astype(np.float32), extras=extras
        )

    metric = cls()

    def value(test_pred: Predictions, val_pred: Predictions) -> MetricResult:
        result = metric.compute(Scored(test_pred, test_split), Scored(val_pred, val_split))
        if not isinstance(result, MetricResult):
            raise _fail(owner, f"compute() must return MetricResult, got {type(result).__name__}")
        if not isinstance(result.value, float):
            raise _fail(owner, "MetricResult.value must be a python float")
        if math.isnan(result.value) and not result.reason:
            raise _fail(owner, "an undefined (NaN) result must give a reason")
        return result

    images_before = test_split.images.copy()
    best = value(perfect(test_split), perfect(val_split))
    rand = value(noisy(test_split), noisy(val_split))
    if not np.array_equal(images_before, test_split.images):
        raise _fail(owner, "compute() must not modify its inputs")
    if not best.defined:
        raise _fail(owner, f"undefined on perfect predictions: {best.reason}")
    better: Callable[[float, float], bool] = (
        (lambda a, b: a >= b - 1e-12) if cls.higher_is_better else (lambda a, b: a <= b + 1e-12)
    )
    if rand.defined and not better(best.value, rand.value):
        raise _fail(
            owner, f"perfect predictions ({best.value}) score worse than random ({rand.value})"
        )
    passed.append("perfect beats random")

    repeat = value(perfect(test_split), perfect(val_split))
    if repeat.value != best.value:
        raise _fail(owner, "two computations on the same input differ")
    passed.append("determinism")

    no_maps = Predictions(scores=rng.random(len(test_split)), maps=None)
    one_class = test_split.subset(np.asarray(test_split.labels) == 0)
    for label, test, val in (
        ("no maps", Scored(no_maps, test_split), Scored(no_maps, val_split)),
        ("one class", Scored(perfect(one_class), one_class), Scored(perfect(val_split), val_split)),
        ("no validation", Scored(perfect(test_split), test_split), None),
    ):
        try:
            result = metric.compute(test, val)
        except Exception as exc:
            raise _fail(owner, f"crashed on the '{label}' edge case: {exc!r}") from exc
        if math.isnan(result.value) and not result.reason:
            raise _fail(owner, f"NaN without a reason on the '{label}' edge case")
    passed.append("edge cases")
    return passed


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
