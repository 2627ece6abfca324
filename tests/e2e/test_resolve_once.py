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

    def counting(key, fn, by_kind=False):
        def wrapper(*args, **kwargs):
            seen[f"{key}:{args[0]}" if by_kind else key] += 1
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(registry, "get", counting("plugin", registry.get, by_kind=True))
    monkeypatch.setattr(OptionSet, "resolve", counting("options", OptionSet.resolve))
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
    result = invoke("--quiet", "run", "-m", "precise", "-d", "toy", "--metric", "image_auroc")
    assert result.exit_code == 0, result.output
    # on the code before the resolution was shared: dataset 7, method 6, metric 2, options 10,
    # device 5, precision 4
    assert counts["plugin:dataset"] == 1
    assert counts["plugin:method"] == 1
    assert counts["plugin:metric"] == 1
    assert counts["device"] == 1
    assert counts["precision"] == 1
    # each plugin's options: checked when the spec is built, by the plugin's one constructor
    # (a plugin checks what it is given), and its profile's defaults resolved once for the label
    assert counts["options"] == 2 * 3
