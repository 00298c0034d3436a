from __future__ import annotations

import polars as pl

from cadbusi_assets.ultrasound.twins import find_twins, image_signature
from cadbusi_assets_tests.ultrasound.synthetic import WHITE, YELLOW, make_frame


def row(image_id, study, frame, has_calipers, box=None):
    box = box or frame.crop_box
    return {
        "image_id": image_id,
        "study_key": study,
        "crop_x0": box[0],
        "crop_y0": box[1],
        "crop_x1": box[2],
        "crop_y1": box[3],
        "has_calipers": has_calipers,
        "signature": image_signature(frame.rgb, box).tolist(),
    }


def test_caliper_image_pairs_with_its_clean_twin_only():
    marks = [(200, 200, "+", YELLOW), (350, 300, "x", WHITE), (250, 380, "+", YELLOW)]
    with_marks = make_frame(seed=1, calipers=marks, jpeg=True)
    twin = make_frame(seed=1, jpeg=True)
    other = make_frame(seed=2, jpeg=True)
    elsewhere = make_frame(seed=1, jpeg=True)
    table = pl.DataFrame(
        [
            row("cal", "s1", with_marks, True),
            row("clean", "s1", twin, False),
            row("other", "s1", other, False),
            row("other-study", "s2", elsewhere, False),
        ]
    )
    pairs = find_twins(table)
    assert pairs["caliper_image_id"].to_list() == ["cal"]
    assert pairs["clean_image_id"].to_list() == ["clean"]
    assert pairs["distance"][0] < 1.0


def test_different_geometry_is_not_a_twin():
    with_marks = make_frame(seed=1, calipers=[(200, 200, "+", YELLOW)])
    twin = make_frame(seed=1)
    shifted = (twin.crop_box[0] + 30, *twin.crop_box[1:])
    table = pl.DataFrame(
        [row("cal", "s1", with_marks, True), row("clean", "s1", twin, False, shifted)]
    )
    assert find_twins(table).is_empty()


def test_no_pairs_without_clean_images():
    frame = make_frame(seed=1, calipers=[(200, 200, "+", YELLOW)])
    table = pl.DataFrame([row("a", "s1", frame, True), row("b", "s1", frame, True)])
    out = find_twins(table)
    assert out.is_empty() and out.columns == ["caliper_image_id", "clean_image_id", "distance"]
