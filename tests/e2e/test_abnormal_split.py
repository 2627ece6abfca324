"""Where the folder dataset's made splits put abnormal images (issue 24, item 3): none in
training for a method that learns from normal images, both classes everywhere for a weakly
supervised one, chosen by ``abnormal_split`` and shown in the label and the run's summary."""

from __future__ import annotations

import json

from anobench_folder import make_fixture

RUN = ["run", "--dataset-opt", "image_size=32", "--max-steps", "2", "-d", "folder"]


def _data(record):
    return {k: (v["healthy"], v["diseased"]) for k, v in record["provenance"]["data"].items()}


def test_a_method_trained_on_normal_images_gets_every_abnormal_image_tested(
    invoke, testplugins, own_datasets, tmp_path
):
    made = make_fixture(tmp_path / "images", normal=24, abnormal=12, corrupt=False)
    root = ["--dataset-opt", f"root={made.root}"]
    shown = invoke("-q", *RUN, *root, "-m", "brightness")
    assert shown.exit_code == 0, shown.output
    assert "abnormal_split=test" in shown.stdout and "data: train" in shown.stdout
    (record,) = json.loads(invoke("show", "--format", "json").stdout)
    assert record["spec"]["dataset_options"]["abnormal_split"] == "test"
    data = _data(record)
    assert data["train"][1] == 0  # no abnormal image wasted on training
    assert data["val"][1] + data["test"][1] == 12 and data["val"][1] >= 1
    board = invoke("leaderboard", "--format", "markdown", "--bootstrap", "0").stdout
    assert "abnormal_split=test" in board

    # a weakly supervised method needs both classes in training: stratified
    weak = invoke("-q", *RUN, *root, "-m", "weakspy", "--format", "json")
    assert weak.exit_code == 0, weak.output
    weak_record = json.loads(weak.stdout)
    assert weak_record["spec"]["dataset_options"]["abnormal_split"] == "stratified"
    assert _data(weak_record)["train"][1] > 0

    # chosen by hand: the summary says what the method could not use
    wasted = invoke("-q", *RUN, *root, "-m", "brightness", "--dataset-opt",
                    "abnormal_split=stratified")  # fmt: skip
    assert wasted.exit_code == 0, wasted.output
    assert "abnormal training image(s) unused" in wasted.stdout


def test_list_options_says_where_abnormal_images_go(invoke, own_datasets):
    listed = invoke("list", "folder", "--options", "--format", "json")
    assert listed.exit_code == 0, listed.output
    assert "abnormal_split" in listed.stdout and "none in train" in listed.stdout
