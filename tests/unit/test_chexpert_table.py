"""CheXpert CSV reading: release prefixes, escaping paths, columns by name, label values."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from anobench_chexpert.table import COLUMNS, LABELS, read_table, relative_path

from anobench import DataError


def test_the_header_is_the_real_19_columns():
    assert len(COLUMNS) == 19
    assert COLUMNS[:5] == ("Path", "Sex", "Age", "Frontal/Lateral", "AP/PA")
    assert COLUMNS[5] == "No Finding" and COLUMNS[15] == "Pleural Effusion"
    assert COLUMNS[-1] == "Support Devices" and len(LABELS) == 14


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg",
         "train/patient00001/study1/view1_frontal.jpg"),
        ("CheXpert-v1.0/valid/patient64541/study1/view1_frontal.jpg",
         "valid/patient64541/study1/view1_frontal.jpg"),
        ("train/patient00002/study1/view1_frontal.jpg",
         "train/patient00002/study1/view1_frontal.jpg"),
        ("CheXpert-v1.0-small/train/patient00001/./study1/../study1/view1_frontal.jpg",
         "train/patient00001/study1/view1_frontal.jpg"),
        ("CheXpert-v1.0-small/../../etc/passwd", None),
        ("CheXpert-v1.0-small/train/../../outside.jpg", None),
        ("../CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg", None),
        ("/etc/passwd", None),
        ("C:/Windows/x.jpg", None),
        ("..\\..\\x.jpg", None),
        ("", None),
    ],
)  # fmt: skip
def test_relative_path_strips_either_release_and_rejects_escapes(value, expected):
    assert relative_path(value) == expected


def _write(path, header, rows):
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _row(**cells):
    base = {c: "" for c in COLUMNS}
    base["Path"] = "CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg"
    base.update({"Sex": "Male", "Age": "50", "Frontal/Lateral": "Frontal", "AP/PA": "AP"})
    base["No Finding"] = "1.0"
    base.update(cells)
    return [base[c] for c in COLUMNS]


def test_columns_are_read_by_name_in_any_order(tmp_path):
    header = list(reversed(COLUMNS))
    row = list(reversed(_row(**{"Pleural Effusion": "-1.0"})))
    table = read_table(_write(tmp_path / "train.csv", header, [row]))
    assert table.labels["Pleural Effusion"][0] == -1.0
    assert table.labels["No Finding"][0] == 1.0
    assert np.isnan(table.labels["Edema"][0])
    assert table.rel[0] == "train/patient00001/study1/view1_frontal.jpg"
    assert table.patient[0] == 1 and table.frontal[0] and table.projection[0] == "AP"


def test_a_renamed_column_is_named_with_its_likely_new_name(tmp_path):
    header = [("Pleural_Effusion" if c == "Pleural Effusion" else c) for c in COLUMNS]
    with pytest.raises(DataError) as err:
        read_table(_write(tmp_path / "train.csv", header, [_row()]))
    message = str(err.value)
    assert "train.csv" in message and "'Pleural Effusion'" in message
    assert "found 'Pleural_Effusion'" in message


def test_missing_columns_are_all_named(tmp_path):
    header = [c for c in COLUMNS if c not in ("Edema", "AP/PA")]
    rows = [[v for c, v in zip(COLUMNS, _row(), strict=True) if c in header]]
    with pytest.raises(DataError, match=r"missing column\(s\) 'AP/PA', 'Edema'"):
        read_table(_write(tmp_path / "train.csv", header, rows))


def test_sex_and_age_are_optional(tmp_path):
    header = [c for c in COLUMNS if c not in ("Sex", "Age")]
    rows = [[v for c, v in zip(COLUMNS, _row(), strict=True) if c in header]]
    assert len(read_table(_write(tmp_path / "valid.csv", header, rows))) == 1


@pytest.mark.parametrize("bad", ["2.0", "yes", "0.5", "nan?"])
def test_an_unexpected_label_value_names_line_and_column(tmp_path, bad):
    rows = [_row(), _row(Path="train/patient00002/study1/view1_frontal.jpg", Edema=bad)]
    with pytest.raises(DataError) as err:
        read_table(_write(tmp_path / "train.csv", COLUMNS, rows))
    assert "line 3, column 'Edema'" in str(err.value) and repr(bad) in str(err.value)


def test_integer_labels_of_the_test_set_format_are_accepted(tmp_path):
    rows = [_row(**{"No Finding": "1", "Pleural Effusion": "0", "Edema": "-1"})]
    table = read_table(_write(tmp_path / "train.csv", COLUMNS, rows))
    assert table.labels["No Finding"][0] == 1 and table.labels["Edema"][0] == -1


def test_bad_view_missing_patient_and_duplicates_are_errors(tmp_path):
    with pytest.raises(DataError, match="line 2, column 'Frontal/Lateral'"):
        read_table(_write(tmp_path / "a.csv", COLUMNS, [_row(**{"Frontal/Lateral": "Oblique"})]))
    with pytest.raises(DataError, match=r"line 2, column 'Path'.*patientNNNNN"):
        read_table(_write(tmp_path / "b.csv", COLUMNS, [_row(Path="train/x/view1_frontal.jpg")]))
    with pytest.raises(DataError, match=r"line 3, column 'Path'.*repeats line 2"):
        read_table(_write(tmp_path / "c.csv", COLUMNS, [_row(), _row()]))
    with pytest.raises(DataError, match="no rows"):
        read_table(_write(tmp_path / "d.csv", COLUMNS, []))


def test_escaping_rows_are_listed_not_resolved(tmp_path):
    rows = [_row(), _row(Path="CheXpert-v1.0-small/../../secret/patient00009/s/v.jpg")]
    table = read_table(_write(tmp_path / "train.csv", COLUMNS, rows))
    assert table.rel[1] == "" and table.patient[1] == -1
    assert table.rejected == [
        {"line": 3, "path": "CheXpert-v1.0-small/../../secret/patient00009/s/v.jpg"}
    ]
