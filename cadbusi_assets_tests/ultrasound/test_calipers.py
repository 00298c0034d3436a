from __future__ import annotations

import numpy as np
import pytest

from cadbusi_assets.ultrasound.calipers import detect_calipers
from cadbusi_assets.ultrasound.overlay import to_grey
from cadbusi_assets_tests.ultrasound.synthetic import WHITE, YELLOW, make_frame

BOX = (120, 60, 559, 419)


def detect(frame):
    return detect_calipers(frame.rgb, frame.crop_box, frame.fov_mask, grey=to_grey(frame.rgb))


def assert_matches(found, truth, tolerance=2):
    assert len(found.points) == len(truth)
    for x, y in truth:
        error = min(np.hypot(x - px, y - py) for px, py in found.points)
        assert error <= tolerance


@pytest.mark.parametrize("style", ["+", "x"])
@pytest.mark.parametrize("colour", [YELLOW, WHITE])
@pytest.mark.parametrize("jpeg", [False, True])
def test_marks_found_at_their_centres(style, colour, jpeg):
    truth = [(200, 150, style, colour), (420, 330, style, colour), (300, 380, style, colour)]
    frame = make_frame(seed=11, calipers=truth, jpeg=jpeg)
    found = detect(frame)
    assert_matches(found, [(x, y) for x, y, _, _ in truth])
    assert found.has_calipers and found.confidence >= 0.5
    assert set(found.styles) == {style}


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("brightness", [40.0, 90.0, 150.0])
def test_no_marks_on_clean_speckle(seed, brightness):
    frame = make_frame(seed=seed, brightness=brightness, jpeg=True)
    found = detect(frame)
    assert not found.has_calipers
    assert found.points == [] and found.confidence == 0.0


def test_letters_of_annotation_text_are_not_calipers():
    frame = make_frame(seed=7, text=[("1.2 x 0.8 cm", (200, 400)), ("LT 2:00 TRANS x", (200, 100))])
    assert not detect(frame).has_calipers


def test_marks_outside_the_field_of_view_are_ignored():
    frame = make_frame(seed=8)
    rgb = frame.rgb.copy()
    rgb[20, 20:35] = YELLOW
    rgb[13:28, 27] = YELLOW
    found = detect_calipers(rgb, BOX, frame.fov_mask)
    assert not found.has_calipers


def test_grey_frame_with_white_marks():
    truth = [(250, 200, "+", WHITE)]
    frame = make_frame(seed=9, calipers=truth)
    grey = to_grey(frame.rgb)
    found = detect_calipers(grey, frame.crop_box, frame.fov_mask)
    assert_matches(found, [(250, 200)])
