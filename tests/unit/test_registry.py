from __future__ import annotations

import pytest

from anobench.api import registry
from anobench.api.errors import PluginError

from ..distributions import activate, write_distribution


def test_builtins_are_found_through_entry_points():
    assert {"meandiff", "zscore"} <= set(registry.names("method"))
    assert "synthetic" in registry.names("dataset")
    assert {"pixel_ap", "image_auroc", "pixel_dice_oracle"} <= set(registry.names("metric"))
    info = registry.info("method", "meandiff")
    assert info.distribution == "anobench"
    assert registry.get_method("meandiff").name == "meandiff"


def test_wildcards_filter_names():
    assert [p.name for p in registry.available("metric", "pixel_auroc*")] == [
        "pixel_auroc",
        "pixel_auroc_per_image",
    ]


def test_unknown_name_suggests_close_matches():
    with pytest.raises(PluginError, match=r"unknown method 'meandif'.*Did you mean 'meandiff'"):
        registry.get_method("meandif")


def test_broken_plugin_is_reported_and_others_still_load(testplugins):
    broken = registry.info("method", "broken")
    assert broken.status == "broken"
    assert "broken on purpose" in broken.error
    assert "anobench-testplugins" in broken.error
    with pytest.raises(PluginError, match="failed to import"):
        broken.load()
    assert registry.get_method("brightness").name == "brightness"
    assert registry.get_method("meandiff").name == "meandiff"


def test_duplicate_names_name_both_distributions(tmp_path, monkeypatch):
    for dist in ("lab-one", "lab-two"):
        write_distribution(
            tmp_path / dist,
            dist,
            {"anobench.methods": {"twin": f"{dist.replace('-', '_')}_mod:Twin"}},
        )
        activate(monkeypatch, tmp_path / dist)
    with pytest.raises(PluginError) as err:
        registry.get_method("twin")
    assert "lab-one" in str(err.value) and "lab-two" in str(err.value)
    assert registry.info("method", "twin").status == "broken"
    registry.refresh()


def test_unknown_kind_is_a_plugin_error():
    with pytest.raises(PluginError, match="unknown plugin kind"):
        registry.available("model")


def test_a_plugin_missing_its_extra_names_the_pip_line(tmp_path, monkeypatch):
    root = write_distribution(
        tmp_path,
        "third-party",
        {"anobench.methods": {"fancy": "anobench_needsextra:Fancy"}},
        modules=("anobench_needsextra.py",),
    )
    activate(monkeypatch, root)
    try:
        info = registry.info("method", "fancy")
        assert info.status == "needs-extra"
        assert info.error == (
            "method 'fancy' needs pip install \"third-party[fancy]\""
            " (missing: anobench_no_such_module)"
        )
        with pytest.raises(PluginError, match=r'needs pip install "third-party\[fancy\]"'):
            registry.get_method("fancy")
    finally:
        registry.refresh()


def test_require_extra_passes_when_the_modules_exist():
    from anobench import require_extra
    from anobench.api.extras import MissingExtra

    require_extra("x", "json", "numpy")
    with pytest.raises(MissingExtra) as caught:
        require_extra("x", "json", "anobench_no_such_module")
    assert isinstance(caught.value, ImportError)
    assert caught.value.extra == "x" and caught.value.modules == ["anobench_no_such_module"]
