"""URI handling and error messages of open_warehouse (no server needed)."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from cadbusi_assets.records import WarehouseError, open_warehouse
from cadbusi_assets.records.warehouse.duckdb_warehouse import DuckDBWarehouse

D = dt.date


def test_plain_path_and_duckdb_uri_open_the_same_file(duckdb_warehouse_path):
    for uri in (
        str(duckdb_warehouse_path),
        f"duckdb://{duckdb_warehouse_path}",
        f"file://{duckdb_warehouse_path}",
    ):
        with open_warehouse(uri) as warehouse:
            assert isinstance(warehouse, DuckDBWarehouse)
            assert warehouse.radiology_exams(D(2024, 3, 1), D(2024, 3, 1)).height == 1


def test_missing_duckdb_file_says_what_to_do(tmp_path):
    with pytest.raises(WarehouseError, match=r"does not exist.*cadbusi demo"):
        open_warehouse(f"duckdb://{tmp_path}/absent.duckdb")


def test_unknown_scheme_and_empty_uri():
    with pytest.raises(WarehouseError, match="unsupported warehouse URI scheme 'mysql'"):
        open_warehouse("mysql://host/db")
    with pytest.raises(WarehouseError, match="no warehouse URI"):
        open_warehouse("  ")


def test_missing_table_is_a_warehouse_error(tmp_path):
    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()
    with (
        open_warehouse(str(path)) as warehouse,
        pytest.raises(WarehouseError, match="does not exist"),
    ):
        warehouse.radiology_exams(D(2024, 1, 1), D(2024, 1, 1))


def test_missing_column_is_named_without_row_values(tmp_path):
    path = tmp_path / "partial.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute(
            "CREATE TABLE patients AS SELECT 'MRN-SECRET-1' AS patient_id, 'X^Y' AS patient_name, "
            "DATE '2000-01-01' AS birth_date"
        )
    with open_warehouse(str(path)) as warehouse, pytest.raises(WarehouseError) as caught:
        warehouse.patients(["MRN-SECRET-1"])
    message = str(caught.value)
    assert "sex" in message and "MRN-SECRET-1" not in message


def test_uncastable_column_does_not_echo_values(tmp_path):
    path = tmp_path / "badtype.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute(
            "CREATE TABLE radiology_exams AS SELECT 'ACC-SECRET' AS accession_number, 'P' AS patient_id, "
            "NULL::VARCHAR AS encounter_id, DATE '2024-01-01' AS exam_date, "
            "'not a time' AS exam_datetime, 'US' AS modality, '' AS exam_description, NULL AS laterality, "
            "'' AS report_text, '' AS report_status, NULL AS study_instance_uid, '' AS site, '' AS radiologist"
        )
    with open_warehouse(str(path)) as warehouse, pytest.raises(WarehouseError) as caught:
        warehouse.radiology_exams(D(2024, 1, 1), D(2024, 1, 1))
    assert "exam_datetime" in str(caught.value) and "ACC-SECRET" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_patients_refuses_a_single_string(duckdb_warehouse_path):
    with open_warehouse(str(duckdb_warehouse_path)) as warehouse, pytest.raises(TypeError):
        warehouse.patients("MRN0001")


def test_dates_not_datetimes(duckdb_warehouse_path):
    with open_warehouse(str(duckdb_warehouse_path)) as warehouse, pytest.raises(TypeError):
        warehouse.radiology_exams(dt.datetime(2024, 3, 1), D(2024, 3, 2))
