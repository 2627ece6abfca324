"""Runs whose hardware resolved ``precision=auto`` differently are never averaged into one row."""

from __future__ import annotations

import json

import pytest

from anobench.api import hardware
from anobench.api.hardware import CpuFeatures

AMX = CpuFeatures("Xeon", True, True, True, True, "AVX512", None)
AVX2 = CpuFeatures("EPYC", True, False, False, False, "AVX2", None)


@pytest.fixture
def cpu(monkeypatch):
    def use(features: CpuFeatures) -> None:
        monkeypatch.setattr(hardware, "cpu_features", lambda: features)

    return use


def test_auto_is_resolved_per_run_and_splits_the_leaderboard(invoke, testplugins, cpu):
    cpu(AMX)
    for seed in (0, 1):
        assert invoke("run", "-m", "precise", "-d", "toy", "--seed", str(seed)).exit_code == 0
    cpu(AVX2)
    # seed 0 finished in bf16; on hardware that resolves fp32 it is another result (another
    # row): it runs by default and replaces nothing; run again there, it is already finished
    first = invoke("run", "-m", "precise", "-d", "toy")
    assert first.exit_code == 0 and "already finished" not in first.output
    again = invoke("run", "-m", "precise", "-d", "toy")
    assert "already finished" in again.output
    runs = json.loads(invoke("show", "--format", "json").stdout)
    resolved = [r["provenance"]["resolved"] for r in runs]
    # runs made within one second are listed in id order: compare as multisets
    assert sorted(r["precision"] for r in resolved) == ["bf16", "bf16", "fp32"]
    assert [r["channels_last"] for r in resolved] == [True, True, True]
    # the stored spec keeps what the user asked for: one configuration, one hash
    assert {r["spec"]["method_options"]["precision"] for r in runs} == {"auto"}

    rows = json.loads(invoke("leaderboard", "--format", "json", "--bootstrap", "0").stdout)
    by_precision = {row["precision"]: row for row in rows}
    assert set(by_precision) == {"bf16", "fp32"}
    assert by_precision["bf16"]["n"] == 2
    assert by_precision["fp32"]["n"] == 1
    markdown = invoke("leaderboard", "--format", "markdown", "--bootstrap", "0").stdout
    assert "precise (quick, bf16)" in markdown
    assert "precise (quick, fp32)" in markdown


def test_methods_without_a_precision_option_keep_their_label(invoke, testplugins):
    assert invoke("run", "-m", "brightness", "-d", "toy").exit_code == 0
    (run,) = json.loads(invoke("show", "--format", "json").stdout)
    assert run["provenance"]["resolved"]["precision"] is None
    markdown = invoke("leaderboard", "--format", "markdown", "--bootstrap", "0").stdout
    assert "brightness (quick) |" in markdown


def test_bench_plans_a_run_in_another_precision_only_where_it_runs_here(
    invoke, testplugins, cpu, home
):
    from anobench.results.store import Store
    from anobench.run import bench
    from anobench.run.runner import build_spec

    cpu(AMX)
    assert invoke("run", "-m", "precise", "-d", "toy").exit_code == 0
    spec = build_spec(dataset="toy", method="precise")
    with Store(home / "store.sqlite") as store:
        assert bench.plan([spec], store)[0].status == bench.SKIPPED
        cpu(AVX2)
        # a local executor would compute in fp32 here: not done yet
        assert bench.plan([spec], store)[0].status == bench.TODO
        # a remote executor's machines are not this one: the finished run counts
        assert bench.plan([spec], store, local=False)[0].status == bench.SKIPPED
