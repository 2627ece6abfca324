"""The run-level GPU settings from the command line's side."""

from __future__ import annotations

import json

import pytest

from anobench.api.seeding import seed_everything

from .conftest import one_line_error


@pytest.fixture(autouse=True)
def default_mode_after(monkeypatch):
    yield
    monkeypatch.delenv("ANOBENCH_DETERMINISTIC", raising=False)
    seed_everything(0)  # the process-wide switches back to the default for later tests


def test_a_bad_deterministic_mode_is_one_line_and_stores_nothing(invoke, testplugins, monkeypatch):
    monkeypatch.setenv("ANOBENCH_DETERMINISTIC", "sometimes")
    result = invoke("run", "-m", "brightness", "-d", "toy")
    one_line_error(result, "ANOBENCH_DETERMINISTIC='sometimes'", "warn, strict, off")
    monkeypatch.setenv("ANOBENCH_DETERMINISTIC", "strict")
    assert invoke("run", "-m", "brightness", "-d", "toy").exit_code == 0
    (run,) = json.loads(invoke("show", "--format", "json").stdout)
    assert run["provenance"]["deterministic"] == "strict"
