"""Faster paths that must give the outputs of the code they replaced, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from cadbusi_assets.ultrasound.ocr import _percentiles


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e6])
def test_percentiles_of_floats_are_numpys(scale: float) -> None:
    # the fan's inner and outer radii (fov._sector_polygon) come from _percentiles of float
    # radii: the same floats as np.percentile, whatever the count
    rng = np.random.default_rng(7)
    for n in [*range(1, 40), 997, 60_001]:
        values = rng.uniform(0, 500, n) * scale
        expected = [float(q) for q in np.percentile(values, [0.2, 99.8])]
        assert _percentiles(values.copy(), 0.2, 99.8) == expected


# --- image analysis: each fast path against the straightforward code it replaced ---------


def _random_colour_frame(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Grey speckle with coloured blobs, thin coloured strokes and faint tints."""
    import cv2

    grey = rng.integers(0, 256, (height, width), dtype=np.uint8)
    frame = np.repeat(grey[..., None], 3, axis=2)
    for _ in range(int(rng.integers(0, 12))):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            axes = (int(rng.integers(1, 40)), int(rng.integers(1, 40)))
            cv2.ellipse(frame, (x, y), axes, 0, 0, 360, colour, -1)
        else:
            end = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            cv2.line(frame, (x, y), end, colour, int(rng.integers(1, 4)))
    tint = rng.integers(-45, 46, frame.shape)
    faint = rng.random((height, width)) < 0.2
    frame[faint] = np.clip(frame[faint].astype(int) + tint[faint], 0, 255).astype(np.uint8)
    return frame


