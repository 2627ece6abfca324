"""What this machine can do fast: native bf16, usable cores, and the precision ``auto`` means.

Speed defaults must follow the hardware a run lands on, never the machine a profile was tuned
on: bf16 autocast is ~1.9x faster than fp32 on a CPU with AMX-BF16 and ~10x slower on one with
AVX2 only, where every bf16 operation is emulated.
"""

from __future__ import annotations

import os
import platform
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: importing this module stays fast
    import torch

PRECISIONS = ("auto", "fp32", "bf16", "fp16", "tf32")
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
    import torch

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
    import torch

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
    import torch

    major, _ = torch.cuda.get_device_capability(device)
    return major >= 8


def resolve_precision(requested: str, device: torch.device | str) -> str:
    """``auto`` -> the fastest precision the device computes natively; others pass through.

    CPU: bf16 only with AMX-BF16 or AVX512-BF16, else fp32. CUDA: bf16 from compute capability
    8.0, else fp16 (which needs gradient scaling, see :meth:`Precision.grad_scaler`).
    ``tf32`` (never chosen by ``auto``: fp32 means IEEE fp32) is fp32 whose matrix products
    and convolutions use TF32 tensor cores; it resolves to ``fp32`` where there are none (CPUs,
    GPUs before compute capability 8.0), so the recorded precision is what computed.
    """
    import torch

    requested = (requested or "auto").lower()
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {requested!r}")
    device = torch.device(device)
    if requested == "tf32":
        return "tf32" if device.type == "cuda" and cuda_bf16(device) else "fp32"
    if requested != "auto":
        return requested
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
    import torch

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
    return resolve_precision(precision, device) in ("bf16", "fp16", "tf32")


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
        import torch

        device = torch.device(device)
        name = resolve_precision(precision, device)
        return cls(name, resolve_channels_last(channels_last, name, device), device.type)

    @property
    def dtype(self) -> torch.dtype:
        import torch

        dtypes = {"fp32": torch.float32, "tf32": torch.float32, "bf16": torch.bfloat16}
        return dtypes.get(self.name, torch.float16)

    @property
    def memory_format(self) -> torch.memory_format:
        import torch

        return torch.channels_last if self.channels_last else torch.contiguous_format

    def autocast(self) -> AbstractContextManager:
        """Autocast to this precision, or nothing for fp32 (and tf32, which is fp32 data)."""
        import torch

        if self.name in ("fp32", "tf32"):
            return nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=self.dtype)

    def grad_scaler(self) -> torch.amp.GradScaler | None:
        """A gradient scaler where the precision needs one (fp16), else ``None``."""
        import torch

        if self.name != "fp16":
            return None
        return torch.amp.GradScaler(self.device_type)

    def to_dict(self) -> dict[str, Any]:
        return {"precision": self.name, "channels_last": self.channels_last}


def resolve_options(
    options: Any, values: dict[str, Any], device: torch.device | str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Replace ``auto`` in a plugin's hardware options by what ``device`` does best.

    ``options``: the plugin's ``OptionSet``. Returns the options to construct the plugin with
    and the resolved hardware values (for the run's provenance).
    """
    import torch

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
    if options.is_checked(values):
        # auto replaced by one of its option's choices: the set stays valid
        options.remember(out)
    return out, resolved
