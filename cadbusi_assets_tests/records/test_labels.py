"""Diagnosis label rules on small hand-written timelines (day numbers from 2020-01-01)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from cadbusi_assets.records import (
    LABELS_SCHEMA,
    LabelWindows,
    diagnosis_labels,
    link_pathology,
    parse_pathology_reports,
    parse_radiology_reports,
)
from cadbusi_assets_tests.records.synthetic import exams, specimens

DAY0 = dt.date(2020, 1, 1)
MALIGNANT = "FINAL DIAGNOSIS:\nA. {side} BREAST, CORE BIOPSY:\n- INVASIVE DUCTAL CARCINOMA."
BENIGN = "FINAL DIAGNOSIS:\nA. {side} BREAST, CORE BIOPSY:\n- FIBROADENOMA."


def day(n: int) -> dt.date:
    return DAY0 + dt.timedelta(days=n)


def us(acc: str, n: int, birads: str | None, side: str | None = "LEFT", **extra) -> dict:
    row = dict(
        accession_number=acc,
        exam_date=day(n),
        laterality=side,
        exam_description="US BREAST",
        **extra,
    )
    if birads is not None:
        row.setdefault("report_text", f"IMPRESSION: BI-RADS {birads}")
    return row


def mg(acc: str, n: int, birads: str, side: str = "BILATERAL") -> dict:
    return dict(
        accession_number=acc,
        exam_date=day(n),
        laterality=side,
        modality="MG",
        exam_description="MG DIAGNOSTIC",
        report_text=f"IMPRESSION: BI-RADS {birads}",
    )


def biopsy(acc: str, n: int, side: str = "LEFT", **extra) -> dict:
    return dict(
        accession_number=acc,
        exam_date=day(n),
        laterality=side,
        exam_description="US GUIDED CORE BIOPSY BREAST",
        report_text="PROCEDURE: core biopsy",
        **extra,
    )


def path(n: int, kind: str, side: str | None = "LEFT", **extra) -> dict:
    template = MALIGNANT if kind == "malignant" else BENIGN
    text = template.format(side=side) if side else template.replace("{side} ", "")
    return dict(text=text, specimen_date=day(n), **extra)


def run(
    rad: list[dict], pathology: list[dict] = (), windows: LabelWindows = LabelWindows()
) -> pl.DataFrame:
    parsed_rad = parse_radiology_reports(exams(rad), lexicon=False)
    parsed_path = parse_pathology_reports(specimens(list(pathology)))
    return diagnosis_labels(parsed_rad, parsed_path, windows)


def rule(labels: pl.DataFrame, acc: str, side: str = "LEFT") -> str | None:
    return labels.filter((pl.col("accession_number") == acc) & (pl.col("side") == side))[
        "rule"
    ].item()


# -- shape ---------------------------------------------------------------------------------------
def test_one_row_per_us_accession_and_side():
    labels = run(
        [
            us("U1", 0, "2", "BILATERAL"),
            us("U2", 0, "2", "RIGHT"),
            us("U3", 0, "2", None),
            mg("M1", 0, "1"),
        ]
    )
    assert labels.schema == LABELS_SCHEMA
    assert sorted(labels.select("accession_number", "side").iter_rows()) == [
        ("U1", "LEFT"),
        ("U1", "RIGHT"),
        ("U2", "RIGHT"),
        ("U3", "LEFT"),
        ("U3", "RIGHT"),
    ]


def test_no_evidence_means_unknown_not_benign():
    labels = run([us("U1", 0, "4A", "BILATERAL")])
    assert labels["label"].to_list() == [None, None]
    assert labels["has_malignant"].to_list() == [-1, -1]
    assert labels["evidence_code"].to_list() == [None, None]


# -- 0: pathology at the same encounter --------------------------------------------------------
def test_malignant0_same_encounter():
    labels = run([us("U1", 0, "4B", encounter_id="E1")], [path(1, "malignant", encounter_id="E1")])
    row = labels.row(0, named=True)
    assert (row["rule"], row["label"], row["has_malignant"], row["evidence_code"]) == (
        "MALIGNANT0",
        "MALIGNANT",
        1,
        0,
    )
    assert (
        row["specimen_accession"] == "S0000" and row["source"] == "pathology at the same encounter"
    )


def test_malignant_wins_within_the_encounter():
    labels = run(
        [us("U1", 0, "4B", encounter_id="E1")],
        [path(1, "benign", encounter_id="E1"), path(1, "malignant", encounter_id="E1")],
    )
    assert rule(labels, "U1") == "MALIGNANT0"


def test_benign0_and_other_side_pathology_is_ignored():
    labels = run(
        [us("U1", 0, "4A", "BILATERAL", encounter_id="E1")],
        [
            path(1, "benign", "LEFT", encounter_id="E1"),
            path(1, "malignant", "RIGHT", encounter_id="E9"),
        ],
    )
    assert rule(labels, "U1", "LEFT") == "BENIGN0"
    assert (
        rule(labels, "U1", "RIGHT") is None
    )  # different encounter, 4A: no MALIGNANT2 without a biopsy


def test_unknown_side_pathology_folds_into_unilateral_exams_only():
    unilateral = run(
        [us("U1", 0, "4A", "RIGHT", encounter_id="E1")],
        [path(1, "benign", None, encounter_id="E1")],
    )
    assert rule(unilateral, "U1", "RIGHT") == "BENIGN0"
    bilateral = run(
        [us("U1", 0, "4A", "BILATERAL", encounter_id="E1")],
        [path(1, "benign", None, encounter_id="E1")],
    )
    assert bilateral["rule"].to_list() == [None, None]
    assert bilateral["has_malignant"].to_list() == [-1, -1]


def test_discordant_pathology_does_not_label_the_encounter():
    labels = run(
        [us("U1", 0, "4C", encounter_id="E1", report_text="IMPRESSION: BI-RADS 4C. Discordant.")],
        [path(1, "benign", encounter_id="E1")],
    )
    assert rule(labels, "U1") is None  # and BENIGN2 needs BI-RADS 1–4B


# -- 1: benign follow-up -----------------------------------------------------------------------
def test_benign1_with_long_benign_followup():
    labels = run([us("U1", 0, "2"), mg("M1", 400, "1")])
    row = labels.filter(pl.col("accession_number") == "U1").row(0, named=True)
    assert (row["rule"], row["evidence_code"], row["has_malignant"]) == ("BENIGN1", 1, 0)
    assert row["source"] == "BI-RADS 2 with 400 days of benign follow-up"


@pytest.mark.parametrize(
    ("rad", "pathology"),
    [
        ([us("U1", 0, "2"), mg("M1", 100, "1")], []),  # follow-up too short
        ([us("U1", 0, "2"), mg("M1", 400, "1", "RIGHT")], []),  # follow-up of the other breast only
        ([us("U1", 0, "2"), biopsy("B1", 60), mg("M1", 400, "1")], []),  # biopsy within +120 d
        ([biopsy("B1", -20), us("U1", 0, "2"), mg("M1", 400, "1")], []),  # biopsy within −30 d
        (
            [us("U1", 0, "2"), mg("M1", 500, "4A"), mg("M2", 800, "1")],
            [],
        ),  # BI-RADS 4A within 730 d
        ([us("U1", 0, "2"), mg("M1", 400, "1")], [path(300, "malignant")]),  # cancer within 450 d
        (
            [us("U1", 0, "2"), mg("M1", 400, "1")],
            [path(300, "malignant", None)],
        ),  # unknown side counts
    ],
)
def test_benign1_disqualifiers(rad, pathology):
    assert rule(run(rad, pathology), "U1") is None


def test_benign1_not_disqualified_by_the_other_breast_or_old_events():
    labels = run(
        [
            biopsy("B0", -40),
            us("U1", 0, "1"),
            mg("M1", 300, "4A", "RIGHT"),
            mg("M2", 400, "2", "LEFT"),
        ],
        [path(100, "malignant", "RIGHT"), path(500, "malignant", "LEFT")],
    )
    assert rule(labels, "U1") == "BENIGN1"


# -- 3: probably benign with stable follow-up --------------------------------------------------
@pytest.mark.parametrize(
    ("followups", "expected"),
    [
        ([("F1", 200, "2"), ("F2", 400, "1")], "BENIGN3"),  # all follow-ups 1/2
        ([("F1", 200, "3"), ("F2", 800, "2")], "BENIGN3"),  # 1/2/3 with one ≥730 d out
        ([("F1", 200, "3"), ("F2", 500, "3")], None),  # 3s without long follow-up
        ([("F1", 200, "3"), ("F2", 400, "4A"), ("F3", 800, "2")], None),  # a 4A in between
        ([("F1", 100, "2")], None),  # follow-up under 180 d
    ],
)
def test_benign3(followups, expected):
    rad = [us("U1", 0, "3")] + [us(acc, n, b) for acc, n, b in followups]
    assert rule(run(rad), "U1") == expected


def test_benign3_needs_no_cancer():
    rad = [us("U1", 0, "3"), us("F1", 200, "2"), us("F2", 400, "1")]
    assert rule(run(rad, [path(420, "malignant")]), "U1") is None


# -- MALIGNANT1: BI-RADS 6 -----------------------------------------------------------------------
def test_malignant1_needs_malignant_pathology_on_that_breast():
    assert rule(run([us("U1", 100, "6")], [path(0, "malignant")]), "U1") == "MALIGNANT1"
    assert rule(run([us("U1", 100, "6")], [path(0, "malignant", "RIGHT")]), "U1") is None
    assert rule(run([us("U1", 100, "6")], [path(0, "benign")]), "U1") is None


# -- 2: future pathology -------------------------------------------------------------------------
def test_malignant2_needs_suspicious_birads_and_a_biopsy():
    rad = [us("U1", 0, "4B"), biopsy("B1", 10)]
    labels = run(rad, [path(12, "malignant")])
    row = labels.filter(pl.col("accession_number") == "U1").row(0, named=True)
    assert (row["rule"], row["evidence_code"], row["source"]) == (
        "MALIGNANT2",
        2,
        "malignant pathology 12 days after the exam",
    )
    assert rule(run([us("U1", 0, "4B")], [path(12, "malignant")]), "U1") is None  # no biopsy exam
    assert rule(run([us("U1", 0, "3"), biopsy("B1", 10)], [path(12, "malignant")]), "U1") is None


def test_benign2_window_and_birads_range():
    assert rule(run([us("U1", 0, "4A")], [path(20, "benign")]), "U1") == "BENIGN2"
    assert rule(run([us("U1", 0, "4C")], [path(20, "benign")]), "U1") is None
    assert rule(run([us("U1", 0, "4A")], [path(300, "benign")]), "U1") is None
    assert (
        rule(run([us("U1", 0, "4A")], [path(20, "benign"), path(30, "malignant", None)]), "U1")
        is None
    )
    wider = LabelWindows(future_pathology_days=400)
    assert rule(run([us("U1", 0, "4A")], [path(300, "benign")], wider), "U1") == "BENIGN2"


def test_pathology_before_the_exam_is_not_future_pathology():
    assert rule(run([us("U1", 10, "4A")], [path(0, "benign")]), "U1") is None


# -- 4: explicit pathology category overrides ----------------------------------------------------
def test_category_overrides_and_records_the_disagreement():
    report = "IMPRESSION: BI-RADS 2\nPATHOLOGY: Invasive ductal carcinoma."
    labels = run([us("U1", 0, "2", report_text=report), mg("M1", 400, "1")])
    row = labels.filter(pl.col("accession_number") == "U1").row(0, named=True)
    assert (row["rule"], row["evidence_code"], row["overridden_rule"]) == (
        "MALIGNANT4",
        4,
        "BENIGN1",
    )


def test_category_agreeing_with_a_rule_is_not_a_disagreement():
    report = "IMPRESSION: BI-RADS 4A\nPATHOLOGY: Benign fibroadenoma."
    labels = run([us("U1", 0, "4A", report_text=report)], [path(20, "benign")])
    row = labels.row(0, named=True)
    assert (row["rule"], row["overridden_rule"]) == ("BENIGN4", None)


def test_category_on_a_bilateral_exam_applies_to_the_named_side_only():
    report = "IMPRESSION: BI-RADS 4A\nPATHOLOGY: Left breast invasive ductal carcinoma."
    labels = run([us("U1", 0, "4A", "BILATERAL", report_text=report)])
    assert (rule(labels, "U1", "LEFT"), rule(labels, "U1", "RIGHT")) == ("MALIGNANT4", None)


# -- windows, priority, history -----------------------------------------------------------------
def test_windows_are_configurable():
    rad = [us("U1", 0, "2"), mg("M1", 100, "1")]
    assert rule(run(rad), "U1") is None
    assert rule(run(rad, windows=LabelWindows(min_followup_days=90)), "U1") == "BENIGN1"


def test_label_windows_reject_negative_days():
    with pytest.raises(ValueError, match="future_pathology_days"):
        LabelWindows(future_pathology_days=-1)


def test_same_encounter_beats_later_rules():
    labels = run(
        [us("U1", 0, "2", encounter_id="E1"), mg("M1", 400, "1")],
        [path(0, "malignant", encounter_id="E1")],
    )
    assert rule(labels, "U1") == "MALIGNANT0"


def test_prior_breast_cancer_flags_later_exams_of_that_breast():
    rad = [us("U1", 0, "4B", "BILATERAL", encounter_id="E1"), us("U2", 200, "2", "BILATERAL")]
    labels = run(rad, [path(1, "malignant", "LEFT", encounter_id="E1")])
    flags = {
        (r["accession_number"], r["side"]): r["prior_breast_cancer"]
        for r in labels.iter_rows(named=True)
    }
    assert flags == {("U1", "LEFT"): 0, ("U1", "RIGHT"): 0, ("U2", "LEFT"): 1, ("U2", "RIGHT"): 0}


# -- linking -------------------------------------------------------------------------------------
def test_link_pathology_to_the_prior_us_exam_of_that_breast():
    rad = [
        us("U_OLD", -200, "2"),
        us("U_RIGHT", -5, "4A", "RIGHT"),
        mg("M1", -3, "4A", "LEFT"),
        us("U_LEFT", -10, "4B"),
        biopsy("B1", 0),
    ]
    parsed_rad = parse_radiology_reports(exams(rad), lexicon=False)
    parts = parse_pathology_reports(
        specimens([path(2, "malignant"), path(2, "benign", "RIGHT"), path(400, "benign")])
    )
    links = link_pathology(parsed_rad, parts)
    by = {r["specimen_accession"]: r for r in links.iter_rows(named=True)}
    assert (by["S0000"]["accession_number"], by["S0000"]["biopsy_accession"]) == ("U_LEFT", "B1")
    assert by["S0000"]["days_exam_to_specimen"] == 12
    assert (
        by["S0001"]["accession_number"] == "U_RIGHT"
    )  # right part, no right biopsy: specimen date anchors
    assert by["S0002"]["accession_number"] is None  # nothing within the look-back window
    assert links.height == parts.height


def test_link_unknown_side_part_takes_the_linked_exam_side():
    rad = [us("U1", -10, "4B", "RIGHT"), biopsy("B1", 0, "RIGHT")]
    parsed_rad = parse_radiology_reports(exams(rad), lexicon=False)
    parts = parse_pathology_reports(specimens([path(1, "benign", None)]))
    row = link_pathology(parsed_rad, parts).row(0, named=True)
    assert (row["laterality"], row["side"], row["accession_number"]) == ("UNKNOWN", "RIGHT", "U1")


def test_label_disagreements_lists_overrides_only():
    from cadbusi_assets.records import label_disagreements

    report = "IMPRESSION: BI-RADS 2\nPATHOLOGY: Invasive ductal carcinoma."
    labels = run(
        [
            us("U1", 0, "2", report_text=report),
            mg("M1", 400, "1"),
            us("U2", 0, "2", "RIGHT"),
            mg("M2", 400, "1", "RIGHT"),
        ]
    )
    disagreements = label_disagreements(labels)
    assert disagreements.select("accession_number", "rule", "overridden_rule").rows() == [
        ("U1", "MALIGNANT4", "BENIGN1")
    ]
    assert rule(labels, "U2", "RIGHT") == "BENIGN1"


def test_accession_with_mammogram_and_ultrasound_rows_is_labelled_as_ultrasound():
    rad = [mg("U1", 0, "2", "LEFT"), us("U1", 0, "2", encounter_id="E1")]
    labels = run(rad, [path(0, "benign", encounter_id="E1")])
    assert labels.select("accession_number", "side", "rule").rows() == [("U1", "LEFT", "BENIGN0")]
