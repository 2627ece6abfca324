from __future__ import annotations

import math
import multiprocessing as mp
import sqlite3

import pytest

from anobench import MetricResult
from anobench.api.errors import StoreError
from anobench.api.records import RunSpec
from anobench.metrics.builtin import PixelAP
from anobench.results.store import Store


def spec(seed: int = 0) -> RunSpec:
    return RunSpec("toy", "brightness", {"n": 6}, {"steps": 2}, seed=seed)


def test_run_lifecycle_and_metrics_in_one_transaction(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    store.start_run("r1", spec(), {"seed": 0}, "pixel_ap")
    assert store.get_run("r1").status == "running"
    result = MetricResult(0.5, per_image={"a": 0.25, "b": 0.75})
    store.finish_run("r1", {"pixel_ap": (PixelAP, result)}, {"seed": 0, "fit_seconds": 1.0})
    record = store.get_run("r")  # unique prefix
    assert record.status == "finished"
    assert record.metrics == {"pixel_ap": 0.5}
    assert record.provenance["fit_seconds"] == 1.0
    assert store.per_image("r1", "pixel_ap") == {"a": 0.25, "b": 0.75}
    assert store.find_finished(spec().config_hash(), 0) == "r1"
    assert store.find_finished(spec().config_hash(), 1) is None


def test_a_failing_finish_leaves_no_half_result(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    store.start_run("r1", spec(), {}, "pixel_ap")
    bad = {
        "pixel_ap": (PixelAP, MetricResult(0.5)),
        "broken": (object(), MetricResult(0.1)),  # has no .level: raises inside the transaction
    }
    with pytest.raises(AttributeError):
        store.finish_run("r1", bad, {})
    assert store.get_run("r1").status == "running"
    assert store.get_run("r1").metrics == {}


def test_undefined_metric_is_stored_with_reason(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    store.start_run("r1", spec(), {}, "pixel_ap")
    store.finish_run("r1", {"pixel_ap": (PixelAP, MetricResult.undefined("no masks"))}, {})
    record = store.get_run("r1")
    assert math.isnan(record.metrics["pixel_ap"])
    assert record.metric_reasons == {"pixel_ap": "no masks"}


def test_corrupt_store_is_one_clear_error_and_left_untouched(tmp_path):
    path = tmp_path / "store.sqlite"
    path.write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError, match="not a usable anobench store"):
        Store(path)
    assert path.read_bytes() == b"not a database" * 100


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "s.sqlite"
    Store(path).close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO schema_version VALUES (99)")
    with pytest.raises(StoreError, match="newer than this anobench"):
        Store(path)


def test_unwritable_folder_is_reported(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot create the store folder"):
        Store(blocker / "sub" / "s.sqlite")


def test_unknown_and_ambiguous_ids(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    store.start_run("abc1", spec(), {}, None)
    store.start_run("abc2", spec(1), {}, None)
    with pytest.raises(StoreError, match="ambiguous"):
        store.get_run("abc")
    with pytest.raises(StoreError, match="no run 'zzz'"):
        store.get_run("zzz")


def _writer(path: str, worker: int, n: int) -> None:
    store = Store(path)
    for i in range(n):
        run_id = f"w{worker}-{i}"
        store.start_run(run_id, spec(i), {}, "pixel_ap")
        store.finish_run(run_id, {"pixel_ap": (PixelAP, MetricResult(float(i)))}, {})
    store.close()


def test_concurrent_writers_lose_no_rows(tmp_path):
    path = str(tmp_path / "s.sqlite")
    Store(path).close()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, w, 10)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    store = Store(path)
    assert store.count("finished") == 40
    assert len(store.metric_rows()) == 40
