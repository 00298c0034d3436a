"""Shared checks of caliper detection on generated screens (tests only)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from cadbusi_assets.ultrasound.analysis import analyze_frame
from cadbusi_demo.screens_heldout import Screen


def nearest(point: tuple[int, int], found: list[tuple[int, int]]) -> float:
    """Distance from ``point`` to the nearest of ``found`` (infinite when none)."""
    return min((math.hypot(point[0] - x, point[1] - y) for x, y in found), default=math.inf)


def check_marks(
    screen: Screen, must_find: Sequence[tuple[int, int]] = (), what: object = None
) -> None:
    """Analyse ``screen`` (no OCR): every point of ``must_find`` is found within 2 px, and
    every point found is a true mark (within 5 px of the generator's). ``what`` names the
    frame in a failure."""
    found = analyze_frame(screen.frame, [], ocr=False).calipers.points
    for point in must_find:
        assert nearest(point, found) <= 2.0, (what, "missed", point)
    for point in found:
        assert nearest(point, screen.calipers) <= 5.0, (what, "false", point)
