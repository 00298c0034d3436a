"""Faster paths that must give the outputs of the code they replaced, bit for bit."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cadbusi_assets.ultrasound.analysis import _colour_maps
from cadbusi_assets.ultrasound.calipers import (
    _CENTRE,
    _CROSS5,
    _DIRECTION_STEPS,
    ARM,
    ARROW_BLACK_LEVEL,
    ARROW_BLACK_SHARE,
    ARROW_RING_LEVEL,
    ARROW_RING_LOOSE,
    ARROW_RING_SHARE,
    DIM_WHITE_LEVEL,
    HOLLOW_BAR_LEVEL,
    HOLLOW_LEVEL,
    SMALL_QUADRANT_LIT,
    TIP_BLOB,
    WHITE_MARK_LEVEL,
    _arm_runs_many,
    _arrow_context,
    _coloured_components,
    _components,
    _holes,
    _hollow_filled,
    _hollow_outlined,
    _kept_strokes_lit,
    _Mark,
    _near_any,
    _outlined_bars,
    _sparse_centres,
    _strokes_lit,
    _white_parts,
    _whole_median,
    colour_scales,
    hollow_marks,
    search_box,
    smeared_marks,
    thick_arrow_tips,
    white_strokes,
)
from cadbusi_assets.ultrasound.fov import FAN_RADII_ALL, _fan_radii
from cadbusi_assets.ultrasound.ocr import _percentiles
from cadbusi_assets.ultrasound.overlay import CHROMA_LEVEL, ColourMaps
from cadbusi_demo.screens_heldout import HOLLOW, TUNING_FAMILIES, HollowStyle, render_screen


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


def _hollow_levels() -> list[np.ndarray]:
    """Brightest-channel crops with and without hollow '+' marks: filled ones of each bar
    width (some with their lying bars only, or their upright ones only), outline ones, solid
    crosses and bars on speckle, and generator frames drawn in the hollow style."""
    rng = np.random.default_rng(11)
    styles = [
        HollowStyle("filled", width=3, length=5, gap=2),
        HollowStyle("filled", width=1, length=6, gap=3),
        HollowStyle("filled", width=5, length=8, gap=3),
        HollowStyle("outline", width=5, length=9),
        HollowStyle("outline", width=3, length=7, dark_inside=True),
    ]
    levels = []
    for k in range(40):
        level = rng.integers(20, 120, (120, 160)).astype(np.uint8)
        level[rng.random(level.shape) < 0.02] = 255  # bright speckle
        for _ in range(rng.integers(0, 4)):
            style = styles[rng.integers(len(styles))]
            light, dark = style.glyph()
            r = style.half
            x, y = rng.integers(r + 2, 160 - r - 2), rng.integers(r + 2, 120 - r - 2)
            keep = rng.random() < 0.8
            if k % 5 == 1:  # the upright arms only
                light[:, : r - 1] = light[:, r + 2 :] = False
            elif k % 5 == 2:  # the lying ones only
                light[: r - 1] = light[r + 2 :] = False
            window = level[y - r : y + r + 1, x - r : x + r + 1]
            window[dark] = 0
            window[light] = 255 if keep else 170
        if k % 4 == 3:  # a solid '+' and lone bars
            level[60, 20:41] = level[50:71, 30] = 255
            level[10:16, 100:103] = 255
            level[30:36, 100:103] = 255
        levels.append(level)
    for family in TUNING_FAMILIES:
        for seed in (100, 108):
            frame = render_screen(family, seed, caliper_style=HOLLOW).frame
            levels.append(ColourMaps.of(frame).high if frame.ndim == 3 else frame)
    return levels


def test_hollow_marks_look_for_lying_bars_only_beside_a_pair_of_upright_ones() -> None:
    # hollow_marks computes the lying bars only where a pair of upright ones faces across a
    # gap: the marks of every bar, as _hollow_filled found them on all of them
    filled = 0
    for level in _hollow_levels():
        found: list[_Mark] = []
        for threshold in (HOLLOW_LEVEL, HOLLOW_BAR_LEVEL):
            light = cv2.threshold(level, threshold - 1, 1, cv2.THRESH_BINARY)[1]
            found += [m for m in _hollow_outlined(light) if not _near_any(m, found)]
        bars = _hollow_filled(_outlined_bars(level), level)
        filled += len(bars)
        assert hollow_marks(level) == found + [m for m in bars if not _near_any(m, found)]
    assert filled >= 20  # the inputs hold filled marks


@pytest.mark.parametrize("arm", [3, 4, 5])
def test_strokes_lit_around_the_kept_pixels_is_the_full_crops(arm: int) -> None:
    # _score tests its kept pixels for lit strokes (_strokes_lit) only in the box around them
    # grown by the longer stroke's half: the same pixels pass as on the whole crop, kept
    # pixels at the crop's edges, in a corner or in a small cluster among them
    rng = np.random.default_rng(arm)
    passed = 0
    for k in range(60):
        height, width = rng.integers(20, 90, 2)
        lit = (rng.random((height, width)) < rng.uniform(0.3, 0.95)).astype(np.uint8)
        for _ in range(rng.integers(0, 4)):  # long lines and crosses
            y, x = rng.integers(0, height), rng.integers(0, width)
            lit[y, max(0, x - 8) : x + 9] = 1
            lit[max(0, y - 8) : y + 9, x] = 1
        keep = lit & (rng.random(lit.shape) < rng.uniform(0.01, 0.5)).astype(np.uint8)
        if k % 3 == 1:  # a small cluster of kept pixels
            y, x = rng.integers(0, height - 3), rng.integers(0, width - 3)
            cluster = np.zeros_like(keep)
            cluster[y : y + 3, x : x + 3] = keep[y : y + 3, x : x + 3]
            keep = cluster
        candidates = lit * np.uint8(1 if k % 2 else 255)
        expected = cv2.bitwise_and(keep, _strokes_lit(candidates, arm))
        passed += cv2.countNonZero(expected)
        assert np.array_equal(_kept_strokes_lit(candidates, keep.copy(), arm), expected)
    assert passed > 0


def _tips_on_the_whole_crop(
    grey: np.ndarray, coloured: np.ndarray, white: np.ndarray
) -> np.ndarray:
    """thick_arrow_tips as it was: the blobs' components on the whole crop."""
    tips = np.zeros_like(white)
    full = ((grey >= WHITE_MARK_LEVEL) & (coloured == 0)).astype(np.uint8)
    blobs = cv2.subtract(full, white)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(blobs, connectivity=8)
    near = cv2.bitwise_and(cv2.dilate(white, np.ones((3, 3), np.uint8)), blobs) > 0
    for label in range(1, count):
        if stats[label, 4] <= TIP_BLOB and near[labels == label].any():
            tips[labels == label] = 1
    return tips


