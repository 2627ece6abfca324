"""Shared helpers of the CLI tests: an ``invoke`` bound to the test's home, one-line errors."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from anobench.cli import cli


@pytest.fixture
def invoke(home):
    runner = CliRunner()

    def _invoke(*args: str):
        return runner.invoke(cli, ["--home", str(home), *args], catch_exceptions=False)

    return _invoke


def one_line_error(result, *fragments: str) -> None:
    """Exit code 2, exactly one ``error:`` line naming every fragment, no traceback."""
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
