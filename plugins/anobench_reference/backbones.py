"""timm backbones for the classifier: built offline, optionally initialised from a local file."""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from anobench import ConfigError
from anobench.weights import read_state_dict

#: the channel widths of timm's ResNet stages, scaled by the ``width`` option
_RESNET_CHANNELS = (64, 128, 256, 512)


def build(
    name: str, in_chans: int, *, width: float = 1.0, output_stride: int = 32, seed: int = 0
) -> nn.Module:
    """A timm model with one output logit, randomly initialised under ``seed`` (no download)."""
    import timm

    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"method 'classifier': timm has no model '{name}'.{hint}")
    kwargs: dict[str, Any] = {}
    if width != 1.0:
        kwargs["channels"] = tuple(max(1, round(c * width)) for c in _RESNET_CHANNELS)
        kwargs["stem_width"] = max(1, round(64 * width))
    if output_stride != 32:
        kwargs["output_stride"] = output_stride
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            return timm.create_model(
                name, pretrained=False, in_chans=in_chans, num_classes=1, **kwargs
            )
        except TypeError as exc:
            which = " and ".join(k for k in ("width", "output_stride") if _asked(k, kwargs))
            raise ConfigError(
                f"method 'classifier': backbone '{name}' does not support {which} ({exc});"
                " use width=1 and output_stride=32, or a ResNet-family backbone"
            ) from None


def _asked(option: str, kwargs: Mapping[str, Any]) -> bool:
    return ("channels" in kwargs) if option == "width" else (option in kwargs)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_weights(model: nn.Module, path: Path, classifier: str | None) -> list[str]:
    """Initialise ``model`` from a local state dict file; returns the keys left at random init."""
    if not path.is_file():
        raise ConfigError(
            f"method 'classifier': weights file {path} does not exist; anobench never downloads"
            " weights: save a state dict on a machine that has them and pass its local path"
        )
    return load_state(model, read_state_dict(path), f"weights file {path}", classifier)


def load_state(
    model: nn.Module, state: Mapping[str, torch.Tensor], source: str, classifier: str | None
) -> list[str]:
    """Initialise ``model`` from a state dict; returns the keys left at random init.

    A 3-channel first convolution is summed to the model's input channels (timm's
    ``adapt_input_conv``); a classifier head of another shape (e.g. 1000 ImageNet classes) is
    skipped. Any other mismatch is an error naming keys, never a silent partial load.
    """
    from timm.models import adapt_input_conv

    own = model.state_dict()
    merged: dict[str, torch.Tensor] = {}
    head = (classifier or "\0") + "."
    mismatched, skipped_head = [], []
    for key, value in state.items():
        if key not in own:
            continue
        target = own[key]
        if value.shape == target.shape:
            merged[key] = value
        elif value.ndim == 4 and value.shape[1] == 3 and value.shape[0] == target.shape[0]:
            merged[key] = adapt_input_conv(target.shape[1], value)
        elif key.startswith(head):
            skipped_head.append(key)
        else:
            mismatched.append(f"{key} {tuple(value.shape)} vs {tuple(target.shape)}")
    missing = [k for k in own if k not in merged and not k.startswith(head)]
    if mismatched or missing:
        detail = "; ".join(
            part
            for part in (
                f"shape mismatch: {', '.join(mismatched[:5])}" if mismatched else "",
                f"missing: {', '.join(missing[:5])}" if missing else "",
            )
            if part
        )
        raise ConfigError(
            f"{source} does not fit backbone {type(model).__name__} ({detail});"
            " check the backbone, width and output_stride options"
        )
    model.load_state_dict(merged, strict=False)
    return [k for k in own if k not in merged]
