"""Radiology report text: EXAM / HISTORY / FINDINGS / IMPRESSION, BI-RADS in many phrasings.

Reports are written the way real ones are: the lexicon (shape, margin, orientation, echo
pattern, posterior features) with negations, clock positions as ``2:00`` or ``2 o'clock``,
distances as ``3 cm from the nipple`` or ``3 CM FN``, a signature line, and sometimes the
patient's own name and MRN (which a scrubber must remove).

About one report in seven (:data:`THIRD_PARTY_SHARE`) also carries third-party identifiers in its
findings, as real ones do: a relative who came along, the sonographer, another patient's
``LAST^FIRST``, a phone number, a street address with city and ZIP code
(:func:`third_party_sentence`). Their values come from the fixed lists below, so
:func:`planted_third_party` finds them again in any report text (the demo ground truth records
them per exam, ``exams.json`` → ``planted_third_party``).
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from cadbusi_demo.model import Exam, Finding, Patient

BIRADS_DESCRIPTIONS = {
    "0": "Incomplete - Need Additional Imaging Evaluation",
    "1": "Negative",
    "2": "Benign",
    "3": "Probably Benign",
    "4": "Suspicious",
    "4A": "Low Suspicion for Malignancy",
    "4B": "Moderate Suspicion for Malignancy",
    "4C": "High Suspicion for Malignancy",
    "5": "Highly Suggestive of Malignancy",
    "6": "Known Biopsy-Proven Malignancy",
}
_SHORT = {"4A": "Suspicious", "4B": "Suspicious", "4C": "Suspicious"}
_RECOMMENDATION = {
    "0": "Recommend breast MRI for further evaluation.",
    "1": "Recommend routine annual screening mammography.",
    "2": "Recommend routine annual screening mammography.",
    "3": "Recommend short-interval follow-up ultrasound in 6 months.",
    "4": "Ultrasound-guided core biopsy is recommended.",
    "4A": "Ultrasound-guided core biopsy is recommended.",
    "4B": "Ultrasound-guided core biopsy is recommended.",
    "4C": "Ultrasound-guided core biopsy is recommended.",
    "5": "Ultrasound-guided core biopsy is recommended.",
    "6": "Surgical and oncologic management as clinically appropriate.",
}
BIRADS_STYLES = ("category", "assessment", "final", "registered", "acr", "us", "inline", "code")

#: share of ultrasound and mammography reports that mention third parties
THIRD_PARTY_SHARE = 0.15
#: invented third parties (no part is a demo patient or staff name or a word used in reports)
RELATIVES = (
    ("sister", "Zelda Plimsoll"), ("daughter", "Ottoline Brackwater"), ("husband", "Lucan Thistlewood"),
    ("son", "Evander Quillfeather"), ("mother", "Perpetua Scrimgeour"), ("niece", "Isolde Fennimore"),
    ("partner", "Hesper Wollaston"), ("friend", "Cosima Ravensworth"),
)  # fmt: skip
STAFF = (
    ("sonographer", "Quentin Aldergrove"), ("technologist", "Marisol Ebbesmeyer"),
    ("sonographer", "Tiberius Hollingrake"), ("nurse", "Wynona Penhaligon"),
)  # fmt: skip
OTHER_PATIENTS = ("PRIDDLECOMBE^ARABELLA", "VANTONGEREN^EULALIA", "ESSENWEIN^CLEMENTINE")
PHONES = ("555-0142", "+44 20 7946 0958", "(413) 555-0187", "413-555-0163 ext. 2210")
ADDRESSES = (
    ("12 Elm Street", "Springfield MA 01103"), ("48 Larkspur Lane", "Amherst, MA 01002"),
    ("7 Quarry Hill Road", "Easthampton MA 01027"), ("310 Orchard Avenue, Apt 2B", "Holyoke, MA 01040"),
)  # fmt: skip


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def third_party_sentence(rng: np.random.Generator) -> str:
    """One findings paragraph naming a relative, a staff member, another patient, a phone
    number and an address (each present or not)."""
    relation, relative = _pick(rng, RELATIVES)
    role, staff = _pick(rng, STAFF)
    street, city = _pick(rng, ADDRESSES)
    phone = _pick(rng, PHONES)
    parts = [
        f"The patient was accompanied by her {relation} {relative}, phone {phone}.",
        f"Lives at {street}, {city}.",
        f"Images obtained by {role} {staff}.",
    ]
    if rng.random() < 0.5:
        parts.append(f"Compared with the exam of {_pick(rng, OTHER_PATIENTS)}, filed in error.")
    order = [int(i) for i in rng.permutation(len(parts))]
    return " ".join(parts[i] for i in order)


def planted_third_party(text: str) -> list[dict[str, str]]:
    """The third-party identifiers of the fixed lists that ``text`` contains, as
    ``{"kind": relative|staff|other_patient|phone|address|city_zip, "value": ...}``."""
    found: list[dict[str, str]] = []
    for kind, values in (
        ("relative", [v for _, v in RELATIVES]),
        ("staff", [v for _, v in STAFF]),
        ("other_patient", list(OTHER_PATIENTS)),
        ("phone", list(PHONES)),
        ("address", [street for street, _ in ADDRESSES]),
        ("city_zip", [city for _, city in ADDRESSES]),
    ):
        found += [{"kind": kind, "value": v} for v in values if v in text]
    return found


def _with_third_parties(lines: list[str], rng: np.random.Generator) -> list[str]:
    """``lines`` with a third-party paragraph after the findings in a share of reports (drawn
    last, so that the rest of the report does not change)."""
    if rng.random() >= THIRD_PARTY_SHARE:
        return lines
    sentence = third_party_sentence(rng)
    for index, line in enumerate(lines):
        if line.startswith("IMPRESSION"):
            while index > 0 and not lines[index - 1].strip():
                index -= 1
            return [*lines[:index], sentence, *lines[index:]]
    return [*lines, sentence]


def fmt_date(day: dt.date) -> str:
    return day.strftime("%m/%d/%Y")


def birads_line(category: str, style: str) -> str:
    """One final-assessment line in the given phrasing.

    >>> birads_line("4A", "category")
    'BI-RADS Category 4A: Suspicious'
    >>> birads_line("3", "final")
    'Final Assessment: 3 (Probably Benign)'
    """
    desc = BIRADS_DESCRIPTIONS[category]
    if style == "category":
        return f"BI-RADS Category {category}: {_SHORT.get(category, desc)}"
    if style == "assessment":
        return f"ASSESSMENT: BI-RADS {category} - {desc}"
    if style == "final":
        return f"Final Assessment: {category} ({desc})"
    if style == "registered":
        return f"BI-RADS® {category}: {desc}"
    if style == "acr":
        return f"ACR code {category}: {desc}"
    if style == "us":
        return f"US BI-RADS: {category}"
    if style == "code":
        return f"BI-RADS ASSESSMENT: CODE: {category}-{desc}"
    return f"BI-RADS {category} - {desc}"  # "inline": appended to the impression


def clock_phrase(clock: str, rng: np.random.Generator) -> str:
    """``2:00``, ``2 o'clock`` or ``10:30``."""
    hour, minute = clock.split(":")
    if minute == "00" and rng.random() < 0.4:
        return f"{hour} o'clock"
    return clock


