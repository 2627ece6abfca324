"""EfficientAd's teacher and penalty images: fetched when online, one line offline, a local
file or folder instead. Nothing here touches the network: the downloads are replaced."""

from __future__ import annotations

import urllib.error

import anobench_anomalib
import pytest
import torch
from anobench_anomalib import efficient_ad

from anobench import ConfigError
from anobench.testing import make_context
from anobench.weights import BackboneWeights

CLS = anobench_anomalib.METHODS["efficient_ad"]


def _method(**options):
    return CLS(**CLS.resolve("paper", options))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """anomalib's pretrained-weights folder, empty, in tmp_path."""
    folder = tmp_path / "anomalib-cache" / "pre_trained"
    monkeypatch.setattr("anomalib.utils.path.get_pretrained_weights_dir", lambda: folder)
    return folder


def test_offline_the_teacher_is_one_line_naming_the_file_the_folder_and_the_fix(
    tmp_path, cache, monkeypatch
):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError) as err:
        _method()._teacher_file(make_context(tmp_path))
    text = str(err.value)
    assert "\n" not in text
    assert "pretrained_teacher_small.pth" in text and str(cache) in text
    assert "--method-opt backbone_weights=PATH" in text


def test_online_the_teacher_is_fetched_from_anomalibs_release_into_its_cache(
    tmp_path, cache, monkeypatch
):
    from anomalib.models.image.efficient_ad.lightning_model import WEIGHTS_DOWNLOAD_INFO

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    asked = []

    def download(root, info):
        asked.append((root, info.url))
        file = root / "efficientad_pretrained_weights" / "pretrained_teacher_medium.pth"
        file.parent.mkdir(parents=True)
        file.write_bytes(b"")

    monkeypatch.setattr("anomalib.data.utils.download_and_extract", download)
    logged = []
    ctx = make_context(tmp_path)
    monkeypatch.setattr(ctx.progress, "log", logged.append)
    file = _method(model_size="medium")._teacher_file(ctx)
    assert asked == [(cache, WEIGHTS_DOWNLOAD_INFO.url)]
    assert file == cache / "efficientad_pretrained_weights" / "pretrained_teacher_medium.pth"
    assert any("downloading" in line and str(cache) in line for line in logged)
    # the second run finds the file: nothing is asked for
    assert _method(model_size="medium")._teacher_file(ctx) == file and len(asked) == 1


def test_a_network_failure_while_fetching_the_teacher_is_the_offline_line(
    tmp_path, cache, monkeypatch
):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def unreachable(root, info):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr("anomalib.data.utils.download_and_extract", unreachable)
    with pytest.raises(ConfigError, match=r"offline .*backbone_weights=PATH"):
        _method()._teacher_file(make_context(tmp_path))


def test_a_local_teacher_file_is_loaded_and_recorded(tmp_path):
    method = _method(backbone_weights="none")
    method.size_ = 256
    method.module_ = method._build(BackboneWeights(None), 0)
    source = _method(backbone_weights="none")
    source.size_ = 256
    teacher = source._build(BackboneWeights(None), 1).model.teacher
    file = tmp_path / "teacher.pth"
    torch.save(teacher.state_dict(), file)
    local = _method(backbone_weights=str(file))
    assert local._teacher_file(make_context(tmp_path)) == file
    method.backbone_weights = str(file)
    method._load_teacher(file)
    for key, value in teacher.state_dict().items():
        assert torch.equal(method.module_.model.teacher.state_dict()[key], value), key
    assert method.teacher_["sha256"] and method.teacher_["source"] == str(file)


def test_offline_imagenette_is_one_line_and_leaves_no_empty_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def unreachable(root, info):
        root.mkdir(parents=True, exist_ok=True)  # as anomalib's download does first
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr("anomalib.data.utils.download_and_extract", unreachable)
    folder = tmp_path / "imagenette"
    with pytest.raises(ConfigError) as err:
        _method(imagenet_dir=str(folder))._penalty_images(make_context(tmp_path))
    text = str(err.value)
    assert "\n" not in text
    assert "ImageNette" in text and str(folder) in text and "imagenet_dir=PATH" in text
    assert not folder.exists()  # the next run tries again instead of reading an empty folder


def test_a_local_image_folder_or_noise_replaces_imagenette_without_a_download(
    tmp_path, monkeypatch
):
    def no_download(*args, **kwargs):
        pytest.fail("asked for a download")

    monkeypatch.setattr("anomalib.data.utils.download_and_extract", no_download)
    local = tmp_path / "mine"
    (local / "a").mkdir(parents=True)
    (local / "a" / "x.png").write_bytes(b"")
    ctx = make_context(tmp_path)
    assert _method(imagenet_dir=str(local))._penalty_images(ctx) == local
    noise = _method(imagenet_dir=efficient_ad.NOISE)._penalty_images(ctx)
    assert len(list(noise.glob("*/*.png"))) == efficient_ad._NOISE_IMAGES


def test_batch_size_other_than_one_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"option .batch_size.*requires 1"):
        _method(batch_size=8).check()
