"""Small white '+' (arms of 2-3 px) that bright speckle touches or JPEG breaks, which the
rules of :mod:`.calipers` missed before and find now (:func:`.calipers.small_white_crosses`).

Each mark below is a true caliper mark of a tuning family (seeds 100-439) that no rule and no
learned point found: the white components join it to the speckle touching an arm, or lose an
arm's pixel that JPEG dimmed (248) beside a speckle ridge (less than ``RIDGE_CONTRAST`` above
its sides, so the dim pass leaves it out), and the templates need arms of ``ARM`` px.

The negative tests: no other mark on these frames and none on their clean frames, and none
at the points where the rule, a guard loosened, took the crossings of header glyphs on black
(``SMALL_BLACK``) and bright speckle (``SMALL_QUADRANT_LIT``) for small crosses.
"""

from __future__ import annotations

import pytest

from cadbusi_assets.ultrasound import calipers
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

#: (family, seed) -> true small white '+' (JPEG frames) that the rules and the learned
#: finder missed before.
SMALL = {
    ("ge_voluson", 126): [(431, 478)],  # numbered; a speckle ridge on its top arm
    ("philips_iu22", 109): [(473, 148)],  # an arm's pixel dimmed to 248
    ("ge_logiq", 208): [(428, 512)],  # its left arm in a blob of white speckle
}


def _small_white_jpeg_frame(screen: Screen) -> None:
    assert 100 <= screen.seed < 440
    assert screen.caliper_style.split()[:2] == ["+", "small"]
    assert screen.caliper_colour == (255, 255, 255)
    assert screen.jpeg_quality is not None


def test_the_rules_find_small_white_crosses_on_speckle():
    assert {family for family, _ in SMALL} <= set(TUNING_FAMILIES)
    with time_limit(120, "caliper rules on small white crosses"):
        assert_found(SMALL, within=1.0, learned=False, check=_small_white_jpeg_frame)


def test_small_white_crosses_is_the_rule_that_finds_them(monkeypatch):
    monkeypatch.setattr(calipers, "SMALL_CONTRAST", 1000.0)
    assert_missed(SMALL)
    # (the learned finder's white-cross rule takes ge_logiq 208's, arms of 5 px, too)
    monkeypatch.setattr(calipers, "NET_WHITE_PROB", {})
    assert_missed(SMALL, learned=True)


@pytest.mark.parametrize(("family", "seed"), sorted(SMALL))
def test_no_other_mark_on_these_frames(family, seed):
    """The rules alone put no point away from the frame's true marks (its text, digits and
    bright speckle), and nothing on its clean frame (the speckle alone)."""
    screen = render_screen(family, seed)
    for point in screen_points(family, seed, learned=False):
        assert nearest(point, screen.calipers) <= 5.0, (family, seed, point)
    assert caliper_points(screen.clean, screen.fov_box, learned=False) == []


#: (family, seed, point, constant, loosened value): a point away from every true mark that
#: the rule takes once that guard is loosened (tuning frames; the learned finder's veto keeps
#: them too).
TRAPS = [
    # the crossing of a '4' of the header, on black
    ("ge_logiq", 118, (127, 91), "SMALL_BLACK", 1.0),
    ("siemens_s2000", 421, (107, 77), "SMALL_BLACK", 1.0),
    # bright speckle beside a mark
    ("ge_logiq", 118, (755, 242), "SMALL_QUADRANT_LIT", 4),
]


@pytest.mark.parametrize(("family", "seed", "point", "constant", "loose"), TRAPS)
def test_no_small_cross_on_speckle_or_text(monkeypatch, family, seed, point, constant, loose):
    assert_trap(monkeypatch, family, seed, point, {constant: loose}, learned=False, within=1.0)
