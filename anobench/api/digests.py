"""The content of a dataset's files as one fingerprint: what identifies a run's data.

A file's sha256 is computed once per process and kept against its path, size and modification
time, so a suite's many runs of one folder read each image once; copies of the same images in
another folder give the same fingerprint, an edited image another one.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .imagecache import file_sha256

_SEEN: dict[tuple[str, int, int], str] = {}


def file_digest(path: Path) -> str:
    """sha256 of the file's bytes; ``missing`` or ``unreadable: ...`` for a file that cannot be
    read (the loader skips such files: the fingerprint still changes when they are fixed)."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"unreadable: {exc.strerror}"
    key = (os.path.realpath(path), stat.st_size, stat.st_mtime_ns)
    found = _SEEN.get(key)
    if found is None:
        try:
            found = file_sha256(path)
        except OSError as exc:
            return f"unreadable: {exc.strerror}"
        _SEEN[key] = found
    return found


def content_fingerprint(header: dict[str, Any], rows: Iterable[list[Any]]) -> str:
    """sha256 of a JSON header (dataset, loader version) and one row per image."""
    digest = hashlib.sha256(json.dumps(header, sort_keys=True).encode())
    for row in rows:
        digest.update(json.dumps(row).encode())
        digest.update(b"\n")
    return digest.hexdigest()
