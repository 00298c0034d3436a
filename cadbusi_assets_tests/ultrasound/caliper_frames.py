"""Shared checks of caliper detection on generated screens (tests only)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence

import cv2
import numpy as np
import pytest

from cadbusi_assets.ultrasound import calipers
from cadbusi_assets.ultrasound.analysis import analyze_frame
from cadbusi_assets.ultrasound.calipers import detect_calipers
from cadbusi_assets.ultrasound.fov import find_field_of_view
from cadbusi_assets.ultrasound.overlay import ColourMaps, to_grey
from cadbusi_demo.screens.calipers import CaliperStyle, draw_calipers
from cadbusi_demo.screens_heldout import Screen, render_screen

#: ... a learned finder's point lies at most this far from the true centre (on the tuning
#: frames of seeds 100-299 20 of its 220 matched points lie more than 2 px off, 4 more than
#: 3 px, at most 4.24 px: small JPEG arrows).
LEARNED_MAX_ERROR = 4.5

YELLOW, GREEN, CYAN, WHITE = (255, 255, 0), (0, 255, 0), (0, 255, 255), (255, 255, 255)


def styled_frame(family: str, seed: int, style: CaliperStyle):
    """The clean frame (speckle and UI graphics) of the first single-view, grey tuning screen
    from ``seed`` on, with two caliper pairs of ``style`` in its fan."""
    for k in range(seed, seed + 50):
        screen = render_screen(family, k)
        if screen.dual or screen.doppler or screen.elastography or screen.zoom:
            continue
        ys, xs = np.nonzero(screen.fov_mask)
        cx, cy = int(np.median(xs)), int(np.median(ys))
        pairs = [
            ((cx - 70, cy - 40), (cx + 50, cy - 55)),
            ((cx - 60, cy + 45), (cx + 65, cy + 60)),
        ]
        if all(screen.fov_mask[y, x] for p, q in pairs for x, y in (p, q)):
            frame = screen.clean.copy()
            return frame, draw_calipers(frame, pairs, style), screen
    raise AssertionError(f"no single-view {family} screen from seed {seed}")


def nearest(point: tuple[int, int], found: list[tuple[int, int]]) -> float:
    """Distance from ``point`` to the nearest of ``found`` (infinite when none)."""
    return min((math.hypot(point[0] - x, point[1] - y) for x, y in found), default=math.inf)


def caliper_points(
    frame: np.ndarray, box: tuple[int, int, int, int] | None = None, learned: bool = True
) -> list[tuple[int, int]]:
    """``detect_calipers``'s points on ``frame``, prepared as ``analyze_frame`` prepares it
    (grey when it holds no colour), in ``box`` (default: the field of view found on it);
    ``learned=False``: the rules alone."""
    grey = to_grey(frame)
    maps: ColourMaps | None = ColourMaps.of(frame) if frame.ndim == 3 else None
    if maps is None or cv2.countNonZero(maps.chroma) == 0:
        frame, maps = grey, None
    if box is None:
        box = find_field_of_view(grey, []).box
        assert box is not None
    return detect_calipers(frame, box, grey=grey, maps=maps, learned=learned).points


def screen_points(family: str, seed: int, learned: bool = True) -> list[tuple[int, int]]:
    """:func:`caliper_points` on the generator's frame ``family``/``seed``."""
    return caliper_points(render_screen(family, seed).frame, learned=learned)


def assert_missed(
    marks: Mapping[tuple[str, int], Iterable[tuple[int, int]]], learned: bool = False
) -> None:
    """No point found (:func:`screen_points`, ``learned``) within 5 px of any of ``marks``
    (per generator frame ``(family, seed)``): what a rule switched off must lose."""
    for (family, seed), points in marks.items():
        found = screen_points(family, seed, learned=learned)
        for point in points:
            assert nearest(point, found) > 5.0, (family, seed, point, found)


def assert_trap(
    monkeypatch: pytest.MonkeyPatch,
    family: str,
    seed: int,
    point: tuple[int, int],
    loose: Mapping[str, float],
    learned: bool = True,
    within: float = 1.5,
) -> None:
    """A trap: ``point`` of the generator frame ``family``/``seed`` lies more than 10 px from
    every true mark and no point is found within 5 px of it, but one is (within ``within``)
    once the guards ``loose`` (constants of :mod:`~cadbusi_assets.ultrasound.calipers` and
    their loosened values) are set: the guards are what keep that false mark out."""
    assert nearest(point, render_screen(family, seed).calipers) > 10.0
    assert nearest(point, screen_points(family, seed, learned=learned)) > 5.0
    for constant, value in loose.items():
        monkeypatch.setattr(calipers, constant, value)
    assert nearest(point, screen_points(family, seed, learned=learned)) <= within


def assert_found(
    marks: Mapping[tuple[str, int], Iterable[tuple[int, int]]],
    within: float = 2.0,
    learned: bool = True,
    check: Callable[[Screen], object] | None = None,
) -> None:
    """Every point of ``marks`` (per generator frame ``(family, seed)``) is one of the
    frame's true marks and is found (:func:`caliper_points`, ``learned``) within ``within``
    px: what :func:`assert_missed` then shows lost with a rule switched off. ``check`` is
    called on each frame's screen first (it asserts what kind of frame the test is about)."""
    for (family, seed), points in marks.items():
        screen = render_screen(family, seed)
        if check is not None:
            check(screen)
        found = caliper_points(screen.frame, learned=learned)
        for point in points:
            assert point in screen.calipers, (family, seed, point)
            assert nearest(point, found) <= within, (family, seed, point, found)


def tuning_arrow_frame(screen: Screen) -> None:
    """An ``assert_found`` check: an arrow-style frame of the tuning seeds 100-439 (those the
    caliper rules were chosen on)."""
    assert 100 <= screen.seed < 440, (screen.family, screen.seed)
    assert screen.caliper_style.split()[0] == "arrow", (screen.family, screen.seed)


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
