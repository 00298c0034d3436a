"""Small synthetic warehouse rows for the records tests (invented people, invented reports)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from cadbusi_assets.records.schemas import PATHOLOGY_SCHEMA, PATIENTS_SCHEMA, RADIOLOGY_SCHEMA

D = dt.date

US_SUSPICIOUS = """EXAM: US BREAST LEFT LIMITED
CLINICAL HISTORY: Palpable lump. Patient: ZEBRA^QUILLA MRN: 90000001
FINDINGS:
Left breast 2:00, 3 cm from the nipple: irregular hypoechoic mass with angular margins,
not parallel, with posterior shadowing, measuring 1.4 x 1.1 x 1.0 cm.
IMPRESSION:
Suspicious mass in the left breast at 2:00.
BI-RADS Category 4B: Suspicious
RECOMMENDATION: Ultrasound-guided core biopsy.
Dictated by: Dr. Orville Pembrook"""

US_BENIGN = """FINDINGS: Oval circumscribed anechoic cyst at 10:00 with posterior enhancement.
IMPRESSION: Simple cyst. ASSESSMENT: BI-RADS 2 - Benign"""

MG_BILATERAL = """DENSITY: Scattered areas of fibroglandular density.
FINDINGS: No suspicious mass.
IMPRESSION: BI-RADS® 1: Negative"""

PATHOLOGY_TEXT = """FINAL DIAGNOSIS:
A. LEFT BREAST, 2:00, 3 CM FN, ULTRASOUND-GUIDED CORE BIOPSY:
- INVASIVE DUCTAL CARCINOMA, GRADE 2.
COMMENT: Called to the clinic."""


def _frame(rows: list[dict[str, Any]], schema: pl.Schema) -> pl.DataFrame:
    return pl.DataFrame(
        [{c: row.get(c) for c in schema} for row in rows], schema=schema, orient="row"
    )


def radiology_rows() -> pl.DataFrame:
    """Exams over 2024-03-01..2024-03-04 with boundary days, a mammogram, a missing PACS
    reference and a fan-out duplicate."""
    base = {"site": "MAIN", "radiologist": "RAD1", "report_status": "FINAL", "encounter_id": None}
    rows = [
        dict(
            base,
            accession_number="ACC0001",
            patient_id="MRN0001",
            encounter_id="ENC01",
            exam_date=D(2024, 3, 1),
            exam_datetime=dt.datetime(2024, 3, 1, 9, 30),
            modality="US",
            exam_description="US BREAST LEFT LIMITED",
            laterality="LEFT",
            report_text=US_SUSPICIOUS,
            study_instance_uid="1.2.826.0.1.3680043.8.498.1",
        ),
        dict(
            base,
            accession_number="ACC0002",
            patient_id="MRN0002",
            exam_date=D(2024, 3, 2),
            exam_datetime=dt.datetime(2024, 3, 2, 8, 0),
            modality="US",
            exam_description="US BREAST RIGHT",
            laterality=None,
            report_text=US_BENIGN,
            study_instance_uid="1.2.826.0.1.3680043.8.498.2",
        ),
        dict(
            base,
            accession_number="ACC0003",
            patient_id="MRN0002",
            exam_date=D(2024, 3, 2),
            exam_datetime=dt.datetime(2024, 3, 2, 7, 0),
            modality="MG",
            exam_description="MG DIAGNOSTIC BILATERAL",
            laterality="BILATERAL",
            report_text=MG_BILATERAL,
            study_instance_uid="1.2.826.0.1.3680043.8.498.3",
        ),
        dict(
            base,
            accession_number="ACC0004",
            patient_id="MRN0003",
            exam_date=D(2024, 3, 3),
            exam_datetime=dt.datetime(2024, 3, 3, 12, 0),
            modality="US",
            exam_description="US BREAST BILATERAL",
            laterality="BILATERAL",
            report_text=US_BENIGN,
            study_instance_uid=None,
        ),
        dict(
            base,
            accession_number="ACC0005",
            patient_id="MRN0003",
            exam_date=D(2024, 3, 3),
            exam_datetime=dt.datetime(2024, 3, 3, 13, 0),
            modality="US",
            exam_description="US BREAST LEFT",
            laterality="LEFT",
            report_text=US_BENIGN,
            study_instance_uid="1.2.826.0.1.3680043.8.498.5",
        ),
        dict(
            base,
            accession_number="ACC0005",
            patient_id="MRN0003",
            exam_date=D(2024, 3, 3),
            exam_datetime=dt.datetime(2024, 3, 3, 13, 0),
            modality="US",
            exam_description="US BREAST LEFT",
            laterality="LEFT",
            report_text=US_BENIGN,
            study_instance_uid="1.2.826.0.1.3680043.8.498.5",
        ),
        dict(
            base,
            accession_number="ACC0006",
            patient_id="MRN0001",
            encounter_id="ENC02",
            exam_date=D(2024, 3, 4),
            exam_datetime=dt.datetime(2024, 3, 4, 23, 59, 59),
            modality="US",
            exam_description="US GUIDED CORE BIOPSY LEFT BREAST",
            laterality="LEFT",
            report_text="PROCEDURE: US guided core biopsy left 2:00.\nIMPRESSION: BI-RADS 4B",
            study_instance_uid="1.2.826.0.1.3680043.8.498.6",
        ),
    ]
    return _frame(rows, RADIOLOGY_SCHEMA)


def pathology_rows() -> pl.DataFrame:
    rows = [
        dict(
            specimen_accession="SP0001",
            patient_id="MRN0001",
            encounter_id="ENC02",
            specimen_date=D(2024, 3, 4),
            received_at=dt.datetime(2024, 3, 4, 16, 0),
            part_description="Left breast",
            diagnosis_name="Invasive ductal carcinoma",
            final_diagnosis_text=PATHOLOGY_TEXT,
            synoptic_report=None,
        ),
        dict(
            specimen_accession="SP0001",
            patient_id="MRN0001",
            encounter_id="ENC02",
            specimen_date=D(2024, 3, 4),
            received_at=dt.datetime(2024, 3, 4, 16, 0),
            part_description="Left breast",
            diagnosis_name="Ductal carcinoma in situ",
            final_diagnosis_text=PATHOLOGY_TEXT,
            synoptic_report=None,
        ),
        dict(
            specimen_accession="SP0002",
            patient_id="MRN0002",
            encounter_id=None,
            specimen_date=D(2024, 3, 2),
            received_at=dt.datetime(2024, 3, 2, 10, 0),
            part_description="Right breast",
            diagnosis_name="Fibroadenoma",
            final_diagnosis_text="FINAL DIAGNOSIS:\nA. RIGHT BREAST, CORE BIOPSY:\n- FIBROADENOMA.",
            synoptic_report=None,
        ),
    ]
    return _frame(rows, PATHOLOGY_SCHEMA)


def patient_rows() -> pl.DataFrame:
    rows = [
        dict(patient_id="MRN0001", patient_name="ZEBRA^QUILLA", birth_date=D(1970, 5, 6), sex="F"),
        dict(patient_id="MRN0002", patient_name="YAK^PERPETUA", birth_date=D(1981, 1, 2), sex="F"),
        dict(
            patient_id="MRN0003", patient_name="XERUS^OTTILIE", birth_date=D(1965, 12, 31), sex="F"
        ),
    ]
    return _frame(rows, PATIENTS_SCHEMA)


def exams(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """A radiology frame from partial rows (defaults: US, LEFT, report from ``birads``)."""
    filled = []
    for i, row in enumerate(rows):
        full = {
            "accession_number": f"A{i:04d}",
            "patient_id": "P1",
            "encounter_id": None,
            "exam_datetime": None,
            "modality": "US",
            "exam_description": "US BREAST",
            "laterality": "LEFT",
            "report_text": None,
            "report_status": "FINAL",
            "study_instance_uid": f"1.2.3.{i}",
            "site": None,
            "radiologist": None,
        }
        full.update(row)
        if full["report_text"] is None and "birads" in row:
            full["report_text"] = f"IMPRESSION: BI-RADS {row['birads']}"
        filled.append(full)
    return _frame(filled, RADIOLOGY_SCHEMA)


def specimens(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """A pathology frame from partial rows (``text`` becomes the final diagnosis)."""
    filled = []
    for i, row in enumerate(rows):
        full = {
            "specimen_accession": f"S{i:04d}",
            "patient_id": "P1",
            "encounter_id": None,
            "received_at": None,
            "part_description": None,
            "diagnosis_name": None,
            "final_diagnosis_text": row.get("text"),
            "synoptic_report": None,
        }
        full.update({k: v for k, v in row.items() if k != "text"})
        filled.append(full)
    return _frame(filled, PATHOLOGY_SCHEMA)
