"""Read and check CheXpert's ``train.csv`` / ``valid.csv``: columns by name, labels, safe paths."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from anobench import DataError
from anobench.files import inside_root

if TYPE_CHECKING:  # imported where used: importing this module stays fast
    import pandas as pd


#: the release folders a ``Path`` value may start with (small and original resolution)
RELEASES = ("CheXpert-v1.0-small", "CheXpert-v1.0")
#: the 14 observations, in the CSV's order (always indexed by name, never by position)
LABELS = (
    "No Finding",
    "Enlarged Cardiomediastinum",
    "Cardiomegaly",
    "Lung Opacity",
    "Lung Lesion",
    "Edema",
    "Consolidation",
    "Pneumonia",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Pleural Other",
    "Fracture",
    "Support Devices",
)
#: the real 19-column header of train.csv and valid.csv
COLUMNS = ("Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", *LABELS)
#: what the loader reads (Sex and Age are not needed, and some CheXpert files lack them)
REQUIRED = ("Path", "Frontal/Lateral", "AP/PA", *LABELS)
HEALTHY_COLUMN = "No Finding"
DISEASE_COLUMN = "Pleural Effusion"
#: findings that disqualify an "effusion only" image (Support Devices is not a finding)
OTHER_FINDINGS = tuple(
    c for c in LABELS if c not in (HEALTHY_COLUMN, DISEASE_COLUMN, "Support Devices")
)
_VALUES = "1.0 (positive), 0.0 (negative), -1.0 (uncertain) or blank (not mentioned)"
_PATIENT = re.compile(r"(?:^|/)patient(\d+)(?:/|$)")


@dataclass(frozen=True)
class Table:
    """One CSV, checked: one entry per row, labels as float (NaN = blank)."""

    source: str  # "train.csv" or "valid.csv"
    rel: np.ndarray  # normalised path inside the root ("" where rejected)
    patient: np.ndarray  # int patient number (-1 where rejected)
    frontal: np.ndarray  # bool
    projection: np.ndarray  # "AP", "PA", "LL", "RL" or "" (upper case)
    labels: dict[str, np.ndarray]  # column -> float array (1, 0, -1, NaN)
    rejected: list[dict[str, object]]  # rows whose Path escapes the root: line and value

    def __len__(self) -> int:
        return len(self.rel)

    @property
    def line(self) -> np.ndarray:
        """1-based line numbers in the file (the header is line 1)."""
        return np.arange(len(self.rel)) + 2


def relative_path(value: str) -> str | None:
    """The ``Path`` value relative to the root, or ``None`` when it would leave the root.

    Strips either release prefix; a prefix-less ``train/...`` is accepted as is. The check is
    lexical (no symlinks followed), so a root whose ``train/`` is a symlink still works.
    """
    text = value.strip().replace("\\", "/")
    parts = text.split("/", 1)
    if len(parts) == 2 and parts[0] in RELEASES:
        text = parts[1]
    return inside_root(text)


def _missing_columns(found: list[str], path: Path) -> str:
    missing = [c for c in REQUIRED if c not in found]
    hints = []
    for name in missing:
        close = difflib.get_close_matches(name, [f for f in found if f not in COLUMNS], n=1)
        hints.append(f"'{name}'" + (f" (found '{close[0]}': renamed?)" if close else ""))
    return (
        f"{path}: missing column(s) {', '.join(hints)}; CheXpert's CSVs have the columns"
        f" {', '.join(COLUMNS)} (read by name, in any order)"
    )


def _labels(frame: pd.DataFrame, path: Path) -> dict[str, np.ndarray]:
    import pandas as pd

    out: dict[str, np.ndarray] = {}
    for column in LABELS:
        raw = frame[column].str.strip()
        values = pd.to_numeric(raw.where(raw != "", None), errors="coerce").to_numpy(float)
        bad = (raw.to_numpy() != "") & ~np.isin(values, (1.0, 0.0, -1.0))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{path} line {row + 2}, column '{column}': unexpected value"
                f" {frame[column].iloc[row]!r}; CheXpert labels are {_VALUES}"
                f" ({int(bad.sum())} such cell(s) in this column)"
            )
        out[column] = values
    return out


def read_table(path: Path) -> Table:
    """Parse and check one CheXpert CSV; every error names the file, line and column."""
    import pandas as pd

    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: cannot read this CSV ({exc})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if any(c not in frame.columns for c in REQUIRED):
        raise DataError(_missing_columns(list(frame.columns), path))
    if frame.empty:
        raise DataError(f"{path}: has a header but no rows")
    labels = _labels(frame, path)

    view = frame["Frontal/Lateral"].str.strip().str.lower()
    bad = ~view.isin(("frontal", "lateral"))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"{path} line {row + 2}, column 'Frontal/Lateral': unexpected value"
            f" {frame['Frontal/Lateral'].iloc[row]!r}; expected Frontal or Lateral"
        )

    rel = np.empty(len(frame), dtype=object)
    patient = np.full(len(frame), -1, dtype=np.int64)
    rejected: list[dict[str, object]] = []
    seen: dict[str, int] = {}
    for i, value in enumerate(frame["Path"].tolist()):
        norm = relative_path(value)
        if norm is None:
            rejected.append({"line": i + 2, "path": value})
            rel[i] = ""
            continue
        match = _PATIENT.search(norm)
        if match is None:
            raise DataError(
                f"{path} line {i + 2}, column 'Path': {value!r} has no patientNNNNN folder;"
                " anobench splits CheXpert by patient and needs it"
            )
        if norm in seen:
            raise DataError(
                f"{path} line {i + 2}, column 'Path': {value!r} repeats line {seen[norm]}"
            )
        seen[norm] = i + 2
        rel[i] = norm
        patient[i] = int(match.group(1))
    return Table(
        source=path.name,
        rel=rel,
        patient=patient,
        frontal=(view == "frontal").to_numpy(),
        projection=frame["AP/PA"].str.strip().str.upper().to_numpy(dtype=object),
        labels=labels,
        rejected=rejected,
    )
