"""Bold light crosses over a colour map (:data:`.calipers.MAP_WIDE`): a mark whose strokes
are 3 px or more wide covers over half of :data:`.calipers.MAP_MEDIAN`'s square at its
crossing, so the narrow median there is the mark's own level and the layers of
:func:`.calipers.map_marks` lose the crossing; against a median over a wider square
(:func:`.calipers._coarse_median`) the crossing stays.

The marks below are tuning-family marks (seeds 100-439) that the rules and the learned
finder missed before this rule (the learned finder put one of them 7 px off: a false mark).
"""

from __future__ import annotations

import numpy as np
import pytest

from cadbusi_assets.ultrasound import calipers
from cadbusi_assets.ultrasound.calipers import map_marks
from cadbusi_assets.ultrasound.overlay import coloured_pixels
from cadbusi_assets_tests.support import time_limit
from cadbusi_assets_tests.ultrasound.caliper_frames import (
    assert_found,
    assert_missed,
    assert_trap,
    nearest,
    screen_points,
)
from cadbusi_demo.screens_heldout import Screen, render_screen

#: Two bold white 'x' (large style, JPEG) on a yellow-green elastography map.
BOLD = {("philips_iu22", 152): [(281, 459), (223, 501)]}


def _tuning_elastography(screen: Screen) -> None:
    assert 100 <= screen.seed < 440, (screen.family, screen.seed)
    assert screen.elastography, (screen.family, screen.seed)


def test_bold_white_crosses_on_a_map_are_found():
    with time_limit(60, "caliper rules on an elastography frame"):
        assert_found(BOLD, learned=False, check=_tuning_elastography)


def test_without_the_wide_median_the_bold_crosses_are_missed(monkeypatch):
    """The crosses are the wide layer's: with it off, the rules miss both ..."""
    monkeypatch.setattr(calipers, "MAP_WIDE", 0)
    assert_missed(BOLD)


def test_without_the_wide_median_the_learned_finder_puts_a_false_mark(monkeypatch):
    """... and the learned finder, with the rules, finds neither within 2 px and puts a
    point 7 px from one of them (a false mark): the rule's point is what clears it."""
    (family, seed), points = next(iter(BOLD.items()))
    truth = render_screen(family, seed).calipers
    found = screen_points(family, seed)
    assert all(nearest(p, truth) <= 2.0 for p in found)
    monkeypatch.setattr(calipers, "MAP_WIDE", 0)
    found = screen_points(family, seed)
    assert all(nearest(p, found) > 2.0 for p in points)
    assert any(nearest(p, truth) > 5.0 for p in found)


def test_a_looser_wide_layer_gives_a_false_mark(monkeypatch):
    """A trap: MAP_WIDE_LIFT and MAP_WIDE_HOLD keep the wider median's lifted map texture out
    (with the lift at 10 and every lifted component searched, a false cross on ge_logiq 252's
    map)."""
    loose = {"MAP_WIDE_LIFT": 10, "MAP_WIDE_HOLD": 1}
    assert_trap(monkeypatch, "ge_logiq", 252, (417, 562), loose, learned=False)


def test_no_bold_mark_on_the_clean_map():
    """The same screen without its calipers and text: no mark from map_marks."""
    for family, seed in BOLD:
        clean = render_screen(family, seed).clean
        assert map_marks(clean, coloured_pixels(clean).astype(np.uint8)) == []


def _map_with_a_bold_x(stroke: int) -> np.ndarray:
    """A 120 x 120 crop: an orange map over grey speckle, a white 'x' of arm 9 centred at
    (60, 60), its strokes ``stroke`` px wide (across a row)."""
    rng = np.random.default_rng(3)
    crop = np.empty((120, 120, 3), np.uint8)
    crop[:] = (200, 120, 30)
    crop += rng.integers(0, 40, (120, 120, 1), dtype=np.uint8)
    for d in range(-9, 10):
        for t in range(stroke):
            crop[60 + d, 60 + d + t - stroke // 2] = 255
            crop[60 - d, 60 + d + t - stroke // 2] = 255
    return crop


def _found(crop: np.ndarray) -> list[tuple[int, int, str]]:
    return [(m.x, m.y, m.style) for m in map_marks(crop, coloured_pixels(crop).astype(np.uint8))]


@pytest.mark.parametrize("stroke", [3, 4])
def test_a_bold_x_needs_the_wide_median(monkeypatch, stroke):
    """Strokes of 3 px and more: found (within 1 px) with the wide median, not without."""
    crop = _map_with_a_bold_x(stroke)
    found = _found(crop)
    assert len(found) == 1 and found[0][2] == "x", found
    assert nearest((60, 60), [found[0][:2]]) <= 1.0, found
    monkeypatch.setattr(calipers, "MAP_WIDE", 0)
    assert _found(crop) == []


@pytest.mark.parametrize("stroke", [1, 2])
def test_a_thin_x_needs_no_wide_median(monkeypatch, stroke):
    """Strokes of 1-2 px keep their crossing on the narrow median's layers."""
    monkeypatch.setattr(calipers, "MAP_WIDE", 0)
    assert _found(_map_with_a_bold_x(stroke)) == [(60, 60, "x")]
