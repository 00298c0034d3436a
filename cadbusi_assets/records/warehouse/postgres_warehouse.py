"""PostgreSQL adapter: an on-premises records database (e.g. a PACS application database with
views named like the logical warehouse schema).

The password never travels in the URI: it comes from ``CADBUSI_WAREHOUSE_PASSWORD`` or
``PGPASSWORD`` (or libpq's ``~/.pgpass``). A password written into the URI still works but is
never shown.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import polars as pl
import psycopg2
import psycopg2.errors

from cadbusi_assets.records.warehouse.base import (
    SqlWarehouse,
    WarehouseError,
    missing_object_hint,
)
from cadbusi_assets.records.warehouse.sql import dialect_sql

PASSWORD_ENV_VARS = ("CADBUSI_WAREHOUSE_PASSWORD", "PGPASSWORD")

#: query-string options of the URI passed on to libpq (``schema`` becomes the search_path)
_LIBPQ_OPTIONS = {
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "connect_timeout",
    "application_name",
}


def redact_uri(uri: str) -> str:
    """``uri`` without any password or query string (safe for messages).

    >>> redact_uri("postgresql://reader:s3cret@db.example:5433/records?sslmode=require")
    'postgresql://reader@db.example:5433/records'
    """
    parts = urlsplit(uri)
    host = parts.hostname or ""
    netloc = (f"{unquote(parts.username)}@" if parts.username else "") + host
    if parts.port:
        netloc += f":{parts.port}"
    return f"{parts.scheme}://{netloc}{parts.path}"


def connection_parameters(uri: str, **options: Any) -> dict[str, Any]:
    """psycopg2 keyword arguments for ``uri`` plus keyword ``options`` (which win)."""
    parts = urlsplit(uri)
    query = dict(parse_qsl(parts.query))
    params: dict[str, Any] = {
        "host": parts.hostname or "localhost",
        "port": parts.port or 5432,
        "dbname": unquote(parts.path.lstrip("/")) or None,
        "user": unquote(parts.username) if parts.username else None,
        "connect_timeout": 10,
        "application_name": "cadbusi_assets",
    }
    params.update({k: v for k, v in query.items() if k in _LIBPQ_OPTIONS})
    schema = options.pop("schema", query.get("schema"))
    if schema:
        params["options"] = f"-c search_path={schema}"
    password = options.pop("password", None)
    if password is None:
        password = next((os.environ[v] for v in PASSWORD_ENV_VARS if os.environ.get(v)), None)
    if password is None and parts.password:
        password = unquote(parts.password)
    if password is not None:
        params["password"] = password
    params.update(options)
    return {k: v for k, v in params.items() if v is not None}


class PostgresWarehouse(SqlWarehouse):
    """Queries PostgreSQL with psycopg2, read-only, one connection per warehouse object."""

    def __init__(self, uri: str, **options: Any) -> None:
        self.description = f"PostgreSQL warehouse {redact_uri(uri)}"
        try:
            self._connection = psycopg2.connect(**connection_parameters(uri, **options))
            self._connection.set_session(readonly=True, autocommit=True)
        except psycopg2.Error as error:
            reason = (
                str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            )
            raise WarehouseError(
                f"{self.description}: cannot connect ({reason}). Check that the server runs "
                "and is reachable, the user and database names, and the password in "
                "CADBUSI_WAREHOUSE_PASSWORD or PGPASSWORD."
            ) from None

    def _fetch(self, name: str, params: Mapping[str, Any]) -> pl.DataFrame:
        sql = dialect_sql(name, "postgres")
        try:
            with self._connection.cursor() as cursor:
                cursor.execute(sql, dict(params))
                names = [column.name for column in cursor.description]
                rows = cursor.fetchall()
        except (psycopg2.errors.UndefinedTable, psycopg2.errors.UndefinedColumn) as error:
            raise WarehouseError(
                f"{self.description}: query {name} refers to a table or column that does not "
                f"exist{missing_object_hint(str(error))}. Create views patients, radiology_exams and pathology_specimens with the "
                "documented columns (or set ?schema= to the schema that holds them)."
            ) from None
        except psycopg2.Error as error:
            raise WarehouseError(
                f"{self.description}: query {name} failed ({type(error).__name__}"
                f"{', SQLSTATE ' + error.pgcode if error.pgcode else ''})."
            ) from None
        return pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None)

    def close(self) -> None:
        if not self._connection.closed:
            self._connection.close()
