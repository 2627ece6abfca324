"""``anobench doctor``: what decides speed and reproducibility on this machine, in one place.

Read-only: the store is opened without write access and never created.
"""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import os
import platform
import sqlite3
import sys
from pathlib import Path
from typing import Any

from ..api.home import store_path
from ..api.records import RunStatus
from ..api.version import __version__

#: DICOM pixel-data decoders pydicom can use for compressed transfer syntaxes
DICOM_DECODERS = ("pylibjpeg", "gdcm", "PIL")
#: environment variables that change threads, kernels or the home
ENVIRONMENT = (
    "ANOBENCH_HOME",
    "ANOBENCH_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "ATEN_CPU_CAPABILITY",
    "ONEDNN_MAX_CPU_ISA",
    "OPENBLAS_CORETYPE",
    "CUDA_VISIBLE_DEVICES",
)


def _version(package: str) -> str | None:
    try:
        return md.version(package)
    except md.PackageNotFoundError:
        return None


def extras() -> dict[str, dict[str, str | None]]:
    """Each optional extra of anobench (from its own metadata) -> its packages' versions."""
    import re

    try:
        requires = md.requires("anobench") or []
    except md.PackageNotFoundError:
        return {}
    out: dict[str, dict[str, str | None]] = {}
    for line in requires:
        found = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", line)
        if not found:
            continue
        package = re.split(r"[\s;<>=!~\[]", line, maxsplit=1)[0]
        out.setdefault(found.group(1), {})[package] = _version(package)
    return out


def _cpu(busy: float | None) -> dict[str, Any]:
    import torch

    from ..api import hardware
    from ..api import threads as cpu_threads

    features = hardware.cpu_features().to_dict()
    return {
        **features,
        "logical_cpus": os.cpu_count(),
        "cores_available": cpu_threads.available_cores(),
        "busy_elsewhere": None if busy is None else round(busy, 2),
        "threads_a_run_would_use": cpu_threads.choose_threads(busy=busy),
        "torch_threads_now": torch.get_num_threads(),
    }


def _devices() -> list[dict[str, Any]]:
    import torch

    from ..api import hardware
    from . import gpu

    def one(device: torch.device) -> dict[str, Any]:
        precision = hardware.Precision.resolve("auto", "auto", device)
        return {"device": str(device), "auto": precision.to_dict()}

    out = [{**one(torch.device("cpu")), "name": hardware.cpu_model()}]
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            out.append(
                {
                    **one(torch.device("cuda", index)),
                    "name": props.name,
                    "capability": f"{props.major}.{props.minor}",
                    "memory_gib": round(props.total_memory / 2**30, 1),
                    # a card the build has no kernels for fails at its first kernel
                    "in_torch_build": gpu.supported(
                        (props.major, props.minor), torch.cuda.get_arch_list()
                    ),
                }
            )
    return out


def _store(home: Path) -> dict[str, Any]:
    path = store_path(home)
    info: dict[str, Any] = {"path": str(path), "exists": path.exists()}
    if not path.exists():
        return info
    info["bytes"] = path.stat().st_size
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            info["integrity"] = "; ".join(r[0] for r in db.execute("PRAGMA integrity_check"))
            info["schema_version"] = db.execute(
                "SELECT MAX(version) FROM schema_version"
            ).fetchone()[0]
            info["runs"] = dict(db.execute("SELECT status, COUNT(*) FROM runs GROUP BY status"))
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        info["integrity"] = f"unreadable: {exc}"
    return info


def facts(home: Path) -> dict[str, Any]:
    """Everything ``doctor`` reports, as plain data."""
    import numpy as np
    import torch

    from ..api import threads as cpu_threads

    busy = cpu_threads.busy_elsewhere()
    decoders = {name: importlib.util.find_spec(name) is not None for name in DICOM_DECODERS}
    return {
        "versions": {
            "anobench": __version__,
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "numpy": np.__version__,
            "platform": platform.platform(),
        },
        "cpu": _cpu(busy),
        "devices": _devices(),
        "extras": extras(),
        "dicom_decoders": decoders,
        "environment": {name: os.environ[name] for name in ENVIRONMENT if name in os.environ},
        "home": {"path": str(home), "exists": home.exists(), "store": _store(home)},
        "advice": advice_for(home, busy),
    }


