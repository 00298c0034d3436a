"""Faster paths of the text search and reading that must give the outputs of the
straightforward computation they replaced, bit for bit: each on varied inputs (tuning screens,
random boxes anywhere, boxes at the frame's edges, boxes with too little surround)."""

from __future__ import annotations

import numpy as np
import pytest

from cadbusi_assets.ultrasound import textlines
from cadbusi_assets.ultrasound.textlines import (
    MIN_TEXT_HEIGHT,
    FrameInk,
    brightness,
    stroke_contrast,
)
from cadbusi_demo.screens_heldout import TUNING_FAMILIES, render_screen

#: The benchmarks and the tuning used other seeds.
SEED = 93


def _frame_ink(family: str, seed: int = SEED) -> FrameInk:
    level = brightness(render_screen(family, seed).frame)
    return FrameInk.of(level, stroke_contrast(level))


def _boxes(rng: np.random.Generator, frame_ink: FrameInk, count: int) -> list:
    """Random boxes of any size anywhere, boxes at the corners and edges (some too small
    to hold a surround), every blob's own box and the detector's candidates (chains)."""
    rows, cols = frame_ink.ink.shape
    boxes = []
    for _ in range(count):
        height, width = int(rng.integers(0, 130)), int(rng.integers(0, 700))
        x0, y0 = int(rng.integers(0, cols)), int(rng.integers(0, rows))
        boxes.append((x0, y0, min(cols - 1, x0 + width), min(rows - 1, y0 + height)))
    boxes += [(0, 0, 0, 0), (0, 0, 2, 1), (cols - 1, rows - 1, cols - 1, rows - 1)]
    boxes += [(0, 0, cols - 1, rows - 1), (cols - 30, 0, cols - 1, 9), (0, rows - 8, 50, rows - 1)]
    x, y, w, h = (frame_ink.stats[:, k] for k in range(4))
    boxes += [
        (int(a), int(b), int(a + c - 1), int(b + d - 1))
        for a, b, c, d in zip(x, y, w, h, strict=True)
    ][:: max(1, len(x) // 300)]
    chains, _ = textlines._chain_boxes(np.column_stack((x, y, x + w - 1, y + h - 1))[h >= 6])
    boxes += [(a, b, c, d) for a, b, c, d in chains.tolist()]
    return boxes


def _glyph_count_plainly(frame_ink: FrameInk, box: tuple) -> int:
    st = frame_ink.stats[frame_ink.blobs_inside(box)]
    height = box[3] - box[1] + 1
    return int(
        (
            (st[:, 3] >= max(MIN_TEXT_HEIGHT - 1, textlines.GLYPH_HEIGHT * height))
            & (st[:, 2] <= max(textlines.GLYPH_MIN_WIDTH, textlines.GLYPH_WIDTH * height))
        ).sum()
    )


@pytest.mark.parametrize("family", TUNING_FAMILIES)
def test_glyphs_inside_all_boxes_at_once_are_each_boxs(family):
    """:meth:`FrameInk.glyphs_inside` (all candidates at once, as ``_lines`` asks) gives
    each box the blobs :meth:`FrameInk.blobs_inside` finds for it alone, in its order, and
    the glyphs :func:`text_like` counts among them."""
    frame_ink = _frame_ink(family)
    boxes = _boxes(np.random.default_rng(3), frame_ink, 300)
    counts, inside = frame_ink.glyphs_inside(boxes)
    held = 0
    for k, box in enumerate(boxes):
        want = frame_ink.blobs_inside(box)
        assert inside[k].tolist() == want.tolist(), box
        assert int(counts[k]) == _glyph_count_plainly(frame_ink, box), box
        held += want.size > 1
    assert held > 30  # boxes holding several blobs were asked about
    assert frame_ink.glyph_counts(boxes).tolist() == counts.tolist()
    assert frame_ink.glyphs_inside([])[0].size == 0


@pytest.mark.parametrize("family", TUNING_FAMILIES[:2])
def test_text_like_given_the_blobs_inside_is_text_like_alone(family):
    frame_ink = _frame_ink(family)
    boxes = _boxes(np.random.default_rng(4), frame_ink, 100)
    boxes = [b for b in boxes if b[3] - b[1] + 1 <= textlines.MAX_LINE_HEIGHT]
    _, inside = frame_ink.glyphs_inside(boxes)
    for k, box in enumerate(boxes):
        for verdict_only in (False, True):
            want = textlines.text_like(frame_ink, box, verdict_only=verdict_only)
            got = textlines.text_like(frame_ink, box, verdict_only=verdict_only, inside=inside[k])
            assert got == want, box


@pytest.mark.parametrize("family", TUNING_FAMILIES)
def test_surrounds_all_boxes_at_once_are_each_boxs(family):
    """:func:`textlines._surrounds` gives each box :func:`textlines._surround`'s roughness
    (the same float) and median, flat panels, speckle, edges and tiny boxes alike."""
    frame_ink = _frame_ink(family, SEED + 1)
    boxes = _boxes(np.random.default_rng(5), frame_ink, 300)
    got = textlines._surrounds(frame_ink, np.array(boxes))
    want = [textlines._surround(frame_ink, box) for box in boxes]
    assert got == want
    roughs = {r for r, _ in want}
    assert any(r > textlines.ROUGH_SHARE for r in roughs)
    assert any(r <= textlines.ROUGH_SHARE for r in roughs)
    assert len(roughs) > 50 and len({m for _, m in want}) > 10  # varied surrounds
    assert textlines._surrounds(frame_ink, np.zeros((0, 4), np.int64)) == []


def test_surrounds_of_flat_and_stepped_panels():
    # medians at the ends of the levels and near ROUGH_LEVEL, where the cumulative
    # counts are read at their first and last places; surrounds of fewer than 8 pixels
    rng = np.random.default_rng(6)
    small = 0
    for _ in range(40):
        level = np.full((60, 90), int(rng.integers(0, 256)), np.uint8)
        level[:, int(rng.integers(0, 90)) :] = int(rng.integers(0, 256))
        level[rng.random(level.shape) < rng.random() * 0.3] = int(rng.integers(0, 256))
        ink = (rng.random(level.shape) < rng.random() * 0.5).astype(np.uint8)
        frame_ink = FrameInk.of(level, None, ink)
        boxes = [
            (int(a), int(b), int(a + c), int(b + d))
            for a, b, c, d in zip(
                rng.integers(0, 80, 30),
                rng.integers(0, 50, 30),
                rng.integers(0, 10, 30),
                rng.integers(0, 10, 30),
                strict=True,
            )
        ]
        boxes = [(x0, y0, min(89, x1), min(59, y1)) for x0, y0, x1, y1 in boxes]
        got = textlines._surrounds(frame_ink, np.array(boxes))
        assert got == [textlines._surround(frame_ink, box) for box in boxes]
        small += got.count((1.0, 0))
    assert small > 5


# --- the learned line reader: a strip's lines decoded at once ----------------------------


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return (shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))).astype(np.float32)


