"""The fast paths of :func:`~cadbusi_assets.ultrasound.calipers.loose_pair` and
:func:`~cadbusi_assets.ultrasound.calipers.snap_to_cross` give what the plain scans give.

Both used to sum their layers under every cross (each style, arm and centre) and fit every
pair of candidate centres. Now the sums come from cumulative sums along the crosses' lines
(:func:`~cadbusi_assets.ultrasound.calipers._cross_sums`), and styles, arms and pairs that
provably fail a test of the fit are never scored. The plain scans (as first written) are
kept here as references and compared on drawn windows: pairs and single crosses, broken,
smeared, in speckle, on solid blocks and at the edges of the crop.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from cadbusi_assets.ultrasound import calipers as cal
from cadbusi_assets.ultrasound.calipers import cross_pixels


def _reference_loose_pair(
    window: np.ndarray, x: int, y: int
) -> tuple[str, tuple[int, int], tuple[int, int], int] | None:
    """:func:`loose_pair` as first written: every style, arm and pair of centres scored."""
    if not window.any():
        return None
    near = cv2.dilate(window, cal._SQUARE3).astype(np.float32)
    height, width = window.shape
    pad = 2 * cal.MAX_HALF
    padded = [
        cv2.copyMakeBorder(layer, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        for layer in (near, window.astype(np.float32))
    ]
    cy0, cy1 = max(0, y - cal.MAX_HALF), min(height, y + cal.MAX_HALF + 1)
    cx0, cx1 = max(0, x - cal.MAX_HALF), min(width, x + cal.MAX_HALF + 1)
    best = None
    for style in ("+", "x"):
        sums = [p[cy0 + pad : cy1 + pad, cx0 + pad : cx1 + pad].copy() for p in padded]
        for half in range(1, cal.MAX_HALF + 1):
            for dx, dy in cal._DIRECTIONS[style]:
                rows = slice(cy0 + pad + dy * half, cy1 + pad + dy * half)
                cols = slice(cx0 + pad + dx * half, cx1 + pad + dx * half)
                for total, source in zip(sums, padded, strict=True):
                    np.add(total, source[rows, cols], out=total)
            if half < cal.LOOSE_HALF:
                continue
            count = float(4 * half + 1)
            y0, y1 = max(0, y - half), min(height, y + half + 1)
            x0, x1 = max(0, x - half), min(width, x + half + 1)
            inner = (slice(y0 - cy0, y1 - cy0), slice(x0 - cx0, x1 - cx0))
            part = sums[0][inner] / count
            if float(part.max()) < cal.LOOSE_COVER:
                continue
            exact = sums[1][inner]
            peak = cv2.dilate(exact, np.ones((3, 3), np.uint8))
            ys, xs = np.nonzero((part >= cal.LOOSE_COVER) & (exact >= peak))
            if len(ys) < 2:
                continue
            order = np.argsort(-exact[ys, xs], kind="stable")[: cal.LOOSE_CENTRES]
            centres = [(int(xs[k]) + x0, int(ys[k]) + y0) for k in order]
            for i, a in enumerate(centres):
                for b in centres[i + 1 :]:
                    if max(abs(a[0] - b[0]), abs(a[1] - b[1])) < cal.PAIR_APART:
                        continue
                    key = cal._loose_fit(window, near, style, half, 1, a, b)
                    if key is not None and (best is None or key > best[0]):
                        best = (key, style, a, b, half)
    if best is None:
        return None
    _, style, a, b, half = best
    if not cal._beats_single(window, style, half, 1, a, b):
        return None
    return style, a, b, half


def _reference_snap_to_cross(layer: np.ndarray, x: int, y: int) -> tuple[int, int] | None:
    """:func:`snap_to_cross` as first written: filter2D's sums for every arm."""
    height, width = layer.shape
    reach = cal.MAX_HALF + cal.SNAP_REACH + 2
    x0, y0 = max(0, x - reach), max(0, y - reach)
    window = layer[y0 : min(height, y + reach + 1), x0 : min(width, x + reach + 1)]
    if not window.any():
        return None
    cx, cy = x - x0, y - y0
    sy0, sx0 = max(0, cy - cal.SNAP_REACH), max(0, cx - cal.SNAP_REACH)
    around = (slice(sy0, cy + cal.SNAP_REACH + 1), slice(sx0, cx + cal.SNAP_REACH + 1))
    lit = window.astype(np.float32)
    near = cv2.dilate(window, cal._SQUARE3).astype(np.float32)
    best = None
    for style in ("+", "x"):
        for half in range(cal.SNAP_HALF, cal.MAX_HALF + 1):
            kernel, r = cal._cross_kernel(style, half, 1)
            count = float(kernel.sum())
            cover = cal._filtered(near, kernel, r)[around] / count
            if float(cover.max()) < cal.SNAP_NEAR:
                continue
            exact = cal._filtered(lit, kernel, r)[around] / count
            ys, xs = np.nonzero((cover >= cal.SNAP_NEAR) & (exact >= cal.SNAP_EXACT))
            for py, px in zip(ys.tolist(), xs.tolist(), strict=True):
                d = math.hypot(px + sx0 - cx, py + sy0 - cy)
                if d > cal.SNAP_REACH:
                    continue
                key = (round(float(exact[py, px]), 3), round(float(cover[py, px]), 3), count, -d)
                if best is None or key > best[0]:
                    best = (key, style, half, px + sx0, py + sy0)
    if best is None:
        return None
    _, style, half, bx, by = best
    box = (slice(max(0, by - half), by + half + 1), slice(max(0, bx - half), bx + half + 1))
    model = cross_pixels(window.shape, [(bx, by)], half, style)
    away = 1 - cv2.dilate(model, cal._SQUARE5)[box]
    if cv2.countNonZero(window[box] & away) > cal.SNAP_CLUTTER * cv2.countNonZero(away):
        return None
    return bx + x0, by + y0


