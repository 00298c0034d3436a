from __future__ import annotations

import numpy as np
import polars as pl

from cadbusi_assets.ultrasound.quality import darkness, exclusion_reasons


def test_darkness_counts_only_the_field_of_view():
    grey = np.full((100, 100), 100, np.uint8)
    grey[:, :30] = 0
    mask = np.zeros((100, 100), bool)
    mask[:, 20:] = True
    assert darkness(grey, (0, 0, 99, 99)) == 0.3
    assert darkness(grey, (0, 0, 99, 99), mask) == 0.125


def frame(**columns):
    base = {
        "crop_x0": [0],
        "crop_y0": [0],
        "crop_x1": [599],
        "crop_y1": [399],
        "darkness": [0.1],
        "is_doppler": [False],
        "region_count": [1],
        "body_area": ["breast"],
        "laterality": ["left"],
        "study_laterality": ["LEFT"],
    }
    base.update({k: [v] for k, v in columns.items()})
    return pl.DataFrame(base)


def reason(**columns):
    return exclusion_reasons(frame(**columns))["exclusion_reason"][0]


def test_a_good_image_is_kept():
    assert reason() is None
    assert reason(body_area="unknown") is None
    assert reason(body_area=None) is None


def test_each_reason_is_recorded():
    assert reason(darkness=0.9) == "too dark"
    assert reason(is_doppler=True) == "doppler"
    assert reason(region_count=2) == "multiple regions"
    assert reason(crop_x1=150) == "too small; bad aspect ratio"
    assert reason(crop_y1=100) == "too small; bad aspect ratio"
    assert reason(body_area="axilla") == "non-breast area"
    assert (
        reason(laterality=None, study_laterality="BILATERAL")
        == "unknown laterality (bilateral study)"
    )
    assert reason(laterality=None) is None
    assert reason(crop_x0=None) == "missing crop"


def test_all_reasons_are_kept_together():
    got = reason(darkness=0.95, is_doppler=True, region_count=3, body_area="axilla")
    assert got == "too dark; doppler; multiple regions; non-breast area"


def test_thresholds_are_configurable_and_rows_are_never_dropped():
    table = pl.concat([frame(darkness=0.8), frame(darkness=0.5), frame(crop_x1=150)])
    out = exclusion_reasons(table, max_darkness=0.9, min_side=100, min_aspect=0.3)
    assert out.height == 3
    assert out["exclusion_reason"].to_list() == [None, None, None]
    strict = exclusion_reasons(table, max_darkness=0.4)
    assert strict["exclusion_reason"].to_list() == [
        "too dark",
        "too dark",
        "too small; bad aspect ratio",
    ]


def test_a_table_of_unreadable_files_only_has_no_crop_to_check():
    """Every file unreadable (``cadbusi analyze`` of a folder of non-DICOM files): no crop
    column at all, and the size and aspect checks raised ``ColumnNotFoundError: crop_x1``."""
    import polars as pl

    from cadbusi_assets.ultrasound.quality import exclusion_reasons

    frame = pl.DataFrame({"image_id": ["a"], "error": ["not DICOM"]})
    assert exclusion_reasons(frame)["exclusion_reason"].to_list() == ["missing crop"]
