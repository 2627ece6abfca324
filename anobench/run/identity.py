"""What a run is, before it runs: its data fingerprint and the precision it will compute in.

A stored result is identified by its configuration (the ``RunSpec`` hash, in which the dataset's
fingerprint replaces the options that only say where the data are), its seed and the precision
its hardware resolved ``auto`` to. ``run``'s "already finished", the automatic resume, ``bench``'s
plan and the leaderboard's rows all use these three, so they agree.

Both are worked out here cheaply, before any data are decoded or any model is built: the
fingerprint from the dataset's listing (file contents hashed once per process, see
``anobench.api.digests``), the precision from the method's options and the device.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ..api import registry
from ..api.errors import AnobenchError, ConfigError, PluginError
from ..api.records import RunRecord, RunSpec
from ..api.resolve import method_setup, plugin_class
from .devices import resolve_device


def identify(spec: RunSpec, cls: Any | None = None, dataset: Any | None = None) -> RunSpec:
    """The spec with its dataset's fingerprint; checks that the data can be found (``check``).

    A spec that already has one (a stored run being resumed) keeps it. ``cls`` and
    ``dataset``: the dataset's class and instance where the caller has them already.
    """
    cls = cls or registry.get("dataset", spec.dataset)
    dataset = dataset or cls(**spec.dataset_options)
    dataset.check()
    if spec.data_fingerprint is not None:
        return spec
    try:
        fingerprint = dataset.fingerprint()
    except AnobenchError:
        raise
    except Exception as exc:
        raise PluginError(
            f"dataset '{spec.dataset}': fingerprint() raised {type(exc).__name__}: {exc}"
        ) from None
    if not isinstance(fingerprint, str) or not fingerprint:
        raise PluginError(f"dataset '{spec.dataset}': fingerprint() must return a non-empty string")
    return replace(spec, data_fingerprint=fingerprint, location_options=tuple(cls.location_options))


def identified(spec: RunSpec) -> RunSpec:
    """``identify``, or the spec as it is when its data cannot be found (a suite's plan: the
    run then fails with the reason)."""
    try:
        return identify(spec)
    except AnobenchError:
        return spec


def planned_precision(spec: RunSpec, device: str | None = None) -> str:
    """The precision the run will compute in on ``device`` (default: the spec's): what the
    leaderboard labels its row with; ``""`` for a method without a precision option."""
    method_cls = plugin_class("method", spec.method)
    device_ = resolve_device(device or spec.device)
    return method_setup(method_cls, spec.method_options, device_).precision_label


def refuse_duplicate(live: Sequence[str], store: Any) -> None:
    """A configuration and seed training in another live process is not started twice."""
    if not live:
        return
    owner = store.get_run(live[0]).provenance.get("owner") or {}
    raise ConfigError(
        f"run {live[0]} of this configuration and seed is running in process"
        f" {owner.get('pid')} on {owner.get('host')}: wait for it ('anobench show {live[0]}'),"
        " or stop it first; --seed gives another seed"
    )


def check_same_data(record: RunRecord) -> None:
    """A run resumes only on the data it started with (the fingerprint it was stored with)."""
    stored = record.spec.data_fingerprint
    if stored is None:
        return
    now = identify(replace(record.spec, data_fingerprint=None)).data_fingerprint
    if now != stored:
        raise ConfigError(
            f"run {record.run_id} cannot be resumed: the data of dataset"
            f" '{record.spec.dataset}' changed since it started (fingerprint {stored[:12]}, now"
            f" {str(now)[:12]}); start a new run instead"
        )
