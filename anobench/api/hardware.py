"""What this machine can do fast: native bf16, usable cores, and the precision ``auto`` means.

Speed defaults must follow the hardware a run lands on, never the machine a profile was tuned
on: bf16 autocast is ~1.9x faster than fp32 on a CPU with AMX-BF16 and ~10x slower on one with
AVX2 only, where every bf16 operation is emulated.
"""

from __future__ import annotations

import math
import os
import platform
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
#: set by executors (and ``--threads``) to fix the threads of the runs in a process
THREADS_VARIABLE = "ANOBENCH_THREADS"
CHANNELS_LAST = ("auto", "on", "off")

#: oneDNN ISA caps (``ONEDNN_MAX_CPU_ISA``) below the first one with native bf16 instructions
_ONEDNN_WITHOUT_BF16 = {
    "SSE41",
    "AVX",
    "AVX2",
    "AVX2_VNNI",
    "AVX2_VNNI_2",
    "AVX512_CORE",
    "AVX512_CORE_VNNI",
}


@dataclass(frozen=True)
class CpuFeatures:
    """The instruction sets that decide CPU speed, as torch sees them."""

    model: str
    avx2: bool
    avx512: bool
    avx512_bf16: bool
    amx_bf16: bool
    #: the kernel set ATen dispatches to (``ATEN_CPU_CAPABILITY`` may cap it)
    aten_capability: str
    #: ``ONEDNN_MAX_CPU_ISA`` where the user capped oneDNN
    onednn_cap: str | None

    @property
    def native_bf16(self) -> bool:
        """bf16 computed in hardware (AMX or AVX512-BF16) and not capped away by the user."""
        if not (self.amx_bf16 or self.avx512_bf16):
            return False
        if self.aten_capability.upper() not in ("AVX512", "AVX512_BF16", "AMX"):
            return False
        return not (self.onednn_cap and self.onednn_cap.upper() in _ONEDNN_WITHOUT_BF16)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "avx2": self.avx2,
            "avx512": self.avx512,
            "avx512_bf16": self.avx512_bf16,
            "amx_bf16": self.amx_bf16,
            "aten_capability": self.aten_capability,
            "onednn_cap": self.onednn_cap,
            "native_bf16": self.native_bf16,
        }


def _query(name: str) -> bool:
    fn = getattr(torch.cpu, name, None)
    try:
        return bool(fn()) if fn is not None else False
    except Exception:
        return False


