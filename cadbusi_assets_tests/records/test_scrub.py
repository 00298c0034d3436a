"""Report scrubbing with planted identifiers (all invented)."""

from __future__ import annotations

import datetime as dt

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
