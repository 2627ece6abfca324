"""Where anobench keeps its store, caches and run artifacts."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_HOME = "anobench-home"
#: a finished run's trained state, under ``runs_dir(home) / run_id``
MODEL_FILE = "model.pt"


def resolve_home(path: str | os.PathLike[str] | None = None) -> Path:
    """``--home``, else ``ANOBENCH_HOME``, else ``./anobench-home``."""
    chosen = path or os.environ.get("ANOBENCH_HOME") or DEFAULT_HOME
    return Path(chosen).expanduser().resolve()


def store_path(home: Path) -> Path:
    return home / "store.sqlite"


def cache_dir(home: Path) -> Path:
    return home / "cache"


def runs_dir(home: Path) -> Path:
    return home / "runs"
