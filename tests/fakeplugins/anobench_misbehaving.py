"""Plugins that break their contract the ways users met: a test-only distribution."""

from __future__ import annotations

import sys

import numpy as np

from anobench import Method


class Exiting(Method):
    """Ends the process from fit, as a script's error handling might."""

    name = "exiting"

    def fit(self, train, val, ctx):
        sys.exit(3)


class DictPredict(Method):
    """Returns a dict of scores instead of ``anobench.Predictions``."""

    name = "dictpredict"

    def fit(self, train, val, ctx):
        return self

    def predict(self, images, ctx):
        return {"scores": np.zeros(len(images), dtype=np.float32)}

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


def not_a_class():
    """Registered as a method by mistake: a function, not a subclass of Method."""
