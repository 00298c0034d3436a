"""Report scrubbing with planted identifiers (all invented)."""

from __future__ import annotations

import datetime as dt
import re

import polars as pl
import pytest

from cadbusi_assets.identity import Pseudonymizer
from cadbusi_assets.records import scrub_report_text, scrub_reports
from cadbusi_assets_tests.support import TEST_KEY

REPORT = """Patient: ZEBRA, QUILLA  MRN: 90000001  Accession: ACC77001
EXAM DATE: 03/14/2021
CLINICAL HISTORY: Quilla Zebra is a 93-year-old with a lump. Prior exam March 2, 2020 and 2019-11-05.
Contact (507) 555-0199 or qz@example.org. SSN 123-45-6789. Clinic no. 5550001.
FINDINGS: Oval circumscribed mass at 2:00, 3 cm from the nipple, 1.2 x 0.8 x 1.0 cm.
Discussed with Dr. Orville Pembrook and Ellie Sattler, MD on 14 Mar 2021.
IMPRESSION: BI-RADS 4A: Suspicious.
Dictated by: Dr. Alan Grant
Electronically signed by Henry Wu, MD on 03/15/2021 10:22"""

IDENTIFIERS = ["90000001", "ACC77001", "ZEBRA^QUILLA"]


def scrub(text=REPORT, **kw):
    options = dict(identifiers=IDENTIFIERS, date_shift_days=-100)
    options.update(kw)
    return scrub_report_text(text, **options)


@pytest.mark.parametrize(
    "planted",
    [
        "90000001",
        "ACC77001",
        "ZEBRA",
        "QUILLA",
        "Quilla",
        "Zebra",
        "Pembrook",
        "Orville",
        "Sattler",
        "Grant",
        "Henry Wu",
        "555-0199",
        "qz@example.org",
        "123-45-6789",
        "5550001",
        "03/14/2021",
        "2019-11-05",
        "March 2, 2020",
        "14 Mar 2021",
        "03/15/2021",
        "93-year",
    ],
)
def test_planted_identifier_is_gone(planted):
    assert planted not in scrub()


def test_clinical_content_survives():
    out = scrub()
    for kept in (
        "2:00",
        "3 cm from the nipple",
        "1.2 x 0.8 x 1.0 cm",
        "BI-RADS 4A: Suspicious",
        "Oval circumscribed",
    ):
        assert kept in out


def test_dates_shift_by_the_given_days_in_their_own_format():
    out = scrub()
    assert "EXAM DATE: 12/04/2020" in out  # 2021-03-14 − 100 days
    assert "November 23, 2019" in out  # 2020-03-02 − 100 days
    assert "2019-07-28" in out  # 2019-11-05 − 100 days
    assert "4 Dec 2020" in out  # the abbreviated month stays abbreviated


def test_same_shift_keeps_intervals():
    text = "first 01/10/2021, then 02/09/2021"
    out = scrub_report_text(text, identifiers=[], date_shift_days=-37)
    first, second = (
        dt.datetime.strptime(d, "%m/%d/%Y").date()
        for d in out.replace("first ", "").split(", then ")
    )
    assert (second - first).days == 30 and first == dt.date(2020, 12, 4)


def test_replacements_pseudonymize_the_study_identifiers():
    out = scrub(replacements={"90000001": "PSEUDO1", "acc77001": "APSEUDO"})
    assert "MRN: PSEUDO1" in out and "Accession: APSEUDO" in out
    assert "ZEBRA" not in out


def test_signatures_and_names():
    out = scrub()
    assert out.count("[SIGNATURE]") == 2
    assert "Discussed with [NAME] and [NAME]" in out
    assert "Patient: [NAME]" in out


def test_years_ages_and_bad_dates():
    out = scrub_report_text(
        "Surgery in 2015. Age 95 years. Seen 02/30/2021.", identifiers=[], date_shift_days=-5
    )
    assert out == "Surgery in [YEAR]. Age 90+ years. Seen [DATE]."


