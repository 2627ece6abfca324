"""Who owns a ``running`` row, and whether that process is still alive.

A run row names the process that writes it (host, pid and the pid's start time). When that
process was killed (SIGKILL, power loss) the row stays ``running`` forever; the next run or suite
of the same configuration sees that its owner is gone and marks it interrupted instead of
leaving it behind or running the configuration twice at once.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks) from ``/proc``; ``None`` where there is no ``/proc``."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name is in parentheses and may contain spaces: split after the last ')'
    fields = text[text.rfind(")") + 2 :].split()
    return fields[0], fields[19]


def this_process() -> dict[str, Any]:
    """The owner record of the calling process."""
    pid = os.getpid()
    stat = _proc_stat(pid)
    return {"host": socket.gethostname(), "pid": pid, "pid_started": stat[1] if stat else None}


def alive(owner: Mapping[str, Any] | None) -> bool:
    """Whether the process that owns a row may still be working on it.

    Rows without an owner (written before owners were recorded) count as dead. A process on
    another host cannot be checked and counts as alive.
    """
    if not isinstance(owner, Mapping) or not isinstance(owner.get("pid"), int):
        return False
    if owner.get("host") != socket.gethostname():
        return True
    pid = owner["pid"]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    stat = _proc_stat(pid)
    if stat is None:
        return True
    state, started = stat
    if state in ("Z", "X"):  # killed, not yet reaped
        return False
    return owner.get("pid_started") in (None, started)
