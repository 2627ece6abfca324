"""Bit-identity check for moving the trained methods onto ``anobench.Trainer``.

``python benchmarks/trainer_port_check.py save DIR`` fits every trained method (its ``quick``
profile with its ``test_options``, a few variants) on a tiny synthetic split at one thread and
saves the final weights and training logs; ``... compare DIR`` fits them again with the code of
the checkout and compares with ``torch.equal``. Run ``save`` before a change to a training loop
and ``compare`` after it.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import torch

from anobench import Split
from anobench.api import registry
from anobench.api.records import training_split
from anobench.testing import make_context

#: (label, method, option overrides, max_steps)
CASES = [
    ("vae", "vae", {}, None),
    ("vae-budget3", "vae", {"epochs": 2.0}, 3),
    ("ae", "ae", {}, None),
    ("classifier", "classifier", {}, None),
    ("classifier-budget3", "classifier", {"epochs": 2.0}, 3),
    ("anogan", "anogan", {"gan_epochs": 2.0}, None),
    ("fanogan", "fanogan", {"gan_epochs": 2.0, "encoder_steps": 3}, None),
    ("fanogan-budget3", "fanogan", {"gan_epochs": 2.0, "encoder_steps": 3}, 3),
    ("descargan-paper", "descargan", {"_profile": "paper", "epochs": 3}, None),
    ("descargan-quick", "descargan", {"warmup": 6, "warmup_loss": 0.0, "epochs": 2}, None),
    ("descargan-earlywarm", "descargan", {"warmup": 40, "warmup_loss": 0.6935, "epochs": 2}, None),
    ("descargan-budget5", "descargan", {"warmup": 3, "epochs": 2}, 5),
]


def _data() -> tuple[Split, Split]:
    from anobench_synthetic.generator import generate_split

    out = []
    for seed in (0, 1):
        arrays = generate_split(8, 8, seed=seed, image_size=32).arrays
        ids = tuple(f"s{seed}-{i}" for i in range(len(arrays["labels"])))
        out.append(
            Split(
                images=arrays["images"],
                labels=arrays["labels"],
                ids=ids,
                masks=arrays["masks"],
            )
        )
    return out[0], out[1]


def _tensors(state, prefix=""):
    if isinstance(state, torch.Tensor):
        return {prefix: state}
    out = {}
    if isinstance(state, dict):
        for k, v in state.items():
            out.update(_tensors(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def fit(name: str, overrides: dict, max_steps: int | None, workdir: Path):
    cls = registry.get_method(name)
    overrides = dict(overrides)
    profile = overrides.pop("_profile", "quick")
    method = cls(**cls.resolve(profile, {**cls.test_options, **overrides}))
    train, val = _data()
    owner = f"method '{name}'"
    train = training_split(train, cls.supervision, owner)
    val = training_split(val, cls.supervision, owner)
    ctx = make_context(workdir, seed=0, max_steps=max_steps)
    method.fit(train, val, ctx)
    return _tensors(method.state_dict()), ctx.history


def main() -> int:
    mode, out = sys.argv[1], Path(sys.argv[2])
    torch.set_num_threads(1)
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for label, name, overrides, max_steps in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            weights, history = fit(name, overrides, max_steps, Path(tmp))
        if mode == "save":
            torch.save(weights, out / f"{label}.pt")
            (out / f"{label}.json").write_text(json.dumps(history))
            print(f"{label}: saved {len(weights)} tensors, {len(history)} log rows")
            continue
        ref = torch.load(out / f"{label}.pt", weights_only=True)
        ref_log = json.loads((out / f"{label}.json").read_text())
        same = set(ref) == set(weights) and all(torch.equal(ref[k], weights[k]) for k in ref)
        differ = [k for k in ref if k in weights and not torch.equal(ref[k], weights[k])]
        log = "same log" if ref_log == history else "log differs"
        print(f"{label}: {'bit-identical' if same else 'DIFFERENT'} ({len(ref)} tensors), {log}")
        if not same:
            failed += 1
            print("   differing:", differ[:5], "missing:", sorted(set(ref) ^ set(weights))[:5])
        if ref_log != history:
            extra = [r for r in history if r not in ref_log]
            missing = [r for r in ref_log if r not in history]
            print(f"   log rows only now: {extra[:3]}; only before: {missing[:3]}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
