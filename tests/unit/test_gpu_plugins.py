"""The CUDA paths of the trained plugins, checked without a GPU: the ``meta`` device stands in
for a GPU (a tensor there has a device but no values), CPU fp16 autocast for an older card."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from anobench_descargan import DeScarGAN
from anobench_descargan import method as method_module
from anobench_descargan.networks import Discriminator, Generator
from anobench_descargan.training import discriminator_backward
from anobench_descargan.weights import Weights
from anobench_reference.classifier import Classifier

from anobench import Precision, RunContext, Stage, Trainer, TrainingDiverged
from anobench.testing import make_context, toy_split

META = torch.device("meta")


class _Stop(Exception):
    """Ends a method early, once the test has seen what it looks at."""


def _inference_weights(module: torch.nn.Module) -> list[str]:
    return [name for name, p in module.named_parameters() if p.is_inference()]


def test_descargan_predict_moves_a_cpu_loaded_model_to_the_run_device(tmp_path, monkeypatch):
    # what `anobench predict` does: load model.pt on the CPU, predict on the chosen device
    trained = DeScarGAN(**DeScarGAN.test_options)
    trained._build(1, 32, torch.device("cpu"))
    loaded = DeScarGAN(**DeScarGAN.test_options)
    loaded.load_state_dict(trained.state_dict())
    seen = {}

    def translate(self, x, target):
        seen["input"] = x.device
        seen["generator"] = next(self.generator_.parameters()).device
        seen["discriminator"] = next(self.discriminator_.parameters()).device
        raise _Stop

    monkeypatch.setattr(DeScarGAN, "translate", translate)
    ctx = RunContext(device=META, workdir=tmp_path)
    with torch.inference_mode(), pytest.raises(_Stop):
        loaded.predict(np.zeros((2, 1, 32, 32), np.float32), ctx)
    assert seen == {"input": META, "generator": META, "discriminator": META}
    assert _inference_weights(loaded.generator_) == []


def test_classifier_gradcam_predict_keeps_ordinary_weights_on_another_device(tmp_path):
    trained = Classifier(**Classifier.test_options)
    trained.net_, trained.in_chans_ = trained._network(1), 1
    loaded = Classifier(**Classifier.test_options)
    loaded.load_state_dict(trained.state_dict())
    ctx = RunContext(device=META, workdir=tmp_path)
    error = ""
    with torch.inference_mode():  # as the runner and `anobench predict` call it
        try:
            loaded.predict(np.zeros((2, 1, 32, 32), np.float32), ctx)
        except Exception as exc:  # meta tensors have no values to copy back at the end
            error = str(exc)
    assert next(loaded.net_.parameters()).device == META
    # weights made in inference mode cannot be saved for Grad-CAM's backward pass
    assert _inference_weights(loaded.net_) == []
    assert "Inference tensors" not in error


def test_descargan_initialises_on_the_cpu_whatever_the_device(tmp_path, monkeypatch):
    real = method_module.init_generator_seeded
    seen = {}

    def init(g, d, gen, d_init="xavier"):
        real(g, d, gen, d_init)
        seen["init on"] = {p.device.type for p in [*g.parameters(), *d.parameters()]}
        seen["weights"] = {k: v.clone() for k, v in g.state_dict().items()}
        raise _Stop

    monkeypatch.setattr(method_module, "init_generator_seeded", init)
    data = toy_split(4, 4, size=32, seed=1)
    ctx = make_context(tmp_path / "meta", seed=3, device="meta")
    with pytest.raises(_Stop):
        DeScarGAN(**DeScarGAN.test_options).fit(data, data, ctx)
    assert seen["init on"] == {"cpu"}
    on_meta = seen["weights"]
    with pytest.raises(_Stop):
        DeScarGAN(**DeScarGAN.test_options).fit(data, data, make_context(tmp_path / "cpu", 3))
    # the same seed gives the same initial weights as a CPU run
    assert all(torch.equal(on_meta[k], seen["weights"][k]) for k in on_meta)


def test_fp16_gradient_penalty_is_finite_at_the_scalers_first_scale():
    torch.manual_seed(0)
    g, d = Generator(1, 4), Discriminator(1, 4, 32)
    x = torch.rand(4, 1, 32, 32) * 2 - 1
    y = torch.tensor([0, 1, 0, 1])
    noise, alpha = 0.05 * torch.rand_like(x), torch.rand(4, 1, 1, 1)
    scaler = torch.amp.GradScaler("cpu")  # what fp16 training uses, at its first scale 2**16
    out = discriminator_backward(
        g,
        d,
        x,
        y,
        noise,
        alpha,
        Weights(),
        Precision("fp16", False, "cpu").autocast(),
        scaler=scaler,
    )
    values = {k: float(v) for k, v in out.items()}
    assert all(math.isfinite(v) for v in values.values()), values
    # the penalty of the unscaled gradients: the fp32 value, up to fp16 rounding
    ref = discriminator_backward(
        g, d, x, y, noise, alpha, Weights(), Precision("fp32", False, x.device.type).autocast()
    )
    assert values["d_gp"] == pytest.approx(float(ref["d_gp"]), rel=0.2)


class _Scaler:
    """A GradScaler stand-in: the step says when its gradients overflowed."""

    def __init__(self) -> None:
        self.scale = 2.0**16

    def get_scale(self) -> float:
        return self.scale

    def overflowed(self) -> None:
        self.scale /= 2

    def state_dict(self) -> dict:
        return {"scale": self.scale}


def _scaled_fit(tmp_path, losses):
    ctx = make_context(tmp_path, max_steps=len(losses))
    trainer = Trainer(
        ctx, name="toy", state={}, precision=Precision("fp16", False, "cpu"), scaler=True
    )
    trainer.scaler = scaler = _Scaler()

    def step(i):
        loss, overflow = losses[i]
        if overflow:
            scaler.overflowed()
        return {"loss": loss, "other": 1.0}

    trainer.run([Stage("train", len(losses), step)])
    return ctx, trainer


def test_an_fp16_overflow_the_scaler_skips_is_not_a_divergence(tmp_path):
    ctx, trainer = _scaled_fit(tmp_path, [(math.inf, True), (0.5, False), (math.nan, True)])
    assert trainer.skipped_steps == 2
    assert [row.get("loss") for row in ctx.history] == [None, 0.5, None]
    assert [row["other"] for row in ctx.history] == [1.0, 1.0, 1.0]


def test_a_nan_loss_the_scaler_did_not_skip_is_still_a_divergence(tmp_path):
    with pytest.raises(TrainingDiverged, match="'loss' became nan at step 2"):
        _scaled_fit(tmp_path, [(0.5, False), (math.nan, False)])


def test_descargan_trains_in_fp16_with_loss_scaling(tmp_path):
    data = toy_split(4, 4, size=32, seed=1)
    ctx = make_context(tmp_path, max_steps=2)
    model = DeScarGAN(**{**DeScarGAN.test_options, "precision": "fp16", "n_critic": 1})
    model.fit(data, data, ctx)
    assert len(ctx.history) == 2
    assert all(math.isfinite(row["d_gp"]) for row in ctx.history if "d_gp" in row)
