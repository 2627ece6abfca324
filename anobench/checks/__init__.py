"""The plugin contract as one check per rule, so that every broken rule shows at once.

:func:`checks` yields the checks of one plugin class (a method, dataset or metric); each is a
callable that raises ``AssertionError`` naming the plugin and the rule. The checks of a plugin
share the expensive work (a fit, the loaded splits): the first check that needs it does it once.
``anobench.testing`` turns them into pytest items (``parametrize_with_checks``) or runs them all
(``check_method``, ``check_dataset``, ``check_metric``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..api.interfaces import Dataset, Method, Metric


@dataclass(frozen=True)
class Check:
    """One rule of the contract, bound to one plugin class."""

    plugin: type
    kind: str
    rule: str
    run: Callable[[], None]

    @property
    def name(self) -> str:
        return str(getattr(self.plugin, "name", "") or self.plugin.__name__)

    @property
    def id(self) -> str:
        """The pytest id: the plugin and the rule, e.g. ``method:vae-save-load``."""
        return f"{self.kind}:{self.name}-{self.rule.replace(' ', '-')}"

    def __call__(self) -> None:
        self.run()

    def __repr__(self) -> str:
        return self.id


class Shared:
    """Work done once for the checks of one plugin (a fit, the loaded data), or its failure."""

    def __init__(self) -> None:
        self._done: dict[str, Any] = {}

    def get(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self._done:
            try:
                self._done[key] = (True, make())
            except BaseException as exc:
                if not isinstance(exc, Exception):
                    raise
                self._done[key] = (False, exc)
        ok, value = self._done[key]
        if not ok:
            if isinstance(value, AssertionError):
                raise AssertionError(str(value)) from value
            raise AssertionError(f"{key} failed: {value!r}") from value
        return value

    def folder(self, workdir: Path | str | None) -> Path:
        """``workdir``, or a temporary folder removed once the checks let go of the shared work
        (or at exit)."""
        if workdir is not None:
            return Path(workdir)
        made = self.get("a work folder", lambda: tempfile.TemporaryDirectory(prefix="anobench-"))
        return Path(made.name)

    def clear(self) -> None:
        self._done.clear()


def kind_of(cls: Any) -> str:
    for kind, base in (("method", Method), ("dataset", Dataset), ("metric", Metric)):
        if isinstance(cls, type) and issubclass(cls, base):
            return kind
    return "plugin"


def checks(cls: type, **settings: Any) -> Iterator[Check]:
    """The checks of a method, dataset or metric class, in the order they build on each other.

    ``settings`` include the toy-data and context factories (``toy_split``, ``make_context``),
    which ``anobench.testing`` passes in.

    The other ``settings`` go to the kind's checks: ``options``, ``workdir``, ``seed`` (all
    kinds but metrics take ``options`` and ``workdir``), ``size`` and ``atol`` (methods),
    ``profile`` (datasets).
    """
    kind = kind_of(cls)
    if kind == "method":
        from .method import method_checks

        yield from method_checks(cls, **settings)
    elif kind == "dataset":
        from .dataset import dataset_checks

        yield from dataset_checks(cls, **settings)
    elif kind == "metric":
        from .metric import metric_checks

        yield from metric_checks(cls, **settings)
    else:
        settings.clear()

        def refuse() -> None:
            raise AssertionError(
                f"{cls!r} is no plugin: subclass anobench.Method, anobench.Dataset or"
                " anobench.Metric"
            )

        yield Check(cls if isinstance(cls, type) else type(cls), kind, "declaration", refuse)


def run_checks(
    all_checks: list[Check], collect: bool = False, expected: Mapping[str, str] | None = None
) -> list[str]:
    """Run ``all_checks``; returns the rules that passed.

    Stops at the first failure unless ``collect``, which runs them all and raises one
    ``AssertionError`` listing every broken rule. ``expected``: rule -> reason of the failures
    declared expected (they are neither raised nor counted as passed).
    """
    expected = dict(expected or {})
    passed: list[str] = []
    broken: list[str] = []
    for check in all_checks:
        try:
            check()
        except AssertionError as exc:
            if check.rule in expected:
                continue
            if not collect:
                raise
            broken.append(f"[{check.rule}] {exc}")
        else:
            passed.append(check.rule)
    if broken:
        raise AssertionError(f"{len(broken)} broken rule(s):\n" + "\n".join(broken))
    return passed
