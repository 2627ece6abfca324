"""Disk space claimed before it is written through a memory map.

Writing into a memory-mapped file whose blocks the disk cannot supply kills the process with
SIGBUS (a "bus error", no message). Reserving the blocks first turns a full disk into an
``OSError(ENOSPC)`` naming the file, which the run reports in one line and stores as failed.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import numpy as np


def reserve(path: Path) -> None:
    """Allocate every block of ``path`` now (where the file system can)."""
    allocate = getattr(os, "posix_fallocate", None)
    if allocate is None:
        return
    size = os.path.getsize(path)
    with open(path, "r+b") as fh:
        try:
            allocate(fh.fileno(), 0, size)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from None
            # file systems without fallocate (EOPNOTSUPP, EINVAL): written as before


def reserved_memmap(path: Path, dtype: Any, shape: tuple[int, ...]) -> np.memmap:
    """``numpy.lib.format.open_memmap(path, "w+", ...)`` with its blocks reserved."""
    array = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
    reserve(path)
    return array
