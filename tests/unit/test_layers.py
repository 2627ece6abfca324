"""The layers of the core: imports point down (cli -> run -> results -> api), run records are
shared from api/, and a plugin's contract test pulls in no runner, store or figures."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from anobench.api.jobs import Outcome
from anobench.api.progress import DATA_READY, Reporter
from anobench.api.records import RunSpec, RunStatus
from anobench.results.store import Store
from anobench.run import bench
from anobench.run.executors.worker import QueueReporter
from anobench.run.runner import LOAD_DATA, Runner, build_spec

PACKAGE = Path(__file__).resolve().parents[2] / "anobench"
#: what each layer may import from the others (its own folder and anobench.metrics aside)
ALLOWED = {
    "api": set(),
    "results": {"api"},
    "run": {"api", "results"},
    "metrics": {"api"},
    "cli": {"api", "results", "run"},
}


def _imported_layers(path: Path) -> set[str]:
    parts = path.relative_to(PACKAGE).parts
    package = ["anobench", *parts[:-1]]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = [*base, *(node.module.split(".") if node.module else [])]
            else:
                module = (node.module or "").split(".")
            names = [[*module, alias.name] for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name.split(".") for alias in node.names]
        else:
            continue
        for name in names:
            if name[0] == "anobench" and len(name) > 1:
                found.add(name[1])
    return found


def test_no_module_imports_a_layer_above_its_own():
    upward = []
    for layer, allowed in ALLOWED.items():
        for path in sorted((PACKAGE / layer).rglob("*.py")):
            for other in _imported_layers(path) - allowed - {layer}:
                if other in ALLOWED:
                    upward.append(f"{path.relative_to(PACKAGE)} imports anobench.{other}")
    assert not upward, upward


def test_the_contract_test_module_imports_no_runner_store_or_figures():
    code = (
        "import json, sys, anobench.testing;"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('anobench'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = json.loads(out)
    assert "anobench.testing" in loaded
    assert not [m for m in loaded if m.startswith(("anobench.run", "anobench.results"))], loaded
    assert "anobench.cli" not in loaded


def test_run_status_values_are_the_stored_strings():
    assert [s.value for s in RunStatus] == ["running", "finished", "failed", "interrupted"]
    assert RunStatus.FINISHED == "finished" and f"{RunStatus.FAILED}" == "failed"
    assert json.dumps({"status": RunStatus.INTERRUPTED}) == '{"status": "interrupted"}'
    assert {"finished": 1}[RunStatus.FINISHED] == 1


def test_the_runner_announces_data_ready_once_the_splits_are_loaded(testplugins, tmp_path):
    class Recorder(Reporter):
        def __init__(self):
            self.seen = []

        def data_ready(self):
            self.seen.append(DATA_READY)

        def _start(self, task, description):
            self.seen.append(description)

    recorder = Recorder()
    Runner(tmp_path, recorder).run(build_spec(dataset="toy", method="brightness", device="cpu"))
    assert recorder.seen.count(DATA_READY) == 1
    assert recorder.seen.index(DATA_READY) == recorder.seen.index(LOAD_DATA) + 1


def test_a_worker_forwards_data_ready_as_its_own_event():
    class Queue(list):
        def put_nowait(self, event):
            self.append(event)

    queue = Queue()
    QueueReporter(queue, "abc").data_ready()
    assert queue == [(DATA_READY, "abc")]


def test_the_bench_gate_opens_on_data_ready_not_on_a_progress_label(testplugins, tmp_path):
    specs = [RunSpec("toy", "brightness", {"n": 4}, {"steps": 1}, seed=s) for s in (0, 1)]

    class Fake:
        slots = 2

        def __init__(self):
            self.pending, self.submitted, self.calls = [], [], 0
            self.submitted_at_events = []

        def describe(self):
            return "fake"

        def submit(self, job):
            self.pending.append(job)
            self.submitted.append(job.run_id)

        def events(self):
            self.calls += 1
            self.submitted_at_events.append(len(self.submitted))
            if self.calls > 2:
                return []
            # the progress label alone no longer opens the gate; the data-ready event does
            first = self.submitted[0]
            return [("done", first, LOAD_DATA)] if self.calls == 1 else [(DATA_READY, first)]

        def wait(self, timeout):
            if len(self.submitted) < 2:
                return []
            done, self.pending = self.pending, []
            return [(job, Outcome(job.run_id, RunStatus.FAILED, {}, error="fake")) for job in done]

        def close(self, kill=False):
            pass

    store = Store(tmp_path / "store.sqlite")
    runner = Runner(tmp_path, store=store)
    executor = Fake()
    suite = SimpleNamespace(name="gate", metrics=None)
    report = bench.run_suite(suite, bench.plan(specs, store), runner, executor, poll=0)
    assert executor.submitted_at_events[:3] == [1, 1, 2]
    assert [item.status for item in report.items] == ["failed", "failed"]