def distance_phrase(distance_cm: float, rng: np.random.Generator, caps: bool) -> str:
    value = f"{distance_cm:g}"
    if caps:
        return _pick(rng, (f"{value} CM FN", f"{value}CMFN", f"{value} CM FROM NIPPLE"))
    return _pick(rng, (f"{value} cm from the nipple", f"{value} cm FN"))


def size_phrase(size: tuple[float, float, float]) -> str:
    return " x ".join(f"{v:.1f}" for v in size) + " cm"


def _negations(finding: Finding, rng: np.random.Generator) -> list[str]:
    out: list[str] = []
    if finding.posterior != "shadowing":
        out.append("No posterior acoustic shadowing.")
    if finding.posterior == "shadowing" and rng.random() < 0.5:
        out.append("No posterior acoustic enhancement.")
    if finding.birads in {"2", "3"}:
        out.append(_pick(rng, ("No internal vascularity.", "It is without suspicious features.")))
    return out


def describe_finding(finding: Finding, rng: np.random.Generator, caps: bool) -> str:
    """A findings paragraph for one lesion, prose or terse capitals."""
    side = finding.side.lower()
    if finding.kind == "node":
        text = (
            f"In the {side} axilla there is a lymph node measuring {size_phrase(finding.size_cm)} "
            + (
                "with a preserved fatty hilum and normal cortical thickness."
                if finding.birads in {"1", "2"}
                else "with eccentric cortical thickening up to 4 mm and effacement of the fatty hilum."
            )
        )
        return text.upper() if caps else text
    posterior = {
        "enhancement": "posterior acoustic enhancement",
        "shadowing": "posterior acoustic shadowing",
        "none": "no posterior features",
    }[finding.posterior]
    if finding.kind == "cyst":
        noun = "simple cyst" if finding.echo == "anechoic" else "complicated cyst"
    elif finding.echo == "complex cystic and solid":
        noun = "complex cystic and solid mass"
    else:
        noun = "mass"
    where = (
        f"{finding.side} BREAST {finding.clock} {distance_phrase(finding.distance_cm, rng, True)}"
        if caps
        else f"At the {clock_phrase(finding.clock, rng)} position of the {side} breast, "
        f"{distance_phrase(finding.distance_cm, rng, False)}"
    )
    if caps:
        body = (
            f"{where}: {size_phrase(finding.size_cm).upper()} {finding.shape.upper()} "
            f"{finding.echo.upper()} {noun.upper()}, {finding.margin.upper()} MARGINS, "
            f"{finding.orientation.upper()}, {posterior.upper()}."
        )
        return " ".join([body, *(s.upper() for s in _negations(finding, rng))])
    echo = "" if finding.echo in noun else f"{finding.echo} "
    article = "a" if finding.shape == "round" else "an"
    body = (
        f"{where}, there is {article} {finding.shape}, {echo}{noun} with {finding.margin} margins "
        f"measuring {size_phrase(finding.size_cm)}. The lesion is {finding.orientation} to the skin "
        f"and demonstrates {posterior}."
    )
    return " ".join([body, *_negations(finding, rng)])


