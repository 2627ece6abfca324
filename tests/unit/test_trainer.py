"""``anobench.Trainer``: stages, budget, interruption and an exact resume, on a toy model."""

from __future__ import annotations

import random
import signal

import numpy as np
import pytest
import torch
from torch import nn

from anobench import Batches, Stage, Trainer, Values
from anobench.api.progress import Reporter
from anobench.api.signals import Interrupted
from anobench.testing import make_context

DATA = np.random.default_rng(0).standard_normal((10, 4)).astype(np.float32)
TARGET = DATA.sum(axis=1, keepdims=True).astype(np.float32)
#: stage "a" 5 steps, stage "b" 4 steps (validated every 2 steps), checkpoints every 3 steps
PLANNED = 9


class Lines(Reporter):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def log(self, message: str) -> None:
        self.lines.append(message)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _fit(workdir, max_steps=None, stop_during=None):
    """Two stages, two optimisers, a scheduler, an EMA, dropout (torch's global generator),
    noise and batches from ``ctx.generator``, a scale from Python's ``random`` (augmentations
    of anomalib's models draw there); ``stop_during``: a stop request in that step."""
    ctx = make_context(workdir, seed=0, max_steps=max_steps)
    ctx.progress = Lines()
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.3), nn.BatchNorm1d(8), nn.Linear(8, 1))
    opt_a = torch.optim.Adam(model.parameters(), lr=0.01)
    sched = torch.optim.lr_scheduler.StepLR(opt_a, step_size=2, gamma=0.5)
    opt_b = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    kept = Values(total=0.0, seen=[])
    trainer = None

    def step(opt, batch):
        if stop_during is not None and trainer.step + 1 == stop_during:
            assert ctx.request_stop(signal.SIGINT)
        x, y = batch
        x = x + 0.1 * torch.randn(x.shape, generator=ctx.generator)
        x = x * random.uniform(0.9, 1.1)
        loss = (model(x) - y).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        kept["total"] += loss.item()
        kept["seen"] = [*kept["seen"], trainer.stage_step]
        return {"loss": loss.item()}

    def step_a(batch):
        out = step(opt_a, batch)
        sched.step()
        return out

    def validate():
        model.eval()
        with torch.no_grad():
            loss = (model(torch.from_numpy(DATA)) - torch.from_numpy(TARGET)).pow(2).mean()
        model.train()
        return {"val": loss.item(), "kept": kept["total"]}

    trainer = Trainer(
        ctx,
        name="toy",
        state={"model": model, "opt_a": opt_a, "sched": sched, "opt_b": opt_b, "kept": kept},
        batches=Batches(DATA, 4, ctx, labels=TARGET),
        checkpoint_every=3,
        ema=model,
        ema_decay=0.5,
    )
    stages = [
        Stage("a", 5, step_a),
        Stage("b", 4, lambda b: step(opt_b, b), validate=validate, validate_every=2, ema=True),
    ]
    trainer.run(stages)
    averaged = {k: v.clone() for k, v in trainer.ema.module.state_dict().items()}
    trainer.apply_ema()
    # the random states
    after = (torch.rand(3, generator=ctx.generator), torch.rand(3), torch.tensor(random.random()))
    return {
        "weights": {k: v.clone() for k, v in model.state_dict().items()},
        "ema": averaged,
        "after": after,
        "kept": dict(kept),
        "ctx": ctx,
    }


def _same(a, b) -> None:
    for part in ("weights", "ema"):
        assert a[part].keys() == b[part].keys()
        for k in a[part]:
            assert torch.equal(a[part][k], b[part][k]), (part, k)
    assert all(torch.equal(x, y) for x, y in zip(a["after"], b["after"], strict=True))
    assert a["kept"] == b["kept"]


def _rows(ctx, key="loss"):
    return [r for r in ctx.history if key in r]


@pytest.mark.parametrize("stop", [2, 5, 6, 8])
def test_a_run_stopped_by_the_budget_resumes_to_the_same_weights(tmp_path, stop):
    whole = _fit(tmp_path / "whole")
    part = _fit(tmp_path / "parts", max_steps=stop)
    assert [r["step"] for r in _rows(part["ctx"])] == list(range(1, stop + 1))
    resumed = _fit(tmp_path / "parts")
    _same(whole, resumed)
    assert _rows(resumed["ctx"]) == _rows(whole["ctx"])  # the log continued, not restarted
    assert resumed["kept"]["seen"] == [0, 1, 2, 3, 4, 0, 1, 2, 3]


@pytest.mark.parametrize("lost", ["generator", "torch", "python"])
def test_the_toy_notices_a_random_state_that_is_not_restored(tmp_path, monkeypatch, lost):
    # the test above fails on a loop that forgets a random state
    whole = _fit(tmp_path / "whole")
    _fit(tmp_path / "parts", max_steps=6)
    real = Trainer.load_state_dict

    def forgetful(self, state):
        if lost == "generator":  # ctx.generator left as seeded
            state = {**state, "rng": self.ctx.generator.get_state()}
        elif lost == "torch":  # torch's global generator left as seeded
            state = {**state, "torch_rng": torch.get_rng_state()}
        else:  # Python's generator left as seeded
            state = {**state, "py_rng": random.getstate()}
        real(self, state)

    monkeypatch.setattr(Trainer, "load_state_dict", forgetful)
    resumed = _fit(tmp_path / "parts")
    assert not all(
        torch.equal(whole["weights"][k], resumed["weights"][k]) for k in whole["weights"]
    )


