"""The ``vae`` and ``ae`` method plugins: reconstruct healthy anatomy, flag what does not fit.

One implementation (``_Autoencoder``) with a ``variational`` switch: the VAE adds the
reparameterisation and the KL term; the AE is the same network with a deterministic
bottleneck and no KL term (MedIAnomaly's ``vae`` and ``ae``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

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
    gaussian_blur,
    option_set,
    precision_option,
    steps_for_epochs,
    to_tensor,
)

if TYPE_CHECKING:  # imported where used: importing this module stays fast
    import torch

    from .network import ConvAutoencoder


_COMMON = (
    Option("latent_dim", int, 16, "latent size (MedIAnomaly -ls)", minimum=1),
    Option(
        "hidden", int, 1024, "width of the bottleneck MLPs (MedIAnomaly --hidden-num)", minimum=1
    ),
    Option("base_width", int, 16, "channels of the first encoder stage", minimum=1),
    Option("epochs", float, 250.0, "passes over the healthy training images", minimum=0.0),
    Option("batch_size", int, 64, "training batch size", minimum=1),
    Option("lr", float, 1e-3, "Adam learning rate (no weight decay, no schedule)", minimum=0.0),
    Option(
        "map",
        str,
        "squared",
        "pixel map: squared (x - x_hat)^2 as in MedIAnomaly, or abs |x - x_hat|",
        choices=("squared", "abs"),
    ),
    Option(
        "smooth_sigma",
        float,
        0.0,
        "Gaussian smoothing of the map in pixels (0 = none, as in MedIAnomaly)",
        minimum=0.0,
    ),
    precision_option(
        help="training precision: auto (bf16 where the CPU or GPU computes it natively, fp16 on"
        " older GPUs, else fp32), fp32, bf16, fp16 or tf32; prediction always runs in fp32"
    ),
    # off: on CPUs this network's bf16 step is faster in the default layout
    channels_last_option(default="off"),
    Option("checkpoint_every", int, 500, "save a resumable checkpoint every N steps", minimum=1),
    Option("predict_batch", int, 64, "images reconstructed together at prediction", minimum=1),
)
_SCORE = Option(
    "score", str, "mean", "image score: mean or max of the map", choices=("mean", "max")
)
# quick: the shortest schedule whose 3-seed val pixel AP on the synthetic phantoms is no lower
# than the full recipe's (the AE overfits; measured in this plugin's README)
_PAPER: dict[str, Any] = {}
_TEST = {
    "latent_dim": 4,
    "hidden": 16,
    "base_width": 4,
    "epochs": 1.0,
    "batch_size": 4,
    "checkpoint_every": 2,
}


class _Autoencoder(Method):
    """Shared fit / predict / state of the VAE and the AE."""

    supervision = "unsupervised"
    variational: ClassVar[bool] = False
    #: the AE has no KL term; the VAE's constructor sets this from its option
    kl_weight: float = 0.0
    test_options = _TEST

    def _network(self, size: int, channels: int, seed: int = 0) -> ConvAutoencoder:
        """The network, initialised under ``seed`` without touching the global RNG."""
        import torch

        from .network import ConvAutoencoder

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return ConvAutoencoder(
                size,
                channels,
                variational=self.variational,
                latent_dim=self.latent_dim,
                hidden=self.hidden,
                base=self.base_width,
            )

    def _losses(
        self, x: torch.Tensor, noise: torch.Tensor | None, amp: Precision | None = None
    ) -> dict[str, torch.Tensor]:
        """Per-image reconstruction MSE and KL (zeros for the AE), and the reconstruction.
        ``amp``: the network runs under its autocast; the losses are computed in fp32."""
        import contextlib

        import torch

        from .network import kl_per_image

        with amp.autocast() if amp is not None else contextlib.nullcontext():
            outputs = self.net_(
                x if amp is None else x.contiguous(memory_format=amp.memory_format), noise
            )
        recon, mu, log_var = (None if t is None else t.float() for t in outputs)
        rec = (x - recon).pow(2).flatten(1).mean(dim=1)
        kl = kl_per_image(mu, log_var) if log_var is not None else torch.zeros_like(rec)
        return {"rec": rec, "kl": kl, "recon": recon}

    # -- fit -----------------------------------------------------------------------------------

    def fit(self, train: Split, val: Split, ctx: RunContext) -> _Autoencoder:
        import torch

        from .network import stages

        n, channels, height, width = train.images.shape
        if height != width:
            raise ConfigError(f"method '{self.name}' needs square images, got {height}x{width}")
        try:
            stages(height)
        except ValueError:
            raise ConfigError(
                f"method '{self.name}' needs an image side of 32, 64, 128 or 256 px, got {height}"
            ) from None
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=ctx.generator))
        self.net_ = self._network(height, channels, seed)
        amp = Precision.resolve(self.precision, self.channels_last, ctx.device)
        self.net_.to(ctx.device, memory_format=amp.memory_format).train()
        self.shape_ = (int(channels), int(height))
        opt = torch.optim.Adam(self.net_.parameters(), lr=self.lr)
        batches = Batches(train.images, self.batch_size, ctx)

        def step(x: torch.Tensor) -> dict[str, float]:
            noise = None
            if self.variational:
                noise = torch.randn(batches.batch, self.latent_dim, generator=ctx.generator)
                noise = noise.to(ctx.device)
            out = self._losses(x, noise, amp)
            rec, kl = out["rec"].mean(), out["kl"].mean()
            loss = rec + self.kl_weight * kl
            trainer.descend(loss, opt)
            scalars = {"loss": loss.item(), "rec": rec.item()}
            if self.variational:
                scalars["kl"] = kl.item()
            return scalars

        steps = steps_for_epochs(self.epochs, n, batches.batch)
        stage = Stage("training", steps, step, validate=lambda: self._val_loss(val, ctx))
        state = {"net": self.net_, "opt": opt}
        trainer = Trainer(
            ctx,
            name=self.name,
            state=state,
            batches=batches,
            checkpoint_every=self.checkpoint_every,
            precision=amp,
            scaler=True,
        )
        trainer.run([stage])
        self.net_.to(memory_format=torch.contiguous_format).eval()
        return self

    def _val_loss(self, val: Split, ctx: RunContext) -> dict[str, float]:
        import torch

        if len(val) == 0:
            return {}
        self.net_.eval()
        with torch.no_grad():
            x = to_tensor(val.images[:256], ctx.device)
            out = self._losses(x, None)
        self.net_.train()
        return {"val_loss": (out["rec"] + self.kl_weight * out["kl"]).mean().item()}

    # -- predict -------------------------------------------------------------------------------

    def predict(self, images: np.ndarray, ctx: RunContext) -> Predictions:
        import torch

        self.net_.to(ctx.device).eval()
        n = len(images)
        scores = np.empty(n, dtype=np.float64)
        maps = np.empty((n, *images.shape[2:]), dtype=np.float32)
        recon = np.empty(images.shape, dtype=np.float32)
        with torch.no_grad(), ctx.progress.task(f"{self.name}: reconstructing", total=n) as task:
            for start in range(0, n, self.predict_batch):
                x = to_tensor(images[start : start + self.predict_batch], ctx.device)
                out = self._losses(x, None)  # the VAE decodes the posterior mean at test time
                diff = x - out["recon"]
                pixel = diff.pow(2) if self.map == "squared" else diff.abs()
                pixel = gaussian_blur(pixel.mean(dim=1), self.smooth_sigma)
                if self.score == "elbo":
                    score = out["rec"] + self.kl_weight * out["kl"]
                elif self.score == "max":
                    score = pixel.flatten(1).amax(dim=1)
                else:
                    score = pixel.flatten(1).mean(dim=1)
                stop = start + len(x)
                scores[start:stop] = score.double().cpu().numpy()
                maps[start:stop] = pixel.cpu().numpy()
                recon[start:stop] = out["recon"].cpu().numpy()
                task.advance(len(x))
        return Predictions(scores=scores, maps=maps, extras={"reconstruction": recon})

    # -- state ---------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        channels, size = self.shape_
        weights = {k: v.detach().cpu() for k, v in self.net_.state_dict().items()}
        return {"channels": channels, "image_size": size, "net": weights}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        import torch

        channels, size = int(state["channels"]), int(state["image_size"])
        with torch.inference_mode(False):
            self.net_ = self._network(size, channels)
            self.net_.load_state_dict(state["net"])
        self.net_.eval()
        self.shape_ = (channels, size)


class VAE(_Autoencoder):
    name = "vae"
    description = (
        "convolutional VAE (MedIAnomaly 64 px recipe: latent 16, KL weight 0.005 on mean-reduced"
        " terms, Adam 1e-3, 250 epochs); map = (x - x_hat)^2 or |x - x_hat|, score = map mean"
    )
    variational = True
    profiles = {"paper": _PAPER, "quick": {"epochs": 100.0}}
    options = option_set(
        *_COMMON,
        Option(
            "kl_weight",
            float,
            0.005,
            "weight of the KL term; both terms are means (pixels, latent dims, batch)",
            minimum=0.0,
        ),
        dataclasses.replace(
            _SCORE,
            choices=("mean", "max", "elbo"),
            help="image score: mean or max of the map, or elbo = per-image training loss"
            " (reconstruction MSE + kl_weight * KL, decoding the posterior mean)",
        ),
    )


class AE(_Autoencoder):
    name = "ae"
    description = (
        "convolutional autoencoder: the VAE's network without the KL term (MedIAnomaly 'ae');"
        " map = (x - x_hat)^2 or |x - x_hat|, score = map mean"
    )
    variational = False
    profiles = {"paper": _PAPER, "quick": {"epochs": 50.0}}
    options = option_set(*_COMMON, _SCORE)
