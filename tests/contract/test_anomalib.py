"""The anomalib bridge: every bridged model passes the method contract at 32 px, random weights.

These run whether or not the entry points are installed (the classes are imported directly):
a model registered as an entry point has each rule run by ``tests/contract/test_plugins.py``
(one item per rule), so here only its rules are listed; an unregistered one runs them here.
CI installs the ``anomalib`` extra through ``[dev]``, so they are never skipped there.
"""

from __future__ import annotations

import sys
from pathlib import Path

import anobench_anomalib
import pytest

from anobench.api import registry
from anobench.api.errors import AnobenchError
from anobench.testing import check_method, checks

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

BRIDGED = {
    "patchcore": "PatchCore",
    "padim": "PaDiM",
    "stfpm": "STFPM",
    "reverse_distillation": "ReverseDistillation",
    "fastflow": "FastFlow",
    "draem": "DRAEM",
    "ganomaly": "GANomaly",
}


#: the rules that must apply to every bridged model (none may be left out as not applicable)
RULES = {"determinism", "save-load", "batch independence", "budget"}


def _contract(cls, tmp_path) -> None:
    assert {check.rule for check in checks(cls, workdir=tmp_path)} >= RULES
    try:
        registered = registry.get("method", cls.name) is cls
    except AnobenchError:  # not installed as an entry point
        registered = False
    if not registered:  # else test_plugins.py runs every rule of it, once
        assert set(check_method(cls, workdir=tmp_path)) >= RULES


@pytest.mark.parametrize("name", list(BRIDGED))
def test_bridged_method_contract(name, tmp_path):
    cls = getattr(anobench_anomalib, BRIDGED[name])
    assert cls.name == name
    _contract(cls, tmp_path)


#: the generated models whose contract checks CI runs (a few seconds each); the others are
#: marked ``anomalib_models`` and run with ``pytest -m anomalib_models`` (minutes on 2 cores)
IN_CI = {"dfm"}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=() if n in IN_CI else pytest.mark.anomalib_models)
        for n in anobench_anomalib.METHODS
    ],
)
def test_generated_method_contract(name, tmp_path):
    cls = anobench_anomalib.METHODS[name]
    assert cls.name == name
    _contract(cls, tmp_path)


def test_the_entry_points_name_every_bridged_class():
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    methods = project["project"]["entry-points"]["anobench.methods"]
    ours = {k: v for k, v in methods.items() if v.startswith("anobench_anomalib:")}
    generated = {k: v.__name__ for k, v in anobench_anomalib.METHODS.items()}
    assert ours == {k: f"anobench_anomalib:{v}" for k, v in {**BRIDGED, **generated}.items()}


def test_patchcore_draws_no_bar_of_its_own(tmp_path, capfd):
    from anobench.testing import make_context, toy_split

    train = toy_split(4, 0, size=32, seed=0)
    options = {**anobench_anomalib.PatchCore.test_options, "backbone_weights": "none"}
    anobench_anomalib.PatchCore(**options).fit(train, train, make_context(tmp_path))
    assert "Selecting Coreset" not in capfd.readouterr().err


def test_a_run_prints_no_future_warnings_of_anomalib_or_timm(tmp_path):
    """#24: every anomalib run and ``predict`` printed timm's and anomalib's FutureWarnings."""
    import subprocess

    script = (
        "import sys, anobench_anomalib as a\n"
        "from anobench.testing import make_context, toy_split\n"
        "split = toy_split(4, 0, size=32, seed=0)\n"
        "m = a.PaDiM(**a.PaDiM.test_options).fit(split, split, make_context(sys.argv[1]))\n"
        "m.predict(split.images, make_context(sys.argv[1]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "default", "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr, done.stderr
