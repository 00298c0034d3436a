"""Ground truth for the records side: what each report and specimen really says.

``ground_truth/records/exams.json`` lists every radiology exam with its true overall BI-RADS
(None where the report states none, e.g. a biopsy note), per-side categories, side, kind, the
lesions and ``planted_third_party`` (the relatives, staff, other patients, phone numbers and
addresses the report text names, :func:`cadbusi_demo.reports.planted_third_party`); ``specimens.json`` lists every specimen's parts with their diagnosis and malignancy.
Report parsers and label rules can be tested against these.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from cadbusi_demo import pathology, reports
from cadbusi_demo.plan import CohortPlan


def _dump(data) -> str:
    return json.dumps(data, sort_keys=True, indent=2) + "\n"


def exams_truth(plan: CohortPlan) -> list[dict]:
    return [
        {
            "accession_number": e.accession,
            "patient_id": e.patient_id,
            "encounter_id": e.encounter_id,
            "exam_datetime": e.exam_datetime.isoformat(),
            "modality": e.modality,
            "kind": e.kind,
            "side": e.side,
            "birads": e.birads,
            "side_birads": {side: category for side, category in e.side_birads},
            "findings": [asdict(f) | {"size_cm": list(f.size_cm)} for f in e.findings],
            "study_instance_uid": e.study_instance_uid,
            "duplicated_row": e.duplicated,
            "concordance": e.concordance,
            "planted_third_party": reports.planted_third_party(e.report_text),
        }
        for e in plan.exams
    ]


def specimens_truth(plan: CohortPlan) -> list[dict]:
    return [
        {
            "specimen_accession": s.specimen_accession,
            "patient_id": s.patient_id,
            "encounter_id": s.encounter_id,
            "received_at": s.received_at.isoformat(),
            "procedure_kind": s.procedure_kind,
            "malignant": pathology.is_malignant(s),
            "parts": [
                asdict(p)
                | {
                    "diagnosis_name": pathology.DIAGNOSES[p.diagnosis].name,
                    "malignant": pathology.DIAGNOSES[p.diagnosis].malignant,
                }
                for p in s.parts
            ],
        }
        for s in plan.specimens
    ]


def write_records_truth(folder: Path, plan: CohortPlan) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "exams.json").write_text(_dump(exams_truth(plan)))
    (folder / "specimens.json").write_text(_dump(specimens_truth(plan)))
