"""Choose a method's prediction-time settings on the synthetic **val** split (never test).

Fits the method once on ``synthetic --profile quick`` (seed, options as given; the fitted state
is cached in --state), then predicts the val split for every combination of the --sweep
options and prints its pixel AP (pooled over the val pixels), pixel AUROC and image AUROC.

``--snapshot-epochs``: the fit's state after each of these epochs too (a method with G's moving
average, stepping it once per iteration: DeScarGAN with ``n_critic=1``), each predicted like the
final state. Training has no schedule that depends on the total length (constant rates, a fixed
decay, epochs shuffled by seed and epoch), so the state after epoch E of a longer fit is the state
a fit of E epochs ends with: one fit measures the whole time / quality frontier of the schedule.
``--test``: also print the test split's pixel AP and the Dice at the val threshold, to report a
choice made on val (never to make it).

``--ema-decays``: for a method whose Trainer keeps a moving average of a module's weights
(DeScarGAN's ``g_ema``), the same fit also keeps a moving average at each of these decays
(1: the plain mean of every step's weights), so one training compares them; each is predicted
with every --sweep combination (``ema`` column; ``own`` is the method's own decay).

    python benchmarks/perf/val_sweep.py --method anoddpm \\
        --set steps=1500 --sweep noise_level=100,200,300 --sweep map_sigma=0,2
    python benchmarks/perf/val_sweep.py --method descargan --set epochs=6 \\
        --ema-decays 0.98,0.99,0.995 --sweep map_sigma=4,6
    python benchmarks/perf/val_sweep.py --method descargan --seed 1 \\
        --snapshot-epochs 10,12,14,16,18 --test
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import itertools
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from anobench.api import registry
from anobench.api.records import training_split
from anobench.api.trainer import Trainer
from anobench.metrics.ranking import best_dice, dice_at
from anobench.testing import make_context


def _value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--method", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", action="append", default=[], help="KEY=VALUE training option")
    ap.add_argument("--sweep", action="append", default=[], help="KEY=V1,V2 prediction option")
    ap.add_argument("--state", type=Path, help="cache of the fitted state (.pt)")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/anobench-sweep"))
    ap.add_argument("--ema-decays", default="", help="D1,D2: extra moving averages of the fit")
    ap.add_argument("--snapshot-epochs", default="", help="E1,E2: also the state after these")
    ap.add_argument("--test", action="store_true", help="also the test split's AP and Dice")
    args = ap.parse_args()

    cls = registry.get_method(args.method)
    fixed = {k: _value(v) for k, v in (s.split("=", 1) for s in args.set)}
    data_cls = registry.get_dataset("synthetic")
    data = data_cls(**data_cls.resolve("quick", {}))
    ctx = make_context(args.workdir / "data", seed=args.seed)
    train = training_split(data.load("train", ctx), cls.supervision, args.method)
    val_all = data.load("val", ctx)
    val_fit = training_split(val_all, cls.supervision, args.method)

    method = cls(**cls.resolve("quick", fixed))
    snap_epochs = [int(e) for e in args.snapshot_epochs.split(",") if e]
    if snap_epochs and getattr(method, "n_critic", 1) != 1:
        raise SystemExit("--snapshot-epochs counts one average update per iteration: n_critic=1")
    per_epoch = max(1, len(train.labels) // getattr(method, "batch_size", 1))
    decays = [float(d) for d in args.ema_decays.split(",") if d]
    if args.state and args.state.exists():
        states = torch.load(args.state, weights_only=True)
        print(f"loaded {args.state}")
    else:
        start = time.time()
        # a fresh folder: the Trainer resumes from a checkpoint it finds, which would be
        # another configuration's
        fit_dir = Path(tempfile.mkdtemp(prefix=f"fit-{args.seed}-", dir=args.workdir))
        snaps: dict[str, dict] = {}
        at = {e * per_epoch: e for e in snap_epochs}
        with _extra_averages(decays) as extras, _snapshots(method, at, snaps, start):
            method.fit(train, val_fit, make_context(fit_dir, seed=args.seed))
        print(f"fit {time.time() - start:.1f} s with {fixed}", flush=True)
        # copies: on the CPU a state dict shares storage with the weights that the next
        # variant overwrites
        states = {**snaps, "own": copy.deepcopy(method.state_dict())}
        for decay, (module, average) in extras.items():
            module.load_state_dict(average.module.state_dict())  # the module is the method's
            states[str(decay)] = copy.deepcopy(method.state_dict())
        if args.state:
            torch.save(states, args.state)

    grid = [
        (k, [_value(v) for v in vs.split(",")]) for k, vs in (s.split("=", 1) for s in args.sweep)
    ]
    masks = np.asarray(val_all.masks).astype(bool)
    labels = np.asarray(val_all.labels)
    test = data.load("test", ctx) if args.test else None
    for (ema, state), combo in itertools.product(
        states.items(), itertools.product(*[vs for _, vs in grid])
    ):
        options = {**fixed, **dict(zip([k for k, _ in grid], combo, strict=True))}
        m = cls(**cls.resolve("quick", options))
        m.load_state_dict(state)
        start = time.time()
        with torch.inference_mode():
            pred = m.predict(val_all.images, make_context(args.workdir / "pred", seed=args.seed))
        took = time.time() - start
        pixel_ap = average_precision_score(masks.ravel(), pred.maps.ravel())
        pixel_auroc = roc_auc_score(masks.ravel(), pred.maps.ravel())
        image_auroc = roc_auc_score(labels, pred.scores)
        shown = " ".join(f"{k}={v}" for k, v in zip([k for k, _ in grid], combo, strict=True))
        shown = f"ema={ema} {shown}"
        line = (
            f"{shown}: val pixel AP {pixel_ap:.4f}  pixel AUROC {pixel_auroc:.4f}"
            f"  image AUROC {image_auroc:.4f}"
        )
        if test is not None:
            line += _test_scores(m, test, masks, pred.maps, make_context(args.workdir, args.seed))
        print(f"{line}  ({took:.1f} s)", flush=True)


def _test_scores(method, test, val_masks, val_maps, ctx) -> str:
    """The test split's pixel AP and its pooled Dice at the threshold of the best val Dice."""
    with torch.inference_mode():
        pred = method.predict(test.images, ctx)
    masks = np.asarray(test.masks).astype(bool)
    threshold = best_dice(val_masks, val_maps).threshold
    ap = average_precision_score(masks.ravel(), pred.maps.ravel())
    dice = dice_at(masks, pred.maps, threshold)
    return f"  | test pixel AP {ap:.4f}  Dice@val {dice:.4f}"