def test_none_and_short_identifiers():
    assert scrub_report_text(None, identifiers=["X"], date_shift_days=0) is None
    # one-letter name parts are not erased from ordinary text
    assert scrub_report_text("a mass", identifiers=["A^B"], date_shift_days=0) == "a mass"


def test_frame_version_uses_each_rows_patient():
    pseudonymizer = Pseudonymizer(TEST_KEY)
    frame = pl.DataFrame(
        {
            "patient_id": ["90000001", "90000002"],
            "accession_number": ["ACC77001", "ACC77002"],
            "report_text": [
                "MRN 90000001 ACC77001 QUILLA ZEBRA on 03/14/2021",
                "Ottilie Xerus seen 03/14/2021",
            ],
        }
    )
    patients = pl.DataFrame(
        {"patient_id": ["90000001", "90000002"], "patient_name": ["ZEBRA^QUILLA", "XERUS^OTTILIE"]}
    )
    out = scrub_reports(frame, pseudonymizer, patients)
    assert out.columns == frame.columns
    first, second = out["report_text"].to_list()
    assert (
        pseudonymizer.patient_id("90000001") in first
        and pseudonymizer.accession_number("ACC77001") in first
    )
    assert "ZEBRA" not in first and "Xerus" not in second
    for text, mrn in ((first, "90000001"), (second, "90000002")):
        expected = dt.date(2021, 3, 14) + dt.timedelta(days=pseudonymizer.date_shift_days(mrn))
        assert expected.strftime("%m/%d/%Y") in text
    assert out["patient_id"].to_list() == frame["patient_id"].to_list()  # only the text changes


def test_frame_version_removes_the_radiologist_named_in_the_row():
    frame = pl.DataFrame(
        {
            "patient_id": ["90000001"],
            "accession_number": ["ACC77001"],
            "radiologist": ["PEMBROOK, ORVILLE MD"],
            "report_text": ["Case reviewed with ORVILLE PEMBROOK at the console."],
        }
    )
    out = scrub_reports(frame, Pseudonymizer(TEST_KEY))["report_text"].item()
    assert "PEMBROOK" not in out and "ORVILLE" not in out and "at the console" in out


# --------------------------------------------------------------------------- issue 10 examples
ISSUE_REPORT = (
    "Accompanied by her sister Zelda Plimsoll, phone 555-0142 or +44 20 7946 0958. "
    "Lives at 12 Elm Street, Springfield MA 01103. Images obtained by sonographer Quentin "
    "Aldergrove. Compared with the exam of MARCHETTI^MAGDALENA. Viewer "
    "https://pacs.example.org/viewer?study=88412. At the 10:00 position of the right breast, "
    "3 cm FN, an oval hypoechoic mass with circumscribed margins measures 1.2 x 0.8 x 1.0 cm. "
    "IMPRESSION: fibroadenoma. BI-RADS 3."
)


@pytest.mark.parametrize(
    "planted",
    [
        "Zelda",
        "Plimsoll",
        "555-0142",
        "7946",
        "+44",
        "12 Elm",
        "Elm Street",
        "Springfield",
        "01103",
        "Quentin",
        "Aldergrove",
        "MARCHETTI",
        "MAGDALENA",
        "pacs.example.org",
        "88412",
    ],
)
def test_third_party_identifiers_of_the_issue_are_gone(planted):
    out = scrub_report_text(ISSUE_REPORT, identifiers=IDENTIFIERS, date_shift_days=-30)
    assert planted not in out


def test_clinical_content_of_the_issue_report_stays():
    out = scrub_report_text(ISSUE_REPORT, identifiers=IDENTIFIERS, date_shift_days=-30)
    for kept in (
        "10:00 position of the right breast",
        "3 cm FN",
        "oval hypoechoic mass with circumscribed margins",
        "1.2 x 0.8 x 1.0 cm",
        "IMPRESSION: fibroadenoma. BI-RADS 3.",
    ):
        assert kept in out


