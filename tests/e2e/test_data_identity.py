"""A result is identified by the data it used, never by a path or an environment variable
(issue 24, item 1): the same images under another path are the same configuration, other
images named by the same variable are not."""

from __future__ import annotations

import json
import shutil

import numpy as np
from anobench_folder import make_fixture
from PIL import Image

TINY = ["-m", "brightness", "-d", "folder", "--dataset-opt", "image_size=32", "--max-steps", "2"]


def _roots(tmp_path):
    made = make_fixture(tmp_path / "a", normal=12, abnormal=6, corrupt=False, kinds=(".png",))
    copy = tmp_path / "copy of a"
    shutil.copytree(made.root, copy)  # new modification times, same bytes
    other = tmp_path / "c"
    shutil.copytree(made.root, other)
    one = other / made.normal[1]
    pixels = np.asarray(Image.open(one))
    Image.fromarray(255 - pixels).save(one)  # one image differs
    return made.root, copy, other


def _run(invoke, *args):
    result = invoke("run", *TINY, *args)
    assert result.exit_code == 0, result.output
    return result


def test_the_same_images_elsewhere_are_already_finished(
    invoke, testplugins, own_datasets, tmp_path
):
    first, copy, _ = _roots(tmp_path)
    _run(invoke, "--dataset-opt", f"root={first}")
    again = _run(invoke, "--dataset-opt", f"root={copy}")
    assert "already finished" in again.output
    (run,) = json.loads(invoke("show", "--format", "json").stdout)
    # the path stays in the provenance for people to read
    assert run["spec"]["dataset_options"]["root"] == str(first)


def test_the_variable_pointing_at_other_images_is_another_result(
    invoke, testplugins, own_datasets, tmp_path, monkeypatch
):
    first, _, other = _roots(tmp_path)
    monkeypatch.setenv("ANOBENCH_FOLDER_ROOT", str(first))
    _run(invoke)
    monkeypatch.setenv("ANOBENCH_FOLDER_ROOT", str(other))
    fresh = _run(invoke)
    assert "already finished" not in fresh.output
    _run(invoke, "--seed", "1")
    runs = json.loads(invoke("show", "--format", "json").stdout)
    assert len(runs) == 3 and {r["status"] for r in runs} == {"finished"}
    rows = json.loads(invoke("leaderboard", "--format", "json", "--bootstrap", "0").stdout)
    # two data sets, two tables: the seed-1 run is not averaged with the first folder's run
    assert sorted(row["n"] for row in rows) == [1, 2]
    assert len({row["dataset_hash"] for row in rows}) == 2


def test_a_resume_refuses_data_that_changed_since_the_run_started(
    invoke, testplugins, own_datasets, tmp_path, monkeypatch
):
    from .conftest import one_line_error

    first, _, _ = _roots(tmp_path)
    monkeypatch.setenv("TESTPLUGINS_INTERRUPT_AT", "1")
    assert invoke("-q", "run", *TINY, "--dataset-opt", f"root={first}").exit_code == 130
    monkeypatch.delenv("TESTPLUGINS_INTERRUPT_AT")
    (run,) = json.loads(invoke("show", "--format", "json").stdout)
    image = next(first.rglob("*.png"))
    Image.fromarray(255 - np.asarray(Image.open(image))).save(image)
    result = invoke("run", "--resume", run["run_id"])
    one_line_error(result, run["run_id"], "changed since it started", "start a new run")
