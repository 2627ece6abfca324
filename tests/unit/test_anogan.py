"""The ``anogan`` and ``fanogan`` plugins beyond the shared contract."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from anobench_anogan import AnoGAN, FAnoGAN
from anobench_anogan import networks as nets
from anobench_anogan.mapping import initial_latents, latent_search

from anobench import RunContext
from anobench.testing import make_context, toy_split

TRAIN = toy_split(8, 0, size=32, seed=1, name="train")
VAL = toy_split(4, 0, size=32, seed=2, name="val")
TEST = toy_split(3, 3, size=32, seed=3, name="test")


def _ctx(workdir, seed=0, max_steps=None) -> RunContext:
    return make_context(workdir, seed=seed, max_steps=max_steps)


def _method(cls, **overrides):
    return cls(**cls.resolve("quick", {**cls.test_options, **overrides}))


def _weights(method) -> dict[str, torch.Tensor]:
    return {
        f"{net}.{k}": v.clone()
        for net, sd in method.state_dict()["nets"].items()
        for k, v in sd.items()
    }


def _count(module) -> float:
    return round(sum(p.numel() for p in module.parameters()) / 1e6, 2)


@pytest.mark.parametrize("size", [32, 64, 128, 256])
def test_every_size_builds_with_the_right_shapes(size):
    x = torch.zeros(2, 3, size, size)
    with torch.no_grad():
        g = nets.DCGANGenerator(size, 3, latent_dim=6, base=4).eval()
        d = nets.DCGANDiscriminator(size, 3, base=4).eval()
        assert g(torch.zeros(2, 6)).shape == x.shape
        assert d(x).shape == (2,)
        assert d.features(x).shape == (2, nets.width(nets.stages(size) - 1, 4) * 16)
        rg = nets.ResNetGenerator(size, 3, latent_dim=6, base=2).eval()
        critic = nets.ResNetCritic(size, 3, base=2).eval()
        enc = nets.Encoder(size, 3, latent_dim=6, base=2).eval()
        assert rg(torch.zeros(2, 6)).shape == x.shape
        assert critic(x).shape == (2,)
        assert critic.features(x).shape == (2, 8 * 2 * 16)  # 8*base x 4 x 4 at every size
        z = enc(x)
        assert z.shape == (2, 6) and z.abs().max() < 1


def test_published_parameter_counts_at_64px():
    # official f-AnoGAN nets (baselines.md 2.1): G 8.54 M, D 7.49 M, E 8.53 M; DCGAN 3.57/2.76 M
    assert _count(nets.ResNetGenerator(64, 1)) == 8.54
    assert _count(nets.ResNetCritic(64, 1)) == 7.49
    assert _count(nets.Encoder(64, 1)) == 8.53
    assert _count(nets.DCGANGenerator(64, 1)) == 3.57
    assert _count(nets.DCGANDiscriminator(64, 1)) == 2.76


def test_critic_normalisation_is_per_sample():
    critic = nets.ResNetCritic(32, 1, base=2)
    x = torch.randn(5, 1, 32, 32)
    torch.testing.assert_close(critic(x)[:2], critic(x[:2]))


def _literal_down_block(block, x):
    """The WGAN-GP code's down block, step by step: conv, conv, mean-pool; pool, 1x1 conv."""
    h = block.conv1(torch.relu(block.norm1(x)))
    h = block.conv2(torch.relu(block.norm2(h)))
    return block.shortcut(torch.nn.functional.avg_pool2d(x, 2)) + torch.nn.functional.avg_pool2d(
        h, 2
    )


@pytest.mark.parametrize("norm", ["layer", "batch"])
def test_down_block_equals_conv_then_mean_pool_with_its_gradients(norm):
    torch.manual_seed(0)
    block = nets.ResBlock(3, 6, "down", norm).double()
    x = torch.randn(4, 3, 16, 16, dtype=torch.float64, requires_grad=True)
    outputs = []
    for forward in (block, lambda v: _literal_down_block(block, v)):
        y = forward(x)
        # the gradient penalty differentiates the input gradient again: compare both orders
        (gx,) = torch.autograd.grad(y.pow(2).sum(), x, create_graph=True)
        params = torch.autograd.grad(gx.pow(2).sum(), list(block.parameters()))
        outputs.append([y, gx, *params])
    for fused, literal in zip(*outputs, strict=True):
        torch.testing.assert_close(fused, literal, rtol=1e-10, atol=1e-12)


