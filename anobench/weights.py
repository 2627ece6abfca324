"""Pretrained weights for a method's backbone, from local files only: the values ``none``,
``timm`` (a copy already on this machine) or a path of a method's ``backbone_weights`` option.
Nothing is ever downloaded."""

from __future__ import annotations

from .api.weights import (
    BackboneWeights,
    load_backbone_weights,
    read_state_dict,
    resolve_backbone_weights,
)

__all__ = [
    "BackboneWeights",
    "load_backbone_weights",
    "read_state_dict",
    "resolve_backbone_weights",
]
