"""``anobench export mlflow`` against a real MLflow tracking server (SQLite backend, 127.0.0.1),
read back through MLflow's own client."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from anobench.cli import cli

pytest.importorskip("mlflow", reason="the mlflow extra is not installed")

TINY = [
    "-m", "ae", "-d", "synthetic", "--threads", "1",
    "--dataset-opt", "image_size=32", "--dataset-opt", "n_train=8",
    "--dataset-opt", "n_val=4", "--dataset-opt", "n_test=4",
    "--method-opt", "epochs=3", "--method-opt", "batch_size=4",
    "--method-opt", "base_width=4", "--method-opt", "hidden=16", "--method-opt", "latent_dim=4",
]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The server's URI, once it answers: a function, so that a test does its own work while
    the server starts (several seconds)."""
    root = tmp_path_factory.mktemp("mlflow")
    port = _free_port()
    log = (root / "server.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
            "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
            "--artifacts-destination", str(root / "artifacts"), "--workers", "1",
        ],
        stdout=log, stderr=subprocess.STDOUT, cwd=root,
    )  # fmt: skip
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120

    def ready() -> str:
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as response:
                    if response.status == 200:
                        return uri
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                text = (root / "server.log").read_text()
                pytest.skip(f"the MLflow server did not start: {text}")
            time.sleep(0.1)

    yield ready
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


def test_export_round_trip_is_complete_and_idempotent(invoke, home, server, tmp_path):
    from mlflow.tracking import MlflowClient

    for seed in ("0", "1"):
        done = invoke("run", *TINY, "--seed", seed)
        assert done.exit_code == 0, done.output
    shown = json.loads(invoke("show", "--format", "json").stdout)
    runs = {r["run_id"]: r for r in shown}

    uri = server()  # the server started with the module, alongside the runs above
    first = invoke("export", "mlflow", "--tracking-uri", uri, "--format", "json")
    assert first.exit_code == 0, first.output
    exported = json.loads(first.stdout)
    assert {e["run_id"] for e in exported} == set(runs)
    assert {e["action"] for e in exported} == {"created"}

    client = MlflowClient(tracking_uri=uri)
    (experiment_name,) = {e["experiment"] for e in exported}  # one dataset configuration
    experiment = client.get_experiment_by_name(experiment_name)
    found = client.search_runs([experiment.experiment_id])
    assert len(found) == 2
    for mlrun in found:
        run = runs[mlrun.data.tags["anobench.run_id"]]
        assert mlrun.info.status == "FINISHED"
        tags = mlrun.data.tags
        assert tags["anobench.seed"] == str(run["spec"]["seed"])
        assert tags["anobench.config_hash"] == run["config_hash"]
        assert tags["anobench.git_revision"] == str(run["provenance"]["git_revision"] or "unknown")
        params = mlrun.data.params
        assert params["method"] == "ae" and params["dataset"] == "synthetic"
        assert params["method.epochs"] == "3.0" or params["method.epochs"] == "3"
        assert params["dataset.image_size"] == "32"
        assert params["seed"] == str(run["spec"]["seed"])
        metrics = mlrun.data.metrics
        for name, value in run["metrics"].items():
            if value is not None and value == value:  # NaN: left out, its reason a tag
                assert metrics[name] == pytest.approx(value, rel=1e-12)
        assert metrics["fit_seconds"] == pytest.approx(run["provenance"]["fit_seconds"])
        assert metrics["predict_seconds"] == pytest.approx(run["provenance"]["predict_seconds"])
        # the training curve, step by step, as the run logged it
        log = [
            json.loads(line)
            for line in (home / "runs" / run["run_id"] / "training_log.jsonl").open()
        ]
        logged = [(row["step"], row["loss"]) for row in log if "loss" in row]
        history = client.get_metric_history(mlrun.info.run_id, "train/loss")
        assert sorted((m.step, m.value) for m in history) == sorted(logged)
        assert len(logged) == 3 * 2
        artifacts = {a.path for a in client.list_artifacts(mlrun.info.run_id)}
        assert {"panel.png", "model.pt"} <= artifacts
        model = client.download_artifacts(mlrun.info.run_id, "model.pt", str(tmp_path))
        original = home / "runs" / run["run_id"] / "model.pt"
        assert Path(model).read_bytes() == original.read_bytes()

    # again: nothing new; a single run id: the same
    again = invoke("export", "mlflow", "--tracking-uri", uri, "--format", "json")
    assert again.exit_code == 0, again.output
    assert {e["action"] for e in json.loads(again.stdout)} == {"unchanged"}
    some = next(iter(runs))
    once_more = invoke("export", "mlflow", some, "--tracking-uri", uri)
    assert once_more.exit_code == 0 and "(unchanged)" in once_more.stdout
    assert len(client.search_runs([experiment.experiment_id])) == 2


def test_export_mistakes_are_one_line(invoke, home, tmp_path, monkeypatch):
    # MLflow retries a refused connection for minutes by default
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    assert invoke("run", *TINY, "--seed", "0").exit_code == 0
    done = invoke("export", "mlflow", "nosuchrun", "--tracking-uri", str(tmp_path / "mlruns"))
    shown = invoke("show", "nosuchrun")
    assert done.exit_code == shown.exit_code != 0  # as 'show' says it
    assert "nosuchrun" in done.stderr and "Traceback" not in done.output
    assert len(done.stderr.strip().splitlines()) == 1
    closed = f"http://127.0.0.1:{_free_port()}"
    down = invoke("export", "mlflow", "--tracking-uri", closed)
    assert down.exit_code == 2 and closed in down.stderr and "Traceback" not in down.output
    both = invoke("export", "mlflow", "x", "--suite", str(tmp_path / "s.toml"))
    assert both.exit_code == 2 and "not both" in both.output


def test_export_is_a_registered_command():
    assert "export" in cli.commands
