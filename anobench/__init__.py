"""anobench: a plugin-based benchmark for anomaly detection and localisation in medical images.

The public API that plugins import lives here and in ``anobench.testing``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .api.errors import (
    AnobenchError,
    ConfigError,
    DataError,
    MethodFailure,
    PluginError,
    StoreError,
    TrainingDiverged,
)
from .api.extras import MissingExtra, require_extra
from .api.filesets import (
    IMAGE_EXTENSIONS,
    FileDataset,
    FileEntry,
    FileListing,
    cap_options,
    image_stem,
    root_folder,
    walk_images,
)
from .api.imagecache import (
    ScaledImages,
    build_folder,
    decode_all,
    file_sha256,
    inside_root,
    open_cache,
    publish_folder,
    rejected_rows,
    skipped_files,
    workers_from_env,
)
from .api.imageio import read_image
from .api.interfaces import SPLITS, Dataset, Method, Metric
from .api.options import Option, OptionSet, channels_last_option, option_set, precision_option
from .api.progress import Reporter
from .api.records import (
    DISEASED,
    HEALTHY,
    MetricResult,
    Predictions,
    RunRecord,
    RunSpec,
    Scored,
    Split,
)
from .api.space import reserved_memmap
from .api.squares import RESIZES, square_image, square_mask, to_gray, unit_to_gray
from .api.version import __version__
from .api.weights import (
    BackboneWeights,
    hub_cache,
    hub_offline,
    is_network_error,
    load_backbone_weights,
    offline_error,
    read_state_dict,
    resolve_backbone_weights,
    timm_cache_file,
)

#: names whose modules deal with torch, loaded on first access (PEP 562) so that
#: ``import anobench`` and the commands that only read (``list``, ``show``, ...) stay fast
_LAZY = {
    "EpochSampler": "batches",
    "Budget": "context",
    "RunContext": "context",
    "Precision": "hardware",
    "gaussian_blur": "maps",
    "seed_everything": "seeding",
    "Batches": "trainer",
    "Stage": "trainer",
    "Trainer": "trainer",
    "Values": "trainer",
    "steps_for_epochs": "trainer",
    "to_device": "trainer",
}

if TYPE_CHECKING:
    from .api.batches import EpochSampler
    from .api.context import Budget, RunContext
    from .api.hardware import Precision
    from .api.maps import gaussian_blur
    from .api.seeding import seed_everything
    from .api.trainer import Batches, Stage, Trainer, Values, steps_for_epochs, to_device


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'anobench' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".api.{_LAZY[name]}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "DISEASED",
    "HEALTHY",
    "IMAGE_EXTENSIONS",
    "RESIZES",
    "SPLITS",
    "AnobenchError",
    "BackboneWeights",
    "Batches",
    "Budget",
    "ConfigError",
    "DataError",
    "Dataset",
    "EpochSampler",
    "FileDataset",
    "FileEntry",
    "FileListing",
    "Method",
    "MethodFailure",
    "Metric",
    "MetricResult",
    "MissingExtra",
    "Option",
    "OptionSet",
    "PluginError",
    "Precision",
    "Predictions",
    "Reporter",
    "RunContext",
    "RunRecord",
    "RunSpec",
    "ScaledImages",
    "Scored",
    "Split",
    "Stage",
    "StoreError",
    "Trainer",
    "TrainingDiverged",
    "Values",
    "__version__",
    "build_folder",
    "cap_options",
    "channels_last_option",
    "decode_all",
    "file_sha256",
    "gaussian_blur",
    "hub_cache",
    "hub_offline",
    "image_stem",
    "inside_root",
    "is_network_error",
    "load_backbone_weights",
    "offline_error",
    "open_cache",
    "option_set",
    "precision_option",
    "publish_folder",
    "read_image",
    "read_state_dict",
    "rejected_rows",
    "require_extra",
    "reserved_memmap",
    "resolve_backbone_weights",
    "root_folder",
    "seed_everything",
    "skipped_files",
    "square_image",
    "square_mask",
    "steps_for_epochs",
    "timm_cache_file",
    "to_device",
    "to_gray",
    "unit_to_gray",
    "walk_images",
    "workers_from_env",
]
