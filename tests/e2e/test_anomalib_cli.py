"""The anomalib methods through the CLI: listed as needing the extra without it, run and predict
with it. The entry points are those pyproject.toml declares, installed as a test distribution
named ``anobench`` (so the pip line is the real one) on top of the installed entry points."""

from __future__ import annotations

import json
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from anobench.api import registry
from anobench.cli import cli

from ..distributions import activate, write_distribution
from .conftest import one_line_error

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

TINY = ["--dataset-opt", "image_size=32", "--dataset-opt", "n_train=8",
        "--dataset-opt", "n_val=4", "--dataset-opt", "n_test=6"]  # fmt: skip


@pytest.fixture
def declared(tmp_path, monkeypatch):
    """anobench's installed entry points plus the anomalib ones pyproject.toml declares."""
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
    yield
    registry.refresh()


@pytest.fixture
def without_anomalib(monkeypatch, declared):
    # a None entry makes ``import anomalib`` fail and find_spec report it missing
    monkeypatch.setitem(sys.modules, "anomalib", None)
    monkeypatch.delitem(sys.modules, "anobench_anomalib", raising=False)
    registry.refresh()


def test_list_shows_the_methods_as_needing_the_extra(without_anomalib):
    result = CliRunner().invoke(cli, ["list", "--kind", "method", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    for name in ("patchcore", "padim", "stfpm", "reverse_distillation", "fastflow", "draem"):
        assert rows[name]["status"] == "needs-extra"
        assert 'pip install "anobench[anomalib]"' in rows[name]["error"]
    assert rows["meandiff"]["status"] == "ok"
    table = CliRunner().invoke(cli, ["list", "patchcore"], terminal_width=200)
    line = next(x for x in table.stdout.splitlines() if "patchcore" in x)
    assert "needs extra" in line and 'needs pip install "anobench[anomalib]"' in line
    assert "broken" not in table.stdout and "Traceback" not in table.output


def test_running_one_without_the_extra_says_the_same(without_anomalib, home):
    result = CliRunner().invoke(
        cli, ["--home", str(home), "run", "-m", "padim", "-d", "synthetic", *TINY]
    )
    one_line_error(result, "method 'padim'", 'pip install "anobench[anomalib]"')


def test_a_run_stores_a_model_that_predict_loads(declared, home, tmp_path):
    def invoke(*args):
        result = CliRunner().invoke(cli, ["--home", str(home), *args])
        assert result.exit_code == 0, result.output
        return result

    listed = invoke("list", "padim", "--kind", "method", "--format", "json")
    (row,) = json.loads(listed.stdout)
    assert row["status"] == "ok" and row["profiles"] == ["quick", "paper"]
    assert row["options"]["backbone"]["profiles"] == {
        "quick": "efficientnet_lite0",
        "paper": "resnet18",
    }
    opts = [
        f"--method-opt={kv}"
        for kv in ("image_size=32", "backbone_weights=none", "batch_size=4", "n_features=20")
    ]
    run = invoke("-q", "run", "--format", "json", "-m", "padim", "-d", "synthetic", *TINY, *opts)
    record = json.loads(run.stdout)
    assert record["status"] == "finished", record
    assert record["metrics"]["image_auroc"] is not None
    image = np.tile(np.linspace(0, 255, 32), (32, 1)).astype(np.uint8)
    Image.fromarray(image).save(tmp_path / "a.png")
    out = invoke("predict", "--run", record["run_id"], str(tmp_path / "a.png"), "--format",
                 "json", "-o", str(tmp_path / "out"))  # fmt: skip
    payload = json.loads(out.stdout)
    assert np.isfinite(payload["images"][0]["score"])
    assert np.load(tmp_path / "out" / "maps.npz")["maps"].shape == (1, 32, 32)


def test_methods_work_at_the_dataset_size_unless_the_user_sets_theirs(declared, home):
    """#24: ``--dataset-opt image_size=32`` was resized to the profile's 64 px, unlabelled."""

    def run(*opts):
        args = ["--home", str(home), "-q", "run", "--format", "json", "-m", "padim"]
        args += ["-d", "synthetic", *TINY, "--method-opt=backbone_weights=none"]
        result = CliRunner().invoke(cli, [*args, "--method-opt=n_features=8", *opts])
        assert result.exit_code == 0, result.output
        record = json.loads(result.stdout)
        state = torch.load(home / "runs" / record["run_id"] / "model.pt", weights_only=True)
        # PaDiM keeps one Gaussian per feature position: stride 4 of the side it worked at
        positions = state["model"]["gaussian.mean"].shape[1]
        return record["provenance"]["method_notes"]["input_size"], positions

    assert run() == ({"dataset": 32, "model": 32}, (32 // 4) ** 2)
    assert run("--method-opt=image_size=64") == ({"dataset": 32, "model": 64}, (64 // 4) ** 2)
    board = CliRunner().invoke(cli, ["--home", str(home), "leaderboard", "--format", "json"])
    labels = sorted(row["label"] for row in json.loads(board.stdout))
    assert labels == [
        "padim (quick; backbone_weights=none, image_size=64, n_features=8)",
        "padim (quick; backbone_weights=none, n_features=8)",
    ]
