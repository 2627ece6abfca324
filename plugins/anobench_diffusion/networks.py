"""The networks, all MONAI's: the noise-predicting U-Net and the classifier on noised images."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn


def widths(text: str) -> tuple[int, ...]:
    """``"64,128,128"`` -> ``(64, 128, 128)``."""
    try:
        out = tuple(int(w) for w in text.split(",") if w.strip())
    except ValueError:
        raise ValueError(f"widths must be comma-separated integers, got {text!r}") from None
    if not out or min(out) < 1:
        raise ValueError(f"widths must be positive integers, got {text!r}")
    return out


def attention_levels(size: int, levels: int, at: Sequence[int]) -> tuple[bool, ...]:
    """Attention at the U-Net levels whose feature maps have a side in ``at`` (pixels)."""
    return tuple(size // 2**i in set(at) for i in range(levels))


def groups(channels: Sequence[int]) -> int:
    """The largest of 32, 16, 8, 4, 2, 1 groups that divides every width (GroupNorm)."""
    return next(g for g in (32, 16, 8, 4, 2, 1) if all(c % g == 0 for c in channels))


def unet(
    size: int,
    channels: int,
    width: Sequence[int],
    res_blocks: int,
    attention_at: Sequence[int],
    head_channels: int,
    classes: int | None = None,
) -> nn.Module:
    """MONAI's ``DiffusionModelUNet`` predicting the noise (class-conditional with ``classes``)."""
    from monai.networks.nets import DiffusionModelUNet

    return DiffusionModelUNet(
        spatial_dims=2,
        in_channels=channels,
        out_channels=channels,
        num_res_blocks=res_blocks,
        channels=tuple(width),
        attention_levels=attention_levels(size, len(width), attention_at),
        norm_num_groups=groups(width),
        num_head_channels=head_channels,
        num_class_embeds=classes,
    )


def classifier(
    size: int,
    channels: int,
    width: Sequence[int],
    res_blocks: int,
    attention_at: Sequence[int],
    head_channels: int,
) -> nn.Module:
    """MONAI's ``DiffusionModelEncoder``: the U-Net's encoder with a timestep embedding and a
    two-class head (the classifier of Wolleb et al. 2022, trained on noised images)."""
    from monai.networks.nets.diffusion_model_unet import DiffusionModelEncoder

    return DiffusionModelEncoder(
        spatial_dims=2,
        in_channels=channels,
        out_channels=2,
        input_shape=(size, size),
        num_res_blocks=res_blocks,
        channels=tuple(width),
        attention_levels=attention_levels(size, len(width), attention_at),
        norm_num_groups=groups(width),
        num_head_channels=head_channels,
        resblock_updown=True,
    )
