"""anobench.testing: one check per rule per plugin, broken rules all reported, xfail declarable."""

from __future__ import annotations

import pytest

from anobench.api import registry
from anobench.testing import check_method, checks, parametrize_with_checks

METHOD_RULES = [
    "declaration",
    "profiles",
    "constructor",
    "healthy training",
    "fit-predict shapes",
    "budget",
    "determinism",
    "batch independence",
    "save-load",
    "parameters",
]


def _twice_broken(testplugins):
    """A method that breaks two independent rules: its profiles and its parameter count."""
    brightness = registry.get_method("brightness")
    return type(
        "TwiceBroken",
        (brightness,),
        {"name": "twicebroken", "profiles": {"quick": {}}, "num_parameters": lambda self: -1},
    )


def test_one_check_per_rule_with_its_own_id(testplugins):
    found = checks(registry.get_method("brightness"))
    assert [c.rule for c in found] == METHOD_RULES
    assert [c.id for c in found][:2] == [
        "method:brightness-declaration",
        "method:brightness-profiles",
    ]
    assert len({c.id for c in found}) == len(found)
    metric = checks(registry.get_metric("pixel_ap"))
    assert {c.kind for c in metric} == {"metric"} and "resample" in [c.rule for c in metric]


def test_each_check_fails_alone(testplugins, tmp_path):
    outcome = {}
    for check in checks(_twice_broken(testplugins), workdir=tmp_path):
        try:
            check()
            outcome[check.rule] = "ok"
        except AssertionError as exc:
            outcome[check.rule] = str(exc)
    assert "needs a 'paper' profile" in outcome.pop("profiles")
    assert "num_parameters() must be a non-negative int" in outcome.pop("parameters")
    assert set(outcome.values()) == {"ok"}


def test_collect_reports_every_broken_rule_and_the_default_stops_at_the_first(
    testplugins, tmp_path
):
    cls = _twice_broken(testplugins)
    with pytest.raises(AssertionError) as first:
        check_method(cls, workdir=tmp_path / "a")
    assert "paper" in str(first.value) and "num_parameters" not in str(first.value)
    with pytest.raises(AssertionError, match="2 broken rule") as every:
        check_method(cls, workdir=tmp_path / "b", collect=True)
    assert "[profiles]" in str(every.value) and "[parameters]" in str(every.value)
    passed = check_method(
        cls,
        workdir=tmp_path / "c",
        expected_failures={"profiles": "quick only", "parameters": "counts nothing"},
    )
    assert passed == [r for r in METHOD_RULES if r not in ("profiles", "parameters")]


def test_expected_failures_are_strict_xfails_and_typos_are_refused(testplugins):
    cls = _twice_broken(testplugins)
    mark = parametrize_with_checks([cls], expected_failures={"twicebroken": {"parameters": "why"}})
    assert mark.args[0] == "check"
    params = {p.id: p for p in mark.args[1]}
    assert list(params) == [f"method:twicebroken-{r.replace(' ', '-')}" for r in METHOD_RULES]
    (xfail,) = params["method:twicebroken-parameters"].marks
    assert xfail.name == "xfail" and xfail.kwargs == {"reason": "why", "strict": True}
    assert not params["method:twicebroken-profiles"].marks
    with pytest.raises(ValueError, match="paramaters"):
        parametrize_with_checks([cls], expected_failures={"twicebroken": {"paramaters": "typo"}})


def test_a_class_that_is_no_plugin_fails_its_one_check():
    (check,) = checks(int)
    with pytest.raises(AssertionError, match="no plugin"):
        check()
    with pytest.raises(AssertionError, match=r"must subclass anobench\.Method"):
        check_method(int)