def _drawn(rng: np.random.Generator, size: int = 2 * cal.PAIR_REACH + 1) -> np.ndarray:
    """A mark layer: one cross or two overlapping ones of one style (1-3 px strokes), some
    broken (pixels dropped), in speckle or beside a solid block."""
    layer = np.zeros((size, size), np.uint8)
    middle = size // 2
    style = "+" if rng.random() < 0.5 else "x"
    half = int(rng.integers(3, 11))
    stroke = int(rng.choice([1, 1, 1, 2, 3]))
    centres = [(middle + int(rng.integers(-2, 3)), middle + int(rng.integers(-2, 3)))]
    if rng.random() < 0.6:
        dx, dy = (int(v) for v in rng.integers(-8, 9, 2))
        if max(abs(dx), abs(dy)) < cal.PAIR_APART:
            dx = cal.PAIR_APART + abs(dx)
        centres.append((centres[0][0] + dx, centres[0][1] + dy))
    layer |= cross_pixels(layer.shape, centres, half, style, stroke)
    drop = rng.choice([0.0, 0.0, 0.03, 0.1])
    layer &= (rng.random(layer.shape) >= drop).astype(np.uint8)
    speckle = rng.choice([0.0, 0.0, 0.01, 0.05, 0.3])
    layer |= (rng.random(layer.shape) < speckle).astype(np.uint8)
    if rng.random() < 0.15:
        top, left = (int(v) for v in rng.integers(middle - 20, middle + 5, 2))
        layer[top : top + 15, left : left + 15] = 1
    return layer


def test_loose_pair_gives_what_the_plain_scan_gives():
    rng = np.random.default_rng(7)
    found = 0
    for _ in range(400):
        window = _drawn(rng)
        x, y = (window.shape[1] // 2 + int(v) for v in rng.integers(-3, 4, 2))
        expected = _reference_loose_pair(window, x, y)
        assert cal.loose_pair(window, x, y) == expected
        found += expected is not None
    assert found >= 20  # (the fits themselves were reached, not only the bounds)


def test_loose_pair_at_the_crops_edges_gives_what_the_plain_scan_gives():
    rng = np.random.default_rng(8)
    for _ in range(150):
        layer = _drawn(rng)
        # the window a point near the crop's corner or side gets: cut off there
        top, left = (int(v) for v in rng.integers(0, 25, 2))
        window = np.ascontiguousarray(layer[top:, left:])
        x, y = layer.shape[1] // 2 - left, layer.shape[0] // 2 - top
        assert cal.loose_pair(window, x, y) == _reference_loose_pair(window, x, y)


def test_snap_to_cross_gives_what_the_plain_scan_gives():
    rng = np.random.default_rng(9)
    moved = 0
    for _ in range(300):
        layer = _drawn(rng)
        middle = layer.shape[0] // 2
        x, y = (middle + int(v) for v in rng.integers(-5, 6, 2))
        if rng.random() < 0.2:  # a point near the layer's edge
            layer = np.ascontiguousarray(layer[middle - 12 :, middle - 12 :])
            x, y = x - middle + 12, y - middle + 12
        expected = _reference_snap_to_cross(layer, x, y)
        assert cal.snap_to_cross(layer, x, y) == expected
        moved += expected is not None
    assert moved >= 50


@pytest.mark.parametrize("style", ["+", "x"])
def test_cross_sums_are_filter2ds_whole_numbers(style):
    rng = np.random.default_rng(10)
    layer = (rng.random((40, 50)) < 0.3).astype(np.uint8)
    pad = cal.MAX_HALF + 1
    padded = cv2.copyMakeBorder(layer, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    sums = cal._cross_sums(padded[:, :, None], style, pad, pad, 40, 50)
    for half in range(1, cal.MAX_HALF + 1):
        kernel, r = cal._cross_kernel(style, half, 1)
        expected = np.rint(cal._filtered(layer.astype(np.float32), kernel, r))
        assert np.array_equal(sums[0, half - 1], expected), half


def test_the_white_layers_windows_are_the_whole_layers():
    rng = np.random.default_rng(11)
    grey = rng.integers(180, 256, (70, 90)).astype(np.uint8)
    coloured = (rng.random((70, 90)) < 0.2).astype(np.uint8)
    whole = ((grey >= cal.DIM_WHITE_LEVEL) & (coloured == 0)).astype(np.uint8)
    layer = cal._DimWhite(grey, coloured)
    assert layer.shape == whole.shape
    for rows, cols in ((slice(0, 30), slice(10, 75)), (slice(40, 70), slice(0, 90))):
        assert np.array_equal(layer[rows, cols], whole[rows, cols])
