"""Plugins that exist only for the tests, installed through a generated *.dist-info."""

from __future__ import annotations

import hashlib
import os
import signal

import numpy as np
import torch

from anobench import (
    Dataset,
    Method,
    Option,
    Predictions,
    channels_last_option,
    option_set,
    precision_option,
)
from anobench.testing import toy_split


class ToyDataset(Dataset):
    name = "toy"
    description = "bright discs on smooth backgrounds (tests only)"
    primary_metric = "pixel_ap"
    has_masks = True
    options = option_set(
        Option("n", int, 6, "images per class and split", minimum=2),
        Option("size", int, 16, "image side in pixels", minimum=8),
    )
    profiles = {"quick": {}, "paper": {"size": 32}}

    def load(self, split, ctx):
        offset = {"train": 0, "val": 100, "test": 200}[split]
        return toy_split(self.n, self.n, size=self.size, seed=offset, name=f"toy-{split}")

    def fingerprint(self):
        return hashlib.sha256(f"toy-{self.n}-{self.size}".encode()).hexdigest()[:16]


class Brightness(Method):
    """map = the image itself; a trained 'offset' learned by gradient steps so budgets apply."""

    name = "brightness"
    supervision = "unsupervised"
    options = option_set(Option("steps", int, 5, "training steps"))
    profiles = {"quick": {}, "paper": {"steps": 10}}
    test_options = {"steps": 2}

    def fit(self, train, val, ctx):
        offset = torch.zeros(1, requires_grad=True)
        opt = torch.optim.SGD([offset], lr=0.1)
        target = torch.from_numpy(np.asarray(train.images)).mean()
        start = 0
        state = ctx.resume()
        if state is not None:
            with torch.no_grad():
                offset.copy_(state["offset"])
            start = int(state["step"])
        interrupt_at = int(os.environ.get("TESTPLUGINS_INTERRUPT_AT", "0"))
        fail_at = int(os.environ.get("TESTPLUGINS_FAIL_AT", "0"))
        for step in range(start, ctx.budget.steps(self.steps)):
            if ctx.budget.expired(step):
                break
            if step == interrupt_at and interrupt_at:
                raise KeyboardInterrupt
            if step == fail_at and fail_at:
                raise RuntimeError(f"failed at step {step}")
            loss = (offset - target) ** 2
            opt.zero_grad()
            loss.backward()
            opt.step()
            ctx.log(step + 1, loss=loss.item())
            ctx.checkpoint({"offset": offset.detach(), "step": step + 1})
        self.offset_ = float(offset.detach())
        return self

    def predict(self, images, ctx):
        maps = np.asarray(images, dtype=np.float32).mean(axis=1) - self.offset_
        return Predictions(scores=maps.reshape(len(maps), -1).max(axis=1), maps=maps)

    def state_dict(self):
        return {"offset": torch.tensor([self.offset_])}

    def load_state_dict(self, state):
        self.offset_ = float(state["offset"][0])


class Failing(Brightness):
    name = "failing"

    def fit(self, train, val, ctx):
        raise RuntimeError("boom in fit")


class Crashing(Brightness):
    """Kills its own process, as the out-of-memory killer or a native crash would."""

    name = "crashing"

    def fit(self, train, val, ctx):
        os.kill(os.getpid(), signal.SIGKILL)


class NaNMaps(Brightness):
    name = "nanmaps"

    def predict(self, images, ctx):
        pred = super().predict(images, ctx)
        maps = pred.maps.copy()
        maps[0, 0, 0] = np.nan
        return Predictions(scores=pred.scores, maps=maps)


class BadShape(Brightness):
    name = "badshape"

    def predict(self, images, ctx):
        pred = super().predict(images, ctx)
        return Predictions(scores=pred.scores, maps=pred.maps[:, :-1])


class Diverging(Brightness):
    name = "diverging"

    def fit(self, train, val, ctx):
        ctx.log(1, loss=1.0)
        ctx.log(2, loss=float("nan"))
        return self


class LabelSpy(Brightness):
    """Fails unless the runner filtered training and fit-validation data to healthy images."""

    name = "labelspy"

    def fit(self, train, val, ctx):
        if np.asarray(train.labels).any() or np.asarray(val.labels).any():
            raise AssertionError("an unsupervised method was shown diseased images")
        return super().fit(train, val, ctx)


class WeakSpy(LabelSpy):
    name = "weakspy"
    supervision = "weak"

    def fit(self, train, val, ctx):
        if set(np.unique(train.labels)) != {0, 1}:
            raise AssertionError("a weakly supervised method needs both classes")
        return Brightness.fit(self, train, val, ctx)


class Precise(Brightness):
    """Declares a precision option: the runner resolves ``auto`` before constructing it."""

    name = "precise"
    options = option_set(
        Option("steps", int, 5, "training steps"), precision_option(), channels_last_option()
    )

    def fit(self, train, val, ctx):
        if "auto" in (self.precision, self.channels_last):
            raise AssertionError("the runner must resolve auto before fit")
        if ctx.precision.name != self.precision:
            raise AssertionError("the run context announces another precision")
        return super().fit(train, val, ctx)

    def predict(self, images, ctx):
        if "auto" in (self.precision, self.channels_last):
            raise AssertionError("predict and the checks must resolve auto before building me")
        if ctx is not None and ctx.precision.name != self.precision:
            raise AssertionError("the run context announces another precision")
        return super().predict(images, ctx)


class NumpyState(Brightness):
    """Keeps its learned state as numpy values: model.pt must still load with weights_only."""

    name = "numpystate"

    def state_dict(self):
        return {"offset": np.array([self.offset_], dtype=np.float32), "steps": np.int64(self.steps)}

    def load_state_dict(self, state):
        self.offset_ = float(np.asarray(state["offset"])[0])


class _Settings:
    """An object torch's safe loader refuses."""


class OpaqueState(Brightness):
    """Puts an arbitrary object into its state_dict: the run must fail, naming the key."""

    name = "opaquestate"

    def state_dict(self):
        return {"offset": torch.tensor([self.offset_]), "extra": {"settings": _Settings()}}
