"""Parse and resolve ``--device auto|cpu|cuda[:N]``."""

from __future__ import annotations

import re

import torch

from ..api.errors import ConfigError

_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def resolve_device(text: str) -> torch.device:
    """``auto`` is CUDA when available, else CPU; asking for absent CUDA is a clear error."""
    text = "auto" if text is None else text.strip().lower()  # "" is a mistake, not auto
    if not _PATTERN.match(text):
        raise ConfigError(f"--device {text!r}: expected auto, cpu, cuda or cuda:N")
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if text.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {text}: CUDA is not available here; use --device cpu")
        index = int(text.split(":")[1]) if ":" in text else 0
        if index >= torch.cuda.device_count():
            raise ConfigError(
                f"--device {text}: only {torch.cuda.device_count()} CUDA device(s) are visible"
            )
    return torch.device(text)
