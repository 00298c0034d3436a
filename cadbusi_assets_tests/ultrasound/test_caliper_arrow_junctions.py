"""Thick arrows whose wings cross their shaft in a '+': the template crosses of
:func:`.calipers.detect_calipers` found a '+' there, a few px behind the tip, and it replaced
the arrow that the coloured components had found at its tip (the rule is for crosses that JPEG
broke at one arm, which the components take for arrows). It now replaces an arrow only where
the arrow's piece reaches about as far from the cross's centre across as down
(:func:`.calipers._runs_past`, :data:`.calipers.ARROW_PAST_CROSS`).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from cadbusi_assets.ultrasound import calipers
from cadbusi_assets.ultrasound.calipers import _Mark
from cadbusi_assets_tests.support import time_limit
from cadbusi_assets_tests.ultrasound.caliper_frames import (
    assert_found,
    caliper_points,
    nearest,
    screen_points,
    tuning_arrow_frame,
)
from cadbusi_demo.screens.calipers import CaliperStyle, draw_calipers
from cadbusi_demo.screens_heldout import render_screen

#: (family, seed) -> tips of thick arrows (2-px strokes) found as a '+' 6 px behind the tip.
JUNCTION_ARROWS = {("siemens_s2000", 197): [(153, 202), (251, 203)]}  # yellow, crisp


@pytest.mark.parametrize("learned", [True, False])
def test_the_thick_arrows_are_found_at_their_tips(learned):
    with time_limit(120, "thick arrows"):
        assert_found(JUNCTION_ARROWS, within=1.0, learned=learned, check=tuning_arrow_frame)
    for (family, seed), _ in JUNCTION_ARROWS.items():
        truth = render_screen(family, seed).calipers
        for point in screen_points(family, seed, learned=learned):
            assert nearest(point, truth) <= 2.0, (family, seed, point)


def test_the_guard_is_what_keeps_them(monkeypatch):
    monkeypatch.setattr(calipers, "ARROW_PAST_CROSS", math.inf)
    for (family, seed), tips in JUNCTION_ARROWS.items():
        found = screen_points(family, seed)
        for tip in tips:
            assert nearest(tip, found) > 5.0, (family, seed, tip, found)


def _arrow_frame(
    colour: tuple[int, int, int], angle: int, half: int = 6
) -> tuple[np.ndarray, list]:
    rng = np.random.default_rng(angle)
    frame = np.repeat(rng.integers(0, 90, (200, 240, 1)).astype(np.uint8), 3, axis=2)
    a = math.radians(angle)
    tail = (round(120 - 60 * math.cos(a)), round(100 - 60 * math.sin(a)))
    drawn = draw_calipers(
        frame, [((120, 100), tail)], CaliperStyle("arrow", "large", half, 2, colour)
    )
    return frame, drawn.points


@pytest.mark.parametrize("colour", [(255, 255, 0), (0, 255, 0), (0, 255, 255)])
@pytest.mark.parametrize("angle", [0, 90, 180, 270])
def test_drawn_thick_arrows_keep_their_tips(colour, angle):
    """The generator's thick coloured arrow (half 6, 2-px strokes) along an axis, on grey
    speckle: both tips found within 1.5 px, no other point."""
    frame, tips = _arrow_frame(colour, angle)
    found = caliper_points(frame, box=(10, 10, 229, 189))
    for tip in tips:
        assert nearest(tip, found) <= 1.5, (tip, found)
    for point in found:
        assert nearest(point, tips) <= 1.5, (point, tips)


@pytest.mark.parametrize("angle", [60, 120, 240, 300])
def test_drawn_thick_white_arrows_keep_their_tips(angle):
    """The generator's thick white arrow (half 10, 2-px strokes) at a slant: the opening of
    the white layer takes its tip and leaves a wing's end, 5 px off, to be taken for one; the
    thick arrow with its tip put back replaces it (:func:`.calipers._tip_put_back`)."""
    frame, tips = _arrow_frame((255, 255, 255), angle, half=10)
    found = caliper_points(frame, box=(10, 10, 229, 189))
    for tip in tips:
        assert nearest(tip, found) <= 1.5, (tip, found)
    for point in found:
        assert nearest(point, tips) <= 1.5, (point, tips)


def test_tip_put_back_on_boxes():
    put_back = calipers._tip_put_back
    thick = _Mark(120, 99, ">", 1.0, (119, 99, 136, 127))
    assert put_back(_Mark(125, 102, ">", 1.0, (120, 102, 136, 127)), thick)
    # the tip within 1 px of the first piece: that piece had it
    assert not put_back(_Mark(125, 102, ">", 1.0, (120, 100, 136, 127)), thick)
    # a piece reaching outside the thick arrow's: another mark
    assert not put_back(_Mark(125, 102, ">", 1.0, (120, 102, 140, 127)), thick)


def test_runs_past_on_boxes():
    _runs_past = calipers._runs_past
    # a cross broken at one arm: its reach across and down agree
    assert not _runs_past(_Mark(14, 10, ">", 1.0, (10, 10, 18, 18)), 14, 14)
    # ... with a numeral touching its upper right arm
    assert not _runs_past(_Mark(14, 10, ">", 1.0, (10, 2, 26, 18)), 14, 14)
    # an arrow's shaft running 16 px on behind a '+' of its wings, 5 px across
    assert _runs_past(_Mark(153, 202, ">", 1.0, (131, 197, 154, 207)), 147, 202)
    assert _runs_past(_Mark(202, 153, ">", 1.0, (197, 131, 207, 154)), 202, 147)
    # no arrow: never
    assert not _runs_past(_Mark(153, 202, "+", 1.0, (131, 197, 154, 207)), 147, 202)
