"""PostgreSQL adapter specifics: password handling, errors, URI options (real server)."""

from __future__ import annotations

import datetime as dt

import pytest

from cadbusi_assets.records import WarehouseError, open_warehouse
from cadbusi_assets.records.warehouse.postgres_warehouse import connection_parameters, redact_uri
from cadbusi_assets_tests.support import free_port

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("records-postgres")]


@pytest.fixture(autouse=True)
def no_password_env(monkeypatch):
    monkeypatch.delenv("CADBUSI_WAREHOUSE_PASSWORD", raising=False)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", "/nonexistent")


def test_password_from_pgpassword(postgres_records, monkeypatch):
    uri, password = postgres_records
    monkeypatch.setenv("PGPASSWORD", password)
    with open_warehouse(uri) as warehouse:
        assert warehouse.patients(["MRN0002"])["patient_name"].to_list() == ["YAK^PERPETUA"]


def test_cadbusi_password_wins_over_pgpassword(postgres_records, monkeypatch):
    uri, password = postgres_records
    monkeypatch.setenv("PGPASSWORD", "wrong")
    monkeypatch.setenv("CADBUSI_WAREHOUSE_PASSWORD", password)
    with open_warehouse(uri) as warehouse:
        assert warehouse.exam_counts(dt.date(2024, 3, 1), dt.date(2024, 3, 1)).height == 1


def test_wrong_password_is_a_clear_error_without_the_password(postgres_records, monkeypatch):
    uri, _ = postgres_records
    monkeypatch.setenv("CADBUSI_WAREHOUSE_PASSWORD", "not-the-password-xyz")
    with pytest.raises(WarehouseError) as caught:
        open_warehouse(uri)
    message = str(caught.value)
    assert "password authentication failed" in message and "CADBUSI_WAREHOUSE_PASSWORD" in message
    assert "not-the-password-xyz" not in message


def test_password_in_the_uri_works_but_is_never_shown(postgres_records):
    uri, password = postgres_records
    with_password = uri.replace("postgres@", f"postgres:{password}@")
    with open_warehouse(with_password) as warehouse:
        assert password not in warehouse.description
        assert warehouse.radiology_exams(dt.date(2024, 3, 1), dt.date(2024, 3, 1)).height == 1


def test_unreachable_server(monkeypatch):
    monkeypatch.setenv("CADBUSI_WAREHOUSE_PASSWORD", "secret-abc")
    with pytest.raises(WarehouseError, match="cannot connect") as caught:
        open_warehouse(f"postgresql://reader@127.0.0.1:{free_port()}/records?connect_timeout=2")
    assert "secret-abc" not in str(caught.value)


def test_wrong_schema_names_the_missing_table(postgres_records, monkeypatch):
    uri, password = postgres_records
    monkeypatch.setenv("CADBUSI_WAREHOUSE_PASSWORD", password)
    with open_warehouse(uri.replace("schema=clinical", "schema=public")) as warehouse:
        with pytest.raises(WarehouseError, match=r"missing: radiology_exams"):
            warehouse.radiology_exams(dt.date(2024, 3, 1), dt.date(2024, 3, 1))
        # the connection stays usable after a failed query (autocommit, no aborted transaction)
        with pytest.raises(WarehouseError):
            warehouse.patients(["MRN0001"])


def test_connection_is_read_only(postgres_records, monkeypatch):
    uri, password = postgres_records
    monkeypatch.setenv("CADBUSI_WAREHOUSE_PASSWORD", password)
    with open_warehouse(uri) as warehouse, warehouse._connection.cursor() as cursor:
        cursor.execute("SHOW transaction_read_only")
        assert cursor.fetchone() == ("on",)


def test_uri_helpers():
    assert (
        redact_uri("postgresql://u:p%40ss@h:6543/db?sslmode=require") == "postgresql://u@h:6543/db"
    )
    params = connection_parameters(
        "postgresql://u@h:6543/db?schema=s&sslmode=require&bogus=1", password="pw"
    )
    assert params["options"] == "-c search_path=s" and params["sslmode"] == "require"
    assert (
        params["host"],
        params["port"],
        params["dbname"],
        params["user"],
        params["password"],
    ) == (
        "h",
        6543,
        "db",
        "u",
        "pw",
    )
    assert "bogus" not in params
