"""Pure ``nn.Module`` networks for AnoGAN (DCGAN) and f-AnoGAN (residual WGAN-GP nets).

Every network takes any square power-of-two side >= 8 (32, 64, 128, 256 px) and any channel
count. The published nets are 64 px with four stride-2 stages; other sizes use
``stages(size) = log2(size / 4)`` stages, so the innermost map is always 4 x 4 as published.
Widths keep the published rule "double per halving, capped at 8 * base": the map after ``j``
halvings has ``width(j - 1, base)`` channels in the DCGAN discriminator/generator and
``width(j, base)`` in the residual nets (whose first conv already runs at full size). A larger
input therefore gains stages at the 4 x 4 end at the capped width (so the feature size
``8 * base x 4 x 4`` of f(x) does not change); a smaller input loses the widest stage. At 64 px
both rules give exactly the published nets.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

#: TensorFlow's ``tf.layers.batch_normalization`` defaults (momentum 0.99 -> torch 0.01)
TF_BN = {"momentum": 0.01, "eps": 1e-3}


def stages(size: int) -> int:
    """Number of stride-2 stages that take ``size`` px down to 4 x 4."""
    if size < 8 or size & (size - 1):
        raise ValueError(f"image side must be a power of two >= 8, got {size}")
    return size.bit_length() - 3  # log2(size / 4)


def width(j: int, base: int) -> int:
    """Channels of a feature map ``j`` doublings above ``base``, capped at ``8 * base``."""
    return min(base * 2**j, 8 * base)


# -- DCGAN (Radford et al. 2016), as trained by AnoGAN ----------------------------------------


class DCGANGenerator(nn.Module):
    """z -> 4 x 4 (transposed conv 4 x 4) -> stride-2 transposed convs with BN + ReLU -> tanh."""

    def __init__(self, size: int, channels: int, latent_dim: int = 100, base: int = 64) -> None:
        super().__init__()
        n = stages(size)
        widths = [width(j, base) for j in range(n)]  # widths[j]: map at size / 2**(j+1)
        top = widths[-1]
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, top, 4, 1, 0, bias=False),
            nn.BatchNorm2d(top),
            nn.ReLU(True),
        ]
        for j in range(n - 1, 0, -1):
            layers += [
                nn.ConvTranspose2d(widths[j], widths[j - 1], 4, 2, 1, bias=False),
                nn.BatchNorm2d(widths[j - 1]),
                nn.ReLU(True),
            ]
        layers += [nn.ConvTranspose2d(widths[0], channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.latent_dim = latent_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z[:, :, None, None])


class DCGANDiscriminator(nn.Module):
    """Stride-2 convs with LeakyReLU 0.2 (BN from the second) -> 4 x 4 valid conv -> logit.

    ``features`` is the last hidden layer (``8 * base x 4 x 4`` at 64 px), the intermediate
    layer used for AnoGAN's feature-matching loss.
    """

    def __init__(self, size: int, channels: int, base: int = 64) -> None:
        super().__init__()
        n = stages(size)
        layers: list[nn.Module] = []
        c_in = channels
        for j in range(n):
            c_out = width(j, base)
            layers.append(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False))
            if j > 0:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.LeakyReLU(0.2, True))
            c_in = c_out
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(c_in, 1, 4, 1, 0, bias=False)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(x)
        return self.head(h).flatten()


def dcgan_init(module: nn.Module) -> None:
    """Radford et al.: conv weights ~ N(0, 0.02); BN scale ~ N(1, 0.02), shift 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


# -- f-AnoGAN: residual generator, critic and encoder (Gulrajani et al. 64 x 64 ResNet) ------