@pytest.mark.parametrize(
    ("identifier", "text", "gone"),
    [
        ("Müller^Zoë", "Pt Mueller Zoe; MULLER ZOE", ("Mueller", "Zoe", "MULLER", "ZOE")),
        ("Müller^Zoë", "US BREAST Muller", ("Muller",)),
        ("Müller^Zoë", "Patientin Zoë Müller, Frau MÜLLER", ("Zoë", "Müller", "MÜLLER")),
        ("Ødegård^Åse", "Odegard Ase", ("Odegard", "Ase")),
        ("Ødegård^Åse", "seen with Oedegaard, Aase and ØDEGÅRD", ("Oedegaard", "Aase", "ØDEGÅRD")),
        ("Peña^Íñigo", "Inigo Pena; IÑIGO PEÑA", ("Inigo", "Pena", "IÑIGO", "PEÑA")),
        ("Großmann^Jürgen", "Juergen Grossmann", ("Juergen", "Grossmann")),
        ("Yamada^Tarou=山田^太郎=やまだ^たろう", "山田太郎 様", ("山田", "太郎")),
        ("Yamada^Tarou=山田^太郎=やまだ^たろう", "乳腺エコー 山田", ("山田",)),
        (
            "Yamada^Tarou=山田^太郎=やまだ^たろう",
            "やまだ たろう さん; YAMADA",
            ("やまだ", "たろう", "YAMADA"),
        ),
        ("ZEBRA^QUILLA", "initials Q.Z. on the label; QZ", ("Q.Z.", "QZ")),
    ],
)
def test_own_name_variants_in_every_script(identifier, text, gone):
    out = scrub_report_text(text, identifiers=[identifier], date_shift_days=-3)
    for part in gone:
        assert part not in out, (part, out)


def test_cjk_clinical_words_stay_around_a_removed_name():
    out = scrub_report_text(
        "乳腺エコー 山田", identifiers=["Yamada^Tarou=山田^太郎=やまだ^たろう"], date_shift_days=-3
    )
    assert out.startswith("乳腺エコー") and "山田" not in out


@pytest.mark.parametrize(
    "text",
    [
        "2026-09-25",
        "09/25/2026",
        "25.09.2026",
        "Sep 25 2026",
        "25 September 2026",
        "September 25th, 2026",
        "September 25, 2026",
        "25-SEP-2026",
        "20260925",
        "9/25/26",
        "September 2026",
        "September 25th",
        "2026年9月25日",
    ],
)
def test_the_original_date_never_survives_in_any_format(text):
    for shift in (-1, -5, -200):
        out = scrub_report_text(f"Prior exam {text}.", identifiers=[], date_shift_days=shift)
        assert text not in out
        assert (
            "25" not in out
            or "2025" in out
            or "[DATE]" in out
            or out.count("25") < text.count("25")
        )


