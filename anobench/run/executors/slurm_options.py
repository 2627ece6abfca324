"""What each Slurm job of a suite asks for: partition, account, time, CPUs, memory, GPUs, flags.

Set in the suite's ``[slurm]`` table or on the command line (``bench --partition ...``, which
wins). Checked when the suite is read, so a typo is one line naming the key, before anything is
submitted. Imports nothing heavy: ``load_suite`` uses it even when the suite runs locally.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from ...api.errors import ConfigError

#: the keys of a suite's [slurm] table and what each holds
KEYS = {
    "partition": "partition to submit to, e.g. gpu",
    "account": "account charged for the jobs",
    "time": "time limit of one job: minutes, or [D-]HH:MM:SS as sbatch takes it",
    "cpus": "CPUs per run (also the run's threads)",
    "mem": "memory per run as sbatch takes it, e.g. 16G",
    "gpus": "GPUs per run (default: 1 where the device is cuda, else 0)",
    "sbatch": 'more sbatch flags, e.g. { qos = "high", constraint = "a100" }',
    "max_requeues": "how often a run may be requeued after a stop signal (default 10)",
}
_TIME = re.compile(r"^(\d+|(\d+-)?\d{1,2}(:\d{2}){1,2}|\d+-\d{1,2})$")
_MEM = re.compile(r"^\d+(\.\d+)?[KMGT]?B?$", re.IGNORECASE)
_FLAG = re.compile(r"^[a-z][a-z0-9-]*$")
#: set by submitit itself; a second value would contradict it
_OWN = {"output", "error", "signal", "open-mode", "array", "job-name", "wrap"}


@dataclass(frozen=True)
class SlurmOptions:
    partition: str | None = None
    account: str | None = None
    time: str | None = None
    cpus: int | None = None
    mem: str | None = None
    gpus: int | None = None
    sbatch: Mapping[str, Any] = field(default_factory=dict)
    max_requeues: int = 10

    def merged(self, other: SlurmOptions) -> SlurmOptions:
        """These options with every value ``other`` sets (flags merged, ``other`` winning)."""
        changes = {
            f.name: getattr(other, f.name)
            for f in fields(self)
            if f.name not in ("sbatch", "max_requeues") and getattr(other, f.name) is not None
        }
        if other.max_requeues != SlurmOptions.max_requeues:
            changes["max_requeues"] = other.max_requeues
        return replace(self, **changes, sbatch={**self.sbatch, **other.sbatch})


def parse(table: Any, where: str) -> SlurmOptions:
    """A suite's ``[slurm]`` table (or the command line's values) as checked options."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: expected a table such as [slurm] with partition = ...")
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key not in KEYS:
            raise ConfigError(f"{where}: unknown key '{key}'; allowed: {', '.join(KEYS)}")
        if value is None:
            continue
        here = f"{where}: {key}"
        if key in ("partition", "account"):
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{here}: expected a name, got {value!r}")
            out[key] = value.strip()
        elif key == "time":
            text = str(value).strip() if isinstance(value, str | int) else ""
            if isinstance(value, bool) or not _TIME.match(text) or text == "0":
                raise ConfigError(
                    f"{here}: expected minutes or [D-]HH:MM:SS, e.g. 120 or 2:00:00, got {value!r}"
                )
            out[key] = text
        elif key in ("cpus", "gpus", "max_requeues"):
            low = 1 if key == "cpus" else 0
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"{here}: expected an integer >= {low}, got {value!r}")
            out[key] = value
        elif key == "mem":
            text = str(value).strip()
            if isinstance(value, bool) or not _MEM.match(text):
                raise ConfigError(f"{here}: expected a size as sbatch takes it, e.g. 16G")
            out[key] = text
        else:
            out[key] = _flags(value, here)
    return SlurmOptions(**out)


def _flags(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f'{where}: expected a table such as {{ qos = "high" }}, got {value!r}')
    out: dict[str, Any] = {}
    for key, flag in value.items():
        name = str(key).lstrip("-").replace("_", "-")
        if not _FLAG.match(name):
            raise ConfigError(f"{where}: '{key}' is not an sbatch flag name")
        if name in _OWN:
            raise ConfigError(f"{where}: '{name}' is set by anobench (logs, signals); remove it")
        if not isinstance(flag, str | int | float) or flag is False:
            raise ConfigError(f"{where}: {key}: expected a string, a number or true")
        out[name] = flag
    return out


def parse_flag(text: str) -> tuple[str, Any]:
    """``--sbatch qos=high`` (or ``--sbatch=--exclusive``) as a (name, value) pair."""
    name, sep, value = text.strip().lstrip("-").partition("=")
    return name, (value if sep else True)
