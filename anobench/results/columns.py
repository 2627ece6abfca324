"""Which metrics a narrow (terminal) leaderboard shows, and the short headers it gives them.

A dataset declares its key metrics (``Dataset.key_metrics``) and a metric its short name
(``Metric.short_name``); :class:`Declared` carries what the installed plugins say, looked up by
the CLI (this layer loads no plugin). Runs whose plugins are gone get the defaults below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from ..api.interfaces import SHORT_NAME_MAX

#: key metrics of a dataset that declares none, after its primary metric (where the runs have them)
DEFAULT_KEY_METRICS = ("image_auroc", "pixel_auroc")
#: words a derived short name writes in capitals
ACRONYMS = frozenset(
    {"ap", "auc", "aupro", "auroc", "f1", "fpr", "iou", "mae", "mse", "pro", "tpr"}
)
#: the longest derived short name, as long as a declared one may be
SHORT_MAX = SHORT_NAME_MAX


def _none(name: str) -> None:
    return None


@dataclass(frozen=True)
class Declared:
    """What installed plugins declare for display; a lookup returns ``None`` for unknown names."""

    #: dataset name -> its ``key_metrics`` (``None`` or empty: the default)
    key_metrics: Callable[[str], Sequence[str] | None] = _none
    #: metric name -> its ``short_name`` (``None`` or empty: derived from the name)
    short_name: Callable[[str], str | None] = _none


def key_metrics(declared: Sequence[str] | None, metrics: Sequence[str], primary: str) -> list[str]:
    """The primary metric, then the declared key metrics (or the default), those the table has."""
    wanted = [primary, *(declared or DEFAULT_KEY_METRICS)]
    return [m for m in dict.fromkeys(wanted) if m in metrics]


def derived_short_name(name: str) -> str:
    """``image_f1_score`` -> ``iF1Score``: the level as one letter, acronyms in capitals; words
    cut to three letters when that is too long (``pAUROCPerIma``); else the name itself."""
    words = [w for w in name.split("_") if w]
    prefix = ""
    if len(words) > 1 and words[0] in ("image", "pixel"):
        prefix, words = words[0][0], words[1:]
    for cut in (None, 3):
        text = prefix + "".join(
            w.upper() if w.lower() in ACRONYMS else w[:cut].capitalize() for w in words
        )
        if len(text) <= SHORT_MAX:
            return text
    return name


def short_names(metrics: Iterable[str], declared: Declared) -> dict[str, str]:
    """Each metric's short header; metrics whose short names collide keep their full names."""
    out = {}
    for name in metrics:
        given = declared.short_name(name)
        out[name] = given.strip() if isinstance(given, str) and given.strip() else ""
        out[name] = out[name] or derived_short_name(name)
    taken: dict[str, int] = {}
    for short in out.values():
        taken[short] = taken.get(short, 0) + 1
    return {name: short if taken[short] == 1 else name for name, short in out.items()}
