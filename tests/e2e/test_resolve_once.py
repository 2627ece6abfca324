"""One in-process ``anobench run`` resolves each value once: the plugin classes, the options,
the device and the precision (counted by wrapping the functions that do it)."""

from __future__ import annotations

import sys
from collections import Counter

import pytest

from anobench.api import hardware, registry
from anobench.api.options import OptionSet
from anobench.run import devices


@pytest.fixture
def counts(monkeypatch):
    seen: Counter[str] = Counter()

    def counting(key, fn, by_kind=False, by_owner=False):
        def wrapper(*args, **kwargs):
            seen[f"{key}:{args[0]}" if by_kind else key] += 1
            if by_owner:
                seen[f"{key}:{args[2] if len(args) > 2 else kwargs['owner']}"] += 1
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(registry, "get", counting("plugin", registry.get, by_kind=True))
    monkeypatch.setattr(OptionSet, "resolve", counting("options", OptionSet.resolve, by_owner=True))
    monkeypatch.setattr(
        hardware, "resolve_precision", counting("precision", hardware.resolve_precision)
    )
    # every module that imported the device resolution by name
    original = devices.resolve_device
    wrapped = counting("device", original)
    for name, module in list(sys.modules.items()):
        if name.startswith("anobench") and getattr(module, "resolve_device", None) is original:
            monkeypatch.setattr(module, "resolve_device", wrapped)
    return seen


def test_one_run_resolves_plugins_options_device_and_precision_once(invoke, testplugins, counts):
    for kind, name in (("dataset", "toy"), ("method", "precise")):
        # what an earlier test in this process checked is remembered: start from nothing
        registry.get(kind, name).options._checked.clear()
    counts.clear()
    result = invoke("--quiet", "run", "-m", "precise", "-d", "toy", "--metric", "image_auroc")
    assert result.exit_code == 0, result.output
    # on the code before the resolution was shared: dataset 7, method 6, metric 2, options 10,
    # device 5, precision 4
    assert counts["plugin:dataset"] == 1
    assert counts["plugin:method"] == 1
    assert counts["plugin:metric"] == 1
    assert counts["device"] == 1
    assert counts["precision"] == 1
    # each plugin's options, checked when the spec is built; the constructors (the data found,
    # the method checked, the run's own instances) and the label's profile defaults reuse that.
    # On the code before: 4 each (spec, registration, label, the run's instances)
    assert counts["options:dataset 'toy'"] == 1
    assert counts["options:method 'precise'"] == 1
    assert counts["options"] == 2


def test_predict_and_the_checks_build_methods_with_auto_resolved(
    invoke, testplugins, home, tmp_path
):
    """The test plugin ``precise`` refuses ``auto`` and a context of another precision."""
    import json

    import numpy as np
    from PIL import Image

    from anobench.testing import checks, run_checks

    tiny = ["image_size=32", "n_train=10", "n_val=4", "n_test=6"]
    options = [arg for opt in tiny for arg in ("--dataset-opt", opt)]
    run = invoke("--quiet", "run", "-m", "precise", "-d", "synthetic", *options, "--format", "json")
    assert run.exit_code == 0, run.output
    run_id = json.loads(run.stdout)["run_id"]
    Image.fromarray(np.full((32, 32), 128, np.uint8)).save(tmp_path / "a.png")
    out = invoke("predict", "--run", run_id, str(tmp_path / "a.png"), "-o", str(tmp_path / "o"))
    assert out.exit_code == 0, out.output
    run_checks(checks(registry.get("method", "precise"), workdir=tmp_path / "checks"))