@contextlib.contextmanager
def _snapshots(method, at: dict[int, int], out: dict[str, dict], start: float):
    """Copy the method's state, G's moving average loaded, after the average updates in ``at``
    (update count: epoch). The live weights are restored after each copy."""
    original = Trainer.update_ema

    def update_ema(self: Trainer) -> None:
        original(self)
        if self.ema is None:
            return
        epoch = at.get(int(self.ema.n_averaged.item()))
        if epoch is None:
            return
        live = copy.deepcopy(self._ema_module.state_dict())
        self.apply_ema()
        out[f"epoch{epoch}"] = copy.deepcopy(method.state_dict())
        self._ema_module.load_state_dict(live)
        print(f"snapshot after epoch {epoch} at {time.time() - start:.1f} s", flush=True)

    Trainer.update_ema = update_ema
    try:
        yield
    finally:
        Trainer.update_ema = original


@contextlib.contextmanager
def _extra_averages(decays: list[float]):
    """Keep a moving average at each decay of the module that a Trainer averages."""
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    extras: dict[float, tuple[torch.nn.Module, AveragedModel]] = {}
    original = Trainer.update_ema

    def update_ema(self: Trainer) -> None:
        original(self)
        module = self._ema_module
        if module is None:
            return
        for decay in decays:
            if decay not in extras:
                # decay 1: the plain mean of every step's weights (SWA's average)
                avg = None if decay == 1.0 else get_ema_multi_avg_fn(decay)
                extras[decay] = (module, AveragedModel(module, multi_avg_fn=avg, use_buffers=True))
            extras[decay][1].update_parameters(module)

    Trainer.update_ema = update_ema
    try:
        yield extras
    finally:
        Trainer.update_ema = original


if __name__ == "__main__":
    main()
