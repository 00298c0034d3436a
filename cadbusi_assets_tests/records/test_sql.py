"""The SQL files: one BigQuery-dialect text per query, transpiled per warehouse."""

from __future__ import annotations

import pytest
import sqlglot

from cadbusi_assets.records.warehouse import QUERY_NAMES, bigquery_sql, dialect_sql, parameter_names


@pytest.mark.parametrize("name", QUERY_NAMES)
def test_every_query_parses_as_bigquery_and_has_named_parameters(name):
    sqlglot.parse_one(bigquery_sql(name), read="bigquery")
    params = parameter_names(name)
    assert params
    for param in params:
        assert f"@{param}" in bigquery_sql(name)
        assert f"${param}" in dialect_sql(name, "duckdb")
        assert f"%({param})s" in dialect_sql(name, "postgres")


@pytest.mark.parametrize("name", ["radiology_exams", "pathology_specimens", "exam_counts"])
def test_date_window_queries_filter_in_sql(name):
    """The window is pushed into the WHERE clause (never read everything then filter)."""
    tree = sqlglot.parse_one(bigquery_sql(name), read="bigquery")
    where = tree.find(sqlglot.exp.Where)
    assert where is not None
    between = where.find(sqlglot.exp.Between)
    assert between is not None
    assert {p.name for p in between.find_all(sqlglot.exp.Parameter)} == {"start_date", "end_date"}


def test_patients_query_takes_an_id_array():
    assert parameter_names("patients") == ("patient_ids",)
    assert "UNNEST(@patient_ids)" in bigquery_sql("patients")


def test_postgres_text_escapes_literal_percent():
    # no % in our queries today; a LIKE pattern would be doubled for psycopg2
    for name in QUERY_NAMES:
        text = dialect_sql(name, "postgres")
        assert "%" not in text.replace("%%", "").replace("%(", "")


def test_unknown_query_and_dialect():
    with pytest.raises(KeyError):
        bigquery_sql("drop_everything")
    with pytest.raises(ValueError):
        dialect_sql("patients", "oracle")  # type: ignore[arg-type]
