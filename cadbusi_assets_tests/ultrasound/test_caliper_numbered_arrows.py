"""Small arrows whose shafts run into their numerals: the arrow rules took the numeral's end
for the tip (a false mark 10-20 px from the mark), and the arrow's box kept the learned
finder's point on the true tip out. A doubtful rules' arrow that the deciding refiner doubts
moves to the sure learned point in its box (:func:`.calipers._arrows_moved`,
:data:`.calipers.ARROW_MOVE_DOUBT`).

Each mark below is a true tip of a tuning frame (seeds 100-439) that was missed, with a false
mark on its numeral.
"""

from __future__ import annotations

import pytest

from cadbusi_assets.ultrasound import calipers
from cadbusi_assets_tests.support import time_limit
from cadbusi_assets_tests.ultrasound.caliper_frames import (
    assert_found,
    nearest,
    screen_points,
    tuning_arrow_frame,
)
from cadbusi_demo.screens_heldout import render_screen

#: (family, seed) -> the true tip that was missed, and the false point on its numeral.
NUMBERED_ARROWS = {
    ("philips_epiq", 341): ((483, 361), (493, 345)),  # green, crisp, dotted
    ("ge_logiq", 186): ((437, 468), (447, 451)),  # green, JPEG 89, ellipse
    ("siemens_s2000", 346): ((387, 313), (399, 299)),  # yellow, JPEG, ellipse
}


def _numbered_arrow_frame(screen) -> None:
    tuning_arrow_frame(screen)
    assert screen.caliper_style.split()[:3] == ["arrow", "small", "numbered"]


def test_the_tips_are_found():
    marks = {key: [tip] for key, (tip, _) in NUMBERED_ARROWS.items()}
    with time_limit(120, "numbered arrows"):
        assert_found(marks, within=2.5, check=_numbered_arrow_frame)


@pytest.mark.parametrize(("family", "seed"), sorted(NUMBERED_ARROWS))
def test_no_point_on_the_numeral(family, seed):
    _, numeral = NUMBERED_ARROWS[(family, seed)]
    truth = render_screen(family, seed).calipers
    assert nearest(numeral, truth) > 10.0
    assert nearest(numeral, screen_points(family, seed)) > 5.0


@pytest.mark.parametrize(("family", "seed"), sorted(NUMBERED_ARROWS))
def test_the_rule_is_what_moves_them_and_nothing_else(monkeypatch, family, seed):
    tip, numeral = NUMBERED_ARROWS[(family, seed)]
    after = screen_points(family, seed)
    monkeypatch.setattr(calipers, "ARROW_MOVE_DOUBT", 0.0)
    before = screen_points(family, seed)
    assert nearest(tip, before) > 5.0 and nearest(numeral, before) <= 1.5
    assert sorted(set(after) - set(before)) == [min(after, key=lambda p: nearest(p, [tip]))]
    assert len(set(before) - set(after)) == 1


def test_a_sure_arrow_is_not_moved(monkeypatch):
    """The refiner's doubt is what lets the arrow move: where it is taken to be as sure of
    the numeral's point as of a mark, the false point stays."""
    monkeypatch.setattr(calipers, "ARROW_MOVE_DOUBT", 0.01)
    for (family, seed), (_, numeral) in NUMBERED_ARROWS.items():
        assert nearest(numeral, screen_points(family, seed)) <= 1.5, (family, seed)
