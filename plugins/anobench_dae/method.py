"""The ``dae`` method: a U-Net trained to remove coarse noise from healthy images
(Kascenas, Pugeault & O'Neil, MIDL 2022); what it cannot restore is the anomaly."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from anobench import (
    Batches,
    ConfigError,
    Method,
    Option,
    Precision,
    Predictions,
    RunContext,
    Split,
    Stage,
    Trainer,
    channels_last_option,
    option_set,
    precision_option,
    to_tensor,
)

if TYPE_CHECKING:
    import torch


def _widths(text: str) -> tuple[int, ...]:
    try:
        out = tuple(int(w) for w in text.split(",") if w.strip())
    except ValueError:
        out = ()
    if len(out) != 6 or min(out) < 1:
        raise ConfigError(
            f"method 'dae': widths must be 6 comma-separated integers (MONAI BasicUNet's five"
            f" levels and its last decoder block), got {text!r}"
        )
    return out


def _groups(widths: tuple[int, ...]) -> int:
    return next(g for g in (32, 16, 8, 4, 2, 1) if all(c % g == 0 for c in widths))


def foreground(x: torch.Tensor, enabled: bool) -> torch.Tensor:
    """``[N, 1, H, W]`` float mask of the foreground: pixels whose channel mean is above the
    image's minimum by 0.01 (the official code: channel sum > 0.01 on a zero background), or
    all ones."""
    import torch

    mean = x.mean(dim=1, keepdim=True)
    if not enabled:
        return torch.ones_like(mean)
    low = mean.flatten(1).amin(dim=1).view(-1, 1, 1, 1)
    return (mean > low + 0.01).to(x.dtype)


def coarse_noise(
    shape: tuple[int, ...], res: int, std: float, gen: torch.Generator
) -> torch.Tensor:
    """Gaussian noise of std ``std`` on a ``res x res`` grid, upsampled bilinearly (corners
    aligned, as ``F.upsample_bilinear`` in the official code) to the image and rolled by a random
    shift shared by the batch (the official random translation)."""
    import torch
    import torch.nn.functional as F

    n, c, h, w = shape
    grid = torch.randn(n, c, res, res, generator=gen) * std
    noise = F.interpolate(grid, size=(h, w), mode="bilinear", align_corners=True)
    dy, dx = (int(v) for v in torch.randint(0, max(h, w), (2,), generator=gen))
    return torch.roll(noise, shifts=(dy % h, dx % w), dims=(-2, -1))


class DAE(Method):
    name = "dae"
    description = (
        "denoising autoencoder (Kascenas et al., MIDL 2022): MONAI U-Net removes coarse noise"
        " from healthy images; map = median5(|x - x_hat|), score = map mean"
    )
    supervision = "unsupervised"
    options = option_set(
        Option(
            "widths",
            str,
            "64,128,256,512,512,64",
            "BasicUNet channels: five levels and the last decoder block (official: 64..512)",
        ),
        Option(
            "noise_res",
            int,
            16,
            "side of the coarse noise grid (official: 16 at 128 px)",
            minimum=1,
        ),
        Option("noise_std", float, 0.2, "standard deviation of the coarse noise", minimum=0.0),
        Option("epochs", float, 2100.0, "official 'epochs' of epoch_len batches", minimum=0.0),
        Option(
            "epoch_len",
            int,
            32,
            "batches per official epoch (cosine period = 100 epochs)",
            minimum=1,
        ),
        Option("batch_size", int, 16, "training batch size", minimum=1),
        Option("lr", float, 1e-4, "Adam learning rate (AMSGrad, weight decay 1e-5)", minimum=0.0),
        Option("weight_decay", float, 1e-5, "Adam weight decay", minimum=0.0),
        Option("cosine_epochs", int, 100, "T_max of the cosine learning-rate annealing", minimum=1),
        Option(
            "foreground",
            bool,
            True,
            "noise, loss and map only inside the foreground (images with a background at their"
            " minimum, e.g. skull-stripped MRI); off for images without background",
        ),
        Option(
            "erode",
            int,
            5,
            "erode the foreground mask with this window for the map (0 = off)",
            minimum=0,
        ),
        Option("median", int, 5, "median filter of the map, window side (0 = off)", minimum=0),
        precision_option(),
        channels_last_option(default="off"),
        Option("checkpoint_every", int, 500, "steps between checkpoints", minimum=1),
        Option("predict_batch", int, 64, "images denoised together at prediction", minimum=1),
    )
    profiles = {
        # official training (src/denoising.py __main__): 2100 epochs of 32 batches of 16, lr 1e-4
        "paper": {},
        "quick": {
            "widths": "16,32,64,128,128,16",
            # chosen on the val split (README): 16 x 16 beat 4, 8 and 32
            "noise_res": 16,
            "epochs": 12.5,
            "lr": 1e-3,
            "cosine_epochs": 13,
            "foreground": False,
        },
    }
    test_options = {
        "widths": "4,4,8,8,8,4",
        "noise_res": 4,
        "epochs": 1.0,
        "epoch_len": 2,
        "batch_size": 4,
        "checkpoint_every": 2,
    }

    def _network(self, channels: int, seed: int = 0) -> torch.nn.Module:
        import torch
        from monai.networks.nets import BasicUNet

        widths = _widths(self.widths)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return BasicUNet(
                spatial_dims=2,
                in_channels=channels,
                out_channels=channels,
                features=widths,
                act=("relu", {"inplace": True}),
                norm=("group", {"num_groups": _groups(widths)}),
                upsample="deconv",
            )

    # -- fit -------------------------------------------------------------------------------------

    def fit(self, train: Split, val: Split, ctx: RunContext) -> DAE:
        import torch

        _, channels, height, width = train.images.shape
        if height % 16 or width % 16:
            raise ConfigError(
                f"method 'dae': MONAI's BasicUNet halves the image 4 times; {height}x{width} px"
                " is not a multiple of 16"
            )
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=ctx.generator))
        self.net_ = self._network(channels, seed)
        self.shape_ = (int(channels), int(height), int(width))
        amp = Precision.resolve(self.precision, self.channels_last, ctx.device)
        self.net_.to(ctx.device, memory_format=amp.memory_format).train()
        opt = torch.optim.Adam(
            self.net_.parameters(), lr=self.lr, weight_decay=self.weight_decay, amsgrad=True
        )
        cosine = torch.optim.lr_scheduler.CosineAnnealingLR(
            opt, T_max=self.cosine_epochs * self.epoch_len
        )
        batches = Batches(train.images, self.batch_size, ctx)
        gen = ctx.generator

        def step(x: torch.Tensor) -> dict[str, float]:
            mask = foreground(x, self.foreground)
            noise = coarse_noise(tuple(x.shape), self.noise_res, self.noise_std, gen).to(x)
            noisy = (x + noise * mask).contiguous(memory_format=amp.memory_format)
            with amp.autocast():
                out = self.net_(noisy)
            loss = ((out.float() - x).pow(2) * mask).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            cosine.step()
            return {"loss": loss.item()}

        steps = max(1, round(self.epochs * self.epoch_len))
        trainer = Trainer(
            ctx,
            name=self.name,
            state={"net": self.net_, "opt": opt, "cosine": cosine},
            batches=batches,
            checkpoint_every=self.checkpoint_every,
            precision=amp,
        )
        trainer.run([Stage("denoising", steps, step)])
        self.net_.to(memory_format=torch.contiguous_format).eval()
        return self

    # -- predict ---------------------------------------------------------------------------------

    def anomaly_map(self, x: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
        """The official post-processing: |x - x_hat| averaged over channels inside the eroded
        foreground, then a median filter; ``[N, H, W]``."""
        import torch.nn.functional as F
        from monai.networks.layers import median_filter

        mask = foreground(x, self.foreground)
        if self.foreground and self.erode > 1:
            k = self.erode
            mask = (F.avg_pool2d(mask, k, stride=1, padding=k // 2) > 0.95).to(x.dtype)
        err = ((x - recon) * mask).abs().mean(dim=1, keepdim=True)
        if self.median > 1:
            err = median_filter(err, kernel_size=self.median, spatial_dims=2)
        return err[:, 0]

    def predict(self, images: np.ndarray, ctx: RunContext) -> Predictions:
        import torch

        self.net_.to(ctx.device).eval()
        n = len(images)
        scores = np.empty(n, dtype=np.float64)
        maps = np.empty((n, *images.shape[2:]), dtype=np.float32)
        recon = np.empty(images.shape, dtype=np.float32)
        with torch.no_grad(), ctx.progress.task(f"{self.name}: denoising", total=n) as task:
            for start in range(0, n, self.predict_batch):
                x = to_tensor(images[start : start + self.predict_batch], ctx.device)
                out = self.net_(x).float()
                pixel = self.anomaly_map(x, out)
                stop = start + len(x)
                scores[start:stop] = pixel.flatten(1).mean(dim=1).double().cpu().numpy()
                maps[start:stop] = pixel.cpu().numpy()
                recon[start:stop] = out.cpu().numpy()
                task.advance(len(x))
        return Predictions(scores=scores, maps=maps, extras={"reconstruction": recon})

    # -- state -----------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        weights = {k: v.detach().cpu() for k, v in self.net_.state_dict().items()}
        return {"shape": list(self.shape_), "net": weights}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        import torch

        shape = tuple(int(v) for v in state["shape"])
        with torch.inference_mode(False):
            self.net_ = self._network(shape[0])
            self.net_.load_state_dict(state["net"])
        self.net_.eval()
        self.shape_ = shape