def test_conv_mean_pool_keeps_odd_positions_and_the_bias():
    conv = torch.nn.Conv2d(1, 1, 3, 1, 1).double()
    with torch.no_grad():
        conv.weight.copy_(torch.arange(9.0, dtype=torch.float64).view(1, 1, 3, 3))
        conv.bias.fill_(0.5)
    x = torch.zeros(1, 1, 6, 6, dtype=torch.float64)
    x[0, 0, 3, 5] = 1.0  # a lone pixel on the last column, odd row
    expected = torch.nn.functional.avg_pool2d(conv(x), 2)
    torch.testing.assert_close(nets.conv_mean_pool(conv, x), expected, rtol=0, atol=1e-12)
    assert expected[0, 0, 1, 2] != 0.5  # the pixel reaches the pooled output (not all bias)


@pytest.mark.parametrize("cls", [AnoGAN, FAnoGAN])
def test_a_few_steps_keep_losses_finite_and_change_weights(cls, tmp_path):
    untrained = _method(cls).fit(TRAIN, VAL, _ctx(tmp_path / "a", max_steps=0))
    ctx = _ctx(tmp_path / "b", max_steps=3)
    trained = _method(cls, gan_epochs=2.0).fit(TRAIN, VAL, ctx)
    assert max(r["step"] for r in ctx.history) == 3
    assert all(np.isfinite(v) for r in ctx.history for v in r.values())
    before, after = _weights(untrained), _weights(trained)
    for net in cls.net_names:  # f-AnoGAN: 2 WGAN iterations, then 1 encoder step
        keys = [k for k in before if k.startswith(f"{net}.") and k.endswith("weight")]
        assert any(not torch.equal(before[k], after[k]) for k in keys), net


def test_fanogan_trains_both_stages_in_order(tmp_path):
    # 8 images, batch 4, n_critic 2: 1 epoch = 1 WGAN iteration; then 2 encoder steps
    ctx = _ctx(tmp_path)
    _method(FAnoGAN, gan_epochs=2.0, encoder_steps=2).fit(TRAIN, VAL, ctx)
    rows = [r for r in ctx.history if "val_loss_enc" not in r]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert "loss_g" not in rows[0] and "loss_g" in rows[1]  # the first iteration is critic-only
    assert all("loss_enc" in r for r in rows[2:])


@pytest.mark.parametrize(
    ("cls", "options", "stop"),
    [
        (AnoGAN, {"gan_epochs": 2.0}, 3),
        (FAnoGAN, {"gan_epochs": 3.0, "encoder_steps": 3}, 2),  # interrupted in the WGAN stage
        (FAnoGAN, {"gan_epochs": 3.0, "encoder_steps": 3}, 5),  # interrupted in the encoder stage
    ],
)
def test_a_resumed_fit_ends_with_the_same_weights(cls, options, stop, tmp_path):
    whole_ctx = _ctx(tmp_path / "whole")
    whole = _method(cls, **options).fit(TRAIN, VAL, whole_ctx)
    _method(cls, **options).fit(TRAIN, VAL, _ctx(tmp_path / "parts", max_steps=stop))
    ctx = _ctx(tmp_path / "parts")
    resumed = _method(cls, **options).fit(TRAIN, VAL, ctx)
    steps = [r["step"] for r in ctx.history if "val_loss_enc" not in r]
    assert steps == [r["step"] for r in whole_ctx.history if "val_loss_enc" not in r]
    assert steps == sorted(set(steps))  # continued, not restarted
    a, b = _weights(whole), _weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert whole.predict(TEST.images, ctx).scores.tolist() == (
        resumed.predict(TEST.images, ctx).scores.tolist()
    )


def test_batched_latent_search_equals_per_image_search():
    """One z per image and a summed loss: batching changes nothing (float64, atol 1e-10)."""
    torch.manual_seed(0)
    g = nets.DCGANGenerator(32, 1, latent_dim=6, base=4).double().eval()
    d = nets.DCGANDiscriminator(32, 1, base=4).double().eval()
    for net in (g, d):  # non-trivial BN running statistics
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    x = torch.from_numpy(TEST.images[:4]).double()
    z0 = initial_latents(TEST.images[:4], seed=7, dim=6).double()
    options = {"steps": 25, "lr": 0.05, "betas": (0.5, 0.999), "lam": 0.1}
    batched = latent_search(g, d, x, z0, **options)
    for i in range(4):
        alone = latent_search(g, d, x[i : i + 1], z0[i : i + 1], **options)
        torch.testing.assert_close(batched.latent[i : i + 1], alone.latent, atol=1e-10, rtol=0)
        torch.testing.assert_close(batched.score[i : i + 1], alone.score, atol=1e-9, rtol=0)
    # the search moved z and lowered the loss; score = the final loss, recomputed by hand
    start = latent_search(g, d, x, z0, **{**options, "steps": 0})
    assert (batched.score < start.score).all()
    recon = g(batched.latent)
    by_hand = 0.9 * (x - recon).abs().sum(dim=(1, 2, 3)) + 0.1 * (
        d.features(x) - d.features(recon)
    ).abs().sum(dim=1)
    torch.testing.assert_close(batched.score, by_hand.detach())


