"""One BigQuery-dialect SQL text per query, transpiled by sqlglot for the other warehouses.

The ``.sql`` files in ``cadbusi_assets/records/sql/`` are the single source of truth. They use
BigQuery named parameters (``@start_date``, ``@patient_ids``) and unqualified table names (the
BigQuery adapter sets the job's default dataset; DuckDB and PostgreSQL resolve them in their
default schema or ``search_path``).

>>> "@start_date" in bigquery_sql("radiology_exams")
True
>>> "$start_date" in dialect_sql("radiology_exams", "duckdb")
True
>>> "%(start_date)s" in dialect_sql("radiology_exams", "postgres")
True
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

import sqlglot
from sqlglot import expressions as exp

Dialect = Literal["bigquery", "duckdb", "postgres"]

QUERY_NAMES: tuple[str, ...] = (
    "radiology_exams",
    "pathology_specimens",
    "patients",
    "exam_counts",
    "specimen_counts",
    "radiology_history",
    "accession_exams",
)

_SENTINEL = "cadbusi_param__{}__"


@cache
def bigquery_sql(name: str) -> str:
    """The BigQuery-dialect text of query ``name`` (from ``records/sql/<name>.sql``)."""
    if name not in QUERY_NAMES:
        raise KeyError(f"unknown warehouse query {name!r}; known: {', '.join(QUERY_NAMES)}")
    return (resources.files("cadbusi_assets.records") / "sql" / f"{name}.sql").read_text("utf-8")


@cache
def parameter_names(name: str) -> tuple[str, ...]:
    """The named parameters (without ``@``) that query ``name`` expects, sorted."""
    tree = sqlglot.parse_one(bigquery_sql(name), read="bigquery")
    return tuple(sorted({p.name for p in tree.find_all(exp.Parameter)}))


@cache
def dialect_sql(name: str, dialect: Dialect) -> str:
    """Query ``name`` for ``dialect``, with that driver's parameter style.

    - ``bigquery``: the file as written (``@name``; google-cloud-bigquery query parameters);
    - ``duckdb``: ``$name`` (DuckDB named parameters, bound from a dict);
    - ``postgres``: ``%(name)s`` (psycopg2 pyformat; literal ``%`` doubled).
    """
    text = bigquery_sql(name)
    if dialect == "bigquery":
        return text
    if dialect == "duckdb":
        return sqlglot.transpile(text, read="bigquery", write="duckdb", comments=False)[0]
    if dialect == "postgres":
        tree = sqlglot.parse_one(text, read="bigquery")
        tree = tree.transform(
            lambda node: (
                exp.var(_SENTINEL.format(node.name)) if isinstance(node, exp.Parameter) else node
            )
        )
        sql = tree.sql(dialect="postgres", comments=False).replace("%", "%%")
        for param in parameter_names(name):
            sql = sql.replace(_SENTINEL.format(param), f"%({param})s")
        return sql
    raise ValueError(f"unsupported SQL dialect {dialect!r}")
