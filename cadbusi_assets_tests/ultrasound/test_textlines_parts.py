"""Parts of the shared text detector made cheaper: each against the plain computation it
replaces (the blobs inside a box, ink runs per row, chains of glyphs linked pair by pair,
the strokes' distance on a crop, the verdicts taken before text_like), and bright bars too
narrow for a word left out of strip reading."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cadbusi_assets.ultrasound import textlines
from cadbusi_assets.ultrasound.textlines import (
    MAX_STROKE,
    MIN_AREA_WIDTH,
    MIN_STROKE_PX,
    MIN_TEXT_HEIGHT,
    TEXTURE_STROKE,
    FrameInk,
    brightness,
    find_text,
    stroke_contrast,
    text_ink,
)
from cadbusi_assets_tests.ultrasound.textline_links import chain_links, links_pair_by_pair
from cadbusi_demo.screens_heldout import TUNING_FAMILIES, render_screen

#: The benchmark and the tuning used other seeds.
SEED = 91


def _frame_ink(family: str) -> FrameInk:
    level = brightness(render_screen(family, SEED).frame)
    return FrameInk.of(level, stroke_contrast(level))


def _random_boxes(rng: np.random.Generator, shape: tuple[int, ...], count: int) -> list:
    rows, cols = shape[:2]
    boxes = []
    for _ in range(count):
        height = int(rng.integers(4, 120))
        width = int(rng.integers(4, 700))
        x0, y0 = int(rng.integers(0, cols - 4)), int(rng.integers(0, rows - 4))
        boxes.append((x0, y0, min(cols - 1, x0 + width), min(rows - 1, y0 + height)))
    return boxes


@pytest.mark.parametrize("family", TUNING_FAMILIES[:2])
def test_blobs_inside_are_the_glyph_tall_blobs_wholly_inside(family):
    frame_ink = _frame_ink(family)
    x, y, w, h = (frame_ink.stats[:, k] for k in range(4))
    rng = np.random.default_rng(5)
    found_any = 0
    for box in _random_boxes(rng, frame_ink.ink.shape, 300):
        x0, y0, x1, y1 = box
        want = np.flatnonzero(
            (h >= MIN_TEXT_HEIGHT - 1)
            & (x >= x0)
            & (y >= y0)
            & (x + w - 1 <= x1)
            & (y + h - 1 <= y1)
        )
        got = frame_ink.blobs_inside(box)
        assert got.tolist() == want.tolist(), box
        found_any += bool(want.size)
    assert found_any > 50  # the boxes do hold blobs


def _runs_by_counting(inner: np.ndarray, height: int, width: int) -> float:
    starts = np.array(
        [sum(1 for k in range(width) if row[k] and (k == 0 or not row[k - 1])) for row in inner]
    )
    if not starts.any():
        return 0.0
    median = np.sort(starts[starts > 0])[int(0.5 * (np.count_nonzero(starts) - 1))]
    return float(median) * height / width


def test_runs_count_the_ink_runs_of_each_row():
    rng = np.random.default_rng(6)
    for _ in range(200):
        height, width = int(rng.integers(1, 30)), int(rng.integers(1, 80))
        inner = (rng.random((height, width)) < rng.random()).astype(np.uint8)
        if rng.random() < 0.1:
            inner[:] = 0
        assert textlines._runs(inner, height, width) == _runs_by_counting(inner, height, width)


def _thick_strokes(seed: int) -> FrameInk:
    """Ink of bars 1 to 24 pixels thick, so that the strokes' distance reaches past every
    limit the verdicts ask about."""
    rng = np.random.default_rng(seed)
    ink = np.zeros((400, 600), np.uint8)
    for _ in range(150):
        thick, long = int(rng.integers(1, 25)), int(rng.integers(5, 120))
        x, y = int(rng.integers(0, 590)), int(rng.integers(0, 390))
        w, h = (long, thick) if rng.random() < 0.5 else (thick, long)
        ink[y : y + h, x : x + w] = 1
    return FrameInk.of(np.zeros_like(ink), ink=ink)


def test_stroke_verdicts_on_the_crop_are_the_whole_frame_ones():
    """The strokes' distance on a quarter-height margin answers every question the verdicts
    ask (half a stroke at most MAX_STROKE / 2 line heights or MIN_STROKE_PX / 2) as the
    distance over the whole frame does."""
    rng = np.random.default_rng(8)
    asked = 0
    for frame_ink in [_frame_ink(family) for family in TUNING_FAMILIES[:2]] + [
        _thick_strokes(seed) for seed in (1, 2, 3)
    ]:
        whole = cv2.distanceTransform(frame_ink.ink, cv2.DIST_L2, 3)
        for box in _random_boxes(rng, frame_ink.ink.shape, 150):
            x0, y0, x1, y1 = box
            height = y1 - y0 + 1
            inner = frame_ink.ink[y0 : y1 + 1, x0 : x1 + 1] > 0
            if not inner.any():
                continue
            crop = frame_ink.distance_in(box)[inner]
            frame = whole[y0 : y1 + 1, x0 : x1 + 1][inner]
            for limit in (MAX_STROKE * height, MIN_STROKE_PX, TEXTURE_STROKE * height):
                assert np.array_equal(crop <= limit / 2, frame <= limit / 2), (box, limit)
            asked += 1
    assert asked > 300


def _column_of_dots(width: int) -> np.ndarray:
    """A bright column of dots (a ruler's or a scale's texture): ink on every row, no
    vertical run (not a ruler line), too tall for a text line."""
    frame = np.zeros((300, 200), np.uint8)
    column = np.indices((200, width)).sum(axis=0) % 2 == 0
    frame[50:250, 60 : 60 + width][column] = 230
    return frame


def test_a_bright_column_too_narrow_for_a_word_is_not_read_in_strips():
    level = _column_of_dots(MIN_AREA_WIDTH - 6)
    assert text_ink(level).any(axis=1)[50:250].all()  # ink on every row of the column
    found = find_text(level)
    assert found.lines == [] and found.unresolved == []


def test_a_bright_area_wide_enough_for_a_word_is_read_in_strips():
    found = find_text(_column_of_dots(MIN_AREA_WIDTH + 10))
    assert len(found.unresolved) >= 1
    assert all(x1 - x0 + 1 >= MIN_AREA_WIDTH for x0, _, x1, _ in found.unresolved)


def test_chains_link_mutual_nearest_joining_glyphs():
    rng = np.random.default_rng(9)
    linked = 0
    for _ in range(60):
        boxes = []
        for _ in range(int(rng.integers(0, 60))):
            height, width = int(rng.integers(6, 30)), int(rng.integers(2, 25))
            x0, y0 = int(rng.integers(0, 500)), int(rng.integers(0, 60))
            boxes.append((x0, y0, x0 + width - 1, y0 + height - 1))
        links = chain_links(np.array(boxes, np.int64).reshape(-1, 4))
        assert links == links_pair_by_pair(boxes)
        linked += len(links)
    assert linked > 200  # links were made


@pytest.mark.parametrize("family", TUNING_FAMILIES[:3])
def test_cheap_verdicts_reject_only_what_text_like_rejects(family):
    """The verdicts taken before :func:`textlines.text_like` (no glyph, one blob crossing few
    strokes, fewer than three glyphs on a textured surround) never drop a box it keeps."""
    frame_ink = _frame_ink(family)
    rng = np.random.default_rng(10)
    boxes = _random_boxes(rng, frame_ink.ink.shape, 200)
    x, y, w, h = (frame_ink.stats[:, k] for k in range(4))
    boxes += [
        (int(a), int(b), int(a + c - 1), int(b + d - 1))
        for a, b, c, d in zip(x, y, w, h, strict=True)
    ]
    # ... and the chains of glyph-sized blobs (the detector's candidates)
    chains, _ = textlines._chain_boxes(np.column_stack((x, y, x + w - 1, y + h - 1))[h >= 6])
    boxes += [(a, b, c, d) for a, b, c, d in chains.tolist()]
    boxes = [b for b in boxes if b[3] - b[1] + 1 <= textlines.MAX_LINE_HEIGHT]
    counts = frame_ink.glyph_counts(boxes).tolist()
    cheap = kept = 0
    for box, glyphs in zip(boxes, counts, strict=True):
        verdict = textlines.text_like(frame_ink, box).is_text
        kept += verdict
        textured = textlines._surround(frame_ink, box)[0] > textlines.ROUGH_SHARE
        if textlines._rejected(frame_ink, box, glyphs) or (textured and glyphs < 3):
            cheap += 1
            assert not verdict, box
    assert cheap > 100 and kept > 3


@pytest.mark.parametrize("family", TUNING_FAMILIES[:2])
def test_runs_of_many_boxes_at_once_are_each_box_s(family):
    """The candidates' ink runs taken all at once (:func:`textlines._runs_many`) equal those
    of each box alone, frame edges included."""
    frame_ink = _frame_ink(family)
    rows, cols = frame_ink.ink.shape
    rng = np.random.default_rng(12)
    boxes = _random_boxes(rng, frame_ink.ink.shape, 150)
    boxes += [(0, 0, 30, 9), (cols - 40, rows - 12, cols - 1, rows - 1), (5, 5, 5, 5)]
    runs = textlines._runs_many(frame_ink.ink, np.array(boxes))
    for k, (x0, y0, x1, y1) in enumerate(boxes):
        inner = frame_ink.ink[y0 : y1 + 1, x0 : x1 + 1]
        assert runs[k] == textlines._runs(inner, y1 - y0 + 1, x1 - x0 + 1), boxes[k]
    assert (runs > 0).sum() > 30 and len(set(runs.tolist())) > 10  # not all alike
    assert textlines._runs_many(frame_ink.ink, np.zeros((0, 4))).size == 0


@pytest.mark.parametrize("family", TUNING_FAMILIES[:2])
def test_glyph_counts_are_the_glyphs_among_the_blobs_inside(family):
    """:meth:`FrameInk.glyph_counts` (all boxes at once, each against the blobs starting in
    its columns) counts what :func:`textlines.text_like` counts as glyphs in each box."""
    frame_ink = _frame_ink(family)
    rng = np.random.default_rng(13)
    boxes = _random_boxes(rng, frame_ink.ink.shape, 300)
    x, y, w, h = (frame_ink.stats[:, k] for k in range(4))
    chains, _ = textlines._chain_boxes(np.column_stack((x, y, x + w - 1, y + h - 1))[h >= 6])
    boxes += [(a, b, c, d) for a, b, c, d in chains.tolist()]  # the detector's candidates
    got = frame_ink.glyph_counts(boxes).tolist()
    want = []
    for x0, y0, x1, y1 in boxes:
        st = frame_ink.stats[frame_ink.blobs_inside((x0, y0, x1, y1))]
        height = y1 - y0 + 1
        want.append(
            int(
                (
                    (st[:, 3] >= max(MIN_TEXT_HEIGHT - 1, textlines.GLYPH_HEIGHT * height))
                    & (st[:, 2] <= max(textlines.GLYPH_MIN_WIDTH, textlines.GLYPH_WIDTH * height))
                ).sum()
            )
        )
    assert got == want
    assert sum(1 for n in want if n > 1) > 10  # boxes holding glyphs were asked about
    assert frame_ink.glyph_counts([]).size == 0


def _text_ink_plainly(level: np.ndarray, threshold: int, dim: int | None) -> np.ndarray:
    """:func:`text_ink` as first written: the dark surroundings scaled to the whole frame,
    the rulers' erosion dilated back over the whole frame."""
    tophat = stroke_contrast(level)
    bright = cv2.threshold(level, threshold - 1, 1, cv2.THRESH_BINARY)[1]
    if dim is not None:
        opened = cv2.subtract(level, tophat)
        dark = cv2.threshold(opened, textlines.DIM_BACKGROUND, 1, cv2.THRESH_BINARY_INV)[1]
        blocks = (textlines.DIM_BLOCKS, textlines.DIM_BLOCKS)
        mean = cv2.blur(textlines.shrunk(level), blocks)
        around = cv2.threshold(mean, textlines.DIM_MEAN, 1, cv2.THRESH_BINARY_INV)[1]
        rows, cols = level.shape
        scaled = cv2.resize(around, (cols, rows), interpolation=cv2.INTER_NEAREST)
        lit = cv2.threshold(level, dim - 1, 1, cv2.THRESH_BINARY)[1]
        bright = cv2.bitwise_or(bright, cv2.bitwise_and(lit, cv2.bitwise_and(dark, scaled)))
    strokes = cv2.threshold(tophat, textlines.STROKE_CONTRAST - 1, 1, cv2.THRESH_BINARY)[1]
    ink = cv2.bitwise_and(bright, strokes)
    ruler = cv2.getStructuringElement(cv2.MORPH_RECT, (1, textlines.MAX_LINE_HEIGHT + 1))
    return cv2.subtract(ink, cv2.dilate(cv2.erode(ink, ruler), ruler))


