"""White '+' whose arms run into saturated speckle (JPEG), and thin white arrows on bright
speckle or beside a numeral, which the rules of :mod:`.calipers` and the learned finder's sure
verdicts missed before and the learned finder takes now where its refiner leans to a mark and
a white cross is drawn there (:data:`.calipers.NET_WHITE_PROB`,
:func:`.calipers.white_cross_centre`) or a white arrow's tip lies
(:data:`.calipers.NET_ARROW_PROB`, :func:`.calipers.white_arrow_tip`).

Each mark below is a true caliper mark of a tuning family (seeds 100-439) that nothing found:
its arms join the saturated speckle or other drawn pixels (the rules' context tests take it
for clutter, an arrow for speckle) and the deciding refiner gives it 0.31-0.96 (below
``NET_REFINE_PROB``).

The negative tests: no other mark on these frames and none on their clean frames, the cross
and arrow tests alone on drawn shapes, and none at the points where the rule, a guard
loosened, took the crossing edges of a zoom box and a Doppler box, saturated speckle and
its edge, an elastography box's corner and a thick arrow's head for marks.
"""

from __future__ import annotations

import numpy as np
import pytest

from cadbusi_assets.ultrasound import calipers
from cadbusi_assets.ultrasound.calipers import white_arrow_tip, white_cross_centre
from cadbusi_assets_tests.support import time_limit
from cadbusi_assets_tests.ultrasound.caliper_frames import (
    assert_found,
    assert_missed,
    assert_trap,
    caliper_points,
    nearest,
    screen_points,
    tuning_arrow_frame,
)
from cadbusi_demo.screens_heldout import TUNING_FAMILIES, Screen, render_screen

#: (family, seed) -> true white '+' on saturated speckle (JPEG frames but the last) that the
#: rules and the learned finder missed before.
SATURATED = {
    ("ge_logiq", 439): [(549, 199), (521, 244)],  # large; the horizontal arms in a bright band
    ("ge_voluson", 116): [(509, 126), (433, 131)],  # small; an arm into a saturated region
    ("philips_iu22", 426): [(328, 224)],  # large, on bright speckle
    ("philips_iu22", 122): [(365, 162)],  # large, on an ellipse's dots beside a Doppler blob
}


def _white_plus_frame(screen: Screen) -> None:
    assert 100 <= screen.seed < 440
    assert screen.caliper_style.split()[0] == "+"
    assert screen.caliper_colour == (255, 255, 255)


#: (family, seed) -> true thin white arrows (tips) that the rules and the learned finder missed
#: before (refiner 0.31-0.94).
ARROWS = {
    ("ge_logiq", 411): [(541, 612)],  # large, JPEG, on bright speckle
    ("philips_epiq", 318): [(532, 283)],  # small, on bright speckle
    ("philips_epiq", 413): [(579, 568), (515, 187)],  # small, JPEG, numbered
    ("ge_logiq", 323): [(520, 404)],  # small, on a dotted line's end
}


def _white_arrow_frame(screen: Screen) -> None:
    tuning_arrow_frame(screen)
    assert screen.caliper_colour == (255, 255, 255)


#: rule -> (the marks only it takes, what each of their frames must be, its switch)
RULES = {
    "white crosses on saturated speckle": (SATURATED, _white_plus_frame, "NET_WHITE_PROB"),
    "thin white arrows at their tips": (ARROWS, _white_arrow_frame, "NET_ARROW_PROB"),
}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_the_learned_finder_takes_them(rule):
    marks, check, _ = RULES[rule]
    assert {family for family, _ in marks} <= set(TUNING_FAMILIES)
    with time_limit(120, rule):
        assert_found(marks, within=1.0, check=check)


@pytest.mark.parametrize("rule", sorted(RULES))
def test_the_rule_is_what_takes_them(rule, monkeypatch):
    marks, _, switch = RULES[rule]
    monkeypatch.setattr(calipers, switch, {})
    assert_missed(marks, learned=True)
    assert_missed(marks, learned=False)


@pytest.mark.parametrize(("family", "seed"), sorted(SATURATED | ARROWS))
def test_no_other_mark_on_these_frames(family, seed):
    """No point away from the frame's true marks (its text, digits, dotted lines and bright
    speckle), and nothing on its clean frame (the speckle alone)."""
    screen = render_screen(family, seed)
    for point in screen_points(family, seed):
        assert nearest(point, screen.calipers) <= 5.0, (family, seed, point)
    assert caliper_points(screen.clean, screen.fov_box) == []


def _speckle(seed: int = 0, shape: tuple[int, int] = (60, 60)) -> np.ndarray:
    return np.random.default_rng(seed).integers(20, 200, shape).astype(np.uint8)


