"""The three plugin interfaces: Dataset, Method and Metric.

Plugins subclass these and are registered as entry points (``anobench.datasets``,
``anobench.methods``, ``anobench.metrics``). Constructors only store options (scikit-learn
style); learning happens in ``fit`` and learned attributes end in ``_``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from .context import RunContext
from .errors import ConfigError
from .options import OptionSet
from .records import MetricResult, Predictions, Scored, Split

SplitName = Literal["train", "val", "test"]
SPLITS: tuple[str, ...] = ("train", "val", "test")
#: the longest ``Metric.short_name``: narrow tables stay narrow (``check_metric`` enforces it)
SHORT_NAME_MAX = 12
#: the values of ``Metric.resample`` besides ``None``: how the leaderboard recomputes a pooled
#: metric on resampled test images (``image_*`` from the stored (score, label) pairs, ``pixel_*``
#: from per-image pixel histograms; ``*dice`` at the stored threshold, ``*_oracle`` re-searched)
RESAMPLE_RECIPES: tuple[str, ...] = (
    "image_auroc",
    "image_ap",
    "image_balanced_accuracy",
    "pixel_auroc",
    "pixel_ap",
    "pixel_dice",
    "pixel_dice_oracle",
)


class Configurable:
    """Shared by datasets and methods: typed options, named profiles, a stored configuration."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    options: ClassVar[OptionSet] = OptionSet()
    #: named option sets; ``quick`` (CPU) and ``paper`` (published settings) at least for methods.
    profiles: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    #: small option overrides that make the ``anobench.testing`` checks fast (tiny data, few steps)
    test_options: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, **params: Any) -> None:
        self.params = self.options.accept(params, owner=self.owner())
        for key, value in self.params.items():
            setattr(self, key, value)

    @classmethod
    def owner(cls) -> str:
        kind = "method" if issubclass(cls, Method) else "dataset"
        return f"{kind} '{cls.name or cls.__name__}'"

    @classmethod
    def profile_options(cls, profile: str) -> dict[str, Any]:
        """The option overrides of a profile; unknown profiles are a config error."""
        if not cls.profiles:
            return {}
        if profile not in cls.profiles:
            names = ", ".join(cls.profiles)
            raise ConfigError(f"{cls.owner()} has no profile '{profile}'; choose one of {names}")
        return dict(cls.profiles[profile])

    @classmethod
    def resolve(cls, profile: str, overrides: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults, then the profile, then explicit overrides; all type-checked."""
        merged = {**cls.profile_options(profile), **dict(overrides)}
        return cls.options.accept(merged, owner=cls.owner())

    def get_params(self) -> dict[str, Any]:
        return dict(self.params)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"


class Dataset(Configurable):
    """A source of train/val/test splits with image labels and, optionally, pixel masks."""

    #: the metric the leaderboard ranks by for this dataset
    primary_metric: ClassVar[str] = "image_auroc"
    #: the few metrics the terminal leaderboard shows by default (``--metric all`` shows every
    #: one), primary first or not; empty: the primary metric, image AUROC and pixel AUROC where
    #: the runs have them
    key_metrics: ClassVar[tuple[str, ...]] = ()
    has_masks: ClassVar[bool] = False
    #: options that say where the data are, not what they are (``root``, a list's path): a
    #: run is identified by ``fingerprint()`` instead, so the same data under another path (or
    #: named by an environment variable) are the same data. Kept in the run's spec to read.
    location_options: ClassVar[tuple[str, ...]] = ()
    #: what figures call label 0 and label 1 (a folder of normal/ and abnormal/ images says so)
    class_names: ClassVar[tuple[str, str]] = ("healthy", "diseased")

    def load(self, split: SplitName, ctx: RunContext) -> Split:
        raise NotImplementedError

    @classmethod
    def for_method(cls, options: dict[str, Any], supervision: str) -> dict[str, Any]:
        """The resolved options with what depends on the method decided: e.g. whether its
        training split holds abnormal images (``supervision``: ``unsupervised`` or ``weak``).
        Called once when a run is specified, so the stored spec (and the label) says what ran.
        Default: the options as they are."""
        return options

    def fingerprint(self) -> str:
        """A string that changes whenever the data this configuration yields changes, and only
        then: where the data are (``location_options``) must not change it. Called before every
        run (to find a finished one), so keep it cheap after its first call."""
        raise NotImplementedError

    def check(self) -> None:
        """Raise an ``AnobenchError`` naming the fix if this configuration cannot load at all.

        Cheap checks only (a folder or file that is missing): the runner calls it before it
        registers a run, so such a mistake leaves no failed run in the store. Default: nothing.
        """

    def unused_options(self) -> tuple[str, ...]:
        """Options whose value changes nothing for this data (e.g. split fractions where the
        data gives its own splits); called after ``check``, labels leave them out. Default:
        none."""
        return ()

    def preprocess(self, image: np.ndarray) -> np.ndarray:
        """One user image prepared like this dataset's own: ``[C, H, W]`` float32 in ``[-1, 1]``.

        ``image`` is a 2-D array of display intensities in ``[0, 1]`` (0 = black), any size, as
        ``anobench.api.imageio.read_image`` returns it (``anobench predict`` uses this). The default
        resizes to the ``image_size`` option (square, bilinear, antialiased) and maps ``[0, 1]``
        linearly to ``[-1, 1]`` as one channel; datasets that crop, equalise, normalise per image
        or have several channels override it.
        """
        size = self.params.get("image_size")
        if not isinstance(size, int):
            raise ConfigError(
                f"{self.owner()} has no integer 'image_size' option and does not define"
                " preprocess(), so anobench cannot prepare user images for it"
            )
        from PIL import Image

        pixels = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
        if pixels.ndim != 2:
            raise ConfigError(f"{self.owner()}: preprocess() needs a 2-D image, not {pixels.shape}")
        resized = Image.fromarray(pixels).resize((size, size), Image.Resampling.BILINEAR)
        out = np.asarray(resized, dtype=np.float32) * 2.0 - 1.0
        return np.clip(out, -1.0, 1.0)[None]

    @classmethod
    def test_data(cls, directory: Path) -> dict[str, Any]:
        """Option overrides pointing the contract checks at stand-in data made under ``directory``.

        For datasets whose real data cannot be shipped (licences, size): write a small fake copy
        in the real layout and return e.g. ``{"root": str(directory)}``. Default: none needed.
        """
        return {}


class Method(Configurable):
    """An anomaly detection / localisation method."""

    #: ``unsupervised``: trained on healthy images only; ``weak``: image labels of both classes.
    supervision: ClassVar[Literal["unsupervised", "weak"]] = "unsupervised"
    #: ``False`` for a method that computes on the CPU whatever the run's device (numpy): a
    #: cluster then runs it without reserving a GPU for it
    uses_gpu: ClassVar[bool] = True

    def check(self) -> None:
        """Raise an ``AnobenchError`` naming the fix if these option values cannot work.

        Checks that need no data (a weights file that is missing, a backbone that does not
        exist, two options that exclude each other): the runner calls it before it registers a
        run, so such a mistake costs no data loading and leaves no failed run. Default: nothing.
        """

    def fit(self, train: Split, val: Split, ctx: RunContext) -> Method:
        raise NotImplementedError

    def predict(self, images: np.ndarray, ctx: RunContext) -> Predictions:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """Learned state (tensors, arrays, numbers); must load with ``weights_only=True``."""
        raise NotImplementedError

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def num_parameters(self) -> int:
        """Number of learned values; by default counted from ``state_dict``."""
        total = 0
        for value in _flatten(self.state_dict()):
            if hasattr(value, "shape"):
                total += int(np.prod(value.shape))
        return total


def _flatten(obj: Any) -> list[Any]:
    if isinstance(obj, Mapping):
        return [x for v in obj.values() for x in _flatten(v)]
    if isinstance(obj, list | tuple):
        return [x for v in obj for x in _flatten(v)]
    return [obj]


class Metric:
    """A number computed from predictions on the test split (and, for thresholds, on val)."""

    name: ClassVar[str] = ""
    #: a column header for narrow tables, at most 12 characters (``pAUROC``, ``Dice@val``);
    #: empty: one derived from ``name``. A legend under the table maps it back to ``name``.
    short_name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    level: ClassVar[Literal["image", "pixel"]] = "image"
    higher_is_better: ClassVar[bool] = True
    needs_masks: ClassVar[bool] = False
    #: True when a threshold is chosen on the validation predictions.
    needs_val: ClassVar[bool] = False
    #: True when the metric looks at the test labels to choose something (upper bound, not fair).
    oracle: ClassVar[bool] = False
    #: How the leaderboard recomputes the metric on resampled test images for its intervals:
    #: one of ``RESAMPLE_RECIPES`` (pooled metrics such as ``"pixel_ap"``), or ``None`` when the
    #: value is the mean of the per-image values (resampled directly). A metric with neither gets
    #: no interval.
    resample: ClassVar[str | None] = None

    def compute(self, test: Scored, val: Scored | None = None) -> MetricResult:
        raise NotImplementedError
