"""dae, ddpm_guided and anoddpm without MONAI: listed as needing the ``diffusion`` extra, and a
run says which extra to install (one line, exit 2). The entry points are those pyproject.toml
declares, installed as a test distribution named ``anobench``, so the pip line is the real one."""

from __future__ import annotations

import json
import sys
from importlib import metadata
from pathlib import Path

import pytest
from click.testing import CliRunner

from anobench.api import registry
from anobench.cli import cli

from ..distributions import activate, write_distribution
from .conftest import one_line_error

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

METHODS = ("dae", "ddpm_guided", "anoddpm")


@pytest.fixture
def without_monai(tmp_path, monkeypatch):
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    groups: dict[str, dict[str, str]] = {}
    for ep in metadata.distribution("anobench").entry_points:
        groups.setdefault(ep.group, {})[ep.name] = ep.value
    for group, eps in project["project"]["entry-points"].items():
        groups.setdefault(group, {}).update(eps)
    root = write_distribution(
        tmp_path / "site", "anobench", groups, version=metadata.version("anobench")
    )
    activate(monkeypatch, root)
    # a None entry makes ``import monai`` fail and find_spec report it missing
    monkeypatch.setitem(sys.modules, "monai", None)
    for name in ("anobench_dae", "anobench_diffusion"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    registry.refresh()
    yield
    registry.refresh()


def test_list_shows_the_methods_as_needing_the_diffusion_extra(without_monai):
    result = CliRunner().invoke(cli, ["list", "--kind", "method", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    for name in METHODS:
        assert rows[name]["status"] == "needs-extra"
        assert 'pip install "anobench[diffusion]"' in rows[name]["error"]
    assert rows["meandiff"]["status"] == "ok"


@pytest.mark.parametrize("name", METHODS)
def test_running_one_without_the_extra_names_the_extra(without_monai, home, name):
    result = CliRunner().invoke(
        cli,
        ["--home", str(home), "run", "-m", name, "-d", "synthetic",
         "--dataset-opt", "image_size=32"],
    )  # fmt: skip
    one_line_error(result, f"method '{name}'", 'pip install "anobench[diffusion]"')
