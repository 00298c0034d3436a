"""Calipers at the edge of an elastography map: a vivid cross whose arm runs onto the map
(:data:`.calipers.MAP_EDGE`), and a cross beside a map, whose pixels are no clutter
(:data:`.calipers.REGION_AREA`).

Both marks below are tuning-family marks (seeds 100-439) that the rules and the learned
finder missed before these rules (tested with the learned finder off).
"""

from __future__ import annotations

import cv2
import numpy as np

from cadbusi_assets.ultrasound import calipers
from cadbusi_assets.ultrasound.calipers import colour_marks, map_marks
from cadbusi_assets.ultrasound.overlay import coloured_pixels
from cadbusi_assets_tests.support import time_limit
from cadbusi_assets_tests.ultrasound.caliper_frames import assert_found, assert_missed
from cadbusi_demo.screens_heldout import Screen, render_screen

#: A small cyan '+' centred on the white border of a yellow map, its right arm on the map
#: (lossless: the mark's pure colour, the map's duller).
AT_THE_EDGE = {("philips_iu22", 432): [(343, 318)]}
#: A small yellow 'x' (JPEG) on tissue 4 px beside a green map's corner.
BESIDE = {("ge_voluson", 113): [(534, 243)]}


def _tuning_elastography(screen: Screen) -> None:
    assert 100 <= screen.seed < 440, (screen.family, screen.seed)
    assert screen.elastography, (screen.family, screen.seed)


def test_a_vivid_cross_at_the_edge_of_a_map_is_found():
    with time_limit(60, "caliper rules on an elastography frame"):
        assert_found(AT_THE_EDGE, learned=False, check=_tuning_elastography)


def test_a_cross_beside_a_map_is_found():
    with time_limit(60, "caliper rules on an elastography frame"):
        assert_found(BESIDE, learned=False, check=_tuning_elastography)


def test_without_the_edge_the_cross_is_missed(monkeypatch):
    """The vivid cross is map_marks's: with it off, the other rules miss it."""
    monkeypatch.setattr(calipers, "map_marks", lambda *args, **kwargs: [])
    assert_missed(AT_THE_EDGE)


def test_with_the_map_as_clutter_the_cross_beside_it_is_missed(monkeypatch):
    """With no component a region, the map's pixels around the 'x' are clutter again."""
    monkeypatch.setattr(calipers, "REGION_AREA", 10**9)
    assert_missed(BESIDE)


def test_no_mark_on_the_clean_maps():
    """The same screens without their calipers and text: the maps' edges, borders and
    speckle give no mark to :func:`.calipers.map_marks`."""
    for family, seed in (*AT_THE_EDGE, *BESIDE):
        clean = render_screen(family, seed).clean
        assert map_marks(clean, coloured_pixels(clean).astype(np.uint8)) == []


def _green_map_with_a_cyan_plus(at: int) -> np.ndarray:
    """A 200 x 120 crop: grey speckle, a green map over x >= 100, a vivid cyan '+' of arm 6
    centred at x = ``at``, y = 60."""
    rng = np.random.default_rng(1)
    crop = np.repeat(rng.integers(20, 90, (120, 200, 1), dtype=np.uint8), 3, axis=2)
    crop[:, 100:] = (40, 150, 60)
    crop[:, 100:] += rng.integers(0, 40, (120, 100, 1), dtype=np.uint8)
    cv2.line(crop, (at - 6, 60), (at + 6, 60), (0, 255, 255), 1)
    cv2.line(crop, (at, 54), (at, 66), (0, 255, 255), 1)
    return crop


def test_vivid_crosses_only_at_the_map():
    """A vivid '+' whose arm reaches the map is map_marks's; one away from the map is left
    to the rules for marks on tissue (none from map_marks)."""
    crop = _green_map_with_a_cyan_plus(97)
    marks = map_marks(crop, coloured_pixels(crop).astype(np.uint8))
    assert [(m.x, m.y, m.style) for m in marks] == [(97, 60, "+")]
    crop = _green_map_with_a_cyan_plus(50)
    assert map_marks(crop, coloured_pixels(crop).astype(np.uint8)) == []


def test_small_pieces_around_a_cross_are_still_clutter():
    """Many small lit pieces around a cross reject it (colour flow, busy icons): only a
    region's pixels (one component of at least REGION_AREA px) are not counted."""
    layer = np.zeros((81, 81), np.uint8)
    for i in range(-5, 6):
        layer[40 + i, 40 + i] = layer[40 + i, 40 - i] = 1  # an 'x' of arm 5
    alone = colour_marks(layer, arrows=False)
    assert [(m.x, m.y, m.style) for m in alone] == [(40, 40, "x")]
    pieces = layer.copy()
    pieces[20:61:2, 20:61:2] = 1  # dots 1 px apart: ~23 % of the clutter square
    pieces[34:47, 34:47] = layer[34:47, 34:47]  # (the mark itself kept clear)
    assert colour_marks(pieces, arrows=False) == []
    region = layer.copy()
    region[:, 52:] = 1  # one large component beside it (a map)
    assert [(m.x, m.y, m.style) for m in colour_marks(region, arrows=False)] == [(40, 40, "x")]
