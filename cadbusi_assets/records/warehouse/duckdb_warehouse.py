"""DuckDB adapter: the embedded default (the demo cohort is a DuckDB file).

The file holds the three tables of the logical warehouse schema in its default schema. It is
opened read-only, so several Dagster runs can read it at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from cadbusi_assets.records.warehouse.base import (
    SqlWarehouse,
    WarehouseError,
    missing_object_hint,
)
from cadbusi_assets.records.warehouse.sql import dialect_sql


class DuckDBWarehouse(SqlWarehouse):
    """Queries a DuckDB file (or an existing connection, for tests)."""

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        connection: duckdb.DuckDBPyConnection | None = None,
        read_only: bool = True,
    ) -> None:
        if connection is None and path is None:
            raise ValueError("DuckDBWarehouse needs a file path or a connection")
        if connection is not None:
            self._connection = connection
            self._owned = False
            self.description = "DuckDB warehouse (connection)"
            return
        file = Path(path).expanduser()  # type: ignore[arg-type]
        self.description = f"DuckDB warehouse {file}"
        if read_only and not file.is_file():
            raise WarehouseError(
                f"{self.description}: the file does not exist. Build the demo warehouse "
                "(`cadbusi demo`) or point the warehouse URI at an existing .duckdb file."
            )
        try:
            self._connection = duckdb.connect(str(file), read_only=read_only)
        except duckdb.Error as error:
            raise WarehouseError(
                f"{self.description}: cannot open it ({type(error).__name__}). Is it a DuckDB "
                "file, readable, and not held open for writing by another process?"
            ) from None
        self._owned = True

    def _fetch(self, name: str, params: Mapping[str, Any]) -> pl.DataFrame:
        sql = dialect_sql(name, "duckdb")
        try:
            table = self._connection.sql(sql, params=dict(params)).to_arrow_table()
        except (duckdb.CatalogException, duckdb.BinderException) as error:
            raise WarehouseError(
                f"{self.description}: query {name} refers to a table or column that does not "
                f"exist{missing_object_hint(str(error))}. The file must hold patients, "
                "radiology_exams and pathology_specimens with the documented columns."
            ) from None
        except duckdb.Error as error:
            raise WarehouseError(
                f"{self.description}: query {name} failed ({type(error).__name__})."
            ) from None
        return pl.from_arrow(table)  # type: ignore[return-value]

    def close(self) -> None:
        if self._owned:
            self._connection.close()
