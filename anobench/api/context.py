"""The run context handed to plugins: device, seed, progress, workdir, budget, log, checkpoints."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import TrainingDiverged
from .progress import Reporter
from .signals import Interrupted

if TYPE_CHECKING:  # torch is imported on first use, so plugins' class modules import fast
    import torch

    from .hardware import Precision

CHECKPOINT = "checkpoint.pt"
TRAINING_LOG = "training_log.jsonl"
TRAINING_STAGES = "training_stages.json"


@dataclass
class Budget:
    """A training budget every method must respect: a step cap and/or a wall-clock cap.

    Methods ask ``budget.steps(planned)`` for how many steps to run and ``budget.expired()``
    inside their loop; the clock starts when ``fit`` is called.
    """

    max_steps: int | None = None
    seconds: float | None = None
    _start: float = field(default_factory=time.monotonic, repr=False)

    def start(self) -> None:
        self._start = time.monotonic()

    def steps(self, planned: int) -> int:
        return planned if self.max_steps is None else min(planned, self.max_steps)

    def elapsed(self) -> float:
        return time.monotonic() - self._start

    def deadline(self, seconds: float | None = None) -> float | None:
        """The ``time.monotonic()`` at which the wall-clock cap (or ``seconds`` after the start,
        whichever is first) ends training; ``None`` without one."""
        caps = [c for c in (self.seconds, seconds) if c is not None]
        return self._start + min(caps) if caps else None

    def expired(self, step: int | None = None) -> bool:
        if step is not None and self.max_steps is not None and step >= self.max_steps:
            return True
        return self.seconds is not None and self.elapsed() >= self.seconds


class RunContext:
    """What a plugin may use from the harness. Plugins never pick devices or seeds themselves."""

    def __init__(
        self,
        *,
        device: torch.device | str = "cpu",
        seed: int = 0,
        workdir: Path | str,
        cache_dir: Path | str | None = None,
        progress: Reporter | None = None,
        budget: Budget | None = None,
        precision: Precision | None = None,
        threads: int | None = None,
    ) -> None:
        import torch

        from .hardware import Precision

        self.device = torch.device(device)
        #: the precision and memory format resolved for this run's device (``auto`` resolved)
        self.precision = precision or Precision.resolve("auto", "auto", self.device)
        #: CPU threads the run was given
        self.threads = threads or torch.get_num_threads()
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.cache_dir = Path(cache_dir) if cache_dir else self.workdir / "cache"
        self.progress = progress or Reporter()
        self.budget = budget or Budget()
        #: adapts the threads to other jobs when they were chosen automatically (runner)
        self.governor: Any = None
        #: facts a method reports for the run's provenance (weights it loaded, a resize): JSON
        #: values under names the method chooses; the runner stores them as ``method_notes``
        self.notes: dict[str, Any] = {}
        self._saver: Callable[[], Mapping[str, Any]] | None = None
        self._stop: int | None = None
        self._log_path = self.workdir / TRAINING_LOG
        # a resumed run continues the log it already has
        self.history: list[dict[str, Any]] = []
        if self._log_path.exists():
            lines = self._log_path.read_text().splitlines()
            self.history = [json.loads(line) for line in lines if line.strip()]
        self._stages_path = self.workdir / TRAINING_STAGES
        #: ``{"name", "start"}`` of each training stage, in order: the stage's logged steps are
        #: those after ``start`` up to the next stage's ``start`` (curves mark them)
        self.stages: list[dict[str, Any]] = []
        if self._stages_path.exists():
            self.stages = json.loads(self._stages_path.read_text())

    @property
    def checkpoint_path(self) -> Path:
        return self.workdir / CHECKPOINT

    def log(self, step: int, **scalars: float) -> None:
        """Record training scalars for curves; raises ``TrainingDiverged`` on NaN or inf."""
        clean = {k: float(v) for k, v in scalars.items()}
        bad = [k for k, v in clean.items() if not math.isfinite(v)]
        if bad:
            raise TrainingDiverged(
                f"loss '{bad[0]}' became {clean[bad[0]]} at step {step}; lower the learning rate"
                " or check the input data"
            )
        row = {"step": int(step), **clean}
        self.history.append(row)
        with self._log_path.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        if self.governor is not None:
            self.governor.tick(int(step))
        if self._stop is not None:
            self._stop_now(int(step))

    def begin_stage(self, name: str, start: int) -> None:
        """Record that stage ``name`` trains from global step ``start`` on.

        Stages recorded at or after ``start`` are dropped first: a resume re-enters its stage
        at the same ``start``, and a stage that took no step is replaced by the next one.
        """
        self.stages = [s for s in self.stages if s["start"] < int(start)]
        self.stages.append({"name": str(name), "start": int(start)})
        self._stages_path.write_text(json.dumps(self.stages))

    # -- stopping on a signal ---------------------------------------------------------------------

    def on_stop(self, saver: Callable[[], Mapping[str, Any]] | None) -> None:
        """Register how to checkpoint this training loop at any step (``None`` to unregister).

        With a saver registered, SIGINT, SIGTERM or SIGHUP no longer interrupt in the middle of
        a step: the next :meth:`log` saves ``saver()`` as the checkpoint and raises
        ``KeyboardInterrupt``, so the run resumes exactly where it stopped. Without one, a
        signal interrupts at once and a resume starts from the last periodic checkpoint.
        """
        self._saver = saver

    def request_stop(self, signum: int) -> bool:
        """Ask the training loop to stop after its current step; ``False`` when it cannot."""
        if self._saver is None:
            return False
        self._stop = signum
        return True

    @property
    def stop_requested(self) -> bool:
        return self._stop is not None

    def _stop_now(self, step: int) -> None:
        signum, self._stop = self._stop, None
        state = dict(self._saver()) if self._saver is not None else None
        if state is not None:
            state.setdefault("step", step)
            self.checkpoint(state)
            self.progress.log(f"stopped at step {step}: checkpoint written")
        raise Interrupted(signum)

    def checkpoint(self, state: Mapping[str, Any]) -> None:
        """Save a resumable state (tensors, numbers, strings) atomically.

        Put the training step under the key ``"step"`` so a resume trims the training log.
        """
        import torch

        tmp = self.checkpoint_path.with_suffix(".tmp")
        torch.save(dict(state), tmp)
        tmp.replace(self.checkpoint_path)

    def resume(self) -> dict[str, Any] | None:
        """The last checkpoint of this run, or ``None``. Loaded without executing code."""
        if not self.checkpoint_path.exists():
            return None
        import torch

        state = torch.load(self.checkpoint_path, map_location="cpu", weights_only=True)
        if "step" in state:
            # steps logged after the checkpoint will be trained (and logged) again
            self.history = [row for row in self.history if row["step"] <= int(state["step"])]
            self._log_path.write_text("".join(json.dumps(row) + "\n" for row in self.history))
        return state


def make_context(
    workdir: Path | str,
    seed: int = 0,
    max_steps: int | None = None,
    device: torch.device | str = "cpu",
    *,
    seconds: float | None = None,
    cache_dir: Path | str | None = None,
    progress: Reporter | None = None,
    precision: Precision | None = None,
    threads: int | None = None,
    start: bool = True,
) -> RunContext:
    """The one way a run context is built (runner, predict, a plugin's tests): python, numpy and
    torch seeded by ``seed``, the context's generator from that seeding. ``start=False`` leaves
    the budget's clock to the caller (the runner starts it when fitting begins)."""
    from .seeding import seed_everything

    generator = seed_everything(seed)
    ctx = RunContext(
        device=device,
        seed=seed,
        workdir=workdir,
        cache_dir=cache_dir or Path(workdir) / "cache",
        progress=progress,
        budget=Budget(max_steps=max_steps, seconds=seconds),
        precision=precision,
        threads=threads,
    )
    ctx.generator = generator
    if start:
        ctx.budget.start()
    return ctx
