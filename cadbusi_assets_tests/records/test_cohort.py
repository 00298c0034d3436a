"""select_cohort: every row is either selected or excluded with one recorded reason."""

from __future__ import annotations

import datetime as dt

import polars as pl

from cadbusi_assets.records import (
    EXCLUSION_REASONS,
    exclusion_counts,
    parse_radiology_reports,
    select_cohort,
)
from cadbusi_assets_tests.records.synthetic import exams

D = dt.date


def cohort_input() -> pl.DataFrame:
    return parse_radiology_reports(
        exams(
            [
                dict(accession_number="KEEP1", exam_date=D(2024, 1, 1), birads="4A"),
                dict(
                    accession_number="MG1",
                    modality="MG",
                    exam_description="MG SCREENING",
                    exam_date=D(2024, 1, 1),
                    birads="1",
                ),
                dict(
                    accession_number="AX1",
                    exam_description="US AXILLA LEFT",
                    exam_date=D(2024, 1, 1),
                    birads="2",
                ),
                dict(
                    accession_number="AXB",
                    exam_description="US BREAST AND AXILLA LEFT",
                    exam_date=D(2024, 1, 1),
                    birads="2",
                ),
                dict(
                    accession_number="OUT1",
                    exam_description="OUTSIDE FILM READ US BREAST",
                    exam_date=D(2024, 1, 1),
                    birads="2",
                ),
                dict(
                    accession_number="CANC",
                    report_status="Cancelled",
                    exam_date=D(2024, 1, 1),
                    birads="2",
                ),
                dict(accession_number="ZERO", exam_date=D(2024, 1, 1), birads="0"),
                dict(
                    accession_number="NOUID",
                    study_instance_uid=None,
                    exam_date=D(2024, 1, 1),
                    birads="2",
                ),
                dict(
                    accession_number="BLANKUID",
                    study_instance_uid="  ",
                    exam_date=D(2024, 1, 1),
                    birads="2",
                ),
                dict(
                    accession_number="DUPROW",
                    study_instance_uid="9.9.1",
                    exam_date=D(2024, 1, 1),
                    birads="3",
                ),
                dict(
                    accession_number="DUPROW",
                    study_instance_uid="9.9.1",
                    exam_date=D(2024, 1, 1),
                    birads="3",
                ),
                dict(
                    accession_number="TWOUID",
                    study_instance_uid="9.9.2",
                    exam_date=D(2024, 1, 1),
                    birads="3",
                ),
                dict(
                    accession_number="TWOUID",
                    study_instance_uid="9.9.3",
                    exam_date=D(2024, 1, 1),
                    birads="3",
                ),
                dict(
                    accession_number="MIXED",
                    modality="MG",
                    study_instance_uid="9.9.4",
                    exam_date=D(2024, 1, 1),
                    birads="2",
                ),
                dict(
                    accession_number="MIXED",
                    modality="US",
                    study_instance_uid="9.9.4",
                    exam_date=D(2024, 1, 1),
                    birads="2",
                ),
            ]
        )
    )


def reasons(selection) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for accession, reason in selection.exclusions.select(
        "accession_number", "exclusion_reason"
    ).iter_rows():
        grouped.setdefault(reason, []).append(accession)
    return grouped


def test_each_rule_records_its_reason():
    frame = cohort_input()
    selection = select_cohort(frame)
    assert sorted(selection.cohort["accession_number"]) == ["AXB", "DUPROW", "KEEP1", "MIXED"]
    assert reasons(selection) == {
        "not ultrasound": ["MG1", "MIXED"],
        "axilla only": ["AX1"],
        "outside read": ["OUT1"],
        "report not final": ["CANC"],
        "BI-RADS 0": ["ZERO"],
        "missing PACS reference": ["NOUID", "BLANKUID"],
        "duplicate row": ["DUPROW"],
        "duplicate accession": ["TWOUID", "TWOUID"],
    }
    assert selection.cohort.height + selection.exclusions.height == frame.height
    assert selection.cohort["accession_number"].is_unique().all()
    assert selection.cohort.columns == frame.columns
    assert selection.exclusions.columns == [*frame.columns, "exclusion_reason"]


