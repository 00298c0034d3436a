"""Small '+' and 'x' that the rules of :mod:`.calipers` took for arrows (JPEG or a missing
pixel broke their symmetry, one arm's end looked like a tip), whose point went to that arm's
end, 2-3 px off the mark, and now goes to the cross's centre
(:func:`.calipers.cross_for_arrow`, :data:`.calipers.CROSS_ARROW_SIDE`).

Each mark below is a true caliper mark of a tuning family (seeds 100-439) that the rules found
2.83 px off as an arrow. The negative tests: the cross test alone on drawn shapes (arrows,
a box too large, marks that are no arrows), no other point moved on these frames, and true
small arrows that the rule, its guards loosened, moved off their tips.
"""

from __future__ import annotations

import numpy as np
import pytest

from cadbusi_assets.ultrasound import calipers
from cadbusi_assets.ultrasound.calipers import _Mark, cross_for_arrow, cross_pixels
from cadbusi_assets_tests.support import time_limit
from cadbusi_assets_tests.ultrasound.caliper_frames import assert_found, nearest, screen_points
from cadbusi_demo.screens_heldout import TUNING_FAMILIES, Screen, render_screen

#: (family, seed) -> true small 'x' marks that the rules found as arrows, 2.83 px off.
ARROW_CROSSES = {
    ("siemens_s2000", 229): [(225, 306)],  # green, JPEG: three arms broken short
    ("siemens_s2000", 407): [(389, 293)],  # white, beside a Doppler box: two arms short
    # half-2 'x' with one arm's end pixel lost (one arm half lit: CROSS_ARROW_WEAK)
    ("ge_logiq", 198): [(498, 558)],  # cyan, JPEG, beside a dotted line
    ("siemens_s2000", 147): [(367, 341)],  # green, JPEG
}


def _small_x_frame(screen: Screen) -> None:
    assert 100 <= screen.seed < 440
    assert screen.caliper_style.split()[:2] == ["x", "small"]


@pytest.mark.parametrize("learned", [True, False])
def test_the_crosses_go_to_their_centres(learned):
    assert {family for family, _ in ARROW_CROSSES} <= set(TUNING_FAMILIES)
    with time_limit(120, "small crosses taken for arrows"):
        assert_found(ARROW_CROSSES, within=1.0, learned=learned, check=_small_x_frame)


def test_the_rule_is_what_moves_them(monkeypatch):
    monkeypatch.setattr(calipers, "CROSS_ARROW_SIDE", 0)
    for (family, seed), points in ARROW_CROSSES.items():
        found = screen_points(family, seed)
        for point in points:
            assert 2.0 < nearest(point, found) <= 3.0, (family, seed, point, found)


@pytest.mark.parametrize(("family", "seed"), sorted(ARROW_CROSSES))
def test_no_other_point_moves_on_these_frames(monkeypatch, family, seed):
    after = screen_points(family, seed)
    monkeypatch.setattr(calipers, "CROSS_ARROW_SIDE", 0)
    before = screen_points(family, seed)
    truth = render_screen(family, seed).calipers
    moved = sorted(set(after) ^ set(before))
    assert len(moved) == 2 * len(ARROW_CROSSES[(family, seed)]), moved
    for point in after:
        assert nearest(point, truth) <= 5.0, (family, seed, point)


def _arrow_mark(box: tuple[int, int, int, int], x: int, y: int) -> _Mark:
    return _Mark(x, y, ">", 1.0, box)


@pytest.mark.parametrize("style", ["+", "x"])
def test_the_cross_test_on_drawn_shapes(style):
    layer = cross_pixels((24, 24), [(12, 12)], 3, style)
    if style == "x":
        layer[15, 9] = 0  # the lower-left arm's end
    else:
        layer[12, 15] = 0  # the right arm's end
    mark = _arrow_mark((9, 9, 15, 15), 14, 14)
    assert cross_for_arrow(layer, mark) == _Mark(12, 12, style, 1.0, mark.box)
    # a mark that is no arrow, or an arrow's box larger than CROSS_ARROW_SIDE: unchanged
    assert cross_for_arrow(layer, _Mark(12, 12, style, 1.0, mark.box)) is None
    side = calipers.CROSS_ARROW_SIDE
    assert cross_for_arrow(layer, _arrow_mark((9, 9, 9 + side, 9 + side), 14, 14)) is None


#: (family, seed, tip, loosened guards): a true small arrow that the rules found at its tip
#: and the rule, those guards loosened, moves to the centre of a cross fitted to its head and
#: shaft, more than 2 px off (tuning frames).
TRAPS = [
    # cyan, dense heads: an 'x' lights 0.7-0.8 of its pixels, one arm nearly empty
    ("philips_epiq", 313, (573, 517), {"CROSS_ARROW_ARM": 0.0, "CROSS_ARROW_COVER": 0.7}),
    ("philips_epiq", 407, (486, 410), {"CROSS_ARROW_ARM": 0.0, "CROSS_ARROW_COVER": 0.6}),
]


@pytest.mark.parametrize(("family", "seed", "tip", "loose"), TRAPS)
def test_no_arrow_moves_off_its_tip(monkeypatch, family, seed, tip, loose):
    screen = render_screen(family, seed)
    assert tip in screen.calipers and screen.caliper_style.split()[0] == "arrow"
    assert nearest(tip, screen_points(family, seed)) <= 1.0
    for constant, value in loose.items():
        monkeypatch.setattr(calipers, constant, value)
    assert nearest(tip, screen_points(family, seed)) > 2.0


