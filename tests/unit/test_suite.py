from __future__ import annotations

from pathlib import Path

import pytest

from anobench import ConfigError
from anobench.run.runner import build_spec
from anobench.run.suite import load_suite

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
SHIPPED = sorted(BENCHMARKS.glob("*.toml"))

TOY = """
name = "toy-suite"
seeds = [0, 1]
device = "cpu"

[[datasets]]
name = "toy"
options = { n = 4 }

[[methods]]
name = "brightness"
options = { steps = 3 }

[[methods]]
name = "brightness"
profile = "paper"
max_steps = 2
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "suite.toml"
    path.write_text(text)
    return path


def test_every_shipped_suite_loads_and_expands(own_datasets):
    names = {path.stem for path in SHIPPED}
    assert {
        "smoke",
        "synthetic-quick",
        "synthetic-paper",
        "chexpert",
        "bmad",
        "medianomaly",
        "synthetic-modern",
    } <= names
    for path in SHIPPED:
        suite = load_suite(path)
        specs = suite.expand()
        assert suite.name == path.stem
        assert len(specs) == len(suite.datasets) * len(suite.methods) * len(suite.seeds)
    quick = load_suite(BENCHMARKS / "synthetic-quick.toml")
    assert quick.seeds == (0, 1, 2) and quick.profile == "quick"
    methods = {m.name for m in quick.methods}
    assert methods >= {"meandiff", "zscore", "vae", "ae", "anogan", "fanogan", "descargan"}
    assert "classifier" in methods
    assert load_suite(BENCHMARKS / "synthetic-paper.toml").expand()[0].profile == "paper"
    # the methods that lead today, in one table with the method they are measured against
    modern = {m.name for m in load_suite(BENCHMARKS / "synthetic-modern.toml").methods}
    assert modern == {"dae", "ddpm_guided", "anoddpm", "descargan", "meandiff"}
    for name, tasks in (("bmad", 6), ("medianomaly", 6)):
        suite = load_suite(BENCHMARKS / f"{name}.toml")
        assert len({d.options["task"] for d in suite.datasets}) == tasks
        assert {m.name for m in suite.methods} == {"meandiff", "zscore", "vae", "ae", "anogan",
                                                   "fanogan", "dae", "anoddpm"}  # fmt: skip


def test_grid_matches_single_runs_exactly(testplugins, tmp_path):
    specs = load_suite(write(tmp_path, TOY)).expand()
    assert [(s.method, s.profile, s.seed) for s in specs] == [
        ("brightness", "quick", 0),
        ("brightness", "quick", 1),
        ("brightness", "paper", 0),
        ("brightness", "paper", 1),
    ]
    single = build_spec(
        dataset="toy",
        method="brightness",
        seed=1,
        device="cpu",
        dataset_options={"n": 4},
        method_options={"steps": 3},
    )
    assert specs[1] == single and specs[1].config_hash() == single.config_hash()
    # the paper profile reaches the dataset too, exactly as 'anobench run --profile paper'
    assert specs[2].dataset_options == {"n": 4, "size": 32} and specs[2].max_steps == 2
    overridden = load_suite(write(tmp_path, TOY)).expand(seeds=[5], device="auto")
    assert [(s.seed, s.device) for s in overridden] == [(5, "auto"), (5, "auto")]


def test_dataset_profile_and_budgets(testplugins, tmp_path):
    text = TOY.replace("options = { n = 4 }", 'profile = "paper"\noptions = { n = 4 }')
    text = text.replace('device = "cpu"', 'device = "cpu"\ntime_budget = 30')
    specs = load_suite(write(tmp_path, text)).expand()
    assert specs[0].profile == "quick" and specs[0].dataset_options["size"] == 32
    assert specs[0].time_budget == 30.0 and specs[0].max_steps is None


def test_environment_variables_in_string_options(testplugins, tmp_path, monkeypatch):
    from anobench.api import registry

    text = """
    seeds = [0]
    [[datasets]]
    name = "synthetic"
    [[methods]]
    name = "zscore"
    options = { score = "${SCORE_KIND}" }
    """
    path = write(tmp_path, text)
    monkeypatch.delenv("SCORE_KIND", raising=False)
    with pytest.raises(ConfigError, match=r"options.score: uses \$\{SCORE_KIND\}, which is not"):
        load_suite(path).expand()
    monkeypatch.setenv("SCORE_KIND", "max")
    assert load_suite(path).expand()[0].method_options["score"] == "max"
    assert registry.get("method", "zscore")


M1 = "[[methods]] #1 (brightness)"
CASES = [
    ("seeds = [0, 1]", "seed = [0, 1]", ["top level", "unknown key 'seed'", "'seeds'"]),
    ("seeds = [0, 1]", "seeds = 3", ["seeds", "non-empty list"]),
    ("seeds = [0, 1]", "seeds = [0, 0]", ["seeds", "repeats a seed"]),
    ("seeds = [0, 1]", "seeds = [0, 1", ["not valid TOML"]),
    ('device = "cpu"', 'device = "tpu"', ["device", "auto, cpu, cuda"]),
    ('device = "cpu"', "max_steps = 0", ["max_steps", "integer >= 1"]),
    ('device = "cpu"', "time_budget = nan", ["time_budget", "finite number of seconds > 0"]),
    ('device = "cpu"', "time_budget = inf", ["time_budget", "finite number of seconds > 0"]),
    ('device = "cpu"', 'profile = "fast"', [": profile: method 'brightness' has no profile"]),
    ('device = "cpu"', 'metrics = ["pixel_apx"]', ["metrics", "Did you mean 'pixel_ap'"]),
    ('name = "toy"', 'name = "toyy"', ["[[datasets]] #1 (toyy)", "unknown dataset"]),
    ('name = "brightness"\noptions', 'name = "brightnes"\noptions', ["Did you mean 'brightness'"]),
    ("steps = 3", "stepz = 3", [f"{M1}: options", "unknown option 'stepz'", "steps"]),
    ("steps = 3", 'steps = "many"', [M1, "'steps' expects int"]),
    ("options = { steps = 3 }", "options = 3", [f"{M1}: options", "expected a table"]),
    ("options = { steps = 3 }", 'colour = "red"', [M1, "unknown key 'colour'"]),
    (
        'profile = "paper"',
        'profile = "huge"',
        ["[[methods]] #2 (brightness): profile", "no profile 'huge'"],
    ),
    ('profile = "paper"', "profile = 1", ["[[methods]] #2 (brightness): profile", "expected str"]),
    ("max_steps = 2", "max_steps = 2.5", ["[[methods]] #2 (brightness): max_steps"]),
    ('[[datasets]]\nname = "toy"\noptions = { n = 4 }', "", ["at least one [[datasets]]"]),
]


@pytest.mark.parametrize(("old", "new", "fragments"), CASES)
def test_mistakes_are_one_config_error_naming_file_and_field(
    testplugins, tmp_path, old, new, fragments
):
    assert old in TOY
    path = write(tmp_path, TOY.replace(old, new))
    with pytest.raises(ConfigError) as info:
        load_suite(path).expand()
    message = str(info.value)
    assert message.startswith(f"suite {path}: ")
    for fragment in fragments:
        assert fragment in message, message


def test_a_repeated_configuration_is_refused(testplugins, tmp_path):
    text = TOY.replace('profile = "paper"\nmax_steps = 2', "options = { steps = 3 }")
    with pytest.raises(ConfigError, match=r"\[\[methods\]\] #2 \(brightness\): repeats the config"):
        load_suite(write(tmp_path, text)).expand()


def test_missing_suite_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_suite(tmp_path / "nope.toml")
