"""The cohort plan: who comes in on which day, what is found, what pathology says.

Each day gets ``studies_per_day`` US breast studies. Pending follow-ups (biopsies after a
suspicious exam, short-interval follow-ups after BI-RADS 3, staging exams after a cancer
diagnosis) take the day's slots first; new patients fill the rest. Mammograms, pathology-only
surgeries and the cohort edge cases come on top. Everything derives from the seed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from cadbusi_demo import names, pathology, reports
from cadbusi_demo.config import DemoConfig
from cadbusi_demo.findings import make_finding
from cadbusi_demo.ids import IdentifierPool, child_rng, derive_uid
from cadbusi_demo.model import BIRADS_ORDER, Exam, Finding, PathologyPart, Patient, Specimen

#: How often each kind of new patient arrives.
CASE_WEIGHTS = {
    "negative": 0.13,
    "benign": 0.24,
    "probably_benign": 0.14,
    "suspicious_benign": 0.19,
    "suspicious_malignant": 0.14,
    "known_cancer": 0.05,
    "bilateral": 0.08,
    "male": 0.03,
}
#: The edge cases, each planted once, spread over the date range.
EDGE_CASES = ("outside_read", "axilla_only", "birads_0", "missing_pacs", "duplicate_row")
CORE_BIOPSY = "ULTRASOUND-GUIDED CORE BIOPSY"


@dataclass(frozen=True)
class CohortPlan:
    config: DemoConfig
    patients: tuple[Patient, ...]
    exams: tuple[Exam, ...]  # sorted by time; a duplicated row appears once here
    specimens: tuple[Specimen, ...]
    specimen_rows: tuple[dict, ...]

    def patient(self, patient_id: str) -> Patient:
        return self._by_id[patient_id]

    @property
    def _by_id(self) -> dict[str, Patient]:
        return {p.patient_id: p for p in self.patients}

    def pacs_exams(self) -> list[Exam]:
        """US exams that have a study in the folder PACS."""
        return [e for e in self.exams if e.study_instance_uid is not None]


def worst(categories) -> str:
    return max(categories, key=BIRADS_ORDER.index)


@dataclass
class _Case:
    patient: Patient
    findings: tuple[Finding, ...]
    diagnoses: tuple[str, ...] = ()  # pathology key per biopsied finding
    concordant: bool = True


class _Planner:
    def __init__(self, config: DemoConfig) -> None:
        self.config = config
        self.rng = child_rng(config.seed, "plan")
        self.ids = IdentifierPool(child_rng(config.seed, "identifiers"))
        self.patients: list[Patient] = []
        self.exams: list[Exam] = []
        self.specimens: list[Specimen] = []
        self.specimen_rows: list[dict] = []
        self.pending_us: list[tuple[dt.date, int, Callable[[dt.date], None]]] = []
        self.pending_free: list[tuple[dt.date, int, Callable[[dt.date], None]]] = []
        self._sequence = 0
        self._names: set[tuple[str, str]] = set()
        self._site_turn = 0

    # ---- small helpers -------------------------------------------------------------------
    def pick(self, options):
        return options[int(self.rng.integers(len(options)))]

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def at(self, day: dt.date, earliest: float = 7.5, latest: float = 16.5) -> dt.datetime:
        minutes = int(self.rng.integers(int(earliest * 60), int(latest * 60)))
        return dt.datetime.combine(
            day, dt.time(minutes // 60, minutes % 60, int(self.rng.integers(60)))
        )

    def later(
        self, day: dt.date, low: int, high: int, pending: list, fn: Callable[[dt.date], None]
    ) -> None:
        self._sequence += 1
        pending.append(
            (day + dt.timedelta(days=int(self.rng.integers(low, high + 1))), self._sequence, fn)
        )

    def new_patient(self, sex: str = "F") -> Patient:
        first_names = names.FEMALE_FIRST_NAMES if sex == "F" else names.MALE_FIRST_NAMES
        while True:
            pair = (self.pick(names.LAST_NAMES), self.pick(first_names))
            if pair not in self._names:
                self._names.add(pair)
                break
        age_days = int(self.rng.integers(28 * 365, 85 * 365))
        patient = Patient(
            self.ids.mrn(), pair[0], pair[1], self.config.start - dt.timedelta(days=age_days), sex
        )
        self.patients.append(patient)
        return patient

    def next_site(self) -> names.Site:
        site = names.SITES[self._site_turn % len(names.SITES)]
        self._site_turn += 1
        return site

    # ---- exams ---------------------------------------------------------------------------
    def add_exam(
        self,
        patient: Patient,
        when: dt.datetime,
        modality: str,
        description: str,
        side: str | None,
        kind: str,
        birads: str | None,
        findings: tuple[Finding, ...],
        *,
        encounter: str | None = None,
        site: str | None = None,
        in_pacs: bool | None = None,
        side_birads: tuple[tuple[str, str], ...] = (),
        duplicated: bool = False,
        concordance: bool | None = None,
        pathology_summary: str | None = None,
        addendum: dt.date | None = None,
        tags: tuple[str, ...] = (),
    ) -> Exam:
        accession = self.ids.accession()
        if in_pacs is None:
            in_pacs = modality == "US"
        if site is None:
            site = self.next_site().name if modality == "US" else self.pick(names.SITES).name
        laterality = side if not self.chance(0.15) else None
        exam = Exam(
            accession=accession,
            patient_id=patient.patient_id,
            encounter_id=encounter or self.ids.encounter(),
            exam_datetime=when,
            modality=modality,
            description=description,
            laterality=laterality,
            side=side,
            kind=kind,
            birads=birads,
            side_birads=side_birads,
            findings=findings,
            site=site,
            radiologist=self.pick(names.RADIOLOGISTS),
            study_instance_uid=derive_uid(self.config.seed, "study", accession)
            if in_pacs
            else None,
            duplicated=duplicated,
            concordance=concordance,
            pathology_summary=pathology_summary,
            tags=tags,
        )
        rng = child_rng(self.config.seed, "report", accession)
        if modality == "MG":
            text = reports.mg_report(exam, patient, rng)
        elif kind == "biopsy":
            text = reports.biopsy_report(exam, patient, rng, addendum)
        else:
            text = reports.us_report(exam, patient, rng)
        exam = replace(exam, report_text=text)
        self.exams.append(exam)
        return exam

    def us_description(self, side: str) -> str:
        if side == "BILATERAL":
            return "US BREAST BILATERAL" + (" COMPLETE" if self.chance(0.3) else "")
        return f"US BREAST {side} {'LIMITED' if self.chance(0.65) else 'COMPLETE'}"

    def diagnostic_us(
        self,
        case: _Case,
        day: dt.date,
        side: str,
        birads: str,
        *,
        kind: str = "diagnostic",
        same_day_mammo: float = 0.35,
        **extra,
    ) -> Exam:
        when = self.at(day, 8.0, 16.0)
        encounter = self.ids.encounter()
        if case.patient.sex == "F" and self.chance(same_day_mammo):
            self.add_exam(
                case.patient,
                when - dt.timedelta(minutes=int(self.rng.integers(20, 70))),
                "MG",
                "MAMMO DIAGNOSTIC BILATERAL",
                "BILATERAL",
                "diagnostic_mg",
                birads,
                case.findings,
                encounter=encounter,
            )
        side_birads = extra.pop("side_birads", ())
        return self.add_exam(
            case.patient,
            when,
            "US",
            extra.pop("description", None) or self.us_description(side),
            side,
            kind,
            birads,
            case.findings,
            encounter=encounter,
            side_birads=side_birads,
            **extra,
        )

    def screening_callback(self, patient: Patient, day: dt.date, side: str) -> None:
        """A screening mammogram a few days earlier (when still inside the range)."""
        earlier = day - dt.timedelta(days=int(self.rng.integers(3, 11)))
        if earlier >= self.config.start:
            self.add_exam(
                patient,
                self.at(earlier),
                "MG",
                "MAMMO SCREENING BILATERAL TOMO",
                "BILATERAL",
                "screening_mg",
                "0",
                (),
                tags=(f"callback:{side}",),
            )

    # ---- pathology -----------------------------------------------------------------------
    def add_specimen(
        self,
        patient: Patient,
        encounter: str,
        taken: dt.datetime,
        parts: tuple[PathologyPart, ...],
        procedure_kind: str,
        history: str,
    ) -> Specimen:
        received = taken + dt.timedelta(minutes=int(self.rng.integers(60, 240)))
        if received.hour >= 17 or self.chance(0.15):
            received = dt.datetime.combine(
                taken.date() + dt.timedelta(days=1), dt.time(8, int(self.rng.integers(0, 60)))
            )
        specimen = Specimen(
            self.ids.specimen(received.year),
            patient.patient_id,
            encounter,
            received,
            parts,
            procedure_kind,
            history,
            self.pick(names.RADIOLOGISTS),
        )
        self.specimens.append(specimen)
        rng = child_rng(self.config.seed, "pathology", specimen.specimen_accession)
        self.specimen_rows.extend(pathology.specimen_rows(specimen, patient, rng))
        return specimen

    def biopsy(self, case: _Case, day: dt.date) -> None:
        targets = case.findings if len(case.diagnoses) == len(case.findings) else case.findings[-1:]
        sides = sorted({f.side for f in targets})
        side = sides[0] if len(sides) == 1 else "BILATERAL"
        when = self.at(day, 9.0, 15.5)
        encounter = self.ids.encounter()
        parts = [
            PathologyPart(
                chr(ord("A") + i),
                f.side,
                "axilla" if f.kind == "node" else "breast",
                f.clock,
                f.distance_cm,
                CORE_BIOPSY,
                diagnosis,
            )
            for i, (f, diagnosis) in enumerate(
                zip(targets, case.diagnoses[-len(targets) :], strict=True)
            )
        ]
        malignant = any(pathology.DIAGNOSES[p.diagnosis].malignant for p in parts)
        if malignant and len(parts) == 1 and self.chance(0.4):
            node = "node_metastatic" if self.chance(0.5) else "node_negative"
            parts.append(PathologyPart("B", parts[0].side, "axilla", None, None, CORE_BIOPSY, node))
        history = "; ".join(
            f"{f.side} breast mass at {f.clock}, BI-RADS {f.birads}" for f in targets
        )
        specimen = self.add_specimen(
            case.patient, encounter, when, tuple(parts), "core biopsy", history
        )
        addendum = specimen.specimen_date + dt.timedelta(days=int(self.rng.integers(1, 4)))
        birads = "6" if malignant and case.concordant and self.chance(0.5) else None
        self.add_exam(
            case.patient,
            when,
            "US",
            f"US BIOPSY BREAST {side} CORE W US GUIDANCE",
            side,
            "biopsy",
            birads,
            tuple(targets),
            encounter=encounter,
            site=names.SITES[0].name,
            concordance=case.concordant,
            pathology_summary=pathology.summary(specimen),
            addendum=addendum,
        )
        if malignant:
            if self.chance(0.5):
                self.later(day, 5, 15, self.pending_us, lambda d: self.staging_us(case, d))
            if self.chance(0.4):
                self.later(
                    day, 14, 25, self.pending_free, lambda d: self.surgery(case, d, "lumpectomy")
                )
        elif (
            not case.concordant or any(pathology.DIAGNOSES[p.diagnosis].high_risk for p in parts)
        ) and self.chance(0.6):
            self.later(day, 14, 21, self.pending_free, lambda d: self.surgery(case, d, "excision"))

    def surgery(self, case: _Case, day: dt.date, kind: str) -> None:
        finding = case.findings[-1]
        malignant = any(pathology.DIAGNOSES[d].malignant for d in case.diagnoses)
        procedure = "WIRE-LOCALIZED LUMPECTOMY" if kind == "lumpectomy" else "EXCISIONAL BIOPSY"
        parts = [
            PathologyPart(
                "A",
                finding.side,
                "breast",
                None,
                None,
                procedure,
                "lumpectomy_idc" if malignant else "excision_benign",
            )
        ]
        if kind == "lumpectomy":
            parts.append(
                PathologyPart(
                    "B",
                    finding.side,
                    "axilla",
                    None,
                    None,
                    "SENTINEL LYMPH NODE EXCISION",
                    "node_negative",
                )
            )
        self.add_specimen(
            case.patient,
            self.ids.encounter(),
            self.at(day, 8.0, 14.0),
            tuple(parts),
            kind,
            f"{finding.side} breast lesion, prior core biopsy.",
        )

    def staging_us(self, case: _Case, day: dt.date) -> None:
        known = tuple(replace(f, birads="6") for f in case.findings if f.birads not in {"2", "3"})
        staged = _Case(case.patient, known or case.findings, case.diagnoses)
        self.diagnostic_us(
            staged, day, staged.findings[-1].side, "6", kind="known_cancer", same_day_mammo=0.0
        )

    # ---- new patients --------------------------------------------------------------------
    def new_case(self, day: dt.date, kind: str) -> None:
        side = self.pick(("LEFT", "RIGHT"))
        if kind == "male":
            case = _Case(self.new_patient("M"), ())
            self.diagnostic_us(case, day, side, self.pick(("1", "2")), same_day_mammo=0.0)
            return
        patient = self.new_patient()
        if kind == "negative":
            case = _Case(patient, ())
            self.screening_callback(patient, day, side)
            self.diagnostic_us(case, day, side, "1")
        elif kind == "benign":
            case = _Case(patient, (make_finding(self.rng, side, "2"),))
            self.diagnostic_us(case, day, side, "2")
        elif kind == "probably_benign":
            case = _Case(patient, (make_finding(self.rng, side, "3"),))
            self.diagnostic_us(case, day, side, "3")
            self.later(day, 10, 24, self.pending_us, lambda d: self.followup(case, d))
        elif kind in {"suspicious_benign", "suspicious_malignant"}:
            malignant = kind == "suspicious_malignant"
            birads = self.pick(("4C", "5", "4B")) if malignant else self.pick(("4A", "4A", "4B"))
            finding = make_finding(self.rng, side, birads)
            if malignant:
                diagnosis = self.pick(("idc", "idc", "idc", "dcis"))
            else:
                diagnosis = self.pick(
                    ("fibroadenoma", "fibroadenoma", "fibrocystic", "adh", "lcis")
                )
            case = _Case(
                patient, (finding,), (diagnosis,), concordant=malignant or self.chance(0.85)
            )
            if self.chance(0.5):
                self.screening_callback(patient, day, side)
            self.diagnostic_us(case, day, side, birads, same_day_mammo=0.5)
            self.later(day, 2, 10, self.pending_us, lambda d: self.biopsy(case, d))
        elif kind == "known_cancer":
            finding = make_finding(self.rng, side, "6")
            case = _Case(patient, (finding,), ("idc",))
            prior = self.config.start - dt.timedelta(days=int(self.rng.integers(20, 90)))
            self.add_specimen(
                patient,
                self.ids.encounter(),
                self.at(prior),
                (
                    PathologyPart(
                        "A", side, "breast", finding.clock, finding.distance_cm, CORE_BIOPSY, "idc"
                    ),
                ),
                "core biopsy",
                f"{side} breast mass at {finding.clock}, BI-RADS 5",
            )
            self.diagnostic_us(case, day, side, "6", kind="known_cancer", same_day_mammo=0.0)
            if self.chance(0.5):
                self.later(
                    day, 7, 20, self.pending_free, lambda d: self.surgery(case, d, "lumpectomy")
                )
        elif kind == "bilateral":
            first, second = ("RIGHT", "LEFT") if self.chance(0.5) else ("LEFT", "RIGHT")
            both_suspicious = self.chance(0.3)
            first_birads = self.pick(("4A", "4B")) if both_suspicious else "2"
            second_birads = self.pick(("4B", "4C", "5"))
            findings = (
                make_finding(self.rng, first, first_birads),
                make_finding(self.rng, second, second_birads),
            )
            malignant = self.chance(0.5)
            second_dx = (
                self.pick(("idc", "dcis"))
                if malignant
                else self.pick(("fibroadenoma", "fibrocystic"))
            )
            diagnoses = (
                (self.pick(("fibroadenoma", "fibrocystic")), second_dx)
                if both_suspicious
                else (second_dx,)
            )
            case = _Case(patient, findings, diagnoses)
            side_birads = tuple(
                sorted(
                    ((first, first_birads), (second, second_birads)), key=lambda s: s[0] != "RIGHT"
                )
            )
            self.diagnostic_us(
                case,
                day,
                "BILATERAL",
                worst((first_birads, second_birads)),
                side_birads=side_birads,
            )
            self.later(day, 3, 12, self.pending_us, lambda d: self.biopsy(case, d))
        else:  # pragma: no cover - CASE_WEIGHTS and this switch move together
            raise ValueError(kind)

    def followup(self, case: _Case, day: dt.date) -> None:
        stable = tuple(replace(f, birads="2") for f in case.findings)
        self.diagnostic_us(
            _Case(case.patient, stable),
            day,
            stable[0].side,
            "2",
            kind="followup",
            same_day_mammo=0.0,
        )

    def edge_case(self, day: dt.date, kind: str) -> None:
        patient = self.new_patient()
        side = self.pick(("LEFT", "RIGHT"))
        if kind == "outside_read":
            case = _Case(patient, (make_finding(self.rng, "RIGHT", "3"),))
            self.diagnostic_us(
                case,
                day,
                "RIGHT",
                "3",
                kind="outside",
                same_day_mammo=0.0,
                description="OUTSIDE FILM READ US BREAST RIGHT",
                site=names.OUTSIDE_SITE.name,
            )
        elif kind == "axilla_only":
            case = _Case(patient, (make_finding(self.rng, "LEFT", "2", kind="node"),))
            self.diagnostic_us(
                case,
                day,
                "LEFT",
                "2",
                kind="axilla",
                same_day_mammo=0.0,
                description="US AXILLA LEFT",
            )
        elif kind == "birads_0":
            self.diagnostic_us(
                _Case(patient, ()),
                day,
                "RIGHT",
                "0",
                kind="incomplete",
                same_day_mammo=0.0,
                description="US BREAST RIGHT LIMITED",
            )
        elif kind == "missing_pacs":
            case = _Case(patient, (make_finding(self.rng, side, "2"),))
            self.diagnostic_us(
                case,
                day,
                side,
                "2",
                same_day_mammo=0.0,
                in_pacs=False,
                description=f"US BREAST {side} LIMITED",
            )
        elif kind == "duplicate_row":
            case = _Case(patient, (make_finding(self.rng, side, "2"),))
            self.diagnostic_us(case, day, side, "2", same_day_mammo=0.0, duplicated=True)
        else:  # pragma: no cover
            raise ValueError(kind)

    # ---- the calendar --------------------------------------------------------------------
    def run(self) -> CohortPlan:
        days = self.config.dates()
        kinds, weights = zip(*CASE_WEIGHTS.items(), strict=True)
        probabilities = np.asarray(weights) / sum(weights)
        edges: dict[int, list[str]] = {}
        for k, kind in enumerate(EDGE_CASES):
            edges.setdefault(int((k + 0.5) * len(days) / len(EDGE_CASES)), []).append(kind)
        low, high = self.config.studies_per_day
        for index, day in enumerate(days):
            slots = int(self.rng.integers(low, high + 1))
            self.pending_us.sort(key=lambda item: (item[0], item[1]))
            due = [item for item in self.pending_us if item[0] <= day][:slots]
            for item in due:
                self.pending_us.remove(item)
                item[2](day)
            for _ in range(slots - len(due)):
                self.new_case(day, str(self.rng.choice(kinds, p=probabilities)))
            for kind in edges.get(index, []):
                self.edge_case(day, kind)
            for item in sorted(i for i in self.pending_free if i[0] <= day):
                self.pending_free.remove(item)
                item[2](item[0])
        exams = tuple(sorted(self.exams, key=lambda e: (e.exam_datetime, e.accession)))
        specimens = tuple(
            sorted(self.specimens, key=lambda s: (s.received_at, s.specimen_accession))
        )
        rows = tuple(
            sorted(
                self.specimen_rows,
                key=lambda r: (r["received_at"], r["specimen_accession"], r["diagnosis_name"]),
            )
        )
        return CohortPlan(
            self.config,
            tuple(sorted(self.patients, key=lambda p: p.patient_id)),
            exams,
            specimens,
            rows,
        )


def plan_cohort(config: DemoConfig) -> CohortPlan:
    """The whole cohort for ``config`` (deterministic; no files written)."""
    return _Planner(config).run()
