"""Typed plugin options: declared once, parsed from the command line, checked on construction."""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Option:
    """One typed option of a dataset or method.

    ``type`` is one of ``int``, ``float``, ``bool``, ``str``; ``choices`` restricts the value;
    ``nullable`` allows ``None`` (written ``none`` on the command line); a ``float`` option
    refuses nan and infinities unless it declares ``finite=False``.
    """

    name: str
    type: type
    default: Any
    help: str = ""
    choices: tuple[Any, ...] | None = None
    nullable: bool = False
    minimum: float | None = None
    #: exclusive upper bound (e.g. a decay that must stay below 1)
    below: float | None = None
    #: ``"precision"`` or ``"channels_last"``: the runner replaces ``auto`` by what the run's
    #: device does best (``anobench.api.hardware``); for channels-last, ``pairs`` names the
    #: precision option it follows
    hardware: str | None = None
    pairs: str | None = None
    #: a float option refuses nan and +-inf unless ``finite=False``
    finite: bool = True

    def parse(self, text: str, owner: str) -> Any:
        """Convert a command-line string to this option's type."""
        if self.nullable and text.strip().lower() in {"none", "null", ""}:
            return None
        try:
            if self.type is bool:
                low = text.strip().lower()
                if low in _TRUE:
                    return True
                if low in _FALSE:
                    return False
                raise ValueError(text)
            value = self.type(text)
        except ValueError:
            raise ConfigError(
                f"{owner}: option '{self.name}' expects {self.type.__name__}, got {text!r}"
                f" (example: {self.name}={self.default!r})"
            ) from None
        self._check_finite(value, owner)
        return value

    def _check_finite(self, value: Any, owner: str) -> None:
        if self.type is float and self.finite and not math.isfinite(value):
            raise ConfigError(
                f"{owner}: option '{self.name}' must be a finite number, got {value!r}"
                f" (example: {self.name}={self.default!r})"
            )

    def check(self, value: Any, owner: str) -> Any:
        """Validate (and lightly coerce) a Python value; returns the stored value."""
        if self.hardware == "channels_last":
            # runs stored before ``auto`` existed hold a bool; the command line may say true
            if isinstance(value, bool):
                value = "on" if value else "off"
            elif isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
                value = "on" if value.strip().lower() in _TRUE else "off"
        if value is None:
            if self.nullable:
                return None
            raise ConfigError(f"{owner}: option '{self.name}' may not be None")
        if isinstance(value, str) and self.type is not str:
            value = self.parse(value, owner)
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if self.type is bool and not isinstance(value, bool):
            raise ConfigError(f"{owner}: option '{self.name}' expects bool, got {value!r}")
        if self.type is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"{owner}: option '{self.name}' expects int, got {value!r}")
        if not isinstance(value, self.type):
            raise ConfigError(
                f"{owner}: option '{self.name}' expects {self.type.__name__}, got {value!r}"
            )
        self._check_finite(value, owner)
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(map(str, self.choices))
            raise ConfigError(
                f"{owner}: option '{self.name}' must be one of {allowed}, got {value!r}"
            )
        if self.minimum is not None and value < self.minimum:
            raise ConfigError(
                f"{owner}: option '{self.name}' must be >= {self.minimum}, got {value!r}"
            )
        if self.below is not None and value >= self.below:
            raise ConfigError(
                f"{owner}: option '{self.name}' must be < {self.below}, got {value!r}"
            )
        return value


#: how many checked option sets an ``OptionSet`` remembers (a run needs a handful)
_REMEMBERED = 256


def _key(values: Mapping[str, Any]) -> tuple | None:
    """An option set as a hashable key (in name order: a stored spec sorts its options);
    ``None`` for a value that has no hash."""
    try:
        key = tuple((k, type(v), v) for k, v in sorted(values.items()))
        hash(key)
    except TypeError:
        return None
    return key


