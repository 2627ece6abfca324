"""The attempts of one configuration and seed, read as one history.

A configuration and seed may be tried several times: a failed run, an interrupted one without a
checkpoint or ``run --rerun`` start a new run row; a resume continues the same row (its earlier
endings are kept in ``provenance["resumes"]``). Every view of the stored runs groups rows by
(configuration, seed, resolved precision), the key the leaderboard counts one run per.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..api.records import RunRecord, RunStatus
from .leaderboard import run_precision

Key = tuple[str, int, str | None]


@dataclass(frozen=True)
class Attempt:
    """One process's go at a history: a run row, or an earlier ending of a resumed row."""

    run_id: str
    status: str
    resumed: bool  # continued the run row's previous attempt from its checkpoint
    error: str | None = None
    ended: str | None = None


@dataclass(frozen=True)
class History:
    runs: tuple[RunRecord, ...]  # oldest first

    @property
    def latest(self) -> RunRecord:
        return self.runs[-1]

    @property
    def kept(self) -> RunRecord:
        """The run the leaderboard uses (the latest finished one), else the latest attempt."""
        finished = [r for r in self.runs if r.status == RunStatus.FINISHED]
        if not finished:
            return self.latest
        return max(finished, key=lambda r: (r.finished or "", r.run_id))

    @property
    def older(self) -> list[RunRecord]:
        """Every run but the kept one: what ``rm --older-attempts`` removes."""
        return [r for r in self.runs if r.run_id != self.kept.run_id]

    def attempts(self) -> list[Attempt]:
        out = []
        for record in self.runs:
            earlier = record.provenance.get("resumes") or []
            for i, ended in enumerate(earlier):
                out.append(
                    Attempt(
                        record.run_id,
                        str(ended.get("status")),
                        resumed=i > 0,
                        error=ended.get("error"),
                        ended=ended.get("ended"),
                    )
                )
            out.append(
                Attempt(
                    record.run_id,
                    str(record.status),
                    resumed=bool(earlier),
                    error=record.error,
                    ended=record.finished,
                )
            )
        return out

    def summary(self) -> str:
        """``3 attempts: interrupted, interrupted (resumed), finished``; ``1 attempt`` alone."""
        attempts = self.attempts()
        if len(attempts) == 1:
            return "1 attempt"
        parts = [f"{a.status} (resumed)" if a.resumed else a.status for a in attempts]
        return f"{len(attempts)} attempts: {', '.join(parts)}"


def _precision(record: RunRecord) -> str | None:
    """The resolved precision; ``None`` for a run that failed before resolving it."""
    return run_precision(record.provenance) if record.provenance.get("resolved") else None


def histories(records: Iterable[RunRecord]) -> list[History]:
    """Group runs by (configuration, seed, precision), ordered by their latest attempt.

    A run that ended before its precision was resolved (it failed while loading data, say)
    joins the history of its configuration and seed when that has one precision only.
    """
    groups: dict[Key, list[RunRecord]] = {}
    # a stable sort: runs created in the same second keep the order they are given in
    # (``Store.runs`` gives them in the order they were written)
    ordered = sorted(records, key=lambda r: r.created or "")
    order = {r.run_id: i for i, r in enumerate(ordered)}
    for record in ordered:
        key = (record.spec.config_hash(), record.spec.seed, _precision(record))
        groups.setdefault(key, []).append(record)
    for key in [k for k in groups if k[2] is None]:
        known = [k for k in groups if k[:2] == key[:2] and k[2] is not None]
        if len(known) == 1:
            merged = groups[known[0]] + groups.pop(key)
            groups[known[0]] = sorted(merged, key=lambda r: order[r.run_id])
    found = [History(tuple(runs)) for runs in groups.values()]
    return sorted(found, key=lambda h: order[h.latest.run_id])


def history_of(records: Iterable[RunRecord], run_id: str) -> History | None:
    for history in histories(records):
        if any(r.run_id == run_id for r in history.runs):
            return history
    return None