def advice_for(home: Path, busy: float | None) -> list[str]:
    from ..api import hardware
    from ..api import threads as cpu_threads

    out = []
    cpu = hardware.cpu_features()
    if not cpu.native_bf16:
        out.append(
            "this CPU has no native bf16 (or it is capped): precision=auto trains in fp32 here;"
            " forcing bf16 would be several times slower"
        )
    cores = cpu_threads.available_cores()
    if busy is not None and busy >= 0.65:
        out.append(
            f"other processes keep {busy:.1f} of {cores} core(s) busy: a run started now uses"
            f" {cpu_threads.choose_threads(busy=busy)} thread(s), slower than on an idle machine"
        )
    store = _store(home)
    if store.get("exists") and store.get("integrity") != "ok":
        out.append(
            f"the store {store['path']} is damaged ({store.get('integrity')}): copy it aside and"
            " rebuild it with sqlite3's '.recover', or start a new home"
        )
    running = (store.get("runs") or {}).get(RunStatus.RUNNING.value)
    if running:
        out.append(
            f"{running} run(s) are marked running; 'anobench show' tells which of them lost their"
            " process (shown as interrupted)"
        )
    return out


def render_text(data: dict[str, Any]) -> str:
    """The human-readable report: one section per topic, one fact a line."""
    cpu = data["cpu"]
    v = data["versions"]
    flags = ", ".join(k for k in ("avx2", "avx512", "avx512_bf16", "amx_bf16") if cpu.get(k))
    lines = [
        "anobench doctor",
        "",
        "CPU",
        f"  model             {cpu['model']}",
        f"  instruction sets  {flags or 'none of avx2/avx512/avx512_bf16/amx_bf16'}",
        f"  torch kernels     {cpu['aten_capability']}"
        + (f" (oneDNN capped at {cpu['onednn_cap']})" if cpu.get("onednn_cap") else ""),
        f"  native bf16       {'yes' if cpu['native_bf16'] else 'no'}",
        f"  cores             {cpu['cores_available']} usable of {cpu['logical_cpus']} logical",
        f"  busy elsewhere    {cpu['busy_elsewhere']} core(s)",
        f"  threads per run   {cpu['threads_a_run_would_use']} (now; --threads N fixes it)",
        "",
        "precision=auto resolves to",
    ]
    for d in data["devices"]:
        auto = d["auto"]
        layout = "channels-last" if auto["channels_last"] else "contiguous"
        extra = (
            f", capability {d['capability']}, {d['memory_gib']} GiB" if "capability" in d else ""
        )
        if d.get("in_torch_build") is False:
            extra += ", NOT supported by this torch build: use --device cpu or another build"
        lines.append(f"  {d['device']:<17} {auto['precision']}, {layout} ({d['name']}{extra})")
    lines += [
        "",
        "versions",
        f"  anobench {v['anobench']}, torch {v['torch']}, numpy {v['numpy']}, Python {v['python']}",
        f"  {v['platform']}",
        "",
        "optional extras",
    ]
    for extra, packages in data["extras"].items():
        missing = [p for p, v in packages.items() if v is None]
        if missing:
            state = f'missing {", ".join(missing)} (pip install "anobench[{extra}]")'
        else:
            state = "installed (" + ", ".join(f"{p} {v}" for p, v in packages.items()) + ")"
        lines.append(f"  {extra:<17} {state}")
    decoders = [n for n, ok in data["dicom_decoders"].items() if ok]
    lines.append(f"  DICOM decoders    {', '.join(decoders) or 'none'}")
    if data["environment"]:
        lines += ["", "environment"]
        lines += [f"  {k}={v}" for k, v in data["environment"].items()]
    home = data["home"]
    store = home["store"]
    lines += ["", "home", f"  path              {home['path']}"]
    if not store["exists"]:
        lines.append("  store             none yet (created by the first 'anobench run')")
    else:
        runs = ", ".join(f"{n} {s}" for s, n in sorted(store.get("runs", {}).items())) or "none"
        lines += [
            f"  store             {store['path']} ({store['bytes']:,} bytes)",
            f"  schema version    {store.get('schema_version')}",
            f"  integrity         {store.get('integrity')}",
            f"  runs              {runs}",
        ]
    if data["advice"]:
        lines += ["", "advice"]
        lines += [f"  - {a}" for a in data["advice"]]
    return "\n".join(lines) + "\n"
