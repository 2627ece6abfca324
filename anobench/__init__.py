"""anobench: a plugin-based benchmark for anomaly detection and localisation in medical images.

The public API that plugins import lives here and in ``anobench.testing``.
"""

from __future__ import annotations

from .api.batches import EpochSampler
from .api.context import Budget, RunContext
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
from .api.hardware import Precision
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
from .api.seeding import seed_everything
from .api.trainer import Batches, Stage, Trainer, Values, steps_for_epochs
from .api.version import __version__
from .api.weights import BackboneWeights, load_backbone_weights, resolve_backbone_weights

__all__ = [
    "DISEASED",
    "HEALTHY",
    "SPLITS",
    "AnobenchError",
    "BackboneWeights",
    "Batches",
    "Budget",
    "ConfigError",
    "DataError",
    "Dataset",
    "EpochSampler",
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
    "Scored",
    "Split",
    "Stage",
    "StoreError",
    "Trainer",
    "TrainingDiverged",
    "Values",
    "__version__",
    "channels_last_option",
    "load_backbone_weights",
    "option_set",
    "precision_option",
    "require_extra",
    "resolve_backbone_weights",
    "seed_everything",
    "steps_for_epochs",
]