def test_initial_latents_depend_only_on_the_image():
    images = TEST.images
    z = initial_latents(images, seed=3, dim=5)
    torch.testing.assert_close(initial_latents(images[2:4], seed=3, dim=5), z[2:4])
    assert z.abs().max() <= 1 and not torch.equal(z[0], z[1])
    assert not torch.equal(initial_latents(images[:1], seed=4, dim=5), z[:1])


def test_anogan_predictions(tmp_path):
    method = _method(AnoGAN).fit(TRAIN, VAL, _ctx(tmp_path, max_steps=2))
    with torch.inference_mode():  # as the runner calls it: the search must still get gradients
        pred = method.predict(TEST.images, _ctx(tmp_path))
    recon = pred.extras["reconstruction"]
    assert recon.shape == TEST.images.shape
    np.testing.assert_allclose(pred.maps, np.abs(TEST.images - recon).mean(axis=1), atol=1e-6)


def test_fanogan_score_decomposes_into_image_and_feature_mse(tmp_path):
    kappa = 0.7
    method = _method(FAnoGAN, kappa=kappa, gan_epochs=2.0, encoder_steps=2)
    method.fit(TRAIN, VAL, _ctx(tmp_path))
    pred = method.predict(TEST.images, _ctx(tmp_path))
    gen, critic, enc = (method.nets_[k] for k in ("generator", "critic", "encoder"))
    x = torch.from_numpy(TEST.images)
    with torch.no_grad():
        recon = gen(enc(x))
        image_mse = ((x - recon) ** 2).mean(dim=(1, 2, 3))
        feature_mse = ((critic.features(x) - critic.features(recon)) ** 2).mean(dim=1)
    assert critic.features(x).shape[1] == 8 * method.base_width * 16
    np.testing.assert_allclose(pred.scores, (image_mse + kappa * feature_mse).numpy(), rtol=1e-5)
    np.testing.assert_allclose(pred.maps, (x - recon).abs().mean(dim=1).numpy(), atol=1e-6)
    np.testing.assert_allclose(pred.extras["reconstruction"], recon.numpy(), atol=1e-6)


@pytest.mark.parametrize("cls", [AnoGAN, FAnoGAN])
@pytest.mark.parametrize(
    ("precision", "dtype"), [("bf16", torch.bfloat16), ("fp32", torch.float32)]
)
def test_training_computes_in_the_chosen_precision_and_the_mapping_in_fp32(
    cls, precision, dtype, monkeypatch, tmp_path
):
    seen: list[torch.dtype] = []
    original = cls._build

    def build(self, size, channels):
        modules = original(self, size, channels)
        for net in modules.values():
            for m in net.modules():
                if isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d | torch.nn.Linear):
                    m.register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))
        return modules

    monkeypatch.setattr(cls, "_build", build)
    ctx = _ctx(tmp_path, max_steps=3)  # f-AnoGAN: its encoder stage too
    options = {"gan_epochs": 2.0, "encoder_steps": 1} if cls is FAnoGAN else {"gan_epochs": 2.0}
    # no val images: the encoder's validation (in fp32, like prediction) has nothing to run
    empty = toy_split(0, 0, size=32, seed=2, name="val")
    method = _method(cls, precision=precision, **options).fit(TRAIN, empty, ctx)
    training = set(seen)  # every layer of every network, in every training step
    if cls is FAnoGAN:
        assert any("loss_enc" in r for r in ctx.history)
    assert training == {dtype}, training
    assert all(np.isfinite(v) for r in ctx.history for v in r.values())
    assert all(v.dtype == torch.float32 for v in _weights(method).values() if v.is_floating_point())
    seen.clear()
    with torch.inference_mode():
        pred = method.predict(TEST.images, _ctx(tmp_path))
    assert set(seen) == {torch.float32}
    assert np.isfinite(pred.maps).all() and np.isfinite(pred.scores).all()
