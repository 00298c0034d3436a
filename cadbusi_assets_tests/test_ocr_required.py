"""No silent OCR-off in production runs (issue 9, item 7): with OCR on (the default) and no
tesseract, the image stages stop before touching any data with the install command; OCR off only
when asked, and the stage report (partition metadata) records whether OCR ran."""

from __future__ import annotations

import polars as pl
import pytest

from cadbusi_assets.identity import Pseudonymizer
from cadbusi_assets.settings import TESSERACT_INSTALL, OcrUnavailableError
from cadbusi_assets.stages.analysis import analyze_partition
from cadbusi_assets.stages.deidentification import (
    IMAGE_SCHEMA,
    IMAGES_TABLE,
    deidentify_partition,
)
from cadbusi_assets.storage import open_zone, write_partition_table
from cadbusi_assets_tests.support import TEST_KEY, require_tesseract


@pytest.fixture
def zones(tmp_path):
    return open_zone(tmp_path / "raw", "raw").ensure(), open_zone(
        tmp_path / "research", "research"
    ).ensure()


def test_stages_stop_before_any_work_without_tesseract(zones, tmp_path, monkeypatch):
    raw, research = zones
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(OcrUnavailableError, match="CADBUSI_OCR=0") as raised:
        deidentify_partition(raw, research, Pseudonymizer(TEST_KEY), "2026-09-01")
    assert TESSERACT_INSTALL in str(raised.value)
    with pytest.raises(OcrUnavailableError):
        analyze_partition(research, "batch")
    # with OCR off on purpose the stages go on (and here find no input)
    with pytest.raises(FileNotFoundError):
        deidentify_partition(raw, research, Pseudonymizer(TEST_KEY), "2026-09-01", verify_ocr=False)


def test_the_report_records_whether_ocr_ran(zones):
    _, research = zones
    write_partition_table(research, IMAGES_TABLE, "batch", pl.DataFrame(schema=IMAGE_SCHEMA))
    assert analyze_partition(research, "batch", ocr=False).counts["ocr_ran"] is False
    require_tesseract()
    assert analyze_partition(research, "batch", ocr=True).counts["ocr_ran"] is True