@pytest.mark.parametrize(("shaft", "wing"), [(9, 3), (6, 2), (7, 3)])
def test_the_cross_test_finds_no_cross_in_an_arrow(shaft, wing):
    """A small arrow (tip (8, 12), its shaft to the right): the cross that fits its head
    leaves its shaft unexplained (:data:`.calipers.CROSS_ARROW_EXPLAIN`)."""
    layer = np.zeros((24, 24), np.uint8)
    layer[12, 8 : 8 + shaft] = 1
    for k in range(1, wing + 1):
        layer[12 - k, 8 + k] = layer[12 + k, 8 + k] = 1
    box = (8, 12 - wing, 7 + shaft, 12 + wing)
    assert cross_for_arrow(layer, _arrow_mark(box, 8, 12)) is None


@pytest.mark.parametrize("style", ["+", "x"])
@pytest.mark.parametrize("lost", range(4))
def test_a_small_cross_with_one_arm_half_lit(style, lost):
    """A half-2 cross with one arm's end pixel lost (that arm lit 1 of 2: JPEG): the cross,
    at its centre; with two arms half lit, no cross (an arrow's head may light that much)."""
    layer = cross_pixels((24, 24), [(12, 12)], 2, style)
    (dy, dx), (ey, ex) = calipers._DIRECTIONS[style][lost], calipers._DIRECTIONS[style][lost - 1]
    layer[12 + 2 * dy, 12 + 2 * dx] = 0
    ys, xs = np.nonzero(layer)
    mark = _arrow_mark((int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())), 10, 10)
    assert cross_for_arrow(layer, mark) == _Mark(12, 12, style, 1.0, mark.box)
    layer[12 + 2 * ey, 12 + 2 * ex] = 0  # a second arm half lit
    ys, xs = np.nonzero(layer)
    mark = _arrow_mark((int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())), 10, 10)
    assert cross_for_arrow(layer, mark) is None


def test_the_cross_test_at_the_layers_corner():
    """A mark in the layer's corner: the arms looked at beyond the layer count as unlit."""
    layer = cross_pixels((12, 12), [(2, 2)], 2, "x")
    mark = _arrow_mark((0, 0, 4, 4), 0, 0)
    assert cross_for_arrow(layer, mark) == _Mark(2, 2, "x", 1.0, mark.box)
    layer = cross_pixels((12, 12), [(1, 1)], 2, "x")  # its upper arms cut off
    assert cross_for_arrow(layer, _arrow_mark((0, 0, 3, 3), 0, 0)) is None


#: (family, seed) -> true small '+' marks joined by a dotted line or an ellipse's dots (an
#: arrow box larger than CROSS_ARROW_SIDE) that the rules found as arrows 4-5 px off, in
#: frames whose other marks are crosses (CROSS_ARROW_REACH, CROSS_ARROW_VOTE).
JOINED_CROSSES = {
    ("ge_voluson", 164): [(196, 242)],  # white, a dotted line joined: 4.00 px off before
    ("philips_iu22", 184): [(272, 285)],  # green, JPEG, an ellipse's dots: 5.00 px off before
}


def _small_plus_frame(screen: Screen) -> None:
    assert 100 <= screen.seed < 440
    assert screen.caliper_style.split()[:2] == ["+", "small"]


def test_joined_crosses_go_to_their_centres():
    with time_limit(120, "joined crosses"):
        assert_found(JOINED_CROSSES, within=1.0, check=_small_plus_frame)


def test_the_larger_boxes_are_what_moves_them(monkeypatch):
    monkeypatch.setattr(calipers, "CROSS_ARROW_REACH", 0)
    for (family, seed), points in JOINED_CROSSES.items():
        found = screen_points(family, seed)
        for point in points:
            assert 3.5 < nearest(point, found) <= 5.0, (family, seed, point, found)


#: arrow frames (tuning) whose arrows, a numeral or dots joined to them, the larger boxes
#: moved off their tips without the frame's vote for crosses
VOTE_TRAPS = [("philips_epiq", 106, (337, 420)), ("philips_epiq", 131, (695, 168))]


@pytest.mark.parametrize(("family", "seed", "tip"), VOTE_TRAPS)
def test_the_vote_keeps_arrows_on_their_tips(monkeypatch, family, seed, tip):
    screen = render_screen(family, seed)
    assert tip in screen.calipers and screen.caliper_style.split()[0] == "arrow"
    assert nearest(tip, screen_points(family, seed)) <= 1.0
    monkeypatch.setattr(calipers, "CROSS_ARROW_VOTE", -1.0)  # every frame votes for crosses
    assert nearest(tip, screen_points(family, seed)) > 2.0


def test_a_joined_cross_on_a_drawn_layer():
    """A half-3 '+' (centre x 12, y 15) with dots run together joined to its left arm (a
    box 12 px wide), its point at the right arm's end: the cross's centre where the frame
    votes for crosses, nothing otherwise."""
    layer = cross_pixels((30, 40), [(12, 15)], 3, "+")
    layer[15, 4:9] = 1  # the joined dots
    layer[14, 4] = 1
    mark = _arrow_mark((4, 12, 15, 18), 15, 15)
    assert cross_for_arrow(layer, mark, larger=True) == _Mark(12, 15, "+", 1.0, mark.box)
    assert cross_for_arrow(layer, mark) is None
