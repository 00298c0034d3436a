from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from cadbusi_assets.dicom import UltrasoundRegion
from cadbusi_assets.ultrasound import FEATURES_SCHEMA, analyze_frame, features_frame
from cadbusi_assets.ultrasound.analysis import resolve_laterality
from cadbusi_assets.ultrasound.overlay import to_grey
from cadbusi_assets_tests.ultrasound.synthetic import WHITE, YELLOW, make_frame

REGION = UltrasoundRegion(100, 40, 600, 450, spatial_format=1, data_type=1)


def test_row_has_the_schema_and_the_detections():
    frame = make_frame(
        seed=1, calipers=[(200, 200, "+", YELLOW), (400, 300, "x", WHITE)], jpeg=True
    )
    analysis = analyze_frame(frame.rgb, [REGION], ocr=False, frame_index=3)
    row = analysis.as_row()
    assert set(row) == set(FEATURES_SCHEMA)
    assert row["frame"] == 3 and row["region_count"] == 1
    assert (row["crop_x0"], row["crop_y0"]) == pytest.approx(frame.crop_box[:2], abs=2)
    assert (row["crop_x1"], row["crop_y1"]) == pytest.approx(frame.crop_box[2:], abs=2)
    assert row["has_calipers"] and len(row["caliper_points"]) == 2
    assert row["is_doppler"] is False and row["is_grey"] is False
    assert 0.0 <= row["darkness"] < 0.2
    table = features_frame([row], extra={"image_id": pl.String})
    assert table.schema["caliper_points"] == pl.List(
        pl.List(pl.Int64)
    )  # as image_features stores it
    assert table.height == 1


def test_grey_doppler_and_dark_frames():
    grey = analyze_frame(to_grey(make_frame(seed=2).rgb), [], ocr=False)
    assert grey.is_grey and not grey.is_doppler
    doppler = analyze_frame(make_frame(seed=3, doppler=True).rgb, [], ocr=False)
    assert doppler.is_doppler
    dark = analyze_frame(make_frame(seed=4, brightness=8.0).rgb, [REGION], ocr=False)
    assert dark.darkness is not None and dark.darkness > 0.75


def test_same_frame_same_row():
    frame = make_frame(seed=5, calipers=[(200, 200, "+", YELLOW)], jpeg=True)
    a = analyze_frame(frame.rgb, [REGION], ocr=False).as_row()
    b = analyze_frame(frame.rgb.copy(), [REGION], ocr=False).as_row()
    assert a == b


def test_blank_frame_without_region_has_no_crop():
    row = analyze_frame(np.zeros((100, 120), np.uint8), [], ocr=False).as_row()
    assert row["crop_x0"] is None and row["darkness"] is None and row["has_calipers"] is False


def test_multiple_regions_are_counted():
    second = UltrasoundRegion(0, 0, 90, 90, spatial_format=1, data_type=1)
    bar = UltrasoundRegion(0, 0, 20, 90, spatial_format=0, data_type=13)
    frame = make_frame(seed=6)
    assert analyze_frame(frame.rgb, [REGION, second, bar], ocr=False).region_count == 2


@pytest.mark.parametrize(
    ("ocr", "study", "expected"),
    [
        ("LEFT", "RIGHT", "RIGHT"),
        ("LEFT", "R", "RIGHT"),
        ("LEFT", "BILATERAL", "LEFT"),
        (None, "BILATERAL", None),
        ("RIGHT", None, "RIGHT"),
        (None, "left", "LEFT"),
    ],
)
def test_study_laterality_wins_except_for_bilateral_studies(ocr, study, expected):
    assert resolve_laterality(ocr, study) == expected