def cpu_model() -> str:
    """The CPU's marketing name (``model name`` in /proc/cpuinfo where there is one)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@lru_cache(maxsize=1)
def cpu_features() -> CpuFeatures:
    try:
        capability = torch.backends.cpu.get_cpu_capability()
    except Exception:
        capability = "DEFAULT"
    return CpuFeatures(
        model=cpu_model(),
        avx2=_query("_is_avx2_supported"),
        avx512=_query("_is_avx512_supported"),
        avx512_bf16=_query("_is_avx512_bf16_supported"),
        # AMX tiles are what the bf16 matrix units are driven through
        amx_bf16=_query("_is_amx_tile_supported"),
        aten_capability=str(capability),
        onednn_cap=os.environ.get("ONEDNN_MAX_CPU_ISA") or None,
    )


def cuda_bf16(device: torch.device) -> bool:
    """Whether a CUDA device runs bf16 at full speed (compute capability 8.0 and newer)."""
    major, _ = torch.cuda.get_device_capability(device)
    return major >= 8


def resolve_precision(requested: str, device: torch.device | str) -> str:
    """``auto`` -> the fastest precision the device computes natively; others pass through.

    CPU: bf16 only with AMX-BF16 or AVX512-BF16, else fp32. CUDA: bf16 from compute capability
    8.0, else fp16 (which needs gradient scaling, see :meth:`Precision.grad_scaler`).
    """
    requested = (requested or "auto").lower()
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {requested!r}")
    if requested != "auto":
        return requested
    device = torch.device(device)
    if device.type == "cuda":
        return "bf16" if cuda_bf16(device) else "fp16"
    if device.type == "cpu":
        return "bf16" if cpu_features().native_bf16 else "fp32"
    return "fp32"


def resolve_channels_last(
    requested: str | bool, precision: str, device: torch.device | str
) -> bool:
    """``auto`` -> channels-last where it pays: on CPUs (oneDNN's convolution, pooling and
    upsampling kernels prefer it: DeScarGAN's fp32 step 1.11x faster with it on an AVX2-capped
    Xeon, its bf16 step on AMX too) and on CUDA with bf16/fp16 (tensor cores); CUDA fp32 keeps
    the contiguous layout."""
    if isinstance(requested, bool):
        return requested
    requested = (requested or "auto").lower()
    if requested in ("on", "true", "1", "yes"):
        return True
    if requested in ("off", "false", "0", "no"):
        return False
    if requested != "auto":
        raise ValueError(f"channels_last must be auto, on or off, got {requested!r}")
    device = torch.device(device)
    if device.type == "cpu":
        return True
    return resolve_precision(precision, device) in ("bf16", "fp16")


@dataclass(frozen=True)
class Precision:
    """A resolved precision and memory format for one device."""

    name: str
    channels_last: bool
    device_type: str = "cpu"

    @classmethod
    def resolve(
        cls, precision: str = "auto", channels_last: str | bool = "auto", device: Any = "cpu"
    ) -> Precision:
        device = torch.device(device)
        name = resolve_precision(precision, device)
        return cls(name, resolve_channels_last(channels_last, name, device), device.type)

    @property
    def dtype(self) -> torch.dtype:
        return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[self.name]

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def autocast(self) -> AbstractContextManager:
        """Autocast to this precision, or nothing for fp32."""
        if self.name == "fp32":
            return nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=self.dtype)

    def grad_scaler(self) -> torch.amp.GradScaler | None:
        """A gradient scaler where the precision needs one (fp16), else ``None``."""
        if self.name != "fp16":
            return None
        return torch.amp.GradScaler(self.device_type)

    def to_dict(self) -> dict[str, Any]:
        return {"precision": self.name, "channels_last": self.channels_last}


def autocast(device: torch.device | str, precision: str) -> AbstractContextManager:
    """Autocast for a (possibly ``auto``) precision on ``device``."""
    return Precision.resolve(precision, "off", device).autocast()


# -- cores and threads ---------------------------------------------------------------------------


def _cgroup_quota() -> float | None:
    """CPUs granted by a cgroup CPU quota (v2 ``cpu.max`` or v1 CFS), or ``None`` if unlimited."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            return int(quota) / int(period)
        return None
    except (OSError, ValueError):
        pass
    try:
        quota = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        return quota / period if quota > 0 else None
    except (OSError, ValueError):
        return None


def available_cores() -> int:
    """The cores this process may actually use: its affinity mask, capped by a cgroup quota."""
    if hasattr(os, "sched_getaffinity"):
        cores = len(os.sched_getaffinity(0))
    else:
        cores = os.cpu_count() or 1
    quota = _cgroup_quota()
    if quota is not None:
        cores = min(cores, math.ceil(quota))
    return max(1, cores)


def _cpu_times(cpus: set[int] | None) -> tuple[float, float] | None:
    """(busy, total) jiffies over ``cpus`` from /proc/stat."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return None
    busy = total = 0.0
    for line in lines:
        head, *rest = line.split()
        if not head.startswith("cpu") or head == "cpu":
            continue
        if cpus is not None and int(head[3:]) not in cpus:
            continue
        values = [float(v) for v in rest[:8]]
        idle = values[3] + values[4]  # idle + iowait
        total += sum(values)
        busy += sum(values) - idle
    return busy, total


def _own_jiffies() -> float:
    """CPU time of this process and its reaped children, in clock ticks."""
    t = os.times()
    return (t.user + t.system + t.children_user + t.children_system) * os.sysconf("SC_CLK_TCK")


def busy_elsewhere(seconds: float = 0.3) -> float | None:
    """Cores kept busy by other processes over a short sample, or ``None`` without /proc."""
    import time

    cpus = set(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    before, own_before = _cpu_times(cpus), _own_jiffies()
    if before is None:
        return None
    time.sleep(seconds)
    after, own_after = _cpu_times(cpus), _own_jiffies()
    if after is None or after[1] <= before[1]:
        return None
    n = len(cpus) if cpus else (os.cpu_count() or 1)
    busy = (after[0] - before[0]) - (own_after - own_before)
    return max(0.0, busy / (after[1] - before[1]) * n)


def choose_threads(requested: int | None = None, busy: float | None = -1.0) -> int:
    """Threads for this run: ``requested``, else ``$ANOBENCH_THREADS``, else the usable cores
    not kept busy by others.

    OpenMP regions wait for their slowest thread; a thread that shares a core with another
    busy process is descheduled for whole time slices, so every small parallel operation waits
    milliseconds and a 2-thread run next to one busy process runs several times slower than a
    1-thread run on the free core. Leaving the busy cores alone avoids that collapse.
    ``busy``: cores kept busy by others, if already measured (default: measure now).
    """
    cores = available_cores()
    if requested is None and os.environ.get(THREADS_VARIABLE, "").strip():
        try:
            requested = int(os.environ[THREADS_VARIABLE])
        except ValueError:
            raise ValueError(
                f"{THREADS_VARIABLE}={os.environ[THREADS_VARIABLE]!r}: expected a number of threads"
            ) from None
    if requested is not None:
        return max(1, int(requested))
    if busy is not None and busy < 0:
        busy = busy_elsewhere()
    if busy is None:
        return cores
    return max(1, min(cores, cores - math.floor(busy + 0.35)))


_THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def thread_settings() -> Any:
    """A function that puts torch's threads and the thread variables back as they are now."""
    threads = torch.get_num_threads()
    saved = {name: os.environ.get(name) for name in _THREAD_ENV}

    def restore() -> None:
        torch.set_num_threads(threads)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    return restore