def _patient_header(patient: Patient, rng: np.random.Generator) -> str:
    name = _pick(
        rng,
        (f"{patient.last_name}, {patient.first_name}", f"{patient.first_name} {patient.last_name}"),
    )
    return f"Patient: {name}    MRN: {patient.patient_id}    DOB: {fmt_date(patient.birth_date)}"


def _signature(exam: Exam, rng: np.random.Generator) -> list[str]:
    first, last = exam.radiologist
    signed = exam.exam_datetime + dt.timedelta(minutes=int(rng.integers(15, 240)))
    return [
        f"Dictated by: Dr. {first} {last}",
        f"Electronically signed by: {last.upper()}, {first.upper()} MD on {fmt_date(signed.date())} "
        f"{signed:%H:%M}",
    ]


def _history(exam: Exam, patient: Patient, rng: np.random.Generator) -> str:
    age = patient.age_on(exam.exam_date)
    sex = "female" if patient.sex == "F" else "male"
    side = (exam.side or "").lower()
    if exam.kind == "known_cancer":
        return f"{age}-year-old {sex} with recently diagnosed {side} breast cancer, staging."
    if exam.kind == "followup":
        return f"{age}-year-old {sex}, short-interval follow-up of a probably benign finding."
    if exam.kind == "axilla":
        return f"{age}-year-old {sex} with a palpable {side} axillary lump."
    if exam.kind == "outside":
        return f"{age}-year-old {sex}; second opinion of outside ultrasound."
    if patient.sex == "M":
        return f"{age}-year-old {sex} with {side} breast enlargement and tenderness."
    reasons = (
        "palpable lump",
        "focal pain",
        "abnormal screening mammogram (callback)",
        "nipple discharge",
        "asymmetry on mammography",
    )
    where = "both breasts" if exam.side in {None, "BILATERAL"} else f"{exam.side.lower()} breast"
    return f"{age}-year-old {sex} with {_pick(rng, reasons)}, {where}."