def test_decode_lines_is_each_lines_decode():
    """Lines side by side, apart or touching, with characters in the frames between them
    and the same character on both sides of a line's edge (which a line's own decoding
    reads as a blank beyond it), lines of one frame and of none."""
    from cadbusi_assets.ultrasound import glyphs

    rng = np.random.default_rng(8)
    classes = len(glyphs.CHARSET) + 1
    for _ in range(300):
        count = int(rng.integers(1, 9))
        frames = rng.integers(0, 30, count).tolist()
        gaps = rng.integers(0, 7, count + 1).tolist()
        starts, at = [], gaps[0]
        for n, gap in zip(frames, gaps[1:], strict=True):
            starts.append(at)
            at += n + gap
        total = at + int(rng.integers(0, 3))
        # a few classes each, confident or unsure, repeated over runs of frames
        best = rng.choice([0, 0, 0, 1, 5, 12, 20], total)
        best[rng.random(total) < 0.3] = rng.integers(0, classes)
        runs = np.repeat(best[::2], 2)[:total]
        logits = rng.normal(0, rng.uniform(0.1, 3), (total, classes))
        logits[np.arange(total), runs] += rng.uniform(0, 12, total)
        log_probs = _log_softmax(logits)
        got = glyphs.decode_lines(log_probs, starts, frames)
        want = [glyphs.decode(log_probs[s : s + n], n) for s, n in zip(starts, frames, strict=True)]
        assert got == want, (starts, frames)
    assert glyphs.decode_lines(np.zeros((0, classes), np.float32), [], []) == []


