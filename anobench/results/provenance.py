"""Facts recorded with every run so a result can be traced and reproduced."""

from __future__ import annotations

import platform
import socket
import subprocess
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..api.version import __version__


@lru_cache(maxsize=1)
def git_revision() -> str | None:
    """The anobench checkout's commit (with ``-dirty``), or ``None`` outside a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{rev}-dirty" if dirty else rev


def environment() -> dict[str, Any]:
    return {
        "anobench_version": __version__,
        "python": sys.version.split()[0],
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "git_revision": git_revision(),
        "torch_threads": torch.get_num_threads(),
    }


def device_description(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return f"cpu ({platform.processor() or platform.machine()})"
