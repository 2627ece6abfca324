"""One training loop for every trained method: stages, budget, progress, log and exact resume.

A method supplies its step (a callable that trains on one batch and returns its losses as
floats) and what to save; :class:`Trainer` runs the steps with one global step counter and owns
everything around them: the run's budget, a progress task per stage, ``ctx.log`` after every
step, validation, periodic checkpoints, a checkpoint on a stop signal, and the resume that makes
an interrupted run end with the same weights as an uninterrupted one (at one CPU thread).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .batches import Batches, to_device, to_tensor  # noqa: F401  (their home before batches.py)
from .context import RunContext
from .errors import MethodFailure
from .hardware import Precision

if TYPE_CHECKING:  # imported where used: importing this module stays fast
    from torch import nn

Losses = Mapping[str, float]

#: checkpoint keys of the loop itself; the names a method saves under must differ
RESERVED = frozenset(
    {"step", "stage", "stage_start", "validated", "rng", "torch_rng", "cuda_rng", "py_rng", "ema"}
    | {"scaler", "batches"}
)


def steps_for_epochs(epochs: float, n_items: int, batch: int, batches_per_step: int = 1) -> int:
    """Steps (at least one) that show the network ``epochs`` passes over ``n_items`` items."""
    return max(1, math.ceil(epochs * n_items / (batch * batches_per_step)))


class Values(dict):
    """Plain values a method keeps across steps (numbers, strings, tensors, lists, dicts of
    them), checkpointed and restored with the training state."""

    def state_dict(self) -> dict[str, Any]:
        return dict(self)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.update(state)


@dataclass
class Stage:
    """One phase of training: up to ``steps`` calls of ``step``.

    ``step`` receives the batch when the trainer has a batch source, else the index of the step
    in the stage (from 0), and returns its losses (floats), which are logged and shown.
    ``until``: asked after each step; ``True`` ends the stage early (e.g. a warm-up that has
    converged; it must depend only on checkpointed state). ``seconds``: an own wall-clock cap on
    the run's budget clock, after which the next stage begins. ``validate``: scalars logged every
    ``validate_every`` steps (default: at every checkpoint) and when the stage ends.
    ``progress``: the fields to show from a step's losses (default: all of them). ``ema``:
    update the trainer's moving average of weights after every step.
    """

    name: str
    steps: int
    step: Callable[[Any], Losses]
    until: Callable[[], bool] | None = None
    seconds: float | None = None
    validate: Callable[[], Losses] | None = None
    validate_every: int | None = None
    progress: Callable[[Losses], Mapping[str, Any]] | None = None
    ema: bool = False


class Trainer:
    """Runs stages with one global step counter under the run's budget; resumes exactly.

    ``state``: what to checkpoint, by name: modules, optimisers, schedulers, batch streams,
    :class:`Values`, anything with ``state_dict``/``load_state_dict``. The loop adds its step,
    stage, the batch source, the moving average, the gradient scaler and the random states
    (``ctx.generator``, torch's global CPU generator and the CUDA one of ``ctx.device``).
    ``batches``: a callable giving the batch of a (global, 0-based) step, e.g.
    :class:`Batches`, checkpointed when it has a ``state_dict``. ``ema``: a module whose weights
    (and buffers) are averaged with ``ema_decay`` (``AveragedModel``), see :meth:`update_ema` and
    :meth:`apply_ema`. ``precision``: defaults to the run's resolved ``ctx.precision``;
    ``scaler=True`` creates its gradient scaler (fp16 only, else ``None``) as ``self.scaler``.

    The run's budget stops everything, resumably: a later fit with the same workdir continues
    the stage in progress. A stage's own cap (``Stage.seconds``) ends only that stage.
    """

    def __init__(
        self,
        ctx: RunContext,
        *,
        name: str,
        state: Mapping[str, Any],
        batches: Callable[[int], Any] | None = None,
        checkpoint_every: int = 500,
        ema: nn.Module | None = None,
        ema_decay: float = 0.999,
        precision: Precision | None = None,
        scaler: bool = False,
    ) -> None:
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        clash = sorted(RESERVED & set(state))
        if clash:
            raise ValueError(f"Trainer state names {clash} are reserved; rename them")
        self.ctx = ctx
        self.name = name
        self.state = dict(state)
        self.batches = batches
        self.every = max(1, int(checkpoint_every))
        #: the device, precision and threads resolved for the run
        self.device = ctx.device
        self.precision = precision or ctx.precision
        self.threads = ctx.threads
        self.scaler = self.precision.grad_scaler() if scaler else None
        self._ema_module = ema
        self.ema: nn.Module | None = None
        if ema is not None:
            avg = get_ema_multi_avg_fn(ema_decay)
            self.ema = AveragedModel(ema, multi_avg_fn=avg, use_buffers=True)
        self.step = 0  # steps taken, over all stages
        self.stage = 0
        self.stage_start = 0  # the global step at which the current stage began
        self._validated = -1  # the step the current stage was last validated at
        self._saved = -1
        self._resumed: int | None = None  # the step a resume started at, until a step is taken
        #: steps the gradient scaler skipped (fp16 overflow), in this process
        self.skipped_steps = 0

    @property
    def stage_step(self) -> int:
        """The index in its stage of the step being taken (from 0)."""
        return self.step - self.stage_start

    # -- optimisation -----------------------------------------------------------------------------

    def descend(self, loss: Any, optimizer: Any, inputs: list | None = None) -> None:
        """One optimiser step on ``loss``: clear the gradients, back-propagate (into ``inputs``
        only, when given) and step, through the run's gradient scaler where there is one (fp16:
        the loss scaled, the step skipped on overflow, the scale updated)."""
        optimizer.zero_grad(set_to_none=True)
        if self.scaler is None:
            loss.backward(inputs=inputs)
            optimizer.step()
            return
        self.scaler.scale(loss).backward(inputs=inputs)
        self.scaler.step(optimizer)
        self.scaler.update()

    # -- moving average ---------------------------------------------------------------------------

    def update_ema(self) -> None:
        """Average the current weights of the ``ema`` module in (no-op without one)."""
        if self.ema is not None:
            self.ema.update_parameters(self._ema_module)

    def apply_ema(self) -> bool:
        """Load the averaged weights into the ``ema`` module; ``False`` if never averaged."""
        if self.ema is None or int(self.ema.n_averaged.item()) == 0:
            return False
        self._ema_module.load_state_dict(self.ema.module.state_dict())
        return True

    # -- state ------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        import torch

        out: dict[str, Any] = {k: obj.state_dict() for k, obj in self.state.items()}
        out.update(
            step=self.step,
            stage=self.stage,
            stage_start=self.stage_start,
            validated=self._validated,
            rng=self.ctx.generator.get_state(),
            torch_rng=torch.get_rng_state(),
            # Python's own generator: augmentations drawn with `random` (anomalib's CutPaste)
            py_rng=random.getstate(),
        )
        if self.device.type == "cuda":
            out["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        if hasattr(self.batches, "state_dict"):
            out["batches"] = self.batches.state_dict()
        if self.ema is not None:
            out["ema"] = self.ema.state_dict()
        if self.scaler is not None:
            out["scaler"] = self.scaler.state_dict()
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        import torch

        need = ["step", "stage", "stage_start", "rng", "torch_rng", *self.state]
        if hasattr(self.batches, "state_dict"):
            need.append("batches")
        if self.ema is not None:
            need.append("ema")
        missing = [k for k in need if k not in state]
        if missing:
            raise MethodFailure(
                f"{self.name}: {self.ctx.checkpoint_path} was written by another version (it has"
                f" no {', '.join(repr(k) for k in missing)}); start a new run to train again"
            )
        for k, obj in self.state.items():
            obj.load_state_dict(state[k])
        if "batches" in need:
            self.batches.load_state_dict(state["batches"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        if self.scaler is not None and "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])
        self.ctx.generator.set_state(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        if "py_rng" in state:  # checkpoints of earlier releases have none
            version, internal, gauss = state["py_rng"]
            random.setstate((version, tuple(internal), gauss))
        if self.device.type == "cuda" and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        self.step = int(state["step"])
        self.stage = int(state["stage"])
        self.stage_start = int(state["stage_start"])
        self._validated = int(state.get("validated", -1))

    def save(self) -> None:
        self.ctx.checkpoint(self.state_dict())
        self._saved = self.step

    # -- the loop ---------------------------------------------------------------------------------

    def run(self, stages: list[Stage]) -> int:
        """Train (resuming from the workdir's checkpoint, if any); returns the global step."""
        ctx = self.ctx
        state = ctx.resume()
        if state is not None:
            self.load_state_dict(state)
            self._saved = self.step
            self._resumed = self.step
        # a stop signal checkpoints after the current step instead of losing it
        ctx.on_stop(self.state_dict)
        try:
            while True:
                stage = stages[self.stage]
                if not self._run_stage(stage):
                    # the run's budget: checkpoint the state as it is, then validate this fit's
                    # result (a resumed run continues from the state without that validation)
                    self.save()
                    planned = self.stage_start + sum(s.steps for s in stages[self.stage :])
                    ctx.progress.log(
                        f"{self.name}: budget reached at step {self.step} of {planned}"
                    )
                    self._end_stage(stage)
                    return self.step
                self._end_stage(stage)
                if self.stage + 1 == len(stages):
                    break
                self.stage += 1
                self.stage_start = self.step
                self._validated = -1
            if self._resumed is not None:  # resumed, and not a step left to take
                ctx.progress.log(f"{self.name}: nothing to resume, trained to step {self.step}")
            self.save()
            return self.step
        finally:
            ctx.on_stop(None)

    def _run_stage(self, stage: Stage) -> bool:
        """Steps until the stage ends (``True``) or the run's budget does (``False``)."""
        ctx = self.ctx
        stop = self.stage_start + stage.steps
        if self.step >= stop:
            return True
        ctx.begin_stage(stage.name, self.stage_start)
        every = stage.validate_every or self.every
        total = max(0, ctx.budget.steps(stop) - self.stage_start)
        # the time budget (or the stage's own cap) may end the stage before its steps do
        deadline = ctx.budget.deadline(stage.seconds)
        with ctx.progress.task(
            f"{self.name}: {stage.name}", total=total, deadline=deadline
        ) as task:
            if self.step > self.stage_start:
                task.advance(self.step - self.stage_start)
            while True:
                if self.step > self.stage_start:
                    # after each step, and for the last one before a resume if still pending
                    if stage.validate and self.step % every == 0 and self._validated != self.step:
                        self._validate(stage)
                    if self.step % self.every == 0 and self._saved != self.step:
                        self.save()
                    if stage.until is not None and stage.until():
                        return True
                if self.step >= stop:
                    return True
                if ctx.budget.expired(self.step):
                    return False
                if stage.seconds is not None and ctx.budget.elapsed() >= stage.seconds:
                    return True
                if self._resumed is not None:  # announced before the first step it takes
                    ctx.progress.log(f"{self.name}: resumed at step {self.step}")
                    self._resumed = None
                batch = self.batches(self.step) if self.batches is not None else self.stage_step
                scale = None if self.scaler is None else self.scaler.get_scale()
                losses = dict(stage.step(batch))
                self.step += 1
                if stage.ema:
                    self.update_ema()
                ctx.log(self.step, **self._logged(losses, scale))
                task.advance(1, **(stage.progress(losses) if stage.progress else losses))

    def _logged(self, losses: dict[str, Any], scale: float | None) -> dict[str, Any]:
        """The losses to log: with a gradient scaler, an fp16 overflow (the scaler lowered its
        scale and skipped the step) is routine and its non-finite losses are left out; every
        other non-finite loss reaches ``ctx.log``, which stops the run as diverged."""
        bad = {k for k, v in losses.items() if not math.isfinite(float(v))}
        if not bad or scale is None:
            return losses
        now = self.scaler.get_scale()
        # a scale that keeps falling below 1 is no overflow any more: the losses themselves are
        if not (now < scale and now >= 1.0):
            return losses
        self.skipped_steps += 1
        return {k: v for k, v in losses.items() if k not in bad}

    def _validate(self, stage: Stage) -> None:
        scalars = stage.validate() if stage.validate else {}
        self._validated = self.step
        if scalars:
            self.ctx.log(self.step, **scalars)

    def _end_stage(self, stage: Stage) -> None:
        """Validate a stage that took steps since its last validation."""
        if stage.validate and self.step > self.stage_start and self._validated != self.step:
            self._validate(stage)
