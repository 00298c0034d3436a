"""An adversarial synthetic cohort: the small demo cohort with PHI planted everywhere.

:func:`build_adversarial_cohort` generates a two-date demo cohort, then rewrites its DuckDB
warehouse and its folder PACS:

* three patients get non-ASCII names in three scripts (``Müller^Zoë`` in ISO_IR 192,
  ``Ødegård^Åse`` in ISO_IR 100, ``Yamada^Tarou=山田^太郎=やまだ^たろう`` in ISO_IR 192), in the
  warehouse, in every DICOM header element that held the old name, and in free-text headers
  (StudyDescription, SeriesDescription, ImageComments, OperatorsName, private tags);
* a malformed DA (``13.04.1961``) holding the birth date in PatientBirthDate and a private tag;
* reports (and one pathology text) carrying relatives, staff, other patients' ``LAST^FIRST``,
  phones, addresses, e-mails, URLs, IPs, SSNs, MRNs, dates in many formats and an age over 89;
* burned-in text (a relative's name and a phone number) drawn inside the ultrasound region of
  one uncompressed frame;
* a duplicated warehouse row and a row with a NULL ``patient_id``.

Everything is synthetic (made-up names, 555 numbers, example.org, the SSA's void SSN).
:class:`Planted` lists what was planted, with the variants a leak scan must search for.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pydicom
from PIL import Image, ImageDraw, ImageFont

from cadbusi_assets.deid.name_variants import name_terms
from cadbusi_demo import DemoConfig, generate_demo_cohort

CONFIG = DemoConfig(start=dt.date(2026, 9, 1), days=2, studies_per_day=(2, 2), seed=7, workers=1)

#: New name, birth date, DICOM character set; assigned to demo patients in order.
NEW_PATIENTS = (
    ("Müller^Zoë", dt.date(1961, 4, 13), "ISO_IR 192"),
    ("Ødegård^Åse", dt.date(1958, 7, 30), "ISO_IR 100"),
    ("Yamada^Tarou=山田^太郎=やまだ^たろう", dt.date(1949, 1, 22), "ISO_IR 192"),
)

#: Third parties planted in report text, headers and pixels (name-like strings to search for).
THIRD_PARTY_NAMES = (
    "Zelda Plimsoll",
    "Hortensia Quackenbush",
    "Quentin Aldergrove",
    "Ignatius Fothergill",
    "Wilbur Pennyfeather",
    "Marchetti^Magdalena",
    "Prudence Vandersloot",
    "Bartholomew Tiggs",
)
#: Other planted identifiers, searched verbatim (plus digit-only forms for numbers).
THIRD_PARTY_OTHER = (
    "555-0142",
    "7946 0958",
    "555-0199",
    "(617) 555-0199",
    "12 Elm Street",
    "Springfield MA 01103",
    "01103",
    "h.quackenbush@example.org",
    "portal.example.org/patient?id=88231",
    "88231",
    "10.23.45.67",
    "078-05-1120",
    "99887766",
    "ext. 4471",
    "4471",
    "92-year-old",
    "Flat 3, 27 Rue des Lilas",
    "75011",
)


def _adversarial_report(name_forms: dict[str, str], mrn: str, dob: dt.date, study: dt.date) -> str:
    n = name_forms
    return (
        f"Patient: {n['full_upper']}    MRN: {mrn}    DOB: {dob:%d.%m.%Y}\n"
        f"EXAM: US BREAST LEFT LIMITED\n"
        f"DATE: {study:%m/%d/%Y} 09:12\n"
        f"HISTORY: {n['given']} {n['family']} (also {n['family_ascii']}, {n['given_ascii']}) is a "
        "92-year-old female, seen with her sister Zelda Plimsoll, phone 555-0142 or "
        "+44 20 7946 0958 ext. 4471. Lives at 12 Elm Street, Springfield MA 01103; "
        "previously Flat 3, 27 Rue des Lilas, 75011 Paris. Daughter Hortensia Quackenbush "
        "(h.quackenbush@example.org) called from (617) 555-0199. "
        "Portal https://portal.example.org/patient?id=88231 from 10.23.45.67. "
        "SSN 078-05-1120. Old MRN 99887766.\n"
        f"COMPARISON: exam of MARCHETTI^MAGDALENA on 3/14/2025, on Feb 2nd, 2024 and on "
        f"{study:%d %B %Y}; prior of {study:%Y-%m-%d}, {study:%d-%b-%Y}, {study:%Y%m%d}, "
        f"{study:%B} {study.day}, {study.year}. Birth date {dob:%B} {dob.day}, {dob.year}, "
        f"{dob:%m/%d/%Y}, {dob:%Y-%m-%d}.\n"
        "TECHNIQUE: Targeted grayscale ultrasound of the left breast. Sonographer Quentin "
        "Aldergrove. Prudence Vandersloot brought the patient. Bartholomew Tiggs interpreted.\n"
        "FINDINGS:\n"
        "At the 2 o'clock position of the left breast, 4 cm FN, there is an oval, hypoechoic "
        "mass with circumscribed margins measuring 0.8 x 0.5 x 0.6 cm.\n"
        f"{n['extra']}\n"
        "IMPRESSION:\n1. Probably benign 0.8 cm mass in the left breast at 2 o'clock.\n\n"
        "BI-RADS® 3: Probably Benign\n\n"
        "Dictated by: Dr. Samuel Ortega\n"
        f"Electronically signed by: ORTEGA, SAMUEL MD on {study:%m/%d/%Y} 15:18\n"
    )


@dataclass
class Planted:
    """What the adversarial cohort planted (all synthetic)."""

    cohort_dir: Path
    study_dates: list[dt.date]
    patient_names: list[str] = field(default_factory=list)
    birth_dates: list[dt.date] = field(default_factory=list)
    patient_ids: list[str] = field(default_factory=list)
    accessions: list[str] = field(default_factory=list)
    study_uids: list[str] = field(default_factory=list)
    old_names: list[str] = field(default_factory=list)
    burned_in_sop: str | None = None

    def name_needles(self) -> list[str]:
        """Every variant of every planted person name (patients, old demo names, third parties)."""
        out: set[str] = set()
        for name in [*self.patient_names, *self.old_names, *THIRD_PARTY_NAMES]:
            pn = name if "^" in name else "^".join(reversed(name.split(" ", 1)))
            out |= set(name_terms(pn))
        return sorted(t for t in out if t)

    def other_needles(self) -> list[str]:
        return sorted(
            {*THIRD_PARTY_OTHER, *self.patient_ids, *self.accessions, *self.study_uids}
            | {d for b in self.birth_dates for d in date_forms(b)}
        )

    def date_needles(self) -> list[str]:
        return sorted({f for d in self.study_dates for f in date_forms(d)})


def date_forms(day: dt.date) -> list[str]:
    """A date written the usual ways (ISO, DICOM, US, European, month names)."""
    return [
        day.isoformat(),
        f"{day:%Y%m%d}",
        f"{day:%m/%d/%Y}",
        f"{day.month}/{day.day}/{day.year}",
        f"{day:%d.%m.%Y}",
        f"{day:%d/%m/%Y}",
        f"{day:%Y/%m/%d}",
        f"{day:%B} {day.day}, {day.year}",
        f"{day.day} {day:%B} {day.year}",
        f"{day:%d-%b-%Y}",
        f"{day:%b} {day.day} {day.year}",
    ]


def _name_forms(pn: str) -> dict[str, str]:
    alpha = pn.split("=")[0]
    family, given = alpha.split("^")
    ascii_map = str.maketrans({"ü": "ue", "ë": "e", "Ø": "Oe", "å": "aa", "Å": "Aa", "ø": "oe"})
    groups = pn.split("=")
    extra = ""
    if len(groups) > 1:
        ideo = groups[1].replace("^", "")
        extra = f"{ideo} 様 乳腺エコー {groups[1].split('^')[0]} ヤマダ タロウ {groups[2]}"
    else:
        extra = f"Mrs. {family.upper()} returns. {given[0]}. {family} agreed."
    return {
        "full_upper": f"{given} {family}".upper(),
        "family": family,
        "given": given,
        "family_ascii": family.translate(ascii_map),
        "given_ascii": given.translate(ascii_map),
        "extra": extra,
    }


def _replace_strings(ds: pydicom.Dataset, old: list[tuple[str, str]]) -> None:
    """Replace old name/date strings in every text element (sequences included)."""

    def visit(dataset: pydicom.Dataset, elem: pydicom.DataElement) -> None:
        if elem.VR in {"LO", "SH", "ST", "LT", "UT", "PN", "DA"} and elem.value:
            value = str(elem.value)
            new = value
            for a, b in old:
                new = re.sub(re.escape(a), b, new, flags=re.IGNORECASE)
            if new != value:
                elem.value = new

    ds.walk(visit)


def _burn_in(ds: pydicom.Dataset, text: str, font_path: str | None = None) -> bool:
    """Draw ``text`` inside the ultrasound region of an uncompressed single frame (in the
    TrueType font at ``font_path``, 30 px, else Pillow's own; False: not drawn)."""
    if ds.file_meta.TransferSyntaxUID.is_compressed or int(getattr(ds, "NumberOfFrames", 1)) > 1:
        return False
    region = ds.SequenceOfUltrasoundRegions[0]
    x0, y0 = int(region.RegionLocationMinX0), int(region.RegionLocationMinY0)
    x1, y1 = int(region.RegionLocationMaxX1), int(region.RegionLocationMaxY1)
    pixels = ds.pixel_array
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(font_path, 30) if font_path else ImageFont.load_default(size=30)
    left, top = x0 + (x1 - x0) // 6, y0 + (y1 - y0) // 2
    box = draw.textbbox((left, top), text, font=font)
    draw.rectangle(
        (box[0] - 6, box[1] - 6, box[2] + 6, box[3] + 6), fill=0 if pixels.ndim == 2 else (0, 0, 0)
    )
    draw.text((left, top), text, font=font, fill=255 if pixels.ndim == 2 else (255, 255, 255))
    ds.PixelData = np.asarray(image).astype(pixels.dtype).tobytes()
    return True


def build_adversarial_cohort(out: Path) -> Planted:
    generate_demo_cohort(out, CONFIG)
    con = duckdb.connect(str(out / "warehouse.duckdb"))
    try:
        with warnings.catch_warnings():  # pydicom warns about the malformed DA, quoting it
            warnings.simplefilter("ignore")
            return _plant(out, con)
    finally:
        con.close()


def _plant(out: Path, con: duckdb.DuckDBPyConnection) -> Planted:
    planted = Planted(out, CONFIG.dates())
    exams = con.execute(
        "SELECT DISTINCT e.patient_id, p.patient_name, p.birth_date, e.accession_number, "
        "e.study_instance_uid, e.exam_date, e.exam_description FROM radiology_exams e JOIN patients p USING "
        "(patient_id) WHERE e.study_instance_uid IS NOT NULL ORDER BY e.exam_date, "
        "e.accession_number"
    ).fetchall()
    all_patients = con.execute(
        "SELECT patient_id, patient_name, birth_date FROM patients"
    ).fetchall()
    planted.old_names = [r[1] for r in all_patients]
    planted.patient_ids = [r[0] for r in all_patients]
    planted.birth_dates = [r[2] for r in all_patients]
    planted.accessions = [
        r[0]
        for r in con.execute("SELECT DISTINCT accession_number FROM radiology_exams").fetchall()
    ] + [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT specimen_accession FROM pathology_specimens"
        ).fetchall()
    ]
    planted.study_uids = [r[4] for r in exams]
    # breast studies the PACS holds (axilla-only and outside reads are left out of the cohort)
    exams = [r for r in exams if (out / "pacs" / r[4]).is_dir() and r[6].startswith("US BREAST")]
    chosen: list[tuple] = []
    seen: set[str] = set()
    # one patient of each date first, so both dates carry non-ASCII names
    for day in CONFIG.dates():
        for row in exams:
            if row[5] == day and row[0] not in seen and len(chosen) < len(NEW_PATIENTS):
                chosen.append(row)
                seen.add(row[0])
                break
    for row in exams:
        if row[0] not in seen and len(chosen) < len(NEW_PATIENTS):
            chosen.append(row)
            seen.add(row[0])
    burned = False
    for (pid, old_name, old_dob, accession, study_uid, exam_date, _), (name, dob, charset) in zip(
        chosen, NEW_PATIENTS, strict=True
    ):
        planted.patient_names.append(name)
        planted.birth_dates.append(dob)
        con.execute(
            "UPDATE patients SET patient_name = ?, birth_date = ? WHERE patient_id = ?",
            [name, dob, pid],
        )
        report = _adversarial_report(_name_forms(name), pid, dob, exam_date)
        con.execute(
            "UPDATE radiology_exams SET report_text = ? WHERE accession_number = ?",
            [report, accession],
        )
        burned |= _rewrite_study(
            out / "pacs" / study_uid,
            old_name,
            old_dob,
            name,
            dob,
            charset,
            burn=not burned,
            planted=planted,
        )
    # third parties in the reports of every other US exam and in pathology text
    con.execute(
        "UPDATE radiology_exams SET report_text = report_text || ? WHERE patient_id NOT IN "
        f"({', '.join('?' for _ in seen)})",
        [
            "\nADDENDUM: Discussed with her husband Wilbur Pennyfeather at (617) 555-0199 and "
            "Dr. Ignatius Fothergill; compared with MARCHETTI^MAGDALENA. Patient is 92 years old.",
            *seen,
        ],
    )
    con.execute(  # inside the run's dates, so the pathology path runs too
        "UPDATE pathology_specimens SET specimen_date = ?, received_at = ?, "
        "final_diagnosis_text = final_diagnosis_text || ?",
        [
            CONFIG.start,
            dt.datetime.combine(CONFIG.start, dt.time(9, 30)),
            "\nSpecimen couriered by Wilbur Pennyfeather; call Zelda Plimsoll 555-0142; "
            "received 3/14/2025; SSN 078-05-1120.",
        ],
    )
    # a duplicated row and a row with a NULL patient id
    con.execute(
        "INSERT INTO radiology_exams SELECT * FROM radiology_exams WHERE accession_number = ?",
        [chosen[0][3]],
    )
    con.execute(
        "INSERT INTO radiology_exams SELECT * REPLACE (NULL AS patient_id, '5550001111' AS "
        "accession_number) FROM radiology_exams WHERE accession_number = ? LIMIT 1",
        [chosen[1][3]],
    )
    planted.accessions.append("5550001111")
    return planted


