"""Install fake distributions (a *.dist-info with entry_points.txt) on sys.path for tests."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from anobench.api import registry

FAKE = Path(__file__).parent / "fakeplugins"


def write_distribution(
    root: Path,
    name: str,
    entry_points: Mapping[str, Mapping[str, str]],
    modules: tuple[str, ...] = (),
    version: str = "0.0.1",
) -> Path:
    """A minimal installed distribution: METADATA + entry_points.txt (+ copied modules)."""
    root.mkdir(parents=True, exist_ok=True)
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = []
    for group, eps in entry_points.items():
        lines.append(f"[{group}]")
        lines += [f"{k} = {v}" for k, v in eps.items()]
        lines.append("")
    (info / "entry_points.txt").write_text("\n".join(lines))
    for module in modules:
        shutil.copy(FAKE / module, root / module)
    return root


def activate(monkeypatch, root: Path) -> None:
    monkeypatch.syspath_prepend(str(root))
    registry.refresh()
    monkeypatch.setattr(sys, "path", sys.path)  # restored by monkeypatch


def store_brightness_runs(home: Path, root: Path, extras: list[list[str]]) -> Path:
    """``anobench run -m brightness -d toy`` into ``home``, once per list of extra options, with
    the test plugins at ``root`` active for those runs only (for module-scoped fixtures)."""
    import pytest
    from click.testing import CliRunner

    from anobench.cli import cli

    runner = CliRunner()
    with pytest.MonkeyPatch.context() as mp:
        activate(mp, root)
        for extra in extras:
            args = ["--home", str(home), "--quiet", "run", "-m", "brightness", "-d", "toy"]
            result = runner.invoke(cli, [*args, "--device", "cpu", *extra], catch_exceptions=False)
            assert result.exit_code == 0, result.output
    registry.refresh()
    return home


TESTPLUGINS = {
    "anobench.datasets": {"toy": "anobench_testplugins:ToyDataset"},
    "anobench.methods": {
        "brightness": "anobench_testplugins:Brightness",
        "failing": "anobench_testplugins:Failing",
        "crashing": "anobench_testplugins:Crashing",
        "nanmaps": "anobench_testplugins:NaNMaps",
        "badshape": "anobench_testplugins:BadShape",
        "diverging": "anobench_testplugins:Diverging",
        "labelspy": "anobench_testplugins:LabelSpy",
        "weakspy": "anobench_testplugins:WeakSpy",
        "precise": "anobench_testplugins:Precise",
        "numpystate": "anobench_testplugins:NumpyState",
        "opaquestate": "anobench_testplugins:OpaqueState",
        "broken": "anobench_brokenplugin:Nothing",
    },
}


#: the dataset plugins of this repository added after the installed metadata was written; a
#: test that needs them by name registers the ones the installed anobench does not list yet
OWN_DATASETS = {
    "folder": "anobench_folder:FolderDataset",
    "bmad": "anobench_bmad:BMADDataset",
    "medianomaly": "anobench_medianomaly:MedIAnomalyDataset",
}


def register_own_datasets(monkeypatch, root: Path) -> None:
    missing = {k: v for k, v in OWN_DATASETS.items() if k not in registry.names("dataset")}
    if missing:
        write_distribution(root, "anobench-own-datasets", {"anobench.datasets": missing})
        activate(monkeypatch, root)
