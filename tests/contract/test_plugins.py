"""Every registered plugin (built-in or installed third-party) passes the same contract."""

from __future__ import annotations

import importlib

import pytest

from anobench.api import registry
from anobench.results.figures import IMAGE_EXTRAS
from anobench.testing import check_dataset, check_method, check_metric, parametrize_with_checks

#: methods that only classify: they produce no image to show between input and map
PURE_CLASSIFIERS = {"classifier"}
#: the anomalib bridge returns anomalib's scores and maps, and no image
ANOMALIB = {"patchcore", "padim", "stfpm", "reverse_distillation", "fastflow", "draem", "ganomaly"}
ANOMALIB |= set(getattr(importlib.import_module("anobench_anomalib"), "METHODS", {}))


def _names(kind: str) -> list[str]:
    return [p.name for p in registry.available(kind)]


def test_every_registered_plugin_imports():
    broken = [
        f"{p.kind} {p.name}: {p.error}"
        for kind in registry.KINDS
        for p in registry.available(kind)
        if p.status != "ok"
    ]
    assert not broken, broken


def _loaded(kind: str) -> list[type]:
    # a plugin that fails to import is reported by test_every_registered_plugin_imports
    return [p.load() for p in registry.available(kind) if p.status == "ok"]


@parametrize_with_checks(_loaded("method"))
def test_method_contract(check):
    check()


@parametrize_with_checks(_loaded("dataset"))
def test_dataset_contract(check):
    check()


@parametrize_with_checks(_loaded("metric"))
def test_metric_contract(check):
    check()


def test_the_checks_catch_a_broken_method(testplugins, tmp_path):
    with pytest.raises(AssertionError, match="NaN"):
        check_method(registry.get_method("nanmaps"), workdir=tmp_path)
    with pytest.raises(AssertionError, match="maps of shape"):
        check_method(registry.get_method("badshape"), workdir=tmp_path)


@pytest.mark.parametrize("name", _names("method"))
def test_method_handles_several_channels(name, tmp_path):
    from anobench.testing import make_context, toy_split

    cls = registry.get_method(name)
    train = toy_split(4, 4, size=32, channels=3, seed=1)
    test = toy_split(2, 2, size=32, channels=3, seed=3, name="test")
    if cls.supervision == "unsupervised":
        train = train.subset(train.labels == 0)
    method = cls(**cls.resolve("quick", cls.test_options))
    method.fit(train, train, make_context(tmp_path, max_steps=1))
    pred = method.predict(test.images, make_context(tmp_path))
    # a model with an image score only (anomalib's DFKDE) says so with no maps
    assert pred.scores.shape == (4,)
    assert pred.maps is None or pred.maps.shape == (4, 32, 32)
    images = {k: v for k, v in pred.extras.items() if k in IMAGE_EXTRAS}
    if name not in PURE_CLASSIFIERS | ANOMALIB:
        assert images, "every generative built-in shows a reconstruction or translation"
    assert all(v.shape == (4, 3, 32, 32) for v in images.values())


def test_the_checks_catch_key_metrics_that_are_no_metrics(testplugins):
    toy = registry.get_dataset("toy")
    typo = type("Typo", (toy,), {"key_metrics": ("pixel_ap", "pixel_aq")})
    with pytest.raises(AssertionError, match=r"key_metrics names 'pixel_aq'.*pixel_ap"):
        check_dataset(typo)
    one = type("One", (toy,), {"key_metrics": "pixel_ap"})
    with pytest.raises(AssertionError, match="key_metrics must be a tuple"):
        check_dataset(one)


def test_the_checks_catch_a_long_short_name():
    cls = registry.get_metric("image_auroc")
    long = type("Long", (cls,), {"short_name": "image AUROC (exact)"})
    with pytest.raises(AssertionError, match="short_name must be a string of at most 12"):
        check_metric(long)


def test_the_built_in_datasets_declare_their_key_metrics():
    assert registry.get_dataset("synthetic").key_metrics == (
        "pixel_ap",
        "pixel_dice",
        "pixel_auroc",
        "image_auroc",
    )
    assert registry.get_dataset("chexpert").key_metrics == (
        "image_auroc",
        "image_ap",
        "image_balanced_accuracy",
    )