def _impression_text(exam: Exam, rng: np.random.Generator) -> str:
    if exam.kind == "incomplete":
        return (
            "Indeterminate area of architectural distortion in the right breast, not "
            "adequately characterized on ultrasound. " + _RECOMMENDATION["0"]
        )
    if not exam.findings:
        if exam.side and exam.side != "BILATERAL" and rng.random() < 0.5:
            return f"No sonographic evidence of malignancy in the {exam.side.lower()} breast."
        return "No suspicious sonographic findings."
    parts = []
    for i, f in enumerate(exam.findings, 1):
        where = f"{f.side.lower()} {'axilla' if f.kind == 'node' else 'breast'}"
        if f.kind == "node":
            parts.append(
                f"{i}. {'Benign-appearing' if f.birads in {'1', '2'} else 'Abnormal'} "
                f"lymph node in the {where}."
            )
            continue
        lead = {
            "2": "Benign-appearing",
            "3": "Probably benign",
            "6": "Known malignancy:",
        }.get(f.birads, "Suspicious")
        label = "cyst" if f.kind == "cyst" else "mass"
        parts.append(
            f"{i}. {lead} {max(f.size_cm):.1f} cm {label} in the {where} at "
            f"{clock_phrase(f.clock, rng)}, {distance_phrase(f.distance_cm, rng, False)}."
        )
    worst = exam.birads or "1"
    parts.append(_RECOMMENDATION.get(worst, ""))
    return " ".join(p for p in parts if p)


def _assessment_lines(exam: Exam, rng: np.random.Generator, impression: str) -> list[str]:
    """IMPRESSION and the BI-RADS lines, including per-side and overall for bilateral exams."""
    style = _pick(rng, BIRADS_STYLES)
    if exam.birads is None:
        return ["IMPRESSION:", impression]
    if len(exam.side_birads) > 1:
        lines = ["IMPRESSION:", impression]
        for side, category in exam.side_birads:
            lines.append(f"{side} BREAST: BI-RADS {category} - {BIRADS_DESCRIPTIONS[category]}.")
        lines.append(f"OVERALL ASSESSMENT: BI-RADS {exam.birads}")
        return lines
    if style == "inline":
        return [f"IMPRESSION: {impression} {birads_line(exam.birads, 'inline')}"]
    return ["IMPRESSION:", impression, "", birads_line(exam.birads, style)]


def us_report(exam: Exam, patient: Patient, rng: np.random.Generator) -> str:
    """A diagnostic / follow-up / staging breast (or axilla) ultrasound report."""
    caps = rng.random() < 0.3
    lines: list[str] = []
    if rng.random() < 0.3:
        lines.append(_patient_header(patient, rng))
    lines += [
        f"EXAM: {exam.description}",
        f"DATE: {fmt_date(exam.exam_date)} {exam.exam_datetime:%H:%M}",
    ]
    lines.append(f"HISTORY: {_history(exam, patient, rng)}")
    if exam.kind == "outside":
        lines.append("COMPARISON: Outside ultrasound images were imported and reviewed.")
    elif exam.kind == "followup":
        lines.append("COMPARISON: Prior breast ultrasound.")
    else:
        lines.append(_pick(rng, ("COMPARISON: None.", "COMPARISON: Mammogram of the same date.")))
    region = "axilla" if exam.kind == "axilla" else "breast"
    where = (
        "both breasts" if exam.side in {None, "BILATERAL"} else f"the {exam.side.lower()} {region}"
    )
    lines.append(f"TECHNIQUE: Targeted grayscale and color Doppler ultrasound of {where}.")
    lines.append("FINDINGS:" if rng.random() < 0.7 else "Ultrasound Findings:")
    if exam.kind == "incomplete":
        lines.append(
            "At the 10:00 position of the right breast there is a vague area of shadowing "
            "without a discrete mass, possibly architectural distortion."
        )
    elif patient.sex == "M" and not exam.findings:
        lines.append(
            "Retroareolar fibroglandular tissue consistent with gynecomastia. "
            "No discrete mass. No suspicious features."
        )
    elif not exam.findings:
        lines.append(
            "No solid or cystic mass. No architectural distortion. "
            "No suspicious axillary lymph nodes."
        )
    for f in exam.findings:
        text = describe_finding(f, rng, caps)
        if exam.kind == "followup":
            text = "Stable in size and appearance compared with the prior exam. " + text
        if exam.kind == "known_cancer":
            text += " A biopsy marker clip is present within the mass."
        lines.append(text)
    if exam.findings and exam.kind != "axilla":
        lines.append("No suspicious axillary lymphadenopathy.")
    lines.append("")
    lines += _assessment_lines(exam, rng, _impression_text(exam, rng))
    if patient.sex == "F" and rng.random() < 0.15:
        lines.append(
            f"Results discussed with {patient.first_name} {patient.last_name} at the time "
            "of the exam."
        )
    lines.append("")
    lines += _signature(exam, rng)
    return "\n".join(_with_third_parties(lines, rng))