def test_thick_arrow_tips_from_the_box_around_the_strokes_are_the_whole_crops() -> None:
    # thick_arrow_tips labels the saturated blobs only in the box around the pixels where
    # they touch the strokes, grown by TIP_BLOB: the same tips as on the whole crop, for
    # blobs of up to TIP_BLOB px and larger ones reaching out of that box (thin lines that
    # are not strokes too: any ``white`` is taken)
    rng = np.random.default_rng(5)
    tipped = 0
    for k in range(60):
        height, width = rng.integers(60, 260, 2)
        grey = rng.integers(0, 200, (height, width)).astype(np.uint8)
        coloured = (rng.random((height, width)) < 0.01).astype(np.uint8) * (k % 2)
        strokes = np.zeros((height, width), np.uint8)
        for _ in range(rng.integers(1, 6)):  # strokes with blobs and lines at their ends
            x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
            length = int(rng.integers(5, 40))
            end = (x + length, y) if rng.random() < 0.5 else (x, y + length)
            cv2.line(strokes, (x, y), end, 1, 1)
            if rng.random() < 0.5:  # a blob: a tip of up to about TIP_BLOB px, or more
                cv2.circle(grey, end, int(rng.integers(2, 7)), 255, -1)
            else:  # a line of saturated pixels, some far longer than TIP_BLOB px
                reach = int(rng.integers(5, 150))
                cv2.line(grey, end, (end[0] + reach // 3, end[1] + reach), 255, int(k % 3 == 0) + 1)
        grey[strokes > 0] = 255
        white = strokes if k % 4 else white_strokes(grey, coloured)
        expected = _tips_on_the_whole_crop(grey, coloured, white)
        tipped += cv2.countNonZero(expected)
        assert np.array_equal(thick_arrow_tips(grey, coloured, white), expected)
    assert tipped > 0


@pytest.mark.parametrize("half", [1, 2, 3])
def test_sparse_centres_counted_around_the_centres_are_the_whole_crops(half: int) -> None:
    # small_white_crosses counts the bright pixels around its centres (_sparse_centres) only
    # in the box around them grown by the square's half: the same centres as counting on the
    # whole crop, centres at the crop's edges and in small clusters among them
    rng = np.random.default_rng(half)
    side = 2 * half + 1
    found = 0
    for k in range(60):
        height, width = rng.integers(8, 80, 2)
        bright = (rng.random((height, width)) < rng.uniform(0.05, 0.7)).astype(np.uint8)
        centres = bright & (rng.random(bright.shape) < 0.2).astype(np.uint8)
        if k % 3 == 1:  # a small cluster
            y, x = rng.integers(0, height - 2), rng.integers(0, width - 2)
            cluster = np.zeros_like(centres)
            cluster[y : y + 2, x : x + 2] = centres[y : y + 2, x : x + 2]
            centres = cluster
        padded = np.pad(bright, half).astype(np.int64)
        count = sum(
            padded[dy : dy + height, dx : dx + width] for dy in range(side) for dx in range(side)
        )
        ys, xs = np.nonzero(centres & (count <= 9 + SMALL_QUADRANT_LIT))
        got = _sparse_centres(bright, centres, half)
        got_xy = set() if got is None else {(int(x), int(y)) for x, y in got}
        assert got_xy == {(int(x), int(y)) for x, y in zip(xs, ys, strict=True)}
        found += len(ys)
    assert found > 0


def test_the_coloured_components_shared_give_the_scales_and_smeared_marks_of_their_own() -> None:
    # detect_calipers labels the coloured pixels once (_coloured_components) for the smeared
    # marks and the colour scales: the same marks and scale boxes as each labelling its own
    # (bars and blobs anywhere in the crop, at its edges too; generator frames)
    rng = np.random.default_rng(3)
    inputs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for _ in range(30):
        height, width = (int(v) for v in rng.integers(40, 200, 2))
        coloured = np.zeros((height, width), np.uint8)
        for _ in range(rng.integers(1, 6)):
            x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
            w, h = int(rng.integers(7, 30)), int(rng.integers(7, 50))
            if rng.random() < 0.5:
                coloured[y : y + h, x : x + w] = 1  # a bar (a scale when in range)
            else:
                cv2.circle(coloured, (x, y), int(rng.integers(2, 6)), 1, -1)  # a smeared blob
        level = np.where(coloured > 0, rng.integers(150, 256, coloured.shape), 40).astype(np.uint8)
        grey = rng.integers(20, 120, coloured.shape).astype(np.uint8)
        for _ in range(rng.integers(0, 4)):  # bright '+' strokes through the blobs
            x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
            level[y, max(0, x - 4) : x + 5] = level[max(0, y - 4) : y + 5, x] = 255
        inputs.append((coloured, level, grey))
    for family in TUNING_FAMILIES:
        for seed in (100, 101, 102):
            frame = render_screen(family, seed).frame
            if frame.ndim == 3:
                maps = ColourMaps.of(frame)
                coloured = (maps.chroma >= CHROMA_LEVEL).astype(np.uint8)
                inputs.append((coloured, maps.high, cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)))
    scales = smeared = 0
    for coloured, level, grey in inputs:
        parts = _coloured_components(coloured)
        if parts is None:  # (no coloured pixel: nothing to share)
            assert colour_scales(coloured) == smeared_marks(coloured, level, grey, []) == []
            continue
        own = colour_scales(coloured)
        assert sorted(colour_scales(coloured, parts)) == sorted(own)
        marks = smeared_marks(coloured, level, grey, [])
        assert smeared_marks(coloured, level, grey, [], parts) == marks
        scales, smeared = scales + len(own), smeared + len(marks)
    assert scales > 0 and smeared > 0


def test_whole_median_is_numpys_truncated() -> None:
    # _fit_centres takes a mark's half-size as the median of its four strict arm runs,
    # truncated: the same as np.median's, odd and even sums of the middle two alike
    rng = np.random.default_rng(2)
    for high in (2, 5, 17, 1000):
        runs = rng.integers(0, high, (500, 4))
        expected = np.median(runs, axis=1).astype(np.intp)
        assert np.array_equal(_whole_median(runs), expected)
    assert _whole_median(np.zeros((0, 4), np.intp)).shape == (0,)


def test_holes_are_the_unlit_pixels_a_flood_from_the_border_leaves() -> None:
    # _hollow_outlined's insides (_holes): the unlit pixels that a 4-connected flood from a
    # ring of unlit pixels around the crop does not reach, as a zero-padded copy gives them
    rng = np.random.default_rng(4)
    holes = 0
    for _ in range(60):
        height, width = (int(v) for v in rng.integers(1, 60, 2))
        light = (rng.random((height, width)) < rng.uniform(0.2, 0.7)).astype(np.uint8)
        for _ in range(rng.integers(0, 3)):  # rings: insides the border cannot reach
            x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
            cv2.rectangle(light, (x, y), (x + int(rng.integers(2, 12)), y + 8), 1, 1)
        padded = np.zeros((height + 2, width + 2), np.uint8)
        padded[1:-1, 1:-1] = light
        cv2.floodFill(padded, None, (0, 0), 1, flags=4)
        expected = (padded[1:-1, 1:-1] == 0).astype(np.uint8)
        got = _holes(light)
        assert got.dtype == np.uint8 and got.flags.c_contiguous
        assert np.array_equal(got, expected)
        holes += int(expected.sum())
    assert holes > 0


def _arrow_context_reference(
    layer: np.ndarray,
    labels: np.ndarray,
    stats: np.ndarray,
    grey: np.ndarray,
    loose_black: float,
) -> tuple[np.ndarray, np.ndarray]:
    """_arrow_context as first written: on the whole layer, the ring picked by a boolean
    mask, its owner the largest label of its 3x3 (numpy's maximum over the shifted views)."""
    count = len(stats)
    height, width = layer.shape
    lit = np.pad(layer, 1)
    grown = np.pad(labels.astype(np.int64), 1)
    near_lit = np.zeros(layer.shape, bool)
    owner = np.zeros(layer.shape, np.int64)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            near_lit |= lit[dy : dy + height, dx : dx + width] > 0
            owner = np.maximum(owner, grown[dy : dy + height, dx : dx + width])
    ring = near_lit & (layer == 0)
    levels = grey[ring].astype(np.int64)
    around = np.bincount(owner[ring], minlength=count)
    bright = np.bincount(owner[ring], weights=levels >= ARROW_RING_LEVEL, minlength=count)
    black = np.bincount(owner[ring], weights=levels <= ARROW_BLACK_LEVEL, minlength=count)
    strict = (bright <= ARROW_RING_SHARE * around) & (black <= ARROW_BLACK_SHARE * around)
    loose = (bright <= ARROW_RING_LOOSE * around) & (black <= loose_black * around)
    return strict, loose


def test_arrow_context_of_the_ring_found_once_is_the_boolean_masks() -> None:
    # _arrow_context finds the ring's pixels once (findNonZero) and reads the owners and
    # levels there: per chosen component, the verdicts of the ring taken by a boolean mask
    # on the whole layer (16- and 32-bit labels, components at the edges, none chosen but
    # one, components without a ring, both black shares)
    rng = np.random.default_rng(8)
    verdicts = set()
    for k in range(50):
        height, width = (int(v) for v in rng.integers(5, 120, 2))
        if k == 0:  # more lit pixels than 16-bit labels hold
            height, width = 300, 300
        layer = (rng.random((height, width)) < rng.uniform(0.05, 0.9)).astype(np.uint8)
        if k == 1:
            layer[:] = 1  # one component, no ring
        for _ in range(rng.integers(0, 4)):  # strokes and arrows' shafts
            x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
            cv2.line(layer, (x, y), (x + int(rng.integers(-20, 20)), y + 9), 1, 1)
        grey = rng.integers(0, 256, (height, width)).astype(np.uint8)
        grey[rng.random(grey.shape) < 0.3] = 0
        count, labels, stats = _components(layer)
        if count < 2:
            continue
        which = rng.random(count) < rng.uniform(0.05, 1.0)
        which[0] = False
        if not which.any() or k % 7 == 2:
            which[:] = False
            which[int(rng.integers(1, count))] = True
        loose_black = ARROW_BLACK_SHARE if k % 2 else 0.1
        got = _arrow_context(layer, labels, stats, grey, which, loose_black)
        expected = _arrow_context_reference(layer, labels, stats, grey, loose_black)
        for g, e in zip(got, expected, strict=True):
            assert np.array_equal(g[which], e[which])
            verdicts |= set(e[which].tolist())
    assert verdicts == {True, False}


def test_white_parts_are_the_strokes_and_the_blobs_of_their_threshold() -> None:
    # detect_calipers thresholds and opens the white pixels once (_white_parts) for the
    # strokes and the thick arrows' blobs: the strokes of white_strokes as it was, the blobs
    # the rest of the level's uncoloured pixels, and thick_arrow_tips given them the same
    # tips as finding them itself (both openings, both levels, frames without white)
    rng = np.random.default_rng(6)
    tipped = 0
    for k in range(40):
        height, width = (int(v) for v in rng.integers(20, 160, 2))
        grey = rng.integers(0, 200, (height, width)).astype(np.uint8)
        coloured = (rng.random((height, width)) < 0.05).astype(np.uint8) * (k % 3 != 0)
        if k % 10 != 9:
            for _ in range(rng.integers(1, 6)):  # strokes, blobs and saturated speckle
                x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
                end = (x + int(rng.integers(-30, 30)), y + int(rng.integers(-30, 30)))
                cv2.line(grey, (x, y), end, 255, int(rng.integers(1, 4)))
                cv2.circle(grey, end, int(rng.integers(1, 7)), 250, -1)
        for crossings in (False, True):
            for level in (WHITE_MARK_LEVEL, DIM_WHITE_LEVEL):
                strokes, blobs = _white_parts(grey, coloured, crossings=crossings, level=level)
                full = ((grey >= level) & (coloured == 0)).astype(np.uint8)
                opening = cv2.morphologyEx(
                    full,
                    cv2.MORPH_OPEN,
                    cv2.getStructuringElement(
                        cv2.MORPH_RECT if crossings else cv2.MORPH_ELLIPSE, (5, 5)
                    ),
                )
                assert np.array_equal(strokes, full & (1 - opening))
                assert np.array_equal(blobs, cv2.subtract(full, strokes))
                assert np.array_equal(
                    white_strokes(grey, coloured, crossings=crossings, level=level), strokes
                )
        white, blobs = _white_parts(grey, coloured, crossings=True)
        expected = thick_arrow_tips(grey, coloured, white)
        assert np.array_equal(thick_arrow_tips(grey, coloured, white, blobs), expected)
        tipped += cv2.countNonZero(expected)
    assert tipped > 0


def test_fan_radii_from_the_rows_holding_the_ranks_are_every_pixels_percentiles() -> None:
    # fov._sector_polygon takes the fan's inner and outer radii from the rows that can hold
    # the 0.2 and 99.8 percentile ranks only (_fan_radii): the floats of _percentiles of
    # every lit pixel's radius, for fans and other shapes, apexes above, inside, below and
    # beside the rows, small components (all pixels) and large ones
    rng = np.random.default_rng(12)
    banded = 0
    for k in range(80):
        height, width = (int(v) for v in rng.integers(20, 400, 2))
        component = np.zeros((height, width), np.uint8)
        apex = (float(rng.uniform(-width, 2 * width)), float(rng.uniform(-height, 2 * height)))
        if k % 4 == 0:  # a fan from an apex above the rows
            apex = (width / 2 + float(rng.normal(0, 5)), float(rng.uniform(-200, 5)))
            outer = float(rng.uniform(height / 2, height + 200))
            cv2.ellipse(
                component,
                (round(apex[0]), round(apex[1])),
                (round(outer), round(outer)),
                90,
                -float(rng.uniform(10, 50)),
                float(rng.uniform(10, 50)),
                1,
                -1,
            )
            cv2.circle(component, (round(apex[0]), round(apex[1])), int(outer * 0.2), 0, -1)
        elif k % 4 == 1:  # speckle
            component[:] = rng.random((height, width)) < rng.uniform(0.01, 0.9)
        elif k % 4 == 2:  # blobs
            for _ in range(rng.integers(1, 6)):
                centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
                cv2.circle(component, centre, int(rng.integers(1, 80)), 1, -1)
        else:  # a few rows only
            rows = rng.integers(0, height, int(rng.integers(1, 4)))
            component[rows, int(rng.integers(0, width // 2)) :] = 1
        if not component.any():
            continue
        points = cv2.findNonZero(component).reshape(-1, 2)
        radius = np.hypot(points[:, 0] - apex[0], points[:, 1] - apex[1])
        expected = _percentiles(radius, 0.2, 99.8)
        counts = cv2.reduce(component, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel()
        assert list(_fan_radii(component, counts, *apex)) == expected
        banded += len(radius) >= FAN_RADII_ALL
    assert banded >= 20


def _arm_runs_reference(
    grid: np.ndarray,
    value: int | None,
    x: int,
    y: int,
    directions: np.ndarray,
    limit: int,
    strict: bool,
) -> list[int]:
    """A centre's four runs as :func:`~.calipers.arm_runs` defines them, a step at a time: a
    step is lit when it or (not ``strict``) a 4-neighbour is non-zero (``value`` None) or
    ``value``; a run is the farthest lit step, bridging single unlit steps, none past the
    grid's edge."""
    height, width = grid.shape

    def on(py: int, px: int) -> bool:
        if not (0 <= py < height and 0 <= px < width):
            return False
        return bool(grid[py, px] != 0 if value is None else grid[py, px] == value)

    runs = []
    for dy, dx in directions.tolist():
        run, gap = 0, 0
        for step in range(1, limit + 1):
            py, px = y + dy * step, x + dx * step
            inside = 0 <= py < height and 0 <= px < width  # (its neighbours do not count)
            near = _CENTRE if strict else _CROSS5
            if inside and any(on(py + oy, px + ox) for oy, ox in near):
                run, gap = step, 0
            else:
                gap += 1
                if gap > 1:
                    break
        runs.append(run)
    return runs


@pytest.mark.parametrize("labelled", [False, True])
def test_arm_runs_of_many_centres_are_each_centres_steps(labelled: bool) -> None:
    # _arm_runs_many (the runs as step bits; the grid's edge looked at only where a centre is
    # that near) against the definition, a step at a time: many centres, mixed styles, label
    # grids, centres near and far from the edges
    rng = np.random.default_rng(41)
    checked = 0
    for _ in range(30):
        height, width = (int(v) for v in rng.integers(1, 90, 2))
        if labelled:
            grid = rng.integers(0, 4, (height, width)).astype(np.uint16)
        else:
            grid = (rng.random((height, width)) < rng.uniform(0.2, 0.95)).astype(np.uint8)
        count = int(rng.integers(1, 40))
        xs, ys = rng.integers(0, width, count), rng.integers(0, height, count)
        values = rng.integers(1, 4, count).astype(np.uint16) if labelled else None
        plus = rng.random(count) < 0.5
        directions = np.where(plus[:, None, None], _DIRECTION_STEPS["+"], _DIRECTION_STEPS["x"])
        for limit in (1, 3, 16, 40, 70):  # (70: more steps than an integer's bits)
            for strict in (False, True):
                for far in (False, True):
                    at = np.arange(count)
                    if far:  # only centres at least limit px from every edge
                        at = at[
                            (xs >= limit)
                            & (ys >= limit)
                            & (xs < width - limit)
                            & (ys < height - limit)
                        ]
                    runs = _arm_runs_many(
                        grid,
                        None if values is None else values[at],
                        xs[at],
                        ys[at],
                        directions[at],
                        limit,
                        strict,
                    )
                    assert runs.dtype == np.intp and runs.shape == (len(at), 4)
                    for row, k in zip(runs, at, strict=True):
                        value = None if values is None else int(values[k])
                        expected = _arm_runs_reference(
                            grid, value, int(xs[k]), int(ys[k]), directions[k], limit, strict
                        )
                        assert row.tolist() == expected, (height, width, k, limit, strict)
                        checked += 1
    assert checked > 2000


def test_colour_maps_inside_the_search_box_are_the_whole_frames() -> None:
    # analyze_frame's maps are computed inside the caliper search's box only (every reader
    # but the text-line search looks inside it) and the rest of the frame only until a
    # coloured pixel shows: the same values in the box, the same grey-or-not verdict, also
    # for a frame coloured only outside the box, at any edge, and for a grey RGB frame
    rng = np.random.default_rng(43)
    verdicts = set()
    for k in range(60):
        height, width = (int(v) for v in rng.integers(1, 70, 2))
        grey = rng.integers(0, 256, (height, width), dtype=np.uint8)
        frame = np.repeat(grey[..., None], 3, axis=2)
        x0, x1 = sorted(int(v) for v in rng.integers(0, width, 2))
        y0, y1 = sorted(int(v) for v in rng.integers(0, height, 2))
        if k % 3 == 1:  # one coloured pixel anywhere (often outside the box)
            py, px = int(rng.integers(0, height)), int(rng.integers(0, width))
            frame[py, px, int(rng.integers(0, 3))] ^= np.uint8(int(rng.integers(1, 256)))
        elif k % 3 == 2:  # colour everywhere
            frame = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        whole = ColourMaps.of(frame)
        maps, is_grey = _colour_maps(frame, (x0, y0, x1, y1))
        assert is_grey == (cv2.countNonZero(whole.chroma) == 0)
        assert maps is not None
        inside = (slice(y0, y1 + 1), slice(x0, x1 + 1))
        assert np.array_equal(maps.chroma[inside], whole.chroma[inside])
        assert np.array_equal(maps.high[inside], whole.high[inside])
        whole_maps, whole_grey = _colour_maps(frame, None)
        assert whole_grey == is_grey and whole_maps is not None
        assert np.array_equal(whole_maps.chroma, whole.chroma)
        verdicts.add(is_grey)
    assert verdicts == {True, False}
    assert _colour_maps(np.zeros((5, 6), np.uint8), (0, 0, 5, 4)) == (None, True)


def test_the_caliper_search_box_is_the_box_grown_by_the_arm_within_the_frame() -> None:
    assert search_box((10, 20, 30, 40), (100, 200, 3)) == (
        10 - ARM - 3,
        20 - ARM - 3,
        30 + ARM + 3,
        40 + ARM + 3,
    )
    assert search_box((0, 1, 199, 98), (100, 200), arm=5) == (0, 0, 199, 99)
