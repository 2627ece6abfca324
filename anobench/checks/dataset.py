"""The dataset contract: declaration, key metrics, a stable fingerprint, every split loaded
twice with the data conventions, ids disjoint across splits, both classes in test."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..api import registry
from ..api.interfaces import SPLITS, Dataset
from ..api.validate import check_split
from . import Check, Shared


def _fail(owner: str, rule: str) -> AssertionError:
    return AssertionError(f"{owner}: {rule}")


def dataset_checks(
    cls: type[Dataset],
    *,
    make_context: Callable[..., Any],
    toy_split: Callable[..., Any],
    options: Mapping[str, Any] | None = None,
    profile: str = "quick",
    workdir: Path | str | None = None,
) -> Iterator[Check]:
    """The checks of a dataset class; ``options`` override its test options and stand-in data."""
    owner = f"dataset '{getattr(cls, 'name', cls.__name__)}'"
    shared = Shared()

    def root() -> Path:
        return shared.folder(workdir)

    def params() -> dict[str, Any]:
        def make() -> dict[str, Any]:
            # datasets whose data cannot ship generate a stand-in copy for the checks
            stand_in = cls.test_data(root() / "test-data")
            overrides = {**dict(cls.test_options), **dict(stand_in), **dict(options or {})}
            return cls.resolve(profile, overrides)

        return shared.get("the stand-in data and options", make)

    def dataset() -> Dataset:
        return shared.get("the constructor", lambda: cls(**params()))

    def splits() -> dict[str, Any]:
        def make() -> dict[str, Any]:
            ctx = make_context(root(), seed=0)
            return {name: dataset().load(name, ctx) for name in SPLITS}

        return shared.get("loading the splits", make)

    def declaration() -> None:
        if not cls.name:
            raise _fail(owner, "class attribute 'name' is empty")

    def primary_metric() -> None:
        if cls.primary_metric not in registry.names("metric"):
            raise _fail(owner, f"primary_metric {cls.primary_metric!r} is not a registered metric")

    def key_metrics() -> None:
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

    def fingerprint() -> None:
        value = dataset().fingerprint()
        if not isinstance(value, str) or not value:
            raise _fail(owner, "fingerprint() must return a non-empty string")
        if cls(**params()).fingerprint() != value:
            raise _fail(owner, "fingerprint() must be stable for the same options")

    def conventions() -> None:
        for name, split in splits().items():
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

    def disjoint_ids() -> None:
        seen: set[str] = set()
        for name, split in splits().items():
            if seen & set(split.ids):
                raise _fail(owner, f"'{name}' shares image ids with another split")
            seen |= set(split.ids)

    def determinism() -> None:
        for name, split in splits().items():
            again = cls(**params()).load(name, make_context(root(), seed=1))
            same = again.ids == split.ids and np.array_equal(
                np.asarray(again.images), np.asarray(split.images)
            )
            if not same:
                raise _fail(
                    owner, f"'{name}' differs between two loads (or depends on the run seed)"
                )

    def both_classes() -> None:
        try:
            if len(np.unique(splits()["test"].labels)) < 2:
                raise _fail(owner, "the test split needs both classes")
        finally:  # the last check: let go of the loaded data and its folder
            shared.clear()

    for rule, run in (
        ("declaration", declaration),
        ("primary metric", primary_metric),
        ("key metrics", key_metrics),
        ("fingerprint", fingerprint),
        ("splits", conventions),
        ("disjoint ids", disjoint_ids),
        ("determinism", determinism),
        ("both classes in test", both_classes),
    ):
        yield Check(cls, "dataset", rule, run)
