"""The bad inputs of issue 24's corpus that are cheap to reproduce, through the CLI: each is one
line naming the option, file or plugin, found before any work, and stores nothing it should not.

The whole corpus (slower cases too) is ``benchmarks/corpus/bad_inputs.py``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from anobench.api import registry

from ..distributions import activate, write_distribution
from .conftest import one_line_error

TOY = ("-d", "toy", "--device", "cpu")
SYNTH = ("-d", "synthetic", "--dataset-opt", "image_size=32", "--dataset-opt", "n_train=4")
SYNTH += ("--dataset-opt", "n_val=2", "--dataset-opt", "n_test=2", "--device", "cpu")


@pytest.fixture
def misbehaving(monkeypatch, tmp_path_factory, testplugins):
    root = write_distribution(
        tmp_path_factory.mktemp("misbehaving"),
        "anobench-misbehaving",
        {
            "anobench.methods": {
                "exiting": "anobench_misbehaving:Exiting",
                "dictpredict": "anobench_misbehaving:DictPredict",
                "function": "anobench_misbehaving:not_a_class",
            }
        },
        modules=("anobench_misbehaving.py",),
    )
    activate(monkeypatch, root)
    yield root
    registry.refresh()


def _runs(invoke) -> list[dict]:
    return json.loads(invoke("show", "--format", "json").stdout)


def _usage_error(result, option: str) -> None:
    """click's answer to a value out of range: exit 2, the option and its range, no traceback."""
    assert result.exit_code == 2, result.output
    assert option in result.stderr and "is not in the range" in result.stderr, result.stderr
    assert "Traceback" not in result.output


def test_a_bad_backbone_weights_value_is_refused_before_a_run_is_stored(invoke):
    result = invoke(
        "-q", "run", "-m", "classifier", *SYNTH, "--method-opt", "backbone_weights=lite0"
    )
    one_line_error(result, "backbone_weights", "lite0")
    assert _runs(invoke) == []


def test_seeds_beyond_the_store_s_integers_name_the_range(invoke, tmp_path):
    one_line_error(
        invoke("run", "-m", "meandiff", *SYNTH, "--seed", str(2**63)),
        "--seed",
        "<= 9223372036854775807",
    )
    suite = tmp_path / "suite.toml"
    suite.write_text(
        "[[datasets]]\nname = 'synthetic'\noptions = { image_size = 32 }\n"
        "[[methods]]\nname = 'meandiff'\n"
    )
    one_line_error(
        invoke("bench", str(suite), "--seeds", str(2**63)), "--seeds", "<= 9223372036854775807"
    )
    assert _runs(invoke) == []


@pytest.mark.parametrize(
    "args, option",
    [
        (("leaderboard", "--bootstrap", "200001"), "--bootstrap"),
        (("leaderboard", "--bootstrap", str(10**20)), "--bootstrap"),
        (("bench", "SUITE", "--jobs", str(2**70)), "--jobs"),
        (("bench", "SUITE", "--threads", str(2**40)), "--threads"),
        (("run", "-m", "meandiff", "-d", "synthetic", "--threads", str(2**40)), "--threads"),
    ],
)
def test_huge_counts_are_refused_naming_the_option_and_its_range(invoke, tmp_path, args, option):
    suite = tmp_path / "suite.toml"
    suite.write_text("[[datasets]]\nname = 'synthetic'\n[[methods]]\nname = 'meandiff'\n")
    _usage_error(invoke(*[str(suite) if a == "SUITE" else a for a in args]), option)


def test_a_device_that_is_not_there_fails_even_when_the_result_is_stored(invoke, testplugins):
    assert invoke("-q", "run", "-m", "brightness", *TOY).exit_code == 0
    for device in ("", "cuda:-1", "cuda:99"):
        args = ("-q", "run", "-m", "brightness", "-d", "toy", "--device", device)
        one_line_error(invoke(*args), "--device")
    assert len(_runs(invoke)) == 1


def test_an_empty_home_is_refused(invoke, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from anobench.cli import cli

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["--home", "", "show"])
    assert result.exit_code == 2 and "--home" in result.stderr, result.output
    assert not (tmp_path / "store.sqlite").exists()


def _folder(root, normal=6, abnormal=4, mask_size=None):
    rng = np.random.default_rng(0)
    for label, n in (("normal", normal), ("abnormal", abnormal)):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            pixels = rng.integers(0, 255, (24, 24), dtype=np.uint8)
            Image.fromarray(pixels).save(root / label / f"{i:02d}.png")
            if label == "abnormal" and mask_size:
                (root / "masks").mkdir(exist_ok=True)
                mask = np.zeros((mask_size, mask_size), np.uint8)
                Image.fromarray(mask).save(root / "masks" / f"{i:02d}.png")
    return root


def _folder_run(invoke, root):
    args = ("-q", "run", "-m", "meandiff", "-d", "folder", "--device", "cpu")
    return invoke(*args, "--dataset-opt", f"root={root}", "--dataset-opt", "image_size=16")