def test_the_reader_decodes_as_each_lines_window_did():
    """The reader's readings (a strip's log-softmax taken once, its lines decoded at once)
    are those of the code before: each line's window of the strip's logits taken apart, its
    log-softmax and :func:`decode` (every tuning family, lines of a pass and of several)."""
    import torch

    from cadbusi_assets.ultrasound import glyphs
    from cadbusi_assets.ultrasound import ocr as ultrasound_ocr

    reader = glyphs.LineReader()
    images = []
    for family in TUNING_FAMILIES:
        for seed in (SEED, SEED + 2):
            frame = render_screen(family, seed).frame
            level = brightness(frame)
            images += [
                ultrasound_ocr.clean_line_image(level, box)
                for box in ultrasound_ocr.find_text_lines(frame)
            ]
    inputs = [glyphs.input_image(image) for image in images]
    widths = [-(-i.shape[1] // glyphs.STRIDE) * glyphs.STRIDE for i in inputs]
    want = []
    with torch.inference_mode():
        for group in glyphs._passes(widths, "cpu"):
            strip = np.zeros(
                (
                    1,
                    1,
                    glyphs.INPUT_HEIGHT,
                    glyphs.GAP + sum(widths[k] + glyphs.GAP for k in group),
                ),
                np.float32,
            )
            x, starts = glyphs.GAP, []
            for k in group:
                strip[0, 0, :, x : x + inputs[k].shape[1]] = inputs[k]
                starts.append(x)
                x += widths[k] + glyphs.GAP
            logits = glyphs._logits(reader._convs, reader._sequence, torch.from_numpy(strip))
            for x, k in zip(starts, group, strict=True):
                window = logits[
                    :,
                    :,
                    (x - glyphs.GAP) // glyphs.STRIDE : (x + widths[k] + glyphs.GAP)
                    // glyphs.STRIDE,
                ]
                probs = glyphs._log_probs(window.contiguous()).cpu().numpy()
                frames = widths[k] // glyphs.STRIDE
                gap = glyphs.GAP // glyphs.STRIDE
                want.append(glyphs.decode(probs[gap : gap + frames, 0, :], frames))
    assert len(glyphs._passes(widths, "cpu")) > 1 and len(want) > 40
    assert reader._read(images) == want


@pytest.mark.parametrize("shape", [(1, 16, 24, 1100), (1, 32, 12, 551), (2, 48, 7, 30)])
@pytest.mark.parametrize("pool", [(2, 2), (2, 1), (1, 2), (1, 1)])
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_pooling_into_channels_last_is_max_pool2d(shape, pool, layout):
    """The pooling written channels-last holds ``F.max_pool2d``'s values (a zero's sign
    aside: the maximum of +0 and -0 is either, by the loop torch takes; no sum,
    exponential or comparison after it tells them apart: the logits are bit for bit the
    same, next test)."""
    import torch
    import torch.nn.functional as F

    from cadbusi_assets.ultrasound import glyphs

    x = torch.randn(*shape, generator=torch.Generator().manual_seed(sum(shape)))
    x[x.abs() < 0.3] = 0.0  # ties
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    pooled = glyphs._max_pool(x, pool, channels_last=True)
    assert pooled.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(pooled, F.max_pool2d(x, pool, pool))
    assert (
        pooled.stride()
        == F.max_pool2d(x, pool, pool).contiguous(memory_format=torch.channels_last).stride()
    )


def test_the_readers_logits_are_those_pooled_then_copied_channels_last():
    """The forward with its pooling written channels-last gives the logits of the forward
    that pooled and then copied to channels-last, bit for bit, on tuning lines."""
    import torch
    import torch.nn.functional as F

    from cadbusi_assets.ultrasound import glyphs
    from cadbusi_assets.ultrasound import ocr as ultrasound_ocr

    def logits_before(convs, sequence, x):  # _logits as it was
        for (weight, bias), pool in zip(convs, glyphs._POOLS, strict=True):
            x = glyphs._conv(x, weight, bias)
            if pool is not None:
                x = glyphs._max_pool(x, pool).contiguous(memory_format=torch.channels_last)
            x = F.relu_(x)
        n, c, h, w = x.shape
        x = x.contiguous().reshape(n, c * h, 1, w)
        for k, (weight, bias) in enumerate(sequence):
            x = glyphs._conv(x, weight, bias)
            if k < len(sequence) - 1:
                x = F.relu_(x)
        return x[:, :, 0, :]

    reader = glyphs.LineReader()
    compared = 0
    for family in TUNING_FAMILIES:
        frame = render_screen(family, SEED + 3).frame
        level = brightness(frame)
        inputs = [
            glyphs.input_image(ultrasound_ocr.clean_line_image(level, box))
            for box in ultrasound_ocr.find_text_lines(frame)
        ]
        width = glyphs.GAP + sum(-(-i.shape[1] // 4) * 4 + glyphs.GAP for i in inputs)
        strip = np.zeros((1, 1, glyphs.INPUT_HEIGHT, width), np.float32)
        x = glyphs.GAP
        for image in inputs:
            strip[0, 0, :, x : x + image.shape[1]] = image
            x += -(-image.shape[1] // 4) * 4 + glyphs.GAP
        with torch.inference_mode():
            got = glyphs._logits(reader._convs, reader._sequence, torch.from_numpy(strip))
            want = logits_before(reader._convs, reader._sequence, torch.from_numpy(strip))
        assert torch.equal(got.view(torch.int32), want.view(torch.int32)), family
        compared += len(inputs)
    assert compared > 20


def _many_boxes(rng: np.random.Generator, count: int, rows: int, cols: int) -> np.ndarray:
    """``count`` boxes of glyph heights and other heights over a frame, some of them at one
    left edge, one top edge or one height as others (ties)."""
    heights = rng.integers(1, 60, count)
    widths = rng.integers(1, 40, count)
    x0 = rng.integers(-5, cols, count)
    y0 = rng.integers(-5, rows, count)
    same = rng.random(count) < 0.2
    x0[same] = x0[0]
    y0[rng.random(count) < 0.2] = y0[1]
    return np.column_stack((x0, y0, x0 + widths - 1, y0 + heights - 1)).astype(np.int64)


def test_chain_pairs_by_bands_are_every_pair_sharing_a_row():
    """From :data:`textlines._PAIR_BANDS_FROM` boxes on, the pairs looked at are some of
    those of all rows (as listed below that), and among them every pair where the second box
    shares a row with the first and is at most twice as high (a superset of the pairs
    :func:`textlines.joins` links)."""
    rng = np.random.default_rng(21)
    banded = 0
    for _ in range(40):
        count = int(rng.integers(textlines._PAIR_BANDS_FROM, 400))
        b = _many_boxes(rng, count, int(rng.integers(50, 1100)), int(rng.integers(50, 1100)))
        h = b[:, 3] - b[:, 1] + 1
        i, j = textlines._chain_pairs(b, h)
        got = set(zip(i.tolist(), j.tolist(), strict=True))
        assert len(got) == i.size  # each pair once
        reach = np.floor(1.5 * textlines.CHAIN_HEIGHTS * h)
        want = {
            (a, c)
            for a in range(count)
            for c in np.flatnonzero(
                (b[:, 0] >= b[a, 2])
                & (b[:, 0] <= b[a, 2] + reach[a])
                & (b[:, 1] <= b[a, 3])
                & (b[:, 3] >= b[a, 1])
                & (h <= 2 * h[a])
            ).tolist()
        }
        assert want <= got
        every = {
            (a, c)
            for a in range(count)
            for c in np.flatnonzero((b[:, 0] >= b[a, 2]) & (b[:, 0] <= b[a, 2] + reach[a])).tolist()
        }
        assert got <= every
        banded += len(every) - len(got)
    assert banded > 1000  # pairs were left out


@pytest.mark.parametrize("seed", range(4))
def test_chains_of_many_boxes_link_as_pair_by_pair(seed):
    """:func:`textlines._chains` on hundreds of boxes (the pairs looked for by bands of
    rows) links what asking :func:`textlines.joins` of every pair links."""
    from cadbusi_assets_tests.ultrasound.textline_links import chain_links, links_pair_by_pair

    rng = np.random.default_rng(30 + seed)
    boxes = _many_boxes(rng, 260, 700, 900)
    boxes = boxes[(boxes[:, 3] - boxes[:, 1] + 1 >= MIN_TEXT_HEIGHT)]
    # and a few lines of letters among them
    for _ in range(6):
        x, y, height = (
            int(rng.integers(0, 700)),
            int(rng.integers(0, 650)),
            int(rng.integers(6, 40)),
        )
        for k in range(int(rng.integers(3, 10))):
            x0 = x + k * (height // 2 + 2)
            top = y + int(rng.integers(0, 3))
            boxes = np.vstack((boxes, [(x0, top, x0 + height // 2 - 1, top + height - 1)]))
    assert len(boxes) >= textlines._PAIR_BANDS_FROM
    links = chain_links(boxes)
    assert links == links_pair_by_pair([tuple(b) for b in boxes.tolist()])
    assert len(links) > 20
