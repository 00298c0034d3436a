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
