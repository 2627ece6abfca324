"""Choose a method's prediction-time settings on the synthetic **val** split (never test).

Fits the method once on ``synthetic --profile quick`` (seed, options as given; the fitted state
is cached in --state), then predicts the val split for every combination of the --sweep
options and prints its pixel AP (pooled over the val pixels), pixel AUROC and image AUROC.

    python benchmarks/perf/diffusion_val_sweep.py --method anoddpm \\
        --set steps=1500 --sweep noise_level=100,200,300 --sweep map_sigma=0,2
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from anobench.api import registry
from anobench.api.records import training_split
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
    if args.state and args.state.exists():
        method.load_state_dict(torch.load(args.state, weights_only=True))
        print(f"loaded {args.state}")
    else:
        start = time.time()
        # a fresh folder: the Trainer resumes from a checkpoint it finds, which would be
        # another configuration's
        fit_dir = Path(tempfile.mkdtemp(prefix=f"fit-{args.seed}-", dir=args.workdir))
        method.fit(train, val_fit, make_context(fit_dir, seed=args.seed))
        print(f"fit {time.time() - start:.1f} s with {fixed}", flush=True)
        if args.state:
            torch.save(method.state_dict(), args.state)
    state = method.state_dict()

    grid = [
        (k, [_value(v) for v in vs.split(",")]) for k, vs in (s.split("=", 1) for s in args.sweep)
    ]
    masks = np.asarray(val_all.masks).astype(bool)
    labels = np.asarray(val_all.labels)
    for combo in itertools.product(*[vs for _, vs in grid]):
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
        print(
            f"{shown}: val pixel AP {pixel_ap:.4f}  pixel AUROC {pixel_auroc:.4f}"
            f"  image AUROC {image_auroc:.4f}  ({took:.1f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
