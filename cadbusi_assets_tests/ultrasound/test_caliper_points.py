"""Caliper points lie within 2 px of the true mark centres (issue 11, item 5).

The frames are of the TUNING families only (:data:`cadbusi_demo.screens_heldout.TUNING_FAMILIES`):
the held-out families are for the benchmark's measurement, never for a test that shapes the
detector. The named frames are ones where the detector once put a point 2.8 to 4.2 px off:
small crosses that JPEG broke at one arm were taken for arrows (the point at an arm's end,
not at the centre). Thick white 'x' marks, missed before, are found at their centres too.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from cadbusi_assets.ultrasound.analysis import analyze_frame
from cadbusi_assets.ultrasound.calipers import NET_STYLE, detect_calipers
from cadbusi_assets_tests.support import time_limit
from cadbusi_assets_tests.ultrasound.caliper_frames import LEARNED_MAX_ERROR
from cadbusi_demo.screens_heldout import TUNING_FAMILIES, render_screen

#: A found point within this distance of a true centre is the same mark (as the benchmark).
MATCH = 5.0
#: ... and must lie this close to it.
MAX_ERROR = 2.0


def _matched_errors(
    found: list[tuple[int, int]], truth: list[tuple[int, int]]
) -> dict[tuple[int, int], float]:
    """Greedy nearest matching within :data:`MATCH`: each matched true point's error (px)."""
    pairs = sorted(
        (math.hypot(f[0] - t[0], f[1] - t[1]), i, j)
        for i, f in enumerate(found)
        for j, t in enumerate(truth)
    )
    used_f: set[int] = set()
    out: dict[tuple[int, int], float] = {}
    for distance, i, j in pairs:
        if distance > MATCH or i in used_f or truth[j] in out:
            continue
        used_f.add(i)
        out[truth[j]] = distance
    return out


#: (family, seed, true point): a small JPEG-broken cross whose point was found off centre.
OFF_CENTRE = [
    ("philips_epiq", 138, (595, 502)),  # 'x', one arm's end pixel lost: was an arrow, 4.2 px
    ("siemens_s2000", 52, (330, 246)),  # white '+', both arms run into a line: arrow, 4.0 px
    ("philips_iu22", 110, (623, 254)),  # 'x', one arm a pixel longer: an arrow, 2.8 px
]


@pytest.mark.parametrize(("family", "seed", "point"), OFF_CENTRE)
def test_broken_small_crosses_are_found_at_their_centres(family, seed, point):
    screen = render_screen(family, seed)
    assert family in TUNING_FAMILIES and point in screen.calipers
    with time_limit(30, "analysing one frame"):
        found = analyze_frame(screen.frame, [], ocr=False).calipers
    errors = _matched_errors(list(found.points), list(screen.calipers))
    assert point in errors, f"the mark at {point} is not found: {found.points}"
    assert errors[point] <= MAX_ERROR, (point, found.points, found.styles)
    assert all(e <= MAX_ERROR for e in errors.values()), errors
    # It is found as the cross it is, not as an arrow.
    nearest = min(
        range(len(found.points)),
        key=lambda k: math.hypot(found.points[k][0] - point[0], found.points[k][1] - point[1]),
    )
    assert found.styles[nearest] in {"+", "x"}


def test_every_matched_point_on_tuning_frames_is_within_two_px():
    """A sweep over frames of every tuning family: no matched point of the rules is 2 px or
    more off, and most true marks are found (the sweep exercises the detector). Points of the
    learned finder (style :data:`~.calipers.NET_STYLE`) may be farther off (a small arrow's
    tip placed inside its head), never more than :data:`LEARNED_MAX_ERROR`."""
    errors: list[float] = []
    learned: list[float] = []
    truth = 0
    with time_limit(120, "analysing the tuning frames"):
        for family in TUNING_FAMILIES:
            for seed in range(100, 112):
                screen = render_screen(family, seed)
                found = analyze_frame(screen.frame, [], ocr=False).calipers
                for style, point in zip(found.styles, found.points, strict=True):
                    error = _matched_errors([point], list(screen.calipers))
                    (learned if style == NET_STYLE else errors).extend(error.values())
                truth += len(screen.calipers)
    assert truth >= 100
    assert len(errors) + len(learned) >= 0.7 * truth
    assert max(errors) <= MAX_ERROR, sorted(errors)[-5:]
    assert max(learned, default=0.0) <= LEARNED_MAX_ERROR, sorted(learned)[-5:]


def test_a_small_x_with_one_arm_a_pixel_longer_is_a_cross_at_its_centre():
    """JPEG lends one arm of a 2-px 'x' a pixel: still an 'x', its point the centre (an arrow
    read from it would put the point at an arm's end)."""
    frame = np.full((80, 80, 3), 60, np.uint8)
    x, y = 40, 40
    for k in range(-2, 3):
        frame[y + k, x + k] = frame[y + k, x - k] = (0, 255, 0)
    frame[y - 3, x + 3] = (0, 255, 0)  # the up-right arm: 3 px
    found = detect_calipers(frame, (0, 0, 79, 79))
    assert found.points == [(x, y)]
    assert found.styles == ["x"]


@pytest.mark.parametrize("colour", [(255, 255, 255), (255, 255, 0)])
def test_a_thick_large_x_is_found_at_its_centre(colour):
    """A 2-px 'x' (5 px along a row) lights the pixels 2 px beside its centre: it is still a
    cross, not a blob (the templates' core lies 3 px out for thick strokes)."""
    frame = np.full((100, 100, 3), 60, np.uint8)
    x, y, half = 50, 50, 9
    cv2.line(frame, (x - half, y - half), (x + half, y + half), colour, 2)
    cv2.line(frame, (x - half, y + half), (x + half, y - half), colour, 2)
    found = detect_calipers(frame, (0, 0, 99, 99))
    assert found.styles == ["x"]
    assert math.hypot(found.points[0][0] - x, found.points[0][1] - y) <= 1.0