def _rewrite_study(
    folder: Path,
    old_name: str,
    old_dob: dt.date,
    name: str,
    dob: dt.date,
    charset: str,
    *,
    burn: bool,
    planted: Planted,
) -> bool:
    family_old, given_old = old_name.split("^")
    alpha = name.split("=")[0]
    family, given = alpha.split("^")
    swaps = [
        (old_name, alpha),
        (f"{family_old}, {given_old}", f"{family}, {given}"),
        (f"{given_old} {family_old}", f"{given} {family}"),
        (family_old, family),
        (given_old, given),
        (f"{old_dob:%Y%m%d}", f"{dob:%Y%m%d}"),
        (f"{old_dob:%m/%d/%Y}", f"{dob:%m/%d/%Y}"),
    ]
    ideo = name.split("=")[1].replace("^", "") if "=" in name else None
    burned = False
    for path in sorted(folder.glob("*.dcm")):
        ds = pydicom.dcmread(path)
        _replace_strings(ds, swaps)
        ds.SpecificCharacterSet = charset
        ds.PatientName = name
        ds.StudyDescription = (
            f"乳腺エコー {name.split('=')[1].split('^')[0]}" if ideo else (f"US BREAST {family}")
        )
        ds.SeriesDescription = f"BREAST 2D {given} {family.upper()}"
        ds.ImageComments = (
            f"{ideo} 様" if ideo else f"Pt {family} {given}; {family.upper()} {given.upper()}"
        ) + "; sister Zelda Plimsoll 555-0142"
        ds.OperatorsName = "Aldergrove^Quentin"
        block = ds.private_block(0x0011, "ADVERSARY 1.0", create=True)
        block.add_new(0x01, "LO", f"{name.split('=')[0]} {dob:%d.%m.%Y}")
        block.add_new(0x02, "LT", f"Daughter Hortensia Quackenbush (617) 555-0199, {dob:%Y-%m-%d}")
        block.add_new(0x03, "DA", f"{dob:%d.%m.%Y}")
        ds.PatientBirthDate = f"{dob:%d.%m.%Y}"  # malformed DA holding the birth date
        if burn and not burned and _burn_in(ds, "ZELDA PLIMSOLL 555-0142"):
            burned = True
            planted.burned_in_sop = str(ds.SOPInstanceUID)
        with pydicom.config.disable_value_validation():
            ds.save_as(path, enforce_file_format=True)
    return burned
