"""The DeScarGAN method: the training loop (warm-up and GAN stages) and batched inference.

Split as anomalib splits a model: the torch modules in ``networks.py``, the GAN step in
``training.py``, the anomaly map and score in ``anomaly_map.py``; options and profiles in
``options.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from anobench import (
    DISEASED,
    HEALTHY,
    Method,
    Precision,
    Predictions,
    RunContext,
    Split,
    Stage,
    Trainer,
    Values,
    to_device,
)

from .anomaly_map import anomaly_map, disease_score
from .options import OPTIONS, PROFILES, WARMUP_WINDOW
from .weights import Weights

if TYPE_CHECKING:  # imported where used: importing this module stays fast
    import torch

    from .networks import Discriminator, Generator


class DeScarGAN(Method):
    name = "descargan"
    description = (
        "DeScarGAN (Wolleb et al., MICCAI 2020): weakly supervised StarGAN-style translation to"
        " 'healthy'; map = |norm(x) - norm(G(x, healthy))|, score = classifier head"
    )
    supervision = "weak"
    options = OPTIONS
    profiles = PROFILES
    test_options = {
        "epochs": 1,
        "batch_size": 4,
        "g_width": 4,
        "d_width": 4,
        "checkpoint_every": 2,
        "n_critic": 2,
    }

    @classmethod
    def resolve(cls, profile: str, overrides: Mapping[str, Any]) -> dict[str, Any]:
        """As every plugin's, except that an explicit ``epochs`` without ``fp32_epochs`` holds
        for every precision: a profile's fp32 schedule never overrides the user's count."""
        overrides = dict(overrides)
        if "epochs" in overrides and "fp32_epochs" not in overrides:
            overrides["fp32_epochs"] = 0
        return super().resolve(profile, overrides)

    def epochs_for(self, precision: Precision) -> int:
        """The GAN stage's passes over the training images when training runs in ``precision``
        (``fp32_epochs`` where its data are fp32: fp32 and tf32)."""
        import torch

        if self.fp32_epochs and precision.dtype == torch.float32:
            return self.fp32_epochs
        return self.epochs

    # -- model construction ----------------------------------------------------------------------

    def _build(self, channels: int, size: int, device: torch.device) -> None:
        from .networks import Discriminator, Generator

        if size % 32:
            raise ValueError(f"DeScarGAN needs an image size divisible by 32, got {size}")
        self.channels_, self.image_size_ = channels, size
        self.generator_ = Generator(channels, self.g_width, skip0=self.g_skip).to(device)
        self.discriminator_ = Discriminator(channels, self.d_width, size, top=self.d_top).to(device)

    def _weights(self) -> Weights:
        return Weights(
            self.w_real,
            self.w_fake,
            self.w_gp,
            self.w_cls_d,
            self.w_adv_g,
            self.w_cls_g,
            self.w_id,
            self.w_rec,
        )

    # -- training --------------------------------------------------------------------------------

    def fit(self, train: Split, val: Split, ctx: RunContext) -> DeScarGAN:
        import torch

        from .training import apply, classifier_backward, make_adam

        device = ctx.device
        _, channels, size, _ = train.images.shape
        # initialised on the CPU, then moved: a seed gives the same initial weights on every
        # device (CUDA's generator draws other numbers than the CPU's)
        self._build(channels, size, torch.device("cpu"))
        g, d = self.generator_, self.discriminator_
        gen = ctx.generator
        init_generator_seeded(g, d, gen, self.d_init)
        g.to(device)
        d.to(device)
        # the runner resolves auto; a method built by hand resolves it for its device here
        amp = Precision.resolve(self.precision, self.channels_last, device)
        self.channels_last_ = amp.channels_last
        if self.channels_last_:
            g.to(memory_format=torch.channels_last)
            d.to(memory_format=torch.channels_last)
        opt_g = make_adam(g.parameters(), self.lr_g, (self.beta1, self.beta2))
        opt_d = make_adam(d.parameters(), self.lr_d, (self.beta1, self.beta2))
        images = train.images
        labels = torch.as_tensor(np.asarray(train.labels), dtype=torch.long)
        n = len(labels)
        per_epoch = max(1, n // self.batch_size)
        warm = Values(recent=[])  # the last warm-up losses, for the early end of the warm-up
        state = {"generator": g, "discriminator": d, "opt_g": opt_g, "opt_d": opt_d, "warmup": warm}
        trainer = Trainer(
            ctx,
            name="descargan",
            state=state,
            batches=lambda it: self._epoch_batch(images, labels, it, per_epoch, ctx),
            checkpoint_every=self.checkpoint_every,
            ema=g if self.g_ema > 0 else None,  # G's weights and BatchNorm statistics
            ema_decay=self.g_ema,
            precision=amp,
            scaler=True,  # fp16 (only ever resolved on CUDA) needs loss scaling; bf16, fp32 not
        )
        weights, cast, scaler = self._weights(), amp.autocast(), trainer.scaler
        last: dict[str, float] = {}  # each loss as last computed (G's only every n_critic)

        def warmup_step(batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, float]:
            x, y = batch
            last.update(_floats(classifier_backward(d, x, y, cast, scaler)))
            apply(opt_d, d, self.clip, scaler)
            if scaler is not None:
                scaler.update()
            warm["recent"] = [*warm["recent"], last["d_cls"]][-WARMUP_WINDOW:]
            return dict(last)

        def warmed_up() -> bool:
            # the classifier has learnt: skip the rest of the warm-up
            recent = warm["recent"]
            return len(recent) == WARMUP_WINDOW and np.mean(recent) < self.warmup_loss

        def gan_step(batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, float]:
            x, y = batch
            it = trainer.stage_step
            if self._gan_iteration(it, x, y, gen, weights, cast, opt_g, opt_d, last, scaler):
                trainer.update_ema()
            return dict(last)

        g.train()
        d.train()
        shown = _progress_fields
        warmup = Stage("classifier warm-up", self.warmup, warmup_step, warmed_up, progress=shown)
        iterations = self.epochs_for(amp) * per_epoch
        trainer.run([warmup, Stage("GAN training", iterations, gan_step, progress=shown)])
        trainer.apply_ema()
        if self.channels_last_:
            g.to(memory_format=torch.contiguous_format)
            d.to(memory_format=torch.contiguous_format)
        return self

    def _epoch_batch(
        self, images: Any, labels: torch.Tensor, it: int, per_epoch: int, ctx: RunContext
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch of iteration ``it``: the official loop's epochs, shuffled by (seed, epoch)."""
        epoch, offset = divmod(it, per_epoch)
        order = _epoch_order(len(labels), ctx.seed, epoch)
        index = order[offset * self.batch_size : (offset + 1) * self.batch_size]
        return self._batch(images, labels, index, ctx.generator, ctx.device)

    def _gan_iteration(
        self,
        it: int,
        x: torch.Tensor,
        y: torch.Tensor,
        gen: torch.Generator,
        weights: Weights,
        cast: Any,
        opt_g: torch.optim.Optimizer,
        opt_d: torch.optim.Optimizer,
        last: dict[str, float],
        scaler: Any = None,
    ) -> bool:
        """A D step and, every n_critic-th GAN iteration ``it``, a G step; losses into ``last``.

        Returns whether G stepped."""
        import torch

        from .training import gan_iteration, penalty_scale

        g, d = self.generator_, self.discriminator_
        noise = self.noise * to_device(torch.rand(x.shape, generator=gen), x.device)
        alpha = to_device(torch.rand(len(x), 1, 1, 1, generator=gen), x.device)
        if self.channels_last_:
            noise = noise.contiguous(memory_format=torch.channels_last)
        g_step = (it + 1) % self.n_critic == 0
        gp_scale = penalty_scale(it, self.gp_every)
        losses = gan_iteration(
            g,
            d,
            x,
            y,
            noise,
            alpha,
            weights,
            cast,
            opt_d,
            opt_g,
            self.clip,
            g_step,
            scaler,
            gp_scale,
        )
        last.update(_floats(losses))
        return g_step

    def _batch(
        self,
        images: Any,
        labels: torch.Tensor,
        index: torch.Tensor,
        gen: torch.Generator,
        device: torch.device,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        idx = np.sort(index.numpy())  # sorted reads are kinder to memory maps
        x = torch.from_numpy(np.ascontiguousarray(images[idx], dtype=np.float32))
        y = labels[idx]
        if self.flip:
            # one decision per image, applied to all its channels (the official per-row flip
            # scrambles CheXpert images with current torchvision)
            h = torch.rand(len(x), generator=gen) < 0.5
            v = torch.rand(len(x), generator=gen) < 0.5
            x[h] = x[h].flip(-1)
            x[v] = x[v].flip(-2)
        x = x + self.noise * torch.rand(x.shape, generator=gen)
        x = to_device(x, device)
        # the layout fit resolved (a batch drawn outside fit stays contiguous)
        if getattr(self, "channels_last_", False):
            x = x.contiguous(memory_format=torch.channels_last)
        return x, to_device(y, device)

    # -- inference -------------------------------------------------------------------------------

    def translate(self, x: torch.Tensor, target: int) -> torch.Tensor:
        return self.generator_(x, target)

    def predict(self, images: np.ndarray, ctx: RunContext) -> Predictions:
        import torch

        g, d = self.generator_, self.discriminator_
        amp = Precision.resolve(self.predict_precision, self.channels_last, ctx.device)
        fmt = amp.memory_format
        # a model loaded by ``anobench predict`` is on the CPU; moved outside inference mode so
        # its weights stay ordinary tensors
        with torch.inference_mode(False):
            g.to(ctx.device, memory_format=fmt)
            d.to(ctx.device, memory_format=fmt)
        g.eval()
        d.eval()
        g.set_per_image_norm(self.per_image_norm)
        n = len(images)
        maps = np.empty((n, *images.shape[2:]), dtype=np.float32)
        scores = np.empty(n, dtype=np.float64)
        healthy = np.empty(images.shape, dtype=np.float32)
        diseased = np.empty(images.shape, dtype=np.float32)
        with torch.no_grad(), amp.autocast():
            for start in range(0, n, self.predict_batch_size):
                stop = min(n, start + self.predict_batch_size)
                x = torch.from_numpy(np.array(images[start:stop], dtype=np.float32))
                x = to_device(x, ctx.device).contiguous(memory_format=fmt)
                to_healthy = self.translate(x, HEALTHY).float()
                to_diseased = self.translate(x, DISEASED).float()
                diff = anomaly_map(x, to_healthy, self.map_sigma)
                score = disease_score(d.classify(d.features(x)).float(), self.score)
                maps[start:stop] = diff.cpu().numpy()
                scores[start:stop] = score.cpu().numpy()
                healthy[start:stop] = to_healthy.cpu().numpy()
                diseased[start:stop] = to_diseased.cpu().numpy()
        with torch.inference_mode(False):
            g.to(memory_format=torch.contiguous_format)
            d.to(memory_format=torch.contiguous_format)
        g.set_per_image_norm(False)
        extras = {"healthy_translation": healthy, "diseased_translation": diseased}
        return Predictions(scores=scores, maps=maps, extras=extras)

    # -- state -----------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        import torch

        # CPU tensors: model.pt loads the same on a machine without the training's GPU
        return {
            "generator": _cpu(self.generator_.state_dict()),
            "discriminator": _cpu(self.discriminator_.state_dict()),
            "shape": torch.tensor([self.channels_, self.image_size_]),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        import torch

        channels, size = (int(v) for v in state["shape"])
        with torch.inference_mode(False):  # predict moves it to its device
            self._build(channels, size, torch.device("cpu"))
            self.generator_.load_state_dict(state["generator"])
            self.discriminator_.load_state_dict(state["discriminator"])

    def num_parameters(self) -> int:
        from .networks import count_parameters

        return count_parameters(self.generator_) + count_parameters(self.discriminator_)


def _cpu(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v.detach().cpu() for k, v in state.items()}


def _floats(losses: dict[str, Any]) -> dict[str, float]:
    """Loss tensors as floats with one device synchronisation for all of them."""
    import torch

    keys = [k for k, v in losses.items() if isinstance(v, torch.Tensor)]
    values = torch.stack([losses[k].float() for k in keys]).tolist() if keys else []
    plain = {k: float(v) for k, v in losses.items() if k not in keys}
    return {**plain, **dict(zip(keys, values, strict=True))}


def _progress_fields(last: dict[str, float]) -> dict[str, float]:
    """The losses of the current phase: D's classification loss in the warm-up; in the GAN loop
    D's critic total, its classification loss and, once G has stepped, G's identity loss."""
    fields = {}
    if "d_real" in last:
        fields["d"] = last["d_real"] + last["d_fake"]
    fields["d_cls"] = last["d_cls"]
    if "g_id" in last:
        fields["g_id"] = last["g_id"]
    return fields


def init_generator_seeded(
    g: Generator, d: Discriminator, gen: torch.Generator, d_init: str = "xavier"
) -> None:
    """Initialise both networks from the run's seed (init functions draw from torch's RNG)."""
    import torch

    from .networks import init_discriminator, init_generator

    torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
    init_generator(g)
    init_discriminator(d, d_init)


def _epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The shuffled order of one epoch, a function of (seed, epoch) so a resume needs no state."""
    import torch

    rng = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=rng)
