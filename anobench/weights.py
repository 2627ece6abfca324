"""Pretrained weights for a method's backbone: the values ``none``, ``timm`` (timm's ImageNet
weights, fetched into the Hugging Face cache when this machine is online; one line naming the
weights, the cache and the local-file alternative when it is offline) or a path of a method's
``backbone_weights`` option. Tests never download: they use a local file or mock the request."""

from __future__ import annotations

from .api.weights import (
    BackboneWeights,
    hub_cache,
    hub_offline,
    is_network_error,
    load_backbone_weights,
    offline_error,
    read_state_dict,
    resolve_backbone_weights,
    timm_cache_file,
)

__all__ = [
    "BackboneWeights",
    "hub_cache",
    "hub_offline",
    "is_network_error",
    "load_backbone_weights",
    "offline_error",
    "read_state_dict",
    "resolve_backbone_weights",
    "timm_cache_file",
]
