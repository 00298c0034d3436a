"""A date whose upstream partition is missing fails with a StageFailure (its message, which
names no data, reaches the UI) that is still a FileNotFoundError for older callers."""

from __future__ import annotations

import pytest

from cadbusi_assets.identity import Pseudonymizer
from cadbusi_assets.stages import StageFailure, analysis
from cadbusi_assets.stages import deidentification as deid
from cadbusi_assets.stages.report import MissingUpstream
from cadbusi_assets.storage import open_zone
from cadbusi_assets_tests.support import TEST_KEY


@pytest.fixture
def zones(tmp_path):
    return open_zone(tmp_path / "raw", "raw").ensure(), open_zone(
        tmp_path / "research", "research"
    ).ensure()


def test_missing_upstream_partitions_are_stage_failures_that_say_what_to_materialize(zones):
    raw, research = zones
    calls = [
        (
            lambda: deid.deidentify_partition(
                raw, research, Pseudonymizer(TEST_KEY), "2026-09-01", verify_ocr=False
            ),
            "raw_dicom for 2026-09-01 is missing",
        ),
        (
            lambda: analysis.analyze_partition(research, "b1", ocr=False),
            "deidentified_images for this date is missing",
        ),
        (lambda: analysis.inpaint_partition(research, "b1"), "image_features for this date"),
    ]
    for call, message in calls:
        with pytest.raises(MissingUpstream, match=message) as caught:
            call()
        assert isinstance(caught.value, StageFailure)
        assert isinstance(caught.value, FileNotFoundError)
