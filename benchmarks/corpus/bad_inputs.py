"""A corpus of bad inputs, broken plugins and misused options, run through the real CLI.

Every case runs ``python -m anobench.cli`` in a fresh process and is classified:

- ``traceback``: a Python traceback reached the user;
- ``internal``: exit 1 with "internal error" (anobench did not expect it);
- ``exit0``: a case that must fail ended with exit code 0;
- ``unclear``: it failed, but not as one ``error:`` line (click's usage errors count as clear);
- ``stored``: a configuration error left a run in the store;
- ``ok``: the answer the project promises.

    python benchmarks/corpus/bad_inputs.py            # this checkout's anobench
    python benchmarks/corpus/bad_inputs.py -k device  # only the cases whose name contains it
    PYTHONPATH=/tmp/old:/tmp/old/plugins python benchmarks/corpus/bad_inputs.py   # another one

It needs no network and no GPU; about two minutes on two CPU cores.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

TINY = ["--dataset-opt", "image_size=32", "--dataset-opt", "n_train=6"]
TINY += ["--dataset-opt", "n_val=2", "--dataset-opt", "n_test=4"]
SYNTH = ["-m", "meandiff", "-d", "synthetic", *TINY]

MISBEHAVING = """
import sys
import numpy as np
from anobench import Method, Predictions


class Exiting(Method):
    name = "exiting"

    def fit(self, train, val, ctx):
        sys.exit(3)


class DictPredict(Method):
    name = "dictpredict"

    def fit(self, train, val, ctx):
        return self

    def predict(self, images, ctx):
        return {"scores": np.zeros(len(images), dtype=np.float32)}

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


class Diverging(DictPredict):
    name = "diverging"

    def fit(self, train, val, ctx):
        ctx.log(1, loss=float("nan"))
        return self


def not_a_class():
    return None
