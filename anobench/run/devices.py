"""Parse and resolve ``--device auto|cpu|cuda[:N]``."""

from __future__ import annotations

import re

import torch

from ..api.errors import ConfigError
from . import gpu

_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def resolve_device(text: str) -> torch.device:
    """``auto`` is CUDA when available, else CPU; asking for absent CUDA is a clear error."""
    text = "auto" if text is None else text.strip().lower()  # "" is a mistake, not auto
    if not _PATTERN.match(text):
        raise ConfigError(f"--device {text!r}: expected auto, cpu, cuda or cuda:N")
    if text == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        cuda = torch.device("cuda", torch.cuda.current_device())
        # a card this torch build has no kernels for computes nothing: auto means the CPU
        usable = gpu.supported(torch.cuda.get_device_capability(cuda), torch.cuda.get_arch_list())
        return torch.device("cuda") if usable else torch.device("cpu")
    if text.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {text}: CUDA is not available here; use --device cpu")
        index = int(text.split(":")[1]) if ":" in text else 0
        if index >= torch.cuda.device_count():
            raise ConfigError(
                f"--device {text}: only {torch.cuda.device_count()} CUDA device(s) are visible"
            )
        gpu.check_architecture(torch.device("cuda", index))
    return torch.device(text)
