"""Grad-CAM (Selvaraju et al., ICCV 2017) on a timm model's last feature map, without hooks.

``forward_features`` gives the last convolutional feature map ``A`` (``[N, K, h, w]``) and
``forward_head`` the logit ``y``; the map is ``ReLU(sum_k mean_ij(dy/dA_k) * A_k)``, upsampled
bilinearly to the input size. It is not normalised per image: for a global-average-pooled
linear head it is the per-cell share of the logit, so maps of different images compare and a
confidently healthy image gets a dim map.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from anobench import ConfigError


def logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return model(x).reshape(-1)


def gradcam(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(logits [N], maps [N, H, W])`` for the diseased logit; works under ``inference_mode``."""
    with torch.inference_mode(False), torch.enable_grad():
        # a normal tensor even if made in inference mode, and in the graph even if the net is frozen
        x = x.clone().requires_grad_(True)
        features = model.forward_features(x)
        if features.ndim != 4:
            raise ConfigError(
                f"method 'classifier': backbone {type(model).__name__} has no spatial feature"
                f" map (got shape {tuple(features.shape)}); use cam=none or a convolutional one"
            )
        y = model.forward_head(features).reshape(-1)
        (grads,) = torch.autograd.grad(y.sum(), features)
        weights = grads.mean(dim=(2, 3), keepdim=True)
        cam = F.relu((weights * features).sum(dim=1, keepdim=True))
        cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)
    return y.detach(), cam[:, 0].detach()
