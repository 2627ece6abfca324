"""A finished run's model.pt loads with torch.load(weights_only=True), as anobench predict loads
it; check_method holds a method to the same rule, in one line that names the key."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch

from anobench import MethodFailure
from anobench.api import registry
from anobench.api.validate import loadable_state
from anobench.results.store import Store
from anobench.run.runner import Runner, build_spec
from anobench.testing import check_method


def run(home, method):
    return Runner(home).run(build_spec(dataset="toy", method=method, device="cpu"))


def test_numpy_state_is_saved_as_tensors_that_load_safely(testplugins, tmp_path):
    record = run(tmp_path, "numpystate")
    assert record.status == "finished"
    state = torch.load(tmp_path / "runs" / record.run_id / "model.pt", weights_only=True)
    assert isinstance(state["offset"], torch.Tensor) and state["steps"] == 5
    restored = registry.get("method", "numpystate")(steps=5)
    restored.load_state_dict(state)
    assert restored.offset_ == pytest.approx(float(state["offset"][0]))


def test_a_state_that_cannot_load_fails_the_run_naming_the_key(testplugins, tmp_path):
    with pytest.raises(MethodFailure) as caught:
        run(tmp_path, "opaquestate")
    message = str(caught.value)
    assert "\n" not in message
    assert "state_dict['extra']['settings']" in message and "weights_only=True" in message
    (stored,) = Store(tmp_path / "store.sqlite").runs()
    assert stored.status == "failed" and "state_dict['extra']['settings']" in stored.error


def test_check_method_accepts_numpy_state_and_names_the_key_it_cannot_load(testplugins, tmp_path):
    assert "save-load" in check_method(registry.get("method", "numpystate"), workdir=tmp_path)
    with pytest.raises(AssertionError) as caught:
        check_method(registry.get("method", "opaquestate"), workdir=tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("method 'opaquestate': state_dict['extra']['settings']")


def test_loadable_state_converts_numpy_at_any_depth():
    state = OrderedDict(
        w=np.ones((2, 2), dtype=np.float32)[:, ::-1],  # not contiguous
        nested={"n": np.int64(3), "xs": [np.zeros(2), 1.5], "pair": (np.float32(2), "a")},
        t=torch.ones(1),
    )
    out = loadable_state(state, "method 'x'")
    assert isinstance(out, OrderedDict) and isinstance(out["w"], torch.Tensor)
    assert out["nested"]["n"] == 3 and type(out["nested"]["n"]) is int
    assert isinstance(out["nested"]["xs"][0], torch.Tensor) and out["nested"]["pair"][1] == "a"
    with pytest.raises(MethodFailure, match=r"state_dict\['names'\].*dtype <U1"):
        loadable_state({"names": np.array(["a", "b"])}, "method 'x'")
