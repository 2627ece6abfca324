from __future__ import annotations

import os

import pytest
import torch

from anobench.api import registry

from .distributions import TESTPLUGINS, activate, register_own_datasets, write_distribution

# tiny test models gain nothing from threads, and busy-waiting thread pools slow to a crawl
# when the machine is shared; one thread also makes CPU results bit-reproducible
torch.set_num_threads(1)
# runs made in this process (and in subprocesses of tests) keep that one thread
os.environ.setdefault("ANOBENCH_THREADS", "1")
# tables are drawn 200 characters wide when piped, unless COLUMNS says otherwise: tests that
# want a width set it themselves
os.environ.pop("COLUMNS", None)


@pytest.fixture(scope="session")
def testplugins_root(tmp_path_factory):
    return write_distribution(
        tmp_path_factory.mktemp("site"),
        "anobench-testplugins",
        TESTPLUGINS,
        modules=("anobench_testplugins.py", "anobench_brokenplugin.py"),
    )


@pytest.fixture
def testplugins(monkeypatch, testplugins_root):
    """The test-only plugins, visible to the registry for one test."""
    activate(monkeypatch, testplugins_root)
    yield testplugins_root
    registry.refresh()


@pytest.fixture
def home(tmp_path, monkeypatch):
    path = tmp_path / "home"
    monkeypatch.setenv("ANOBENCH_HOME", str(path))
    return path


@pytest.fixture
def own_datasets(monkeypatch, tmp_path_factory):
    """This repository's dataset plugins by name, even before its metadata lists them."""
    register_own_datasets(monkeypatch, tmp_path_factory.mktemp("own-datasets"))
    yield
    registry.refresh()


#: the anomalib models wired from anomalib's signatures whose every check takes from seconds to
#: minutes on 2 cores: wherever a test runs every registered method, their items carry the
#: ``anomalib_models`` marker, deselected by default (pyproject's pytest options); ``dfm``, the
#: quickest, stays in to keep the generated wiring covered
def _slow_generated_methods() -> frozenset[str]:
    try:
        import anobench_anomalib
    except ImportError:
        return frozenset()
    return frozenset(anobench_anomalib.METHODS) - {"dfm"}


def pytest_collection_modifyitems(config, items):
    import re

    slow = _slow_generated_methods()
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and slow & set(re.split(r"[:\-\[\]]", callspec.id)):
            item.add_marker(pytest.mark.anomalib_models)
