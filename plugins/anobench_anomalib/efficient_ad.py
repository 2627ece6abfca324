"""anomalib's EfficientAd: what its Lightning hooks fetch, fetched where a user can see it.

EfficientAd trains a student against a teacher that anomalib downloads (distilled from a
WideResNet-101 on ImageNet) and penalises the student on ImageNette images, which anomalib
also downloads (1.5 GB). Inside its ``on_train_start`` both happen silently; here they happen
before training with a progress line, one line when the machine is offline, and a record of
what was used. ``imagenet_dir=noise`` stands random images in for ImageNette (a smoke setting
that needs no download: the contract checks, a CPU smoke run).
"""

from __future__ import annotations

import io
import shutil
import warnings
from contextlib import redirect_stderr
from pathlib import Path

import numpy as np

from anobench import ConfigError, RunContext, Split
from anobench.weights import hub_offline, is_network_error, read_state_dict

from .generated import GeneratedMethod, Spec
from .releases import record, release_file

#: ``imagenet_dir`` value: random images instead of ImageNette
NOISE = "noise"
_NOISE_IMAGES = 32


class EfficientAdMethod(GeneratedMethod):
    """EfficientAd with its teacher and penalty images prepared by anobench."""

    def check(self) -> None:
        super().check()
        if self.batch_size != 1:
            raise ConfigError(
                f"{self.owner()}: option 'batch_size': EfficientAd trains on one image at a"
                f" time (anomalib requires 1), got {self.batch_size}"
            )
        folder = Path(str(self.imagenet_dir)).expanduser()
        if self.imagenet_dir != NOISE and folder.exists() and not folder.is_dir():
            raise ConfigError(
                f"{self.owner()}: option 'imagenet_dir': {folder} is a file; give a folder of"
                " natural images (torchvision's ImageFolder layout) or 'noise'"
            )

    def _train(self, train: Split, n: int, ctx: RunContext) -> None:
        module = self.module_
        teacher = self._teacher_file(ctx)
        module.prepare_pretrained_model = lambda: self._load_teacher(teacher)
        module.imagenet_dir = self._penalty_images(ctx)
        with warnings.catch_warnings():
            # anomalib's ImageNette loader: torchvision's ToTensor notice and pinned memory
            # asked for on a machine without an accelerator, at every run
            warnings.filterwarnings("ignore", message=r".*ToTensor\(\)` is deprecated.*")
            warnings.filterwarnings("ignore", message=r".*'pin_memory' argument is set.*")
            super()._train(train, n, ctx)

    # -- the teacher ------------------------------------------------------------------------------

    def _teacher_file(self, ctx: RunContext) -> Path | None:
        """The teacher's weights file as ``backbone_weights`` says (None: random)."""
        from anomalib.models.image.efficient_ad.lightning_model import WEIGHTS_DOWNLOAD_INFO

        size = str(getattr(self.model_size, "value", self.model_size)).lower()
        name = f"efficientad_pretrained_weights/pretrained_teacher_{size}.pth"
        return release_file(self, ctx, "", name, WEIGHTS_DOWNLOAD_INFO)

    def _load_teacher(self, file: Path | None) -> None:
        if file is None:
            return
        teacher = self.module_.model.teacher
        try:
            teacher.load_state_dict(read_state_dict(file))
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0]
            raise ConfigError(
                f"{self.owner()}: option 'backbone_weights': {file} is not a teacher of model"
                f" size {self.model_size} ({first})"
            ) from None
        self.teacher_ = record(file, "teacher")

    def _record_weights(self, ctx: RunContext) -> None:
        """Recorded once the teacher is loaded: see :meth:`_after_training`."""

    # -- the penalty images -----------------------------------------------------------------------

    def _penalty_images(self, ctx: RunContext) -> Path:
        if self.imagenet_dir == NOISE:
            return _noise_folder(Path(ctx.cache_dir) / "efficient_ad_noise")
        folder = Path(str(self.imagenet_dir)).expanduser()
        if folder.is_dir() and any(folder.iterdir()):
            return folder
        what = "ImageNette (EfficientAd's penalty images, 1.5 GB)"
        fix = (
            "run once on a machine that is online to fetch it, or pass a local folder of"
            " natural images (torchvision's ImageFolder layout): --method-opt imagenet_dir=PATH"
            " (imagenet_dir=noise: random images, a smoke run)"
        )
        if hub_offline():
            raise ConfigError(
                f"option 'imagenet_dir': {what} is not in {folder} and this machine is offline"
                f" (HF_HUB_OFFLINE=1); {fix}"
            )
        from anomalib.data.utils import download_and_extract
        from anomalib.models.image.efficient_ad.lightning_model import IMAGENETTE_DOWNLOAD_INFO

        ctx.progress.log(f"{self.name}: downloading {what} into {folder}")
        existed = folder.exists()
        try:
            download_and_extract(folder, IMAGENETTE_DOWNLOAD_INFO)
        except Exception as exc:
            if not existed:  # anomalib made the folder: leave no empty one behind
                shutil.rmtree(folder, ignore_errors=True)
            if is_network_error(exc):
                raise ConfigError(
                    f"option 'imagenet_dir': {what} is not in {folder} and this machine is"
                    f" offline (no network); {fix}"
                ) from None
            raise
        return folder

    # -- after training ---------------------------------------------------------------------------

    def _after_training(self, train: Split, val: Split, ctx: RunContext) -> None:
        """The map quantiles anomalib takes from normal validation images before scoring."""
        import torch

        labels = np.asarray(val.labels) if len(val.images) else np.asarray([])
        normal = np.flatnonzero(labels == 0)
        images, where = (val.images, normal) if len(normal) else (train.images, None)
        if where is None:
            where = np.arange(len(images))
            ctx.progress.log(f"{self.name}: map quantiles from the training images (no val)")
        module = self.module_
        batches = []
        for i in range(0, len(where), self.predict_batch):
            x = torch.from_numpy(np.array(images[where[i : i + self.predict_batch]]))
            batches.append(self._batch(x.to(ctx.device)))
        with torch.no_grad(), redirect_stderr(io.StringIO()):  # anomalib's tqdm bar
            module.model.quantiles.update(module.map_norm_quantiles(batches))
        if getattr(self, "teacher_", None):
            ctx.notes["weights"] = [self.teacher_]
            ctx.progress.log(f"{self.name}: pretrained teacher {self.teacher_['source']}")
        if self.imagenet_dir != NOISE:
            ctx.notes["penalty_images"] = str(Path(str(self.imagenet_dir)).expanduser())


def _noise_folder(folder: Path) -> Path:
    """A fixed set of uniform-noise RGB images in ImageFolder layout (made once, then reused)."""
    from PIL import Image

    images = folder / "noise"
    if len(list(images.glob("*.png"))) == _NOISE_IMAGES:
        return folder
    images.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(_NOISE_IMAGES):
        pixels = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(images / f"{i:02d}.png")
    return folder


SPEC = Spec(
    "EfficientAd",
    "anomalib EfficientAD (Batzner et al. 2024): a student and an autoencoder distilled from a"
    " pretrained teacher on normal images, penalised on ImageNette; map = their discrepancies",
    # anomalib's config: 70,000 steps of batch 1 (at most 1,000 epochs)
    epochs=1000.0,
    steps=70_000,
    # a smoke setting: a random teacher, noise for ImageNette, 100 steps (no download; a step
    # at 256 px takes about 4.6 s on one core of a 2-core EPYC)
    quick={"backbone_weights": "none", "imagenet_dir": NOISE, "max_steps": 100},
    test={"imagenet_dir": NOISE, "batch_size": 1},
    batch=1,
    # the autoencoder's last convolution (8 x 8, no padding) needs a 256 px input
    smallest=256,
    base=EfficientAdMethod,
)
