"""A stand-in for ``google.cloud.bigquery.Client`` that runs the queries on DuckDB.

It records every query job (SQL text, job config, location, project) so tests can check what
the BigQuery adapter would send, and answers with real rows: the BigQuery-dialect SQL is
transpiled by sqlglot and run on a DuckDB file holding the same tables. TIMESTAMP columns come
back time-zone aware (UTC), as BigQuery's ``to_arrow`` returns them.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot
from google.api_core import exceptions as api_exceptions


@dataclass
class RecordedJob:
    sql: str
    job_config: Any
    location: str | None
    project: str | None

    @property
    def parameters(self) -> dict[str, tuple[str, Any]]:
        """name → (type, value) of the job's query parameters."""
        out: dict[str, tuple[str, Any]] = {}
        for param in self.job_config.query_parameters:
            if hasattr(param, "values"):
                out[param.name] = (f"ARRAY<{param.array_type}>", list(param.values))
            else:
                out[param.name] = (param.type_, param.value)
        return out


class _Rows:
    def __init__(self, table: pa.Table) -> None:
        self._table = table
        self.storage_api_requested: bool | None = None

    def to_arrow(self, create_bqstorage_client: bool = True, **_: Any) -> pa.Table:
        self.storage_api_requested = create_bqstorage_client
        return self._table


class _Job:
    def __init__(self, rows: _Rows) -> None:
        self._rows = rows

    def result(self, **_: Any) -> _Rows:
        return self._rows


@dataclass
class FakeBigQueryClient:
    duckdb_path: Path
    project: str
    dataset: str
    jobs: list[RecordedJob] = field(default_factory=list)
    fail_with: Exception | None = None
    closed: bool = False

    def query(
        self,
        sql: str,
        job_config: Any = None,
        location: str | None = None,
        project: str | None = None,
        **_: Any,
    ):
        self.jobs.append(RecordedJob(sql, job_config, location, project))
        if self.fail_with is not None:
            raise self.fail_with
        dataset = job_config.default_dataset
        if dataset is None or (dataset.project, dataset.dataset_id) != (self.project, self.dataset):
            raise api_exceptions.NotFound(f"Table radiology_exams: dataset {dataset} not found")
        params = {
            p.name: (list(p.values) if hasattr(p, "values") else p.value)
            for p in job_config.query_parameters
        }
        duck_sql = sqlglot.transpile(sql, read="bigquery", write="duckdb")[0]
        with duckdb.connect(str(self.duckdb_path), read_only=True) as connection:
            table = connection.sql(duck_sql, params=params).to_arrow_table()
        return _Job(_Rows(_timestamps_as_utc(table)))

    def close(self) -> None:
        self.closed = True


class FakeBigQueryResource:
    """Like dagster-gcp's BigQueryResource: ``get_client()`` is a context manager."""

    def __init__(self, client: FakeBigQueryClient) -> None:
        self.client = client
        self.entered = 0

    @contextlib.contextmanager
    def get_client(self):
        self.entered += 1
        yield self.client


def _timestamps_as_utc(table: pa.Table) -> pa.Table:
    columns = []
    for column in table.columns:
        if pa.types.is_timestamp(column.type) and column.type.tz is None:
            column = pc.assume_timezone(column, "UTC")
        columns.append(column)
    return pa.Table.from_arrays(columns, names=table.column_names)
