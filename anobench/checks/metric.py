"""The metric contract: declaration, perfect predictions score at least as well as random ones,
inputs untouched, determinism, no crash on the edge cases."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..api.interfaces import RESAMPLE_RECIPES, SHORT_NAME_MAX, Metric
from ..api.records import MetricResult, Predictions, Scored, Split
from . import Check, Shared


def _fail(owner: str, rule: str) -> AssertionError:
    return AssertionError(f"{owner}: {rule}")


def metric_checks(
    cls: type[Metric],
    *,
    make_context: Callable[..., Any],
    toy_split: Callable[..., Any],
    seed: int = 0,
) -> Iterator[Check]:
    """The checks of a metric class on toy predictions drawn with ``seed``."""
    owner = f"metric '{getattr(cls, 'name', cls.__name__)}'"
    shared = Shared()

    def toys() -> tuple[Split, Split]:
        return shared.get(
            "toy data",
            lambda: (
                toy_split(10, 10, seed=seed + 10, name="val"),
                toy_split(10, 10, seed=seed + 11, name="test"),
            ),
        )

    def perfect(split: Split) -> Predictions:
        # a perfect translator leaves healthy images alone; a perfect reconstruction is the input
        images = split.images
        return Predictions(
            scores=np.asarray(split.labels, dtype=np.float64),
            maps=split.masks.astype(np.float32),
            extras={"healthy_translation": images, "reconstruction": images},
        )

    def noisy(split: Split, rng: np.random.Generator) -> Predictions:
        n, _, h, w = split.images.shape
        shape = split.images.shape
        extras = {
            "healthy_translation": rng.uniform(-1, 1, shape).astype(np.float32),
            "reconstruction": rng.uniform(-1, 1, shape).astype(np.float32),
        }
        return Predictions(
            scores=rng.random(n), maps=rng.random((n, h, w)).astype(np.float32), extras=extras
        )

    def value(test_pred: Predictions, val_pred: Predictions) -> MetricResult:
        val_split, test_split = toys()
        result = cls().compute(Scored(test_pred, test_split), Scored(val_pred, val_split))
        if not isinstance(result, MetricResult):
            raise _fail(owner, f"compute() must return MetricResult, got {type(result).__name__}")
        if not isinstance(result.value, float):
            raise _fail(owner, "MetricResult.value must be a python float")
        if math.isnan(result.value) and not result.reason:
            raise _fail(owner, "an undefined (NaN) result must give a reason")
        return result

    def best() -> MetricResult:
        val_split, test_split = toys()
        return shared.get(
            "perfect predictions", lambda: value(perfect(test_split), perfect(val_split))
        )

    def declaration() -> None:
        if not cls.name or cls.level not in ("image", "pixel"):
            raise _fail(owner, "needs a name and level 'image' or 'pixel'")
        if cls.oracle and "oracle" not in cls.name:
            raise _fail(owner, "an oracle metric must say so in its name")

    def short_name() -> None:
        short = cls.short_name
        if not isinstance(short, str) or len(short) > SHORT_NAME_MAX or short != short.strip():
            raise _fail(
                owner,
                f"short_name must be a string of at most {SHORT_NAME_MAX} characters,"
                f" not {short!r}",
            )

    def resample() -> None:
        if cls.resample is not None and cls.resample not in RESAMPLE_RECIPES:
            raise _fail(
                owner,
                f"resample must be None or one of {', '.join(RESAMPLE_RECIPES)},"
                f" not {cls.resample!r}",
            )

    def perfect_beats_random() -> None:
        val_split, test_split = toys()
        rng = np.random.default_rng(seed)
        rand = value(noisy(test_split, rng), noisy(val_split, rng))
        top = best()
        if not top.defined:
            raise _fail(owner, f"undefined on perfect predictions: {top.reason}")
        better: Callable[[float, float], bool] = (
            (lambda a, b: a >= b - 1e-12) if cls.higher_is_better else (lambda a, b: a <= b + 1e-12)
        )
        if rand.defined and not better(top.value, rand.value):
            raise _fail(
                owner, f"perfect predictions ({top.value}) score worse than random ({rand.value})"
            )

    def inputs_untouched() -> None:
        val_split, test_split = toys()
        before = test_split.images.copy(), val_split.images.copy()
        value(perfect(test_split), perfect(val_split))
        if not (
            np.array_equal(before[0], test_split.images)
            and np.array_equal(before[1], val_split.images)
        ):
            raise _fail(owner, "compute() must not modify its inputs")

    def determinism() -> None:
        val_split, test_split = toys()
        again = value(perfect(test_split), perfect(val_split))
        if not (
            again.value == best().value
            or (math.isnan(again.value) and best().value != best().value)
        ):
            raise _fail(owner, "two computations on the same input differ")

    def edge_case(
        label: str, make: Callable[[], tuple[Scored, Scored | None]]
    ) -> Callable[[], None]:
        def run() -> None:
            test, val = make()
            try:
                result = cls().compute(test, val)
            except Exception as exc:
                raise _fail(owner, f"crashed on the '{label}' edge case: {exc!r}") from exc
            if math.isnan(result.value) and not result.reason:
                raise _fail(owner, f"NaN without a reason on the '{label}' edge case")

        return run

    def no_maps() -> tuple[Scored, Scored | None]:
        val_split, test_split = toys()
        rng = np.random.default_rng(seed + 1)
        pred = Predictions(scores=rng.random(len(test_split)), maps=None)
        return Scored(pred, test_split), Scored(pred, val_split)

    def one_class() -> tuple[Scored, Scored | None]:
        val_split, test_split = toys()
        healthy = test_split.subset(np.asarray(test_split.labels) == 0)
        return Scored(perfect(healthy), healthy), Scored(perfect(val_split), val_split)

    def no_validation() -> tuple[Scored, Scored | None]:
        _, test_split = toys()
        return Scored(perfect(test_split), test_split), None

    rules: tuple[tuple[str, Callable[[], Any]], ...] = (
        ("declaration", declaration),
        ("short name", short_name),
        ("resample", resample),
        ("perfect beats random", perfect_beats_random),
        ("inputs untouched", inputs_untouched),
        ("determinism", determinism),
        ("edge case no maps", edge_case("no maps", no_maps)),
        ("edge case one class", edge_case("one class", one_class)),
        ("edge case no validation", edge_case("no validation", no_validation)),
    )
    for rule, run in rules:
        yield Check(cls, "metric", rule, run)
