"""Partition reports: the count-free view for the UI and the full report in the raw zone."""

from __future__ import annotations

import doctest

import polars as pl

from cadbusi_assets.stages import PartitionReport
from cadbusi_assets.stages import report as report_module
from cadbusi_assets.stages.report import (
    format_partition_report,
    read_partition_reports,
    record_partition_report,
    without_counts,
)
from cadbusi_assets.storage import open_zone


def test_docstring_examples():
    result = doctest.testmod(report_module)
    assert result.failed == 0 and result.attempted > 0


def test_without_counts_keeps_words_and_percentages():
    assert without_counts("12 of 40 studies; 7.5% left; BI-RADS 4") == (
        "n of n studies; 7.5% left; BI-RADS n"
    )
    assert without_counts("ISO_IR192 stays, x2 stays") == "ISO_IR192 stays, x2 stays"
    # a study date is the line's partition key, not a count: the demo's progress said
    # "n-n-n: de-identifying and analysing n instances"
    assert without_counts("2026-09-03: de-identifying 1,204 instances") == (
        "2026-09-03: de-identifying n instances"
    )
    assert (
        without_counts("dates 2026-09-03 to 2026-09-05 (3)") == "dates 2026-09-03 to 2026-09-05 (n)"
    )
    assert without_counts("12-34-5678 and 2026-09-031") == "n-n-n and n-n-n"


def test_reports_are_kept_per_asset_and_date_and_replaced_on_rerun(tmp_path):
    raw = open_zone(str(tmp_path / "raw"), "raw")
    first = PartitionReport("batch-name-not-a-date", row_count=3, counts={"images": 3})
    first.tables["quarantine"] = pl.DataFrame({"reason": ["corrupt DICOM"], "n": [1]})
    first.add_problem("1 file quarantined")
    record_partition_report(raw, "deidentified_images", "2026-09-01", first)
    record_partition_report(
        raw, "deidentified_images", "2026-09-02", PartitionReport("x", row_count=5)
    )
    record_partition_report(raw, "raw_dicom", "2026-09-01", PartitionReport("2026-09-01"))
    again = PartitionReport("batch-name-not-a-date", row_count=4, counts={"images": 4})
    record_partition_report(raw, "deidentified_images", "2026-09-01", again)

    every = read_partition_reports(raw)
    assert [(r["asset"], r["partition"]) for r in every] == [
        ("deidentified_images", "2026-09-01"),
        ("deidentified_images", "2026-09-02"),
        ("raw_dicom", "2026-09-01"),
    ]
    (one,) = read_partition_reports(raw, "deidentified_images", "2026-09-01")
    assert one["row_count"] == 4 and one["counts"] == {"images": 4} and one["tables"] == {}
    text = format_partition_report(
        read_partition_reports(raw, "deidentified_images", "2026-09-01")[0] | {"tables": {}}
    )
    assert text.splitlines() == ["deidentified_images 2026-09-01", "  rows: 4", "  images: 4"]
    record_partition_report(raw, "raw_dicom", "2026-09-01", first)
    (kept,) = read_partition_reports(raw, "raw_dicom")
    shown = format_partition_report(kept, tables=True)
    assert "  problem: 1 file quarantined" in shown and "corrupt DICOM" in shown
