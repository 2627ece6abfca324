"""The generated anomalib methods: options read from anomalib's constructors, and how their
pretrained networks are fetched (never here: what would be fetched is checked with stand-ins)."""

from __future__ import annotations

import enum
import hashlib
import inspect

import anobench_anomalib
import pytest
import timm
import torch
import torchvision
from anobench_anomalib import generated

from anobench import ConfigError
from anobench.testing import make_context
from anobench.weights import BackboneWeights


def _anomalib_default(value):
    if isinstance(value, enum.Enum):
        return value.value
    return value


@pytest.mark.parametrize("name", list(anobench_anomalib.METHODS))
def test_options_are_anomalibs_constructor_defaults(name):
    """The options were read from the source; the imported class must agree with them."""
    import anomalib.models

    cls = anobench_anomalib.METHODS[name]
    signature = inspect.signature(getattr(anomalib.models, cls.model_class).__init__)
    paper = cls.resolve("paper", {})
    assert cls._kinds, name
    for key, default in cls._kinds.items():
        theirs = _anomalib_default(signature.parameters[key].default)
        ours = generated._back(cls.options.resolve({}, owner="t")[key], default)
        assert ours == theirs or (ours is None and theirs is None), (name, key)
        assert key not in cls.profiles["paper"] or paper[key] != ours


def test_none_starts_every_network_at_random_without_asking_for_a_file(monkeypatch):
    def no_fetch(*args, **kwargs):
        pytest.fail(f"asked for {args}")

    monkeypatch.setattr("timm.models._builder.load_state_dict_from_hf", no_fetch)
    monkeypatch.setattr("torchvision.models._api.load_state_dict_from_url", no_fetch)
    seen = []
    with generated._pretrained("none", seen):
        a = timm.create_model("resnet18", pretrained=True)
        b = torchvision.models.resnet18(weights=torchvision.models.ResNet18_Weights.DEFAULT)
    assert seen == []
    assert a.conv1.weight.std() > 0 and b.conv1.weight.std() > 0


def test_timm_asks_timm_and_torchvision_for_their_usual_files(monkeypatch):
    asked = []
    source = torchvision.models.resnet18().state_dict()

    def from_hf(location, *args, **kwargs):
        asked.append(("hf", location))
        return timm.create_model("resnet18").state_dict()

    def from_url(url, *args, **kwargs):
        asked.append(("url", url))
        return source

    monkeypatch.setattr("timm.models._builder.load_state_dict_from_hf", from_hf)
    monkeypatch.setattr("torchvision.models._api.load_state_dict_from_url", from_url)
    seen = []
    with generated._pretrained("timm", seen):
        timm.create_model("resnet18", pretrained=True)
        net = torchvision.models.resnet18(weights=torchvision.models.ResNet18_Weights.DEFAULT)
    url = torchvision.models.ResNet18_Weights.DEFAULT.url
    assert asked == [("hf", timm.models.get_pretrained_cfg("resnet18").hf_hub_id), ("url", url)]
    assert seen == [("timm", "resnet18"), ("torchvision", url)]
    assert torch.equal(net.conv1.weight, source["conv1.weight"])
    assert timm.create_model is not None and "creating" not in repr(timm.create_model)


def test_a_local_file_replaces_the_download_and_is_recorded(tmp_path, monkeypatch):
    path = tmp_path / "resnet18.pt"
    state = torchvision.models.resnet18().state_dict()
    torch.save(state, path)
    monkeypatch.setattr("torchvision.models._api.load_state_dict_from_url", pytest.fail)
    cls = anobench_anomalib.METHODS["cfa"]
    method = cls(**cls.resolve("paper", {"backbone": "resnet18", "backbone_weights": str(path)}))
    method.size_ = 32
    ctx = make_context(tmp_path / "run")
    module = method._build(BackboneWeights(None), 0, str(path))
    method._record_weights(ctx)
    layer = module.model.feature_extractor.conv1.weight
    assert torch.equal(layer, state["conv1.weight"])
    (record,) = ctx.notes["weights"]
    assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert record["source"] == f"torchvision {path}"


