"""Fixtures of the records tests: a synthetic warehouse written to DuckDB (and, in the contract
suite, to a real PostgreSQL server started here)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from cadbusi_assets_tests.records import synthetic


def write_duckdb_warehouse(path: Path, tables: dict[str, pl.DataFrame]) -> Path:
    """Write ``tables`` (name → frame) into a new DuckDB file at ``path``."""
    with duckdb.connect(str(path)) as connection:
        for name, frame in tables.items():
            connection.register("__frame", frame.to_arrow())
            connection.execute(f"CREATE TABLE {name} AS SELECT * FROM __frame")
            connection.unregister("__frame")
    return path


def synthetic_tables() -> dict[str, pl.DataFrame]:
    return {
        "patients": synthetic.patient_rows(),
        "radiology_exams": synthetic.radiology_rows(),
        "pathology_specimens": synthetic.pathology_rows(),
    }


@pytest.fixture(scope="session")
def duckdb_warehouse_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB warehouse file with the synthetic tables."""
    return write_duckdb_warehouse(
        tmp_path_factory.mktemp("warehouse") / "records.duckdb", synthetic_tables()
    )


@pytest.fixture(scope="session")
def postgres_server(postgres) -> str:
    """The DSN of the session's PostgreSQL server
    (``postgresql://postgres:<password>@127.0.0.1:<port>/postgres``)."""
    return postgres.dsn


@pytest.fixture(scope="session")
def postgres_records(postgres_server) -> tuple[str, str]:
    """The synthetic warehouse in schema ``clinical`` of database ``records``.

    Returns ``(uri without password, password)``.
    """
    from urllib.parse import urlsplit

    import psycopg2
    import psycopg2.extras

    parts = urlsplit(postgres_server)
    admin = psycopg2.connect(postgres_server)
    try:
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute("CREATE DATABASE records")
    finally:
        admin.close()
    dsn = postgres_server.rsplit("/", 1)[0] + "/records"
    types = {pl.Utf8: "TEXT", pl.Date: "DATE", pl.Datetime("us"): "TIMESTAMP"}
    connection = psycopg2.connect(dsn)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute("CREATE SCHEMA clinical")
            for name, frame in synthetic_tables().items():
                columns = ", ".join(f"{c} {types[t]}" for c, t in frame.schema.items())
                cursor.execute(f"CREATE TABLE clinical.{name} ({columns})")
                psycopg2.extras.execute_values(
                    cursor, f"INSERT INTO clinical.{name} VALUES %s", frame.rows()
                )
    finally:
        connection.close()
    uri = f"postgresql://{parts.username}@{parts.hostname}:{parts.port}/records?schema=clinical"
    return uri, parts.password or ""


@pytest.fixture
def bigquery_on_duckdb(duckdb_warehouse_path):
    """A fake BigQuery client for project ``demo-project``, dataset ``clinical``, answering from
    the synthetic DuckDB warehouse."""
    from cadbusi_assets_tests.records.fake_bigquery import FakeBigQueryClient

    return FakeBigQueryClient(duckdb_warehouse_path, "demo-project", "clinical")