@dataclass(frozen=True)
class OptionSet:
    """The options a plugin declares, in order.

    What it has checked is remembered (``accept``): the options of one run are checked when
    the run is specified, not again by every constructor and label that uses them.
    """

    options: tuple[Option, ...] = field(default_factory=tuple)
    _checked: dict = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)

    def by_name(self) -> dict[str, Option]:
        return {o.name: o for o in self.options}

    def defaults(self) -> dict[str, Any]:
        return {o.name: o.default for o in self.options}

    def unknown(self, key: str, owner: str) -> ConfigError:
        names = list(self.by_name())
        close = difflib.get_close_matches(key, names, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        valid = ", ".join(names) if names else "(none)"
        return ConfigError(f"{owner}: unknown option '{key}'.{hint} Valid options: {valid}")

    def resolve(self, values: Mapping[str, Any], owner: str) -> dict[str, Any]:
        """Defaults, overridden by ``values``; every key checked against its declaration."""
        known = self.by_name()
        out = self.defaults()
        for key, value in values.items():
            if key not in known:
                raise self.unknown(key, owner)
            out[key] = known[key].check(value, owner)
        self._keep(_key(values), out)
        self.remember(out)
        return out

    def accept(self, values: Mapping[str, Any], owner: str) -> dict[str, Any]:
        """``resolve`` that checks each set once: a set already checked (or given before) is
        answered from memory, so a plugin built from options resolved when its run was specified
        is not checked again in every constructor."""
        known = self._checked.get(_key(values))
        if known is not None:
            return dict(known)
        return self.resolve(values, owner)

    def remember(self, values: Mapping[str, Any]) -> None:
        """Record ``values`` (every declared option) as a checked set: only for a set this
        ``OptionSet`` produced or one derived from it by a rule that keeps it valid (the hardware
        resolution of ``auto`` to one of its choices)."""
        key = _key(values)
        if key is not None and [k for k, _, _ in key] == sorted(o.name for o in self.options):
            self._keep(key, dict(values))

    def is_checked(self, values: Mapping[str, Any]) -> bool:
        """Whether ``values`` is a complete set this ``OptionSet`` has checked."""
        key = _key(values)
        return key is not None and key in self._checked

    def _keep(self, key: tuple | None, out: dict[str, Any]) -> None:
        if key is None:
            return
        if len(self._checked) >= _REMEMBERED:
            self._checked.pop(next(iter(self._checked)))
        self._checked[key] = dict(out)

    def parse_pairs(self, pairs: Sequence[str], owner: str, flag: str) -> dict[str, Any]:
        """Parse ``key=value`` strings from the command line into typed values."""
        known = self.by_name()
        out: dict[str, Any] = {}
        for pair in pairs:
            key, sep, text = pair.partition("=")
            key = key.strip()
            if not sep or not key:
                raise ConfigError(f"{flag} {pair!r}: expected key=value, e.g. {flag} seed=3")
            if key not in known:
                raise self.unknown(key, owner)
            out[key] = known[key].parse(text.strip(), owner)
        return out


def precision_option(
    name: str = "precision", default: str = "auto", help: str = "", **kw: Any
) -> Option:
    """A precision option: auto (chosen by the run's hardware), fp32, bf16, fp16 or tf32."""
    text = help or (
        "compute precision: auto (bf16 where the CPU or GPU computes it natively, fp16 on older"
        " GPUs, else fp32), fp32, bf16, fp16 or tf32 (fp32 with TF32 tensor cores on CUDA"
        " compute capability 8.0+, fp32 elsewhere)"
    )
    choices = ("auto", "fp32", "bf16", "fp16", "tf32")
    return Option(name, str, default, text, choices=choices, hardware="precision", **kw)


def channels_last_option(
    name: str = "channels_last", pairs: str = "precision", default: str = "auto", help: str = ""
) -> Option:
    """A memory-format option: auto (channels-last with reduced precision), on or off."""
    text = help or "channels-last memory format: auto (on with bf16/fp16, off with fp32), on, off"
    return Option(
        name,
        str,
        default,
        text,
        choices=("auto", "on", "off"),
        hardware="channels_last",
        pairs=pairs,
    )


def option_set(*opts: Option) -> OptionSet:
    """Declare a plugin's options: ``options = option_set(Option(...), ...)``."""
    names = [o.name for o in opts]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ValueError(f"duplicate option names: {sorted(dupes)}")
    return OptionSet(tuple(opts))
