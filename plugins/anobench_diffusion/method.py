"""The ``ddpm_guided`` (Wolleb et al. 2022) and ``anoddpm`` (Wyatt et al. 2022) methods.

Both train MONAI's ``DiffusionModelUNet`` to predict the noise of MONAI's forward process
(``DiffusionInferer``), through ``anobench.Trainer``; they differ in what the U-Net sees and
how an image is brought back to "healthy": ``ddpm_guided`` encodes it deterministically (DDIM)
to a noise level and decodes it with classifier guidance towards the healthy class;
``anoddpm`` noises it partially (simplex or Gaussian noise) and denoises it with a model that
only ever saw healthy images.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from anobench import (
    HEALTHY,
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
    to_tensor,
)

if TYPE_CHECKING:
    import torch

_UNET = (
    Option("unet_widths", str, "128,128,256,256", "U-Net channels per level (comma-separated)"),
    Option("unet_res_blocks", int, 2, "residual blocks per U-Net level", minimum=1),
    Option(
        "unet_attention", str, "16", "self-attention at the levels of these sides in px ('' = none)"
    ),
    Option("head_channels", int, 64, "channels per attention head", minimum=1),
    Option("timesteps", int, 1000, "length T of the diffusion schedule", minimum=2),
    Option(
        "schedule",
        str,
        "linear_beta",
        "beta schedule of MONAI's schedulers (linear_beta: 1e-4 .. 0.02)",
        choices=("linear_beta", "scaled_linear_beta"),
    ),
    Option("steps", int, 50000, "training steps of the diffusion model", minimum=0),
    Option(
        "train_max_t",
        int,
        0,
        "train on timesteps below this only (0 = the whole schedule, as the papers); prediction"
        " never goes above noise_level",
        minimum=0,
    ),
    Option("batch_size", int, 10, "training batch size", minimum=1),
    Option("lr", float, 1e-4, "AdamW learning rate of the diffusion model", minimum=0.0),
    Option(
        "ema", float, 0.9999, "decay of the moving average of the U-Net (0 = none)", minimum=0.0
    ),
    Option("noise_level", int, 500, "noise level L: the timestep an image is taken to", minimum=1),
    Option(
        "map_sigma",
        float,
        0.0,
        "Gaussian smoothing of the anomaly map in pixels (0 = none, as the papers)",
        minimum=0.0,
    ),
    precision_option(
        help="training precision: auto (bf16 where the CPU or GPU computes it natively, fp16 on"
        " older GPUs, else fp32), fp32, bf16 or fp16; sampling always runs in fp32"
    ),
    channels_last_option(default="off"),
    Option("checkpoint_every", int, 1000, "steps between checkpoints", minimum=1),
    Option("predict_batch", int, 50, "images translated together at prediction", minimum=1),
)


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(",") if v.strip())


def image_generators(images: np.ndarray, seed: int) -> list[torch.Generator]:
    """One generator per image, seeded by the image's bytes: its noise at prediction depends on
    the image alone, never on its neighbours in the batch."""
    import torch

    out = []
    for img in images:
        crc = zlib.crc32(np.ascontiguousarray(img, dtype=np.float32).tobytes())
        out.append(torch.Generator().manual_seed(crc * 1_000_003 + seed))
    return out


class _Diffusion(Method):
    """Training of the noise-predicting U-Net, state and the shared parts of prediction."""

    #: the U-Net is conditioned on the image label (``ddpm_guided`` with ``class_cond``)
    conditional = False

    # -- construction ----------------------------------------------------------------------------

    def _check(self, channels: int, size: int, width: tuple[int, ...]) -> None:
        if size % 2 ** (len(width) - 1):
            raise ConfigError(
                f"method '{self.name}': a side of {size} px cannot be halved"
                f" {len(width) - 1} times; use fewer widths or another image size"
            )
        if self.noise_level >= self.timesteps:
            raise ConfigError(
                f"method '{self.name}': noise_level ({self.noise_level}) must be below"
                f" timesteps ({self.timesteps})"
            )

    def _networks(self, channels: int, size: int, seed: int) -> dict[str, torch.nn.Module]:
        """The networks, initialised under ``seed`` without touching the global RNG."""
        import torch

        from .networks import unet, widths

        try:
            width = widths(self.unet_widths)
        except ValueError as exc:
            raise ConfigError(f"method '{self.name}': unet_widths: {exc}") from None
        self._check(channels, size, width)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            nets = {
                "unet": unet(
                    size,
                    channels,
                    width,
                    self.unet_res_blocks,
                    _ints(self.unet_attention),
                    self.head_channels,
                    classes=2 if self.conditional else None,
                )
            }
            nets.update(self._extra_networks(channels, size))
        return nets

    def _extra_networks(self, channels: int, size: int) -> dict[str, torch.nn.Module]:
        return {}

    def _schedulers(self) -> tuple[Any, Any]:
        """MONAI's DDPM scheduler (forward process, ancestral steps; clips x0 to [-1, 1] as
        guided-diffusion) and DDIM scheduler (no clipping: the encoding must be invertible)."""
        from monai.networks.schedulers import DDIMScheduler, DDPMScheduler

        ddpm = DDPMScheduler(num_train_timesteps=self.timesteps, schedule=self.schedule)
        ddim = DDIMScheduler(
            num_train_timesteps=self.timesteps, schedule=self.schedule, clip_sample=False
        )
        return ddpm, ddim

    # -- training --------------------------------------------------------------------------------

    def _training_noise(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        import torch

        return torch.randn(x.shape, generator=gen).to(x)

    def _max_t(self) -> int:
        return min(self.train_max_t, self.timesteps) if self.train_max_t else self.timesteps

    def _extra_stages(self, ctx: RunContext, state: dict, amp: Precision, ddpm) -> list[Stage]:
        return []

    def fit(self, train: Split, val: Split, ctx: RunContext) -> _Diffusion:
        import torch
        import torch.nn.functional as F
        from monai.inferers import DiffusionInferer

        _, channels, height, width = train.images.shape
        if height != width:
            raise ConfigError(f"method '{self.name}' needs square images, got {height}x{width}")
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=ctx.generator))
        self.nets_ = self._networks(channels, height, seed)
        self.shape_ = (int(channels), int(height))
        amp = Precision.resolve(self.precision, self.channels_last, ctx.device)
        for net in self.nets_.values():
            net.to(ctx.device, memory_format=amp.memory_format).train()
        unet = self.nets_["unet"]
        ddpm, _ = self._schedulers()
        inferer = DiffusionInferer(ddpm)
        opt = torch.optim.AdamW(unet.parameters(), lr=self.lr, weight_decay=0.0)
        labels = np.asarray(train.labels, dtype=np.int64) if self.supervision == "weak" else None
        batches = Batches(train.images, self.batch_size, ctx, labels=labels)
        gen = ctx.generator

        def diffusion_step(batch: Any) -> dict[str, float]:
            x, y = batch if isinstance(batch, tuple) else (batch, None)
            x = x.contiguous(memory_format=amp.memory_format)
            t = torch.randint(0, self._max_t(), (len(x),), generator=gen).to(x.device)
            noise = self._training_noise(x, gen)
            model = partial(unet, class_labels=y) if self.conditional else unet
            with amp.autocast():
                pred = inferer(inputs=x, diffusion_model=model, noise=noise, timesteps=t)
            loss = F.mse_loss(pred.float(), noise)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return {"loss": loss.item()}

        state: dict[str, Any] = {"unet": unet, "opt": opt}
        stages = [Stage("diffusion", self.steps, diffusion_step, ema=self.ema > 0)]
        stages += self._extra_stages(ctx, state, amp, ddpm)
        trainer = Trainer(
            ctx,
            name=self.name,
            state=state,
            batches=batches,
            checkpoint_every=self.checkpoint_every,
            ema=unet if self.ema > 0 else None,
            ema_decay=self.ema if self.ema > 0 else 0.999,
            precision=amp,
        )
        trainer.run(stages)
        trainer.apply_ema()  # sample with the averaged weights, as both papers
        for net in self.nets_.values():
            net.to(memory_format=torch.contiguous_format).eval()
        return self

    # -- prediction ------------------------------------------------------------------------------

    def _eps(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        unet = self.nets_["unet"]
        if self.conditional:
            import torch

            healthy = torch.full((len(x),), HEALTHY, dtype=torch.long, device=x.device)
            return unet(x, t, class_labels=healthy)
        return unet(x, t)

    def _translate(self, x: torch.Tensor, images: np.ndarray) -> tuple[torch.Tensor, Any]:
        """The healthy version of the batch ``x`` and the image scores (``None``: map mean)."""
        raise NotImplementedError

    def _pixel(self, diff: torch.Tensor) -> torch.Tensor:
        return diff.abs()

    def predict(self, images: np.ndarray, ctx: RunContext) -> Predictions:
        import torch

        n = len(images)
        scores = np.empty(n, dtype=np.float64)
        maps = np.empty((n, *images.shape[2:]), dtype=np.float32)
        healthy = np.empty(images.shape, dtype=np.float32)
        # the runner predicts under inference mode; guidance needs gradients of new tensors
        with (
            torch.inference_mode(False),
            torch.no_grad(),
            ctx.progress.task(f"{self.name}: translating", total=n) as task,
        ):
            for net in self.nets_.values():
                net.to(ctx.device).eval()
            for start in range(0, n, self.predict_batch):
                chunk = images[start : start + self.predict_batch]
                x = to_tensor(chunk, ctx.device)
                out, score = self._translate(x, chunk)
                pixel = gaussian_blur(self._pixel(x - out).mean(dim=1), self.map_sigma)
                if score is None:
                    score = pixel.flatten(1).mean(dim=1)
                stop = start + len(x)
                scores[start:stop] = score.double().cpu().numpy()
                maps[start:stop] = pixel.cpu().numpy()
                healthy[start:stop] = out.cpu().numpy()
                task.advance(len(x))
        return Predictions(scores=scores, maps=maps, extras={self._extra_name: healthy})

    _extra_name = "reconstruction"

    # -- state -----------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        channels, size = self.shape_
        out: dict[str, Any] = {"channels": channels, "image_size": size}
        for key, net in self.nets_.items():
            out[key] = {k: v.detach().cpu() for k, v in net.state_dict().items()}
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        import torch

        channels, size = int(state["channels"]), int(state["image_size"])
        with torch.inference_mode(False):
            self.nets_ = self._networks(channels, size, 0)
            for key, net in self.nets_.items():
                net.load_state_dict(state[key])
                net.eval()
        self.shape_ = (channels, size)


class DDPMGuided(_Diffusion):
    name = "ddpm_guided"
    description = (
        "DDPM with classifier guidance (Wolleb et al., MICCAI 2022): DDPM and a noise-aware"
        " classifier on both classes; DDIM-encode to level L, decode guided to 'healthy';"
        " map = |x - healthy translation|, score = classifier"
    )
    supervision = "weak"
    options = option_set(
        *_UNET,
        Option(
            "class_cond", bool, True, "the U-Net is conditioned on the class (decodes 'healthy')"
        ),
        Option("classifier_widths", str, "32,64,128,256", "classifier channels per level"),
        Option("classifier_res_blocks", int, 2, "residual blocks per classifier level", minimum=1),
        Option(
            "classifier_attention", str, "32,16,8", "classifier self-attention at these sides (px)"
        ),
        Option("classifier_steps", int, 50000, "training steps of the classifier", minimum=0),
        Option("classifier_lr", float, 1e-4, "AdamW learning rate of the classifier", minimum=0.0),
        Option(
            "guidance", float, 100.0, "classifier scale s (gradient of log p(healthy | x_t) x s)"
        ),
        Option("ddim_steps", int, 500, "DDIM steps for encoding and again for decoding", minimum=1),
        Option(
            "score",
            str,
            "classifier",
            "image score: classifier (log-odds of 'diseased' at t = 0) or map (mean of the map)",
            choices=("classifier", "map"),
        ),
    )
    profiles = {
        # the official flags at 256 px (README of JuliaWolleb/diffusion-anomaly): 128 channels,
        # 2 res blocks, attention at 16 px, T = 1000 linear, lr 1e-4, batch 10, L = 500, s = 100,
        # DDIM with every timestep (ddim1000: 500 steps to L and back)
        "paper": {},
        "quick": {
            "unet_widths": "16,32,32",
            "unet_res_blocks": 1,
            "unet_attention": "",
            "head_channels": 32,
            "steps": 600,
            "train_max_t": 500,
            "batch_size": 16,
            "lr": 1e-3,
            "ema": 0.995,
            "classifier_widths": "16,32,64",
            "classifier_res_blocks": 1,
            "classifier_attention": "",
            "classifier_steps": 250,
            "classifier_lr": 1e-3,
            "noise_level": 200,
            "ddim_steps": 10,
            "guidance": 100.0,
        },
    }
    test_options = {
        "unet_widths": "8,8",
        "unet_res_blocks": 1,
        "unet_attention": "",
        "head_channels": 8,
        "steps": 2,
        "batch_size": 4,
        "classifier_widths": "8,8",
        "classifier_res_blocks": 1,
        "classifier_attention": "",
        "classifier_steps": 2,
        "noise_level": 20,
        "ddim_steps": 2,
        "timesteps": 100,
        "checkpoint_every": 2,
        "ema": 0.9,
    }
    _extra_name = "healthy_translation"

    @property
    def conditional(self) -> bool:  # type: ignore[override]
        return bool(self.class_cond)

    def _extra_networks(self, channels: int, size: int) -> dict[str, torch.nn.Module]:
        from .networks import classifier, widths

        try:
            width = widths(self.classifier_widths)
        except ValueError as exc:
            raise ConfigError(f"method '{self.name}': classifier_widths: {exc}") from None
        return {
            "classifier": classifier(
                size,
                channels,
                width,
                self.classifier_res_blocks,
                _ints(self.classifier_attention),
                self.head_channels,
            )
        }

    def _extra_stages(self, ctx: RunContext, state: dict, amp: Precision, ddpm) -> list[Stage]:
        import torch
        import torch.nn.functional as F

        clf = self.nets_["classifier"]
        opt = torch.optim.AdamW(clf.parameters(), lr=self.classifier_lr, weight_decay=0.0)
        state.update(classifier=clf, opt_classifier=opt)
        gen = ctx.generator

        def classifier_step(batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, float]:
            x, y = batch
            t = torch.randint(0, self._max_t(), (len(x),), generator=gen).to(x.device)
            noise = torch.randn(x.shape, generator=gen).to(x)
            xt = ddpm.add_noise(x, noise, t).contiguous(memory_format=amp.memory_format)
            with amp.autocast():
                logits = clf(xt, t)
            loss = F.cross_entropy(logits.float(), y.long())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            acc = (logits.argmax(1) == y).float().mean()
            return {"cls_loss": loss.item(), "cls_acc": acc.item()}

        return [Stage("noise-aware classifier", self.classifier_steps, classifier_step)]

    def _translate(self, x: torch.Tensor, images: np.ndarray) -> tuple[torch.Tensor, Any]:
        import torch

        from .sampling import ddim_decode, ddim_encode, log_prob_gradient

        _, ddim = self._schedulers()
        clf = self.nets_["classifier"]
        try:
            xl = ddim_encode(self._eps, ddim, x, self.noise_level, self.ddim_steps)
            guide = None
            if self.guidance:
                guide = partial(log_prob_gradient, clf, target=HEALTHY, scale=self.guidance)
            out = ddim_decode(self._eps, ddim, xl, self.noise_level, self.ddim_steps, guide)
        except ValueError as exc:
            raise ConfigError(f"method '{self.name}': {exc}") from None
        score = None
        if self.score == "classifier":
            zero = torch.zeros(len(x), dtype=torch.long, device=x.device)
            logits = clf(x, zero).float()
            score = logits[:, 1] - logits[:, 0]
        return out, score


class AnoDDPM(_Diffusion):
    name = "anoddpm"
    description = (
        "AnoDDPM (Wyatt et al., CVPR-W 2022): DDPM on healthy images with simplex (or Gaussian)"
        " noise; partial diffusion to t_L and back; map = (x - x_hat)^2, score = map mean"
    )
    supervision = "unsupervised"
    options = option_set(
        *_UNET,
        Option(
            "noise",
            str,
            "simplex",
            "noise of training and of the partial diffusion: simplex (AnoDDPM) or gaussian",
            choices=("simplex", "gaussian"),
        ),
        Option("octaves", int, 6, "simplex octaves", minimum=1),
        Option("persistence", float, 0.8, "simplex amplitude ratio between octaves", minimum=0.0),
        Option(
            "period",
            float,
            0.25,
            "period of the coarsest simplex octave as a fraction of the image side"
            " (AnoDDPM: frequency 64 at 256 px)",
            minimum=1e-3,
        ),
        Option(
            "sampler",
            str,
            "ddpm",
            "way back: ddpm (ancestral, fresh noise at each of the L steps, as AnoDDPM) or ddim"
            " (deterministic, ddim_steps steps)",
            choices=("ddpm", "ddim"),
        ),
        Option("ddim_steps", int, 25, "DDIM steps back from t_L (sampler=ddim)", minimum=1),
        Option(
            "map",
            str,
            "squared",
            "pixel map: squared (x - x_hat)^2 as AnoDDPM, or abs",
            choices=("squared", "abs"),
        ),
        Option(
            "predict_seed",
            int,
            0,
            "seed of the noise drawn at prediction (with each image's bytes)",
        ),
    )
    profiles = {
        # the official MRI settings (args of Julian-Wyatt/AnoDDPM and the paper): 256 px,
        # 128 base channels, attention at 16 and 8 px, T = 1000 linear, lr 1e-4, t_L = 250,
        # simplex noise with 6 octaves, persistence 0.8, frequency 64 (period 64 / 256 px)
        "paper": {
            "unet_widths": "128,128,256,256,512,512",
            "unet_attention": "16,8",
            "noise_level": 250,
            "batch_size": 1,
            "steps": 200000,
        },
        "quick": {
            "unet_widths": "16,32,32",
            "unet_res_blocks": 1,
            "unet_attention": "",
            "head_channels": 32,
            "steps": 600,
            "train_max_t": 500,
            "batch_size": 16,
            "lr": 1e-3,
            "ema": 0.995,
            "noise_level": 100,
            "octaves": 4,
            "sampler": "ddim",
            "ddim_steps": 10,
        },
    }
    test_options = {
        "unet_widths": "8,8",
        "unet_res_blocks": 1,
        "unet_attention": "",
        "head_channels": 8,
        "steps": 3,
        "batch_size": 4,
        "noise_level": 20,
        "ddim_steps": 2,
        "timesteps": 100,
        "checkpoint_every": 2,
        "ema": 0.9,
        "octaves": 2,
    }

    def _noise_batch(self, shape: tuple[int, ...], gens: list[torch.Generator]) -> torch.Tensor:
        import torch

        from .noise import simplex_noise

        if self.noise == "gaussian":
            return torch.stack([torch.randn(shape[1:], generator=g) for g in gens])
        return simplex_noise(
            shape,
            gens,
            period=self.period * shape[-1],
            octaves=self.octaves,
            persistence=self.persistence,
        )

    def _training_noise(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        import torch

        if self.noise == "gaussian":
            return torch.randn(x.shape, generator=gen).to(x)
        seeds = torch.randint(0, 2**62, (len(x),), generator=gen).tolist()
        gens = [torch.Generator().manual_seed(s) for s in seeds]
        return self._noise_batch(tuple(x.shape), gens).to(x)

    def _pixel(self, diff: torch.Tensor) -> torch.Tensor:
        return diff.pow(2) if self.map == "squared" else diff.abs()

    def _translate(self, x: torch.Tensor, images: np.ndarray) -> tuple[torch.Tensor, Any]:
        import torch

        from .sampling import ddim_decode, partial_diffusion

        ddpm, ddim = self._schedulers()
        gens = image_generators(images, self.predict_seed)
        draw = partial(self._noise_batch, tuple(x.shape), gens)
        try:
            if self.sampler == "ddpm":
                return partial_diffusion(self._eps, ddpm, x, self.noise_level, draw), None
            level = torch.full((len(x),), self.noise_level, dtype=torch.long, device=x.device)
            xl = ddpm.add_noise(x, draw().to(x), level)
            return ddim_decode(self._eps, ddim, xl, self.noise_level, self.ddim_steps), None
        except ValueError as exc:
            raise ConfigError(f"method '{self.name}': {exc}") from None