def test_dates_shift_consistently_in_every_format():
    out = scrub_report_text(
        "A 2026-09-25 B 09/25/2026 C 25.09.2026 D Sep 25 2026 E 25 September 2026",
        identifiers=[],
        date_shift_days=-10,
    )
    assert out == "A 2026-09-15 B 09/15/2026 C 15.09.2026 D Sep 15 2026 E 15 September 2026"


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("Call (507) 555-0199 ext. 4417 after 5.", ("555-0199", "4417")),
        ("Phone +1 507 555 0199 or 1-800-555-0199.", ("555 0199", "555-0199")),
        ("Tel. 020 7946 0958; mobile 07700 900123.", ("7946", "900123")),
        ("Fax: +49 30 12345678.", ("12345678",)),
        (
            "Mail to q.z@example.org, see www.example.com/case/8841 or http://10.2.3.4/x",
            ("q.z@", "8841", "10.2.3.4"),
        ),
        ("Host 192.168.10.25 and fe80::1ff:fe23:4567:890a.", ("192.168.10.25", "fe80::1ff")),
        ("Address: 45 QUARRY LN UNIT 3 EASTON PA 18042", ("45 QUARRY", "18042", "EASTON")),
        ("PO Box 1234, Millbrook, NY 12545-0001", ("1234", "Millbrook", "12545")),
        ("SSN 123-45-6789; social security number 123 45 6789", ("6789",)),
        (
            "Member ID XQ123456, account # 7788123, licence D1234567",
            ("XQ123456", "7788123", "D1234567"),
        ),
        (
            "Specimen S26-004512, encounter E552211, prior MRN 90000002",
            ("004512", "552211", "90000002"),
        ),
        ("HISTORY: 93-year-old woman; age 101; 95 y/o", ("93", "101", "95")),
    ],
)
def test_safe_harbor_patterns(text, gone):
    out = scrub_report_text(text, identifiers=[], date_shift_days=-7)
    for part in gone:
        assert part not in out, (part, out)


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("Her daughter Mary Smith drove her.", ("Mary", "Smith")),
        ("Scanned by technologist GRANT HILL.", ("GRANT", "HILL")),
        ("Discussed with Rose Baker at the front desk.", ("Rose", "Baker")),
        ("Results communicated to Hope Frost, NP.", ("Hope", "Frost")),
        ("Her mother M. Long is also a patient here.", ("Long",)),
        ("Her sister Иванова Мария came along.", ("Иванова", "Мария")),
        ("紹介元 佐藤花子先生 の報告", ("佐藤", "花子")),
        ("Henry Wu, MD reviewed.", ("Henry", "Wu")),
        ("sonographer Quentin Aldergrove", ("Quentin", "Aldergrove")),
    ],
)
def test_other_peoples_names_with_or_without_titles(text, gone):
    out = scrub_report_text(text, identifiers=[], date_shift_days=-7)
    for part in gone:
        assert part not in out, (part, out)


@pytest.mark.parametrize(
    "text",
    [
        "BI-RADS 4A: Suspicious. BI-RADS® 3: Probably Benign.",
        "LEFT BREAST 2:00 3 CM FN: 1.2 X 0.8 X 1.0 CM OVAL HYPOECHOIC MASS, CIRCUMSCRIBED MARGINS.",
        "At the 10 o'clock position of the right breast, 4 cm from the nipple, an irregular mass with spiculated margins, not parallel, posterior acoustic shadowing.",
        "A. LEFT BREAST, 2:00, 3 CM FN, ULTRASOUND-GUIDED CORE BIOPSY:",
        "INVASIVE DUCTAL CARCINOMA, GRADE 2. DUCTAL CARCINOMA IN SITU (DCIS), INTERMEDIATE NUCLEAR GRADE.",
        "Histologic Grade (Nottingham): Grade 2. Estrogen Receptor (ER): Positive (95%). HER2 (IHC): 2+ (Equivocal). Ki-67: 25%.",
        "Fibroadenoma. Fibrocystic changes. Atypical ductal hyperplasia. Lobular carcinoma in situ.",
        "Ultrasound-guided core biopsy with a 14-gauge spring-loaded device; a biopsy marker clip was placed.",
        "Retroareolar fibroglandular tissue consistent with gynecomastia.",
        "Transducer L12-5 and eL18-4. Time 10:22.",
    ],
)
def test_clinical_text_is_kept_verbatim(text):
    assert scrub_report_text(text, identifiers=IDENTIFIERS, date_shift_days=-7) == text


def test_recall_and_retention_on_a_held_out_synthetic_set():
    from cadbusi_assets_tests.records.deid_textset import KINDS, evaluate, generate

    # tuning used seeds 1-6 and 9137 (a first held-out seed, which missed one French phone
    # number: fixed); 48611 was run only after the last change to the scrubber
    counts = evaluate(generate(48611, 300), scrub_report_text)
    for kind in KINDS:
        removed, planted = counts[kind]
        assert planted >= 20, kind
        assert removed / planted >= 0.99, (kind, removed, planted)
    kept, total = counts["clinical"]
    assert kept / total >= 0.99


