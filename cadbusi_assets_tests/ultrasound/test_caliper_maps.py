"""Calipers drawn over a colour map (elastography, colour Doppler): :func:`.calipers.map_marks`.

On an elastography map a mark's strokes join the map's coloured pixels in one component, and
before this rule the only finder of such a mark was the learned one (which missed most: on
the tuning frames of seeds 100-419 with an elastography map, recall 0.748). The marks below
are tuning-family marks on a map that the rules missed before the rule (tested with the
learned finder off) and find now.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cadbusi_assets.ultrasound import calipers
from cadbusi_assets.ultrasound.calipers import map_marks
from cadbusi_assets.ultrasound.overlay import coloured_pixels
from cadbusi_assets_tests.support import time_limit
from cadbusi_assets_tests.ultrasound.caliper_frames import assert_missed, nearest, screen_points
from cadbusi_demo.screens_heldout import TUNING_FAMILIES, render_screen

#: (family, seed): caliper points on an elastography map (tuning frames, seeds 100-299).
ON_MAPS: dict[tuple[str, int], list[tuple[int, int]]] = {
    ("philips_epiq", 184): [(462, 421)],  # cyan 'x'
    ("ge_logiq", 141): [(475, 405)],  # small cyan '+'
    ("ge_logiq", 210): [(518, 508), (532, 552)],  # small cyan 'x'
    ("philips_iu22", 160): [(311, 115)],  # small green '+'
}


def test_the_rules_find_marks_on_elastography_maps():
    assert {family for family, _ in ON_MAPS} <= set(TUNING_FAMILIES)
    with time_limit(120, "caliper rules on elastography frames"):
        for (family, seed), points in ON_MAPS.items():
            assert 100 <= seed < 300
            screen = render_screen(family, seed)
            assert screen.elastography
            found = screen_points(family, seed, learned=False)
            for point in points:
                assert nearest(point, screen.calipers) == 0.0, (family, seed, point)
                assert nearest(point, found) <= 2.0, (family, seed, point, found)


def test_without_the_map_rule_the_rules_miss_them(monkeypatch):
    """The marks above are the map rule's: with it off, the other rules miss every one."""
    monkeypatch.setattr(calipers, "map_marks", lambda *args, **kwargs: [])
    assert_missed(ON_MAPS)


@pytest.mark.parametrize(("family", "seed"), sorted(ON_MAPS))
def test_no_mark_on_the_map_alone(family, seed):
    """The same screens without their calipers and text (the generator's clean frame): the
    map's speckle, colour edges and box outline give no mark."""
    clean = render_screen(family, seed).clean
    assert map_marks(clean, coloured_pixels(clean).astype(np.uint8)) == []


def test_nothing_is_computed_without_a_map():
    """A grey crop, or one with a few coloured marks and no map, costs a count only."""
    grey = np.full((120, 160, 3), 90, np.uint8)
    assert map_marks(grey, coloured_pixels(grey).astype(np.uint8)) == []
    marks = grey.copy()
    cv2.line(marks, (20, 60), (40, 60), (255, 255, 0), 1)
    cv2.line(marks, (30, 50), (30, 70), (255, 255, 0), 1)
    assert map_marks(marks, coloured_pixels(marks).astype(np.uint8)) == []
    assert map_marks(grey[:, :, 0], np.zeros((120, 160), np.uint8)) == []
