"""Same seed, same torch threads: a trained run gives bit-identical results in this process, in a
local worker and in a Ray task. Exact equality has teeth here: at 2 threads instead of 1 the
autoencoder's metrics move (by ~1e-4), so an executor that ignored ``--threads`` would fail."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from anobench.cli import cli
from anobench.results.store import Store
from anobench.run.runner import Runner
from anobench.run.suite import load_suite

SUITE = """
name = "reproducible"
seeds = [0]
device = "cpu"
profile = "quick"
max_steps = 3

[[datasets]]
name = "synthetic"
options = { image_size = 32, n_train = 16, n_val = 8, n_test = 8 }

[[methods]]
name = "ae"

[[methods]]
name = "descargan"
"""


@pytest.fixture(scope="module")
def suite(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("suite") / "reproducible.toml"
    path.write_text(SUITE)
    return path


@pytest.fixture(scope="module")
def in_process(suite, tmp_path_factory) -> dict:
    """The suite's runs made by a Runner in this process with one torch thread."""
    home = tmp_path_factory.mktemp("in-process")
    records = [Runner(home, threads=1).run(spec) for spec in load_suite(suite).expand()]
    return _by_method(records)


def _by_method(records) -> dict:
    return {record.spec.method: record for record in records}


def _bench(suite: Path, home: Path, *options: str) -> dict:
    args = ["--home", str(home), "bench", str(suite), "--threads", "1", *options]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return _by_method(Store(home / "store.sqlite").runs(status="finished"))


def _assert_identical(made: dict, reference: dict) -> None:
    assert sorted(made) == sorted(reference) == ["ae", "descargan"]
    for method, record in made.items():
        expected = reference[method]
        assert record.spec.config_hash() == expected.spec.config_hash()
        assert record.provenance["torch_threads"] == 1
        assert record.metrics == expected.metrics, method  # exact, not approx
        with (
            np.load(Path(record.artifacts) / "predictions.npz") as ours,
            np.load(Path(expected.artifacts) / "predictions.npz") as theirs,
        ):
            assert sorted(ours.files) == sorted(theirs.files)
            for key in ours.files:
                np.testing.assert_array_equal(ours[key], theirs[key], err_msg=f"{method} {key}")


def test_a_local_worker_reproduces_the_in_process_run(suite, in_process, tmp_path):
    _assert_identical(_bench(suite, tmp_path / "local", "--jobs", "2"), in_process)


def test_a_ray_task_reproduces_the_in_process_run(suite, in_process, tmp_path):
    pytest.importorskip("ray")
    _assert_identical(_bench(suite, tmp_path / "ray", "--executor", "ray"), in_process)
