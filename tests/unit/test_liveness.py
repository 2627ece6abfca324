from __future__ import annotations

import os
import socket
import subprocess
import sys

from anobench.api.liveness import alive, this_process
from anobench.results.store import Store
from anobench.run.runner import Runner, build_spec


def _dead_owner() -> dict:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    owner = {"host": socket.gethostname(), "pid": proc.pid, "pid_started": None}
    assert alive(owner)
    proc.kill()
    proc.wait()
    return owner


def test_owner_liveness():
    me = this_process()
    assert me["pid"] == os.getpid() and alive(me)
    assert not alive(_dead_owner())
    assert not alive(None) and not alive({"pid": "x"})
    assert alive({**me, "host": "some-other-host"})  # cannot be checked: assume alive
    if me["pid_started"] is not None:
        assert not alive({**me, "pid_started": "0"})  # the pid was reused by another process


def test_a_run_left_running_by_a_dead_process_is_reclaimed(testplugins, tmp_path):
    spec = build_spec(dataset="toy", method="brightness", device="cpu")
    store = Store(tmp_path / "store.sqlite")
    store.start_run("dead1", spec, {"owner": _dead_owner()}, "pixel_ap")
    store.start_run("live1", spec, {"owner": this_process()}, "pixel_ap")
    runner = Runner(tmp_path, store=store)
    assert runner.reclaim(spec) == ["live1"]
    assert store.get_run("dead1").status == "interrupted"
    assert store.get_run("live1").status == "running"
    record = runner.run(spec)
    assert record.status == "finished" and record.provenance["owner"]["pid"] == os.getpid()
    assert not store.interrupt_if_running(record.run_id, "too late")
