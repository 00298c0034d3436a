"""Calipers of every style on the domain-randomized screens (:mod:`cadbusi_demo.screens_heldout`).

Detection is tuned on the TUNING families only; the held-out check at the end is a regression
test on a handful of frames, not a tuning target.
"""

from __future__ import annotations

import math

import pytest

from cadbusi_assets.ultrasound.analysis import analyze_frame
from cadbusi_assets.ultrasound.calipers import NET_STYLE, detect_calipers
from cadbusi_assets.ultrasound.inpaint import caliper_mask
from cadbusi_assets_tests.support import time_limit
from cadbusi_assets_tests.ultrasound.caliper_frames import (
    CYAN,
    GREEN,
    LEARNED_MAX_ERROR,
    WHITE,
    YELLOW,
    nearest,
    styled_frame,
)
from cadbusi_demo.screens.calipers import CaliperStyle
from cadbusi_demo.screens_heldout import HELDOUT_FAMILIES, TUNING_FAMILIES, render_screen

STYLES = [
    (glyph, size, extra)
    for glyph in ("+", "x", "arrow")
    for size in ("small", "large")
    for extra in ("", "numbered", "dotted", "ellipse")
]


@pytest.mark.parametrize(("glyph", "size", "extra"), STYLES)
def test_every_style_is_found_at_its_mark_centres(glyph, size, extra):
    k = STYLES.index((glyph, size, extra))
    colour = (YELLOW, GREEN, CYAN)[k % 3]
    half = 3 if size == "small" else 9
    style = CaliperStyle(
        glyph,
        size,
        half,
        1,
        colour,
        numbered=extra == "numbered",
        dotted=extra == "dotted",
        ellipse=extra == "ellipse",
    )
    family = TUNING_FAMILIES[k % len(TUNING_FAMILIES)]
    frame, drawn, _ = styled_frame(family, 100 + k, style)
    found = analyze_frame(frame, [], ocr=False).calipers.points
    assert len(found) == len(drawn.points), (style.name, found, drawn.points)
    for point in drawn.points:
        assert nearest(point, found) <= 2.0, (style.name, point, found)
    # The inpainting mask covers every pixel the calipers drew (numbers, dots, traces too).
    mask = caliper_mask(frame, found)
    assert mask[drawn.mask].mean() >= 0.97, style.name


@pytest.mark.parametrize("glyph", ["+", "x"])
@pytest.mark.parametrize("thickness", [1, 2])
def test_white_and_thick_crosses(glyph, thickness):
    style = CaliperStyle(glyph, "large", 8, thickness, WHITE if thickness == 1 else YELLOW)
    frame, drawn, _ = styled_frame("philips_epiq", 7 + thickness, style)
    found = analyze_frame(frame, [], ocr=False).calipers.points
    assert len(found) == len(drawn.points)
    for point in drawn.points:
        assert nearest(point, found) <= 2.0


def test_thick_white_arrows_at_their_tips():
    """A white arrow drawn 2 px thick meets its wings in a filled wedge at the tip, which
    the white strokes' opening takes: it is still an arrow, found at its tip (by the rules,
    or by the learned finder where they miss it), and the pieces left without the tip give no
    mark off it. (Arrows on bright speckle are missed still:
    most, not all, are found.)"""
    drawn_total, found_at_tips = 0, 0
    with time_limit(300, "analysing thick white arrows"):
        for family in TUNING_FAMILIES:
            for half in (6, 9, 12):
                style = CaliperStyle("arrow", "large", half, 2, WHITE)
                frame, drawn, _ = styled_frame(family, 20 + half, style)
                detection = analyze_frame(frame, [], ocr=False).calipers
                for point, style_found in zip(detection.points, detection.styles, strict=True):
                    # an arrow of the rules at its tip, or a point of the learned finder (no
                    # shape; its tip of a thick arrow may lie inside the head)
                    assert style_found in {">", NET_STYLE}, (family, half, detection)
                    bound = 2.0 if style_found == ">" else LEARNED_MAX_ERROR
                    assert nearest(point, drawn.points) <= bound, (family, half, detection)
                drawn_total += len(drawn.points)
                found_at_tips += len(detection.points)
    assert found_at_tips >= 0.6 * drawn_total, (found_at_tips, drawn_total)


def _screens_without_calipers(families, per_family):
    for family in families:
        seed, taken = 0, 0
        while taken < per_family and seed < 200:
            screen = render_screen(family, seed)
            seed += 1
            if not screen.calipers:
                taken += 1
                yield screen


@pytest.mark.parametrize("family", TUNING_FAMILIES)
def test_no_calipers_on_frames_without_them(family):
    """Text, body markers, depth scales and bright speckle are not calipers."""
    for screen in _screens_without_calipers([family], 4):
        box = screen.fov_box
        assert detect_calipers(screen.frame, box).points == [], (family, screen.seed)
        assert analyze_frame(screen.frame, [], ocr=False).calipers.points == []


def _match(found, truth, tolerance=5.0):
    pairs = sorted(
        (math.hypot(f[0] - t[0], f[1] - t[1]), i, j)
        for i, f in enumerate(found)
        for j, t in enumerate(truth)
    )
    used_f, used_t, errors = set(), set(), []
    for distance, i, j in pairs:
        if distance <= tolerance and i not in used_f and j not in used_t:
            used_f.add(i)
            used_t.add(j)
            errors.append(distance)
    return errors


@pytest.mark.parametrize("families", [TUNING_FAMILIES, HELDOUT_FAMILIES], ids=["tuning", "heldout"])
def test_generator_frames_precision_and_point_error(families):
    """Random generator frames: precision (at the 0.98 target on tuning frames), matched
    points within 2 px (all but a few), most marks found (a regression floor below the
    measured recall; see benchmarks.screens)."""
    found_n = truth_n = matched = 0
    all_errors: list[float] = []
    per_family = 6 if families == TUNING_FAMILIES else 3
    with time_limit(300, "analysing the generator frames"):
        for family in families:
            for seed in range(500, 500 + per_family):
                screen = render_screen(family, seed)
                found = analyze_frame(screen.frame, [], ocr=False).calipers.points
                errors = _match(found, screen.calipers)
                all_errors += errors
                found_n += len(found)
                truth_n += len(screen.calipers)
                matched += len(errors)
    # Tuning: the precision target; held out: a regression floor under the measured
    # figure (below the target: see the benchmark).
    assert matched >= (0.98 if families == TUNING_FAMILIES else 0.94) * found_n
    assert sum(e <= 2.0 for e in all_errors) >= 0.95 * len(all_errors)
    assert matched >= (0.75 if families == TUNING_FAMILIES else 0.6) * truth_n