def test_offline_is_one_line_naming_the_weights_the_cache_and_the_fix(tmp_path, monkeypatch):
    from huggingface_hub.errors import LocalEntryNotFoundError

    def offline(*args, **kwargs):
        raise LocalEntryNotFoundError("outgoing traffic has been disabled")

    monkeypatch.setattr("timm.models._builder.load_state_dict_from_hf", offline)
    cls = anobench_anomalib.METHODS["dfm"]
    method = cls(**cls.resolve("paper", {"backbone": "resnet18"}))
    method.size_ = 32
    with pytest.raises(ConfigError) as err:
        method._build(BackboneWeights(None), 0, "timm")
    text = str(err.value)
    assert "\n" not in text
    assert timm.models.get_pretrained_cfg("resnet18").hf_hub_id in text
    assert str(anobench_anomalib.generated.hub_cache()) in text
    assert "offline" in text and "--method-opt backbone_weights=PATH" in text


def test_training_clips_gradients_as_anomalib_asks_lightning_to(tmp_path, monkeypatch):
    """CS-Flow's ``trainer_arguments`` ask for a gradient-norm clip of 1 at every step."""
    from anobench.testing import toy_split

    clips = []
    clip = torch.nn.utils.clip_grad_norm_

    def recording(parameters, max_norm, *args, **kwargs):
        clips.append(max_norm)
        return clip(parameters, max_norm, *args, **kwargs)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", recording)
    cls = anobench_anomalib.METHODS["csflow"]
    train = toy_split(8, 0, size=32, seed=0)
    cls(**cls.test_options).fit(train, train, make_context(tmp_path / "cs"))
    assert clips == [1.0, 1.0]  # 8 images, batch 4, one epoch
    clips.clear()
    cls = anobench_anomalib.METHODS["patchflow"]  # anomalib: gradient_clip_val 0
    cls(**cls.test_options).fit(train, train, make_context(tmp_path / "pf"))
    assert clips == []


@pytest.mark.parametrize(("name", "side"), [("csflow", 128), ("supersimplenet", 136)])
def test_images_below_the_smallest_side_a_model_works_at_are_resized_up(name, side, tmp_path):
    cls = anobench_anomalib.METHODS[name]
    ctx = make_context(tmp_path)
    method = cls(**{**cls.test_options, "image_size": None})
    assert method._choose_size(32, ctx) == side
    assert ctx.notes["input_size"] == {"dataset": 32, "model": side}
    assert cls(**{**cls.test_options, "image_size": None})._choose_size(2 * side, ctx) == 2 * side


def test_dsr_trains_both_phases_as_lightnings_epoch_counter_advances(tmp_path):
    """DSR trains its decoder for the first 70 % of the epochs, then its upsampling module:
    the switch reads ``current_epoch``, which the bridge advances like Lightning's Trainer."""
    from anobench.testing import toy_split

    cls = anobench_anomalib.METHODS["dsr"]
    method = cls(**cls.test_options)  # 2 epochs: one of each phase
    parts = ("upsampling_module", "anomaly_detection_module")
    initial = {}
    build = method._build

    def building(*args, **kwargs):
        module = build(*args, **kwargs)
        for part in parts:
            state = getattr(module.model, part).state_dict()
            initial[part] = {k: v.clone() for k, v in state.items()}
        return module

    method._build = building
    train = toy_split(8, 0, size=32, seed=0)
    method.fit(train, train, make_context(tmp_path))
    for part in parts:
        after = getattr(method.module_.model, part).state_dict()
        assert any(not torch.equal(v, after[k]) for k, v in initial[part].items()), part


def test_a_missing_local_file_for_released_weights_is_a_clear_error(tmp_path):
    cls = anobench_anomalib.METHODS["dsr"]
    method = cls(**cls.resolve("paper", {"backbone_weights": str(tmp_path / "vq.pckl")}))
    with pytest.raises(ConfigError, match=r"option 'backbone_weights'.*vq\.pckl does not exist"):
        method._train(None, 0, make_context(tmp_path))
