"""The smoke suite through a local Ray cluster: same results as a single run, written by the
driver, artifacts in the home."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from anobench.cli import cli
from anobench.results.store import Store
from anobench.run.runner import Runner
from anobench.run.suite import load_suite

# CI installs Ray through the dev extra; the skip only covers installs without it
ray = pytest.importorskip("ray")

SMOKE = Path(__file__).resolve().parents[2] / "benchmarks" / "smoke.toml"


def test_smoke_suite_through_a_local_ray_cluster(home, tmp_path):
    runner = CliRunner()
    args = ["--home", str(home), "bench", str(SMOKE), "--executor", "ray", "--jobs", "2"]
    result = runner.invoke(cli, [*args, "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert not ray.is_initialized()  # the cluster it started is stopped again
    report = json.loads(result.stdout)
    assert report["counts"]["finished"] == 4 and report["executor"].startswith("ray")

    store = Store(home / "store.sqlite")
    records = store.runs(status="finished")
    assert len(records) == 4
    for record in records:
        assert record.provenance["suite"] == "smoke"
        assert record.provenance["device"].startswith("cpu")
        assert (Path(record.artifacts) / "predictions.npz").exists()
        assert (Path(record.artifacts) / "panel.png").exists()
    assert not list(home.glob(".ray-driver-*"))

    # a Ray run gives the metrics of the same run made in this process
    spec = load_suite(SMOKE).expand()[0]
    local = Runner(tmp_path / "local").run(spec)
    # both specs carry the data's fingerprint, found when the run was identified
    (remote,) = (r for r in records if r.spec == local.spec)
    assert remote.spec.config_hash() == local.spec.config_hash()
    assert remote.spec.data_fingerprint and remote.spec.seed == spec.seed
    assert remote.metrics == pytest.approx(local.metrics, nan_ok=True)

    # everything is done: a second invocation skips all four without starting Ray
    again = runner.invoke(cli, [*args[:4], "--format", "json"], catch_exceptions=False)
    assert json.loads(again.stdout)["counts"]["skipped"] == 4
