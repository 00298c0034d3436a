"""The synthetic clinical warehouse: a DuckDB file with three tables.

The schema below is a contract (the warehouse adapter is written against it): names, order and
types must not change.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from cadbusi_demo.plan import CohortPlan

#: Table name -> ordered (column, DuckDB type).
WAREHOUSE_SCHEMA: dict[str, tuple[tuple[str, str], ...]] = {
    "patients": (
        ("patient_id", "VARCHAR"),
        ("patient_name", "VARCHAR"),
        ("birth_date", "DATE"),
        ("sex", "VARCHAR"),
    ),
    "radiology_exams": (
        ("accession_number", "VARCHAR"),
        ("patient_id", "VARCHAR"),
        ("encounter_id", "VARCHAR"),
        ("exam_date", "DATE"),
        ("exam_datetime", "TIMESTAMP"),
        ("modality", "VARCHAR"),
        ("exam_description", "VARCHAR"),
        ("laterality", "VARCHAR"),
        ("report_text", "VARCHAR"),
        ("report_status", "VARCHAR"),
        ("study_instance_uid", "VARCHAR"),
        ("site", "VARCHAR"),
        ("radiologist", "VARCHAR"),
    ),
    "pathology_specimens": (
        ("specimen_accession", "VARCHAR"),
        ("patient_id", "VARCHAR"),
        ("encounter_id", "VARCHAR"),
        ("specimen_date", "DATE"),
        ("received_at", "TIMESTAMP"),
        ("part_description", "VARCHAR"),
        ("diagnosis_name", "VARCHAR"),
        ("final_diagnosis_text", "VARCHAR"),
        ("synoptic_report", "VARCHAR"),
    ),
}

_POLARS_TYPES: dict[str, pl.DataType | type[pl.DataType]] = {
    "VARCHAR": pl.String,
    "DATE": pl.Date,
    "TIMESTAMP": pl.Datetime("us"),
}


def _frame(table: str, rows: list[dict]) -> pl.DataFrame:
    schema = {name: _POLARS_TYPES[kind] for name, kind in WAREHOUSE_SCHEMA[table]}
    return pl.DataFrame(rows, schema=schema, orient="row")


def warehouse_frames(plan: CohortPlan) -> dict[str, pl.DataFrame]:
    """The three tables as typed polars frames, rows in a stable order."""
    from cadbusi_demo.names import radiologist_label

    patients = [
        {"patient_id": p.patient_id, "patient_name": p.pn, "birth_date": p.birth_date, "sex": p.sex}
        for p in plan.patients
    ]
    exams: list[dict] = []
    for e in plan.exams:
        row = {
            "accession_number": e.accession,
            "patient_id": e.patient_id,
            "encounter_id": e.encounter_id,
            "exam_date": e.exam_date,
            "exam_datetime": e.exam_datetime,
            "modality": e.modality,
            "exam_description": e.description,
            "laterality": e.laterality,
            "report_text": e.report_text,
            "report_status": "FINAL",
            "study_instance_uid": e.study_instance_uid,
            "site": e.site,
            "radiologist": radiologist_label(*e.radiologist),
        }
        exams.append(row)
        if e.duplicated:  # a join fan-out in the source system
            exams.append(dict(row))
    return {
        "patients": _frame("patients", patients),
        "radiology_exams": _frame("radiology_exams", exams),
        "pathology_specimens": _frame("pathology_specimens", list(plan.specimen_rows)),
    }


def write_warehouse(path: Path, plan: CohortPlan) -> dict[str, int]:
    """Create ``path`` (must not exist) with the three tables; returns row counts."""
    counts: dict[str, int] = {}
    with duckdb.connect(str(path)) as con:
        for table, frame in warehouse_frames(plan).items():
            columns = ", ".join(f"{name} {kind}" for name, kind in WAREHOUSE_SCHEMA[table])
            con.execute(f"CREATE TABLE {table} ({columns})")
            con.register("incoming", frame.to_arrow())
            con.execute(f"INSERT INTO {table} SELECT * FROM incoming")
            con.unregister("incoming")
            counts[table] = frame.height
    return counts
