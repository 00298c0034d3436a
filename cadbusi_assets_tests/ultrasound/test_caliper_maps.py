"""Calipers drawn over a colour map (elastography, colour Doppler): :func:`.calipers.map_marks`;
and no mark on the map's colour scale bar (:func:`.calipers.colour_scales`).

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
from cadbusi_assets.ultrasound.calipers import _Mark, colour_scales, detect_calipers, map_marks
from cadbusi_assets.ultrasound.overlay import coloured_pixels
from cadbusi_assets_tests.support import missing, time_limit
from cadbusi_assets_tests.ultrasound.caliper_frames import assert_missed, nearest, screen_points
from cadbusi_demo.screens_heldout import TUNING_FAMILIES, render_screen

#: (family, seed): caliper points on an elastography map (tuning frames, seeds 100-299).
ON_MAPS: dict[tuple[str, int], list[tuple[int, int]]] = {
    ("philips_epiq", 184): [(462, 421)],  # cyan 'x'
    ("ge_logiq", 141): [(475, 405)],  # small cyan '+'
    ("ge_logiq", 210): [(518, 508), (532, 552)],  # small cyan 'x'
    ("philips_iu22", 160): [(311, 115)],  # small green '+'
    # light marks in JPEG, tinted by the map: its lowest channel lifted (MAP_LIFT)
    ("siemens_s2000", 218): [(366, 171)],  # large white 'x'
    ("ge_voluson", 113): [(561, 198)],  # small yellow 'x' on a yellow map
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


@pytest.mark.parametrize("kind", ["uniform", "levels", "speckle"])
def test_brightness_over_the_median_as_the_median_filter_gives_it(kind):
    """map_marks tests the brightest channel against its median only where the channels'
    medians let brightness pass (:func:`.calipers._above_median`): the pixels it gives are
    those ``cv2.medianBlur`` gives, edges too, on crops of any size."""
    rng = np.random.default_rng(7)
    for _ in range(60):
        height, width = (int(v) for v in rng.integers(1, 48, 2))
        if kind == "uniform":
            rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        elif kind == "levels":
            rgb = (rng.integers(0, 4, (height, width, 3)) * 60).astype(np.uint8)
        else:
            rgb = np.clip(rng.normal(100, 40, (height, width, 3)), 0, 255).astype(np.uint8)
            rgb[rng.random((height, width)) < 0.08] = 255  # thin bright strokes
        high = rgb.max(axis=2)
        medians = cv2.split(cv2.medianBlur(rgb, calipers.MAP_MEDIAN))
        least = np.maximum.reduce(medians)
        for margin in (1, 30, calipers.MAP_BRIGHT):
            expected = cv2.subtract(high, cv2.medianBlur(high, calipers.MAP_MEDIAN)) >= margin
            got = calipers._above_median(high, least, margin, calipers.MAP_MEDIAN)
            assert got.dtype == np.uint8
            np.testing.assert_array_equal(got, expected.astype(np.uint8))


# ---------------------------------------------------------------------------------------
# Colour scale bars


def _speckle_with_a_mark(seed: int = 0) -> np.ndarray:
    """Grey speckle, 160 x 120, a yellow '+' of arm 7 centred at (47, 60)."""
    rng = np.random.default_rng(seed)
    rgb = np.repeat(rng.integers(30, 110, (120, 160, 1), dtype=np.uint8), 3, axis=2)
    rgb[60, 40:55] = rgb[53:68, 47] = (255, 255, 0)
    return rgb


def _with_scale_bar(rgb: np.ndarray) -> np.ndarray:
    """A power-Doppler colour scale at x 125-137, y 40-72 (13 px wide, as the half-size real
    one): yellow ends, red middle, grey text below and black to its right."""
    out = rgb.copy()
    t = np.abs(np.linspace(-1.0, 1.0, 33))[:, None]
    bar = np.concatenate([np.full_like(t, 255), 255 * t, np.zeros_like(t)], axis=1)
    out[40:73, 125:138] = bar.astype(np.uint8)[:, None, :]
    out[:, 138:] = 0
    out[76:81, 125:140:2] = 228
    return out


def test_a_colour_scale_bar_is_found_and_a_mark_is_not_one():
    frame = _with_scale_bar(_speckle_with_a_mark())
    coloured = coloured_pixels(frame).astype(np.uint8)
    assert colour_scales(coloured) == [(125, 40, 137, 72)]  # the bar, not the '+'
    assert colour_scales(coloured_pixels(_speckle_with_a_mark()).astype(np.uint8)) == []


def test_no_mark_on_a_colour_scale_bar(monkeypatch):
    """A point proposed on the bar's lower corner (what the learned finder did on the half-size
    real power-Doppler frame, examples_rgb_color.dcm) is dropped; the '+' beside it stays."""
    real = calipers._net_marks

    def with_a_point_on_the_bar(crop, kept, inside, arm, *rest):
        # (the search crop starts at the frame's corner here: crop and frame points agree)
        point = _Mark(133, 69, calipers.NET_STYLE, 0.84, (0, 0, 0, 0))
        return [*real(crop, kept, inside, arm, *rest), point]

    monkeypatch.setattr(calipers, "_net_marks", with_a_point_on_the_bar)
    frame = _with_scale_bar(_speckle_with_a_mark())
    found = detect_calipers(frame, (5, 5, 154, 114))
    assert found.points == [(47, 60)], found
    assert found.styles == ["+"]
    # a point just beyond the reach of the bar's box is kept
    monkeypatch.setattr(
        calipers,
        "_net_marks",
        lambda crop, kept, inside, arm, *rest: [
            *real(crop, kept, inside, arm, *rest),
            _Mark(137 + calipers.SCALE_REACH + 1, 69, "*", 0.84, (0, 0, 0, 0)),
        ],
    )
    assert (140, 69) in detect_calipers(frame, (5, 5, 154, 114)).points


def test_the_real_scale_bar_gives_no_mark():
    """The colour scale of the half-size real power-Doppler frame (examples_rgb_color.dcm:
    the bar, its grey ramp and 'PWR' labels) pasted on speckle beside a '+': the learned
    finder took the bar's lower corner for a mark before the scale rule."""
    from pydicom.data import get_testdata_file

    from cadbusi_assets.dicom import iter_frames, read_dataset

    path = get_testdata_file("examples_rgb_color.dcm", download=False)
    if path is None:
        missing("pydicom test file examples_rgb_color.dcm is not available offline")
    _, real = next(iter_frames(read_dataset(path), indices=[0]))
    frame = _speckle_with_a_mark()
    frame[30:80, 120:150] = real[70:120, 290:320]
    found = detect_calipers(frame, (5, 5, 154, 114))
    assert found.points == [(47, 60)], found


@pytest.mark.parametrize(("family", "seed"), sorted(ON_MAPS))
def test_an_elastography_map_is_no_scale_bar(family, seed):
    """The maps under marks are filled rectangles of colour too, but wider than a scale bar."""
    screen = render_screen(family, seed)
    scales = colour_scales(coloured_pixels(screen.frame).astype(np.uint8))
    for x, y in screen.calipers:
        assert not any(x0 - 2 <= x <= x1 + 2 and y0 - 2 <= y <= y1 + 2 for x0, y0, x1, y1 in scales)
