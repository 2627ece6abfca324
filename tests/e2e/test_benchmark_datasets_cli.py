"""``bmad`` and ``medianomaly`` through the CLI: runs on fixtures in the released layouts,
pixel metrics only where the release has masks, and bad layouts as one line with no run."""

from __future__ import annotations

import json
import shutil

import pytest
from anobench_bmad import make_fixture as make_bmad
from anobench_medianomaly import make_fixture as make_medianomaly

from .conftest import one_line_error

TINY = ["--dataset-opt", "image_size=32", "--max-steps", "2"]


def _run(invoke, dataset, root, task):
    options = ["--dataset-opt", f"root={root}", "--dataset-opt", f"task={task}", *TINY]
    result = invoke("-q", "run", "--format", "json", "-m", "meandiff", "-d", dataset, *options)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    "dataset, make, task, folder, masks",
    [
        ("bmad", make_bmad, "brain", "Brain", True),
        ("bmad", make_bmad, "rsna", "RSNA", False),
        ("medianomaly", make_medianomaly, "brats2021", "BraTS2021", True),
        ("medianomaly", make_medianomaly, "vincxr", "VinCXR", False),
    ],
)
def test_runs_on_the_released_layouts(own_datasets, invoke, tmp_path, dataset, make, task,
                                      folder, masks):  # fmt: skip
    made = make(tmp_path / "data" / folder, task=task)
    record = _run(invoke, dataset, tmp_path / "data", task)  # the parent root finds the set
    assert record["status"] == "finished"
    data = record["provenance"]["data"]
    assert sum(data[s]["skipped"]["count"] for s in ("train", "val", "test")) == 1
    assert data["test"]["diseased"] > 0 and data["train"]["diseased"] == 0
    assert (record["metrics"]["pixel_ap"] is not None) == masks
    assert record["metrics"]["image_auroc"] is not None
    assert made.corrupt


@pytest.mark.parametrize(
    "dataset, make, task, damage, fragments",
    [
        ("bmad", make_bmad, "brain", lambda r: shutil.rmtree(r / "valid"),
         ["valid: missing split folder"]),
        ("bmad", make_bmad, "brain", lambda r: (r / "test/Ungood/label/x.png").write_bytes(b""),
         ["x.png: a mask without an image"]),
        ("medianomaly", make_medianomaly, "brats2021",
         lambda r: (r / "test/annotation/y_seg_1.png").write_bytes(b""),
         ["y_seg_1.png: a mask without an image"]),
        ("medianomaly", make_medianomaly, "rsna",
         lambda r: (r / "data.json").write_text('{"train": {"0": []}}'),
         ["data.json: no 'test' object"]),
    ],
)  # fmt: skip
def test_bad_layouts_are_one_line_and_store_no_run(own_datasets, invoke, tmp_path, dataset,
                                                   make, task, damage, fragments):  # fmt: skip
    made = make(tmp_path / "set", task=task)
    damage(made.root)
    result = invoke("run", "-m", "meandiff", "-d", dataset, "--dataset-opt", f"root={made.root}",
                    "--dataset-opt", f"task={task}", *TINY)  # fmt: skip
    one_line_error(result, *fragments)
    assert json.loads(invoke("show", "--format", "json").stdout) == []