def test_rules_can_be_relaxed():
    selection = select_cohort(
        cohort_input(),
        exclude_outside_reads=False,
        exclude_axilla_only=False,
        exclude_birads_0=False,
        require_pacs_reference=False,
        excluded_report_statuses=(),
    )
    kept = set(selection.cohort["accession_number"])
    assert {"AX1", "OUT1", "ZERO", "CANC", "NOUID"} <= kept
    assert set(reasons(selection)) == {"not ultrasound", "duplicate row", "duplicate accession"}


def test_exclusion_counts_cover_every_reason():
    counts = exclusion_counts(select_cohort(cohort_input()))
    assert set(counts) == set(EXCLUSION_REASONS)
    assert counts["missing PACS reference"] == 2 and counts["duplicate accession"] == 2
    assert sum(counts.values()) == cohort_input().height - 4


def test_empty_input():
    selection = select_cohort(cohort_input().head(0))
    assert selection.cohort.height == 0 and selection.exclusions.height == 0
    assert set(exclusion_counts(selection).values()) == {0}


def test_rows_without_patient_id_or_date_or_with_a_future_date_are_excluded_with_a_reason():
    frame = parse_radiology_reports(
        exams(
            [
                dict(accession_number="OK1", exam_date=D(2024, 1, 1), birads="2"),
                dict(accession_number="NOPAT", patient_id=None, exam_date=D(2024, 1, 1)),
                dict(accession_number="BLANKPAT", patient_id=" ", exam_date=D(2024, 1, 1)),
                dict(accession_number="NODATE", exam_date=None, birads="2"),
                dict(accession_number="FUTURE", exam_date=D(2024, 6, 1), birads="2"),
                dict(accession_number=None, exam_date=D(2024, 1, 1), birads="2"),
            ]
        )
    )
    selection = select_cohort(frame, today=D(2024, 3, 1))
    assert selection.cohort["accession_number"].to_list() == ["OK1"]
    assert reasons(selection) == {
        "missing patient id": ["NOPAT", "BLANKPAT"],
        "missing exam date": ["NODATE"],
        "exam date in the future": ["FUTURE"],
        "missing accession number": [None],
    }


def test_the_duplicate_kept_does_not_depend_on_row_order():
    rows = [
        dict(accession_number="D1", study_instance_uid="9.9.9", report_status="PRELIMINARY"),
        dict(accession_number="D1", study_instance_uid="9.9.9", report_status="FINAL"),
        dict(accession_number="D1", study_instance_uid="9.9.9", report_status="FINAL", site="B"),
    ]
    for row in rows:
        row.update(exam_date=D(2024, 1, 1), birads="2")
    kept = []
    for order in (rows, rows[::-1], rows[1:] + rows[:1]):
        selection = select_cohort(parse_radiology_reports(exams(order)))
        assert selection.cohort.height == 1
        kept.append(selection.cohort.drop("__row", strict=False).row(0))
    assert kept[0] == kept[1] == kept[2]
    assert selection.cohort["report_status"][0] == "FINAL"


def test_an_addendum_replaces_the_final_report_of_its_exam():
    """The warehouse returns an exam twice, ``FINAL`` (BI-RADS 3) and ``ADDENDED`` (the
    addendum changes it to 5): the FINAL row was kept (final reports first) and the addendum
    excluded as ``duplicate row``, its BI-RADS with it (adversary s35). Whatever the order."""
    final = dict(
        accession_number="AD1",
        study_instance_uid="9.9.1",
        report_status="FINAL",
        report_text="IMPRESSION: BI-RADS 3: probably benign.",
    )
    addended = dict(
        final,
        report_status="ADDENDED",
        report_text=final["report_text"]
        + "\nADDENDUM: on review, changed to BI-RADS 5: highly suggestive of malignancy.",
    )
    for row in (final, addended):
        row.update(exam_date=D(2024, 1, 1))
    for order in ([final, addended], [addended, final]):
        selection = select_cohort(parse_radiology_reports(exams(order)))
        assert selection.cohort["report_status"].to_list() == ["ADDENDED"]
        assert selection.cohort["birads"].to_list() == ["5"]
        assert selection.exclusions["exclusion_reason"].to_list() == ["superseded by addendum"]
        assert exclusion_counts(selection)["superseded by addendum"] == 1
    # two FINAL rows of one exam stay duplicates
    selection = select_cohort(parse_radiology_reports(exams([final, dict(final, site="B")])))
    assert selection.exclusions["exclusion_reason"].to_list() == ["duplicate row"]
