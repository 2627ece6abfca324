"""A full disk and a busy store (issue 24, items 10 and 15): one line that says what happened,
the run stored failed, the store never called damaged, and what only reads keeps working."""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
import stat

import numpy as np
from anobench_folder import make_fixture
from PIL import Image

from anobench.api.liveness import this_process
from anobench.api.records import RunSpec
from anobench.results.store import Store
from anobench.results.store import store as store_module

from .conftest import one_line_error

FOLDER = ["-m", "brightness", "-d", "folder", "--dataset-opt", "image_size=32"]
TINY = ["--dataset-opt", "image_size=32", "--dataset-opt", "n_train=10",
        "--dataset-opt", "n_val=4", "--dataset-opt", "n_test=4"]  # fmt: skip


def test_no_space_for_the_image_cache_fails_the_run_in_one_line(
    invoke, testplugins, own_datasets, home, tmp_path, monkeypatch
):
    """Writing a memory map on a full disk was a bus error (exit 135, no message)."""
    made = make_fixture(tmp_path / "images", normal=8, abnormal=4, corrupt=False)

    def no_space(fd, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", no_space)
    result = invoke("-q", "run", *FOLDER, "--dataset-opt", f"root={made.root}")
    one_line_error(result, "no space left", "images.npy", "free space")
    with Store(home / "store.sqlite") as store:
        (record,) = store.runs()
    assert record.status == "failed" and "no space left" in record.error


def _disk_full_when_writing(monkeypatch):
    """What SQLite answers on a full disk when it must write (its shared memory, a
    migration), with almost no space left on the store's disk."""

    def migrate(self):
        raise sqlite3.OperationalError("disk I/O error")

    real = shutil.disk_usage

    def usage(path):
        return real(path)._replace(free=160_000)

    monkeypatch.setattr(Store, "_migrate", migrate)
    monkeypatch.setattr(shutil, "disk_usage", usage)


def test_a_full_disk_is_not_a_damaged_store_and_reading_works(
    invoke, testplugins, home, monkeypatch
):
    assert invoke("-q", "run", "-m", "brightness", "-d", "toy").exit_code == 0
    _disk_full_when_writing(monkeypatch)
    shown = invoke("show", "--format", "json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)[0]["status"] == "finished"
    board = invoke("leaderboard", "--format", "json", "--bootstrap", "0")
    assert board.exit_code == 0, board.output
    result = invoke("run", "-m", "brightness", "-d", "toy", "--seed", "1")
    one_line_error(result, "full", "free space")
    assert "damaged" not in result.stderr and "new store" not in result.stderr


def test_predict_writes_elsewhere_from_a_read_only_home(invoke, home, tmp_path, monkeypatch):
    assert invoke("-q", "run", "-m", "meandiff", "-d", "synthetic", *TINY).exit_code == 0
    run_id = json.loads(invoke("show", "--format", "json").stdout)[0]["run_id"]
    image = tmp_path / "mine.png"
    Image.fromarray(np.full((40, 40), 90, np.uint8)).save(image)
    modes = {p: p.stat().st_mode for p in [home, *home.rglob("*")]}
    for p, mode in modes.items():
        p.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    real = os.access

    def access(path, mode, *args, **kwargs):  # root ignores permission bits
        if str(path).startswith(str(home)) and mode & os.W_OK:
            return False
        return real(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)
    out = tmp_path / "elsewhere"
    try:
        result = invoke("-q", "predict", "--run", run_id, str(image), "--output", str(out))
    finally:
        for p, mode in modes.items():
            # SQLite deletes its -wal / -shm files when the last connection closes
            if p.exists():
                p.chmod(mode)
    assert result.exit_code == 0, result.output
    assert (out / "scores.csv").is_file()


def test_a_locked_store_names_the_process_that_holds_it(invoke, testplugins, home, monkeypatch):
    with Store(home / "store.sqlite") as store:
        spec = RunSpec("toy", "brightness", {"n": 6, "size": 16}, {"steps": 5}, seed=7)
        store.start_run("busy", spec, {"owner": this_process()}, "pixel_ap")
    monkeypatch.setattr(store_module, "BUSY_SECONDS", 0.2)
    holder = sqlite3.connect(home / "store.sqlite", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        result = invoke("-q", "run", "-m", "brightness", "-d", "toy")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    one_line_error(result, "locked", f"pid {os.getpid()}", "run busy", "retry")
    assert "writable folder" not in result.stderr


def test_no_space_for_generated_synthetic_data_fails_the_run_in_one_line(invoke, home, monkeypatch):
    def no_space(fd, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", no_space)
    result = invoke("-q", "run", "-m", "meandiff", "-d", "synthetic", *TINY)
    one_line_error(result, "no space left", ".npy", "free space")


def test_a_store_locked_while_it_is_opened_is_not_called_unusable(
    invoke, testplugins, home, monkeypatch
):
    assert invoke("-q", "run", "-m", "brightness", "-d", "toy").exit_code == 0

    def locked(self):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(Store, "_migrate", locked)
    result = invoke("run", "-m", "brightness", "-d", "toy", "--seed", "1")
    one_line_error(result, "locked", "retry")
    assert "move it aside" not in result.stderr