def test_the_cross_test_on_drawn_shapes():
    grey = _speckle()
    grey[30, 24:37] = grey[24:37, 30] = 255  # a '+' of arms 6
    assert white_cross_centre(grey, 31, 29) == (30, 30, "+")
    rgb = np.repeat(grey[..., None], 3, axis=2)
    assert white_cross_centre(rgb, 30, 30) == (30, 30, "+")
    # ... whose right and lower arms run into a saturated region: still its own centre
    saturated = grey.copy()
    saturated[31:, 31:] = 250
    saturated[30, 31:] = 255
    assert white_cross_centre(saturated, 30, 31) == (30, 30, "+")
    # an 'x' of arms 5
    grey = _speckle(1)
    for k in range(-5, 6):
        grey[30 + k, 30 + k] = grey[30 + k, 30 - k] = 240
    assert white_cross_centre(grey, 29, 30) == (30, 30, "x")


@pytest.mark.parametrize(
    "shape",
    ["short arms", "corner", "tee", "dim", "far"],
)
def test_the_cross_test_finds_no_cross(shape):
    grey = _speckle(2)
    if shape == "short arms":  # arms of NET_WHITE_ARM - 1
        arm = calipers.NET_WHITE_ARM - 1
        grey[30, 30 - arm : 31 + arm] = grey[30 - arm : 31 + arm, 30] = 255
    elif shape == "corner":  # a box's corner: two arms
        grey[30, 30:45] = grey[30:45, 30] = 255
    elif shape == "tee":  # a line meeting another: three arms
        grey[30, 15:45] = 255
        grey[30:45, 30] = 255
    elif shape == "dim":  # a '+' below NET_WHITE_LEVEL
        grey[30, 24:37] = grey[24:37, 30] = calipers.NET_WHITE_LEVEL - 1
    else:  # a '+' farther than NET_WHITE_REACH from the point
        grey[30, 24:37] = grey[24:37, 30] = 255
        assert white_cross_centre(grey, 30, 30 + calipers.NET_WHITE_REACH) == (30, 30, "+")
        assert white_cross_centre(grey, 30, 31 + calipers.NET_WHITE_REACH) is None
        return
    assert white_cross_centre(grey, 30, 30) is None


#: (family, seed, point, loosened guards): a point away from every true mark that the learned
#: finder takes once those guards of its white-cross or white-arrow rule are loosened (tuning
#: frames).
TRAPS = [
    # the crossing edges of a zoom box and a Doppler box (refiner 0.47)
    ("ge_logiq", 438, (621, 240), {"NET_WHITE_PROB": {3: 0.4}}),
    # saturated speckle (refiner 0.28): bright through, not thin
    ("ge_voluson", 405, (345, 114), {"NET_WHITE_PROB": {3: 0.25}, "NET_WHITE_THIN": 0.0}),
    # an elastography box's corner where a line meets it (an arm of 4 px)
    ("philips_epiq", 215, (297, 181), {"NET_WHITE_ARM": 4}),
    # the edge of a saturated region, a piece shaped like an arrow but not thin
    ("ge_logiq", 190, (453, 394), {"NET_ARROW_FILL": 8.0}),
]


@pytest.mark.parametrize(("family", "seed", "point", "loose"), TRAPS)
def test_no_learned_white_mark_on_box_edges_or_speckle(monkeypatch, family, seed, point, loose):
    assert_trap(monkeypatch, family, seed, point, loose)


def test_the_arrow_test_on_drawn_shapes():
    grey = _speckle(3)
    grey[30, 30:45] = 255  # a shaft from the tip at (30, 30), to the right
    for k in range(1, 6):  # wings
        grey[30 - k, 30 + k] = grey[30 + k, 30 + k] = 255
    tip = white_arrow_tip(grey, 31, 30)
    assert tip is not None and nearest((30, 30), [tip]) <= 1.0
    assert white_arrow_tip(grey, 30 + round(calipers.NET_ARROW_REACH) + 2, 30) is None
    # the same arrow yellow: no white pixels
    rgb = np.repeat(grey[..., None], 3, axis=2)
    rgb[grey == 255] = (255, 255, 0)
    assert white_arrow_tip(rgb, 31, 30) is None
    # a '+' and a line are no arrows
    grey = _speckle(4)
    grey[30, 24:37] = grey[24:37, 30] = 255
    assert white_arrow_tip(grey, 30, 30) is None
    assert white_arrow_tip(grey, 24, 30) is None


def test_no_white_cross_in_a_thick_arrows_head(monkeypatch):
    """A thick white arrow's head is white through: the learned point inside it (6 px off the
    tip, which the rules find) passes the arms' test but not the thin one
    (:data:`.calipers.NET_WHITE_THIN`)."""
    from cadbusi_assets.ultrasound.analysis import analyze_frame
    from cadbusi_assets_tests.ultrasound.caliper_frames import WHITE, styled_frame
    from cadbusi_demo.screens.calipers import CaliperStyle

    style = CaliperStyle("arrow", "large", 6, 2, WHITE)
    frame, drawn, _ = styled_frame("ge_logiq", 26, style)
    head = (403, 422)
    assert nearest(head, drawn.points) > 5.0
    assert nearest(head, analyze_frame(frame, [], ocr=False).calipers.points) > 5.0
    monkeypatch.setattr(calipers, "NET_WHITE_THIN", 0.2)
    assert nearest(head, analyze_frame(frame, [], ocr=False).calipers.points) <= 1.5
