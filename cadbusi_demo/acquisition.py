"""What the sonographer saved for each US study: views, encodings, calipers, twins, cine.

Planned in the main process, in study order, before any pixels are made. Rates (calipers,
twins, Doppler, dual view, cine) use error-diffusion quotas, so even a two-day cohort holds
every feature, and a large one holds them at the intended rates. Encodings follow each
device's mix with a smooth weighted round robin.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from cadbusi_demo import names
from cadbusi_demo.findings import random_clock, random_distance
from cadbusi_demo.ids import child_rng, derive_uid
from cadbusi_demo.layouts import LAYOUTS
from cadbusi_demo.model import Exam, Finding, Patient
from cadbusi_demo.plan import CohortPlan

#: Printed orientation token -> the normalized ground-truth value.
ORIENTATIONS = {
    "TRANS": "transverse",
    "LONG": "longitudinal",
    "RAD": "radial",
    "ARAD": "antiradial",
    "OBL": "oblique",
}
CALIPER_RATE = 0.72  # of lesion views without Doppler or dual view (about 40% of all images)
TWIN_RATE = 0.5  # of caliper images
DOPPLER_RATE = 0.10  # of colour (RGB or JPEG) single-frame images
DUAL_RATE = 0.06  # of single-frame images on devices with a dual-view mode
CINE_RATE = 1 / 3  # of studies


@dataclass(frozen=True)
class ViewPlan:
    """One saved image (and its clean twin, if any) or one cine clip."""

    index: int
    series_number: int  # 1 = still images, 2 = cine
    encoding: str  # 'rgb' | 'mono' | 'jpeg'
    frames: int
    laterality: str  # 'LEFT' | 'RIGHT'
    body_area: str  # 'breast' | 'axilla'
    clock: str | None
    distance_cm: float | None
    orientation: str  # printed token, key of ORIENTATIONS
    laterality_text: str  # e.g. 'LT BREAST', 'RIGHT', 'LT'
    distance_text: str | None  # e.g. '3 CM FN', '4CMFN'
    finding: Finding | None
    needle: bool
    doppler: bool
    dual: bool
    calipers: bool
    caliper_count: int
    caliper_style: str
    caliper_size: int
    caliper_stroke: int
    caliper_line: bool
    twin: bool
    burned_in_tag: bool
    sop_instance_uid: str
    instance_number: int
    twin_sop_instance_uid: str | None
    twin_instance_number: int | None


@dataclass(frozen=True)
class StudyPlan:
    """Everything needed to synthesize one study's DICOM files, picklable for workers."""

    seed: int
    accession: str
    study_instance_uid: str
    series_uids: tuple[str, str]
    patient: Patient
    exam_datetime: dt.datetime
    description: str
    kind: str
    site: names.Site
    layout: str
    radiologist_pn: str
    referring_pn: str
    operator: str
    depth_cm: float
    mechanical_index: str
    thermal_index: str
    views: tuple[ViewPlan, ...]

    @property
    def instance_count(self) -> int:
        return sum(1 + v.twin for v in self.views)


class Quota:
    """Error diffusion: ``take()`` is true at ``rate`` on average, never far from it."""

    def __init__(self, rate: float, start: float) -> None:
        self.rate, self.credit = rate, start

    def take(self) -> bool:
        self.credit += self.rate
        if self.credit >= 1.0:
            self.credit -= 1.0
            return True
        return False


class Mix:
    """Smooth weighted round robin over named choices."""

    def __init__(self, weights: dict[str, float], rng: np.random.Generator) -> None:
        self.weights = dict(sorted(weights.items()))
        self.current = {k: float(rng.random()) * 0.1 for k in self.weights}

    def next(self) -> str:
        total = sum(self.weights.values())
        for key, weight in self.weights.items():
            self.current[key] += weight
        choice = max(self.current, key=lambda k: (self.current[k], k))
        self.current[choice] -= total
        return choice


def _site(exam: Exam) -> names.Site:
    for site in (*names.SITES, names.OUTSIDE_SITE):
        if site.name == exam.site:
            return site
    raise ValueError(f"unknown site {exam.site!r}")


def _laterality_text(rng: np.random.Generator, side: str, body_area: str) -> str:
    if body_area == "axilla":
        return ("LT" if side == "LEFT" else "RT") if rng.random() < 0.5 else side
    return ("LT BREAST" if side == "LEFT" else "RT BREAST") if rng.random() < 0.6 else side


def _distance_text(rng: np.random.Generator, distance: float) -> str:
    value = f"{distance:g}"
    return (f"{value} CM FN", f"{value}CMFN", f"{value} CM FN")[int(rng.integers(3))]