def mg_report(exam: Exam, patient: Patient, rng: np.random.Generator) -> str:
    """A screening or diagnostic mammogram report (no PACS reference in the demo)."""
    density = _pick(
        rng,
        (
            "B: There are scattered areas of fibroglandular density.",
            "C: The breasts are heterogeneously dense, which may obscure small masses.",
            "D: The breasts are extremely dense, which lowers the sensitivity of mammography.",
        ),
    )
    lines = [
        f"EXAM: {exam.description}",
        f"DATE: {fmt_date(exam.exam_date)} {exam.exam_datetime:%H:%M}",
        f"HISTORY: {_history(exam, patient, rng)}",
        "COMPARISON: Prior mammograms.",
        f"DENSITY: {density}",
        "FINDINGS:",
    ]
    if exam.birads == "0":
        callback = [t.split(":", 1)[1] for t in exam.tags if t.startswith("callback:")]
        side = callback[0] if callback else "LEFT"
        lines.append(
            f"There is a focal asymmetry in the {side.lower()} breast which requires "
            "further evaluation with ultrasound."
        )
    elif exam.findings:
        f = exam.findings[0]
        lines.append(
            f"{'Oval circumscribed' if f.birads in {'2', '3'} else 'Irregular'} mass in the "
            f"{f.side.lower()} breast at {f.clock}, see same-day ultrasound."
        )
    else:
        lines.append("No suspicious masses, calcifications or architectural distortion.")
    lines += [
        "",
        "IMPRESSION:",
        "See ultrasound report of the same date for the combined assessment."
        if exam.findings
        else "No mammographic evidence of malignancy.",
    ]
    if exam.birads is not None:
        lines.append(
            birads_line(exam.birads, _pick(rng, ("category", "assessment", "final", "code")))
        )
    lines.append("")
    lines += _signature(exam, rng)
    return "\n".join(_with_third_parties(lines, rng))


def biopsy_report(
    exam: Exam, patient: Patient, rng: np.random.Generator, addendum_date: dt.date | None
) -> str:
    """An ultrasound-guided core biopsy note with a PATHOLOGY / CONCORDANCE addendum."""
    described = "; ".join(
        f"{f.side.lower()} breast {f.clock}, {distance_phrase(f.distance_cm, rng, False)}"
        for f in exam.findings
    )
    lines = [
        f"EXAM: {exam.description}",
        f"DATE: {fmt_date(exam.exam_date)} {exam.exam_datetime:%H:%M}",
        f"HISTORY: Suspicious sonographic finding: {described}.",
        "PROCEDURE: The risks, benefits and alternatives were discussed and written informed "
        "consent was obtained. Under ultrasound guidance and local anesthesia, "
        f"{int(rng.integers(3, 7))} core samples were obtained with a 14-gauge spring-loaded "
        "device. A biopsy marker clip was placed. Post-procedure mammogram confirms clip "
        "placement.",
        "COMPLICATIONS: None.",
        "",
        "IMPRESSION: Successful ultrasound-guided core biopsy. Pathology pending.",
        "",
    ]
    lines += _signature(exam, rng)
    if addendum_date is not None and exam.pathology_summary:
        lines += [
            "",
            f"ADDENDUM ({fmt_date(addendum_date)}):",
            f"PATHOLOGY: {exam.pathology_summary}",
            f"CONCORDANCE: {'yes' if exam.concordance else 'no'}",
        ]
        if exam.concordance is False:
            lines.append(
                "The pathology is discordant with the imaging findings. Surgical excision "
                "is recommended."
            )
        elif exam.birads == "6":
            lines.append(
                "Concordant malignant. " + birads_line("6", "inline") + ". Surgical "
                "consultation has been arranged."
            )
        else:
            lines.append("Concordant. Recommend follow-up as clinically indicated.")
    return "\n".join(lines)
