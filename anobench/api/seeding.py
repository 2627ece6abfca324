"""One seed drives python, numpy and torch."""

from __future__ import annotations

import os
import random
from typing import TYPE_CHECKING

import numpy as np

from .errors import ConfigError

if TYPE_CHECKING:  # imported where used: importing this module stays fast
    import torch

#: how strictly runs ask for deterministic kernels (see :func:`deterministic_mode`)
DETERMINISTIC_VARIABLE = "ANOBENCH_DETERMINISTIC"
DETERMINISTIC_MODES = ("warn", "strict", "off")


def deterministic_mode() -> str:
    """``warn`` (default): deterministic kernels where torch has them, a warning (recorded in the
    run's provenance) where it has none; ``strict``: an operation without one fails the run;
    ``off``: torch's fastest kernels and cuDNN's autotuner (GPU results then vary run to run).
    CPU kernels are deterministic in every mode."""
    mode = (os.environ.get(DETERMINISTIC_VARIABLE) or "warn").strip().lower()
    if mode not in DETERMINISTIC_MODES:
        raise ConfigError(
            f"{DETERMINISTIC_VARIABLE}={mode!r}: use one of {', '.join(DETERMINISTIC_MODES)}"
        )
    return mode


def seed_everything(seed: int, deterministic: bool = True) -> torch.Generator:
    """Seed python, numpy and torch; return a CPU ``torch.Generator`` seeded the same way.

    ``deterministic``: apply the :func:`deterministic_mode` (``ANOBENCH_DETERMINISTIC``)."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        mode = deterministic_mode()
        if mode == "off":
            torch.use_deterministic_algorithms(False)
            torch.backends.cudnn.benchmark = True
        else:
            # cuBLAS is deterministic only with a fixed workspace (read when it starts)
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True, warn_only=mode == "warn")
            torch.backends.cudnn.benchmark = False
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen
