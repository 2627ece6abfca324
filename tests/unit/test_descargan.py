from __future__ import annotations

import dataclasses
import math
import signal

import numpy as np
import pytest
import torch
from anobench_descargan import DeScarGAN, anomaly_map, networks, training
from anobench_descargan import method as method_module
from anobench_descargan.networks import Discriminator, Generator, count_parameters

from anobench import ConfigError, Precision, TrainingDiverged, gaussian_blur
from anobench.run.spec import build_spec
from anobench.testing import make_context, toy_split

from . import descargan_reference as reference

TINY = {**DeScarGAN.test_options, "epochs": 10}


def ctx_for(path, max_steps=None, seed=0):
    return make_context(path, seed=seed, max_steps=max_steps)


def train_split(size=32):
    return toy_split(6, 6, size=size, seed=1)


def test_parameter_counts_match_the_official_networks():
    assert count_parameters(Generator(1, 64)) == 8_528_262
    assert count_parameters(Discriminator(1, 32, 256)) == 18_170_180


def test_d_top_sets_the_channels_of_the_last_stage_only():
    # a literal count of D at width 16, 64 px, its last stage at 8 * 16 = 128 channels
    convs = [(1, 16), (16, 32), (32, 64), (64, 64), (64, 128), (128, 128), (128, 128), (128, 128)]
    convs += [(128, 128)]  # the encoder's last convolution: 8c -> top
    convs += [(128, 128), (128, 128)] * 2 + [(128, 128)] * 2  # two critics, the classifier
    expected = sum(cin * cout * 9 + cout for cin, cout in convs)
    expected += 2 * (128 + 1)  # the critics' 1x1 outputs
    expected += (128 * 64 + 64) + (64 * 2 + 2)  # the classifier's linear layers (2x2 pooled to 1)
    assert count_parameters(Discriminator(1, 16, 64, top=8)) == expected
    model = DeScarGAN(d_width=4, d_top=2)
    model._build(1, 64, torch.device("cpu"))
    critic, logits = model.discriminator_(torch.zeros(2, 1, 64, 64), 0)
    assert model.discriminator_.critics[0][0][0].in_channels == 8
    assert critic.shape == (2, 1, 4, 4) and logits.shape == (2, 2)


