"""What a run on a CUDA device sets up and records.

Set up: the card checked against the kernels the torch build carries, the run's device made
the current one (``cuda:N``), TF32 off unless the run's precision is ``tf32`` (so ``fp32``
means IEEE fp32 on every card). Recorded: the card, its compute capability, the driver, CUDA
and cuDNN versions, the TF32 switches and the deterministic mode, and the operations that had
no deterministic kernel (such a run is not bit-reproducible).
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import warnings
from collections.abc import Iterator, MutableMapping
from functools import lru_cache
from typing import Any

import torch

from ..api.errors import ConfigError
from ..api.seeding import deterministic_mode

#: the words of torch's warning for an operation without a deterministic implementation
_NONDETERMINISTIC = "does not have a deterministic implementation"


def _arch(text: str) -> tuple[str, int, int] | None:
    """``sm_86`` -> ``("sm", 8, 6)``; ``compute_90`` (PTX) -> ``("compute", 9, 0)``."""
    match = re.match(r"^(sm|compute)_(\d+)(\d)[a-z]*$", text)
    return (match[1], int(match[2]), int(match[3])) if match else None


def supported(capability: tuple[int, int], arch_list: list[str]) -> bool:
    """Whether a card of ``capability`` runs a build with kernels for ``arch_list``: a binary
    for the same major version and a lower or equal minor one, or PTX for an older card."""
    if not arch_list:  # a build that does not say: let the first kernel tell
        return True
    major, minor = capability
    for text in arch_list:
        arch = _arch(text)
        if arch is None:
            continue
        kind, a, b = arch
        if kind == "sm" and a == major and b <= minor:
            return True
        if kind == "compute" and (a, b) <= (major, minor):
            return True
    return False


def check_architecture(device: torch.device, option: str = "--device") -> None:
    """One clear line instead of "no kernel image is available" at the first kernel."""
    capability = tuple(torch.cuda.get_device_capability(device))
    built = list(torch.cuda.get_arch_list())
    if supported(capability, built):
        return
    major, minor = capability
    raise ConfigError(
        f"{option} {device}: {torch.cuda.get_device_name(device)} (compute capability"
        f" {major}.{minor}, sm_{major}{minor}) is not supported by this torch {torch.__version__}"
        f" build (it has kernels for {', '.join(built)}); install a torch build for this card,"
        " or use --device cpu"
    )


def tf32_enabled() -> dict[str, bool]:
    """Whether fp32 matrix products and cuDNN convolutions may use TF32 tensor cores."""
    try:
        matmul = bool(torch.backends.cuda.matmul.allow_tf32)
        cudnn = bool(torch.backends.cudnn.allow_tf32)
    except RuntimeError:  # someone set conv and RNN apart with torch's newer per-op switches
        matmul = torch.backends.cuda.matmul.fp32_precision == "tf32"
        cudnn = torch.backends.cudnn.conv.fp32_precision == "tf32"
    return {"matmul": matmul, "cudnn": cudnn}


def set_tf32(enabled: bool) -> None:
    """Allow or forbid TF32 for fp32 work (torch allows it in cuDNN convolutions by default).

    Through the switches every library reads (``allow_tf32``): they set cuDNN's convolution and
    RNN flags together, where torch's newer per-op switches set apart make it refuse to read
    ``torch.backends.cudnn.allow_tf32`` at all."""
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled


def configure(device: torch.device, precision: str | None) -> dict[str, Any]:
    """Set a run's device up (see the module); returns the facts for its provenance."""
    # process-wide switches: a worker that ran a tf32 run before must not pass it on
    set_tf32(device.type == "cuda" and precision == "tf32")
    facts: dict[str, Any] = {"deterministic": deterministic_mode()}
    if device.type != "cuda":
        return facts
    check_architecture(device)
    if device.index is not None:
        # kernels, cuBLAS handles and autocast default to the current device
        torch.cuda.set_device(device)
    facts["cuda"] = describe(device)
    return facts


def describe(device: torch.device) -> dict[str, Any]:
    """The CUDA facts a result depends on, for a run's provenance."""
    major, minor = torch.cuda.get_device_capability(device)
    return {
        "name": torch.cuda.get_device_name(device),
        "capability": f"{major}.{minor}",
        "driver": driver_version(),
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "tf32": tf32_enabled(),
        "deterministic": deterministic_mode(),
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
    }


@lru_cache(maxsize=1)
def driver_version() -> str | None:
    """The NVIDIA driver's version (NVML where installed, else nvidia-smi), or ``None``."""
    with contextlib.suppress(Exception):
        import pynvml  # type: ignore[import-not-found]

        pynvml.nvmlInit()
        try:
            version = pynvml.nvmlSystemGetDriverVersion()
        finally:
            pynvml.nvmlShutdown()
        return version.decode() if isinstance(version, bytes) else str(version)
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    return lines[0] if lines else None


@contextlib.contextmanager
def nondeterministic_ops(provenance: MutableMapping[str, Any]) -> Iterator[None]:
    """Record in ``provenance["nondeterministic_ops"]`` the operations that warned they have no
    deterministic kernel (each once; they are still shown once), so a result that is not
    bit-reproducible says so."""
    seen: list[str] = []
    show = warnings.showwarning

    def record(message, category, filename, lineno, file=None, line=None):
        text = str(message)
        if _NONDETERMINISTIC in text:
            op = text.split(_NONDETERMINISTIC)[0].strip() or text[:120]
            if op in seen:
                return
            seen.append(op)
        show(message, category, filename, lineno, file, line)

    with warnings.catch_warnings():
        warnings.showwarning = record
        # every occurrence reaches ``record`` (which shows each operation once)
        warnings.filterwarnings("always", message=f".*{_NONDETERMINISTIC}")
        try:
            yield
        finally:
            if seen:
                provenance["nondeterministic_ops"] = seen