"""

ENTRY_POINTS = """[anobench.methods]
exiting = anobench_misbehaving:Exiting
dictpredict = anobench_misbehaving:DictPredict
diverging = anobench_misbehaving:Diverging
function = anobench_misbehaving:not_a_class
"""


@dataclass
class Case:
    name: str
    args: list[str]
    #: writes what the case needs under its folder; returns replacements of ``{KEY}`` in args
    setup: Callable[[Path], dict[str, str]] | None = None
    expect_error: bool = True
    #: extra environment (e.g. the misbehaving plugins on PYTHONPATH)
    plugins: bool = False
    #: the case needs a home with one finished run
    finished_run: bool = False
    #: the store must hold no run afterwards (a configuration error is never stored)
    no_run_stored: bool = False
    #: every fragment must appear in the output
    names: tuple[str, ...] = field(default_factory=tuple)


def _folder(root: Path, normal: int = 8, abnormal: int = 4, mask_size: int | None = None) -> Path:
    rng = np.random.default_rng(0)
    for label, n in (("normal", normal), ("abnormal", abnormal)):
        for i in range(n):
            path = root / label / f"{i:03d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 255, (24, 24), dtype=np.uint8)).save(path)
            if label == "abnormal" and mask_size:
                mask = root / "masks" / f"{i:03d}.png"
                mask.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(np.zeros((mask_size, mask_size), np.uint8)).save(mask)
    return root


def _dangling(case: Path) -> dict[str, str]:
    root = _folder(case / "data")
    (root / "normal" / "gone.png").symlink_to(case / "nowhere.png")
    return {"ROOT": str(root)}


def _no_abnormal(case: Path) -> dict[str, str]:
    root = _folder(case / "data", abnormal=0)
    (root / "abnormal").mkdir()
    return {"ROOT": str(root)}


def _bad_masks(case: Path) -> dict[str, str]:
    return {"ROOT": str(_folder(case / "data", mask_size=7))}


def _empty_normal(case: Path) -> dict[str, str]:
    root = _folder(case / "data", normal=0)
    (root / "normal").mkdir()
    return {"ROOT": str(root)}


def _corrupt_normal(case: Path) -> dict[str, str]:
    root = _folder(case / "data")
    for path in (root / "normal").iterdir():
        path.write_bytes(b"not an image")
    return {"ROOT": str(root)}


def _plain_folder(case: Path) -> dict[str, str]:
    return {"ROOT": str(_folder(case / "data"))}


def _suite(case: Path, extra: str = "") -> Path:
    path = case / "suite.toml"
    path.write_text(
        f"seeds = [0]\ndevice = 'cpu'\n{extra}\n[[datasets]]\nname = 'synthetic'\n"
        "options = { image_size = 32, n_train = 6, n_val = 2, n_test = 4 }\n"
        "[[methods]]\nname = 'meandiff'\n"
    )
    return path


def _suite_only(case: Path) -> dict[str, str]:
    return {"SUITE": str(_suite(case))}


def _huge_seed_suite(case: Path) -> dict[str, str]:
    path = _suite(case)
    path.write_text(path.read_text().replace("seeds = [0]", f"seeds = [{2**63}]"))
    return {"SUITE": str(path)}


def _nan_tiff(case: Path) -> dict[str, str]:
    path = case / "nan.tif"
    Image.fromarray(np.full((16, 16), math.nan, dtype=np.float32)).save(path)
    return {"IMAGE": str(path)}


def _png(case: Path) -> dict[str, str]:
    path = case / "one.png"
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(path)
    return {"IMAGE": str(path)}


def _garbage_model(case: Path) -> dict[str, str]:
    out = _png(case)
    for model in (case / "home" / "runs").glob("*/model.pt"):
        model.write_bytes(b"garbage\n")
    return out


FOLDER = ["-m", "meandiff", "-d", "folder", "--dataset-opt", "root={ROOT}"]
FOLDER += ["--dataset-opt", "image_size=16"]

CASES = [
    # item 4: a bad option value is found before any work and stores nothing
    Case(
        "classifier backbone_weights=lite0",
        ["run", "-m", "classifier", *SYNTH[2:], "--method-opt", "backbone_weights=lite0"],
        no_run_stored=True,
        names=("backbone_weights",),
    ),
    Case(
        "padim backbone_weights=lite0",
        ["run", "-m", "padim", *SYNTH[2:], "--method-opt", "backbone_weights=lite0"],
        no_run_stored=True,
        names=("backbone_weights",),
    ),
    # item 5: internal errors
    Case("run huge seed", ["run", *SYNTH, "--seed", str(2**63)], names=("seed",)),
    Case("bench huge --seeds", ["bench", "{SUITE}", "--seeds", str(2**63)], _suite_only),
    Case("bench suite huge seed", ["bench", "{SUITE}"], _huge_seed_suite, names=("seed",)),
    # (--bootstrap 100000000 is left out: before its range was checked it took all memory)
    Case(
        "leaderboard --bootstrap 200001",
        ["leaderboard", "--bootstrap", "200001"],
        finished_run=True,
    ),
    Case(
        "leaderboard --bootstrap 1e20",
        ["leaderboard", "--bootstrap", str(10**20)],
        finished_run=True,
    ),
    Case("bench --jobs huge", ["bench", "{SUITE}", "--jobs", str(2**70)], _suite_only),
    Case("folder dangling symlink", ["run", *FOLDER], _dangling, names=("gone.png",)),
    Case("bench --threads huge", ["bench", "{SUITE}", "--threads", str(2**40)], _suite_only),
    # item 6: wrong exit 0 and messages without the culprit
    Case("run --device ''", ["run", *SYNTH, "--device", ""], no_run_stored=True),
    # a finished run of the same configuration used to answer with the stored result, exit 0
    Case(
        "run --device cuda:-1, finished", ["run", *SYNTH, "--device", "cuda:-1"], finished_run=True
    ),
    Case(
        "run --device cuda:99, finished", ["run", *SYNTH, "--device", "cuda:99"], finished_run=True
    ),
    Case("--home ''", ["--home", "", "list"]),
    Case("folder without abnormal", ["run", *FOLDER], _no_abnormal, names=("abnormal",)),
    Case("folder masks of the wrong size", ["run", *FOLDER], _bad_masks, names=("mask",)),
    Case(
        "synthetic huge n_train",
        ["run", "-m", "meandiff", "-d", "synthetic", "--dataset-opt", f"n_train={10**12}"],
        names=("n_train",),
    ),
    Case(
        "folder huge image_size",
        ["run", *FOLDER, "--dataset-opt", f"image_size={10**7}"],
        _plain_folder,
        names=("image_size",),
    ),
    Case(
        "synthetic n_val=0",
        ["run", *SYNTH, "--dataset-opt", "n_val=0"],
        names=("n_val",),
        no_run_stored=True,
    ),
    Case(
        "predict NaN TIFF",
        ["predict", "--run", "{RUN}", "{IMAGE}"],
        _nan_tiff,
        finished_run=True,
        names=("nan.tif",),
    ),
    Case("run --threads huge", ["run", *SYNTH, "--threads", str(2**40)], names=("--threads",)),
    # item 7: one line, not an essay
    Case(
        "predict garbage model.pt",
        ["predict", "--run", "{RUN}", "{IMAGE}"],
        _garbage_model,
        finished_run=True,
        names=("model.pt",),
    ),
    Case("folder empty normal/", ["run", *FOLDER], _empty_normal, names=("normal",)),
    Case("folder all-corrupt normal/", ["run", *FOLDER], _corrupt_normal, names=("normal",)),
    # item 8: broken plugins
    Case(
        "list with a function plugin",
        ["list"],
        plugins=True,
        expect_error=False,
        names=("function",),
    ),
    Case(
        "plugin sys.exit(3) in fit",
        ["run", "-m", "exiting", *SYNTH[2:]],
        plugins=True,
        names=("exiting",),
    ),
    Case(
        "plugin loss NaN",
        ["run", "-m", "diverging", *SYNTH[2:]],
        plugins=True,
        names=("diverging", "nan"),
    ),
    Case(
        "plugin predict returns dict",
        ["run", "-m", "dictpredict", *SYNTH[2:]],
        plugins=True,
        names=("Predictions",),
    ),
]


def _plugins(root: Path) -> Path:
    site = root / "site"
    info = site / "anobench_misbehaving-0.0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: anobench-misbehaving\nVersion: 0.0.1\n"
    )
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    (site / "anobench_misbehaving.py").write_text(MISBEHAVING)
    return site


def _runs(home: Path) -> int:
    db = home / "store.sqlite"
    if not db.exists():
        return 0
    with sqlite3.connect(db) as con:
        return con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]


def classify(case: Case, rc: int, out: str, err: str, stored: int) -> str:
    text = out + err
    if "Traceback (most recent call last)" in text:
        return "traceback"
    if rc == 1 and "internal error" in text:
        return "internal"
    if not case.expect_error:
        missing = [n for n in case.names if n not in text]
        return "ok" if rc == 0 and not missing else "unclear"
    if rc == 0:
        return "exit0"
    if case.no_run_stored and stored:
        return "stored"
    lines = [line for line in err.splitlines() if line.strip()]
    usage = rc == 2 and any(line.startswith("Error: ") for line in lines)
    one_line = (
        len(lines) >= 1
        and lines[-1].startswith("error: ")
        and (len([line for line in lines if not line.startswith(("warning:", "  "))]) == 1)
    )
    missing = [n for n in case.names if n not in text]
    if (usage or one_line) and not missing:
        return "ok"
    return "unclear"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", default="", help="only cases whose name contains this")
    parser.add_argument("-v", action="store_true", help="print every case's output")
    opts = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="anobench-corpus-"))
    site = _plugins(work)
    env = dict(os.environ, ANOBENCH_THREADS="1", COLUMNS="120")
    env.pop("ANOBENCH_HOME", None)
    base = work / "finished-home"
    cmd = [sys.executable, "-m", "anobench.cli"]
    subprocess.run(
        [*cmd, "--home", str(base), "-q", "run", *SYNTH], env=env, check=True, capture_output=True
    )
    run_id = next((base / "runs").iterdir()).name
    counts: Counter[str] = Counter()
    try:
        for i, case in enumerate(c for c in CASES if opts.k in c.name):
            folder = work / f"case{i:02d}"
            folder.mkdir()
            home = folder / "home"
            if case.finished_run:
                shutil.copytree(base, home)
            values = {"RUN": run_id, "HOME": str(home)}
            if case.setup:
                values.update(case.setup(folder))
            args = [a.format(**values) for a in case.args]
            case_env = dict(env)
            if case.plugins:
                case_env["PYTHONPATH"] = os.pathsep.join(
                    p for p in (str(site), env.get("PYTHONPATH", "")) if p
                )
            home_args = [] if args[0] == "--home" else ["--home", str(home)]
            try:
                proc = subprocess.run(
                    [*cmd, "-q", *home_args, *args],
                    env=case_env,
                    capture_output=True,
                    text=True,
                    timeout=300,
                    cwd=folder,
                )
                rc, out, err = proc.returncode, proc.stdout, proc.stderr
            except subprocess.TimeoutExpired:
                rc, out, err = -1, "", "timed out"
            verdict = classify(case, rc, out, err, _runs(home))
            counts[verdict] += 1
            last = (err.strip().splitlines() or out.strip().splitlines() or [""])[-1][:150]
            print(f"{verdict:9s} rc={rc:<4d} {case.name}: {last}", flush=True)
            if opts.v:
                print(out, err, sep="\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    total = sum(counts.values())
    print(
        f"\n{total} cases: {counts['ok']} ok, {counts['internal']} internal errors,"
        f" {counts['traceback']} tracebacks, {counts['exit0']} exit-0 errors,"
        f" {counts['unclear']} unclear or without the culprit, {counts['stored']} stored as runs"
    )


if __name__ == "__main__":
    main()
