"""BigQuery adapter, offline: the query text, job configuration and result mapping it produces,
checked with a fake client that runs the same SQL on DuckDB."""

from __future__ import annotations

import datetime as dt

import pytest
from google.api_core import exceptions as api_exceptions

from cadbusi_assets.records import RADIOLOGY_SCHEMA, WarehouseError, open_warehouse
from cadbusi_assets.records.warehouse import bigquery_sql
from cadbusi_assets.records.warehouse.bigquery_warehouse import BigQueryWarehouse
from cadbusi_assets_tests.records import synthetic
from cadbusi_assets_tests.records.fake_bigquery import FakeBigQueryResource

D = dt.date


def test_uri_maps_to_project_dataset_and_options(bigquery_on_duckdb):
    warehouse = open_warehouse(
        "bigquery://demo-project/clinical?location=EU&job_project=billing-1",
        client=bigquery_on_duckdb,
    )
    assert isinstance(warehouse, BigQueryWarehouse)
    assert (warehouse.project, warehouse.dataset, warehouse.location, warehouse.job_project) == (
        "demo-project",
        "clinical",
        "EU",
        "billing-1",
    )
    warehouse.radiology_exams(D(2024, 3, 1), D(2024, 3, 2))
    job = bigquery_on_duckdb.jobs[-1]
    assert (job.location, job.project) == ("EU", "billing-1")


def test_job_sends_the_sql_file_and_typed_named_parameters(bigquery_on_duckdb):
    warehouse = open_warehouse("bigquery://demo-project/clinical", client=bigquery_on_duckdb)
    warehouse.radiology_exams(D(2024, 3, 1), D(2024, 3, 2))
    warehouse.patients(["MRN0002", "MRN0001", "MRN0001"])
    radiology, patients = bigquery_on_duckdb.jobs
    assert radiology.sql == bigquery_sql("radiology_exams")
    assert radiology.parameters == {
        "start_date": ("DATE", D(2024, 3, 1)),
        "end_date": ("DATE", D(2024, 3, 2)),
    }
    assert str(radiology.job_config.default_dataset) == "demo-project.clinical"
    assert patients.parameters == {"patient_ids": ("ARRAY<STRING>", ["MRN0001", "MRN0002"])}


def test_result_mapping_converts_utc_timestamps_and_types(bigquery_on_duckdb):
    warehouse = open_warehouse("bigquery://demo-project/clinical", client=bigquery_on_duckdb)
    frame = warehouse.radiology_exams(D(2024, 3, 4), D(2024, 3, 4))
    assert frame.schema == RADIOLOGY_SCHEMA
    assert frame.row(0, named=True) == synthetic.radiology_rows().row(-1, named=True)


def test_storage_api_is_off_by_default(bigquery_on_duckdb, monkeypatch):
    from cadbusi_assets_tests.records import fake_bigquery

    seen = []
    original = fake_bigquery._Rows.to_arrow

    def spy(self, create_bqstorage_client=True, **kw):
        seen.append(create_bqstorage_client)
        return original(self, create_bqstorage_client, **kw)

    monkeypatch.setattr(fake_bigquery._Rows, "to_arrow", spy)
    open_warehouse("bigquery://demo-project/clinical", client=bigquery_on_duckdb).exam_counts(
        D(2024, 3, 1), D(2024, 3, 1)
    )
    open_warehouse(
        "bigquery://demo-project/clinical", client=bigquery_on_duckdb, use_storage_api=True
    ).exam_counts(D(2024, 3, 1), D(2024, 3, 1))
    assert seen == [False, True]


def test_resource_get_client_is_entered_per_query(bigquery_on_duckdb):
    resource = FakeBigQueryResource(bigquery_on_duckdb)
    warehouse = open_warehouse("bigquery://demo-project/clinical", resource=resource)
    warehouse.radiology_exams(D(2024, 3, 1), D(2024, 3, 1))
    warehouse.pathology_specimens(D(2024, 3, 1), D(2024, 3, 5))
    warehouse.close()
    assert resource.entered == 2
    assert not bigquery_on_duckdb.closed  # a client we did not create is not ours to close


def test_not_found_becomes_a_warehouse_error(bigquery_on_duckdb):
    warehouse = open_warehouse("bigquery://demo-project/other_dataset", client=bigquery_on_duckdb)
    with pytest.raises(WarehouseError, match=r"NotFound.*documented views"):
        warehouse.radiology_exams(D(2024, 3, 1), D(2024, 3, 1))


def test_other_api_errors_do_not_echo_details(bigquery_on_duckdb):
    bigquery_on_duckdb.fail_with = api_exceptions.BadRequest("value MRN0001 is bad")
    warehouse = open_warehouse("bigquery://demo-project/clinical", client=bigquery_on_duckdb)
    with pytest.raises(WarehouseError) as caught:
        warehouse.patients(["MRN0001"])
    assert "BadRequest" in str(caught.value) and "MRN0001" not in str(caught.value)


def test_uri_needs_project_and_dataset():
    with pytest.raises(WarehouseError, match="bigquery://<project>/<dataset>"):
        open_warehouse("bigquery://only-project")


def test_no_credentials_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "absent.json"))
    warehouse = open_warehouse("bigquery://demo-project/clinical")
    with pytest.raises(WarehouseError, match="credentials"):
        warehouse.radiology_exams(D(2024, 3, 1), D(2024, 3, 1))
