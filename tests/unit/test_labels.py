"""Labels of configurations: the differences from the profile, their text, and the hash kept
where labels would still collide."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from anobench import MetricResult
from anobench.api import overrides
from anobench.api.records import RunSpec
from anobench.results import labels, render, tabulate
from anobench.results.store import Store

HIT = SimpleNamespace(level="image", higher_is_better=True, oracle=False, resample=None)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (5, "5"),
        (1500.0, "1500"),
        (0.0002, "0.0002"),
        (1e-05, "1e-05"),
        (0.1 + 0.2, "0.30000000000000004"),
        (True, "true"),
        (False, "false"),
        (None, "none"),
        ("fp32", "fp32"),
    ],
)
def test_values_are_written_as_the_command_line_takes_them(value, text):
    assert labels.fmt_value(value) == text


def test_label_sorts_the_changes_and_keeps_the_precision():
    changes = {"time_budget": 1500.0, "epochs": 5}
    assert labels.label("descargan", "quick", "bf16", changes) == (
        "descargan (quick, bf16; epochs=5, time_budget=1500)"
    )
    assert labels.label("meandiff", "quick", "", {}) == "meandiff (quick)"
    assert labels.label("meandiff", "quick", "", None) == "meandiff (quick)"


def test_differences_are_the_options_off_the_profile_and_the_run_settings():
    spec = RunSpec(
        "toy",
        "brightness",
        {"n": 4, "size": 16},
        {"steps": 5, "lr": 0.1},
        profile="quick",
        max_steps=7,
    )
    found = overrides.differences(spec, {"n": 6, "size": 16}, {"steps": 5, "lr": 0.01})
    assert found == {"dataset": {"n": 4}, "method": {"lr": 0.1}, "run": {"max_steps": 7}}
    assert overrides.method_part(found) == {"lr": 0.1, "max_steps": 7}
    # a method option named like a run-level setting keeps both apart
    clash = {"method": {"max_steps": 3}, "run": {"max_steps": 7}}
    assert overrides.method_part(clash) == {"max_steps": 3, "run.max_steps": 7}
    assert overrides.method_part(None) is None and overrides.dataset_part(None) is None


def _add(store, run_id, spec, stored):
    provenance = {"seed": spec.seed} if stored is None else {"overrides": stored}
    store.start_run(run_id, spec, provenance, "hit")
    store.finish_run(run_id, {"hit": (HIT, MetricResult(0.5))}, provenance)


def test_configurations_without_known_overrides_keep_the_hash(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        for steps in (3, 4):
            _add(store, f"r{steps}", RunSpec("toy", "m", {}, {"steps": steps}), None)
        board = tabulate.build(store, resamples=0)
        (table,) = board.tables
        found = sorted(row.label for row in table.rows)
        hashes = sorted(row.method_hash[:6] for row in table.rows)
        assert found == sorted(f"m (quick) [{h}]" for h in hashes)
        assert table.label == "toy (quick)" and table.dataset_overrides is None
        assert [r["overrides"] for r in render.records(board)] == [None, None]
        # backfilled from the profiles, the labels say what differs and need no hash
        board = tabulate.build(
            store,
            resamples=0,
            backfill=lambda spec: overrides.differences(spec, {}, {"steps": 3}),
        )
        assert sorted(row.label for row in board.tables[0].rows) == [
            "m (quick)",
            "m (quick; steps=4)",
        ]


def test_one_dataset_configuration_reached_from_two_profiles_names_both(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        quick = RunSpec("toy", "m", {"size": 32}, {}, profile="quick")
        paper = RunSpec("toy", "m", {"size": 32}, {}, profile="paper")
        _add(store, "q", quick, {"dataset": {"size": 32}, "method": {}, "run": {}})
        _add(store, "p", paper, {"dataset": {}, "method": {}, "run": {}})
        (table,) = tabulate.build(store, resamples=0).tables
    assert table.label == "toy (paper | quick; size=32)"
    assert table.dataset_overrides is None
    assert table.title.startswith("toy (paper | quick; size=32) [")
    assert sorted(row.label for row in table.rows) == ["m (paper)", "m (quick)"]