class _AcquisitionPlanner:
    def __init__(self, plan: CohortPlan) -> None:
        self.plan = plan
        seed = plan.config.seed
        self.rng = child_rng(seed, "acquisition")
        self.calipers = Quota(CALIPER_RATE, 0.6)
        self.twins = Quota(TWIN_RATE, 0.6)
        self.doppler = Quota(DOPPLER_RATE, 0.6)
        self.dual = Quota(DUAL_RATE, 0.6)
        self.cine = Quota(CINE_RATE, 0.8)
        self.single_mix = {n: Mix(lay.single_encodings, self.rng) for n, lay in LAYOUTS.items()}
        self.cine_mix = {n: Mix(lay.cine_encodings, self.rng) for n, lay in LAYOUTS.items()}

    def study(self, exam: Exam) -> StudyPlan:
        rng, seed = self.rng, self.plan.config.seed
        site = _site(exam)
        layout = LAYOUTS[site.layout]
        side = exam.side or "LEFT"
        findings = list(exam.findings)
        if exam.kind == "biopsy" or exam.kind == "axilla":
            n_views = int(rng.integers(3, 6))
        else:
            n_views = int(rng.integers(3, 9))
        pair = ("TRANS", "LONG") if rng.random() < 0.5 else ("RAD", "ARAD")
        extra_axilla = exam.kind not in {"axilla", "biopsy"} and rng.random() < 0.2
        views: list[ViewPlan] = []
        instance = 1
        lesion_count = 0

        def make(index: int, cine: bool) -> ViewPlan:
            nonlocal instance, lesion_count
            finding = None
            if findings and (index < 2 or cine or rng.random() < 0.5):
                finding = findings[lesion_count % len(findings)]
                lesion_count += 1
            clock: str | None
            distance: float | None
            if finding is not None:
                laterality, body_area = finding.side, finding.body_area
                clock, distance = finding.clock, finding.distance_cm
                orientation = pair[index % 2]
            else:
                laterality = side if side != "BILATERAL" else ("RIGHT", "LEFT")[index % 2]
                body_area = "axilla" if exam.kind == "axilla" else "breast"
                if extra_axilla and index == n_views - 1 and not cine:
                    body_area = "axilla"
                clock, distance = random_clock(rng), random_distance(rng)
                orientation = ("TRANS", "LONG", "RAD", "ARAD", "OBL")[int(rng.integers(5))]
            if body_area == "axilla":
                clock = distance = None
            if cine:
                encoding = self.cine_mix[layout.name].next()
            else:
                encoding = self.single_mix[layout.name].next()
            colour = encoding in {"rgb", "jpeg"}
            doppler = dual = calipers = twin = False
            if not cine:
                doppler = colour and self.doppler.take()
                if not doppler and layout.dual_regions is not None:
                    dual = self.dual.take()
                if finding is not None and not doppler and not dual:
                    calipers = self.calipers.take()
                    twin = calipers and self.twins.take()
            style = (
                layout.caliper_style
                if rng.random() < 0.75
                else ("x" if layout.caliper_style == "+" else "+")
            )
            sop = derive_uid(seed, "sop", exam.accession, index, "main")
            twin_sop = derive_uid(seed, "sop", exam.accession, index, "twin") if twin else None
            twin_number = instance if twin else None
            number = instance + (1 if twin else 0)
            instance = number + 1
            return ViewPlan(
                index=index,
                series_number=2 if cine else 1,
                encoding=encoding,
                frames=int(rng.integers(8, 17)) if cine else 1,
                laterality=laterality,
                body_area=body_area,
                clock=clock,
                distance_cm=distance,
                orientation=orientation,
                laterality_text=_laterality_text(rng, laterality, body_area),
                distance_text=_distance_text(rng, distance) if distance is not None else None,
                finding=finding,
                needle=exam.kind == "biopsy" and finding is not None and rng.random() < 0.6,
                doppler=doppler,
                dual=dual,
                calipers=calipers,
                caliper_count=4 if rng.random() < 0.4 else 2,
                caliper_style=style,
                caliper_size=int(rng.choice([9, 11, 13, 15])),
                caliper_stroke=int(rng.integers(1, 3)),
                caliper_line=bool(rng.random() < 0.5),
                twin=twin,
                burned_in_tag=bool(rng.random() < layout.burned_in_tag_probability),
                sop_instance_uid=sop,
                instance_number=number,
                twin_sop_instance_uid=twin_sop,
                twin_instance_number=twin_number,
            )

        for index in range(n_views):
            views.append(make(index, cine=False))
        if self.cine.take():
            views.append(make(n_views, cine=True))
        patient = self.plan.patient(exam.patient_id)
        return StudyPlan(
            seed=seed,
            accession=exam.accession,
            study_instance_uid=exam.study_instance_uid or "",
            series_uids=(
                derive_uid(seed, "series", exam.accession, 1),
                derive_uid(seed, "series", exam.accession, 2),
            ),
            patient=patient,
            exam_datetime=exam.exam_datetime,
            description=exam.description,
            kind=exam.kind,
            site=site,
            layout=layout.name,
            radiologist_pn=names.radiologist_pn(*exam.radiologist),
            referring_pn=names.REFERRING_PHYSICIANS[
                int(rng.integers(len(names.REFERRING_PHYSICIANS)))
            ],
            operator=names.SONOGRAPHERS[int(rng.integers(len(names.SONOGRAPHERS)))],
            depth_cm=float(rng.choice([3.0, 3.5, 4.0, 4.5, 5.0])),
            mechanical_index=f"{rng.uniform(0.6, 1.3):.1f}",
            thermal_index=f"{rng.uniform(0.1, 0.6):.1f}",
            views=tuple(views),
        )


def plan_acquisitions(plan: CohortPlan) -> list[StudyPlan]:
    """One :class:`StudyPlan` per US study in the PACS, in exam order."""
    planner = _AcquisitionPlanner(plan)
    return [planner.study(exam) for exam in plan.pacs_exams()]
