"""Eight processes writing fifty runs each into one store at the same moment lose nothing."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3

from anobench import MetricResult
from anobench.api.records import RunSpec
from anobench.metrics.builtin import ImageAUROC, PixelAP, PixelDice
from anobench.results.store import Store

WRITERS, RUNS = 8, 50
METRICS = {"pixel_ap": PixelAP, "image_auroc": ImageAUROC, "pixel_dice": PixelDice}


def _writer(path: str, worker: int, barrier) -> None:
    barrier.wait(timeout=60)  # every writer starts at once: maximum contention
    store = Store(path)
    for i in range(RUNS):
        spec = RunSpec("toy", f"method{worker}", {"n": 6}, {"steps": i}, seed=i % 3)
        run_id = f"w{worker}-r{i}"
        store.start_run(run_id, spec, {"seed": spec.seed}, "pixel_ap")
        results = {
            name: (
                cls,
                MetricResult(worker + i / 100, per_image={f"img{k}": k / 10 for k in range(8)}),
            )
            for name, cls in METRICS.items()
        }
        store.finish_run(run_id, results, {"seed": spec.seed, "worker": worker})
    store.close()


def test_eight_concurrent_writers_lose_no_row(tmp_path):
    path = str(tmp_path / "store.sqlite")
    Store(path).close()  # migrated before the writers race
    # fork: the writers only touch SQLite, and forking skips re-importing torch eight times
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    ctx = mp.get_context(method)
    barrier = ctx.Barrier(WRITERS)
    procs = [ctx.Process(target=_writer, args=(path, w, barrier)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * WRITERS

    store = Store(path)
    assert store.count() == store.count("finished") == WRITERS * RUNS
    rows = store.metric_rows()
    assert len(rows) == WRITERS * RUNS * len(METRICS)
    for record in store.runs():
        worker, i = (int(part[1:]) for part in record.run_id.split("-"))
        assert record.metrics == {name: worker + i / 100 for name in METRICS}
        assert record.provenance["worker"] == worker
    assert len(store.per_image("w7-r49", "pixel_ap")) == 8
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        per_image = db.execute("SELECT COUNT(*) FROM per_image").fetchone()[0]
    assert per_image == WRITERS * RUNS * len(METRICS) * 8