class ChannelLayerNorm(nn.Module):
    """Normalise each sample over (C, H, W); scale and shift per channel (tflib Layernorm)."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.layer_norm(x, x.shape[1:], eps=self.eps)
        return y * self.weight[:, None, None] + self.bias[:, None, None]


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "layer":
        return ChannelLayerNorm(channels)
    return nn.BatchNorm2d(channels, **TF_BN)


class _Up(nn.Module):
    """Nearest-neighbour x2 (= tiling channels + depth-to-space) followed by a conv."""

    def __init__(self, c_in: int, c_out: int, k: int, bias: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, k, 1, k // 2, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


def conv_mean_pool(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """``avg_pool2d(conv(x), 2)`` for a 3 x 3, stride-1, padding-1 ``conv``, as one conv.

    Both steps are linear, so they compose into a 4 x 4 kernel of stride 2 (the 3 x 3 kernel
    summed over the four offsets of the 2 x 2 window, over 4) with the same bias: 4 instead of 9
    multiply-adds per input pixel and output channel, and no full-size map to pool or to keep
    for the backward pass (``benchmarks/perf/fanogan_critic_step.py`` times the gain). Same
    weights, same function: only float rounding differs.
    """
    w = conv.weight
    kernel = (
        F.pad(w, (0, 1, 0, 1))
        + F.pad(w, (1, 0, 0, 1))
        + F.pad(w, (0, 1, 1, 0))
        + F.pad(w, (1, 0, 1, 0))
    ) / 4
    return F.conv2d(x, kernel, conv.bias, stride=2, padding=1)


class ResBlock(nn.Module):
    """Pre-activation residual block that doubles (``up``) or halves (``down``) the side.

    up: norm-ReLU-UpsampleConv3(in->out)-norm-ReLU-Conv3(out->out), shortcut UpsampleConv1.
    down: norm-ReLU-Conv3(in->in)-norm-ReLU-Conv3(in->out)-meanpool, shortcut meanpool-Conv1.
    """

    def __init__(self, c_in: int, c_out: int, resample: str, norm: str) -> None:
        super().__init__()
        self.resample = resample
        self.norm1 = _norm(norm, c_in)
        if resample == "up":
            self.shortcut = _Up(c_in, c_out, 1, bias=True)
            self.conv1: nn.Module = _Up(c_in, c_out, 3, bias=False)
            self.norm2 = _norm(norm, c_out)
            self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        elif resample == "down":
            self.shortcut = nn.Conv2d(c_in, c_out, 1)
            self.conv1 = nn.Conv2d(c_in, c_in, 3, 1, 1, bias=False)
            self.norm2 = _norm(norm, c_in)
            self.conv2 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        else:
            raise ValueError(f"resample must be 'up' or 'down', not {resample!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.norm2(self.conv1(F.relu(self.norm1(x)))))
        if self.resample == "down":  # ConvMeanPool and MeanPoolConv of the WGAN-GP code
            return self.shortcut(F.avg_pool2d(x, 2)) + conv_mean_pool(self.conv2, h)
        return self.shortcut(x) + self.conv2(h)


class ResNetGenerator(nn.Module):
    """Linear z -> 8*base x 4 x 4, residual up-blocks, BN-ReLU-Conv3 -> tanh (BatchNorm)."""

    def __init__(self, size: int, channels: int, latent_dim: int = 128, base: int = 64) -> None:
        super().__init__()
        n = stages(size)
        self.top = width(n, base)
        self.latent_dim = latent_dim
        self.input = nn.Linear(latent_dim, 16 * self.top)
        self.blocks = nn.Sequential(
            *[ResBlock(width(j + 1, base), width(j, base), "up", "batch") for j in range(n)][::-1]
        )
        self.out_norm = _norm("batch", base)
        self.output = nn.Conv2d(base, channels, 3, 1, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.input(z).view(len(z), self.top, 4, 4)
        h = self.blocks(h)
        return torch.tanh(self.output(F.relu(self.out_norm(h))))


class ResNetCritic(nn.Module):
    """Conv3 C->base, residual down-blocks to 4 x 4, flatten, Linear -> ``out_dim``.

    ``norm="layer"`` is the WGAN-GP critic (LayerNorm, no batch coupling); ``norm="batch"``
    with a tanh on top is f-AnoGAN's encoder (same topology). ``features`` returns the
    flattened ``8*base x 4 x 4`` map that feeds the final linear layer (f-AnoGAN's f(x)).
    """

    def __init__(
        self, size: int, channels: int, base: int = 64, out_dim: int = 1, norm: str = "layer"
    ) -> None:
        super().__init__()
        n = stages(size)
        self.input = nn.Conv2d(channels, base, 3, 1, 1)
        self.blocks = nn.Sequential(
            *[ResBlock(width(j, base), width(j + 1, base), "down", norm) for j in range(n)]
        )
        self.output = nn.Linear(16 * width(n, base), out_dim)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.input(x)).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The critic value, ``[N]``."""
        return self.output(self.features(x))[:, 0]


class Encoder(ResNetCritic):
    """f-AnoGAN's izi_f encoder: the critic's topology with BatchNorm and a tanh output."""

    def __init__(self, size: int, channels: int, latent_dim: int = 128, base: int = 64) -> None:
        super().__init__(size, channels, base=base, out_dim=latent_dim, norm="batch")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The latent code, ``[N, latent_dim]`` in (-1, 1)."""
        return torch.tanh(self.output(self.features(x)))
