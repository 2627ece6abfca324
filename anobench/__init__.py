"""anobench: a plugin-based benchmark for anomaly detection and localisation in medical images.

The names a plugin author needs are here, grouped in ``__all__`` by what the author writes;
the file-dataset toolkit is in ``anobench.files``, pretrained backbones in ``anobench.weights``
and the contract checks in ``anobench.testing``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .api.errors import AnobenchError, ConfigError, DataError, MethodFailure, TrainingDiverged
from .api.extras import require_extra
from .api.interfaces import SPLITS, Dataset, Method, Metric
from .api.options import Option, channels_last_option, option_set, precision_option
from .api.records import DISEASED, HEALTHY, MetricResult, Predictions, Scored, Split
from .api.version import __version__

__all__ = [  # noqa: RUF022 (grouped by what an author writes)
    # write a method
    "Batches",
    "Method",
    "Option",
    "Precision",
    "Predictions",
    "RunContext",
    "Stage",
    "Trainer",
    "Values",
    "channels_last_option",
    "gaussian_blur",
    "option_set",
    "precision_option",
    "steps_for_epochs",
    "to_device",
    "to_tensor",
    # write a dataset (of image files: anobench.files)
    "DISEASED",
    "HEALTHY",
    "SPLITS",
    "Dataset",
    "Split",
    # write a metric
    "Metric",
    "MetricResult",
    "Scored",
    # what goes wrong, and optional dependencies
    "AnobenchError",
    "ConfigError",
    "DataError",
    "MethodFailure",
    "TrainingDiverged",
    "require_extra",
    # test a plugin: anobench.testing
    "__version__",
]

#: names whose modules deal with torch, loaded on first access (PEP 562) so that
#: ``import anobench`` and the commands that only read (``list``, ``show``, ...) stay fast
_LAZY = {
    "Batches": "batches",
    "to_device": "batches",
    "to_tensor": "batches",
    "RunContext": "context",
    "Precision": "hardware",
    "gaussian_blur": "maps",
    "Stage": "trainer",
    "Trainer": "trainer",
    "Values": "trainer",
    "steps_for_epochs": "trainer",
}

#: names that left the top level, still importable for one release (with a DeprecationWarning):
#: name -> (module that defines it, where to import it from now)
_MOVED = {
    **dict.fromkeys(
        (
            "FileDataset",
            "FileEntry",
            "FileListing",
            "IMAGE_EXTENSIONS",
            "cap_options",
            "image_stem",
            "root_folder",
            "walk_images",
        ),
        ("anobench.api.filesets", "anobench.files"),
    ),
    **dict.fromkeys(
        (
            "ScaledImages",
            "build_folder",
            "decode_all",
            "file_sha256",
            "inside_root",
            "open_cache",
            "publish_folder",
            "rejected_rows",
            "skipped_files",
            "workers_from_env",
        ),
        ("anobench.api.imagecache", "anobench.files"),
    ),
    "RESIZES": ("anobench.api.squares", "anobench.files"),
    "square_image": ("anobench.api.squares", "anobench.files"),
    **dict.fromkeys(
        ("BackboneWeights", "load_backbone_weights", "read_state_dict", "resolve_backbone_weights"),
        ("anobench.api.weights", "anobench.weights"),
    ),
    # used by no plugin: reachable where they are defined
    "square_mask": ("anobench.api.squares", "anobench.api.squares"),
    "to_gray": ("anobench.api.squares", "anobench.api.squares"),
    "unit_to_gray": ("anobench.api.squares", "anobench.api.squares"),
    "read_image": ("anobench.api.imageio", "anobench.api.imageio"),
    "EpochSampler": ("anobench.api.batches", "anobench.api.batches"),
    "Budget": ("anobench.api.context", "anobench.api.context"),
    "seed_everything": ("anobench.api.seeding", "anobench.api.seeding"),
    "OptionSet": ("anobench.api.options", "anobench.api.options"),
    "Reporter": ("anobench.api.progress", "anobench.api.progress"),
    "RunRecord": ("anobench.api.records", "anobench.api.records"),
    "RunSpec": ("anobench.api.records", "anobench.api.records"),
    "PluginError": ("anobench.api.errors", "anobench.api.errors"),
    "StoreError": ("anobench.api.errors", "anobench.api.errors"),
    "MissingExtra": ("anobench.api.extras", "anobench.api.extras"),
}

if TYPE_CHECKING:
    from .api.batches import Batches, to_device, to_tensor
    from .api.context import RunContext
    from .api.hardware import Precision
    from .api.maps import gaussian_blur
    from .api.trainer import Stage, Trainer, Values, steps_for_epochs


def __getattr__(name: str) -> Any:
    from importlib import import_module

    if name in _LAZY:
        value = getattr(import_module(f".api.{_LAZY[name]}", __name__), name)
        globals()[name] = value  # later lookups skip this function
        return value
    if name in _MOVED:
        import warnings

        module, now = _MOVED[name]
        warnings.warn(
            f"anobench.{name} is deprecated and will be removed in the next release;"
            f" use {now}.{name}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(import_module(module), name)  # not cached: every use warns
    raise AttributeError(f"module 'anobench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
