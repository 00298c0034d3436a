"""parse_pathology_reports: fan-out collapse, parts, laterality, interpretation, taxonomy."""

from __future__ import annotations

import datetime as dt

import pytest

from cadbusi_assets.records import PARSED_PATHOLOGY_SCHEMA, parse_pathology_reports
from cadbusi_assets_tests.records import synthetic
from cadbusi_assets_tests.records.synthetic import specimens

D = dt.date

MULTI_PART = """CLINICAL HISTORY: Left breast mass, right breast calcifications.
FINAL DIAGNOSIS:
A. LEFT BREAST, 2:00, 3 CM FN, ULTRASOUND-GUIDED CORE BIOPSY:
- INVASIVE DUCTAL CARCINOMA, GRADE 2.
- DUCTAL CARCINOMA IN SITU, INTERMEDIATE NUCLEAR GRADE.
B. RIGHT BREAST, 10:00, STEREOTACTIC CORE BIOPSY:
- FIBROCYSTIC CHANGES. NEGATIVE FOR MALIGNANCY.
C) LEFT AXILLARY LYMPH NODE, FNA:
- NEGATIVE FOR METASTATIC CARCINOMA.
D. RIGHT BREAST, 6:00:
- LOBULAR CARCINOMA IN SITU, CLASSIC TYPE.
COMMENT: Results discussed with the clinic.
SYNOPTIC REPORT:
Histologic type: Invasive ductal carcinoma
Nottingham grade: 2"""


def parts_of(text, **row):
    return parse_pathology_reports(specimens([dict(text=text, specimen_date=D(2024, 1, 1), **row)]))


def test_fanout_rows_collapse_to_one_specimen():
    parsed = parse_pathology_reports(synthetic.pathology_rows())
    assert parsed.schema == PARSED_PATHOLOGY_SCHEMA
    sp1 = parsed.filter(parsed["specimen_accession"] == "SP0001")
    assert sp1.height == 1  # two fan-out rows, one part
    assert sp1["diagnosis_names"].item() == "Ductal carcinoma in situ; Invasive ductal carcinoma"
    assert sp1["interpretation"].item() == "MALIGNANT"


def test_parts_laterality_interpretation_and_types():
    parsed = parts_of(MULTI_PART)
    rows = {r["part_letter"]: r for r in parsed.iter_rows(named=True)}
    assert sorted(rows) == ["A", "B", "C", "D"]
    assert (
        rows["A"]["laterality"],
        rows["A"]["interpretation"],
        rows["A"]["cancer_type"],
        rows["A"]["grade"],
    ) == (
        "LEFT",
        "MALIGNANT",
        "IDC",
        2,
    )
    assert (rows["B"]["laterality"], rows["B"]["interpretation"], rows["B"]["cancer_type"]) == (
        "RIGHT",
        "BENIGN",
        None,
    )
    assert (rows["C"]["laterality"], rows["C"]["interpretation"]) == ("LEFT", "BENIGN")
    assert (rows["D"]["interpretation"], rows["D"]["high_risk"]) == ("BENIGN", True)
    assert "COMMENT" not in rows["D"]["part_text"]
    assert rows["A"]["synoptic_report"].startswith("Histologic type: Invasive ductal carcinoma")
    assert rows["A"]["final_diagnosis"].startswith("A. LEFT BREAST")


@pytest.mark.parametrize(
    ("diagnosis", "interpretation", "high_risk", "cancer_type"),
    [
        ("- INVASIVE DUCTAL CARCINOMA, GRADE 3.", "MALIGNANT", False, "IDC"),
        ("- INVASIVE LOBULAR CARCINOMA.", "MALIGNANT", False, "ILC"),
        ("- DUCTAL CARCINOMA IN SITU, SOLID TYPE.", "MALIGNANT", False, "DCIS"),
        ("- DCIS, NEGATIVE FOR INVASIVE CARCINOMA.", "MALIGNANT", False, "DCIS"),
        ("- MUCINOUS CARCINOMA.", "MALIGNANT", False, "MUCINOUS"),
        ("- METASTATIC CARCINOMA IN 2 OF 3 LYMPH NODES.", "MALIGNANT", False, "METASTATIC"),
        ("- ISOLATED TUMOR CELLS IN ONE LYMPH NODE.", "MALIGNANT", False, "ISOLATED TUMOR CELLS"),
        ("- MALIGNANT LYMPHOMA.", "MALIGNANT", False, "OTHER"),
        ("- FIBROADENOMA.", "BENIGN", False, None),
        ("- FIBROCYSTIC CHANGES. NEGATIVE FOR MALIGNANCY.", "BENIGN", False, None),
        ("- NO EVIDENCE OF MALIGNANCY.", "BENIGN", False, None),
        ("- BENIGN BREAST TISSUE WITH STROMAL FIBROSIS.", "BENIGN", False, None),
        ("- ATYPICAL DUCTAL HYPERPLASIA.", "BENIGN", True, None),
        ("- ATYPICAL LOBULAR HYPERPLASIA AND LCIS.", "BENIGN", True, None),
        ("- FLAT EPITHELIAL ATYPIA.", "BENIGN", True, None),
        ("- USUAL DUCTAL HYPERPLASIA, NEGATIVE FOR ATYPIA.", "BENIGN", False, None),
        ("- CARCINOMA IS NOT IDENTIFIED.", "BENIGN", False, None),
        ("- ATYPICAL CELLS, SUSPICIOUS FOR CARCINOMA.", "UNKNOWN", True, None),
        ("- SEE COMMENT", "UNKNOWN", False, None),
    ],
)
def test_interpretation_rules(diagnosis, interpretation, high_risk, cancer_type):
    row = parts_of(f"FINAL DIAGNOSIS:\nA. LEFT BREAST, CORE BIOPSY:\n{diagnosis}").row(
        0, named=True
    )
    assert (row["interpretation"], row["high_risk"], row["cancer_type"]) == (
        interpretation,
        high_risk,
        cancer_type,
    )


def test_text_without_header_or_letters_is_part_a():
    row = parts_of("Right breast core biopsy: fibroadenoma.").row(0, named=True)
    assert (row["part_letter"], row["laterality"], row["interpretation"]) == (
        "A",
        "RIGHT",
        "BENIGN",
    )


def test_both_sides_named_is_unknown_laterality():
    row = parts_of(
        "FINAL DIAGNOSIS:\nA. RIGHT AND LEFT BREAST REDUCTION:\n- BENIGN BREAST TISSUE."
    ).row(0, named=True)
    assert row["laterality"] == "UNKNOWN"


def test_without_text_the_diagnosis_names_and_part_description_decide():
    frame = specimens(
        [
            dict(
                text=None,
                diagnosis_name="Invasive lobular carcinoma",
                part_description="Breast, left",
                specimen_date=D(2024, 1, 1),
            )
        ]
    )
    row = parse_pathology_reports(frame).row(0, named=True)
    assert (row["part_letter"], row["laterality"], row["interpretation"], row["cancer_type"]) == (
        "A",
        "LEFT",
        "MALIGNANT",
        "ILC",
    )


def test_synoptic_column_wins_over_synoptic_text():
    frame = specimens(
        [dict(text=MULTI_PART, synoptic_report="Structured synoptic", specimen_date=D(2024, 1, 1))]
    )
    assert set(parse_pathology_reports(frame)["synoptic_report"]) == {"Structured synoptic"}
