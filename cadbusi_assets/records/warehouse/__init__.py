"""Warehouse adapters behind one interface: DuckDB (default), PostgreSQL, BigQuery.

The logical warehouse schema (tables or views with these names and columns; see
:mod:`cadbusi_assets.records.schemas` for the types):

- ``patients(patient_id, patient_name 'LAST^FIRST', birth_date, sex)``
- ``radiology_exams(accession_number, patient_id, encounter_id, exam_date, exam_datetime,
  modality, exam_description, laterality, report_text, report_status, study_instance_uid,
  site, radiologist)``
- ``pathology_specimens(specimen_accession, patient_id, encounter_id, specimen_date,
  received_at, part_description, diagnosis_name, final_diagnosis_text, synoptic_report)``

The demo cohort generator writes exactly these tables into a DuckDB file. On PostgreSQL and
BigQuery a hospital creates views with these names over its own warehouse.

URIs understood by :func:`open_warehouse`:

- ``duckdb:///abs/path/warehouse.duckdb`` or a plain path ending in ``.duckdb``;
- ``postgresql://user@host:5432/dbname[?schema=records&sslmode=require]`` — password from
  ``CADBUSI_WAREHOUSE_PASSWORD`` or ``PGPASSWORD`` (or ``~/.pgpass``);
- ``bigquery://project/dataset[?location=EU&job_project=billing-project]`` — Application
  Default Credentials, or ``client=`` / ``resource=`` (a dagster-gcp ``BigQueryResource``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from cadbusi_assets.records.warehouse.base import SqlWarehouse, Warehouse, WarehouseError
from cadbusi_assets.records.warehouse.sql import (
    QUERY_NAMES,
    bigquery_sql,
    dialect_sql,
    parameter_names,
)


def open_warehouse(uri: str, **options: Any) -> Warehouse:
    """Open the warehouse that ``uri`` names. ``options`` go to the adapter.

    >>> open_warehouse("ftp://x")
    Traceback (most recent call last):
    ...
    cadbusi_assets.records.warehouse.base.WarehouseError: unsupported warehouse URI scheme 'ftp'; use duckdb:///path.duckdb, postgresql://user@host:port/db or bigquery://project/dataset
    """
    if not isinstance(uri, str) or not uri.strip():
        raise WarehouseError(
            "no warehouse URI configured; use duckdb:///path.duckdb, "
            "postgresql://user@host:port/db or bigquery://project/dataset"
        )
    uri = uri.strip()
    scheme = urlsplit(uri).scheme.lower() if "://" in uri else ""
    if scheme in ("", "file") or (len(scheme) == 1 and uri[1:3] in (":\\", ":/")):
        path = unquote(urlsplit(uri).path) if scheme == "file" else uri
        return _duckdb(path, options)
    if scheme == "duckdb":
        parts = urlsplit(uri)
        path = unquote(parts.netloc + parts.path)
        return _duckdb(path, options)
    if scheme in ("postgresql", "postgres"):
        from cadbusi_assets.records.warehouse.postgres_warehouse import PostgresWarehouse

        return PostgresWarehouse(uri, **options)
    if scheme == "bigquery":
        from cadbusi_assets.records.warehouse.bigquery_warehouse import BigQueryWarehouse

        parts = urlsplit(uri)
        query = dict(parse_qsl(parts.query))
        for key in ("location", "job_project"):
            if key in query:
                options.setdefault(key, query[key])
        return BigQueryWarehouse(parts.netloc, parts.path.strip("/"), **options)
    raise WarehouseError(
        f"unsupported warehouse URI scheme {scheme!r}; use duckdb:///path.duckdb, "
        "postgresql://user@host:port/db or bigquery://project/dataset"
    )


def _duckdb(path: str, options: dict[str, Any]) -> Warehouse:
    from cadbusi_assets.records.warehouse.duckdb_warehouse import DuckDBWarehouse

    if not path:
        raise WarehouseError("DuckDB warehouse URI has no file path: use duckdb:///abs/path.duckdb")
    return DuckDBWarehouse(Path(path), **options)


__all__ = [
    "QUERY_NAMES",
    "SqlWarehouse",
    "Warehouse",
    "WarehouseError",
    "bigquery_sql",
    "dialect_sql",
    "open_warehouse",
    "parameter_names",
]