@pytest.mark.parametrize("size", [32, 64, 128, 256])
def test_every_size_builds(size):
    g, d = Generator(1, 4), Discriminator(1, 4, size)
    x = torch.zeros(2, 1, size, size)
    with torch.no_grad():
        assert g(x, 0).shape == x.shape
        critic, logits = d(x, 1)
    assert critic.shape == (2, 1, size // 32 + 2, size // 32 + 2)
    assert logits.shape == (2, 2)


def test_training_steps_change_weights_and_keep_losses_finite(tmp_path):
    model = DeScarGAN(**TINY)
    ctx = ctx_for(tmp_path, max_steps=4)
    torch.manual_seed(0)
    model._build(1, 32, torch.device("cpu"))
    before = {k: v.clone() for k, v in model.state_dict()["generator"].items()}
    model.fit(train_split(), train_split(), ctx)
    after = model.state_dict()["generator"]
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed, "no generator weight changed"
    assert len(ctx.history) == 4
    for row in ctx.history:
        assert all(np.isfinite(v) for v in row.values())
    assert {"d_real", "d_gp", "g_id", "g_rec"} <= set(ctx.history[-1])


@pytest.fixture
def one_thread():
    # several CPU threads reduce gradients in a varying order: two uninterrupted runs already
    # differ by ~1e-4 after a few steps, so bit-exact comparisons need one thread
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("extra", [{}, {"g_ema": 0.7, "g_skip": True}], ids=["paper", "ema"])
def test_resume_ends_with_the_same_weights(tmp_path, one_thread, extra):
    data = train_split()
    options = {**TINY, **extra}
    straight = DeScarGAN(**options).fit(data, data, ctx_for(tmp_path / "a", max_steps=6))
    first = DeScarGAN(**options).fit(data, data, ctx_for(tmp_path / "b", max_steps=3))
    assert first.state_dict()  # stopped after 3 steps with a checkpoint
    ctx = ctx_for(tmp_path / "b", max_steps=6)
    resumed = DeScarGAN(**options).fit(data, data, ctx)
    assert [row["step"] for row in ctx.history] == [1, 2, 3, 4, 5, 6]
    for part in ("generator", "discriminator"):
        a, b = straight.state_dict()[part], resumed.state_dict()[part]
        for key in a:
            assert torch.equal(a[key], b[key]), (part, key)


def test_a_stop_signal_checkpoints_and_the_resume_ends_with_the_same_weights(
    tmp_path, one_thread, monkeypatch
):
    data = train_split()
    options = {**TINY, "warmup": 2, "g_ema": 0.7}
    straight = DeScarGAN(**options).fit(data, data, ctx_for(tmp_path / "a", max_steps=6))
    ctx = ctx_for(tmp_path / "b", max_steps=6)
    real, calls = training.gan_iteration, []  # method.py imports it from there on each call

    def stopped_in_the_second(*args, **kwargs):  # a SIGTERM during iteration 4 (a G step)
        calls.append(1)
        if len(calls) == 2:
            assert ctx.request_stop(signal.SIGTERM)
        return real(*args, **kwargs)

    monkeypatch.setattr(training, "gan_iteration", stopped_in_the_second)
    with pytest.raises(KeyboardInterrupt):
        DeScarGAN(**options).fit(data, data, ctx)
    monkeypatch.setattr(training, "gan_iteration", real)
    assert torch.load(ctx.checkpoint_path, weights_only=True)["step"] == 4
    ctx = ctx_for(tmp_path / "b", max_steps=6)
    resumed = DeScarGAN(**options).fit(data, data, ctx)
    assert [row["step"] for row in ctx.history] == [1, 2, 3, 4, 5, 6]
    for part in ("generator", "discriminator"):
        a, b = straight.state_dict()[part], resumed.state_dict()[part]
        for key in a:
            assert torch.equal(a[key], b[key]), (part, key)


def test_ema_generator_is_the_moving_average_of_the_trained_weights(tmp_path, one_thread):
    # the average does not feed back into training: runs without it, stopped after each G step
    # (TINY steps G every 2nd iteration), give the weights to average by hand
    data = train_split()
    decay = 0.6
    steps = []
    for stop in (2, 4, 6):
        run = DeScarGAN(**TINY).fit(data, data, ctx_for(tmp_path / f"s{stop}", max_steps=stop))
        steps.append(run.state_dict()["generator"])
    averaged = DeScarGAN(**{**TINY, "g_ema": decay}).fit(
        data, data, ctx_for(tmp_path / "ema", max_steps=6)
    )
    final = averaged.state_dict()["generator"]
    for key, value in final.items():
        if not value.is_floating_point():
            continue
        expected = steps[0][key]
        for later in steps[1:]:
            expected = decay * expected + (1 - decay) * later[key]
        torch.testing.assert_close(value, expected, rtol=1e-5, atol=1e-6, msg=key)
    assert not torch.equal(final["heads.0.1.weight"], steps[-1]["heads.0.1.weight"])


def test_decay_of_one_is_a_clear_error():
    # checked with the other options, before a run could be registered
    with pytest.raises(ConfigError, match=r"option 'g_ema' must be < 1\.0"):
        DeScarGAN(**{**TINY, "g_ema": 1.0})


def test_full_resolution_skip_reaches_the_heads():
    plain, skip = Generator(1, 4), Generator(1, 4, skip0=True)
    assert count_parameters(skip) == count_parameters(plain) + 2 * 4 * 4 * 9
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        assert skip(x, 1).shape == x.shape


def test_warmup_trains_only_the_classifier_then_the_gan(tmp_path):
    model = DeScarGAN(**{**TINY, "warmup": 3})
    ctx = ctx_for(tmp_path, max_steps=6)
    torch.manual_seed(0)
    model._build(1, 32, torch.device("cpu"))
    before = {k: v.clone() for k, v in model.state_dict()["generator"].items()}
    model.fit(train_split(), train_split(), ctx)
    assert [set(row) - {"step"} for row in ctx.history[:3]] == [{"d_cls"}] * 3
    assert {"d_real", "d_gp"} <= set(ctx.history[3])
    after = model.state_dict()["generator"]
    assert any(not torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize(("precision", "epochs"), [("fp32", 2), ("bf16", 1)])
def test_fp32_epochs_set_the_gan_stage_of_fp32_training_only(tmp_path, precision, epochs):
    model = DeScarGAN(**{**TINY, "epochs": 1, "fp32_epochs": 2, "precision": precision})
    ctx = ctx_for(tmp_path)
    model.fit(train_split(), train_split(), ctx)
    assert len(ctx.history) == epochs * (12 // TINY["batch_size"])


def _in(name: str) -> Precision:
    return Precision(name, False)


def test_an_explicit_epochs_holds_for_every_precision():
    quick = DeScarGAN(**DeScarGAN.resolve("quick", {}))
    assert (quick.epochs_for(_in("bf16")), quick.epochs_for(_in("fp16"))) == (12, 12)
    assert (quick.epochs_for(_in("fp32")), quick.epochs_for(_in("tf32"))) == (16, 16)
    mine = DeScarGAN(**DeScarGAN.resolve("quick", {"epochs": 20}))
    assert (mine.epochs_for(_in("bf16")), mine.epochs_for(_in("fp32"))) == (20, 20)
    both = DeScarGAN(**DeScarGAN.resolve("quick", {"epochs": 20, "fp32_epochs": 30}))
    assert (both.epochs_for(_in("bf16")), both.epochs_for(_in("fp32"))) == (20, 30)
    # the runner's spec goes through the same rule
    spec = build_spec(dataset="synthetic", method="descargan", method_options={"epochs": 20})
    assert spec.method_options["fp32_epochs"] == 0
    assert DeScarGAN(**DeScarGAN.resolve("paper", {})).epochs_for(_in("fp32")) == 500


def test_warmup_ends_early_once_the_classifier_loss_is_low(tmp_path, monkeypatch):
    monkeypatch.setattr(method_module, "WARMUP_WINDOW", 2)
    # every loss is below 100: the warm-up ends after its first window of 2 iterations
    model = DeScarGAN(**{**TINY, "epochs": 1, "warmup": 50, "warmup_loss": 100.0})
    ctx = ctx_for(tmp_path)
    model.fit(train_split(), train_split(), ctx)
    gan_iterations = 1 * (12 // TINY["batch_size"])
    assert len(ctx.history) == 2 + gan_iterations
    assert "d_real" not in ctx.history[1] and "d_real" in ctx.history[2]


def _threshold_ending_the_warmup_at(step, data, path, window):
    """A warm-up loss threshold first met by the window that ends at ``step``, from a probe run."""
    for seed in range(5):
        ctx = make_context(path / f"probe{seed}", seed=seed, max_steps=step)
        DeScarGAN(**{**TINY, "warmup": step}).fit(data, data, ctx)
        losses = [row["d_cls"] for row in ctx.history]
        means = [np.mean(losses[end - window : end]) for end in range(window, step + 1)]
        if means[-1] < min(means[:-1]):
            return seed, (means[-1] + min(means[:-1])) / 2
    pytest.fail("no seed whose warm-up loss falls at the chosen step")


def test_resume_inside_the_warmup_ends_with_the_same_weights(tmp_path, one_thread, monkeypatch):
    monkeypatch.setattr(method_module, "WARMUP_WINDOW", 3)
    data = train_split()
    # the warm-up ends early at iteration 5, after the interruption at 4: the resumed run must
    # carry the recent losses over to take the same decision
    seed, threshold = _threshold_ending_the_warmup_at(5, data, tmp_path, 3)
    options = {**TINY, "warmup": 8, "warmup_loss": threshold}
    straight_ctx = make_context(tmp_path / "a", seed=seed, max_steps=9)
    straight = DeScarGAN(**options).fit(data, data, straight_ctx)
    assert "d_real" not in straight_ctx.history[4] and "d_real" in straight_ctx.history[5]
    DeScarGAN(**options).fit(data, data, make_context(tmp_path / "b", seed=seed, max_steps=4))
    ctx = make_context(tmp_path / "b", seed=seed, max_steps=9)
    resumed = DeScarGAN(**options).fit(data, data, ctx)
    assert ctx.history == straight_ctx.history
    for part in ("generator", "discriminator"):
        a, b = straight.state_dict()[part], resumed.state_dict()[part]
        for key in a:
            assert torch.equal(a[key], b[key]), (part, key)


def test_checkpoint_loads_without_executing_code(tmp_path):
    data = train_split()
    DeScarGAN(**TINY).fit(data, data, ctx_for(tmp_path, max_steps=2))
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["step"] == 2 and "generator" in state and "opt_d" in state


@pytest.mark.parametrize("skip", [False, True])
def test_batched_inference_equals_the_official_batch_one_loop(tmp_path, skip):
    data = train_split()
    model = DeScarGAN(**TINY, g_skip=skip).fit(data, data, ctx_for(tmp_path, max_steps=3))
    test = toy_split(3, 3, size=32, seed=5)
    pred = model.predict(test.images, ctx_for(tmp_path))
    g = model.generator_
    g.train()  # the official evaluation: G in train mode, one image at a time
    loop = []
    with torch.no_grad():
        for image in test.images:
            x = torch.from_numpy(image[None])
            h = g(x, 0)
            loop.append((anomaly_map.minmax(x) - anomaly_map.minmax(h)).abs().mean(1)[0])
    assert np.abs(pred.maps - torch.stack(loop).numpy()).max() <= 1e-4
    assert pred.extras["healthy_translation"].shape == test.images.shape


def test_channels_last_inference_is_exact_and_bf16_close(tmp_path):
    data = train_split()
    model = DeScarGAN(**TINY).fit(data, data, ctx_for(tmp_path, max_steps=3))
    test = toy_split(3, 3, size=32, seed=5)
    ref = model.predict(test.images, ctx_for(tmp_path))
    model.channels_last = True
    cl = model.predict(test.images, ctx_for(tmp_path))
    assert np.abs(cl.maps - ref.maps).max() <= 1e-4
    assert np.allclose(cl.scores, ref.scores, atol=1e-4)
    model.predict_precision = "bf16"
    low = model.predict(test.images, ctx_for(tmp_path))
    assert low.maps.dtype == np.float32 and np.isfinite(low.maps).all()
    # bf16 keeps ~3 significant digits: maps (0..2) agree on average to a few hundredths
    assert np.abs(low.maps - ref.maps).mean() < 0.05
    weight = next(model.generator_.parameters())
    assert weight.is_contiguous()  # back in the default format for state_dict users


def test_running_statistics_option_changes_the_translation(tmp_path):
    data = train_split()
    model = DeScarGAN(**TINY).fit(data, data, ctx_for(tmp_path, max_steps=3))
    faithful = model.predict(data.images, ctx_for(tmp_path)).maps
    model.per_image_norm = False
    running = model.predict(data.images, ctx_for(tmp_path)).maps
    assert not np.allclose(faithful, running)


def test_nan_loss_fails_naming_the_step(tmp_path, monkeypatch):
    real = training.discriminator_backward

    def poisoned(*args, **kwargs):
        return {**real(*args, **kwargs), "d_real": float("nan")}

    monkeypatch.setattr(training, "discriminator_backward", poisoned)
    with pytest.raises(TrainingDiverged, match="at step 1"):
        DeScarGAN(**TINY).fit(train_split(), train_split(), ctx_for(tmp_path, max_steps=3))


def test_one_flip_decision_per_image_for_all_channels():
    model = DeScarGAN(**TINY, noise=0.0)
    images = np.repeat(np.random.default_rng(0).random((8, 1, 32, 32), dtype=np.float32), 2, 1)
    labels = torch.zeros(8, dtype=torch.long)
    x, _ = model._batch(images, labels, torch.arange(8), torch.Generator().manual_seed(0),
                        torch.device("cpu"))  # fmt: skip
    assert torch.equal(x[:, 0], x[:, 1])
    flipped = [not torch.equal(x[i, 0], torch.from_numpy(images[i, 0])) for i in range(8)]
    assert any(flipped) and not all(flipped)


def test_odd_image_size_is_a_clear_error(tmp_path):
    data = toy_split(4, 4, size=40)
    with pytest.raises(ValueError, match="divisible by 32"):
        DeScarGAN(**TINY).fit(data, data, ctx_for(tmp_path, max_steps=1))


# -- the fast training step equals the per-piece reference ---------------------------------------


def _nets64(seed=0, g_skip=True):
    """Float64 networks (dropout and BatchNorm in training mode) and one batch, 32 px."""
    torch.manual_seed(seed)
    g = Generator(1, 4, skip0=g_skip).double().train()
    d = Discriminator(1, 4, 32).double().train()
    networks.init_generator(g)
    networks.init_discriminator(d, "kaiming")
    data = torch.Generator().manual_seed(seed + 1)
    x = torch.rand(6, 1, 32, 32, generator=data, dtype=torch.float64) * 2 - 1
    noise = 0.05 * torch.rand(x.shape, generator=data, dtype=torch.float64)
    alpha = torch.rand(6, 1, 1, 1, generator=data, dtype=torch.float64)
    return g, d, x, noise, alpha


def _grads(module):
    return {k: p.grad.clone() for k, p in module.named_parameters() if p.grad is not None}


def _assert_same(a, b, rtol=1e-10, atol=1e-12):
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=rtol, atol=atol, msg=key)


LABELS = {
    "mixed": torch.tensor([0, 1, 1, 0, 1, 1]),
    "one class": torch.ones(6, dtype=torch.long),
}


@pytest.mark.parametrize("labels", list(LABELS), ids=list(LABELS))
def test_batched_discriminator_step_equals_the_per_piece_reference(labels):
    g, d, x, noise, alpha = _nets64()
    y = LABELS[labels]
    w = training.Weights(cls_d=50.0)
    cast = Precision("fp32", False, "cpu").autocast()
    torch.manual_seed(7)  # the same dropout mask in D's classification head
    ref = reference.discriminator_backward_reference(g, d, x, y, noise, alpha, w, cast)
    ref_grads = _grads(d)
    d.zero_grad(set_to_none=True)
    torch.manual_seed(7)
    new = training.discriminator_backward(g, d, x, y, noise, alpha, w, cast)
    _assert_same(ref_grads, _grads(d))
    for key, value in ref.items():
        # the loss terms are float32 (``.float()``, as for bf16), summed in another order
        assert float(new[key]) == pytest.approx(value, rel=1e-6, abs=1e-9), key
    # each critic has its own GP mix: a swapped pairing gives other gradients
    assert ref_grads["critics.0.2.weight"].abs().sum() > 0


@pytest.mark.parametrize("gp_scale", [0, 3])
def test_lazy_penalty_is_the_reference_with_its_weight_scaled_or_zero(gp_scale):
    # a lazy step's gradients: the reference's with the penalty weighted gp_scale times (0: none)
    g, d, x, noise, alpha = _nets64()
    y = LABELS["mixed"]
    w = training.Weights(cls_d=50.0)
    scaled = dataclasses.replace(w, gp=w.gp * gp_scale)
    cast = Precision("fp32", False, "cpu").autocast()
    torch.manual_seed(7)
    ref = reference.discriminator_backward_reference(g, d, x, y, noise, alpha, scaled, cast)
    ref_grads = _grads(d)
    d.zero_grad(set_to_none=True)
    torch.manual_seed(7)
    new = training.discriminator_backward(g, d, x, y, noise, alpha, w, cast, gp_scale=gp_scale)
    _assert_same(ref_grads, _grads(d))
    assert ("d_gp" in new) == bool(gp_scale)  # a skipped penalty is not reported as 0
    if gp_scale:
        assert float(new["d_gp"]) == pytest.approx(ref["d_gp"], rel=1e-6)


def test_gp_every_puts_the_penalty_on_every_kth_gan_iteration(tmp_path, monkeypatch):
    scales = []
    real = training.gan_iteration

    def spy(*args):
        scales.append(args[-1])
        return real(*args)

    monkeypatch.setattr(training, "gan_iteration", spy)
    model = DeScarGAN(**{**TINY, "gp_every": 3, "warmup": 0})
    model.fit(train_split(), train_split(), ctx_for(tmp_path, max_steps=7))
    assert scales == [3, 0, 0, 3, 0, 0, 3]


@pytest.mark.parametrize("labels", list(LABELS), ids=list(LABELS))
def test_batched_generator_step_equals_the_per_piece_reference(labels):
    g, d, x, noise, _ = _nets64()
    y = LABELS[labels]
    w = training.Weights()
    cast = Precision("fp32", False, "cpu").autocast()
    d.requires_grad_(False)
    results, grads, stats = [], [], []
    for step in (reference.generator_backward_reference, training.generator_backward):
        g.load_state_dict(_nets64()[0].state_dict())  # the same running statistics each time
        torch.manual_seed(7)
        results.append(step(g, d, x, y, noise, w, cast))
        grads.append(_grads(g))
        stats.append({k: v.clone() for k, v in g.state_dict().items() if "running" in k})
        g.zero_grad(set_to_none=True)
    _assert_same(*grads)
    _assert_same(*stats)
    for key, value in results[0].items():
        assert float(results[1][key]) == pytest.approx(value, rel=1e-6, abs=1e-9), key


def _reference_iteration(g, d, x, y, noise, alpha, w, cast, opt_d, opt_g, g_step):
    reference.iteration_reference(g, d, x, y, noise, alpha, w, cast, opt_d, opt_g, 10.0, g_step)


@pytest.mark.parametrize("labels", list(LABELS), ids=list(LABELS))
@pytest.mark.parametrize("g_step", [True, False], ids=["G step", "D only"])
def test_shared_translations_iteration_equals_the_reference(labels, g_step):
    # the iteration reuses the D step's translations in the G step and replays G's BatchNorm
    # statistics in the reference order: weights, optimiser moments and running statistics all
    # end as in the reference (two iterations, so the second starts from updated statistics)
    y = LABELS[labels]
    w = training.Weights(cls_d=50.0)
    cast = Precision("fp32", False, "cpu").autocast()
    states = []
    for fast in (False, True):
        g, d, x, noise, alpha = _nets64()
        opt_g = training.make_adam(g.parameters(), 2e-3, (0.5, 0.999))
        opt_d = training.make_adam(d.parameters(), 2e-4, (0.5, 0.999))
        torch.manual_seed(7)
        for _ in range(2):
            args = (g, d, x, y, noise, alpha, w, cast, opt_d, opt_g)
            if fast:
                training.gan_iteration(*args, 10.0, g_step)
            else:
                _reference_iteration(*args, g_step)
        states.append(
            {
                **{f"g.{k}": v.clone() for k, v in g.state_dict().items()},
                **{f"d.{k}": v.clone() for k, v in d.state_dict().items()},
                **{
                    f"adam_g.{i}": opt_g.state[p]["exp_avg"].clone()
                    for i, p in enumerate(g.parameters())
                    if p in opt_g.state
                },
            }
        )
    # G's convolution biases ahead of BatchNorm have a true gradient of 0; Adam turns their
    # ~1e-17 rounding noise into steps of ~1e-10, hence the absolute tolerance (a wrong pairing
    # or replay order is off by ~1e-4)
    _assert_same(*states, rtol=1e-7, atol=1e-8)
    moved = not torch.equal(
        states[1]["g.down0.0.1.running_mean"], _nets64()[0].down0[0][1].running_mean
    )
    assert moved  # the D step's translations alone update the running statistics


def test_recorded_batch_statistics_replay_to_the_running_update():
    g, _, x, _, _ = _nets64()
    plain = Generator(1, 4, skip0=True).double()
    plain.load_state_dict(g.state_dict())
    calls = []
    g.record_batch_stats(calls)
    with torch.no_grad():
        g(x, 0)
        g(x[:3], 1)
    g.record_batch_stats(None)
    assert len(calls) == 2
    before = {k: v.clone() for k, v in g.state_dict().items()}
    assert all(torch.equal(before[k], v) for k, v in plain.state_dict().items())  # deferred
    networks.replay_batch_stats([calls[1], calls[0]])
    with torch.no_grad():
        plain(x[:3], 1)
        plain(x, 0)
    _assert_same(
        {k: v.double() for k, v in g.state_dict().items()},
        {k: v.double() for k, v in plain.state_dict().items()},
    )


def test_map_sigma_smooths_the_predicted_maps_only(tmp_path):
    ctx = ctx_for(tmp_path, max_steps=2)
    plain = DeScarGAN(**TINY).fit(train_split(), train_split(), ctx)
    smoothed = DeScarGAN(**{**TINY, "map_sigma": 1.5})
    smoothed.load_state_dict(plain.state_dict())
    images = train_split().images
    a, b = plain.predict(images, ctx), smoothed.predict(images, ctx)
    np.testing.assert_allclose(b.maps, gaussian_blur(torch.from_numpy(a.maps), 1.5), atol=1e-6)
    np.testing.assert_array_equal(a.scores, b.scores)
    assert not np.allclose(a.maps, b.maps)


def test_map_sigma_must_not_be_negative():
    with pytest.raises(ConfigError, match="map_sigma"):
        DeScarGAN(**{**TINY, "map_sigma": -1.0})


def test_the_anomaly_map_alone_against_a_hand_computation():
    # image 0: a ramp 0..3 and a flat translation; image 1: translation = the image, reversed
    x = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]], [[[1.0, 2.0], [3.0, 5.0]]]])
    to_healthy = torch.tensor([[[[4.0, 4.0], [4.0, 4.0]]], [[[5.0, 3.0], [2.0, 1.0]]]])
    # min-max to [-1, 1]: ramp -> -1, -1/3, 1/3, 1; flat -> -1 everywhere (no division by 0)
    # second: x -> -1, -1/2, 0, 1; reversed translation -> 1, 0, -1/2, -1
    expected = torch.tensor(
        [[[0.0, 2 / 3], [4 / 3, 2.0]], [[2.0, 0.5], [0.5, 2.0]]], dtype=torch.float32
    )
    torch.testing.assert_close(anomaly_map.anomaly_map(x, to_healthy, 0.0), expected)
    # two channels: their differences are averaged
    two = anomaly_map.anomaly_map(x.repeat(1, 2, 1, 1), to_healthy.repeat(1, 2, 1, 1), 0.0)
    torch.testing.assert_close(two, expected)
    smoothed = anomaly_map.anomaly_map(x, to_healthy, 1.0)
    torch.testing.assert_close(smoothed, gaussian_blur(expected, 1.0))


def test_the_score_is_the_diseased_column():
    logits = torch.tensor([[0.0, 0.0], [1.0, 3.0]])
    torch.testing.assert_close(anomaly_map.disease_score(logits, "logit"), torch.tensor([0.0, 3.0]))
    p = anomaly_map.disease_score(logits, "probability")
    torch.testing.assert_close(p, torch.tensor([0.5, 1 / (1 + math.exp(-2.0))]))
