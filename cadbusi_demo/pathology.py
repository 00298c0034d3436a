"""Surgical-pathology specimen text and the warehouse's fan-out rows.

A specimen note holds CLINICAL HISTORY, FINAL DIAGNOSIS with lettered parts
(``A. LEFT BREAST, 2:00, 3 CM FN, ULTRASOUND-GUIDED CORE BIOPSY:`` then ``- FIBROADENOMA.``),
COMMENT and GROSS DESCRIPTION (which, as in real notes, quotes the container label with the
patient's name). Malignant specimens also get a synoptic report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cadbusi_demo.model import PathologyPart, Patient, Specimen
from cadbusi_demo.reports import fmt_date


@dataclass(frozen=True)
class Diagnosis:
    name: str  # the warehouse DIAGNOSIS_NAME
    lines: tuple[str, ...]  # the '- ...' lines of a part
    malignant: bool
    high_risk: bool = False


DIAGNOSES: dict[str, Diagnosis] = {
    "idc": Diagnosis(
        "INVASIVE DUCTAL CARCINOMA",
        (
            "INVASIVE DUCTAL CARCINOMA, GRADE {grade}.",
            "DUCTAL CARCINOMA IN SITU (DCIS), INTERMEDIATE NUCLEAR GRADE, PRESENT.",
        ),
        True,
    ),
    "dcis": Diagnosis(
        "DUCTAL CARCINOMA IN SITU",
        (
            "DUCTAL CARCINOMA IN SITU (DCIS), HIGH NUCLEAR GRADE, SOLID TYPE, WITH COMEDONECROSIS.",
            "NO INVASIVE CARCINOMA IDENTIFIED.",
        ),
        True,
    ),
    "fibroadenoma": Diagnosis("FIBROADENOMA", ("FIBROADENOMA.",), False),
    "fibrocystic": Diagnosis(
        "FIBROCYSTIC CHANGES", ("FIBROCYSTIC CHANGES. NEGATIVE FOR MALIGNANCY.",), False
    ),
    "adh": Diagnosis(
        "ATYPICAL DUCTAL HYPERPLASIA",
        ("ATYPICAL DUCTAL HYPERPLASIA.", "COLUMNAR CELL CHANGE."),
        False,
        True,
    ),
    "lcis": Diagnosis(
        "LOBULAR CARCINOMA IN SITU",
        ("LOBULAR CARCINOMA IN SITU, CLASSIC TYPE.", "NEGATIVE FOR INVASIVE CARCINOMA."),
        False,
        True,
    ),
    "node_negative": Diagnosis(
        "BENIGN LYMPH NODE", ("ONE LYMPH NODE, NEGATIVE FOR METASTATIC CARCINOMA (0/1).",), False
    ),
    "node_metastatic": Diagnosis(
        "METASTATIC CARCINOMA", ("METASTATIC CARCINOMA, CONSISTENT WITH BREAST PRIMARY.",), True
    ),
    "excision_benign": Diagnosis(
        "BIOPSY SITE CHANGES",
        ("BIOPSY SITE CHANGES WITH FAT NECROSIS.", "NO RESIDUAL ATYPIA. NEGATIVE FOR MALIGNANCY."),
        False,
    ),
    "lumpectomy_idc": Diagnosis(
        "INVASIVE DUCTAL CARCINOMA",
        (
            "RESIDUAL INVASIVE DUCTAL CARCINOMA, GRADE {grade}, 1.1 CM.",
            "MARGINS NEGATIVE FOR CARCINOMA (CLOSEST 4 MM, POSTERIOR).",
            "BIOPSY SITE CHANGES.",
        ),
        True,
    ),
}


def part_header(part: PathologyPart) -> str:
    """``A. LEFT BREAST, 2:00, 3 CM FN, ULTRASOUND-GUIDED CORE BIOPSY:``"""
    if part.site == "axilla":
        where = f"{part.side} AXILLARY LYMPH NODE"
    else:
        where = f"{part.side} BREAST"
        if part.clock:
            where += f", {part.clock}"
        if part.distance_cm is not None:
            where += f", {part.distance_cm:g} CM FN"
    return f"{part.letter}. {where}, {part.procedure}:"


def _grade(specimen: Specimen) -> int:
    return 1 + int(specimen.specimen_accession[-1]) % 3


def diagnosis_lines(specimen: Specimen) -> list[str]:
    lines = ["FINAL DIAGNOSIS:"]
    for part in specimen.parts:
        lines.append(part_header(part))
        for line in DIAGNOSES[part.diagnosis].lines:
            lines.append(f"   - {line.format(grade=_grade(specimen))}")
    return lines


def is_malignant(specimen: Specimen) -> bool:
    return any(DIAGNOSES[p.diagnosis].malignant for p in specimen.parts)


def summary(specimen: Specimen) -> str:
    """The one-line pathology result quoted in a biopsy addendum."""
    return " ".join(
        f"{p.letter}. {p.side} {'AXILLA' if p.site == 'axilla' else 'BREAST'}"
        f"{' ' + p.clock if p.clock else ''}: "
        + " ".join(line.format(grade=_grade(specimen)) for line in DIAGNOSES[p.diagnosis].lines[:1])
        for p in specimen.parts
    )


def synoptic_report(specimen: Specimen, rng: np.random.Generator) -> str | None:
    """A CAP-style synoptic block for malignant specimens, else None."""
    malignant = [
        p for p in specimen.parts if DIAGNOSES[p.diagnosis].malignant and p.site == "breast"
    ]
    if not malignant:
        return None
    part = malignant[0]
    dcis_only = part.diagnosis == "dcis"
    er, pr = int(rng.integers(0, 20)) * 5, int(rng.integers(0, 20)) * 5
    her2 = ("0 (Negative)", "1+ (Negative)", "2+ (Equivocal)", "3+ (Positive)")[
        int(rng.integers(4))
    ]
    lines = [
        "SYNOPTIC REPORT - "
        + ("DCIS OF THE BREAST" if dcis_only else "INVASIVE CARCINOMA OF THE BREAST"),
        f"Procedure: {specimen.procedure_kind.capitalize()}",
        f"Specimen Laterality: {part.side.capitalize()}",
        "Histologic Type: "
        + (
            "Ductal carcinoma in situ"
            if dcis_only
            else "Invasive carcinoma of no special type (ductal)"
        ),
    ]
    if not dcis_only:
        lines.append(f"Histologic Grade (Nottingham): Grade {_grade(specimen)}")
        lines.append("Lymphovascular Invasion: Not identified")
    lines += [
        f"Estrogen Receptor (ER): {'Positive' if er >= 1 else 'Negative'} ({er}%)",
        f"Progesterone Receptor (PgR): {'Positive' if pr >= 1 else 'Negative'} ({pr}%)",
    ]
    if not dcis_only:
        lines += [f"HER2 (IHC): {her2}", f"Ki-67: {int(rng.integers(5, 60))}%"]
    return "\n".join(lines)


def specimen_text(specimen: Specimen, patient: Patient, rng: np.random.Generator) -> str:
    """The whole specimen note (the warehouse ``final_diagnosis_text``)."""
    first, last = specimen.signing_radiologist
    label = f"{patient.last_name}, {patient.first_name}"
    sides = sorted({p.side.lower() for p in specimen.parts})
    lines = ["SURGICAL PATHOLOGY REPORT", f"CLINICAL HISTORY: {specimen.history}", ""]
    lines += diagnosis_lines(specimen)
    lines.append("")
    if is_malignant(specimen):
        comment = (
            f"The diagnosis was communicated to Dr. {first} {last} on "
            f"{fmt_date(specimen.specimen_date)}. Prognostic markers are reported below."
        )
    elif any(DIAGNOSES[p.diagnosis].high_risk for p in specimen.parts):
        comment = (
            "High-risk lesion. Correlation with imaging and surgical consultation recommended."
        )
    else:
        comment = "The findings are benign. Correlation with imaging findings is recommended."
    lines += [f"COMMENT: {comment}", ""]
    lines.append("GROSS DESCRIPTION:")
    for part in specimen.parts:
        pieces = int(rng.integers(3, 7))
        lines.append(
            f"{part.letter}. Received in formalin, labeled with the patient's name "
            f'"{label}" and "{part.side.lower()} {part.site}", are {pieces} tan-white '
            "cores of tissue, entirely submitted."
        )
    lines.append(f"Sides sampled: {', '.join(sides)}.")
    return "\n".join(lines)


def specimen_rows(specimen: Specimen, patient: Patient, rng: np.random.Generator) -> list[dict]:
    """Warehouse rows: one per (specimen, diagnosis_name), the full text repeated."""
    text = specimen_text(specimen, patient, rng)
    synoptic = synoptic_report(specimen, rng)
    rows: list[dict] = []
    seen: set[str] = set()
    for part in specimen.parts:
        name = DIAGNOSES[part.diagnosis].name
        if name in seen:
            continue
        seen.add(name)
        rows.append(
            {
                "specimen_accession": specimen.specimen_accession,
                "patient_id": specimen.patient_id,
                "encounter_id": specimen.encounter_id,
                "specimen_date": specimen.specimen_date,
                "received_at": specimen.received_at,
                "part_description": part_header(part).rstrip(":"),
                "diagnosis_name": name,
                "final_diagnosis_text": text,
                "synoptic_report": synoptic,
            }
        )
    return rows
