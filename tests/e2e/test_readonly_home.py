"""Commands that only look work on a read-only home and create nothing; an emptied store file
beside run folders is reported instead of silently starting over."""

from __future__ import annotations

import hashlib
import json
import os
import stat

from .conftest import one_line_error

TINY = ["--dataset-opt", "image_size=32", "--dataset-opt", "n_train=10",
        "--dataset-opt", "n_val=4", "--dataset-opt", "n_test=4"]  # fmt: skip


def _digest(home) -> dict:
    return {
        str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(home.rglob("*"))
        if p.is_file()
    }


def test_looking_at_a_home_without_a_store_leaves_nothing_behind(invoke, home, tmp_path):
    for args in (("show",), ("leaderboard",), ("leaderboard", "--format", "json")):
        assert invoke(*args).exit_code == 0
    shown = invoke("show")
    assert str(home) in shown.stderr and "anobench run" in shown.stderr
    out = tmp_path / "report"
    assert invoke("report", "-o", str(out)).exit_code == 0
    assert "no finished runs yet" in (out / "index.html").read_text()
    assert not home.exists()


def test_a_read_only_home_can_be_viewed(invoke, home, tmp_path, monkeypatch):
    assert invoke("run", "-m", "meandiff", "-d", "synthetic", *TINY).exit_code == 0
    run_id = json.loads(invoke("show", "--format", "json").stdout)[0]["run_id"]
    before = _digest(home)
    modes = {p: p.stat().st_mode for p in [home, *home.rglob("*")]}
    for p, mode in modes.items():
        p.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    # root ignores permission bits: os.access answers as it would for a user
    real = os.access

    def access(path, mode, *args, **kwargs):
        if str(path).startswith(str(home)) and mode & os.W_OK:
            return False
        return real(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)
    try:
        shown = invoke("show")
        assert shown.exit_code == 0, shown.output
        assert run_id in shown.stdout
        assert invoke("show", run_id).exit_code == 0
        board = invoke("leaderboard", "--format", "json", "--bootstrap", "0")
        assert board.exit_code == 0, board.output
        assert json.loads(board.stdout)[0]["method"] == "meandiff"
        out = tmp_path / "elsewhere"
        report = invoke("report", "-o", str(out), "--bootstrap", "0")
        assert report.exit_code == 0, report.output
        assert "meandiff" in (out / "index.html").read_text()
        # writing is refused in one line
        one_line_error(invoke("run", "-m", "meandiff", "-d", "synthetic", *TINY), "writable")
    finally:
        for p, mode in modes.items():
            p.chmod(mode)
    assert _digest(home) == before


def test_an_emptied_store_beside_run_folders_is_reported(invoke, home):
    assert invoke("run", "-m", "meandiff", "-d", "synthetic", *TINY).exit_code == 0
    store = home / "store.sqlite"
    store.write_bytes(b"")
    for args in (("show",), ("run", "-m", "meandiff", "-d", "synthetic", *TINY)):
        one_line_error(invoke(*args), "is empty (0 bytes)", "1 run folder(s)")
    assert store.stat().st_size == 0
