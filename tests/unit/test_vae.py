"""The ``vae`` and ``ae`` plugins beyond the shared contract: sizes, training, resume, options."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from anobench_vae import AE, VAE
from anobench_vae.network import ConvAutoencoder

from anobench import ConfigError, RunContext
from anobench.testing import make_context, toy_split

from .conv_dtypes import record_conv_dtypes


def _ctx(workdir, seed=0, max_steps=None) -> RunContext:
    return make_context(workdir, seed=seed, max_steps=max_steps)


def _method(cls, **overrides):
    return cls(**cls.resolve("quick", {**cls.test_options, **overrides}))


def _weights(method) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in method.state_dict()["net"].items()}


TRAIN = toy_split(8, 0, size=32, seed=1, name="train")
VAL = toy_split(4, 0, size=32, seed=2, name="val")


@pytest.mark.parametrize("size", [32, 64, 128, 256])
@pytest.mark.parametrize("variational", [True, False])
def test_every_size_builds_with_the_right_shapes(size, variational):
    net = ConvAutoencoder(size, 3, variational=variational, latent_dim=5, hidden=8, base=4).eval()
    x = torch.zeros(2, 3, size, size)
    with torch.no_grad():
        recon, mu, log_var = net(x)
    assert recon.shape == x.shape and mu.shape == (2, 5)
    assert (log_var is not None) == variational
    # the bottleneck always sees 4 * base channels at 4 x 4, whatever the size
    assert net.to_latent[0].in_features == 16 * 4 * 4


def test_published_parameter_counts_at_64px():
    # MedIAnomaly 64 px nets: VAE ~2.37 M, AE ~2.35 M (baselines.md 3.1 A)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert round(count(ConvAutoencoder(64, 1, variational=True)) / 1e6, 2) == 2.37
    assert round(count(ConvAutoencoder(64, 1, variational=False)) / 1e6, 2) == 2.35


@pytest.mark.parametrize("cls", [VAE, AE])
def test_a_few_steps_keep_losses_finite_and_change_weights(cls, tmp_path):
    untrained = _method(cls).fit(TRAIN, VAL, _ctx(tmp_path / "a", max_steps=0))
    ctx = _ctx(tmp_path / "b", max_steps=3)
    trained = _method(cls, epochs=2.0).fit(TRAIN, VAL, ctx)
    rows = [r for r in ctx.history if "loss" in r]
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert all(np.isfinite(v) for r in ctx.history for v in r.values())
    assert ("kl" in rows[0]) == (cls is VAE)
    before, after = _weights(untrained), _weights(trained)
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert len(changed) > len(before) // 2


@pytest.mark.parametrize("cls", [VAE, AE])
def test_a_resumed_fit_ends_with_the_same_weights(cls, tmp_path):
    # 8 images, batch 4, 2 epochs = 4 steps; checkpoints every 2 steps
    options = {"epochs": 2.0}
    whole = _method(cls, **options).fit(TRAIN, VAL, _ctx(tmp_path / "whole"))
    _method(cls, **options).fit(TRAIN, VAL, _ctx(tmp_path / "parts", max_steps=3))
    ctx = _ctx(tmp_path / "parts")
    resumed = _method(cls, **options).fit(TRAIN, VAL, ctx)
    # the log of the resumed run continues the first one (a restart would repeat steps 1-3)
    assert [r["step"] for r in ctx.history if "loss" in r] == [1, 2, 3, 4]
    a, b = _weights(whole), _weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_map_and_score_options(tmp_path):
    test = toy_split(3, 3, size=32, seed=3, name="test")
    base = _method(VAE).fit(TRAIN, VAL, _ctx(tmp_path, max_steps=2))
    state = base.state_dict()

    def predict(**options):
        method = _method(VAE, **options)
        method.load_state_dict(state)
        return method.predict(test.images, _ctx(tmp_path))

    squared, absolute = predict(map="squared"), predict(map="abs")
    np.testing.assert_allclose(squared.maps, absolute.maps**2, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(squared.scores, squared.maps.mean(axis=(1, 2)), rtol=1e-5)
    peak = predict(score="max")
    np.testing.assert_allclose(peak.scores, squared.maps.max(axis=(1, 2)), rtol=1e-6)
    elbo = predict(score="elbo")
    assert np.all(elbo.scores >= squared.scores - 1e-6)  # reconstruction MSE + weight * KL >= MSE
    smooth = predict(smooth_sigma=1.5)
    assert smooth.maps.shape == squared.maps.shape and smooth.maps.std() < squared.maps.std()
    assert squared.extras["reconstruction"].shape == test.images.shape
    with pytest.raises(ConfigError, match="score"):
        _method(AE, score="elbo")


@pytest.mark.parametrize("cls", [VAE, AE])
@pytest.mark.parametrize(
    ("precision", "dtype"), [("bf16", torch.bfloat16), ("fp32", torch.float32)]
)
def test_training_steps_compute_in_the_chosen_precision_and_prediction_in_fp32(
    cls, precision, dtype, monkeypatch, tmp_path
):
    seen = record_conv_dtypes(monkeypatch, cls)
    ctx = _ctx(tmp_path, max_steps=2)
    method = _method(cls, precision=precision, epochs=2.0).fit(TRAIN, VAL, ctx)
    assert seen["grad"] and set(seen["grad"]) == {dtype}
    assert all(np.isfinite(v) for r in ctx.history for v in r.values())
    # the weights stay fp32 and contiguous: stored and predicted as before
    assert all(v.dtype == torch.float32 for v in _weights(method).values() if v.is_floating_point())
    seen["no_grad"].clear()
    pred = method.predict(VAL.images, _ctx(tmp_path))
    assert set(seen["no_grad"]) == {torch.float32}
    assert pred.maps.dtype == np.float32 and np.isfinite(pred.maps).all()


@pytest.mark.parametrize(("cls", "quick_epochs"), [(AE, 50.0), (VAE, 100.0)])
def test_quick_differs_from_the_paper_recipe_only_in_its_epochs(cls, quick_epochs):
    # chosen on the synthetic val split (README, "Profiles"); paper keeps MedIAnomaly's 250
    paper = cls.resolve("paper", {})
    quick = cls.resolve("quick", {})
    assert paper["epochs"] == 250.0 and quick["epochs"] == quick_epochs
    assert {k: v for k, v in quick.items() if k != "epochs"} == {
        k: v for k, v in paper.items() if k != "epochs"
    }
