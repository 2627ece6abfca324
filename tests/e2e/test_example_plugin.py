"""The example third-party plugin, found only through its own distribution's entry point."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from anobench.api import registry
from anobench.cli import cli
from anobench.testing import check_method

from ..distributions import activate, write_distribution

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "anobench-example-plugin"


def test_example_plugin_is_discovered_checked_and_runs(tmp_path, monkeypatch, testplugins, home):
    try:
        site = write_distribution(
            tmp_path / "site",
            "anobench-example-plugin",
            {"anobench.methods": {"mediandiff": "anobench_example:MedianDiff"}},
        )
        monkeypatch.syspath_prepend(str(EXAMPLE))
        activate(monkeypatch, site)
        info = registry.info("method", "mediandiff")
        assert info.distribution == "anobench-example-plugin"
        assert "save-load" in check_method(info.load(), workdir=tmp_path / "check")

        result = CliRunner().invoke(
            cli,
            [
                "--home",
                str(home),
                "-q",
                "run",
                "-m",
                "mediandiff",
                "-d",
                "toy",
                "--format",
                "json",
                "--method-opt",
                "sigma=0.5",
            ],
        )
        assert result.exit_code == 0, result.output
        record = json.loads(result.stdout)
        assert record["status"] == "finished"
        assert record["spec"]["method_options"]["sigma"] == 0.5
        assert (
            record["provenance"]["plugins"]["method"]["distribution"] == "anobench-example-plugin"
        )
    finally:
        registry.refresh()  # forget the example's entry point even when an assert fails
