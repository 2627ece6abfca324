"""DeScarGAN's generator and discriminator as pure ``nn.Module``s (Wolleb et al., MICCAI 2020).

Shapes follow the official code at 256 px with ``width`` = 64 (G) and 32 (D); the image size is a
constructor argument instead of a constant.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from anobench import DISEASED, HEALTHY  # noqa: F401  (the class indices of the translation)


class PerImageBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d that can normalise each image with its own statistics.

    The official evaluation runs G in train mode with batch size 1, so BatchNorm uses the
    statistics of that one image. That equals instance normalisation with BatchNorm's affine
    parameters and eps, which lets inference run batched with identical results.
    """

    per_image: bool = False
    #: set by ``Generator.record_batch_stats``: the calls whose batch statistics are collected
    calls: list[list[BatchStats]] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.per_image:
            return F.instance_norm(x, weight=self.weight, bias=self.bias, eps=self.eps)
        if self.training and self.calls is not None:
            # momentum 1 writes this batch's mean and unbiased variance, exactly, into the
            # scratch buffers: the statistics come for free with the normalisation
            mean = torch.zeros_like(self.running_mean)
            var = torch.ones_like(self.running_var)
            out = F.batch_norm(x, mean, var, self.weight, self.bias, True, 1.0, self.eps)
            self.calls[-1].append(BatchStats(self, mean, var))
            return out
        return super().forward(x)


class BatchStats(NamedTuple):
    module: PerImageBatchNorm2d
    mean: torch.Tensor
    var: torch.Tensor


def replay_batch_stats(calls: list[list[BatchStats]]) -> None:
    """Fold recorded batch statistics into the running statistics, call after call.

    The same update as ``nn.BatchNorm2d`` in training mode (``running = (1 - momentum) * running
    + momentum * batch``, unbiased variance, one more tracked batch), so recording a call and
    replaying it later equals running it with the statistics updated in place.
    """
    with torch.no_grad():
        for call in calls:
            for module, mean, var in call:
                m = module.momentum
                if m is None:
                    raise ValueError("replaying batch statistics needs a fixed momentum")
                module.running_mean.mul_(1 - m).add_(mean, alpha=m)
                module.running_var.mul_(1 - m).add_(var, alpha=m)
                module.num_batches_tracked.add_(1)


def conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1),
        PerImageBatchNorm2d(cout, momentum=0.01),
        nn.ReLU(inplace=True),
    )


def up_bn_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), conv_bn_relu(cin, cout))


class Generator(nn.Module):
    """U-Net-like translator with one output head per target class.

    The target class enters as a one-hot tiled to ``n_classes`` constant channels. As in the
    official code, the full-resolution skip connection is absent by default (its concatenation is
    computed there but never used; ``skip0=True`` feeds it to the heads), and the whole batch uses
    the head of one target class.
    """

    def __init__(
        self, channels: int = 1, width: int = 64, n_classes: int = 2, skip0: bool = False
    ) -> None:
        super().__init__()
        c = width
        self.n_classes = n_classes
        self.skip0 = skip0
        self.down0 = nn.Sequential(conv_bn_relu(channels + n_classes, c), conv_bn_relu(c, c))
        self.down1 = nn.Sequential(
            nn.MaxPool2d(2), conv_bn_relu(c, 2 * c), conv_bn_relu(2 * c, 2 * c)
        )
        self.down2 = nn.Sequential(
            nn.MaxPool2d(2), conv_bn_relu(2 * c, 4 * c), conv_bn_relu(4 * c, 4 * c)
        )
        self.down3 = nn.Sequential(
            nn.MaxPool2d(2), conv_bn_relu(4 * c, 8 * c), conv_bn_relu(8 * c, 8 * c)
        )
        self.up3 = up_bn_relu(8 * c, 4 * c)
        self.conv5 = nn.Sequential(conv_bn_relu(8 * c, 4 * c), conv_bn_relu(4 * c, 4 * c))
        self.up2 = up_bn_relu(4 * c, 2 * c)
        self.conv6 = nn.Sequential(conv_bn_relu(4 * c, 2 * c), conv_bn_relu(2 * c, 2 * c))
        self.up1 = up_bn_relu(2 * c, c)
        head_in = 2 * c if skip0 else c
        self.heads = nn.ModuleList([self._head(head_in, c, channels) for _ in range(n_classes)])

    @staticmethod
    def _head(cin: int, c: int, channels: int) -> nn.Sequential:
        return nn.Sequential(
            conv_bn_relu(cin, c),
            nn.Conv2d(c, channels, 3, padding=1),
            PerImageBatchNorm2d(channels, momentum=0.01),
            nn.Tanh(),
        )

    _calls: list[list[BatchStats]] | None = None

    def record_batch_stats(self, calls: list[list[BatchStats]] | None) -> None:
        """Collect the BatchNorm statistics of every training call into ``calls`` (one list per
        call, in call order) instead of updating the running statistics; None: update them."""
        self._calls = calls
        for module in self.modules():
            if isinstance(module, PerImageBatchNorm2d):
                module.calls = calls

    def forward(self, x: torch.Tensor, target: int) -> torch.Tensor:
        if self._calls is not None and self.training:
            self._calls.append([])
        n, _, h, w = x.shape
        code = torch.zeros(n, self.n_classes, h, w, dtype=x.dtype, device=x.device)
        code[:, target] = 1
        x0 = self.down0(torch.cat([x, code], dim=1))
        x1 = self.down1(x0)
        x2 = self.down2(x1)
        x3 = self.down3(x2)
        x5 = self.conv5(torch.cat([self.up3(x3), x2], dim=1))
        x6 = self.conv6(torch.cat([self.up2(x5), x1], dim=1))
        top = self.up1(x6)
        if self.skip0:
            top = torch.cat([top, x0], dim=1)
        return self.heads[target](top)

    def set_per_image_norm(self, enabled: bool) -> None:
        for module in self.modules():
            if isinstance(module, PerImageBatchNorm2d):
                module.per_image = enabled


