"""Coloured arrows the component rules find on their core of strong mark colour, and vivid
arrows drawn over a colour map.

A coloured arrow's component (the mark-coloured pixels) may hold more than the arrow: JPEG
bleeds a thick arrow's colour into the bright speckle beside it (faint at the edges), and a
thin arrow may touch a Doppler blob. :func:`~.calipers._arrow_tip` then sees no arrow; on the
component's core (:data:`~.calipers.CORE_CHROMA`: strong chroma, the green channel near the
brightest, the largest piece of at least :data:`~.calipers.CORE_PIXELS`) it does. Each mark
below is a true arrow tip of a tuning family (seeds 100-439) that the rules (the learned
finder off) missed before the core rule and find now within 1 px; the learned finder missed
siemens_s2000 103's two as well.

Over an elastography map, an arrow's strokes join the map's pixels in one component; the map
rule (:func:`~.calipers.map_marks`) looks for crosses only on its layers, and for arrows on the
vivid pixels alone (:data:`~.calipers.MAP_VIVID`: a lossless frame's arrow in its pure colour,
the blended map duller).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cadbusi_assets.ultrasound import calipers
from cadbusi_assets.ultrasound.calipers import _core_tip, colour_marks, map_marks
from cadbusi_assets.ultrasound.overlay import ColourMaps, coloured_pixels, overlay_candidates
from cadbusi_assets_tests.support import time_limit
from cadbusi_assets_tests.ultrasound.caliper_frames import (
    assert_found,
    assert_missed,
    caliper_points,
    nearest,
    screen_points,
    tuning_arrow_frame,
)
from cadbusi_demo.screens_heldout import TUNING_FAMILIES, Screen, render_screen

#: (family, seed) -> true arrow tips the core rule finds.
CORE_ARROWS: dict[tuple[str, int], list[tuple[int, int]]] = {
    # thick yellow arrows over a colour-Doppler frame (JPEG), their colour bled into speckle
    ("siemens_s2000", 103): [(294, 272), (379, 118)],
    ("philips_epiq", 308): [(337, 475)],  # a thick cyan arrow (JPEG)
    ("philips_epiq", 231): [(608, 383), (593, 589)],  # thin green arrows touching orange blobs
}

#: Tuning frames where a lesser core gave false marks: philips_iu22 108's Doppler blob (the
#: core without the green-channel test), philips_iu22 112's cyan '2' and ge_logiq 301's cyan
#: '1' (cores of fewer than CORE_PIXELS).
TEMPTING = [("philips_iu22", 108), ("philips_iu22", 112), ("ge_logiq", 301)]


def test_the_rules_find_these_arrows_on_their_core():
    assert {family for family, _ in CORE_ARROWS} <= set(TUNING_FAMILIES)
    with time_limit(120, "caliper rules on coloured arrow frames"):
        assert_found(CORE_ARROWS, within=1.0, learned=False, check=tuning_arrow_frame)


def test_without_the_core_the_rules_miss_them(monkeypatch):
    monkeypatch.setattr(calipers, "CORE_PIXELS", 10**9)
    assert_missed(CORE_ARROWS)


@pytest.mark.parametrize(("family", "seed"), TEMPTING)
def test_no_false_mark_from_a_core(monkeypatch, family, seed):
    """Where a lesser core gave a false arrow, the rules find what they find without it."""
    found = screen_points(family, seed, learned=False)
    monkeypatch.setattr(calipers, "CORE_PIXELS", 10**9)
    assert found == screen_points(family, seed, learned=False)


def test_the_green_channel_test_keeps_doppler_blobs_out(monkeypatch):
    """Without the green-channel test, the core of philips_iu22 108's orange Doppler blob
    (a round head and a tail) is taken for an arrow."""
    family, seed = TEMPTING[0]
    before = screen_points(family, seed, learned=False)
    monkeypatch.setattr(calipers, "CORE_GREEN", 255)
    added = set(screen_points(family, seed, learned=False)) - set(before)
    truth = render_screen(family, seed).calipers
    assert added and all(nearest(point, truth) > 5.0 for point in added), added


@pytest.mark.parametrize(("family", "seed"), sorted(CORE_ARROWS))
def test_no_mark_on_the_clean_frame(family, seed):
    """The same screens without their calipers and text: no mark (the product detects)."""
    screen = render_screen(family, seed)
    assert caliper_points(screen.clean, screen.fov_box) == []


#: (family, seed) -> true arrow tips on an elastography map that the vivid layer finds.
MAP_ARROWS: dict[tuple[str, int], list[tuple[int, int]]] = {
    ("ge_logiq", 304): [(647, 524), (503, 377), (617, 455)],  # green, lossless
}


def test_the_rules_find_vivid_arrows_on_a_map():
    def lossless_elastography(screen: Screen) -> None:
        assert screen.elastography and screen.jpeg_quality is None

    assert_found(MAP_ARROWS, within=1.0, learned=False, check=lossless_elastography)


def test_without_the_vivid_layer_the_rules_miss_them(monkeypatch):
    monkeypatch.setattr(calipers, "MAP_VIVID", 256)
    assert_missed(MAP_ARROWS)


def test_a_duller_vivid_level_gives_false_arrows(monkeypatch):
    """philips_iu22 324's map: at MAP_VIVID 180 its brightest pixels give false arrows; at the
    chosen level the rules find what they find without the vivid layer."""
    family, seed = "philips_iu22", 324
    monkeypatch.setattr(calipers, "MAP_VIVID", 256)
    without = screen_points(family, seed, learned=False)
    monkeypatch.setattr(calipers, "MAP_VIVID", 180)
    duller = set(screen_points(family, seed, learned=False)) - set(without)
    truth = render_screen(family, seed).calipers
    assert duller and all(nearest(point, truth) > 5.0 for point in duller), duller
    monkeypatch.undo()
    assert screen_points(family, seed, learned=False) == without


@pytest.mark.parametrize(("family", "seed"), sorted(MAP_ARROWS))
def test_no_vivid_arrow_on_the_map_alone(family, seed):
    clean = render_screen(family, seed).clean
    assert map_marks(clean, coloured_pixels(clean).astype(np.uint8)) == []


def _frame(colour: tuple[int, int, int]) -> np.ndarray:
    """A thick arrow of ``colour`` (tip at (15, 15)) on grey, a bright grey blob touching its
    shaft tinted by a third of the colour (as JPEG bleeds it: chroma about 80)."""
    rgb = np.full((60, 60, 3), 70, np.uint8)
    tinted = (0.7 * np.full(3, 230.0) + 0.3 * np.array(colour)).round()
    cv2.circle(rgb, (35, 29), 4, tuple(int(v) for v in tinted), -1)
    cv2.line(rgb, (45, 45), (22, 22), colour, 4)
    cv2.fillPoly(rgb, [np.array([[15, 15], [28, 19], [19, 28]])], colour)
    return rgb


@pytest.mark.parametrize(
    ("colour", "found"), [((255, 255, 0), True), ((0, 255, 255), True), ((255, 120, 0), False)]
)
def test_a_drawn_arrow_with_a_tinted_blob(colour, found):
    """A drawn thick arrow whose component holds a tinted blob: no arrow on the component;
    on its core one in a mark's colour (yellow, cyan), none in a Doppler map's orange."""
    rgb = _frame(colour)
    maps = ColourMaps.of(rgb)
    layer = overlay_candidates(rgb, maps=maps) & coloured_pixels(rgb, maps=maps).astype(np.uint8)
    assert colour_marks(layer) == []
    marks = colour_marks(layer, tint=(rgb, maps))
    assert [(m.x, m.y, m.style) for m in marks] == ([(15, 15, ">")] if found else [])


def test_a_small_core_is_no_arrow():
    component = np.zeros((20, 20), np.uint8)
    component[5:15, 5:15] = 1
    core = np.zeros_like(component)
    core[5:8, 5:10] = 1  # 15 px
    assert _core_tip(component, core) is None
