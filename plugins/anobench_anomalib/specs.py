"""The table of anomalib's generated models: one :class:`~.generated.Spec` each, and the
anobench method classes made from it (with EfficientAd's and DSR's, which have modules of
their own)."""

from __future__ import annotations

import math
from typing import Any

from anobench import ConfigError

from .dsr import SPEC as DSR
from .efficient_ad import SPEC as EFFICIENT_AD
from .generated import GeneratedMethod, Spec, make_method


def _fre_input(method: Any, side: int) -> dict[str, Any]:
    # the flattened pooled layer3 features of ResNet-50 (1024 channels at stride 16)
    pooled = max(1, side // 16 // method.pooling_kernel_size)
    return {"input_dim": 1024 * pooled * pooled}


def _shape(method: Any, side: int) -> dict[str, Any]:
    return {"input_shape": (side, side)}


def _schedule_epochs(method: Any, side: int) -> dict[str, Any]:
    # GeneralAD's cosine schedule spans its own `epochs` argument: the run's epochs
    return {"epochs": max(1, math.ceil(method.epochs))}


def _tiles_fit(method: Any, side: int) -> dict[str, Any]:
    if method.patch_size > side:
        raise ConfigError(
            f"{method.owner()}: option 'patch_size': SuperADD's tiles ({method.patch_size} px)"
            f" must fit the {side} px input; set patch_size <= {side} (a multiple of 16) or"
            f" image_size >= {method.patch_size}"
        )
    return {}


_RESNET18 = {"backbone": "resnet18", "backbone_weights": "none"}

#: anomalib's image models beyond the seven hand-written ones (see the README for the others)
SPECS: dict[str, Spec] = {
    "cfa": Spec(
        "Cfa",
        "anomalib CFA (Lee et al. 2022): coupled-hypersphere feature adaptation on pretrained"
        " features; map = distance to the nearest memorised centroids",
        epochs=30.0,
        quick={**_RESNET18, "epochs": 3.0},
        test={"backbone": "resnet18"},
    ),
    "cflow": Spec(
        "Cflow",
        "anomalib CFLOW-AD (Gudovskiy et al. 2022): conditional normalising flows on pretrained"
        " multi-scale features with positional encoding; map = likelihood",
        epochs=50.0,
        quick={**_RESNET18, "layers": "layer1,layer2,layer3", "epochs": 2.0},
        test={
            "backbone": "resnet18",
            "layers": "layer2,layer3",
            "fiber_batch_size": 4,
            "coupling_blocks": 2,
            "condition_vector": 16,
        },
        batch=16,
    ),
    "csflow": Spec(
        "Csflow",
        "anomalib CS-Flow (Rudolph et al. 2022): a cross-scale normalising flow over"
        " EfficientNet-B5 features of the image at three scales; map = likelihood",
        # the paper's 60 meta-epochs of 4 sub-epochs, batch 16 (anomalib's results: 768 px)
        epochs=240.0,
        quick={"backbone_weights": "none", "cross_conv_hidden_channels": 256, "epochs": 2.0},
        test={"cross_conv_hidden_channels": 16, "n_coupling_blocks": 1},
        fixed={"num_channels": 3},  # the bridge always hands anomalib RGB
        # the quarter-size scale's stride-32 features: 1 cell a side at 128 px, none below
        smallest=128,
        multiple=128,
        batch=16,
    ),
    "dfkde": Spec(
        "Dfkde",
        "anomalib DFKDE: kernel density estimate over PCA-reduced pretrained features; an image"
        " score only (no map: the bridge returns a constant map per image)",
        epochs=None,
        quick={**_RESNET18},
        test={"n_pca_components": 2},
    ),
    "dfm": Spec(
        "Dfm",
        "anomalib DFM (Ahuja et al. 2019): a PCA Gaussian of pretrained features; map ="
        " feature reconstruction error",
        epochs=None,
        quick={**_RESNET18, "layer": "layer3"},
        test={"backbone": "resnet18", "layer": "layer2", "pooling_kernel_size": 1},
    ),
    "fre": Spec(
        "Fre",
        "anomalib FRE (Ndiour et al. 2022): a shallow autoencoder over pretrained features;"
        " map = feature reconstruction error",
        epochs=220.0,
        quick={"backbone_weights": "none", "epochs": 5.0},
        test={"pooling_kernel_size": 1, "latent_dim": 8},
        sized=_fre_input,
        smallest=32,
    ),
    "glass": Spec(
        "Glass",
        "anomalib GLASS (Chen et al. 2024): global and local anomaly synthesis in the feature"
        " space of a pretrained backbone; map = discriminator output",
        epochs=640.0,
        quick={
            **_RESNET18,
            "layers": "layer2,layer3",
            "pretrain_embed_dim": 384,
            "target_embed_dim": 384,
            "discriminator_hidden": 128,
            "epochs": 2.0,
        },
        test={
            "backbone": "resnet18",
            "layers": "layer2,layer3",
            "pretrain_embed_dim": 64,
            "target_embed_dim": 64,
            "discriminator_hidden": 16,
        },
        sized=_shape,
        batch=8,
    ),
    "mh_patchcore": Spec(
        "MHPatchcore",
        "anomalib MH-PatchCore: PatchCore on PCA-reduced, whitened features, memory banks per"
        " head; map = nearest-neighbour distance",
        epochs=None,
        quick={**_RESNET18},
        test={"backbone": "resnet18", "memory_bank_size": 16, "local_coreset_size": 8},
        # three passes: PCA, then the whitening covariance, then the memory bank
        passes=3,
        # its pre-processor centre-crops 224 px (and refuses smaller sides)
        plain_resize=True,
    ),
    "patchflow": Spec(
        "Patchflow",
        "anomalib PatchFlow: normalising flows on local patches of pretrained multi-scale"
        " features; map = negative log-likelihood",
        epochs=100.0,
        quick={**_RESNET18, "epochs": 3.0},
        test={"backbone": "resnet18", "flow_feature_dim": 16, "flow_hidden_dim": 16},
    ),
    "supersimplenet": Spec(
        "Supersimplenet",
        "anomalib SuperSimpleNet (Rolih et al. 2024): Perlin-shaped synthetic anomalies in the"
        " adapted feature space of a pretrained backbone; map = segmentation head",
        epochs=300.0,
        quick={**_RESNET18, "epochs": 3.0},
        test={"backbone": "resnet18"},
        # its Perlin masks are drawn at the layer2 grid (stride 8) with up to 32 cells a side:
        # a grid under 17 cells draws empty masks and the step fails
        smallest=136,
    ),
    "uflow": Spec(
        "Uflow",
        "anomalib U-Flow (Tailanian et al. 2024): a U-shaped normalising flow over multi-scale"
        " pretrained features; map = likelihood-based",
        epochs=200.0,
        quick={"backbone": "resnet18", "backbone_weights": "none", "epochs": 3.0},
        test={"backbone": "resnet18", "flow_steps": 1},
        multiple=32,
    ),
    "uninet": Spec(
        "UniNet",
        "anomalib UniNet (Wei et al. 2025): contrastive teacher-student distillation; map ="
        " feature discrepancy",
        epochs=100.0,
        # anomalib's decoder is built for wide_resnet50_2's channels
        quick={"backbone_weights": "none", "epochs": 3.0},
        test={},
        batch=8,
    ),
    "anomaly_dino": Spec(
        "AnomalyDINO",
        "anomalib AnomalyDINO (Damm et al. 2025): nearest-neighbour distances of DINOv2 patch"
        " features to a memory bank of the training images' (here: all of them, not few-shot)",
        epochs=None,
        quick={"backbone_weights": "timm"},
        test={},
        multiple=14,
        smallest=14,
    ),
    "dinomaly": Spec(
        "Dinomaly",
        "anomalib Dinomaly (Guo et al. 2025): a linear-attention decoder reconstructs DINOv2"
        " encoder features; map = feature cosine distance",
        epochs=200.0,
        # a smoke setting: the paper's ViT-B/14 takes about 10 s a step at 224 px on 2 cores
        quick={"encoder_name": "vit_small_patch14_dinov2", "epochs": 1.0},
        test={"encoder_name": "vit_small_patch14_dinov2"},
        multiple=14,
        smallest=14,
        batch=8,
    ),
    "inp_former": Spec(
        "InpFormer",
        "anomalib INP-Former (Luo et al. 2025): intrinsic normal prototypes from DINOv2 features"
        " guide a reconstructing decoder; map = feature distance",
        epochs=200.0,
        # a smoke setting: the paper's ViT-B/14 takes minutes per epoch on 2 cores
        quick={"encoder_name": "vit_small_patch14_dinov2", "epochs": 1.0},
        test={"encoder_name": "vit_small_patch14_dinov2"},
        multiple=14,
        smallest=14,
        batch=8,
    ),
    "rad": Spec(
        "Rad",
        "anomalib RAD: training-free; nearest neighbours of DINOv3 patch tokens of several layers"
        " in a positional memory bank of the training images; map = distances",
        epochs=None,
        # ViT-S/16 DINOv3 (timm: downloaded when online); the paper's ViT-B/16 at 448 px
        quick={"backbone": "vit_small_patch16_dinov3"},
        test={"backbone": "vit_small_patch16_dinov3"},
        multiple=16,
        smallest=16,
    ),
    "foundad": Spec(
        "FoundAD",
        "anomalib FoundAD (Zhai et al. 2025): a projector learns to map CutPaste-corrupted DINO"
        " features back to normal ones; map = projection distance (trained here on the whole"
        " training split, not few-shot)",
        # the paper: 4,000 epochs of a few-shot set (1-4 images, one batch each)
        epochs=4000.0,
        steps=4000,
        quick={"encoder_name": "dinov2_vit_small_14", "epochs": 2.0},
        test={"encoder_name": "dinov2_vit_small_14", "pred_depth": 1, "pred_emb_dim": 48},
        multiple=14,
        smallest=14,
        batch=8,
    ),
    "general_ad": Spec(
        "GeneralAD",
        "anomalib GeneralAD (Strater et al. 2024): a discriminator on frozen ViT patch features"
        " tells them from synthetic distorted ones; map = discriminator logits",
        epochs=160.0,
        # a smoke setting: the paper's ViT-L/14 DINOv2 is a GPU model
        quick={
            "backbone": "vit_small_patch14_dinov2.lvd142m",
            "layers": "12",
            "hidden_dim": 256,
            "epochs": 2.0,
        },
        test={"backbone": "vit_small_patch14_dinov2.lvd142m", "layers": "12", "hidden_dim": 16},
        fixed={"epochs": 160},  # its schedule's length: the run's epochs (see sized)
        sized=_schedule_epochs,
        multiple=14,
        smallest=14,
    ),
    "super_add": Spec(
        "SuperADD",
        "anomalib SuperADD: training-free; DINOv3 tokens of overlapping tiles, subsampled into a"
        " memory bank; map = nearest-neighbour distances",
        epochs=None,
        # a smoke setting: the paper's ViT-H+/16 DINOv3 (840M parameters) at 448 px
        quick={"backbone": "vit_small_patch16_dinov3", "patch_size": 64},
        test={"backbone": "vit_small_patch16_dinov3", "patch_size": 48},
        # anomalib's pre-processor: 448 px, one tile of patch_size 448
        paper={"image_size": 448},
        sized=_tiles_fit,
        multiple=16,
        # the smallest tile: a multiple of 16 over twice the 16 px overlap
        smallest=48,
    ),
}


def _methods() -> dict[str, type[GeneratedMethod]]:
    specs = {**SPECS, "efficient_ad": EFFICIENT_AD, "dsr": DSR}
    return {name: make_method(name, spec) for name, spec in specs.items()}


METHODS = _methods()