def test_a_dangling_link_in_the_folder_is_named(invoke, tmp_path):
    root = _folder(tmp_path / "data")
    (root / "normal" / "gone.png").symlink_to(tmp_path / "nowhere.png")
    one_line_error(_folder_run(invoke, root), "gone.png", "broken link")
    assert _runs(invoke) == []


@pytest.mark.parametrize("normal, abnormal, missing", [(6, 0, "abnormal"), (0, 4, "normal")])
def test_a_folder_without_one_class_is_refused_before_training(
    invoke, tmp_path, normal, abnormal, missing
):
    root = _folder(tmp_path / "data", normal=normal, abnormal=abnormal)
    one_line_error(_folder_run(invoke, root), f"no {missing} image")
    assert _runs(invoke) == []


def test_masks_of_the_wrong_size_are_named_before_training(invoke, tmp_path):
    root = _folder(tmp_path / "data", mask_size=7)
    # abnormal images go to val and test (abnormal_split=test): val loses its one abnormal image
    one_line_error(_folder_run(invoke, root), "all 1 abnormal", "masks/", "7x7", "24x24")


def test_an_unreadable_normal_class_is_one_line_without_numpy_warnings(invoke, tmp_path):
    root = _folder(tmp_path / "data")
    for path in (root / "normal").iterdir():
        path.write_bytes(b"not an image")
    with _no_runtime_warnings():
        result = _folder_run(invoke, root)
    one_line_error(result, "all 4 normal", "00.png")


class _no_runtime_warnings:
    def __enter__(self):
        import warnings

        self._catch = warnings.catch_warnings(record=True)
        self.seen = self._catch.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        self._catch.__exit__(*exc)
        assert not [w for w in self.seen if issubclass(w.category, RuntimeWarning)], self.seen


def test_a_size_option_too_large_to_allocate_is_named(invoke):
    # the arrays of 10**12 phantoms per class cannot be created: the option is named
    result = invoke(
        "-q", "run", "-m", "meandiff", "-d", "synthetic", "--dataset-opt", "n_train=1000000000000"
    )
    one_line_error(result, "n_train=1000000000000")


def test_n_val_0_is_refused_as_an_option(invoke):
    one_line_error(invoke("run", "-m", "meandiff", *SYNTH, "--dataset-opt", "n_val=0"), "n_val")
    assert _runs(invoke) == []


def test_predict_names_a_nan_image_and_a_garbage_model_in_one_line(
    invoke, testplugins, home, tmp_path
):
    assert invoke("-q", "run", "-m", "brightness", *TOY).exit_code == 0
    run_id = _runs(invoke)[0]["run_id"]
    nan = tmp_path / "nan.tif"
    Image.fromarray(np.full((16, 16), np.nan, dtype=np.float32)).save(nan)
    one_line_error(invoke("predict", "--run", run_id, str(nan)), "nan.tif", "NaN")
    png = tmp_path / "one.png"
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(png)
    (home / "runs" / run_id / "model.pt").write_bytes(b"garbage\n")
    one_line_error(invoke("predict", "--run", run_id, str(png)), "model.pt", "damaged")


def test_a_plugin_that_is_a_function_is_listed_broken_and_the_others_listed(invoke, misbehaving):
    result = invoke("list", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = {(r["kind"], r["name"]): r for r in json.loads(result.stdout)}
    assert rows[("method", "function")]["status"] == "broken"
    assert "not a subclass of anobench.Method" in rows[("method", "function")]["error"]
    assert rows[("method", "meandiff")]["status"] == "ok"
    assert rows[("method", "exiting")]["status"] == "ok"
    assert invoke("list").exit_code == 0
    one_line_error(invoke("run", "-m", "function", *TOY), "function", "not a subclass")


def test_a_plugin_calling_sys_exit_fails_its_run_and_resume_does_not_leave_it_running(
    invoke, misbehaving
):
    one_line_error(invoke("-q", "run", "-m", "exiting", *TOY), "exiting", "sys.exit(3)")
    runs = _runs(invoke)
    assert [r["status"] for r in runs] == ["failed"]
    assert "sys.exit(3)" in runs[0]["error"]
    one_line_error(invoke("-q", "run", "--resume", runs[0]["run_id"]), "sys.exit(3)")
    assert [r["status"] for r in _runs(invoke)] == ["failed"]


def test_predict_returning_a_dict_names_the_predictions_contract(invoke, misbehaving):
    one_line_error(invoke("-q", "run", "-m", "dictpredict", *TOY), "dictpredict", "Predictions")


def test_a_nan_loss_names_the_method(invoke, testplugins):
    one_line_error(invoke("-q", "run", "-m", "diverging", *TOY), "method 'diverging'", "nan")


def test_a_thread_count_out_of_range_in_the_environment_is_named_and_stores_nothing(
    invoke, monkeypatch
):
    monkeypatch.setenv("ANOBENCH_THREADS", "5000")
    one_line_error(invoke("-q", "run", "-m", "meandiff", *SYNTH), "ANOBENCH_THREADS", "1024")
    assert _runs(invoke) == []
