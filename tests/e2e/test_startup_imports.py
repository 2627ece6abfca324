"""Commands that only look answer at once: ``--help``, ``list``, ``show`` and ``leaderboard``
never import torch (about 2 s of CPU before anything is printed), and neither does loading a
built-in plugin's entry point (``list`` reads their options and profiles).

Each check runs in a fresh interpreter, since this one imported torch long ago."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: imported only by the commands that train, predict or draw
HEAVY = ("torch", "torchvision", "timm", "matplotlib", "ray", "sklearn")
#: what the leaderboard needs for its tables and tests, and nothing else does
TABLES = ("pandas", "scipy")

_INVOKE = """
import json, sys
from click.testing import CliRunner
from anobench.cli import cli
result = CliRunner().invoke(cli, sys.argv[1:])
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
print(json.dumps({{"exit_code": result.exit_code, "output": result.output, "heavy": heavy}}))
"""

_LOAD_PLUGINS = """
import json, sys
from anobench.api import registry
loaded, heavy = [], {{}}
for kind in registry.KINDS:
    for plugin in registry.available(kind):
        if plugin.distribution != "anobench":
            continue  # only the built-in plugins are this project's to keep fast
        plugin.load()
        loaded.append(plugin.name)
        new = sorted(m for m in {heavy!r} if m in sys.modules and m not in heavy)
        heavy.update({{m: f"{{kind}} '{{plugin.name}}' ({{plugin.value}})" for m in new}})
print(json.dumps({{"loaded": loaded, "heavy": heavy}}))
"""


def _fresh(code: str, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def _command(*args: str) -> dict:
    out = _fresh(_INVOKE.format(heavy=HEAVY + TABLES), *args)
    assert out["exit_code"] == 0, out["output"]
    return out


@pytest.fixture
def stored_runs(invoke, testplugins):
    for seed in (0, 1):
        invoke(
            "--quiet",
            "run",
            "-m",
            "brightness",
            "-d",
            "toy",
            "--device",
            "cpu",
            "--seed",
            str(seed),
        )
    runs = json.loads(invoke("show", "--format", "json").stdout)
    assert len(runs) == 2
    return runs


def test_help_and_list_import_no_torch():
    assert _command("--help")["heavy"] == []
    listing = _command("list", "--options")
    assert listing["heavy"] == []
    assert "meandiff" in listing["output"] and "descargan" in listing["output"]


def test_show_and_leaderboard_on_an_empty_home_import_no_torch(home):
    assert _command("--home", str(home), "show")["heavy"] == []
    assert set(_command("--home", str(home), "leaderboard")["heavy"]) <= set(TABLES)


def test_show_and_leaderboard_on_stored_runs_import_no_torch(home, stored_runs):
    run_id = stored_runs[0]["run_id"]
    listing = _command("--home", str(home), "show")
    assert listing["heavy"] == [] and run_id[:8] in listing["output"]
    one = _command("--home", str(home), "show", run_id[:8])
    assert one["heavy"] == [] and run_id in one["output"]
    board = _command("--home", str(home), "leaderboard")
    assert set(board["heavy"]) <= set(TABLES) and "brightness" in board["output"]


def test_loading_a_builtin_plugin_imports_no_torch():
    """Plugins keep torch (and their networks) inside fit/predict, see CONTRIBUTING.md."""
    out = _fresh(_LOAD_PLUGINS.format(heavy=HEAVY))
    assert {"meandiff", "classifier", "vae", "anogan", "descargan", "synthetic"} <= set(
        out["loaded"]
    )
    assert out["heavy"] == {}, f"imported when its entry point was loaded: {out['heavy']}"
