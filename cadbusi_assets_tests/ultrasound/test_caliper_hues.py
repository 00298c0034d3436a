"""Calipers in colours the learned finder never learned, on JPEG frames where the rules find
no mark of such a colour (issue 11: calipers of any style).

JPEG's chroma subsampling leaves a small light blue '+' on speckle at about (150, 170, 190)
and a red one at chroma 90-100: below ``CORE_CHROMA``, so :func:`~.calipers._unlearned_hue`
took none of the rules' marks for one in an unlearned colour and the learned finder never
looked at the frame in yellow. Now it does where the crop has such pixels
(:func:`~.calipers._hued_pixels`, :data:`~.calipers.HUED_PIXEL_GATE`), unless a rules' mark
is in a learned colour or the crop shows a colour flow map (:func:`~.calipers._colour_flow`).

The frames are tuning frames (seeds 100-439) re-rendered with ``caliper_colours=UNSEEN``;
before the change every mark listed was missed.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.caliper_misses import UNSEEN_COLOURS
from cadbusi_assets.ultrasound import calipers
from cadbusi_assets.ultrasound.overlay import ColourMaps
from cadbusi_assets_tests.ultrasound.caliper_frames import caliper_points, nearest
from cadbusi_demo.screens_heldout import TUNING_FAMILIES, render_screen

UNSEEN = tuple(UNSEEN_COLOURS.values())

#: (family, seed) of a JPEG tuning frame in UNSEEN colours -> its calipers' colour and the
#: true marks missed before (each found now within 3 px, and no point off the true marks).
FRAMES: dict[tuple[str, int], tuple[tuple[int, int, int], list[tuple[int, int]]]] = {
    # 2 small orange 'x'
    ("philips_iu22", 110): ((255, 165, 0), [(573, 206), (624, 185)]),
    # 5 large light blue '+' (zoom box)
    ("ge_voluson", 127): (
        (100, 180, 255),
        [(348, 385), (391, 291), (414, 392), (438, 331), (486, 241)],
    ),
    # small magenta 'x'
    ("siemens_s2000", 117): ((255, 0, 255), [(323, 387), (371, 351), (508, 363)]),
}


@pytest.mark.parametrize(("family", "seed"), sorted(FRAMES))
def test_marks_in_unlearned_colours_on_jpeg_frames_are_found(family: str, seed: int):
    assert family in TUNING_FAMILIES and 100 <= seed < 440
    screen = render_screen(family, seed, caliper_colours=UNSEEN)
    colour, gained = FRAMES[family, seed]
    assert screen.jpeg_quality is not None and screen.caliper_colour == colour
    truth = [(int(x), int(y)) for x, y in screen.calipers]
    assert set(gained) <= set(truth)
    found = caliper_points(screen.frame)
    for point in gained:
        assert nearest(point, found) <= 3.0, (family, seed, point, found)
    for point in found:
        assert nearest(point, truth) <= 5.0, (family, seed, point, truth)


def test_without_the_pixel_gate_the_orange_jpeg_marks_are_missed(monkeypatch):
    monkeypatch.setattr(calipers, "HUED_PIXEL_GATE", False)
    screen = render_screen("philips_iu22", 110, caliper_colours=UNSEEN)
    found = caliper_points(screen.frame)
    assert all(nearest(p, found) > 5.0 for p in FRAMES["philips_iu22", 110][1])


def test_jpeg_light_blue_is_an_unlearned_colour_and_the_learned_ones_are_not():
    rgb = np.zeros((1, 7, 3), np.uint8)
    rgb[0] = [
        (150, 170, 190),  # a JPEG light blue stroke on speckle: chroma 40
        (200, 90, 100),  # a JPEG red one
        (255, 255, 0),  # yellow, green, cyan and white: learned
        (0, 255, 0),
        (0, 255, 255),
        (255, 255, 255),
        (150, 160, 150),  # a grey tinted by JPEG: chroma 10
    ]
    hued = calipers._hued_pixels(rgb, ColourMaps.of(rgb))
    assert hued[0].tolist() == [1, 1, 0, 0, 0, 0, 0]


@pytest.mark.parametrize(
    ("family", "seed", "colours"),
    [
        # colour Doppler's red and blue specks (no calipers): the finder in yellow took three
        ("philips_epiq", 125, None),
        # power Doppler's orange dots beside white calipers: it took six
        ("ge_logiq", 197, None),
        # the same frame's calipers light blue: the dots still no marks
        ("ge_logiq", 197, UNSEEN),
    ],
)
def test_colour_flow_specks_are_no_marks(family: str, seed: int, colours):
    screen = render_screen(family, seed, caliper_colours=colours)
    assert screen.doppler
    frame = screen.frame
    assert calipers._colour_flow(frame, calipers._hued_pixels(frame, ColourMaps.of(frame)))
    truth = [(int(x), int(y)) for x, y in screen.calipers]
    for point in caliper_points(frame):
        assert nearest(point, truth) <= 5.0, (family, seed, point, truth)


def test_without_the_flow_guard_colour_doppler_specks_become_marks(monkeypatch):
    screen = render_screen("philips_epiq", 125)
    assert screen.doppler and not screen.calipers
    assert caliper_points(screen.frame) == []
    monkeypatch.setattr(calipers, "_colour_flow", lambda *args: False)
    assert len(caliper_points(screen.frame)) >= 1
