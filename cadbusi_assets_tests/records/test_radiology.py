"""parse_radiology_reports: sections, laterality, biopsy flags, density, concordance, history."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from cadbusi_assets.records import PARSED_COLUMNS, parse_radiology_reports
from cadbusi_assets_tests.records import synthetic
from cadbusi_assets_tests.records.synthetic import exams

D = dt.date


def parse_one(**row) -> dict:
    return parse_radiology_reports(exams([row])).row(0, named=True)


def test_adds_every_parsed_column_and_keeps_input():
    frame = synthetic.radiology_rows()
    parsed = parse_radiology_reports(frame)
    assert parsed.columns == frame.columns + list(PARSED_COLUMNS)
    assert parsed.select(frame.columns).equals(frame)
    assert {c: parsed.schema[c] for c in PARSED_COLUMNS} == dict(PARSED_COLUMNS)


def test_minimal_input_columns_are_enough():
    frame = pl.DataFrame(
        {
            "patient_id": ["P"],
            "accession_number": ["A"],
            "exam_date": [D(2024, 1, 1)],
            "exam_description": ["US BREAST RIGHT"],
            "report_text": ["IMPRESSION: BI-RADS 3"],
        }
    )
    row = parse_radiology_reports(frame).row(0, named=True)
    assert (row["birads"], row["study_laterality"], row["modality"]) == ("3", "RIGHT", None)


def test_missing_required_column_is_named():
    with pytest.raises(ValueError, match="report_text"):
        parse_radiology_reports(pl.DataFrame({"patient_id": ["P"]}))


def test_sections_of_a_full_report():
    row = parse_radiology_reports(synthetic.radiology_rows().head(1)).row(0, named=True)
    assert row["birads"] == "4B"
    assert row["findings"].startswith("Left breast 2:00, 3 cm from the nipple")
    assert "IMPRESSION" not in row["findings"]
    assert row["impression"].startswith("Suspicious mass in the left breast")
    assert "BI-RADS Category 4B" in row["impression"] and "RECOMMENDATION" not in row["impression"]
    assert row["addendum"] is None and row["pathology_text"] is None


LATERALITY_CASES = [
    ("LEFT", "US BREAST RIGHT", "", "LEFT"),  # the warehouse field wins
    ("L", "US BREAST", "", "LEFT"),
    ("B", "US BREAST", "", "BILATERAL"),
    (None, "US BREAST RT LIMITED", "", "RIGHT"),
    (None, "US BREAST LT", "", "LEFT"),
    (None, "US BREAST R", "", "RIGHT"),
    (None, "US BREAST BILAT", "", "BILATERAL"),
    (None, "US BOTH BREASTS", "", "BILATERAL"),
    (None, "US BREAST LEFT AND RIGHT", "", "BILATERAL"),
    (None, "US BREAST SOFT TISSUE", "", None),  # "ft" inside a word is not LEFT
    (None, "US BREAST WITH HEIGHT", "", None),  # nor "ht"
    (None, "US BREAST", "The right breast was scanned.", "RIGHT"),
    (None, "US BREAST", "Bilateral whole-breast ultrasound.", "BILATERAL"),
    (None, "US BREAST", "No laterality.", None),
]


@pytest.mark.parametrize(
    "index",
    range(len(LATERALITY_CASES)),
    ids=[f"{c[0]}|{c[1]}|{c[2][:20]}" for c in LATERALITY_CASES],
)
def test_study_laterality(parsed_cases, index):
    expected = LATERALITY_CASES[index][-1]
    assert parsed_cases[f"lat{index}"]["study_laterality"] == expected


BIOPSY_CASES = [
    ("US GUIDED CORE BIOPSY LEFT BREAST", "US", True, True, "US"),
    ("ULTRASOUND-GUIDED BREAST BX RIGHT", "US", True, True, "US"),
    ("STEREOTACTIC BIOPSY LEFT BREAST", "MG", True, False, "STEREOTACTIC"),
    ("MAMMO GUIDED BIOPSY", "MG", True, False, "MAMMO"),
    ("TOMO GUIDED BIOPSY RIGHT", "MG", True, False, "TOMO"),
    ("MRI GUIDED BREAST BIOPSY", "MR", True, False, "MR"),
    ("BREAST CYST ASPIRATION", None, True, False, "OTHER"),
    ("US BREAST FNA LEFT", None, True, True, "US"),
    ("US BREAST LEFT LIMITED", "US", False, False, None),
    ("MG SCREENING BILATERAL", "MG", False, False, None),
]


@pytest.mark.parametrize("index", range(len(BIOPSY_CASES)), ids=[c[0] for c in BIOPSY_CASES])
def test_biopsy_flags_and_guidance(parsed_cases, index):
    row = parsed_cases[f"bx{index}"]
    expected = BIOPSY_CASES[index][2:]
    assert (row["is_biopsy"], row["is_us_biopsy"], row["biopsy_guidance"]) == expected


DENSITY_CASES = [
    ("DENSITY: Scattered areas of fibroglandular density.", "B"),
    ("BREAST COMPOSITION: c. Heterogeneously dense.", "C"),
    ("The breasts are extremely dense, which lowers sensitivity.", "D"),
    ("The breasts are almost entirely fatty.", "A"),
    ("Breast density: ACR B", "B"),
    ("No density statement.", None),
]


@pytest.mark.parametrize("index", range(len(DENSITY_CASES)), ids=[c[0][:30] for c in DENSITY_CASES])
def test_density(parsed_cases, index):
    assert parsed_cases[f"density{index}"]["density"] == DENSITY_CASES[index][1]


def test_density_text_is_the_section():
    row = parse_one(report_text="DENSITY: Heterogeneously dense.\nFINDINGS: none")
    assert row["density_text"] == "Heterogeneously dense."


CONCORDANCE_CASES = [
    ("PATHOLOGY: Fibroadenoma. Concordant.", True),
    ("CONCORDANCE: yes", True),
    ("CONCORDANCE: No", False),
    ("Pathology is discordant with imaging.", False),
    ("Results are not concordant; excision recommended.", False),
    ("Non-concordant result.", False),
    ("No statement.", None),
]


@pytest.mark.parametrize(
    "index", range(len(CONCORDANCE_CASES)), ids=[c[0][:30] for c in CONCORDANCE_CASES]
)
def test_concordance(parsed_cases, index):
    assert parsed_cases[f"conc{index}"]["concordance"] is CONCORDANCE_CASES[index][1]


def test_pathology_section_and_category():
    row = parse_one(
        report_text="IMPRESSION: BI-RADS 6\nPATHOLOGY: Invasive ductal carcinoma, grade 2.\n\nADDENDUM: called."
    )
    assert row["pathology_text"] == "Invasive ductal carcinoma, grade 2."
    assert row["pathology_category"] == "MALIGNANT"
    assert row["addendum"] == "ADDENDUM: called."
    benign = parse_one(
        report_text="PATHOLOGY RESULTS: Benign fibroadenoma, negative for malignancy."
    )
    assert benign["pathology_category"] == "BENIGN"
    lcis = parse_one(report_text="PATHOLOGY: Lobular carcinoma in situ.")
    assert lcis["pathology_category"] is None


def test_ultrasound_findings_prefers_the_ultrasound_section():
    report = (
        "MAMMOGRAM FINDINGS:\nRound mass with spiculated margins.\n"
        "ULTRASOUND FINDINGS:\nOval circumscribed hypoechoic mass.\nIMPRESSION: BI-RADS 4A"
    )
    row = parse_one(report_text=report)
    assert row["ultrasound_findings"] == "Oval circumscribed hypoechoic mass."
    assert (row["shape"], row["margin"]) == ("oval", "circumscribed")


def test_mammogram_section_without_ultrasound_section_gives_no_lexicon_text():
    row = parse_one(report_text="MAMMOGRAM: Spiculated mass.\nIMPRESSION: BI-RADS 5")
    assert row["ultrasound_findings"] is None and row["margin"] is None


def test_mammogram_mentioned_for_correlation_is_not_a_section():
    row = parse_one(report_text="FINDINGS: Due to mammographic finding: oval mass, hypoechoic.")
    assert row["ultrasound_findings"] is not None and row["echo"] == "hypoechoic"


def test_lexicon_only_for_unilateral_ultrasound():
    text = "FINDINGS: Irregular hypoechoic mass with spiculated margins."
    assert parse_one(report_text=text, laterality="LEFT")["shape"] == "irregular"
    assert parse_one(report_text=text, laterality="BILATERAL")["shape"] is None
    assert parse_one(report_text=text, modality="MG")["shape"] is None


def test_history_columns():
    frame = exams(
        [
            dict(
                accession_number="MG1",
                modality="MG",
                exam_description="MG DIAG BILATERAL",
                laterality="BILATERAL",
                exam_date=D(2024, 1, 1),
                birads="4A",
            ),
            dict(
                accession_number="MG2",
                modality="MG",
                exam_description="MG DIAG LEFT",
                exam_date=D(2024, 1, 2),
                birads="2",
            ),
            dict(accession_number="US1", exam_date=D(2024, 1, 5), birads="4B"),
            dict(
                accession_number="BX1",
                exam_description="US GUIDED BIOPSY LEFT BREAST",
                exam_date=D(2024, 1, 20),
                birads="4B",
            ),
            dict(accession_number="US2", exam_date=D(2024, 3, 1), birads="6"),
            dict(accession_number="US3", laterality="RIGHT", exam_date=D(2024, 9, 1), birads="2"),
            dict(accession_number="OTHER", patient_id="P2", exam_date=D(2024, 1, 5), birads="1"),
        ]
    )
    parsed = parse_radiology_reports(frame)
    by = {r["accession_number"]: r for r in parsed.iter_rows(named=True)}
    assert by["US1"]["days_to_biopsy"] == 15 and by["US1"]["biopsy_guidance"] == "US"
    assert by["BX1"]["days_to_biopsy"] == 0
    assert (
        by["US2"]["days_to_biopsy"] == -41 and by["US2"]["biopsy_guidance"] is None
    )  # 41 d > 30 d
    assert by["OTHER"]["days_to_biopsy"] is None
    assert (by["US1"]["left_prior_breast_biopsies"], by["US2"]["left_prior_breast_biopsies"]) == (
        0,
        1,
    )
    assert by["US3"]["right_prior_breast_biopsies"] == 0
    assert (by["US1"]["previous_worst_mg"], by["US1"]["previous_worst_mg_accession"]) == (
        "4A",
        "MG1",
    )
    assert by["US3"]["previous_worst_mg"] == "4A"  # the bilateral mammogram covers the right side
    assert by["OTHER"]["previous_worst_mg"] is None
    assert by["MG1"]["previous_worst_mg"] is None  # only ultrasound exams get it


def test_history_can_be_switched_off():
    parsed = parse_radiology_reports(
        exams([dict(exam_date=D(2024, 1, 1), birads="2")]), history=False, lexicon=False
    )
    assert parsed["days_to_biopsy"].to_list() == [None]
    assert parsed["left_prior_breast_biopsies"].to_list() == [None]


@pytest.fixture(scope="module")
def parsed_cases() -> dict[str, dict]:
    """Every table-driven case above, parsed in one call (one patient per case)."""
    rows = []
    for i, (laterality, description, report, _) in enumerate(LATERALITY_CASES):
        rows.append(
            dict(
                accession_number=f"lat{i}",
                laterality=laterality,
                exam_description=description,
                report_text=report,
            )
        )
    for i, (description, modality, *_) in enumerate(BIOPSY_CASES):
        rows.append(
            dict(accession_number=f"bx{i}", exam_description=description, modality=modality)
        )
    for i, (report, _) in enumerate(DENSITY_CASES):
        rows.append(dict(accession_number=f"density{i}", report_text=report))
    for i, (report, _) in enumerate(CONCORDANCE_CASES):
        rows.append(dict(accession_number=f"conc{i}", report_text=report))
    for row in rows:
        row.update(patient_id=row["accession_number"], exam_date=D(2024, 1, 1))
    parsed = parse_radiology_reports(exams(rows))
    return {row["accession_number"]: row for row in parsed.iter_rows(named=True)}
