"""Explicit polars schemas of the warehouse tables (the logical warehouse schema).

These are the columns every warehouse adapter returns, whatever the warehouse underneath:

- ``patients(patient_id, patient_name 'LAST^FIRST', birth_date, sex)``
- ``radiology_exams(accession_number, patient_id, encounter_id, exam_date, exam_datetime,
  modality 'US'/'MG'/..., exam_description, laterality LEFT/RIGHT/BILATERAL/NULL, report_text,
  report_status, study_instance_uid (PACS reference or NULL), site, radiologist)``
- ``pathology_specimens(specimen_accession, patient_id, encounter_id, specimen_date,
  received_at, part_description, diagnosis_name, final_diagnosis_text, synoptic_report)`` —
  fan-out: one row per (specimen, diagnosis_name).
"""

from __future__ import annotations

import polars as pl


def typed_schema(columns: dict[str, pl.DataType | type[pl.DataType]]) -> pl.Schema:
    """``pl.Schema(columns)``, typed so that type classes and instances can be mixed."""
    return pl.Schema(columns)


PATIENTS_SCHEMA = pl.Schema(
    {
        "patient_id": pl.Utf8,
        "patient_name": pl.Utf8,
        "birth_date": pl.Date,
        "sex": pl.Utf8,
    }
)

RADIOLOGY_SCHEMA = typed_schema(
    {
        "accession_number": pl.Utf8,
        "patient_id": pl.Utf8,
        "encounter_id": pl.Utf8,
        "exam_date": pl.Date,
        "exam_datetime": pl.Datetime("us"),
        "modality": pl.Utf8,
        "exam_description": pl.Utf8,
        "laterality": pl.Utf8,
        "report_text": pl.Utf8,
        "report_status": pl.Utf8,
        "study_instance_uid": pl.Utf8,
        "site": pl.Utf8,
        "radiologist": pl.Utf8,
    }
)

PATHOLOGY_SCHEMA = typed_schema(
    {
        "specimen_accession": pl.Utf8,
        "patient_id": pl.Utf8,
        "encounter_id": pl.Utf8,
        "specimen_date": pl.Date,
        "received_at": pl.Datetime("us"),
        "part_description": pl.Utf8,
        "diagnosis_name": pl.Utf8,
        "final_diagnosis_text": pl.Utf8,
        "synoptic_report": pl.Utf8,
    }
)

EXAM_COUNTS_SCHEMA = pl.Schema({"exam_date": pl.Date, "n_us_studies": pl.Int64})
SPECIMEN_COUNTS_SCHEMA = pl.Schema({"specimen_date": pl.Date, "n_specimens": pl.Int64})


def empty_frame(schema: pl.Schema) -> pl.DataFrame:
    """An empty frame with ``schema``."""
    return pl.DataFrame(schema=schema)
