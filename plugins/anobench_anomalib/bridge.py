"""One anobench method around one anomalib image model, through anomalib's public API.

anomalib builds the model (``anomalib.models``), its pre-processor (``configure_pre_processor``)
and its training step (``training_step`` / ``configure_optimizers``, run under Lightning Fabric
so that ``self.log`` and manual optimisation work outside a Lightning ``Trainer``). anobench
owns the loop (:class:`anobench.Trainer`: budget, progress, checkpoints, resume), the seeds and
the device. Scores and maps are the torch model's raw outputs (``pred_score``,
``anomaly_map``): anobench's metrics and thresholds replace anomalib's post-processor.
"""

from __future__ import annotations

import difflib
import inspect
import io
import math
import random
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, redirect_stderr
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from anobench import (
    Batches,
    ConfigError,
    Method,
    Predictions,
    RunContext,
    Split,
    Stage,
    Trainer,
    steps_for_epochs,
)
from anobench.weights import BackboneWeights, load_backbone_weights, resolve_backbone_weights

if TYPE_CHECKING:  # imported where used: listing this plugin stays free of torch
    import torch
    from torch import nn


def _as_rgb(x: torch.Tensor, owner: str) -> torch.Tensor:
    """[-1, 1] images with 1 or 3 channels -> the [0, 1] RGB anomalib's transforms expect."""
    x = (x + 1.0) / 2.0
    if x.shape[1] == 1:
        return x.expand(-1, 3, -1, -1)
    if x.shape[1] == 3:
        return x
    raise ConfigError(
        f"{owner}: anomalib's models take 1- or 3-channel images, got {x.shape[1]} channels"
    )


@contextmanager
def _no_downloads() -> Iterator[None]:
    """timm models created while building an anomalib model get ``pretrained=False``.

    Some anomalib models hard-code ``pretrained=True`` (STFPM's teacher), which fetches weights
    from the internet; anobench never downloads, and loads the chosen weights itself afterwards.
    """
    import timm

    create = timm.create_model

    def offline(*args: Any, **kwargs: Any) -> nn.Module:
        kwargs["pretrained"] = False
        return create(*args, **kwargs)

    timm.create_model = offline
    try:
        yield
    finally:
        timm.create_model = create


def anomalib_models() -> Any:
    """``anomalib.models``, imported without the FutureWarnings anomalib and timm print.

    Importing it warns that ``timm.models.layers`` and anomalib's own DINOv2 package are
    deprecated: notices for anomalib's developers, not for someone running a benchmark.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        import anomalib.data
        import anomalib.models
        import anomalib.pre_processing
    return anomalib.models


def _large_allocations_mapped() -> None:
    """Serve allocations of 1 MiB and more with mmap (glibc), freed back to the system at once.

    PatchCore's coreset search allocates one (patches x features) tensor per selected patch; in a
    process that has done other work, glibc's growing mmap threshold moved them onto the heap,
    which then grew by gigabytes (measured: killed at 22 GB for 300 images at 64 px, 1.1 GB
    with this). A no-op where the C library has no ``mallopt``.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD


def _optimizers(configured: Any) -> tuple[list[Any], list[Any]]:
    """``configure_optimizers()``'s result (Lightning's forms) as (optimisers, schedulers)."""
    import torch

    if configured is None:
        return [], []
    if isinstance(configured, torch.optim.Optimizer):
        return [configured], []
    if isinstance(configured, dict):
        sched = configured.get("lr_scheduler")
        sched = sched["scheduler"] if isinstance(sched, dict) else sched
        return [configured["optimizer"]], [] if sched is None else [sched]
    if (
        isinstance(configured, tuple | list)
        and len(configured) == 2
        and isinstance(configured[0], list | tuple)
    ):
        return list(configured[0]), list(configured[1])
    if isinstance(configured, tuple | list) and all(isinstance(c, dict) for c in configured):
        # one {"optimizer", "lr_scheduler"} dict per optimiser (DSR)
        pairs = [_optimizers(c) for c in configured]
        return [o for os_, _ in pairs for o in os_], [s for _, ss in pairs for s in ss]
    return list(configured), []


def _hook(module: Any, name: str, ctx: RunContext) -> None:
    """Run a Lightning hook the model overrides; its progress bars become nothing."""
    from lightning.pytorch import LightningModule

    if getattr(type(module), name) is getattr(LightningModule, name):
        return
    import torch

    quiet = io.StringIO()
    # set-up hooks compute constants (CFA's centroids): no graph may reach the first step
    grad = torch.enable_grad() if name == "on_train_epoch_start" else torch.no_grad()
    with redirect_stderr(quiet), grad:
        getattr(module, name)()
    for line in quiet.getvalue().split("\n"):
        if line.strip() and "\r" not in line and "it/s" not in line:
            ctx.progress.log(line)


