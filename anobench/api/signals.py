"""SIGTERM and SIGHUP end a run like Ctrl-C: checkpoint, store it as interrupted, exit non-zero.

Slurm, Kubernetes, systemd and ``timeout`` stop a job with SIGTERM; a closed terminal sends
SIGHUP. Python only turns SIGINT into ``KeyboardInterrupt``; without a handler the other two kill
the process at once and leave its run ``running``. While a training loop that can checkpoint on
request is active (see ``RunContext.on_stop``), the first signal asks it to stop after its current
step; a second signal, or a signal outside such a loop, interrupts at once.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class Interrupted(KeyboardInterrupt):
    """An interruption by a signal; ``signum`` gives the process's exit code (128 + signum)."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + int(self.signum)


#: who to ask for a graceful stop: a callable taking the signal number, returning whether it
#: will stop by itself (the innermost listener first)
_listeners: list[Callable[[int], bool]] = []
_received: list[int] = []


def _handle(signum: int, frame: object) -> None:
    _received.append(signum)
    if len(_received) == 1:
        for listener in reversed(_listeners):
            if listener(signum):
                return
    raise Interrupted(signum)


@contextmanager
def handled() -> Iterator[None]:
    """Install the stop handlers for the duration of a command (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    _received.clear()
    for s in STOP_SIGNALS:
        signal.signal(s, _handle)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _received.clear()


@contextmanager
def listening(listener: Callable[[int], bool]) -> Iterator[None]:
    """Offer ``listener`` the first stop signal while the block runs."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


def install_in_worker() -> None:
    """In a worker process: SIGTERM is the driver asking the run to checkpoint and stop."""
    _received.clear()
    signal.signal(signal.SIGTERM, _handle)


def received() -> int | None:
    """The first stop signal received under :func:`handled`, if any."""
    return _received[0] if _received else None