def _dim_panels(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """Speckle with dark panels holding grey and white strokes, and a ruler or two."""
    level = (rng.random((rows, cols)) * 255 * rng.random()).astype(np.uint8)
    for _ in range(3):
        y, x = int(rng.integers(0, rows)), int(rng.integers(0, cols))
        level[y : y + int(rng.integers(5, 80)), x : x + int(rng.integers(5, 120))] //= 8
    for _ in range(int(rng.integers(0, 60))):
        y, x = int(rng.integers(0, rows)), int(rng.integers(0, cols))
        level[y : y + int(rng.integers(1, 9)), x : x + 2] = rng.integers(90, 256)
    for _ in range(int(rng.integers(0, 3))):
        x, y = int(rng.integers(0, cols)), int(rng.integers(0, rows))
        level[y : y + int(rng.integers(30, 200)), x] = 220
    return level


def test_text_ink_is_the_plain_computation():
    """The mask of dark surroundings scaled across then its rows repeated, and the rulers
    dilated back over the rows and columns their erosion left only, give the plain
    computation's ink, on frames of any size (scaled by nearest neighbours unevenly where
    not a multiple of four)."""
    rng = np.random.default_rng(12)
    dim_pixels = 0
    for k in range(120):
        rows, cols = int(rng.integers(1, 260)), int(rng.integers(1, 260))
        level = _dim_panels(rng, rows, cols)
        for threshold, dim in ((textlines.TEXT_LEVEL, textlines.DIM_TEXT_LEVEL), (150, None)):
            want = _text_ink_plainly(level, threshold, dim)
            assert np.array_equal(text_ink(level, None, threshold, dim), want), (k, rows, cols)
        dim_pixels += int(np.count_nonzero(want != text_ink(level, None, threshold, 100)))
    assert dim_pixels > 100  # the dim strokes do count
    for family in TUNING_FAMILIES:
        level = brightness(render_screen(family, SEED).frame)
        want = _text_ink_plainly(level, textlines.TEXT_LEVEL, textlines.DIM_TEXT_LEVEL)
        got = text_ink(level, None, textlines.TEXT_LEVEL, textlines.DIM_TEXT_LEVEL)
        assert np.array_equal(got, want), family


def test_find_text_keeps_no_frame_in_its_reused_buffers():
    """find_text writes its full-frame arrays into buffers kept from call to call: frames of
    different sizes in turn find what fresh buffers find, and the public steps hand back
    arrays of their own."""
    screens = [render_screen(family, SEED + 1).frame for family in TUNING_FAMILIES]
    fresh = [textlines._find_text(brightness(frame), textlines._fresh) for frame in screens]
    assert len({frame.shape for frame in screens}) > 1
    for _ in range(2):
        for frame, want in zip(screens, fresh, strict=True):
            assert find_text(frame) == want
    level = brightness(screens[0])
    assert not np.shares_memory(brightness(screens[0]), level)
    assert not np.shares_memory(stroke_contrast(level), stroke_contrast(level))
    assert not np.shares_memory(text_ink(level), text_ink(level))


@pytest.mark.parametrize("family", TUNING_FAMILIES[:2])
def test_surround_is_the_median_of_the_background_pixels(family):
    """:func:`textlines._surround` (from a histogram's running sum) is the lower median of
    the pixels away from ink around the box and the share of them further than ROUGH_LEVEL
    from it."""
    frame_ink = _frame_ink(family)
    rows, cols = frame_ink.level.shape
    rng = np.random.default_rng(13)
    flat = textured = 0
    for box in [*_random_boxes(rng, frame_ink.ink.shape, 200), (0, 0, 3, 2), (0, 0, 1, 1)]:
        x0, y0, x1, y1 = box
        pad = max(3, (y1 - y0 + 1) // 2)
        sl = (
            slice(max(0, y0 - pad), min(rows, y1 + pad + 1)),
            slice(max(0, x0 - pad), min(cols, x1 + pad + 1)),
        )
        pixels = np.sort(frame_ink.level[sl][frame_ink.away[sl] > 0].astype(int))
        if pixels.size < 8:
            want = (1.0, 0)
        else:
            median = int(pixels[(pixels.size - 1) // 2])
            near = np.count_nonzero(np.abs(pixels - median) <= textlines.ROUGH_LEVEL)
            want = ((pixels.size - near) / pixels.size, median)
        assert textlines._surround(frame_ink, box) == want, box
        flat += want[0] <= textlines.ROUGH_SHARE
        textured += want[0] > textlines.ROUGH_SHARE
    assert flat > 10 and textured > 10


def _extend_plainly(frame_ink: FrameInk, box: tuple[int, int, int, int]) -> tuple:
    """:func:`textlines._extend` as first written: the columns beside the box scanned."""
    x0, y0, x1, y1 = box
    gap = max(4, round(textlines.EXTEND_GAP * (y1 - y0 + 1)))
    band = frame_ink.ink[y0 : y1 + 1].sum(axis=0)
    cols = band.shape[0]
    right = x1
    while (ahead := np.flatnonzero(band[right + 1 : min(cols, right + 1 + gap)])).size:
        right += 1 + int(ahead[-1])
    left = x0
    while (behind := np.flatnonzero(band[max(0, left - gap) : left])).size:
        left = max(0, left - gap) + int(behind[0])
    if (left, right) == (x0, x1):
        return box
    wider = (left, y0, right, y1)
    return wider if textlines.surround_roughness(frame_ink, wider) <= textlines.ROUGH_SHARE else box


@pytest.mark.parametrize("family", TUNING_FAMILIES[:2])
def test_extend_is_the_column_scan(family):
    frame_ink = _frame_ink(family)
    rng = np.random.default_rng(14)
    widened = 0
    for box in _random_boxes(rng, frame_ink.ink.shape, 300):
        x0, y0, x1, y1 = box
        box = (x0, y0, x1, min(y1, y0 + 40))
        want = _extend_plainly(frame_ink, box)
        assert textlines._extend(frame_ink, box) == want, box
        widened += want != box
    assert widened > 10


@pytest.mark.parametrize("height", [6, 9, 14, 21])
def test_extend_joins_marks_up_to_the_gap_and_no_further(height):
    gap = max(4, round(textlines.EXTEND_GAP * height))
    ink = np.zeros((120, 600), np.uint8)
    y0, y1, x0, x1 = 50, 50 + height - 1, 250, 300
    ink[y0 : y1 + 1, x0 : x1 + 1 : 3] = 1
    # a mark gap columns away joins, one more column further does not: twice on each side
    ink[y0 + 2, [x1 + gap, x1 + 2 * gap + 1, x0 - gap, x0 - 2 * gap - 1]] = 1
    frame_ink = FrameInk.of(np.zeros_like(ink), ink=ink)
    box = (x0, y0, x1, y1)
    assert textlines._extend(frame_ink, box) == (x0 - gap, y0, x1 + gap, y1)
    assert textlines._extend(frame_ink, box) == _extend_plainly(frame_ink, box)


def _inks_to_label() -> list[np.ndarray]:
    """Ink of tuning screens (full size and shrunk) and random speckle in boxes starting on
    odd and even rows and columns of odd- and even-sized frames."""
    inks = []
    for family in TUNING_FAMILIES:
        level = brightness(render_screen(family, SEED).frame)
        inks.append(text_ink(level, None, dim=textlines.DIM_TEXT_LEVEL))
        inks.append(text_ink(textlines.shrunk(level)))
    rng = np.random.default_rng(11)
    for rows, cols in ((101, 157), (120, 160), (33, 48)):
        for _ in range(6):
            ink = np.zeros((rows, cols), np.uint8)
            y0, x0 = int(rng.integers(0, rows // 2)), int(rng.integers(0, cols // 2))
            y1, x1 = int(rng.integers(y0 + 1, rows + 1)), int(rng.integers(x0 + 1, cols + 1))
            ink[y0:y1, x0:x1] = rng.random((y1 - y0, x1 - x0)) < 0.45
            inks.append(ink)
    inks.append(np.zeros((40, 60), np.uint8))
    return inks


def test_blobs_labelled_in_the_ink_box_are_the_whole_frame_ones():
    for ink in _inks_to_label():
        _, labels, stats, _ = textlines._components(ink)
        buffer = np.full(ink.shape, -1, np.int32)
        got_labels, got_stats = textlines._ink_components(ink, buffer)
        on_ink = ink > 0
        assert got_labels is buffer
        np.testing.assert_array_equal(got_labels[on_ink], labels[on_ink])
        np.testing.assert_array_equal(got_stats, stats[1:])
        assert got_stats.dtype == stats.dtype
