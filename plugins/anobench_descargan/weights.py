"""The official loss weights, apart from the training code so the options need no torch."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Weights:
    real: float = 20.0
    fake: float = 20.0
    gp: float = 10.0
    cls_d: float = 5.0
    adv_g: float = 1.0
    cls_g: float = 1.0
    identity: float = 50.0
    reconstruction: float = 50.0
