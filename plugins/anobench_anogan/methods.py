"""The ``anogan`` and ``fanogan`` method plugins: a GAN of healthy images, then a mapping.

Both train a generator on healthy images only, map each test image to the generator's latent
space and score it by how badly the frozen generator reproduces it (map = |x - G(z*)|). They
share everything but the networks, the GAN objective and the mapping (``_LatentGAN``).
"""

from __future__ import annotations

import dataclasses
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
    option_set,
    precision_option,
    steps_for_epochs,
)

if TYPE_CHECKING:  # imported where used: importing this module stays fast
    from collections.abc import Callable

    import torch
    from torch import nn

    from .mapping import Mapped

    Optims = dict[str, torch.optim.Optimizer]
    #: ``Trainer.descend``: one optimiser step on a loss, through the run's gradient scaler
    Descend = Callable[..., None]

_SIZES = "32, 64, 128 or 256 px (any power of two >= 8)"


def _opt(name: str, kind: type, default: Any, help: str, **kw: Any) -> Option:
    return Option(name, kind, default, help, **kw)


# options both methods have; defaults are replaced per method with ``dataclasses.replace``
_LATENT = _opt("latent_dim", int, 100, "size of the generator's latent z", minimum=1)
_BASE = _opt("base_width", int, 64, "channels of the image-side stage (DIM / ngf)", minimum=1)
_EPOCHS = _opt(
    "gan_epochs",
    float,
    25.0,
    "GAN training length in passes of the discriminator over the healthy training images",
    minimum=0.0,
)
_BATCH = _opt("batch_size", int, 64, "training batch size", minimum=1)
_LR = _opt("lr", float, 2e-4, "Adam learning rate of generator and discriminator", minimum=0.0)
_CKPT = _opt("checkpoint_every", int, 500, "save a resumable checkpoint every N steps", minimum=1)
_PBATCH = _opt("predict_batch", int, 64, "images mapped together at prediction", minimum=1)
_PRECISION = precision_option(
    help="training precision: auto (bf16 where the CPU or GPU computes it natively, fp16 on older"
    " GPUs, else fp32), fp32, bf16, fp16 or tf32; the mapping at prediction runs in fp32"
)
# off: these small networks' bf16 steps are faster in the default layout on CPUs
_LAYOUT = channels_last_option(default="off")


def _with_default(option: Option, default: Any) -> Option:
    return dataclasses.replace(option, default=default)


class _LatentGAN(Method):
    """Shared fit/predict/state for GAN-based methods; subclasses define nets, stages, mapping."""

    supervision = "unsupervised"
    #: the networks, by name, as built by ``_build`` and stored in ``state_dict``
    net_names: ClassVar[tuple[str, ...]] = ()

    # -- hooks ---------------------------------------------------------------------------------

    def _build(self, size: int, channels: int) -> dict[str, nn.Module]:
        raise NotImplementedError

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        raise NotImplementedError

    def _stages(
        self, stream: Batches, opts: Optims, val: Split, ctx: RunContext, descend: Descend
    ) -> list[Stage]:
        raise NotImplementedError

    def _map(self, x: torch.Tensor, images: np.ndarray) -> Mapped:
        raise NotImplementedError

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra(self, state: dict[str, Any]) -> None:
        pass

    def _after_training(self, ctx: RunContext) -> None:
        pass

    # -- Method API ----------------------------------------------------------------------------

    def fit(self, train: Split, val: Split, ctx: RunContext) -> _LatentGAN:
        import torch
        from torch import nn

        from . import networks as nets
        from .training import build_seeded, init_seed

        _, channels, height, width = train.images.shape
        if height != width:
            raise ConfigError(f"method '{self.name}' needs square images, got {height}x{width}")
        try:
            nets.stages(height)
        except ValueError:
            raise ConfigError(
                f"method '{self.name}' needs an image side of {_SIZES}, got {height}"
            ) from None
        seed = init_seed(ctx)
        self.nets_ = build_seeded(seed, lambda: nn.ModuleDict(self._build(height, channels)))
        amp = Precision.resolve(self.precision, self.channels_last, ctx.device)
        self.nets_.to(ctx.device, memory_format=amp.memory_format).train()
        self.shape_ = (int(channels), int(height))
        opts = self._optimizers()
        stream = Batches(train.images, self.batch_size, ctx)
        state = {**self.nets_, **{f"opt_{k}": opt for k, opt in opts.items()}, "stream": stream}
        trainer = Trainer(
            ctx,
            name=self.name,
            state=state,
            checkpoint_every=self.checkpoint_every,
            precision=amp,
            scaler=True,
        )
        self.amp_ = amp
        trainer.run(self._stages(stream, opts, val, ctx, trainer.descend))
        self.nets_.to(memory_format=torch.contiguous_format).eval()
        self._after_training(ctx)
        return self

    def predict(self, images: np.ndarray, ctx: RunContext) -> Predictions:
        import torch

        from anobench import to_tensor

        with torch.inference_mode(False):  # parameters must stay usable by autograd (AnoGAN)
            self.nets_.to(ctx.device).eval()
        n = len(images)
        scores = np.empty(n, dtype=np.float64)
        maps = np.empty((n, *images.shape[2:]), dtype=np.float32)
        recon = np.empty(images.shape, dtype=np.float32)
        with ctx.progress.task(f"{self.name}: mapping to latent space", total=n) as task:
            for start in range(0, n, self.predict_batch):
                chunk = np.array(images[start : start + self.predict_batch], dtype=np.float32)
                x = to_tensor(chunk, ctx.device)
                mapped = self._map(x, chunk)
                stop = start + len(chunk)
                scores[start:stop] = mapped.score.double().cpu().numpy()
                maps[start:stop] = (x - mapped.reconstruction).abs().mean(dim=1).cpu().numpy()
                recon[start:stop] = mapped.reconstruction.cpu().numpy()
                task.advance(len(chunk))
        return Predictions(scores=scores, maps=maps, extras={"reconstruction": recon})

    def state_dict(self) -> dict[str, Any]:
        channels, size = self.shape_
        return {
            "channels": channels,
            "image_size": size,
            "nets": {
                name: {k: v.detach().cpu() for k, v in self.nets_[name].state_dict().items()}
                for name in self.net_names
            },
            **self._extra_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        import torch
        from torch import nn

        from .training import build_seeded

        channels, size = int(state["channels"]), int(state["image_size"])
        with torch.inference_mode(False):  # (seeded build: the global RNG is left alone)
            self.nets_ = build_seeded(0, lambda: nn.ModuleDict(self._build(size, channels)))
            for name in self.net_names:
                self.nets_[name].load_state_dict(state["nets"][name])
        self.nets_.eval()
        self.shape_ = (channels, size)
        self._load_extra(state)


# -- AnoGAN ----------------------------------------------------------------------------------


class AnoGAN(_LatentGAN):
    name = "anogan"
    description = (
        "AnoGAN (Schlegl et al., IPMI 2017): DCGAN of healthy images; per image, 500 Adam steps"
        " on z; score = final (1-lambda) residual + lambda feature-matching loss, map = |x-G(z)|"
    )
    net_names = ("generator", "discriminator")
    options = option_set(
        _LATENT,
        _BASE,
        _EPOCHS,
        _BATCH,
        _LR,
        _opt("beta1", float, 0.5, "Adam beta1 of the GAN (DCGAN)", minimum=0.0),
        _opt("search_steps", int, 500, "Adam updates of z per test image (Gamma)", minimum=0),
        _opt("search_lr", float, 2e-3, "Adam learning rate of the latent search", minimum=0.0),
        _opt("search_beta1", float, 0.5, "Adam beta1 of the latent search", minimum=0.0),
        _opt("lambda_fm", float, 0.1, "weight of the feature-matching term (lambda)", minimum=0.0),
        _PRECISION,
        _LAYOUT,
        _CKPT,
        _with_default(_PBATCH, 64),
    )
    profiles = {
        "paper": {},
        # CPU: 1/4 width, ~470 GAN steps at a 5x learning rate, 100 search steps (chosen on
        # val: 300 gave the same pixel AP to 0.0004, README)
        "quick": {"base_width": 16, "lr": 1e-3, "gan_epochs": 100.0, "search_steps": 100},
    }
    test_options = {
        "latent_dim": 8,
        "base_width": 4,
        "gan_epochs": 0.5,
        "batch_size": 4,
        "search_steps": 4,
        "checkpoint_every": 2,
    }

    def _build(self, size: int, channels: int) -> dict[str, nn.Module]:
        from . import networks as nets

        generator = nets.DCGANGenerator(size, channels, self.latent_dim, self.base_width)
        discriminator = nets.DCGANDiscriminator(size, channels, self.base_width)
        nets.dcgan_init(generator)
        nets.dcgan_init(discriminator)
        return {"generator": generator, "discriminator": discriminator}

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        import torch

        betas = (self.beta1, 0.999)
        return {
            name: torch.optim.Adam(self.nets_[name].parameters(), lr=self.lr, betas=betas)
            for name in self.net_names
        }

    def _stages(
        self, stream: Batches, opts: Optims, val: Split, ctx: RunContext, descend: Descend
    ) -> list[Stage]:
        import torch
        from torch.nn import functional as F

        from .training import rand

        gen, disc = self.nets_["generator"], self.nets_["discriminator"]
        opt_g, opt_d = opts["generator"], opts["discriminator"]
        batch = stream.batch
        ones = torch.ones(batch, device=ctx.device)
        zeros = torch.zeros(batch, device=ctx.device)
        amp = self.amp_

        def logits(x: torch.Tensor) -> torch.Tensor:
            return disc(x.contiguous(memory_format=amp.memory_format)).float()

        def step(_: int) -> dict[str, float]:
            real = stream.next()
            with amp.autocast():
                fake = gen(rand(ctx, batch, self.latent_dim) * 2 - 1)  # z ~ U[-1, 1]
                loss_d = F.binary_cross_entropy_with_logits(
                    logits(real), ones
                ) + F.binary_cross_entropy_with_logits(logits(fake.detach()), zeros)
            descend(loss_d, opt_d)
            # non-saturating generator loss, as in DCGAN
            with amp.autocast():
                loss_g = F.binary_cross_entropy_with_logits(logits(fake), ones)
            descend(loss_g, opt_g, inputs=list(gen.parameters()))
            return {"loss_d": loss_d.item(), "loss_g": loss_g.item()}

        steps = steps_for_epochs(self.gan_epochs, stream.n, batch)
        return [Stage("DCGAN training", steps, step)]

    def _after_training(self, ctx: RunContext) -> None:
        from .training import init_seed

        # seeds every image's start point z_1 (with the image's checksum); drawn from the run
        self.search_seed_ = init_seed(ctx)

    def _extra_state(self) -> dict[str, Any]:
        return {"search_seed": self.search_seed_}

    def _load_extra(self, state: dict[str, Any]) -> None:
        self.search_seed_ = int(state["search_seed"])

    def _map(self, x: torch.Tensor, images: np.ndarray) -> Mapped:
        from .mapping import initial_latents, latent_search

        z0 = initial_latents(images, self.search_seed_, self.latent_dim)
        return latent_search(
            self.nets_["generator"],
            self.nets_["discriminator"],
            x,
            z0,
            steps=self.search_steps,
            lr=self.search_lr,
            betas=(self.search_beta1, 0.999),
            lam=self.lambda_fm,
        )


# -- f-AnoGAN --------------------------------------------------------------------------------


class FAnoGAN(_LatentGAN):
    name = "fanogan"
    description = (
        "f-AnoGAN (Schlegl et al., MedIA 2019): residual WGAN-GP of healthy images, then an"
        " izi_f encoder; score = MSE(x, G(E(x))) + kappa MSE(f(x), f(G(E(x)))), map = |x-G(E(x))|"
    )
    net_names = ("generator", "critic", "encoder")
    options = option_set(
        _with_default(_LATENT, 128),
        _BASE,
        _with_default(_EPOCHS, 7.0),
        _BATCH,
        _with_default(_LR, 1e-4),
        _opt("n_critic", int, 5, "critic updates per generator update", minimum=1),
        _opt("gp_weight", float, 10.0, "gradient-penalty weight (lambda)", minimum=0.0),
        _opt("encoder_steps", int, 50_000, "izi_f encoder iterations", minimum=0),
        _opt("encoder_lr", float, 5e-5, "RMSProp learning rate of the encoder", minimum=0.0),
        _opt("kappa", float, 1.0, "weight of the feature term in loss and score", minimum=0.0),
        _opt(
            "gan_time_share",
            float,
            0.75,
            "under a wall-clock budget (--time-budget), the share the WGAN stage may use before"
            " the encoder stage starts",
            minimum=0.0,
        ),
        _PRECISION,
        _LAYOUT,
        _CKPT,
        _PBATCH,
    )
    profiles = {
        "paper": {},
        # CPU: 1/8 width, batch 16, ~75 WGAN iterations and 300 encoder steps, both at a
        # raised learning rate (README)
        "quick": {
            "base_width": 8,
            "batch_size": 16,
            "gan_epochs": 20.0,
            "lr": 5e-4,
            "encoder_steps": 300,
            "encoder_lr": 5e-4,
        },
    }
    test_options = {
        "latent_dim": 8,
        "base_width": 2,
        "batch_size": 4,
        "gan_epochs": 1.0,
        "n_critic": 2,
        "encoder_steps": 1,
        "checkpoint_every": 2,
    }

    def _build(self, size: int, channels: int) -> dict[str, nn.Module]:
        from . import networks as nets

        return {
            "generator": nets.ResNetGenerator(size, channels, self.latent_dim, self.base_width),
            "critic": nets.ResNetCritic(size, channels, self.base_width),
            "encoder": nets.Encoder(size, channels, self.latent_dim, self.base_width),
        }

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        import torch

        adam = {"lr": self.lr, "betas": (0.0, 0.9)}
        return {
            "generator": torch.optim.Adam(self.nets_["generator"].parameters(), **adam),
            "critic": torch.optim.Adam(self.nets_["critic"].parameters(), **adam),
            # TensorFlow 1's RMSProp decay is 0.9 (torch's alpha default is 0.99)
            "encoder": torch.optim.RMSprop(
                self.nets_["encoder"].parameters(), lr=self.encoder_lr, alpha=0.9
            ),
        }

    def _stages(
        self, stream: Batches, opts: Optims, val: Split, ctx: RunContext, descend: Descend
    ) -> list[Stage]:
        import torch

        from anobench import to_tensor

        from .mapping import izif
        from .training import bn_stats_frozen, frozen, rand

        gen, critic, enc = (self.nets_[k] for k in self.net_names)
        opt_g, opt_c, opt_e = (opts[k] for k in self.net_names)
        batch = stream.batch
        amp = self.amp_

        def score(x: torch.Tensor) -> torch.Tensor:
            return critic(x.contiguous(memory_format=amp.memory_format)).float()

        def wgan_step(i: int) -> dict[str, float]:
            out: dict[str, float] = {}
            if i > 0:  # as in the official loop, the very first iteration trains the critic only
                with amp.autocast():
                    loss_g = -score(gen(rand(ctx, batch, self.latent_dim, normal=True))).mean()
                descend(loss_g, opt_g, inputs=list(gen.parameters()))
                out["loss_g"] = loss_g.item()
            for _ in range(self.n_critic):
                real = stream.next()
                # batch statistics, but G's running statistics move only on G's own updates
                with torch.no_grad(), bn_stats_frozen(gen), amp.autocast():
                    fake = gen(rand(ctx, batch, self.latent_dim, normal=True)).float()
                alpha = rand(ctx, batch, 1, 1, 1)
                mixed = (real + alpha * (fake - real)).requires_grad_(True)
                with amp.autocast():
                    # from the unscaled critic (fp16's loss scale would overflow the gradients)
                    (grad,) = torch.autograd.grad(score(mixed).sum(), mixed, create_graph=True)
                    penalty = (grad.float().flatten(1).norm(dim=1) - 1).pow(2).mean()
                    distance = score(real).mean() - score(fake).mean()
                loss_c = -distance + self.gp_weight * penalty
                descend(loss_c, opt_c)
            out.update(loss_c=loss_c.item(), wasserstein=distance.item(), gp=penalty.item())
            return out

        def encoder_step(_: int) -> dict[str, float]:
            real = stream.next()
            with frozen(gen, critic):
                with amp.autocast():
                    mapped = izif(enc, gen, critic, real, self.kappa)
                loss = mapped.score.float().mean()
                descend(loss, opt_e)
            return {
                "loss_enc": loss.item(),
                "enc_residual": mapped.residual.mean().item(),
                "enc_feature": mapped.feature.mean().item(),
            }

        def validate() -> dict[str, float]:
            if len(val) == 0:
                return {}
            enc.eval()
            with frozen(gen, critic), torch.no_grad():
                x = to_tensor(val.images[:256], ctx.device)
                loss = izif(enc, gen, critic, x, self.kappa).score.mean().item()
            enc.train()
            return {"val_loss_enc": loss}

        budget = ctx.budget.seconds
        return [
            Stage(
                "WGAN-GP training",
                steps_for_epochs(self.gan_epochs, stream.n, batch, self.n_critic),
                wgan_step,
                seconds=None if budget is None else budget * self.gan_time_share,
            ),
            Stage(
                "izi_f encoder training",
                self.encoder_steps,
                encoder_step,
                validate=validate,
            ),
        ]

    def _map(self, x: torch.Tensor, images: np.ndarray) -> Mapped:
        import torch

        from .mapping import izif

        with torch.no_grad():
            return izif(
                self.nets_["encoder"],
                self.nets_["generator"],
                self.nets_["critic"],
                x,
                self.kappa,
            )
