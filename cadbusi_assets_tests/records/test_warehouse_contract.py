"""One contract suite for every warehouse adapter, run on the same synthetic rows."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from cadbusi_assets.records import (
    EXAM_COUNTS_SCHEMA,
    PATHOLOGY_SCHEMA,
    PATIENTS_SCHEMA,
    RADIOLOGY_SCHEMA,
    Warehouse,
    open_warehouse,
)
from cadbusi_assets_tests.records import synthetic

D = dt.date


POSTGRES = pytest.param(
    "postgres", marks=[pytest.mark.integration, pytest.mark.xdist_group("records-postgres")]
)


@pytest.fixture(params=["duckdb", POSTGRES, "bigquery-on-duckdb"])
def warehouse(request, duckdb_warehouse_path, monkeypatch):
    if request.param == "duckdb":
        opened = open_warehouse(f"duckdb://{duckdb_warehouse_path}")
    elif request.param == "postgres":
        uri, password = request.getfixturevalue("postgres_records")
        monkeypatch.setenv("CADBUSI_WAREHOUSE_PASSWORD", password)
        opened = open_warehouse(uri)
    else:
        client = request.getfixturevalue("bigquery_on_duckdb")
        opened = open_warehouse("bigquery://demo-project/clinical", client=client)
    yield opened
    opened.close()


def test_is_a_warehouse(warehouse):
    assert isinstance(warehouse, Warehouse)


def test_radiology_window_is_inclusive_and_typed(warehouse):
    frame = warehouse.radiology_exams(D(2024, 3, 2), D(2024, 3, 3))
    assert frame.schema == RADIOLOGY_SCHEMA
    assert sorted(set(frame["exam_date"])) == [D(2024, 3, 2), D(2024, 3, 3)]
    expected = synthetic.radiology_rows().filter(
        pl.col("exam_date").is_between(D(2024, 3, 2), D(2024, 3, 3))
    )
    assert frame.height == expected.height
    assert sorted(frame["accession_number"]) == sorted(expected["accession_number"])


def test_radiology_rows_round_trip(warehouse):
    frame = warehouse.radiology_exams(D(2024, 3, 4), D(2024, 3, 4))
    row = frame.row(0, named=True)
    source = (
        synthetic.radiology_rows()
        .filter(pl.col("accession_number") == "ACC0006")
        .row(0, named=True)
    )
    assert row == source  # every column, including the 23:59:59 timestamp and the report text


def test_single_day_and_empty_window(warehouse):
    assert warehouse.radiology_exams(D(2024, 3, 1), D(2024, 3, 1))[
        "accession_number"
    ].to_list() == ["ACC0001"]
    empty = warehouse.radiology_exams(D(2023, 1, 1), D(2023, 1, 31))
    assert empty.height == 0 and empty.schema == RADIOLOGY_SCHEMA


def test_pathology_window(warehouse):
    frame = warehouse.pathology_specimens(D(2024, 3, 4), D(2024, 3, 10))
    assert frame.schema == PATHOLOGY_SCHEMA
    assert frame["specimen_accession"].to_list() == ["SP0001", "SP0001"]  # fan-out rows kept
    assert set(frame["diagnosis_name"]) == {"Invasive ductal carcinoma", "Ductal carcinoma in situ"}


def test_patients_by_id(warehouse):
    frame = warehouse.patients(["MRN0003", "MRN0001", "NOT-THERE"])
    assert frame.schema == PATIENTS_SCHEMA
    assert frame["patient_id"].to_list() == ["MRN0001", "MRN0003"]
    assert frame.filter(pl.col("patient_id") == "MRN0001")["patient_name"].item() == "ZEBRA^QUILLA"
    assert warehouse.patients([]).height == 0


def test_exam_counts_count_us_with_pacs_reference(warehouse):
    frame = warehouse.exam_counts(D(2024, 3, 1), D(2024, 3, 4))
    assert frame.schema == EXAM_COUNTS_SCHEMA
    counts = dict(frame.iter_rows())
    # 03-02: one US (the MG does not count); 03-03: ACC0004 lacks a PACS reference, ACC0005 twice
    assert counts == {D(2024, 3, 1): 1, D(2024, 3, 2): 1, D(2024, 3, 3): 1, D(2024, 3, 4): 1}


def test_specimen_counts_count_distinct_specimens(warehouse):
    """What the late-arrival schedule compares with a date's pathology: SP0001's two rows (one
    per diagnosis name) are one specimen."""
    from cadbusi_assets.records.schemas import SPECIMEN_COUNTS_SCHEMA

    frame = warehouse.specimen_counts(D(2024, 3, 1), D(2024, 3, 4))
    assert frame.schema == SPECIMEN_COUNTS_SCHEMA
    assert dict(frame.iter_rows()) == {D(2024, 3, 2): 1, D(2024, 3, 4): 1}


def test_reversed_window_is_refused(warehouse):
    with pytest.raises(ValueError, match="empty study-date window"):
        warehouse.radiology_exams(D(2024, 3, 4), D(2024, 3, 1))


def test_accession_exams_whatever_their_date(warehouse):
    """Who keeps a reused accession is decided from every exam of the date's accessions (one
    query per date, whatever the exams' dates); ACC0005's two rows both come back."""
    frame = warehouse.accession_exams(["ACC0006", "ACC0005", "ACC0001", "NOT-THERE"])
    assert frame.schema == RADIOLOGY_SCHEMA
    assert frame["accession_number"].to_list() == ["ACC0001", "ACC0005", "ACC0005", "ACC0006"]
    assert frame["exam_date"].to_list() == [
        D(2024, 3, 1),
        D(2024, 3, 3),
        D(2024, 3, 3),
        D(2024, 3, 4),
    ]
    assert warehouse.accession_exams([]).height == 0
    with pytest.raises(TypeError):
        warehouse.accession_exams("ACC0001")
