"""Which dtype each convolution of a method's network computes in, by phase."""

from __future__ import annotations

import torch


def record_conv_dtypes(monkeypatch, cls) -> dict[str, list[torch.dtype]]:
    """Patch ``cls._network`` so that every convolution of the networks it builds records its
    output dtype, split by whether autograd records it ("grad": training steps, Grad-CAM) or not
    ("no_grad": validation, prediction)."""
    seen: dict[str, list[torch.dtype]] = {"grad": [], "no_grad": []}
    original = cls._network

    def network(self, *args, **kwargs):
        net = original(self, *args, **kwargs)
        for module in net.modules():
            if isinstance(module, torch.nn.Conv2d | torch.nn.ConvTranspose2d):
                module.register_forward_hook(
                    lambda _m, _i, out: seen[
                        "grad" if torch.is_grad_enabled() else "no_grad"
                    ].append(out.dtype)
                )
        return net

    monkeypatch.setattr(cls, "_network", network)
    return seen