def test_demo_reports_plant_third_parties_and_scrubbing_removes_them():
    from cadbusi_assets.records.sections import findings, impression
    from cadbusi_demo import DemoConfig
    from cadbusi_demo.plan import plan_cohort
    from cadbusi_demo.records_truth import exams_truth

    plan = plan_cohort(DemoConfig(days=30))
    truth = {e["accession_number"]: e["planted_third_party"] for e in exams_truth(plan)}
    reports = [e for e in plan.exams if e.modality in {"US", "MG"}]
    planted = [e for e in reports if truth[e.accession]]
    assert 0.08 <= len(planted) / len(reports) <= 0.25
    kinds = {item["kind"] for e in planted for item in truth[e.accession]}
    assert {"relative", "staff", "phone", "address", "city_zip", "other_patient"} <= kinds
    # the planted paragraph is part of the findings (what the studies table and vlm.jsonl carry)
    frame = pl.DataFrame({"text": [e.report_text for e in planted]})
    sections = frame.select(
        findings(pl.col("text")).alias("f"), impression(pl.col("text")).alias("i")
    )
    for exam, found in zip(planted, sections["f"].to_list(), strict=True):
        assert found and all(item["value"] in found for item in truth[exam.accession])
    pseudonymizer = Pseudonymizer(TEST_KEY)
    for exam in planted:
        out = scrub_report_text(
            exam.report_text,
            identifiers=[exam.patient_id, exam.accession],
            date_shift_days=pseudonymizer.date_shift_days(exam.patient_id),
        )
        for item in truth[exam.accession]:
            for part in re.split(r"[\s^,]+", item["value"]):
                if (
                    len(part) >= 4
                    and not part.isdigit()
                    and part not in {"Street", "Lane", "Road", "Hill", "Avenue"}
                ):
                    assert part not in out, (part, out)
            assert item["value"] not in out


@pytest.mark.parametrize(
    ("text", "gone", "kept"),
    [
        ("ocr: zelda 555-0142 santos", ("zelda", "santos", "555-0142"), ("ocr:",)),
        ("Films from the hospital in Boston today.", ("Boston",), ("Films from the hospital in",)),
        ("Lives in Springfield with her sister.", ("Springfield",), ("with her sister",)),
        ("Spoke with her on 9/25. Follow-up due 10/3.", ("9/25", "10/3"), ("Spoke with her on",)),
        ("2/3 of the cores and 3/4 positive.", (), ("2/3 of the cores and 3/4 positive.",)),
        ("Referring: BHATT^ANIKA. Operator: KMR.", ("BHATT", "ANIKA", "KMR"), ("Operator:",)),
        (
            "Known Biopsy-Proven Malignancy. Probably Benign.",
            (),
            ("Known Biopsy-Proven Malignancy.",),
        ),
    ],
)
def test_lower_case_names_towns_short_dates_and_what_stays(text, gone, kept):
    out = scrub_report_text(text, identifiers=[], date_shift_days=-11)
    for part in gone:
        assert part not in out, (part, out)
    for part in kept:
        assert part in out, (part, out)


def test_scrub_is_fast_enough_for_every_report():
    import time

    from cadbusi_assets_tests.records.deid_textset import generate

    cases = generate(5, 60)
    for case in cases[:5]:
        scrub_report_text(case.text, identifiers=case.identifiers, date_shift_days=-3)
    start = time.perf_counter()
    for case in cases:
        scrub_report_text(case.text, identifiers=case.identifiers, date_shift_days=-3)
    # ~200 reports/s on one free core; the bound leaves room for a loaded CI machine
    assert len(cases) / (time.perf_counter() - start) > 20


