"""Patients who withdrew consent leave the cohort with a recorded reason (issue 10 item 7)."""

from __future__ import annotations

import datetime as dt

from cadbusi_assets.identity.optout import OPT_OUT_REASON
from cadbusi_assets.records import parse_radiology_reports, select_cohort
from cadbusi_assets.stages.records import select_imaging_studies  # noqa: F401  (wired there)
from cadbusi_assets_tests.records.synthetic import exams

D = dt.date


def test_opted_out_patients_are_excluded_with_their_reason():
    parsed = parse_radiology_reports(
        exams(
            [
                dict(
                    accession_number="A1", patient_id="P001", exam_date=D(2024, 1, 1), birads="4A"
                ),
                dict(accession_number="A2", patient_id="P002", exam_date=D(2024, 1, 1), birads="3"),
            ]
        )
    )
    selection = select_cohort(parsed, opt_out=frozenset({"P002"}), today=D(2024, 6, 1))
    assert selection.cohort["accession_number"].to_list() == ["A1"]
    excluded = dict(
        zip(
            selection.exclusions["accession_number"].to_list(),
            selection.exclusions["exclusion_reason"].to_list(),
            strict=True,
        )
    )
    assert excluded == {"A2": OPT_OUT_REASON}


def test_the_stage_reads_the_opt_out_file(tmp_path, monkeypatch):
    from cadbusi_assets.identity.optout import load_opt_out_from_env

    listing = tmp_path / "opt_out.txt"
    listing.write_text("P002\n")
    monkeypatch.setenv("CADBUSI_OPT_OUT_FILE", str(listing))
    assert "P002" in load_opt_out_from_env()
