"""Commands printed for the user to copy: they must work as printed, from the same shell."""

from __future__ import annotations

import shlex
from pathlib import Path

from ..api.home import resolve_home


def home_args(home: Path | None) -> str:
    """`` --home H`` when ``H`` is not the home a bare ``anobench`` finds here (``ANOBENCH_HOME``
    or ``./anobench-home``), else nothing."""
    if home is None or Path(home).resolve() == resolve_home(None):
        return ""
    return f" --home {shlex.quote(str(home))}"


def resume_command(run_id: str, home: Path | None) -> str:
    return f"anobench{home_args(home)} run --resume {run_id}"