@pytest.mark.parametrize("stop", [4, 6])  # 6: a validation step of stage "b"
def test_a_stop_request_checkpoints_that_step_and_the_resume_continues_after_it(tmp_path, stop):
    whole = _fit(tmp_path / "whole")
    with pytest.raises(Interrupted):
        _fit(tmp_path / "parts", stop_during=stop)
    state = torch.load(tmp_path / "parts" / "checkpoint.pt", weights_only=True)
    assert state["step"] == stop
    resumed = _fit(tmp_path / "parts")
    ctx = resumed["ctx"]
    assert ctx.progress.lines[0] == f"toy: resumed at step {stop}"
    _same(whole, resumed)
    assert [r["step"] for r in _rows(ctx, "val")] == [6, 8, 9]
    assert ctx.history == whole["ctx"].history  # the pending validation of step 6 was done once
    assert not ctx.stop_requested and ctx._saver is None  # the loop unregistered its saver


def test_the_log_says_when_the_budget_ends_training_and_what_a_resume_does(tmp_path):
    first = _fit(tmp_path, max_steps=3)["ctx"]
    assert first.progress.lines == [f"toy: budget reached at step 3 of {PLANNED}"]
    assert torch.load(first.checkpoint_path, weights_only=True)["step"] == 3
    again = _fit(tmp_path)["ctx"]
    assert again.progress.lines == ["toy: resumed at step 3"]
    done = _fit(tmp_path)["ctx"]
    assert done.progress.lines == [f"toy: nothing to resume, trained to step {PLANNED}"]
    assert [r["step"] for r in _rows(done)] == list(range(1, PLANNED + 1))


def test_a_stage_ends_early_when_it_says_so_and_the_next_one_counts_from_there(tmp_path):
    ctx = make_context(tmp_path)
    seen: list[tuple[str, int]] = []

    def step(name):
        def run(i):
            seen.append((name, i))
            return {"i": float(i)}

        return run

    trainer = Trainer(ctx, name="toy", state={})
    stages = [
        Stage("warm", 50, step("warm"), until=lambda: len(seen) == 3),
        Stage("b", 2, step("b")),
    ]
    assert trainer.run(stages) == 5
    assert seen == [("warm", 0), ("warm", 1), ("warm", 2), ("b", 0), ("b", 1)]
    assert [r["step"] for r in ctx.history] == [1, 2, 3, 4, 5]


def test_reserved_names_and_foreign_checkpoints_are_clear_errors(tmp_path):
    from anobench import MethodFailure

    ctx = make_context(tmp_path)
    with pytest.raises(ValueError, match="reserved"):
        Trainer(ctx, name="toy", state={"step": Values()})
    ctx.checkpoint({"step": 2, "net": {}})
    trainer = Trainer(ctx, name="toy", state={"net": nn.Linear(1, 1)})
    with pytest.raises(MethodFailure, match="another version"):
        trainer.run([Stage("a", 3, lambda i: {})])


@pytest.mark.parametrize("stop", [3, 6])  # stopped in stage "a" / in stage "b"
def test_each_stage_is_recorded_at_its_first_step_and_a_resume_keeps_the_record(tmp_path, stop):
    _fit(tmp_path, max_steps=stop)
    ctx = _fit(tmp_path)["ctx"]
    assert ctx.stages == [{"name": "a", "start": 0}, {"name": "b", "start": 5}]
    again = make_context(tmp_path)  # read back from the workdir, as the runner's figures do
    assert again.stages == ctx.stages


def test_a_stage_that_takes_no_step_is_not_recorded(tmp_path):
    ctx = make_context(tmp_path)
    trainer = Trainer(ctx, name="toy", state={})
    stages = [
        Stage("skipped", 0, lambda i: {"i": 0.0}),
        Stage("warm", 50, lambda i: {"i": float(i)}, until=lambda: trainer.stage_step == 2),
        Stage("b", 2, lambda i: {"i": float(i)}),
    ]
    trainer.run(stages)
    assert ctx.stages == [{"name": "warm", "start": 0}, {"name": "b", "start": 2}]


def test_descend_equals_a_hand_written_step_and_passes_through_the_scaler(tmp_path):
    x, y = torch.from_numpy(DATA), torch.from_numpy(TARGET)
    nets = []
    for _ in range(2):
        torch.manual_seed(0)
        nets.append(nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 1)))
    by_hand, net = nets
    opt_hand = torch.optim.SGD(by_hand.parameters(), lr=0.1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    trainer = Trainer(make_context(tmp_path), name="toy", state={})
    assert trainer.scaler is None  # fp32: no scaling
    for _ in range(2):
        # only the second layer learns (``inputs``), with stale gradients cleared first
        opt_hand.zero_grad(set_to_none=True)
        ((by_hand(x) - y) ** 2).mean().backward(inputs=list(by_hand[1].parameters()))
        opt_hand.step()
        trainer.descend(((net(x) - y) ** 2).mean(), opt, inputs=list(net[1].parameters()))
    for a, b in zip(by_hand.parameters(), net.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert torch.equal(net[0].weight, nets[0][0].weight)

    calls = []

    class Scaler:  # what GradScaler does for fp16, as calls
        def scale(self, loss):
            calls.append("scale")
            return loss * 4

        def step(self, optimizer):
            calls.append("step")
            for group in optimizer.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p.grad /= 4
            optimizer.step()

        def update(self):
            calls.append("update")

    trainer.scaler = Scaler()
    before = net[0].weight.clone()
    trainer.descend(((net(x) - y) ** 2).mean(), opt)
    assert calls == ["scale", "step", "update"]
    assert not torch.equal(before, net[0].weight)