def conv_relu(cin: int, cout: int, kernel: int = 3, padding: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, padding=padding), nn.ReLU(inplace=True))


class Discriminator(nn.Module):
    """Shared encoder, one patch critic per class and a classification head.

    No normalisation. The critic's final 1x1 convolution keeps the official ``padding=1``, so the
    patch map is ``(size/32 + 2)^2`` with a bias-only border. ``top``: the channels of the last
    stage (the encoder's last convolution, the critics and the classifier) as a multiple of
    ``width`` (official: 16).
    """

    def __init__(
        self,
        channels: int = 1,
        width: int = 32,
        image_size: int = 256,
        n_classes: int = 2,
        top: int = 16,
    ) -> None:
        super().__init__()
        if image_size % 32:
            raise ValueError(f"image_size must be a multiple of 32, got {image_size}")
        c = width
        self.encoder = nn.Sequential(
            conv_relu(channels, c),
            nn.MaxPool2d(2),
            conv_relu(c, 2 * c),
            nn.MaxPool2d(2),
            conv_relu(2 * c, 4 * c),
            conv_relu(4 * c, 4 * c),
            nn.MaxPool2d(2),
            conv_relu(4 * c, 8 * c),
            conv_relu(8 * c, 8 * c),
            nn.MaxPool2d(2),
            conv_relu(8 * c, 8 * c),
            conv_relu(8 * c, 8 * c),
            nn.MaxPool2d(2),
            conv_relu(8 * c, top * c),
        )
        top = top * c
        self.critics = nn.ModuleList(
            [
                nn.Sequential(
                    conv_relu(top, top), conv_relu(top, top), nn.Conv2d(top, 1, 1, padding=1)
                )
                for _ in range(n_classes)
            ]
        )
        side = image_size // 32
        # the official head pools 8x8 -> 4x4 at 256 px; below 64 px there is nothing to pool
        pool = side >= 2
        side = side // 2 if pool else side
        self.classifier = nn.Sequential(
            conv_relu(top, top),
            conv_relu(top, top),
            nn.MaxPool2d(2) if pool else nn.Identity(),
            nn.Flatten(),
            nn.Linear(top * side * side, 64),
            nn.ReLU(inplace=True),
            nn.Dropout(0.1),
            nn.Linear(64, n_classes),
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def critic(self, h: torch.Tensor, cls: int) -> torch.Tensor:
        return self.critics[cls](h)

    def classify(self, h: torch.Tensor) -> torch.Tensor:
        return self.classifier(h)

    def forward(self, x: torch.Tensor, cls: int) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(x)
        return self.critic(h, cls), self.classify(h)


def init_generator(g: Generator) -> None:
    for m in g.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            nn.init.zeros_(m.bias)


def init_discriminator(d: Discriminator, scheme: str = "xavier") -> None:
    """Xavier-normal convolutions (official) or Kaiming-normal (fan-in, ReLU); zero biases.

    Xavier halves the activation variance at every ReLU, so after D's twelve convolutions the
    classification head starts from a nearly constant input; Kaiming keeps the variance.
    """
    for m in d.modules():
        if isinstance(m, nn.Conv2d):
            if scheme == "kaiming":
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            else:
                nn.init.xavier_normal_(m.weight)
            nn.init.zeros_(m.bias)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
