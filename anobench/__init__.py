"""anobench: a plugin-based benchmark for anomaly detection and localisation in medical images.

The public API that plugins import lives here and in ``anobench.testing``.
"""

from __future__ import annotations

from .batches import EpochSampler
from .context import Budget, RunContext
from .errors import (
    AnobenchError,
    ConfigError,
    DataError,
    MethodFailure,
    PluginError,
    StoreError,
    TrainingDiverged,
)
from .hardware import Precision
from .interfaces import SPLITS, Dataset, Method, Metric
from .options import Option, OptionSet, channels_last_option, option_set, precision_option
from .progress import Reporter
from .records import (
    DISEASED,
    HEALTHY,
    MetricResult,
    Predictions,
    RunRecord,
    RunSpec,
    Scored,
    Split,
)
from .seeding import seed_everything
from .trainer import Batches, Stage, Trainer, Values, steps_for_epochs

__version__ = "0.1.0"

__all__ = [
    "DISEASED",
    "HEALTHY",
    "SPLITS",
    "AnobenchError",
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
    "option_set",
    "precision_option",
    "seed_everything",
    "steps_for_epochs",
]
