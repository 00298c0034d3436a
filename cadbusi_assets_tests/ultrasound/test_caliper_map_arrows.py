"""White arrows drawn over a light colour map (an elastography box), which the rules of
:mod:`.calipers` missed before and find now (:func:`.calipers.map_white_arrows`).

The mark below is a true caliper arrow of a tuning family (seeds 100-439) that no rule and no
sure heat-map point found (heat below ``NET_MIN_PROB``): the arrow rules judge a white arrow
by the pixels around it, and the light map's pixels there are bright (two thirds of them at
``ARROW_RING_LEVEL``), as bright speckle is; they are tinted, which speckle is not. The rule
counts only the untinted ones as bright (``MAP_ARROW_TINT``) where most of the ring is
tinted (``MAP_ARROW_RING``), for straight arrows.

Switched off (``MAP_ARROW_RING`` above 1), the rules and the learned finder miss the arrow.
The negative tests: no mark on the frame but its true ones, none on its clean frame, the
rule alone on drawn shapes (nothing for the same arrow on bright or dark speckle, untinted:
the other rules judge those; nothing on white numerals and letters on a map, or a map's
white border), and none at the points where the rule, its tint guard off, took white text,
UI glyphs or speckle for arrows.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cadbusi_assets.ultrasound import calipers
from cadbusi_assets.ultrasound.calipers import map_white_arrows, white_strokes
from cadbusi_assets.ultrasound.overlay import ColourMaps, coloured_pixels, to_grey
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
from cadbusi_demo.screens_heldout import TUNING_FAMILIES, render_screen

#: (family, seed) -> true white arrow tips over a light elastography map that nothing found.
MAP_ARROWS = {
    ("ge_logiq", 218): [(464, 385)],  # JPEG, straight thin shaft, heat 0.1
}


@pytest.mark.parametrize("learned", [False, True])
def test_the_rule_finds_the_arrow(learned):
    assert {family for family, _ in MAP_ARROWS} <= set(TUNING_FAMILIES)
    with time_limit(120, "white arrows over a colour map"):
        assert_found(MAP_ARROWS, within=1.0, learned=learned, check=tuning_arrow_frame)


def test_the_rule_is_what_finds_it(monkeypatch):
    monkeypatch.setattr(calipers, "MAP_ARROW_RING", 1.01)
    assert_missed(MAP_ARROWS, learned=True)
    assert_missed(MAP_ARROWS, learned=False)


@pytest.mark.parametrize(("family", "seed"), sorted(MAP_ARROWS))
def test_no_other_mark_on_the_frame(family, seed):
    screen = render_screen(family, seed)
    for point in screen_points(family, seed):
        assert nearest(point, screen.calipers) <= 5.0, (family, seed, point)
    assert caliper_points(screen.clean, screen.fov_box) == []


def _speckle(seed: int, low: int = 90, high: int = 170) -> np.ndarray:
    grey = np.random.default_rng(seed).integers(low, high, (80, 80)).astype(np.uint8)
    return np.repeat(cv2.GaussianBlur(grey, (3, 3), 0)[..., None], 3, axis=2)


def _light_map(rgb: np.ndarray, seed: int) -> np.ndarray:
    """A light green-cyan map (an elastography box's soft end) over the middle of ``rgb``."""
    noise = np.random.default_rng(seed).integers(-15, 15, (60, 60, 1))
    out = rgb.copy()
    out[10:70, 10:70] = np.clip(np.array([150, 235, 200]) + noise, 0, 255)
    return out


def _arrow(rgb: np.ndarray) -> np.ndarray:
    """A thin white arrow, its tip at (40, 40), its shaft to the right."""
    out = rgb.copy()
    white = (255, 255, 255)
    cv2.line(out, (40, 40), (56, 40), white, 1)
    cv2.line(out, (40, 40), (45, 35), white, 1)
    cv2.line(out, (40, 40), (45, 45), white, 1)
    return out


def _tips(rgb: np.ndarray) -> list[tuple[int, int]]:
    maps = ColourMaps.of(rgb)
    grey = to_grey(rgb)
    white = white_strokes(grey, coloured_pixels(rgb, maps=maps).astype(np.uint8), crossings=True)
    return [(m.x, m.y) for m in map_white_arrows(white, grey, maps.chroma)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_rule_on_drawn_shapes(seed):
    tips = _tips(_arrow(_light_map(_speckle(seed), seed)))
    assert len(tips) == 1 and nearest((40, 40), tips) <= 1.0
    # untinted surroundings: bright speckle (the loose context's straight arrows judge it)
    # and dark tissue (the strict context's): not this rule's
    assert _tips(_arrow(_speckle(seed, 150, 255))) == []
    assert _tips(_arrow(_speckle(seed))) == []


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("shape", ["text", "border"])
def test_no_arrow_on_text_or_a_map_border(seed, shape):
    rgb = _light_map(_speckle(seed), seed)
    if shape == "text":  # white numerals and letters ('1', '4', '7', 'L': arrow-like strokes)
        cv2.putText(rgb, "147L", (15, 50), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1)
    else:
        cv2.rectangle(rgb, (10, 10), (69, 69), (255, 255, 255), 1)
    assert _tips(rgb) == []


#: (family, seed, point): a point away from every true mark that the rule takes once its
#: tint guard is off (every ring pixel counted as tinted, no light-map gate): white text and
#: UI glyphs, crosses' arms and bright speckle judged as if they lay on a map (tuning frames:
#: 82 false marks on seeds 100-439 so, none with the guard).
TRAPS = [
    ("ge_logiq", 218, (473, 255)),  # the frame above, away from its map
    ("philips_epiq", 137, (528, 87)),
    ("ge_voluson", 214, (477, 307)),
]


@pytest.mark.parametrize(("family", "seed", "point"), TRAPS)
def test_no_arrow_away_from_a_map(monkeypatch, family, seed, point):
    loose = {"MAP_ARROW_TINT": 0, "MAP_ARROW_LIGHT": 0, "MAP_ARROW_BLOCKS": 1}
    assert_trap(monkeypatch, family, seed, point, loose)
