from __future__ import annotations

import pytest
from anobench_reference import ZScore

from anobench import ConfigError, Option, option_set

OPTS = option_set(
    Option("size", int, 64, choices=(32, 64)),
    Option("rate", float, 0.1, minimum=0.0),
    Option("decay", float, 0.0, minimum=0.0, below=1.0),
    Option("flag", bool, False),
    Option("name", str, "a"),
    Option("limit", int, None, nullable=True),
)


def test_parse_pairs_types_values():
    got = OPTS.parse_pairs(
        ["size=32", "rate=1e-3", "flag=yes", "name=b", "limit=none"], "m", "--method-opt"
    )
    assert got == {"size": 32, "rate": 1e-3, "flag": True, "name": "b", "limit": None}


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("size=abc", "option 'size' expects int"),
        ("siez=32", "unknown option 'siez'.*Did you mean size"),
        ("flag=maybe", "option 'flag' expects bool"),
        ("noequals", "expected key=value"),
    ],
)
def test_parse_pairs_rejects_bad_input(pair, message):
    with pytest.raises(ConfigError, match=message):
        OPTS.parse_pairs([pair], "method 'm'", "--method-opt")


def test_resolve_checks_choices_and_minimum():
    with pytest.raises(ConfigError, match="must be one of 32, 64"):
        OPTS.resolve({"size": 48}, "m")
    with pytest.raises(ConfigError, match=r">= 0\.0"):
        OPTS.resolve({"rate": -1.0}, "m")
    assert OPTS.resolve({"rate": 1}, "m")["rate"] == 1.0


def test_resolve_checks_the_exclusive_upper_bound():
    assert OPTS.resolve({"decay": 0.999}, "m")["decay"] == 0.999
    with pytest.raises(ConfigError, match=r"m: option 'decay' must be < 1\.0, got 1\.0"):
        OPTS.resolve({"decay": 1.0}, "m")


def test_plugin_profiles_and_constructor_store_options():
    assert ZScore.resolve("paper", {"score": "max"})["score"] == "max"
    with pytest.raises(ConfigError, match="no profile 'fast'"):
        ZScore.resolve("fast", {})
    with pytest.raises(ConfigError, match="unknown option"):
        ZScore(bogus=1)
    model = ZScore(min_std=0.5)
    assert model.get_params() == {"score": "mean", "min_std": 0.5}


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "Infinity"])
def test_float_options_reject_nan_and_infinity(text):
    with pytest.raises(ConfigError, match=r"^m: option 'rate' must be a finite number, got "):
        OPTS.parse_pairs([f"rate={text}"], "m", "--method-opt")
    with pytest.raises(ConfigError, match="option 'rate' must be a finite number"):
        OPTS.resolve({"rate": float(text)}, "m")


def test_float_option_may_opt_in_to_non_finite_values():
    opts = option_set(Option("cap", float, float("inf"), finite=False))
    assert opts.parse_pairs(["cap=inf"], "m", "--method-opt") == {"cap": float("inf")}
    assert opts.resolve({}, "m") == {"cap": float("inf")}
