"""Plain records of the planned cohort: patients, findings, exams, pathology specimens."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

#: BI-RADS categories in severity order.
BIRADS_ORDER = ("0", "1", "2", "3", "4", "4A", "4B", "4C", "5", "6")


@dataclass(frozen=True)
class Patient:
    patient_id: str  # the MRN
    last_name: str
    first_name: str
    birth_date: dt.date
    sex: str  # 'F' or 'M'

    @property
    def pn(self) -> str:
        """DICOM person name ``LAST^FIRST``."""
        return f"{self.last_name}^{self.first_name}"

    def age_on(self, day: dt.date) -> int:
        years = day.year - self.birth_date.year
        return years - ((day.month, day.day) < (self.birth_date.month, self.birth_date.day))


@dataclass(frozen=True)
class Finding:
    """One lesion (or lymph node) as the radiologist describes it and the images show it."""

    side: str  # 'LEFT' | 'RIGHT'
    clock: str  # 'H:MM'
    distance_cm: float  # from the nipple
    size_cm: tuple[float, float, float]  # width x height x length
    kind: str  # 'cyst' | 'solid' | 'complex' | 'node'
    shape: str  # 'oval' | 'round' | 'irregular'
    margin: str  # 'circumscribed' | 'indistinct' | 'angular' | 'microlobulated' | 'spiculated'
    orientation: str  # 'parallel' | 'not parallel'
    echo: str  # 'anechoic' | 'hypoechoic' | 'isoechoic' | 'complex cystic and solid' | 'heterogeneous'
    posterior: str  # 'enhancement' | 'shadowing' | 'none'
    birads: str

    @property
    def body_area(self) -> str:
        return "axilla" if self.kind == "node" else "breast"


@dataclass(frozen=True)
class PathologyPart:
    letter: str
    side: str  # 'LEFT' | 'RIGHT'
    site: str  # 'breast' | 'axilla'
    clock: str | None
    distance_cm: float | None
    procedure: str  # e.g. 'ULTRASOUND-GUIDED CORE BIOPSY'
    diagnosis: str  # key of pathology.DIAGNOSES


@dataclass(frozen=True)
class Specimen:
    specimen_accession: str
    patient_id: str
    encounter_id: str
    received_at: dt.datetime
    parts: tuple[PathologyPart, ...]
    procedure_kind: str  # 'core biopsy' | 'excision' | 'lumpectomy'
    history: str
    signing_radiologist: tuple[str, str]

    @property
    def specimen_date(self) -> dt.date:
        return self.received_at.date()


@dataclass(frozen=True)
class Exam:
    """One radiology exam row (before rendering the report text)."""

    accession: str
    patient_id: str
    encounter_id: str
    exam_datetime: dt.datetime
    modality: str  # 'US' | 'MG'
    description: str
    laterality: str | None  # the warehouse column: sometimes NULL even when the side is known
    side: str | None  # the true side: 'LEFT' | 'RIGHT' | 'BILATERAL'
    kind: str
    birads: str | None  # overall category written in the report (None: none written)
    side_birads: tuple[tuple[str, str], ...]
    findings: tuple[Finding, ...]
    site: str
    radiologist: tuple[str, str]
    study_instance_uid: str | None
    report_text: str = ""
    duplicated: bool = False
    concordance: bool | None = None
    pathology_summary: str | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def exam_date(self) -> dt.date:
        return self.exam_datetime.date()
