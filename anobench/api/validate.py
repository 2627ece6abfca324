"""Checks on what plugins hand back, so a broken plugin is named instead of corrupting results."""

from __future__ import annotations

import io
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch

from .errors import DataError, MethodFailure
from .records import Predictions, Split


def check_split(split: Split, owner: str, name: str) -> None:
    labels = np.asarray(split.labels)
    if len(split) == 0:
        raise DataError(f"{owner} returned an empty '{name}' split")
    if not np.isin(labels, (0, 1)).all():
        raise DataError(f"{owner}: '{name}' labels must be 0 (healthy) or 1 (diseased)")
    if split.images.dtype != np.float32:
        raise DataError(f"{owner}: '{name}' images must be float32, got {split.images.dtype}")
    if split.masks is not None and split.masks.dtype != bool:
        raise DataError(f"{owner}: '{name}' masks must be bool, got {split.masks.dtype}")
    if len(set(split.ids)) != len(split.ids):
        raise DataError(f"{owner}: '{name}' ids are not unique")


def check_predictions(pred: Predictions, images: np.ndarray, owner: str) -> Predictions:
    """Return the predictions as float arrays, or raise naming the plugin and the problem."""
    if not isinstance(pred, Predictions):
        raise MethodFailure(
            f"{owner}: predict() returned a {type(pred).__name__}; it must return"
            " anobench.Predictions(scores=..., maps=...) (scores: one per image; maps: None or"
            " one per image)"
        )
    n, _, h, w = images.shape
    scores = np.asarray(pred.scores, dtype=np.float64)
    if scores.shape != (n,):
        raise MethodFailure(f"{owner} returned scores of shape {scores.shape}, expected ({n},)")
    if not np.isfinite(scores).all():
        bad = int((~np.isfinite(scores)).sum())
        raise MethodFailure(f"{owner} returned {bad} NaN/inf image scores")
    maps = pred.maps
    if maps is not None:
        maps = np.asarray(maps, dtype=np.float32)
        if maps.shape != (n, h, w):
            raise MethodFailure(
                f"{owner} returned maps of shape {maps.shape}, expected {(n, h, w)} (one map per"
                " image, same size as the input)"
            )
        if not np.isfinite(maps).all():
            bad = int((~np.isfinite(maps)).sum())
            raise MethodFailure(f"{owner} returned anomaly maps with {bad} NaN/inf pixels")
    return Predictions(scores=scores, maps=maps, extras=pred.extras)


def loadable_state(state: Any, owner: str) -> Any:
    """A method's ``state_dict()`` as ``torch.load(weights_only=True)`` loads it back.

    Numpy arrays become tensors and numpy scalars Python numbers (at any depth of dicts, lists
    and tuples); anything else that the safe loader refuses raises ``MethodFailure`` in one
    line that names the key, so a run never finishes with a model that cannot be loaded.
    """
    converted = _to_torch(state, "state_dict", owner)
    try:
        _round_trip(converted)
    except Exception as exc:
        for where, value in _leaves(converted, "state_dict"):
            try:
                _round_trip(value)
            except Exception:
                raise MethodFailure(
                    f"{owner}: {where} ({_type_name(value)}) does not load with"
                    " torch.load(weights_only=True); store tensors, numbers, strings, or"
                    " dicts/lists of them"
                ) from None
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MethodFailure(
            f"{owner}: state_dict does not load with torch.load(weights_only=True): {first}"
        ) from None
    return converted


def _round_trip(value: Any) -> None:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    buffer.seek(0)
    torch.load(buffer, map_location="cpu", weights_only=True)


def _to_torch(value: Any, where: str, owner: str) -> Any:
    if isinstance(value, np.ndarray):
        try:
            return torch.from_numpy(np.ascontiguousarray(value))
        except TypeError:
            raise MethodFailure(
                f"{owner}: {where} holds a numpy array of dtype {value.dtype}, which has no"
                " tensor type; store numbers as a numeric array or a tensor"
            ) from None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        items = {k: _to_torch(v, f"{where}[{k!r}]", owner) for k, v in value.items()}
        return OrderedDict(items) if isinstance(value, OrderedDict) else items
    if type(value) in (list, tuple):
        return type(value)(_to_torch(v, f"{where}[{i}]", owner) for i, v in enumerate(value))
    return value


def _leaves(value: Any, where: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _leaves(v, f"{where}[{k!r}]")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from _leaves(v, f"{where}[{i}]")
    else:
        yield where, value


def _type_name(value: Any) -> str:
    cls = type(value)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"
