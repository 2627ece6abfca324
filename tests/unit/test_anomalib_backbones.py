"""Local backbone weights for the anomalib bridge: the EfficientNet-Lite0 mapping and the errors."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import timm
import torch
from anobench_anomalib import PaDiM, PatchCore
from anobench_anomalib.methods import FastFlow

from anobench import ConfigError
from anobench.api import weights as backbones
from anobench.testing import make_context, toy_split


@pytest.fixture(scope="module")
def lite0():
    original = torch.load(backbones.lite0_file(), map_location="cpu", weights_only=True)
    return original, backbones.lite0_state(original)


def test_every_lite0_key_maps_onto_timm_with_its_shape(lite0):
    original, mapped = lite0
    own = timm.create_model("efficientnet_lite0", pretrained=False).state_dict()
    assert len(mapped) == len(original) == len(own)
    assert set(mapped) == set(own)
    assert all(mapped[k].shape == v.shape for k, v in own.items())
    # the mapping moves tensors, it does not make them up: the same values, one to one
    assert sorted(float(v.float().sum()) for v in mapped.values()) == sorted(
        float(v.float().sum()) for v in original.values()
    )


def test_the_mapped_lite0_sees_the_cat_in_scikit_images_photo(lite0):
    from skimage import data

    model = timm.create_model("efficientnet_lite0", pretrained=False).eval()
    model.load_state_dict(lite0[1])
    image = torch.from_numpy(data.chelsea()).permute(2, 0, 1).float()[None] / 255
    image = torch.nn.functional.interpolate(image, size=(224, 224), mode="bilinear", antialias=True)
    mean = torch.tensor(backbones.LITE_MEAN)[:, None, None]
    std = torch.tensor(backbones.LITE_STD)[:, None, None]
    with torch.no_grad():
        top5 = model((image - mean) / std).topk(5).indices[0].tolist()
    # ImageNet 281-285: tabby, tiger cat, Persian, Siamese, Egyptian cat
    assert set(top5) & set(range(281, 286)), top5
    assert top5[0] in range(281, 286), top5


def test_backbone_weights_timm_fills_the_feature_extractor_with_lite0(lite0):
    method = PatchCore(**PatchCore.resolve("quick", {"image_size": 32}))
    weights = method._weights("timm")
    module = method._build(weights, seed=0)
    trunk = module.model.feature_extractor.feature_extractor.state_dict()
    assert trunk and all(torch.equal(v, lite0[1][k]) for k, v in trunk.items())
    # and the pre-processor normalises as the Lite models were trained: (x - 127) / 128
    x = torch.full((1, 3, 32, 32), 127.0 / 255)
    assert module.pre_processor(x).abs().max() < 1e-6


def test_a_local_weights_file_is_used_and_a_wrong_one_named(tmp_path, lite0):
    path = tmp_path / "lite0.pt"
    torch.save(lite0[1], path)
    method = PaDiM(**PaDiM.resolve("quick", {"image_size": 32, "backbone_weights": str(path)}))
    module = method._build(method._weights(str(path)), seed=0)
    conv = module.model.feature_extractor.feature_extractor.conv_stem.weight
    assert torch.equal(conv, lite0[1]["conv_stem.weight"])
    assert method._weights(str(path)).record() == {
        "name": "efficientnet_lite0 (local file)",
        "source": str(path),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }
    other = tmp_path / "resnet.pt"
    torch.save(timm.create_model("resnet18").state_dict(), other)
    with pytest.raises(ConfigError, match=r"backbone_weights.*does not fit.*missing conv_stem"):
        method._build(method._weights(str(other)), seed=0)
    with pytest.raises(ConfigError, match="does not exist"):
        method._weights(str(tmp_path / "nope.pt"))


def test_offline_timm_weights_are_one_line_naming_weights_cache_and_the_fix(monkeypatch):
    monkeypatch.setattr(
        backbones, "_timm_file", lambda name: ("timm/wide_resnet50_2.x", None, None)
    )
    monkeypatch.setattr(backbones, "_download", pytest.fail)  # never asked for when offline
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    method = PatchCore(**PatchCore.resolve("paper", {}))
    with pytest.raises(ConfigError) as err:
        method._weights("timm")
    text = str(err.value)
    assert "\n" not in text
    assert "'wide_resnet50_2' (timm/wide_resnet50_2.x)" in text
    assert str(backbones.hub_cache()) in text
    assert "offline" in text and "--method-opt backbone_weights=PATH" in text


def test_no_network_is_the_same_line(monkeypatch):
    import urllib.error

    def unreachable(repo, filename):
        raise RuntimeError("fetch failed") from urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(backbones, "_timm_file", lambda name: ("timm/resnet18.a1_in1k", None, None))
    monkeypatch.setattr(backbones, "_download", unreachable)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(ConfigError, match=r"resnet18.*not in the local cache.*offline"):
        backbones.resolve_backbone_weights("resnet18", "timm")


def test_online_timm_weights_are_requested_from_timms_hub_repository(tmp_path, monkeypatch):
    from safetensors.torch import save_file

    source = timm.create_model("resnet18", pretrained=False).state_dict()
    asked = []

    def download(repo, filename):  # stands in for huggingface_hub: what would be fetched
        asked.append((repo, filename))
        path = tmp_path / filename
        save_file({k: v.contiguous() for k, v in source.items()}, str(path))
        return str(path)

    monkeypatch.setattr("huggingface_hub.try_to_load_from_cache", lambda repo, name: None)
    monkeypatch.setattr(backbones, "_download", download)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    weights = backbones.resolve_backbone_weights("resnet18", "timm")
    repo = timm.models.get_pretrained_cfg("resnet18").hf_hub_id
    assert asked == [(repo, "model.safetensors")]
    assert weights.record() == {
        "name": repo,
        "source": f"timm cache {tmp_path / 'model.safetensors'}",
        "sha256": hashlib.sha256((tmp_path / "model.safetensors").read_bytes()).hexdigest(),
    }
    assert torch.equal(weights.state["conv1.weight"], source["conv1.weight"])


def test_options_timm_or_anomalib_reject_are_one_clear_error(tmp_path):
    ctx = make_context(tmp_path, max_steps=1)
    train = toy_split(4, 0, size=32)
    bad_backbone = PatchCore(**PatchCore.resolve("quick", {"backbone": "resnet181"}))
    with pytest.raises(ConfigError, match=r"no backbone 'resnet181'.*resnet18"):
        bad_backbone.fit(train, train, ctx)
    bad_layer = PatchCore(**PatchCore.resolve("quick", {"layers": "layer2"}))
    with pytest.raises(ConfigError, match=r"no feature layer layer2.*blocks.2"):
        bad_layer.fit(train, train, ctx)
    # anomalib's FastFlow has no EfficientNet variant: its ValueError, as a ConfigError
    flow = FastFlow(
        **FastFlow.resolve("quick", {"backbone": "efficientnet_lite0", "backbone_weights": "none"})
    )
    with pytest.raises(
        ConfigError, match=r"anomalib's Fastflow rejected the options.*not supported"
    ):
        flow.fit(train, train, ctx)


def test_one_channel_images_are_replicated_to_rgb(tmp_path):
    method = PaDiM(**PaDiM.resolve("quick", {**PaDiM.test_options}))
    train = toy_split(4, 0, size=32)
    method.fit(train, train, make_context(tmp_path))
    gray = train.images[:2]
    rgb = np.repeat(gray, 3, axis=1)
    ctx = make_context(tmp_path)
    a, b = method.predict(gray, ctx), method.predict(rgb, ctx)
    assert np.allclose(a.scores, b.scores) and np.allclose(a.maps, b.maps)


def test_a_resumed_fit_ends_like_an_uninterrupted_one(tmp_path):
    from anobench_anomalib import STFPM

    params = STFPM.resolve("quick", {**STFPM.test_options, "epochs": 2.0})
    train = toy_split(8, 0, size=32)
    whole = STFPM(**params).fit(train, train, make_context(tmp_path / "whole"))
    cut = tmp_path / "cut"
    STFPM(**params).fit(train, train, make_context(cut, max_steps=2))
    ctx = make_context(cut)
    resumed = STFPM(**params).fit(train, train, ctx)
    # it continued at step 3 (a fresh start would log steps 1 and 2 again)
    assert [row["step"] for row in ctx.history if "loss" in row] == [1, 2, 3, 4]
    a, b = whole.state_dict()["model"], resumed.state_dict()["model"]
    assert set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)
    test = toy_split(2, 2, size=32, seed=5).images
    assert np.array_equal(
        whole.predict(test, make_context(tmp_path)).maps,
        resumed.predict(test, make_context(tmp_path)).maps,
    )
