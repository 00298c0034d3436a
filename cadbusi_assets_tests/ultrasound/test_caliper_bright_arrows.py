"""Large white arrows over bright speckle that the rules of :mod:`.calipers` missed before
and find now (the learned finder gives them no heat).

Each mark below is a true caliper arrow of a tuning family (seeds 100-439) that no rule and no
heat-map point found. The white-stroke layer (pixels at ``WHITE_MARK_LEVEL``) breaks them
into pieces:

* ``DIM_ARROWS``: a thin arrow that JPEG dimmed below the white level in places is whole on
  the dim pass's layer (its thin pixels down to ``DIM_WHITE_LEVEL`` on ridges), which
  looked for crosses only; now also for straight arrows with few bright pixels around;
* ``THICK_LOOSE_BLACK``: a thick arrow (a 3-5 px shaft) whose tip the opening took is whole
  again on the thick-arrow pass, which took arrows only with few bright pixels around (the
  strict context); on bright speckle (up to ``ARROW_RING_LOOSE`` of them bright) it now
  takes them where few pixels around are black.

Each test switches its rule off and checks that the rules then miss the arrow. The negative
tests: no mark on these frames but their true ones, none on their clean frames (speckle,
no text and no calipers), none on the bright corner of a sector against the black around
it, which the thick pass takes for an arrow once black surroundings are let through, and no
tip at the far end of speckle touching a thick arrow's tip (``THICK_TIP_REACH``).
"""

from __future__ import annotations

import pytest

from cadbusi_assets.ultrasound import calipers
from cadbusi_assets_tests.support import time_limit
from cadbusi_assets_tests.ultrasound.caliper_frames import (
    assert_found,
    assert_missed,
    caliper_points,
    nearest,
    screen_points,
    styled_frame,
    tuning_arrow_frame,
)
from cadbusi_demo.screens.calipers import CaliperStyle
from cadbusi_demo.screens_heldout import TUNING_FAMILIES, render_screen

#: (family, seed) -> {true arrow tip: the rule (constant) that finds it}
ARROWS: dict[tuple[str, int], dict[tuple[int, int], str]] = {
    # thin open-head arrows, JPEG
    ("philips_epiq", 126): {(375, 255): "DIM_ARROWS"},  # large, on speckle
    ("philips_epiq", 413): {(584, 410): "DIM_ARROWS"},  # small, numbered, beside dots
    # thick arrows on bright speckle
    ("philips_epiq", 314): {(557, 205): "THICK_LOOSE_BLACK"},
    ("siemens_s2000", 309): {(432, 258): "THICK_LOOSE_BLACK"},  # JPEG, dotted lines
}
#: Each rule's constant at the value that switches it off (the code before it).
OFF = {"DIM_ARROWS": False, "THICK_LOOSE_BLACK": -1.0}


def test_the_rules_find_these_arrows():
    assert {family for family, _ in ARROWS} <= set(TUNING_FAMILIES)
    with time_limit(120, "caliper rules on bright-speckle arrow frames"):
        assert_found(ARROWS, within=1.0, learned=False, check=tuning_arrow_frame)


@pytest.mark.parametrize("constant", sorted(OFF))
def test_each_rule_is_what_finds_its_arrows(monkeypatch, constant):
    monkeypatch.setattr(calipers, constant, OFF[constant])
    assert_missed(
        {
            frame: [point for point, rule in marks.items() if rule == constant]
            for frame, marks in ARROWS.items()
        }
    )


@pytest.mark.parametrize(("family", "seed"), sorted(ARROWS))
def test_no_other_mark_on_these_frames(family, seed):
    """The rules alone put no point away from the frame's true marks (its text, dotted
    lines and bright speckle), and nothing on its clean frame (the speckle alone)."""
    screen = render_screen(family, seed)
    for point in screen_points(family, seed, learned=False):
        assert nearest(point, screen.calipers) <= 5.0, (family, seed, point)
    assert caliper_points(screen.clean, screen.fov_box, learned=False) == []
    assert caliper_points(screen.clean, screen.fov_box) == []


#: (family, seed): the bright corner of a sector field of view against the black beyond it,
#: which the thick pass's loose context takes for an arrow's tip where black surroundings
#: count as no more than ARROW_BLACK_SHARE (the learned finder's veto removed both).
SECTOR_CORNERS = {("ge_voluson", 414): (317, 87), ("philips_iu22", 236): (520, 98)}


def test_no_arrow_on_a_sector_corner(monkeypatch):
    for (family, seed), point in SECTOR_CORNERS.items():
        assert nearest(point, render_screen(family, seed).calipers) > 100.0
        assert nearest(point, screen_points(family, seed, learned=False)) > 5.0
    # (the tip guard alone keeps philips_iu22 236's off, not ge_voluson 414's)
    monkeypatch.setattr(calipers, "THICK_TIP_REACH", 100.0)
    monkeypatch.setattr(calipers, "THICK_LOOSE_BLACK", calipers.ARROW_BLACK_SHARE)
    for (family, seed), point in SECTOR_CORNERS.items():
        assert nearest(point, screen_points(family, seed, learned=False)) <= 1.0


def test_a_thick_arrow_tip_by_its_blob(monkeypatch):
    """A 2-px white arrow of test_caliper_styles on bright speckle (philips_iu22, half-size
    12), a speckle blob touching its tip: without THICK_TIP_REACH the loose context takes the
    blob's far end, 5 px off, for the tip; with it, no rule mark there."""
    style = CaliperStyle("arrow", "large", 12, 2, (255, 255, 255))
    frame, drawn, screen = styled_frame("philips_iu22", 32, style)
    tip = (362, 390)
    assert tip in drawn.points
    found = caliper_points(frame, screen.fov_box, learned=False)
    assert nearest(tip, found) > 5.0
    for point in found:
        assert nearest(point, drawn.points) <= 1.0
    monkeypatch.setattr(calipers, "THICK_TIP_REACH", 100.0)
    assert 4.0 < nearest(tip, caliper_points(frame, screen.fov_box, learned=False)) <= 5.0
