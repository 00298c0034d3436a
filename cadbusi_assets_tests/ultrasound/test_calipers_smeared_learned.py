"""Small coloured '+' that JPEG smeared into a blob of colour, which the rules of
:mod:`.calipers` and the learned finder's sure verdicts missed before and the learned finder
takes now where its refiner leans to a mark and the blob is a '+' (:data:`.calipers.SMEAR_PROB`,
:func:`.calipers.smeared_cross_centre`).

Each mark below is a true caliper mark of a tuning family (seeds 100-439) that nothing found:
its strokes are no brighter than the speckle around (:func:`.calipers.smeared_marks` leaves
it), the components see no cross in the blob, and the deciding refiner gives it 0.28-0.66
(below ``NET_REFINE_PROB``).

The negative tests: no other mark on these frames and none on their clean frames, the blob
test alone on drawn shapes (a crisp '+', a smeared arrow, a Doppler-red '+', a '+' on a colour
map, a dot), and none at the points where the rule, a guard loosened, took a JPEG numeral, a
dotted ellipse's dots or a smeared small arrow (its tip 2-3 px off) for marks.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cadbusi_assets.ultrasound import calipers
from cadbusi_assets.ultrasound.calipers import smeared_cross_centre
from cadbusi_assets_tests.support import time_limit
from cadbusi_assets_tests.ultrasound.caliper_frames import (
    assert_found,
    assert_missed,
    assert_trap,
    caliper_points,
    nearest,
    screen_points,
)
from cadbusi_demo.screens_heldout import TUNING_FAMILIES, Screen, render_screen

#: (family, seed) -> true small coloured '+' smeared by JPEG that the rules and the learned
#: finder missed before.
SMEARED = {
    ("ge_voluson", 328): [(765, 314)],  # green, 11 px below the pair's other mark
    ("ge_voluson", 332): [(683, 122)],  # green, on bright speckle
    ("ge_voluson", 339): [(376, 503)],  # cyan, its numeral beside it
    ("ge_voluson", 433): [(236, 541)],  # green, a dotted line's end
    ("ge_logiq", 131): [(538, 523)],  # yellow
}


def _smeared_plus_frame(screen: Screen) -> None:
    assert 100 <= screen.seed < 440
    assert screen.caliper_style.split()[:2] == ["+", "small"]
    assert screen.jpeg_quality is not None
    assert screen.caliper_colour != (255, 255, 255)


def test_the_learned_finder_takes_them():
    assert {family for family, _ in SMEARED} <= set(TUNING_FAMILIES)
    with time_limit(120, "smeared coloured crosses"):
        assert_found(SMEARED, within=1.0, check=_smeared_plus_frame)


def test_the_rule_is_what_takes_them(monkeypatch):
    monkeypatch.setattr(calipers, "SMEAR_PROB", {})
    assert_missed(SMEARED, learned=True)
    assert_missed(SMEARED, learned=False)


@pytest.mark.parametrize(("family", "seed"), sorted(SMEARED))
def test_no_other_mark_on_these_frames(family, seed):
    """No point away from the frame's true marks (its numerals, dotted lines and speckle),
    and nothing on its clean frame (the speckle alone)."""
    screen = render_screen(family, seed)
    for point in screen_points(family, seed):
        assert nearest(point, screen.calipers) <= 5.0, (family, seed, point)
    assert caliper_points(screen.clean, screen.fov_box) == []


def _speckle(seed: int = 0, shape: tuple[int, int] = (60, 60)) -> np.ndarray:
    grey = np.random.default_rng(seed).integers(90, 170, shape).astype(np.uint8)
    return np.repeat(cv2.GaussianBlur(grey, (3, 3), 0)[..., None], 3, axis=2)


def _jpeg(rgb: np.ndarray, quality: int = 70) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    decoded = cv2.imdecode(data, cv2.IMREAD_COLOR)
    assert ok and decoded is not None
    return np.ascontiguousarray(decoded[..., ::-1])


def _plus(rgb: np.ndarray, colour: tuple[int, int, int], arm: int = 3) -> np.ndarray:
    rgb = rgb.copy()
    rgb[30, 30 - arm : 31 + arm] = colour
    rgb[30 - arm : 31 + arm, 30] = colour
    return rgb


@pytest.mark.parametrize("colour", [(0, 255, 0), (0, 255, 255), (255, 255, 0)])
@pytest.mark.parametrize("seed", [0, 1])
def test_the_blob_test_on_drawn_shapes(colour, seed):
    smeared = _jpeg(_plus(_speckle(seed), colour))
    for x, y in ((31, 29), (30, 30), (28, 31)):
        assert smeared_cross_centre(smeared, x, y) == (30, 30, "+")
    # farther than SMEAR_REACH (each axis) from the point: nothing
    reach = calipers.SMEAR_REACH
    assert smeared_cross_centre(smeared, 30, 30 + reach) == (30, 30, "+")
    assert smeared_cross_centre(smeared, 30, 32 + reach) is None


@pytest.mark.parametrize("shape", ["crisp", "grey", "arrow", "red", "map", "dot"])
def test_the_blob_test_finds_no_smeared_cross(shape):
    green = (0, 255, 0)
    rgb = _speckle(2)
    if shape == "crisp":  # not smeared (SMEAR_PEAK: the rules judge crisp strokes)
        assert smeared_cross_centre(_plus(rgb, green), 30, 30) is None
        return
    if shape == "grey":  # a grey crop: no colour
        crop = cv2.cvtColor(_jpeg(_plus(rgb, green)), cv2.COLOR_RGB2GRAY)
        assert smeared_cross_centre(crop, 30, 30) is None
        return
    if shape == "arrow":  # a small arrow: tip (30, 30), its shaft to the right
        rgb[30, 30:38] = green
        for k in (1, 2):
            rgb[30 - k, 30 + k] = rgb[30 + k, 30 + k] = green
    elif shape == "red":  # Doppler's hue, not a mark's
        rgb = _plus(rgb, (255, 0, 0))
    elif shape == "map":  # a '+' on a colour map (SMEAR_OTHER)
        rgb[10:50, 10:50] = (60, 200, 60)
        rgb = _plus(rgb, green)
    else:  # a dot of a dotted line (SMEAR_AREA)
        rgb[29:32, 29:32] = green
    smeared = _jpeg(rgb)
    for x in range(28, 34):
        assert smeared_cross_centre(smeared, x, 30) is None, (shape, x)


#: (family, seed, point, loosened guards, reach): a point away from every true mark (or, for
#: the arrow, more than 2 px off its tip) that the learned finder takes once those guards of
#: the smeared-cross rule are loosened (tuning frames).
TRAPS = [
    # JPEG numerals of a large arrow's measurement (refiner 0.53 and 0.74): too large
    (
        "siemens_s2000",
        315,
        (381, 253),
        {"SMEAR_AREA": (12, 30), "SMEAR_SIDE": 9, "SMEAR_PLUS": 0.0},
    ),
    # a dotted ellipse's dots (refiner 0.21): too few pixels, no '+'
    (
        "ge_voluson",
        428,
        (441, 203),
        {"SMEAR_PROB": {3: 0.2}, "SMEAR_AREA": (8, 20), "SMEAR_PLUS": 0.0},
    ),
]


@pytest.mark.parametrize(("family", "seed", "point", "loose"), TRAPS)
def test_no_smeared_cross_on_numerals_or_dots(monkeypatch, family, seed, point, loose):
    assert_trap(monkeypatch, family, seed, point, loose)


def test_no_smeared_cross_on_a_small_arrow(monkeypatch):
    """A small green arrow smeared by JPEG (siemens_s2000 113, refiner 0.44-0.88): its blob's
    centre lies 1.6-2.9 px off its tip; the '+' test (:data:`.calipers.SMEAR_PLUS`) keeps it
    out, so that no point more than 2 px off a mark comes in."""
    family, seed, tip = "siemens_s2000", 113, (214, 118)
    screen = render_screen(family, seed)
    assert tip in screen.calipers and screen.caliper_style.split()[0] == "arrow"
    assert nearest(tip, screen_points(family, seed)) > 5.0
    monkeypatch.setattr(calipers, "SMEAR_PLUS", 0.0)
    assert 2.0 < nearest(tip, screen_points(family, seed)) <= 3.0
