"""The method contract: declaration, constructor, fit and predict on toy data, the step budget,
determinism, batch independence, save and load, the parameter count."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..api.errors import MethodFailure
from ..api.interfaces import Method
from ..api.records import Predictions, training_split
from ..api.resolve import MethodSetup, method_setup
from ..api.validate import check_predictions, loadable_state
from . import Check, Shared

#: step budget every method must honour under the checks
CHECK_MAX_STEPS = 3


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


def method_checks(
    cls: type[Method],
    *,
    make_context: Callable[..., Any],
    toy_split: Callable[..., Any],
    options: Mapping[str, Any] | None = None,
    workdir: Path | str | None = None,
    seed: int = 0,
    size: int = 32,
    atol: float = 1e-5,
) -> Iterator[Check]:
    """The checks of a method class; ``options`` override its ``test_options``."""
    owner = f"method '{getattr(cls, 'name', cls.__name__)}'"
    shared = Shared()

    def root() -> Path:
        return shared.folder(workdir)

    def setup() -> MethodSetup:
        # built as the runner builds it: ``auto`` resolved for the checks' device (the CPU)
        def make() -> MethodSetup:
            chosen = cls.resolve("quick", {**dict(cls.test_options), **dict(options or {})})
            return method_setup(cls, chosen, "cpu")

        return shared.get("options", make)

    def params() -> dict[str, Any]:
        return setup().options

    def data() -> tuple[Any, Any, Any]:
        def make() -> tuple[Any, Any, Any]:
            train = toy_split(8, 8, size=size, seed=seed + 1, name="train")
            val = toy_split(4, 4, size=size, seed=seed + 2, name="val")
            test = toy_split(4, 4, size=size, seed=seed + 3, name="test")
            return (
                training_split(train, cls.supervision, owner),
                training_split(val, cls.supervision, owner),
                test,
            )

        return shared.get("toy data", make)

    def fit_predict(name: str) -> tuple[Method, Any, Predictions]:
        def make() -> tuple[Method, Any, Predictions]:
            train, val, test = data()
            ctx = make_context(
                root() / name, seed, max_steps=CHECK_MAX_STEPS, precision=setup().precision
            )
            model = cls(**params())
            if model.fit(train, val, ctx) is not model:
                raise _fail(owner, "fit() must return self")
            with torch.inference_mode():
                pred = _checked(model.predict(test.images, ctx), test.images, owner)
            return model, ctx, pred

        return shared.get(f"the {name} fit", make)

    def declaration() -> None:
        if not cls.name:
            raise _fail(owner, "class attribute 'name' is empty")
        if cls.supervision not in ("unsupervised", "weak"):
            raise _fail(
                owner, f"supervision must be 'unsupervised' or 'weak', not {cls.supervision!r}"
            )

    def profiles() -> None:
        for profile in ("quick", "paper"):
            if profile not in cls.profiles:
                raise _fail(owner, f"needs a '{profile}' profile (has {list(cls.profiles)})")
            cls.resolve(profile, {})

    def constructor() -> None:
        method = cls(**params())
        if method.get_params() != params():
            raise _fail(owner, "the constructor must store its options unchanged (get_params)")
        learned = [a for a in vars(method) if a.endswith("_") and not a.startswith("_")]
        if learned:
            raise _fail(owner, f"the constructor must not learn; it set {learned}")

    def healthy_training() -> None:
        train, _, _ = data()
        if cls.supervision == "unsupervised" and np.asarray(train.labels).any():
            raise _fail(owner, "unsupervised methods must only see healthy training images")

    def shapes() -> None:
        fit_predict("first")

    def budget() -> None:
        _, ctx, _ = fit_predict("first")
        steps = [row["step"] for row in ctx.history]
        if steps and max(steps) > CHECK_MAX_STEPS:
            raise _fail(
                owner, f"ignored the step budget: logged step {max(steps)} > {CHECK_MAX_STEPS}"
            )

    def determinism() -> None:
        _, _, pred = fit_predict("first")
        _, _, again = fit_predict("second")
        if not (_close(pred.scores, again.scores, atol) and _close(pred.maps, again.maps, atol)):
            raise _fail(owner, f"two fits with seed {seed} gave different predictions")

    def batch_independence() -> None:
        model, ctx, pred = fit_predict("first")
        images = data()[2].images[:3]
        with torch.inference_mode():
            part = _checked(model.predict(images, ctx), images, owner)
        if not (
            _close(part.scores, pred.scores[:3], 1e-4)
            and _close(part.maps, None if pred.maps is None else pred.maps[:3], 1e-4)
        ):
            raise _fail(owner, "predictions of an image must not depend on the other images")

    def save_load() -> None:
        model, ctx, pred = fit_predict("first")
        # what the runner saves as model.pt: numpy arrays as tensors, the rest refused
        try:
            saved = loadable_state(model.state_dict(), owner)
        except MethodFailure as exc:
            raise AssertionError(str(exc)) from None
        buffer = io.BytesIO()
        torch.save(saved, buffer)
        buffer.seek(0)
        state = torch.load(buffer, map_location="cpu", weights_only=True)
        restored = cls(**params())
        restored.load_state_dict(state)
        images = data()[2].images
        with torch.inference_mode():
            back = _checked(restored.predict(images, ctx), images, owner)
        if not (_close(pred.scores, back.scores, 1e-4) and _close(pred.maps, back.maps, 1e-4)):
            raise _fail(owner, "a model restored from state_dict predicts differently")

    def parameters() -> None:
        try:
            model, _, _ = fit_predict("first")
            n = model.num_parameters()
            if not isinstance(n, int) or n < 0:
                raise _fail(owner, f"num_parameters() must be a non-negative int, got {n!r}")
        finally:  # the last check: let go of the fitted models and their folder
            shared.clear()

    for rule, run in (
        ("declaration", declaration),
        ("profiles", profiles),
        ("constructor", constructor),
        ("healthy training", healthy_training),
        ("fit-predict shapes", shapes),
        ("budget", budget),
        ("determinism", determinism),
        ("batch independence", batch_independence),
        ("save-load", save_load),
        ("parameters", parameters),
    ):
        yield Check(cls, "method", rule, run)