def set_threads(threads: int) -> None:
    """Use ``threads`` intra-op threads in torch (and in pools started after this call)."""
    import contextlib

    for name in _THREAD_ENV:
        os.environ[name] = str(threads)
    torch.set_num_threads(threads)
    # possible only before the first parallel work; a pool that already started keeps its size
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(threads)


def resolve_options(
    options: Any, values: dict[str, Any], device: torch.device | str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Replace ``auto`` in a plugin's hardware options by what ``device`` does best.

    ``options``: the plugin's ``OptionSet``. Returns the options to construct the plugin with
    and the resolved hardware values (for the run's provenance).
    """
    device = torch.device(device)
    out = dict(values)
    resolved: dict[str, Any] = {}
    declared = options.by_name()
    for opt in declared.values():
        if opt.hardware == "precision" and opt.name in out:
            out[opt.name] = resolve_precision(out[opt.name], device)
            resolved[opt.name] = out[opt.name]
    for opt in declared.values():
        if opt.hardware == "channels_last" and opt.name in out:
            precision = out.get(opt.pairs or "precision", "fp32")
            on = resolve_channels_last(out[opt.name], precision, device)
            out[opt.name] = "on" if on else "off"
            resolved[opt.name] = out[opt.name]
    return out, resolved


class ThreadGovernor:
    """Follows the machine during a run whose threads were chosen automatically.

    Another CPU-bound job that starts after a run would otherwise make every OpenMP region of
    the run wait for a thread that shares its core (the collapse ``choose_threads`` avoids at
    the start). ``tick`` is called once per training step (by ``RunContext.log``); every
    ``interval`` seconds it measures how many cores other processes kept busy since the last
    look and moves torch's thread count to the free cores, after two looks that agree. The
    changes are recorded (a run that changed threads is not bit-reproducible; ``--threads N``
    fixes the count).
    """

    def __init__(self, threads: int, interval: float = 15.0) -> None:
        import time

        self._clock = time.monotonic
        self.threads = threads
        self.interval = interval
        self.cores = available_cores()
        self.changes: list[dict[str, Any]] = []
        self._cpus = set(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        self._last = self._sample()
        self._pending: int | None = None

    def _sample(self) -> tuple[float, tuple[float, float] | None, float]:
        return self._clock(), _cpu_times(self._cpus), _own_jiffies()

    def tick(self, step: int) -> None:
        if self._clock() - self._last[0] < self.interval:
            return
        now = self._sample()
        (_, before, own_before), (_, after, own_after) = self._last, now
        self._last = now
        if before is None or after is None or after[1] <= before[1]:
            return
        n = len(self._cpus) if self._cpus else (os.cpu_count() or 1)
        busy = max(0.0, (after[0] - before[0]) - (own_after - own_before))
        busy = busy / (after[1] - before[1]) * n
        target = max(1, min(self.cores, self.cores - math.floor(busy + 0.35)))
        if target == self.threads:
            self._pending = None
            return
        if self._pending != target:
            self._pending = target  # one more look before acting: short bursts pass
            return
        self._pending = None
        self.threads = target
        torch.set_num_threads(target)
        self.changes.append(
            {"step": int(step), "threads": target, "busy_elsewhere": round(busy, 2)}
        )
