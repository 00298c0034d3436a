"""The learned finder's points on crosses move to the cross's centre.

The placing refiner of :mod:`~cadbusi_assets.ultrasound.caliper_net` puts a cross's point 1-2
px off its centre now and then (thick or JPEG-smeared '+' marks of the tuning frames: 2.24 px).
:func:`~cadbusi_assets.ultrasound.calipers.snap_to_cross` moves such a point to the centre of
the cross that the mark layer lights within ``SNAP_REACH`` px, not onto a solid block.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from cadbusi_assets.ultrasound import calipers
from cadbusi_assets.ultrasound.calipers import cross_pixels, snap_to_cross
from cadbusi_assets_tests.ultrasound.caliper_frames import nearest, screen_points
from cadbusi_demo.screens_heldout import TUNING_FAMILIES, render_screen

#: (family, seed, true point): a cross that only the learned finder found, its point 2.24 px
#: off before snap_to_cross.
LEARNED_OFF = [
    ("ge_voluson", 405, (593, 177)),  # yellow '+', JPEG, a dotted line
    ("ge_voluson", 304, (375, 477)),  # thick yellow '+', an ellipse trace
]


@pytest.mark.parametrize(("family", "seed", "point"), LEARNED_OFF)
def test_a_learned_point_on_a_cross_is_at_its_centre(family, seed, point, monkeypatch):
    assert family in TUNING_FAMILIES
    assert point in [tuple(p) for p in render_screen(family, seed).calipers]
    assert nearest(point, screen_points(family, seed)) <= 1.5
    monkeypatch.setattr(calipers, "SNAP_EXACT", 1.01)  # no snap: as before
    assert nearest(point, screen_points(family, seed)) > 2.0


@pytest.mark.parametrize("style", ["+", "x"])
@pytest.mark.parametrize("half", [3, 6, 11])
@pytest.mark.parametrize("offset", [(0, 0), (2, 1), (-1, -2), (0, 3)])
def test_a_point_near_a_drawn_cross_moves_to_its_centre(style, half, offset):
    layer = cross_pixels((60, 60), [(30, 30)], half, style)
    assert snap_to_cross(layer, 30 + offset[0], 30 + offset[1]) == (30, 30)


def test_a_point_too_far_from_the_cross_stays():
    layer = cross_pixels((60, 60), [(30, 30)], 8, "+")
    assert snap_to_cross(layer, 34, 33) is None  # 5 px: beyond SNAP_REACH
    assert math.hypot(4, 3) > calipers.SNAP_REACH


def test_a_solid_block_gives_no_centre():
    layer = np.zeros((60, 60), np.uint8)
    layer[10:50, 15:45] = 1  # a colour map or scale: any cross fits inside
    assert snap_to_cross(layer, 30, 30) is None
    assert snap_to_cross(np.zeros((60, 60), np.uint8), 30, 30) is None


def test_only_learned_points_move_and_within_the_field_of_view():
    from cadbusi_assets.ultrasound.calipers import NET_STYLE, _Mark, _snap_learned

    layer = cross_pixels((60, 60), [(30, 30)], 8, "+")
    learned = _Mark(32, 31, NET_STYLE, 0.99, (28, 27, 36, 35))
    rule = _Mark(32, 31, "+", 0.9, (28, 27, 36, 35))
    moved, kept = _snap_learned([learned, rule], [layer])
    assert (moved.x, moved.y, moved.box) == (30, 30, (26, 26, 34, 34))
    assert kept == rule
    inside = np.ones((60, 60), bool)
    inside[30, 30] = False
    assert _snap_learned([learned], [layer], inside) == [learned]
