"""Caliper detections on generator frames are exactly the recorded ones.

:func:`~cadbusi_assets.ultrasound.calipers.detect_calipers` is rewritten for speed; this test
pins its output (points, scores, styles) on 36 frames of the tuning families and the demo
style (:data:`FRAMES`) to the values recorded in ``caliper_equivalence.json``. The inputs are
the generator's frame and its true field-of-view box (not :mod:`.fov`'s, so a change there
does not show up here), prepared as :func:`~.analysis.analyze_frame` prepares them. Each
frame's SHA-256 is recorded too: when the generator changes, the test says so instead of
blaming the detector.

A deliberate change of the detector's output is recorded again with
``PYTHONPATH=. python -m cadbusi_assets_tests.ultrasound.caliper_record`` (and the
diff of the json reviewed).

:func:`~cadbusi_assets.ultrasound.calipers.arm_runs` (used by the inpainting too) and the
clutter count around a mark are checked against the straightforward implementations they
replaced (np.pad, a full-frame box filter) on random masks.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cadbusi_assets.ultrasound.calipers import (
    _DIRECTIONS,
    CLUTTER_SIDE,
    _lit_around,
    arm_runs,
)
from cadbusi_assets_tests.support import time_limit
from cadbusi_assets_tests.ultrasound.caliper_record import (
    FRAMES,
    detections,
    main,
    recorded,
)


def test_the_record_covers_every_frame_and_has_marks():
    record = recorded()
    assert sorted(record) == sorted(f"{family}/{seed}" for family, seed in FRAMES)
    # The frames exercise the detector: most have marks, of both kinds of glyph.
    with_marks = [key for key, value in record.items() if value["points"]]
    assert len(with_marks) >= len(FRAMES) // 2
    styles = {style for value in record.values() for style in value["styles"]}
    assert {"+", "x"} <= styles


@pytest.mark.parametrize(("family", "seed"), FRAMES)
def test_detections_are_the_recorded_ones(family, seed):
    expected = recorded()[f"{family}/{seed}"]
    with time_limit(60, f"caliper detection on {family}/{seed}"):
        got = detections(family, seed)
    assert got["frame_sha256"] == expected["frame_sha256"], (
        "the generator's frame changed (not the detector): record again"
    )
    assert got == expected


def _padded_arm_runs(
    candidates: np.ndarray, x: int, y: int, style: str, limit: int, strict: bool
) -> list[int]:
    """The implementation :func:`arm_runs` replaced (np.pad, one direction at a time)."""
    height, width = candidates.shape
    padded = np.pad(candidates, 1)
    steps = np.arange(1, limit + 1)
    runs = []
    for dy, dx in _DIRECTIONS[style]:
        ys, xs = y + dy * steps, x + dx * steps
        inside = (ys >= 0) & (ys < height) & (xs >= 0) & (xs < width)
        ys, xs = ys[inside] + 1, xs[inside] + 1
        lit = padded[ys, xs]
        if not strict:
            lit = (
                lit
                | padded[ys - 1, xs]
                | padded[ys + 1, xs]
                | padded[ys, xs - 1]
                | padded[ys, xs + 1]
            )
        run, gap = 0, 0
        for step, on in enumerate(lit.astype(bool), start=1):
            if on:
                run, gap = step, 0
            else:
                gap += 1
                if gap > 1:
                    break
        runs.append(run)
    return runs


def test_arm_runs_equal_the_padded_implementation():
    rng = np.random.default_rng(11)
    checked = 0
    for density in (0.2, 0.5, 0.8, 0.95):
        for _ in range(40):
            height, width = (int(v) for v in rng.integers(1, 30, 2))
            mask = (rng.random((height, width)) < density).astype(np.uint8)
            x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
            for style in ("+", "x"):
                for limit in (1, 4, 16):
                    for strict in (False, True):
                        want = _padded_arm_runs(mask, x, y, style, limit, strict)
                        got = arm_runs(mask, x, y, style, limit, strict=strict)
                        assert got == want, (height, width, x, y, style, limit, strict)
                        checked += 1
    assert checked == 4 * 40 * 2 * 3 * 2


def test_lit_around_equals_the_box_filter_it_replaced():
    rng = np.random.default_rng(12)
    for height, width in ((60, 80), (25, 90), (7, 5), (1, 30)):
        layer = (rng.random((height, width)) < 0.3).astype(np.uint8)
        boxed = cv2.boxFilter(
            layer.astype(np.float32), -1, (CLUTTER_SIDE, CLUTTER_SIDE), normalize=False
        )
        for y in range(height):
            for x in range(width):
                assert _lit_around(layer, x, y) == boxed[y, x], (height, width, x, y)


if __name__ == "__main__":
    main()
