"""The Slurm executor without a cluster: its options, and the driver's ingestion of outcomes a
job left in its run folder (``bench --collect``)."""

from __future__ import annotations

import json

import pytest

from anobench.api.home import store_path
from anobench.results.store import Store
from anobench.run.executors.slurm_job import read_outcome, slurm_dir, write_outcome
from anobench.run.executors.slurm_options import SlurmOptions, parse
from anobench.run.runner import Runner, build_spec, execute

from .conftest import one_line_error

SUITE = 'device = "cpu"\n[[datasets]]\nname = "toy"\n[[methods]]\nname = "brightness"\n'


def test_suite_table_and_command_line_merge():
    table = parse(
        {"partition": "gpu", "time": "2:00:00", "mem": "16G", "sbatch": {"qos": "high"}}, "t"
    )
    line = parse({"partition": "short", "cpus": 4, "sbatch": {"--exclusive": True}}, "line")
    merged = table.merged(line)
    assert merged == SlurmOptions(
        partition="short",
        time="2:00:00",
        cpus=4,
        mem="16G",
        sbatch={"qos": "high", "exclusive": True},
    )


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        ({"partiton": "gpu"}, "unknown key 'partiton'"),
        ({"time": "two hours"}, "time: expected minutes or [D-]HH:MM:SS"),
        ({"cpus": 0}, "cpus: expected an integer >= 1"),
        ({"mem": "lots"}, "mem: expected a size"),
        ({"sbatch": {"output": "x"}}, "'output' is set by anobench"),
    ],
)
def test_bad_slurm_tables_name_the_key(invoke, testplugins, tmp_path, table, fragment):
    lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in table.items() if k != "sbatch")
    if "sbatch" in table:
        (flag, value), *_ = table["sbatch"].items()
        lines += f'\nsbatch = {{ {flag} = "{value}" }}'
    suite = tmp_path / "s.toml"
    suite.write_text(f"[slurm]\n{lines}\n{SUITE}")
    result = invoke("bench", str(suite), "--dry-run")
    one_line_error(result, str(suite), "[slurm]", fragment)


def test_slurm_options_need_the_slurm_executor(invoke, testplugins, tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text(SUITE)
    result = invoke("bench", str(suite), "--partition", "gpu")
    one_line_error(result, "--partition", "--executor slurm")


def test_collect_ingests_what_a_job_left_and_only_once(invoke, testplugins, home):
    """A job finished while no driver ran: its outcome waits in the run folder, and
    ``bench --collect`` stores it (metrics and all) without running anything."""
    spec = build_spec(dataset="toy", method="brightness", device="cpu")
    store = Store(store_path(home))
    job = Runner(home, store=store).prepare(spec)
    outcome = execute(job)  # what the Slurm job computed
    write_outcome(slurm_dir(home, job.run_id), outcome)
    assert read_outcome(slurm_dir(home, job.run_id)).results.keys() == outcome.results.keys()
    assert store.get_run(job.run_id).metrics == {}
    store.close()

    suite = home.parent / "s.toml"
    suite.write_text(SUITE)
    collected = invoke("bench", str(suite), "--executor", "slurm", "--collect")
    assert collected.exit_code == 0, collected.output
    assert f"collected {job.run_id}: finished" in collected.stdout
    record = Store(store_path(home), readonly=True).get_run(job.run_id)
    assert record.status == "finished"
    assert record.metrics == {name: r.value for name, (_, r) in outcome.results.items()}
    again = invoke("bench", str(suite), "--executor", "slurm", "--collect")
    assert again.exit_code == 0 and "collected" not in again.stdout
