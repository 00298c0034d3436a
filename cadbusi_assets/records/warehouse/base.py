"""The warehouse interface, its error type and what all adapters share.

Every adapter runs the same BigQuery-dialect queries (``records/sql/*.sql``) over a
study-date window and returns polars frames with the explicit schemas of
:mod:`cadbusi_assets.records.schemas`. Windows are pushed into the SQL: an adapter never reads
everything and filters afterwards.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import polars as pl

from cadbusi_assets.records.schemas import (
    EXAM_COUNTS_SCHEMA,
    PATHOLOGY_SCHEMA,
    PATIENTS_SCHEMA,
    RADIOLOGY_SCHEMA,
    SPECIMEN_COUNTS_SCHEMA,
    empty_frame,
)

#: patient ids per ``patients`` query (parameter arrays stay small on every warehouse).
PATIENT_BATCH = 1000


class WarehouseError(RuntimeError):
    """The warehouse is unreachable or misconfigured.

    Messages say what is wrong and what to do; they never hold passwords, patient identifiers
    or row values.
    """


@runtime_checkable
class Warehouse(Protocol):
    """Read-only access to the breast radiology and pathology records."""

    def radiology_exams(self, start: dt.date, end: dt.date) -> pl.DataFrame:
        """Exams with ``exam_date`` in ``[start, end]`` (inclusive), ``RADIOLOGY_SCHEMA``."""
        ...

    def pathology_specimens(self, start: dt.date, end: dt.date) -> pl.DataFrame:
        """Pathology rows with ``specimen_date`` in ``[start, end]``, ``PATHOLOGY_SCHEMA``."""
        ...

    def patients(self, patient_ids: Sequence[str]) -> pl.DataFrame:
        """The given patients, ``PATIENTS_SCHEMA`` (unknown ids are simply absent)."""
        ...

    def exam_counts(self, start: dt.date, end: dt.date) -> pl.DataFrame:
        """``exam_date, n_us_studies``: US accessions with a PACS reference per day."""
        ...

    def specimen_counts(self, start: dt.date, end: dt.date) -> pl.DataFrame:
        """``specimen_date, n_specimens``: distinct pathology specimens per day."""
        ...

    def radiology_history(
        self, patient_ids: Sequence[str], start: dt.date, end: dt.date
    ) -> pl.DataFrame:
        """The given patients' exams with ``exam_date`` in ``[start, end]``,
        ``RADIOLOGY_SCHEMA`` (what the history columns of a run's exams read)."""
        ...

    def accession_exams(self, accession_numbers: Sequence[str]) -> pl.DataFrame:
        """The exams of the given accession numbers, whatever their date,
        ``RADIOLOGY_SCHEMA`` (who holds a reused accession is decided from them)."""
        ...

    def close(self) -> None: ...


class SqlWarehouse:
    """Runs the named queries through :meth:`_fetch`; subclasses only talk to their driver."""

    #: name shown in error messages, e.g. ``"DuckDB warehouse duckdb:///x.duckdb"``
    description: str = "warehouse"

    # -- the interface -----------------------------------------------------------------------
    def radiology_exams(self, start: dt.date, end: dt.date) -> pl.DataFrame:
        return self._run("radiology_exams", _window(start, end), RADIOLOGY_SCHEMA)

    def pathology_specimens(self, start: dt.date, end: dt.date) -> pl.DataFrame:
        return self._run("pathology_specimens", _window(start, end), PATHOLOGY_SCHEMA)

    def exam_counts(self, start: dt.date, end: dt.date) -> pl.DataFrame:
        return self._run("exam_counts", _window(start, end), EXAM_COUNTS_SCHEMA)

    def specimen_counts(self, start: dt.date, end: dt.date) -> pl.DataFrame:
        return self._run("specimen_counts", _window(start, end), SPECIMEN_COUNTS_SCHEMA)

    def patients(self, patient_ids: Sequence[str]) -> pl.DataFrame:
        return self._by_patients("patients", patient_ids, {}, PATIENTS_SCHEMA)

    def radiology_history(
        self, patient_ids: Sequence[str], start: dt.date, end: dt.date
    ) -> pl.DataFrame:
        frame = self._by_patients(
            "radiology_history", patient_ids, _window(start, end), RADIOLOGY_SCHEMA
        )
        return frame.sort("exam_date", "accession_number", "modality", nulls_last=True)

    def accession_exams(self, accession_numbers: Sequence[str]) -> pl.DataFrame:
        frame = self._by_patients(
            "accession_exams", accession_numbers, {}, RADIOLOGY_SCHEMA, param="accession_numbers"
        )
        return frame.sort(
            "exam_date", "accession_number", "patient_id", "modality", nulls_last=True
        )

    def _by_patients(
        self,
        name: str,
        patient_ids: Sequence[str],
        params: Mapping[str, Any],
        schema: pl.Schema,
        *,
        param: str = "patient_ids",
    ) -> pl.DataFrame:
        """Query ``name`` per batch of :data:`PATIENT_BATCH` ids (``@patient_ids``, or the
        array parameter ``param``)."""
        if isinstance(patient_ids, str):
            raise TypeError(f"{name}() takes a sequence of ids, not one string")
        ids = sorted({str(p) for p in patient_ids if p is not None})
        if not ids:
            return empty_frame(schema)
        frames = [
            self._run(name, {**params, param: ids[i : i + PATIENT_BATCH]}, schema)
            for i in range(0, len(ids), PATIENT_BATCH)
        ]
        return pl.concat(frames, how="vertical") if len(frames) > 1 else frames[0]

    def close(self) -> None:  # pragma: no cover - overridden
        return None

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- for subclasses ----------------------------------------------------------------------
    def _fetch(self, name: str, params: Mapping[str, Any]) -> pl.DataFrame:
        raise NotImplementedError

    def _run(self, name: str, params: Mapping[str, Any], schema: pl.Schema) -> pl.DataFrame:
        return conform(self._fetch(name, params), schema, f"{self.description}: query {name}")


def missing_object_hint(message: str) -> str:
    """The table or column name a database error message says is missing, as ``" (name)"``;
    only a plain SQL identifier is ever taken from the message (never a value)."""
    import re

    match = re.search(
        r'(?:column|Table with name|relation|table)\s+"?([A-Za-z_][A-Za-z0-9_.]*)"?', message
    )
    return f" (missing: {match.group(1)})" if match else ""


def _window(start: dt.date, end: dt.date) -> dict[str, dt.date]:
    for value in (start, end):
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            raise TypeError("study-date windows take datetime.date values")
    if end < start:
        raise ValueError(f"empty study-date window: end {end} is before start {start}")
    return {"start_date": start, "end_date": end}


#: Identifier columns, read without surrounding whitespace: a padded id (a CHAR column, a
#: hand-keyed row) matched no patient row, no specimen of its patient and no DICOM header.
ID_COLUMNS = frozenset(
    {"patient_id", "accession_number", "specimen_accession", "encounter_id", "study_instance_uid"}
)


def conform(frame: pl.DataFrame, schema: pl.Schema, where: str) -> pl.DataFrame:
    """``frame`` with exactly ``schema``'s columns, order and types, identifiers
    (:data:`ID_COLUMNS`) without surrounding whitespace.

    Missing columns raise :class:`WarehouseError` naming them (the warehouse view does not
    follow the documented schema). Time-zone-aware timestamps are converted to naive UTC.
    Cast failures never echo row values.
    """
    missing = [name for name in schema if name not in frame.columns]
    if missing:
        raise WarehouseError(
            f"{where}: the result lacks column(s) {', '.join(missing)}. Map the warehouse "
            "view onto the documented schema (see cadbusi_assets.records.schemas)."
        )
    columns = []
    for name, dtype in schema.items():
        column = pl.col(name)
        current = frame.schema[name]
        if isinstance(current, pl.Datetime) and current.time_zone is not None:
            column = column.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        column = column.cast(dtype)
        if name in ID_COLUMNS and dtype == pl.Utf8:
            column = column.str.strip_chars()
        columns.append(column.alias(name))
    try:
        return frame.select(columns)
    except (pl.exceptions.PolarsError, ValueError, TypeError):
        types = ", ".join(f"{n}: {frame.schema[n]}" for n in schema)
        raise WarehouseError(
            f"{where}: result columns do not convert to the documented types ({types})."
        ) from None
