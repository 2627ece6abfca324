"""The resume command printed after an interruption works as printed (issue 24, item 9)."""

from __future__ import annotations

import json
import shlex

from click.testing import CliRunner

from anobench.cli import cli


def _hint(stderr: str) -> list[str]:
    line = next(line for line in stderr.splitlines() if "resume it" in line)
    return shlex.split(line.split("with:", 1)[1])


def test_the_printed_resume_command_names_a_home_that_is_not_the_default(
    testplugins, tmp_path, monkeypatch
):
    monkeypatch.delenv("ANOBENCH_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "my home"
    runner = CliRunner()
    monkeypatch.setenv("TESTPLUGINS_INTERRUPT_AT", "2")
    args = ["--home", str(home), "-q", "run", "-m", "brightness", "-d", "toy"]
    stopped = runner.invoke(cli, args)
    assert stopped.exit_code == 130
    command = _hint(stopped.stderr)
    assert command[:3] == ["anobench", "--home", str(home)]
    monkeypatch.delenv("TESTPLUGINS_INTERRUPT_AT")
    # run exactly as printed, from the same folder
    resumed = runner.invoke(cli, [*command[1:], "--format", "json"])
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["status"] == "finished"


def test_the_default_home_is_not_repeated(testplugins, tmp_path, monkeypatch):
    monkeypatch.delenv("ANOBENCH_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TESTPLUGINS_INTERRUPT_AT", "2")
    stopped = CliRunner().invoke(cli, ["-q", "run", "-m", "brightness", "-d", "toy"])
    assert stopped.exit_code == 130
    assert _hint(stopped.stderr)[:3] == ["anobench", "run", "--resume"]