@pytest.mark.parametrize(
    ("text", "gone", "kept"),
    [
        ("Contact (029) 2018 0862 or 28-1948-2199.", ("2018", "0862", "1948", "2199"), ()),
        (
            "Lives at 3799 Timothy Shoal. Mass at 2:00.",
            ("3799", "Timothy", "Shoal"),
            ("Mass at 2:00",),
        ),
        ("Lives at 326 Morgan Flat. Mass at 2:00.", ("326", "Morgan"), ("Mass at 2:00",)),
        ("Address: 23194 Golden Stream Suite 491.", ("23194", "Golden", "491"), ()),
        ("Contact 09139 Roding or 1234 AB Amsterdam.", ("09139", "Roding", "Amsterdam"), ()),
        ("Mailing: New Tylerburgh, V3S 7B1; London SW1A 1AA.", ("V3S 7B1", "SW1A"), ()),
        (
            "Discussed with Philippe Mercier de la Costa and Vera van den Broek.",
            ("Costa", "Broek"),
            (),
        ),
        ("Accompanied by her sister. Contact the office.", (), ("Contact the office.",)),
        (
            "1 CM FROM CHEST WALL. 2 VIEWS. 2 OVAL MASSES.",
            (),
            ("1 CM FROM CHEST WALL. 2 VIEWS. 2 OVAL MASSES.",),
        ),
    ],
)
def test_formats_seen_in_other_generators(text, gone, kept):
    """Phone, address and name layouts of the Faker library (not used to tune the set)."""
    out = scrub_report_text(text, identifiers=[], date_shift_days=-11)
    for part in gone:
        assert part not in out, (part, out)
    for part in kept:
        assert part in out, (part, out)


@pytest.mark.parametrize(
    ("text", "gone", "kept"),
    [
        (
            "Lives at Viale Veronica, 286 Piano 1. Mass at 2:00.",
            ("Veronica", "286"),
            ("Mass at 2:00",),
        ),
        ("Lives at Swen-Lindner-Gasse 1186. Mass at 2:00.", ("Lindner", "1186"), ("Mass at 2:00",)),
        ("Lives at home with 2 cats. Mass at 2:00.", (), ("Lives at home with 2 cats.",)),
        ("margins measuring 3.1 x 1.7 x 2.7 cm", (), ("margins measuring 3.1 x 1.7 x 2.7 cm",)),
    ],
)
def test_european_addresses_and_what_only_looks_like_one(text, gone, kept):
    out = scrub_report_text(text, identifiers=[], date_shift_days=-11)
    for part in gone:
        assert part not in out, (part, out)
    for part in kept:
        assert part in out, (part, out)


def test_eponyms_are_names_only_when_they_stand_as_names():
    out = scrub_report_text(
        "Discussed with Debbie Richardson and Larry Cooper. Bloom-Richardson grade 2. "
        "Cooper's ligaments are thickened. Paget disease. Tyrer-Cuzick risk 21%.",
        identifiers=[],
        date_shift_days=-3,
    )
    assert "Debbie" not in out and "Larry" not in out
    assert out.endswith(
        "Bloom-Richardson grade 2. Cooper's ligaments are thickened. Paget disease. "
        "Tyrer-Cuzick risk 21%."
    )


def test_australian_state_and_postcode():
    out = scrub_report_text("Mailing: Goldenmouth, NSW 2929.", identifiers=[], date_shift_days=-3)
    assert "2929" not in out and "Goldenmouth" not in out


def test_month_day_dates_in_a_list_are_all_shifted():
    """The adversary's case: "on 9/1 and 9/2" shifted the first date and kept the second."""
    from cadbusi_assets.records.scrub import scrub_report_text

    for text, expected in (
        ("Seen on 9/1 and 9/2 for follow-up.", "Seen on 8/22 and 8/23 for follow-up."),
        ("Biopsies on 9/1, 9/2 and 9/3.", "Biopsies on 8/22, 8/23 and 8/24."),
        ("Compared with 03/14/2024 and 9/2.", "Compared with 03/04/2024 and 8/23."),
    ):
        assert scrub_report_text(text, identifiers=[], date_shift_days=-10) == expected
    assert scrub_report_text("ratio 1/2 of lesion", identifiers=[], date_shift_days=-10) == (
        "ratio 1/2 of lesion"
    )