def _colour_share_reference(
    frame: np.ndarray, box: tuple[int, int, int, int], fov_mask: np.ndarray | None
) -> float:
    """doppler.colour_share as it was written before its OpenCV thresholds and counts."""
    import cv2

    from cadbusi_assets.ultrasound.doppler import FLOW_CHROMA
    from cadbusi_assets.ultrasound.overlay import chroma

    x0, y0, x1, y1 = box
    crop_chroma = chroma(frame[y0 : y1 + 1, x0 : x1 + 1])
    if crop_chroma.size == 0:
        return 0.0
    coloured = (crop_chroma >= FLOW_CHROMA).astype(np.uint8)
    if cv2.countNonZero(coloured) == 0:
        return 0.0
    half = (max(1, coloured.shape[1] // 2), max(1, coloured.shape[0] // 2))
    coloured = (
        cv2.resize(coloured * np.uint8(255), half, interpolation=cv2.INTER_AREA) >= 128
    ).astype(np.uint8)
    solid: np.ndarray = cv2.morphologyEx(
        coloured, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
    )
    if fov_mask is not None:
        inside: np.ndarray = fov_mask[y0 : y1 + 1, x0 : x1 + 1].astype(np.uint8)
        inside = cv2.resize(
            inside, (solid.shape[1], solid.shape[0]), interpolation=cv2.INTER_NEAREST
        )
        solid &= inside
        area = max(1, int(inside.sum()))
    else:
        area = solid.size
    return float(solid.sum()) / area


def test_colour_share_is_the_straightforward_share() -> None:
    import cv2

    from cadbusi_assets.ultrasound.doppler import colour_share
    from cadbusi_assets.ultrasound.overlay import ColourMaps

    rng = np.random.default_rng(11)
    checked = 0
    for trial in range(120):
        height, width = int(rng.integers(1, 90)), int(rng.integers(1, 90))
        frame = _random_colour_frame(rng, height, width)
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        box = (x0, y0, int(rng.integers(x0, width)), int(rng.integers(y0, height)))
        polygon = rng.integers(0, max(height, width), (5, 2)).astype(np.int32)
        mask01 = cv2.fillPoly(np.zeros((height, width), np.uint8), [polygon], 1)
        masks = [None, mask01.view(bool), mask01, mask01 * np.uint8(255), mask01 * np.uint8(3)]
        for fov_mask in masks:
            expected = _colour_share_reference(frame, box, fov_mask)
            maps = ColourMaps.of(frame) if trial % 2 else None
            assert colour_share(frame, box, fov_mask, maps) == expected, (trial, fov_mask)
            checked += expected > 0
    assert checked > 50  # the coloured cases, not only the empty ones


def test_line_samples_of_many_segments_are_each_segments() -> None:
    from cadbusi_assets.ultrasound.inpaint import _line_samples, _line_samples_many

    rng = np.random.default_rng(5)
    for _ in range(60):
        height, width = int(rng.integers(30, 900)), int(rng.integers(30, 900))
        n = int(rng.integers(0, 12))
        points = [(int(rng.integers(0, width)), int(rng.integers(0, height))) for _ in range(n)]
        ends = [(p, q) for i, p in enumerate(points) for q in points[i + 1 :]]
        ends += [((5, 5), (5 + int(d), 9)) for d in rng.integers(15, 30, 4)]  # near the 24 px limit
        many = _line_samples_many(ends, (height, width, 3))
        assert len(many) == len(ends)
        for (p, q), got in zip(ends, many, strict=True):
            expected = _line_samples(p, q, (height, width, 3))
            if expected is None:
                assert got is None
                continue
            assert got is not None
            for a, b in zip(got, expected, strict=True):
                assert a.dtype == b.dtype and np.array_equal(a, b)


def test_overlay_at_read_off_the_colour_maps_is_the_overlay_at_the_pixels() -> None:
    import cv2

    from cadbusi_assets.ultrasound.inpaint import _overlay_at
    from cadbusi_assets.ultrasound.overlay import ColourMaps

    rng = np.random.default_rng(3)
    lit = 0
    for _ in range(40):
        height, width = int(rng.integers(20, 160)), int(rng.integers(20, 160))
        frame = _random_colour_frame(rng, height, width)
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        n = int(rng.integers(1, 3000))
        xs, ys = rng.integers(0, width, n), rng.integers(0, height, n)
        colours = rng.uniform(0, 255, (n, 3))
        colours[rng.random(n) < 0.4] = np.nan
        for given in (None, colours):
            expected = _overlay_at(frame, grey, xs, ys, given)
            got = _overlay_at(frame, grey, xs, ys, given, ColourMaps.of(frame))
            assert got.dtype == expected.dtype and np.array_equal(got, expected)
            lit += int(expected.sum())
    assert lit > 1000


def test_grown_lines_read_off_the_colour_maps_are_the_grown_lines() -> None:
    import cv2

    from cadbusi_assets.ultrasound.inpaint import _grown_lines, _line_samples
    from cadbusi_assets.ultrasound.overlay import ColourMaps

    rng = np.random.default_rng(8)
    grown = 0
    for _ in range(40):
        height, width = int(rng.integers(40, 200)), int(rng.integers(40, 200))
        frame = _random_colour_frame(rng, height, width)
        frame[rng.random((height, width)) < 0.3] = 255  # saturated dots to grow into
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        fill = rng.random((height, width)) < 0.1
        lines = []
        for _ in range(int(rng.integers(1, 4))):
            p = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            q = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            samples = _line_samples(p, q, frame.shape)
            if samples is None:
                continue
            line = rng.random(len(samples[0])) < 0.5
            colour = np.full(3, np.nan) if rng.random() < 0.5 else rng.uniform(0, 255, 3)
            lines.append((samples, line, colour))
        expected = _grown_lines(frame, grey, fill, lines)
        got = _grown_lines(frame, grey, fill, lines, ColourMaps.of(frame))
        assert len(got) == len(expected)
        for (gx, gy), (ex, ey) in zip(got, expected, strict=True):
            assert np.array_equal(gx, ex) and np.array_equal(gy, ey)
            grown += len(ex)
    assert grown > 100


def _off_level_reference(
    grey: np.ndarray, drawn: np.ndarray, graphics: np.ndarray, reference: np.ndarray
) -> np.ndarray:
    """inpaint._off_level as it was written before it looked at the drawn pixels only."""
    from cadbusi_assets.ultrasound.inpaint import LEVEL_REACH, LUMA_TOLERANCE

    grey16 = grey.astype(np.int16)
    off = drawn & (np.abs(grey16 - reference) > LUMA_TOLERANCE)
    oy, ox = np.nonzero(off)
    if oy.size:
        offsets = np.arange(-LEVEL_REACH, LEVEL_REACH + 1)
        wy = np.clip(oy[:, None] + offsets, 0, grey.shape[0] - 1)[:, :, None]
        wx = np.clip(ox[:, None] + offsets, 0, grey.shape[1] - 1)[:, None, :]
        free = ~graphics[wy, wx]
        around = (grey16[wy, wx] * free).sum(axis=(1, 2)) / np.maximum(free.sum(axis=(1, 2)), 1)
        level = grey16[oy, ox]
        image = free.any(axis=(1, 2)) & (np.abs(level - around) < np.abs(level - reference[oy, ox]))
        off[oy[~image], ox[~image]] = False
    return off


def test_off_level_of_the_drawn_pixels_is_the_whole_regions() -> None:
    from cadbusi_assets.ultrasound.inpaint import _off_level

    rng = np.random.default_rng(21)
    found = 0
    for _ in range(80):
        height, width = int(rng.integers(1, 70)), int(rng.integers(1, 70))
        grey = rng.integers(0, 256, (height, width)).astype(np.uint8)
        drawn = rng.random((height, width)) < rng.uniform(0, 0.6)
        graphics = drawn | (rng.random((height, width)) < rng.uniform(0, 0.6))
        labels = rng.integers(0, 9, (height, width)).astype(np.uint16)
        per_label = rng.integers(0, 256, 9).astype(np.int16)
        reference = per_label[labels]
        expected = _off_level_reference(grey, drawn, graphics, reference)
        for got in (
            _off_level(grey, drawn, graphics, reference),
            _off_level(grey, drawn, graphics, per_label, labels),
        ):
            assert got.dtype == expected.dtype and np.array_equal(got, expected)
        found += int(expected.sum())
    assert found > 500