def _as_trainer(fabric: Any, method: Any, train: Split, steps: int, per_epoch: int) -> None:
    """What anomalib models read from ``self.trainer`` (Lightning forwards it to Fabric)."""
    import torch

    batch = method.batch_size
    images = train.images

    def loader() -> list[Any]:
        out = []
        for i in range(0, len(images), batch):
            x = torch.from_numpy(np.array(images[i : i + batch]))
            device = next(method.module_.parameters()).device
            out.append(method._batch(x.to(device)))
        return out

    class Data:
        train_batch_size = batch

        def train_dataloader(self) -> list[Any]:
            return loader()

        val_dataloader = train_dataloader

    fabric.max_steps = steps
    fabric.max_epochs = max(1, math.ceil(steps / per_epoch))
    fabric.current_epoch = 0
    # a LightningModule's `current_epoch` is 0 without a Lightning Trainer, whatever Fabric
    # says: the module reads the bridge's epoch instead (DSR switches its phase by it)
    module = method.module_
    epoch = property(lambda self: self._fabric.current_epoch if self._fabric else 0)
    module.__class__ = type(type(module).__name__, (type(module),), {"current_epoch": epoch})
    fabric.datamodule = Data()
    fabric.train_dataloader = loader()


class AnomalibMethod(Method):
    """Subclasses name the anomalib model and map their options to its constructor."""

    #: the class name in ``anomalib.models``
    model_class: ClassVar[str] = ""
    #: feature-statistics models (one pass, then ``fit()``) rather than gradient training
    memory_bank: ClassVar[bool] = False
    #: passes over the training images of a memory-bank model, each ended by ``fit()``
    #: (MH-PatchCore: PCA, then whitening, then its memory bank)
    fit_passes: ClassVar[int] = 1
    #: resize and normalise only, instead of the model's pre-processor (one that crops the
    #: image, or refuses small sides: anobench's maps cover the whole image)
    plain_pre_processor: ClassVar[bool] = False
    #: call the Lightning hooks a model defines (``on_train_start``, ``on_train_epoch_start``)
    #: and answer what it reads from ``self.trainer`` (steps, epochs, the training data)
    lightning_hooks: ClassVar[bool] = False
    supervision = "unsupervised"

    # -- what a subclass says ---------------------------------------------------------------------

    def model_kwargs(self) -> dict[str, Any]:
        """Constructor arguments of the anomalib model (besides the pre/post-processors)."""
        return {}

    def pretrained_parts(self, module: nn.Module) -> list[tuple[nn.Module, str]]:
        """The timm networks that start from ``backbone_weights``, with a name for errors."""
        return []

    # -- building ---------------------------------------------------------------------------------

    def _weights(self, choice: str) -> BackboneWeights:
        import torch

        backbone = getattr(self, "backbone", None)
        if backbone is None:
            return BackboneWeights(None)
        import timm

        if not timm.is_model(backbone):
            close = difflib.get_close_matches(backbone, timm.list_models(), n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(f"{self.owner()}: timm has no backbone '{backbone}'.{hint}")
        layers = getattr(self, "layers", None)
        if layers is not None:
            with torch.device("meta"):
                names = [
                    i["module"]
                    for i in timm.create_model(backbone, features_only=True).feature_info
                ]
            unknown = [layer for layer in layers.split(",") if layer.strip() not in names]
            if unknown:
                # anomalib drops such a layer with a warning and then fails on a shape
                raise ConfigError(
                    f"{self.owner()}: backbone '{backbone}' has no feature layer"
                    f" {', '.join(unknown)}; its layers: {','.join(names)}"
                )
        return resolve_backbone_weights(backbone, choice)

    def check(self) -> None:
        """Backbone, layers and ``backbone_weights``, before any data loads."""
        try:
            self._weights(getattr(self, "backbone_weights", "none"))
        except ConfigError as exc:
            if self.owner() in str(exc):
                raise
            raise ConfigError(f"{self.owner()}: {exc}") from None

    def _creation(self, choice: str) -> Any:
        """Where anomalib's networks are created: timm never downloads (the bridge loads)."""
        return _no_downloads()

    def _input_size(self) -> int:
        return int(getattr(self, "size_", None) or self.image_size or 256)

    def _build(self, weights: BackboneWeights, seed: int, choice: str = "none") -> nn.Module:
        """The anomalib model, its random initialisation drawn under ``seed``."""
        import torch

        anomalib_models()
        import anomalib.models
        from anomalib.pre_processing import PreProcessor
        from torchvision.transforms.v2 import Compose, Normalize, Resize

        cls = getattr(anomalib.models, self.model_class)
        size = (self._input_size(), self._input_size())
        # models that crop (Dinomaly, InpFormer, RAD) crop nothing: the side is the one chosen
        crop = inspect.signature(cls.configure_pre_processor).parameters
        extra: dict[str, Any] = {}
        if "crop_size" in crop:
            extra["crop_size"] = size[0]
        if "center_crop_size" in crop:
            extra["center_crop_size"] = size
        if self.plain_pre_processor:
            transform = Compose([Resize(size, antialias=True), Normalize(mean=[0.0], std=[1.0])])
        else:
            transform = cls.configure_pre_processor(image_size=size, **extra).transform
        steps = list(transform.transforms) if isinstance(transform, Compose) else [transform]
        # the normalisation the backbone's weights were trained with (ImageNet's by default)
        steps = [
            Normalize(mean=list(weights.mean), std=list(weights.std))
            if isinstance(t, Normalize)
            else t
            for t in steps
        ]
        kwargs = self.model_kwargs()
        with (
            torch.random.fork_rng(devices=[]),
            self._creation(choice),
            tempfile.TemporaryDirectory() as tmp,
        ):
            torch.manual_seed(seed)
            kwargs = {k: (tmp if v is _EMPTY_DIR else v) for k, v in kwargs.items()}
            try:
                module = cls(
                    **kwargs,
                    pre_processor=PreProcessor(transform=Compose(steps)),
                    post_processor=False,
                    evaluator=False,
                    visualizer=False,
                )
            except (ValueError, TypeError, KeyError, NotImplementedError, AssertionError) as exc:
                raise ConfigError(
                    f"{self.owner()}: anomalib's {self.model_class} rejected the options"
                    f" {kwargs} ({exc}); see 'anobench list {self.name} --options'"
                ) from None
        for part, what in self.pretrained_parts(module):
            load_backbone_weights(part, weights, what)
        return module

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        return self.module_.pre_processor(_as_rgb(x, self.owner()))

    def _batch(self, x: torch.Tensor) -> Any:
        """Training images as anomalib's batch: all normal (label 0, empty mask)."""
        import torch
        from anomalib.data import ImageBatch

        image = self._prepare(x)
        if not self.lightning_hooks:
            return ImageBatch(image=image)
        n, _, h, w = image.shape
        return ImageBatch(
            image=image,
            gt_label=torch.zeros(n, dtype=torch.bool, device=image.device),
            gt_mask=torch.zeros(n, h, w, dtype=torch.bool, device=image.device),
        )

    # -- fit --------------------------------------------------------------------------------------

    def fit(self, train: Split, val: Split, ctx: RunContext) -> AnomalibMethod:
        import torch

        n = len(train.images)
        self.size_ = self._choose_size(int(train.images.shape[-1]), ctx)
        choice = getattr(self, "backbone_weights", "none")
        weights = self._weights(choice)
        if weights.state is not None:
            ctx.progress.log(f"{self.name}: backbone weights from {weights.source}")
            ctx.notes["weights"] = [{**weights.record(), "part": "backbone"}]
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=ctx.generator))
        self.module_ = self._build(weights, seed, choice).to(ctx.device)
        # anomalib's augmentations draw from Python's generator (FoundAD's CutPaste): from the
        # run's seed, whatever imports or earlier work drew from it
        random.seed(seed)
        self._record_weights(ctx)
        self._check_size(ctx)
        self.mean_, self.std_ = weights.mean, weights.std
        if self.memory_bank:
            self._collect(train, ctx, seed)
        else:
            self._train(train, n, ctx)
        self.module_.eval()
        self._after_training(train, val, ctx)
        return self

    def _after_training(self, train: Split, val: Split, ctx: RunContext) -> None:
        """What anomalib computes in a validation hook before scoring (EfficientAd's map
        quantiles); nothing for most models."""

    #: the input side must be a multiple of this (a ViT's patch)
    size_multiple: ClassVar[int] = 1
    #: the smallest input side the model works at (its feature maps must not vanish)
    size_minimum: ClassVar[int] = 1

    def _choose_size(self, side: int, ctx: RunContext) -> int:
        """The dataset's side unless ``image_size`` is set; a resize is logged and recorded."""
        size = self.image_size or side
        why = "image_size"
        if size < self.size_minimum:
            size = self.size_minimum
            why = f"the smallest side anomalib's {self.model_class} works at"
        if size % self.size_multiple:
            size += self.size_multiple - size % self.size_multiple
            why = f"a multiple of {self.size_multiple}"
        ctx.notes["input_size"] = {"dataset": side, "model": size}
        if size != side:
            ctx.progress.log(f"{self.name}: images resized from {side} to {size} px ({why})")
        return size

    def _check_size(self, ctx: RunContext) -> None:
        """Record the side the model really sees: some pre-processors fix their own."""
        import torch

        side = self._input_size()
        probe = torch.zeros(1, 3, side, side, device=ctx.device)
        seen = int(self.module_.pre_processor(probe).shape[-1])
        if seen != side:
            ctx.notes["input_size"]["model"] = seen
            ctx.progress.log(
                f"{self.name}: anomalib's {self.model_class} resizes the images to {seen} px"
                " itself (its image_size is fixed)"
            )

    def _record_weights(self, ctx: RunContext) -> None:
        """Record pretrained files the model fetched itself (generated models)."""

    def _collect(self, train: Split, ctx: RunContext, seed: int) -> None:
        """One pass of the training images through the model, then anomalib's ``fit()``."""
        import torch

        module = self.module_
        module.model.train()
        batch = min(self.batch_size, len(train.images))
        per_pass = math.ceil(len(train.images) / batch)
        passes = self.fit_passes
        # a step budget shortens every pass alike: each pass sees the same images
        allowed = max(1, ctx.budget.steps(per_pass * passes) // passes)
        if allowed < per_pass:
            ctx.progress.log(f"{self.name}: budget: {allowed} of {per_pass} batches per pass")
            per_pass = allowed
        planned = per_pass * passes
        with torch.no_grad(), ctx.progress.task(f"{self.name}: features", total=planned) as task:
            for i in range(planned):
                # a time budget cannot stop between passes: the statistics would be half fitted
                if passes == 1 and ctx.budget.expired(i):
                    ctx.progress.log(f"{self.name}: budget reached after {i} of {planned} batches")
                    break
                j = i % per_pass
                x = torch.from_numpy(np.array(train.images[j * batch : (j + 1) * batch]))
                module.training_step(self._batch(x.to(ctx.device)), i)
                ctx.log(i + 1, images=float(len(x)))
                task.advance(1)
                if j == per_pass - 1 and i < planned - 1:  # a pass that another one follows
                    self._fit_statistics(seed, ctx)
        _large_allocations_mapped()
        self._fit_statistics(seed, ctx)

    def _fit_statistics(self, seed: int, ctx: RunContext) -> None:
        """anomalib's ``fit()``: the coreset, the Gaussian, a pass's statistics."""
        import torch

        # Lightning calls fit() from a validation hook, without autograd; PatchCore's coreset
        # selection draws a tqdm bar on stderr that would break anobench's progress lines
        quiet = io.StringIO()
        with torch.random.fork_rng(devices=[]), torch.no_grad(), redirect_stderr(quiet):
            torch.manual_seed(seed + 1)  # coreset sampling draws from torch's global generator
            self.module_.fit()
        for line in quiet.getvalue().split("\n"):  # anything but the bar's \r-redrawn frames
            if line.strip() and "\r" not in line:
                ctx.progress.log(line)

    def _train(self, train: Split, n: int, ctx: RunContext) -> None:
        import torch
        from lightning.fabric import Fabric

        module = self.module_
        device = ctx.device
        with warnings.catch_warnings():
            # Lightning's hint to use srun where Slurm is installed: one device, no launcher
            warnings.filterwarnings("ignore", message=".*srun.*")
            fabric = Fabric(
                accelerator="cuda" if device.type == "cuda" else "cpu",
                devices=[device.index or 0] if device.type == "cuda" else 1,
                precision="32-true",
            )
        batches = Batches(train.images, self.batch_size, ctx)
        per_epoch = max(1, math.ceil(n / batches.batch))
        steps = steps_for_epochs(self.epochs, n, batches.batch)
        steps = min(steps, getattr(self, "max_steps", None) or steps)
        if self.lightning_hooks:
            _as_trainer(fabric, self, train, steps, per_epoch)
            module._fabric = fabric  # configure_optimizers may read self.trainer
        opts, scheds = _optimizers(module.configure_optimizers())
        fabric.setup(module, *opts, move_to_device=False)
        state: dict[str, Any] = {"model": module.model}
        state.update({f"optimizer{i}": o for i, o in enumerate(opts)})
        state.update({f"scheduler{i}": s for i, s in enumerate(scheds)})
        trainer = Trainer(
            ctx,
            name=self.name,
            state=state,
            batches=batches,
            checkpoint_every=self.checkpoint_every,
        )

        from lightning.pytorch import LightningModule

        own_backward = (
            self.lightning_hooks and type(module).backward is not LightningModule.backward
        )
        # the gradient-norm clipping anomalib asks Lightning's Trainer for (CS-Flow 1,
        # Dinomaly 0.1); 0 or absent: none
        clip = float((module.trainer_arguments or {}).get("gradient_clip_val") or 0.0)

        takes_index = len(inspect.signature(module.training_step).parameters) > 1

        def step(x: torch.Tensor) -> dict[str, float]:
            if self.lightning_hooks:
                # what `self.current_epoch` reads (DSR switches its training phase by it)
                fabric.current_epoch = trainer.step // per_epoch
            if self.lightning_hooks and trainer.step % per_epoch == 0:
                _hook(module, "on_train_epoch_start", ctx)
            # most models take (batch, batch_idx); DSR only the batch
            out = module.training_step(self._batch(x), *([trainer.step] if takes_index else []))
            if torch.is_tensor(out):
                out = {"loss": out}
            if module.automatic_optimization:
                for o in opts:
                    o.zero_grad(set_to_none=True)
                if own_backward:  # CFA keeps its graph (retain_graph=True) in its own backward
                    module.backward(out["loss"])
                else:
                    fabric.backward(out["loss"])
                if clip > 0:
                    torch.nn.utils.clip_grad_norm_(module.parameters(), clip)
                for o in opts:
                    o.step()
            # Lightning steps epoch-interval schedulers once per pass over the data, and none
            # under manual optimisation (the model would step them itself)
            if module.automatic_optimization and (trainer.step + 1) % per_epoch == 0:
                for s in scheds:
                    s.step()
            return {
                k: float(v.detach()) if torch.is_tensor(v) else float(v)
                for k, v in out.items()
                if (torch.is_tensor(v) and v.numel() == 1) or isinstance(v, int | float)
            }

        module.model.train()
        if self.lightning_hooks:
            _hook(module, "on_train_start", ctx)
        trainer.run([Stage("training", steps, step)])

    # -- predict ----------------------------------------------------------------------------------

    def predict(self, images: Any, ctx: RunContext) -> Predictions:
        import torch

        module = self.module_.to(ctx.device).eval()
        n, _, h, w = images.shape
        scores, maps = [], []
        with torch.no_grad():
            for i in range(0, n, self.predict_batch):
                x = torch.from_numpy(np.array(images[i : i + self.predict_batch]))
                x = self._prepare(x.to(ctx.device))
                out = module.model(x)
                scores.append(out.pred_score.reshape(-1).float().cpu())
                amap = self._map(out, x, (h, w))
                if amap is not None:
                    maps.append(amap.cpu())
        return Predictions(
            scores=torch.cat(scores).numpy().astype(np.float64),
            # a model with an image score only (DFKDE) says so: no map
            maps=torch.cat(maps).numpy().astype(np.float32) if maps else None,
        )

    def _map(self, out: Any, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor | None:
        """anomalib's anomaly map, resized to the dataset's resolution (None: it has none)."""
        from torch.nn import functional as F

        if getattr(out, "anomaly_map", None) is None:
            return None
        amap = out.anomaly_map.float()
        if amap.ndim == 3:
            amap = amap[:, None]
        return F.interpolate(amap, size=size, mode="bilinear", align_corners=False)[:, 0]

    # -- state ------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        import torch

        model = {k: v.detach().cpu() for k, v in self.module_.model.state_dict().items()}
        return {
            "model": model,
            "mean": torch.tensor(self.mean_),
            "std": torch.tensor(self.std_),
            "image_size": torch.tensor(self._input_size()),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        mean = tuple(float(v) for v in state["mean"])
        std = tuple(float(v) for v in state["std"])
        if "image_size" in state:  # stored since the size follows the dataset
            self.size_ = int(state["image_size"])
        self.module_ = self._build(BackboneWeights(None, mean, std), 0)
        self.module_.model.load_state_dict(dict(state["model"]))
        self.module_.eval()
        self.mean_, self.std_ = mean, std


#: a model argument replaced by an empty temporary directory while the model is built
_EMPTY_DIR = object()
