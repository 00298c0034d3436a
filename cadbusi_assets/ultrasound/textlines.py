"""Text lines in an ultrasound frame, told apart from speckle: one detector shared by the
de-identification's OCR verification (:mod:`cadbusi_assets.deid.ocr`) and the annotation
reading (:mod:`cadbusi_assets.ultrasound.ocr`, :mod:`cadbusi_assets.ultrasound.analysis`).

Candidates (inside :func:`find_text`), in one pass over the ink's blobs:

1. **Ink**: thin bright strokes: brightest channel at or above :data:`TEXT_LEVEL` (coloured
   text counts as much as white text) and at least :data:`STROKE_CONTRAST` above the
   morphological opening (a white top-hat), which keeps letters and drops wide bright areas;
   on a dark surround, dimmer strokes from :data:`DIM_TEXT_LEVEL` too (thin and grey fonts,
   whose anti-aliased strokes stay under :data:`TEXT_LEVEL`).
2. **Blobs**: the ink's 8-connected blobs with their boxes and areas, labelled once
   (:class:`FrameInk`); those from :data:`MIN_TEXT_HEIGHT` to :data:`MAX_LINE_HEIGHT`
   pixels high and not solid (at most :data:`MAX_FILL` of their box) can be glyphs.
3. **Lines**: glyphs chained left to right, all pairs at once (:func:`_chains`): each glyph
   to its nearest right neighbour of similar height on the same line less than 1.5 heights
   away (:func:`joins`) when it is that neighbour's nearest left one. A chain of two glyphs
   or more is a candidate, and so is one blob twice as wide as high (touching letters).
   Cheap verdicts first (:func:`_rejected`: no glyph inside, one blob crossing few strokes
   per row; two glyphs on a textured surround), then :func:`text_like`. Lines found are
   joined into words (:func:`merge_words`) and stacked lines whose ascenders and
   descenders touch are cut between them (:func:`_split_stacked`).
4. **Large text**: the same search on a copy shrunk :data:`COARSE_FACTOR` times
   (:func:`shrunk`) finds lines taller than :data:`MAX_LINE_HEIGHT` or with strokes too
   wide for the top-hat.
5. **Areas**: blobs taller than a line (and at least :data:`MIN_AREA_WIDTH` wide) on a flat
   background are read in strips (a Doppler trace, text glued to a needle).

Text, not speckle (:func:`text_like`): bright speckle (real scanners' speckle reaches full
white) makes candidates too. A candidate is kept when it lies on a flat dark background
(the bands and panels around the image), or, on a textured background (inside the image),
when its ink is made of glyphs: blobs nearly as tall as the line, of similar heights, whose
bottoms line up on a baseline, with thin strokes. Speckle grains are short, solid and
scattered.

>>> import cv2
>>> frame = np.zeros((120, 400), np.uint8)
>>> _ = cv2.putText(frame, "DOE JANE", (150, 80), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 230, 2)
>>> [(x0 < 155, x1 > 260) for x0, y0, x1, y1 in find_text(frame).lines]
[(True, True)]
"""

from __future__ import annotations

import functools
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np
from numpy.typing import DTypeLike

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (inclusive)


#: Brightest channel from which a pixel can be text (overlay text is bright).
TEXT_LEVEL = 150
#: Thin and grey text on a dark background: strokes from this level (see :func:`text_ink`).
DIM_TEXT_LEVEL = 100
#: ... where the opened (stroke-free) image is at most this bright.
DIM_BACKGROUND = 40
#: ... and the mean level around (see :data:`DIM_BLOCKS`) is at most this.
DIM_MEAN = 60
#: ... measured over this many blocks square of the :func:`shrunk` copy.
DIM_BLOCKS = 4
#: Brightness levels of the earlier smear-and-cut search (kept for the callers that name
#: them: the blobs are now labelled at :data:`TEXT_LEVEL` only).
LEVEL_STEPS = (TEXT_LEVEL, 200)
#: Text strokes stand at least this far above the opened (stroke-free) image.
STROKE_CONTRAST = 40
#: Side of the square top-hat element: strokes narrower than this count as ink.
TOPHAT_SIZE = 11
#: Blobs lower or narrower than this cannot hold readable text.
MIN_TEXT_HEIGHT = 6
#: A bright area too tall for a line is read in strips only when at least this wide (three of the smallest characters): narrower ones are bars (rulers, scales,
#: the grey bar), too narrow for a word.
MIN_AREA_WIDTH = 3 * MIN_TEXT_HEIGHT
#: Lines up to this height are found at full resolution, taller ones by the coarse pass.
MAX_LINE_HEIGHT = 48
#: The coarse pass shrinks the frame this many times.
COARSE_FACTOR = 4
#: A row with at most this fraction of the ink of the densest rows above and below it
#: separates two stacked lines.
STACKED_VALLEY = 0.25
#: A glyph fills at most this share of its box (solid blocks are no glyph; strokes as thin
#: as a quarter of their height are: I, l, 1).
MAX_FILL = 0.9


_RULER_KERNEL = cv2.getStructuringElement(cv2.MORPH_RECT, (1, MAX_LINE_HEIGHT + 1))
_CHANNELS = np.ones((1, 3), np.uint8)


class Buffers(Protocol):
    """Where a step of the search writes a full-frame result: an array of ``shape`` and
    ``dtype`` (any content), one per ``name``."""

    def __call__(
        self, name: str, shape: tuple[int, ...], dtype: DTypeLike = np.uint8
    ) -> np.ndarray: ...


def _fresh(name: str, shape: tuple[int, ...], dtype: DTypeLike = np.uint8) -> np.ndarray:
    """A new array each time (what the public functions return)."""
    return np.empty(shape, dtype)


class _Reused(threading.local):
    """The full-frame arrays of :func:`find_text`, kept from one call to the next on a thread
    (none outlives the call that fills it: the lines found are plain tuples). Fresh ones each
    frame can cost more than the search: when the allocator hands a frame's dozen buffers back
    to the system after each frame, the kernel maps and clears every page anew for the next
    (measured on one core, old code: 1,860 page faults and about 6 ms of system time per
    frame when looping over frames already in memory, 440 faults when each frame is decoded
    just before; none once the buffers are kept)."""

    #: At most this many arrays are kept (a frame's names at two or three frame sizes).
    LIMIT = 32

    def __init__(self) -> None:
        self.arrays: dict[tuple[str, tuple[int, ...], np.dtype], np.ndarray] = {}

    def __call__(
        self, name: str, shape: tuple[int, ...], dtype: DTypeLike = np.uint8
    ) -> np.ndarray:
        key = (name, tuple(shape), np.dtype(dtype))
        array = self.arrays.get(key)
        if array is None:
            if len(self.arrays) >= self.LIMIT:
                self.arrays.clear()
            array = self.arrays[key] = np.empty(shape, dtype)
        return array


_REUSED = _Reused()


def brightness(frame: np.ndarray, buffers: Buffers = _fresh) -> np.ndarray:
    """Brightest channel per pixel (the grey value itself for a grey frame), uint8.

    >>> brightness(np.array([[[10, 200, 30], [0, 0, 255]]], np.uint8)).tolist()
    [[200, 255]]
    >>> brightness(np.array([[[9, 2, 3, 4]]], np.uint8)).tolist()  # alpha left out
    [[9]]
    >>> brightness(np.array([[0, 2048, 4095]], np.uint16)).tolist()
    [[0, 127, 255]]
    """
    frame = np.asarray(frame)
    if frame.ndim == 3:
        if frame.shape[2] == 1:
            frame = frame[..., 0]
        elif frame.shape[2] == 3 and frame.dtype == np.uint8:
            # the brightest channel as a 1x3 dilation of the interleaved rows, read from the
            # first channel (five times faster than splitting the channels)
            rows, cols = frame.shape[:2]
            interleaved = np.ascontiguousarray(frame).reshape(rows, cols * 3)
            brightest = cv2.dilate(
                interleaved,
                _CHANNELS,
                dst=buffers("brightest", interleaved.shape),
                anchor=(0, 0),
            )
            return cv2.extractChannel(
                brightest.reshape(rows, cols, 3), 0, dst=buffers("level", (rows, cols))
            )
        else:
            channels = cv2.split(np.ascontiguousarray(frame[..., :3]))
            frame = cv2.max(cv2.max(channels[0], channels[1]), channels[2])
    if frame.dtype != np.uint8:  # more than 8 bits: scaled to the frame's own maximum
        top = float(frame.max()) if frame.size else 0.0
        scale = 255.0 / top if top > 255 else 1.0
        frame = np.clip(frame.astype(np.float32) * scale, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(frame)


def shrunk(level: np.ndarray) -> np.ndarray:
    """``level`` shrunk :data:`COARSE_FACTOR` times (each pixel the mean of a block)."""
    rows, cols = level.shape
    f = COARSE_FACTOR
    return cv2.resize(level, (max(1, cols // f), max(1, rows // f)), interpolation=cv2.INTER_AREA)


def stroke_contrast(level: np.ndarray, buffers: Buffers = _fresh) -> np.ndarray:
    """White top-hat of a :func:`brightness` image: how far each pixel stands above the
    opened (stroke-free) image."""
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (TOPHAT_SIZE, TOPHAT_SIZE))
    return cv2.morphologyEx(level, cv2.MORPH_TOPHAT, kernel, dst=buffers("tophat", level.shape))


def text_ink(
    level: np.ndarray,
    tophat: np.ndarray | None = None,
    threshold: int = TEXT_LEVEL,
    dim: int | None = None,
    small: np.ndarray | None = None,
    buffers: Buffers = _fresh,
) -> np.ndarray:
    """uint8 0/1 mask of thin bright strokes in a :func:`brightness` image, without vertical
    runs longer than a text line (scale rulers, bars, region borders: no glyph is that tall).
    With ``dim``, strokes from that level up count too where the opened (stroke-free) image
    is dark (at most :data:`DIM_BACKGROUND`): thin and grey fonts on the dark bands and
    panels scanners write on, whose anti-aliased strokes stay under ``threshold``. The mean
    around is taken on ``small`` (:func:`shrunk`, computed when not given).
    """
    tophat = stroke_contrast(level, buffers) if tophat is None else tophat
    # (in place where the computation allows: each full-frame buffer spared is a frame's
    # worth of fresh pages the kernel no longer maps and clears)
    ink = cv2.threshold(
        level, threshold - 1, 1, cv2.THRESH_BINARY, dst=buffers("ink", level.shape)
    )[1]
    strokes = cv2.threshold(
        tophat, STROKE_CONTRAST - 1, 1, cv2.THRESH_BINARY, dst=buffers("strokes", level.shape)
    )[1]
    cv2.bitwise_and(ink, strokes, dst=ink)
    if dim is not None and dim < threshold:
        # dim strokes: lit, on a dark opened image (level - tophat), dark around
        dark = cv2.subtract(level, tophat, dst=buffers("dark", level.shape))
        cv2.threshold(dark, DIM_BACKGROUND, 1, cv2.THRESH_BINARY_INV, dst=dark)
        cv2.bitwise_and(dark, strokes, dst=dark)
        lit = cv2.threshold(level, dim - 1, 1, cv2.THRESH_BINARY, dst=strokes)[1]
        cv2.bitwise_and(dark, lit, dst=dark)
        # ... and dark around (the rim of a bright fan is dark on one side only): the mean of
        # DIM_BLOCKS square blocks of the shrunk copy, a sixteenth of the work
        small = shrunk(level) if small is None else small
        _add_where_dark_around(ink, dark, small, buffers)
    # the rulers: the opening by a vertical line, its dilation skipped where the erosion
    # leaves nothing (most crops the search looks into again) and taken on the rows and
    # columns the erosion left (it reaches no further)
    core = cv2.erode(ink, _RULER_KERNEL, dst=strokes)
    if cv2.countNonZero(core) == 0:
        return ink
    x, y, w, h = cv2.boundingRect(core)
    reach = MAX_LINE_HEIGHT // 2
    top, bottom = max(0, y - reach), min(ink.shape[0], y + h + reach)
    ruled = ink[top:bottom, x : x + w]
    ink[top:bottom, x : x + w] = cv2.subtract(
        ruled, cv2.dilate(core[top:bottom, x : x + w], _RULER_KERNEL)
    )
    return ink


def _add_where_dark_around(
    ink: np.ndarray, dim: np.ndarray, small: np.ndarray, buffers: Buffers = _fresh
) -> None:
    """``ink`` or-ed in place with the pixels of ``dim`` (0/1, overwritten) whose
    surroundings are dark: the mean of :data:`DIM_BLOCKS` square blocks of ``small`` at most
    :data:`DIM_MEAN`, as that mask scaled to the frame by nearest neighbours
    (``cv2.INTER_NEAREST``) reads."""
    if cv2.countNonZero(dim) == 0:
        return
    mean = cv2.blur(small, (DIM_BLOCKS, DIM_BLOCKS))
    around = cv2.threshold(mean, DIM_MEAN, 1, cv2.THRESH_BINARY_INV)[1]
    rows, cols = ink.shape
    # the nearest-neighbour scaling reads each row's and each column's source apart: scaled
    # across (a quarter of the work), then its rows repeated, a copy each
    across = cv2.resize(around, (cols, around.shape[0]), interpolation=cv2.INTER_NEAREST)
    scaled = np.take(
        across,
        _nearest_rows(around.shape[0], rows),
        axis=0,
        out=buffers("around", ink.shape),
        mode="clip",  # (in range: unbuffered)
    )
    cv2.bitwise_and(dim, scaled, dst=dim)
    cv2.bitwise_or(ink, dim, dst=ink)


@functools.lru_cache(maxsize=16)
def _nearest_rows(small_rows: int, rows: int) -> np.ndarray:
    """Source row of each row when ``cv2.resize`` scales ``small_rows`` rows to ``rows``
    with ``cv2.INTER_NEAREST``: read off OpenCV scaling the row indices themselves."""
    index = np.arange(small_rows, dtype=np.int32).reshape(-1, 1)
    at_row = cv2.resize(index, (1, rows), interpolation=cv2.INTER_NEAREST).reshape(-1)
    at_row.flags.writeable = False
    return at_row


def _quantile(values: np.ndarray, q: float) -> float:
    """The ``q`` quantile of ``values`` (lower element; np.percentile costs more than the
    small arrays it is asked about here).

    >>> _quantile(np.array([5, 1, 4, 2, 3]), 0.5), _quantile(np.array([1.0, 2.0]), 0.9)
    (3, 1.0)
    """
    flat = np.ravel(values)
    k = int(q * (flat.size - 1))
    return np.partition(flat, k)[k].item()


def _components(
    binary: np.ndarray, labels: np.ndarray | None = None
) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """8-connected blobs with their stats (the labels written into ``labels`` when given,
    int32); Grana's algorithm, fastest on one thread."""
    return cv2.connectedComponentsWithStatsWithAlgorithm(
        binary, 8, cv2.CV_32S, cv2.CCL_GRANA, labels=labels
    )


def _ink_components(ink: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(``labels``, the stats of each blob (label - 1)) of the ink's 8-connected blobs
    (:func:`_components`), labelled within the ink's bounding box only: ``labels`` holds
    the blobs' labels on the ink and any value elsewhere. The box starts on an even row
    and column and spans an even number of each (Grana's 2x2 blocks lie as on the whole
    frame: the same labels, tested; an odd width or height is a slow path)."""
    x, y, w, h = cv2.boundingRect(ink)
    if w == 0 or h == 0:
        return labels, np.zeros((0, 5), np.int32)
    rows, cols = ink.shape
    x0, y0 = x - x % 2, y - y % 2
    x1, y1 = min(cols, x + w + (x + w - x0) % 2), min(rows, y + h + (y + h - y0) % 2)
    box = (slice(y0, y1), slice(x0, x1))
    _, inside, stats, _ = _components(ink[box], labels[box])
    if not np.shares_memory(inside, labels):  # (written in place where OpenCV can)
        labels[box] = inside
    stats = stats[1:]
    stats[:, 0] += x0
    stats[:, 1] += y0
    return labels, stats


@contextmanager
def _one_thread() -> Iterator[None]:
    """OpenCV on one thread for a while: on these small images its thread pool costs more
    than it gains (labelling runs 2-3x slower), and callers parallelize by process."""
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(threads)


def _split_stacked(ink: np.ndarray, box: Box) -> list[Box]:
    """``box`` cut where its ink rows thin out between two dense parts: lines of text set
    so tight that their ascenders and descenders touch.

    >>> ink = np.zeros((30, 40), np.uint8); ink[2:12, :] = 1; ink[16:26, :] = 1
    >>> ink[12:16, 5] = 1  # a descender touching the next line
    >>> _split_stacked(ink, (0, 2, 39, 25))
    [(0, 2, 39, 12), (0, 13, 39, 25)]
    """
    x0, y0, x1, y1 = box
    n = y1 - y0 + 1
    if n < 2 * MIN_TEXT_HEIGHT + 1:
        return [box]
    # ink pixels per row (ink is 0/1)
    rows = cv2.reduce(ink[y0 : y1 + 1, x0 : x1 + 1], 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S)[:, 0]
    ahead = np.maximum.accumulate(rows)
    behind = np.maximum.accumulate(rows[::-1])[::-1]
    inner = rows[MIN_TEXT_HEIGHT : n - MIN_TEXT_HEIGHT]
    dense = np.minimum(
        ahead[MIN_TEXT_HEIGHT - 1 : n - MIN_TEXT_HEIGHT - 1],
        behind[MIN_TEXT_HEIGHT + 1 : n - MIN_TEXT_HEIGHT + 1],
    )
    # thin rows at a line's edge (ascenders, a T's bar) are not between lines
    valley = (dense >= rows.max() / 2) & (inner <= STACKED_VALLEY * dense)
    if not valley.any():
        return [box]
    cut = MIN_TEXT_HEIGHT + int(np.flatnonzero(valley)[np.argmin(inner[valley])])
    top = (x0, y0, x1, y0 + cut - 1) if rows[cut] == 0 else (x0, y0, x1, y0 + cut)
    return _split_stacked(ink, top) + _split_stacked(ink, (x0, y0 + cut + 1, x1, y1))


#: Glyphs chain when the taller is at most this many times as high as the lower (an x-high
#: letter beside one with a descender or an ascender).
CHAIN_HEIGHTS = 1.6


def joins(last: Box, glyph: Box) -> bool:
    """True when ``glyph`` continues a chain ending in ``last``: of similar height (at most
    :data:`CHAIN_HEIGHTS` times), on one line (overlapping by 0.6 of the lower) and less
    than 1.5 heights to its right."""
    h1, h2 = last[3] - last[1] + 1, glyph[3] - glyph[1] + 1
    overlap = min(last[3], glyph[3]) - max(last[1], glyph[1]) + 1
    return (
        overlap >= 0.6 * min(h1, h2)
        and max(h1, h2) <= CHAIN_HEIGHTS * min(h1, h2)
        and 0 <= glyph[0] - last[2] <= 1.5 * max(h1, h2)
    )


def merge_words(boxes: Sequence[Box]) -> list[Box]:
    """Join boxes on one text line (vertical overlap >= 60 % of the lower one, gap <= 1.2
    line heights): a name split into words is read as one line.

    >>> merge_words([(0, 0, 20, 10), (30, 1, 50, 11), (0, 40, 20, 50)])
    [(0, 0, 50, 11), (0, 40, 20, 50)]
    """
    merged = sorted(boxes)
    changed = True
    while changed:
        changed = False
        out: list[Box] = []
        for box in merged:
            for k, other in enumerate(out):
                overlap = min(box[3], other[3]) - max(box[1], other[1]) + 1
                lower = min(box[3] - box[1], other[3] - other[1]) + 1
                taller = max(box[3] - box[1], other[3] - other[1]) + 1
                gap = max(box[0], other[0]) - min(box[2], other[2]) - 1
                if overlap >= 0.6 * lower and gap <= 1.2 * taller:
                    out[k] = (
                        min(box[0], other[0]),
                        min(box[1], other[1]),
                        max(box[2], other[2]),
                        max(box[3], other[3]),
                    )
                    changed = True
                    break
            else:
                out.append(box)
        merged = out
    return merged


@dataclass(frozen=True)
class FoundText:
    """Where a frame may hold text: single lines, and bright areas read in strips."""

    lines: list[Box] = field(default_factory=list)
    unresolved: list[Box] = field(default_factory=list)


def _reading_order(box: Box) -> tuple[int, int, int, int]:
    return (box[1], box[0], box[3], box[2])


# ---------------------------------------------------------------------------------------
# Text, not speckle

#: A surround whose non-ink pixels stray more than :data:`ROUGH_LEVEL` from their median in
#: more than this share is textured (speckle), not a flat panel.
ROUGH_SHARE = 0.08
ROUGH_LEVEL = 25
#: Glyphs: ink blobs at least this share of the line height tall, at most
#: :data:`GLYPH_WIDTH` line heights (or :data:`GLYPH_MIN_WIDTH` pixels) wide (touching
#: letters included: small bitmap fonts touch).
GLYPH_HEIGHT = 0.55
GLYPH_WIDTH = 3.0
GLYPH_MIN_WIDTH = 40
#: Strokes (twice the 90th percentile of the ink's distance to the background) at most this
#: share of the line height or :data:`MIN_STROKE_PX` wide: speckle grains are solid.
MAX_STROKE = 0.4
MIN_STROKE_PX = 3.0
#: ... or this many pixels for a long run of glyphs on one baseline on a flat panel (small
#: bold fonts: 2-pixel strokes whose joints reach 4).
PANEL_STROKE_PX = 4.0
#: :meth:`FrameInk.distance_in` is exact up to this many line heights: a chamfer step costs
#: at least 0.955 (``cv2.DIST_L2``, 3x3 mask), so the margin of a quarter height reaches
#: 0.955 / 4 of it; the verdicts ask about half a stroke, at most MAX_STROKE / 2.
STROKE_REACH = 0.955 / 4
#: A flat background is a panel when the strokes stand at least this far above it.
PANEL_CONTRAST = 80
#: On a flat background: at least this share of the ink in glyphs.
PANEL_GLYPH_SHARE = 0.2
#: On a textured background: at least this many glyphs holding this share of the ink, on
#: one baseline, with thin strokes.
TEXTURE_GLYPHS = 3
TEXTURE_GLYPH_SHARE = 0.6
TEXTURE_BASELINE = 0.7
TEXTURE_STROKE = 0.35
#: ... drawn in one colour: each glyph's peak within :data:`TEXTURE_PEAK_SPREAD` levels of
#: the others, and at least :data:`TEXTURE_FLAT` of a glyph's ink (median over glyphs)
#: within 10 levels of its peak (strokes are flat; speckle grains are smooth bumps).
TEXTURE_PEAK_SPREAD = 30
TEXTURE_FLAT = 0.25
#: ... or :data:`TEXTURE_FLAT_MANY` for at least :data:`TEXTURE_MANY_GLYPHS` glyphs of which
#: :data:`TEXTURE_MANY_BASELINE` on the baseline.
TEXTURE_FLAT_MANY = 0.12
TEXTURE_MANY_GLYPHS = 6
TEXTURE_MANY_BASELINE = 0.9
#: One blob is a line of touching letters (small bitmap fonts) when a row crosses at least
#: this many strokes per line height of width.
MIN_RUNS = 1.2


@dataclass(frozen=True)
class LineEvidence:
    """What :func:`text_like` measured on one candidate box."""

    rough: float  # share of the surround that is textured
    glyphs: int  # glyph-sized ink blobs
    glyph_share: float  # share of the ink in them
    baseline: float  # share of glyphs whose bottom is on the line's baseline
    stroke: float  # stroke width / line height
    height: int
    width: int
    runs: float = 0.0  # ink runs per row per line height of width (strokes crossed)
    flat: float = 1.0  # median share of a glyph's ink near its peak (textured surround only)
    peak_spread: int = 0  # brightest minus dimmest glyph peak (textured surround only)

    @property
    def many_glyphs(self) -> bool:
        """A long run of glyphs on one baseline: small anti-aliased fonts have few pixels at
        their peak, and speckle does not line up this many grains."""
        return self.glyphs >= TEXTURE_MANY_GLYPHS and self.baseline >= TEXTURE_MANY_BASELINE

    @property
    def on_panel(self) -> bool:
        return self.rough <= ROUGH_SHARE

    @property
    def is_text(self) -> bool:
        widest = max(MIN_STROKE_PX, MAX_STROKE * self.height)
        if self.on_panel and self.many_glyphs:
            widest = max(widest, PANEL_STROKE_PX)  # small bold fonts on a panel
        if self.stroke * self.height > widest:
            return False
        if self.glyphs < 2 and not (
            self.on_panel and self.width >= 2 * self.height and self.runs >= MIN_RUNS
        ):
            return False  # one mark (a caliper, a lone letter, a blob) is not a line
        if self.on_panel:
            return self.glyph_share >= PANEL_GLYPH_SHARE
        return (
            self.glyphs >= TEXTURE_GLYPHS
            and self.glyph_share >= TEXTURE_GLYPH_SHARE
            and self.baseline >= TEXTURE_BASELINE
            and self.stroke <= TEXTURE_STROKE
            and self.flat >= (TEXTURE_FLAT_MANY if self.many_glyphs else TEXTURE_FLAT)
            and self.peak_spread <= TEXTURE_PEAK_SPREAD
        )


@dataclass(frozen=True)
class BlobsInside:
    """The blobs inside each of many boxes (:meth:`FrameInk.glyphs_inside`): box ``k``'s
    are ``self[k]``, as :meth:`FrameInk.blobs_inside` gives them."""

    blobs: np.ndarray  # box after box, each box's ascending
    starts: np.ndarray
    counts: np.ndarray

    def __getitem__(self, k: int) -> np.ndarray:
        start = int(self.starts[k])
        return self.blobs[start : start + int(self.counts[k])]


@dataclass(frozen=True)
class FrameInk:
    """A :func:`brightness` image with its ink (:func:`text_ink` at :data:`TEXT_LEVEL`), the
    ink's 8-connected blobs and the one-pixel halo around them: computed once per frame,
    then every candidate is judged on slices of them (the ink's distance to the background
    on the candidate's own surroundings, :meth:`distance_in`)."""

    level: np.ndarray
    ink: np.ndarray
    labels: np.ndarray
    stats: np.ndarray  # per blob (label - 1): x, y, width, height, area
    away: np.ndarray  # 1 away from the ink and its one-pixel halo, 0 on them
    by_left: np.ndarray  # indices of the blobs at least MIN_TEXT_HEIGHT - 1 high, by left edge
    lefts: np.ndarray  # their left edges, ascending
    by_top: np.ndarray  # the same blobs by top edge
    tops: np.ndarray  # their top edges, ascending

    @classmethod
    def of(
        cls,
        level: np.ndarray,
        tophat: np.ndarray | None = None,
        ink: np.ndarray | None = None,
        buffers: Buffers = _fresh,
    ) -> FrameInk:
        ink = text_ink(level, tophat, buffers=buffers) if ink is None else ink
        labels, stats = _ink_components(ink, buffers("labels", ink.shape, np.int32))
        away = cv2.dilate(ink, np.ones((3, 3), np.uint8), dst=buffers("away", ink.shape))
        cv2.threshold(away, 0, 1, cv2.THRESH_BINARY_INV, dst=away)
        # only blobs that can be a glyph or be chained (all that is asked about)
        tall = np.flatnonzero(stats[:, 3] >= MIN_TEXT_HEIGHT - 1)
        by_left = tall[np.argsort(stats[tall, 0], kind="stable")]
        by_top = tall[np.argsort(stats[tall, 1], kind="stable")]
        return cls(
            level, ink, labels, stats, away, by_left, stats[by_left, 0], by_top, stats[by_top, 1]
        )

    @functools.cached_property
    def _edges(self) -> tuple[list[int], list[int], np.ndarray]:
        """(:attr:`lefts`, :attr:`tops` as lists, each blob's x0, y0, -x1, -y1): what
        :meth:`blobs_inside` asks, one box at a time (bisecting a list costs a tenth of a
        numpy search for one value)."""
        x, y, w, h = (self.stats[:, k] for k in range(4))
        bounds = np.column_stack((x, y, 1 - x - w, 1 - y - h))
        return self.lefts.tolist(), self.tops.tolist(), bounds

    def blobs_inside(self, box: Box) -> np.ndarray:
        """Indices (label - 1), ascending, of the blobs lying wholly inside ``box`` that are
        at least ``MIN_TEXT_HEIGHT - 1`` high (lower ones are no glyph)."""
        x0, y0, x1, y1 = box
        lefts, tops, bounds = self._edges
        # a first cut on the left edges or on the top edges, whichever keeps fewer (a line's
        # rows hold few blobs; a tall box's columns may hold fewer)
        lo, hi = bisect_left(lefts, x0), bisect_right(lefts, x1)
        top, bottom = bisect_left(tops, y0), bisect_right(tops, y1)
        candidates = self.by_left[lo:hi] if hi - lo <= bottom - top else self.by_top[top:bottom]
        keep = (bounds[candidates] >= (x0, y0, -x1, -y1)).all(axis=1)
        return np.sort(candidates[keep])

    def glyph_counts(self, boxes: Sequence[Box]) -> np.ndarray:
        """Per box, all at once: the blobs wholly inside that :func:`text_like` counts as
        glyphs (a box with none, or with one and not twice as wide as high, is no text)."""
        return self.glyphs_inside(boxes)[0]

    def glyphs_inside(self, boxes: Sequence[Box]) -> tuple[np.ndarray, BlobsInside]:
        """(:meth:`glyph_counts`, the :meth:`blobs_inside` of each box), all boxes at once."""
        # blobs lower than any glyph (most speckle) count for no box; each box is asked
        # about the blobs whose left edge lies in its columns only (all pairs at once)
        b = np.asarray(boxes, np.int64).reshape(-1, 4)
        lo = np.searchsorted(self.lefts, b[:, 0], side="left")
        counts = np.searchsorted(self.lefts, b[:, 2], side="right") - lo
        total = int(counts.sum())
        i = np.repeat(np.arange(len(b)), counts)
        blob = self.by_left[
            lo[i] + np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        ]
        st = self.stats[blob]
        x, y, w, h = (st[:, k] for k in range(4))
        y0, x1, y1 = (b[i, k] for k in (1, 2, 3))  # x >= x0: the first cut
        height = y1 - y0 + 1
        inside = (y >= y0) & (x + w - 1 <= x1) & (y + h - 1 <= y1)
        glyph = (
            inside
            & (h >= np.maximum(MIN_TEXT_HEIGHT - 1, GLYPH_HEIGHT * height))
            & (w <= np.maximum(GLYPH_MIN_WIDTH, GLYPH_WIDTH * height))
        )
        i, blob = i[inside], blob[inside]
        order = np.lexsort((blob, i))  # box after box, each box's blobs ascending
        per_box = np.bincount(i, minlength=len(b))
        return np.bincount(i[glyph[inside]], minlength=len(b)), BlobsInside(
            blob[order], np.cumsum(per_box) - per_box, per_box
        )

    def distance_in(self, box: Box) -> np.ndarray:
        """The ink's distance to the background (``cv2.DIST_L2``, 3x3 mask) over ``box``,
        computed on the box and a margin of a quarter of its height plus 3 pixels around
        it: exact wherever the distance is under :data:`STROKE_REACH` line heights (the
        nearest background then lies inside the margin; beyond the frame counts as far,
        as on the whole frame), and at least that wherever it is over, so the strokes'
        verdicts, which look no further (:data:`MAX_STROKE`, :data:`TEXTURE_STROKE`), are
        the frame's."""
        x0, y0, x1, y1 = box
        margin = (y1 - y0 + 1) // 4 + 3
        rows, cols = self.ink.shape
        top, left = max(0, y0 - margin), max(0, x0 - margin)
        crop = self.ink[top : min(rows, y1 + margin + 1), left : min(cols, x1 + margin + 1)]
        distance = cv2.distanceTransform(np.ascontiguousarray(crop), cv2.DIST_L2, 3)
        return distance[y0 - top : y1 - top + 1, x0 - left : x1 - left + 1]


def _surround(frame_ink: FrameInk, box: Box) -> tuple[float, int]:
    """(Share of the pixels of ``box`` and around it (half a line height above and below),
    away from ink (and its one-pixel halo), that stray more than :data:`ROUGH_LEVEL` from
    their median: the panels and bands scanners draw text on are flat; speckle is not;
    and that median.)"""
    x0, y0, x1, y1 = box
    height = y1 - y0 + 1
    pad = max(3, height // 2)
    rows, cols = frame_ink.level.shape
    sl = (
        slice(max(0, y0 - pad), min(rows, y1 + pad + 1)),
        slice(max(0, x0 - pad), min(cols, x1 + pad + 1)),
    )
    # the background's levels as a histogram: its median and the share straying from it
    counts = cv2.calcHist([frame_ink.level[sl]], [0], frame_ink.away[sl], [256], [0, 256])
    # (whole numbers: exact in float32 to 2**24; read as numpy scalars, a list of the 256
    # sums costs more than the histogram)
    cumulative = counts.cumsum()
    size = int(cumulative[-1])
    if size < 8:
        return 1.0, 0
    median = int(cumulative.searchsorted((size - 1) // 2, side="right"))
    below = float(cumulative[median - ROUGH_LEVEL - 1]) if median > ROUGH_LEVEL else 0.0
    near = int(float(cumulative[min(255, median + ROUGH_LEVEL)]) - below)
    return float(size - near) / size, median


def _surrounds(frame_ink: FrameInk, boxes: np.ndarray) -> list[tuple[float, int]]:
    """:func:`_surround` of each of ``boxes`` (rows x0, y0, x1, y1): a histogram each, read
    all at once (the same whole-number sums, the same float division)."""
    b = np.asarray(boxes, np.int64).reshape(-1, 4)
    if len(b) == 0:
        return []
    rows, cols = frame_ink.level.shape
    pad = np.maximum(3, (b[:, 3] - b[:, 1] + 1) // 2)
    windows = np.column_stack(
        (
            np.maximum(0, b[:, 1] - pad),
            np.minimum(rows, b[:, 3] + pad + 1),
            np.maximum(0, b[:, 0] - pad),
            np.minimum(cols, b[:, 2] + pad + 1),
        )
    ).tolist()
    level, away = frame_ink.level, frame_ink.away
    counts = np.empty((len(b), 256), np.float32)
    for k, (top, bottom, left, right) in enumerate(windows):
        sl = (slice(top, bottom), slice(left, right))
        counts[k] = cv2.calcHist([level[sl]], [0], away[sl], [256], [0, 256]).reshape(-1)
    cumulative = counts.cumsum(axis=1)  # (whole numbers: exact in float32 to 2**24)
    size = cumulative[:, -1].astype(np.int64)
    # the first level whose cumulative count passes the middle (searchsorted, "right")
    median = (cumulative <= ((size - 1) // 2)[:, None]).sum(axis=1)
    at = np.arange(len(b))
    below = np.where(
        median > ROUGH_LEVEL, cumulative[at, np.maximum(0, median - ROUGH_LEVEL - 1)], 0.0
    )
    near = (cumulative[at, np.minimum(255, median + ROUGH_LEVEL)] - below).astype(np.int64)
    flat = size >= 8
    rough = np.ones(len(b))
    rough[flat] = (size[flat] - near[flat]) / size[flat]
    return list(zip(rough.tolist(), np.where(flat, median, 0).tolist(), strict=True))


def _box_pixels(
    shape: tuple[int, int], boxes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pixels of ``boxes`` (rows x0, y0, x1, y1, inclusive, inside a frame of
    ``shape``), all boxes at once, row after row: (flat indices into the frame, the start of
    each box row among them, the box of each box row)."""
    b = np.asarray(boxes, np.int64).reshape(-1, 4)
    heights, widths = b[:, 3] - b[:, 1] + 1, b[:, 2] - b[:, 0] + 1
    row_box = np.repeat(np.arange(len(b)), heights)
    row_y = (
        b[row_box, 1] + np.arange(row_box.size) - np.repeat(np.cumsum(heights) - heights, heights)
    )
    row_w = widths[row_box]
    row_start = np.cumsum(row_w) - row_w
    first = row_y * shape[1] + b[row_box, 0]  # flat index of each row's first pixel
    flat = np.repeat(first - row_start, row_w) + np.arange(int(row_w.sum()))
    return flat, row_start, row_box


def _runs_many(ink: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """:func:`_runs` of the ink inside each of ``boxes`` (rows x0, y0, x1, y1), all at
    once."""
    b = np.asarray(boxes, np.int64).reshape(-1, 4)
    if len(b) == 0:
        return np.zeros(0)
    flat, row_start, row_box = _box_pixels(ink.shape, b)
    inside = ink.ravel()[flat].astype(bool)
    # a run starts on ink after no ink, or on ink at the box's left edge
    starts = inside.copy()
    starts[1:] &= ~inside[:-1]
    starts[row_start] = inside[row_start]
    per_row = np.add.reduceat(starts.astype(np.int64), row_start)
    # the lower median of each box's rows with ink (as _quantile), boxes without any: 0
    lit = per_row > 0
    box_of, counts = row_box[lit], per_row[lit]
    order = np.lexsort((counts, box_of))
    rows_lit = np.bincount(box_of, minlength=len(b))
    offsets = np.cumsum(rows_lit) - rows_lit
    runs = np.zeros(len(b))
    has = rows_lit > 0
    median = counts[order][offsets[has] + (rows_lit[has] - 1) // 2]
    heights, widths = b[:, 3] - b[:, 1] + 1, b[:, 2] - b[:, 0] + 1
    runs[has] = median.astype(np.float64) * heights[has] / widths[has]
    return runs


def surround_roughness(frame_ink: FrameInk, box: Box) -> float:
    """How textured the surround of ``box`` is (see :func:`_surround`)."""
    return _surround(frame_ink, box)[0]


def text_like(
    frame_ink: FrameInk,
    box: Box,
    *,
    verdict_only: bool = False,
    surround: tuple[float, int] | None = None,
    inside: np.ndarray | None = None,
) -> LineEvidence:
    """Measure whether ``box`` (a candidate line) holds text or speckle. With
    ``verdict_only``, what cannot change :attr:`LineEvidence.is_text` any more is not
    measured (left at the defaults: the strokes once the glyphs already rule the box out,
    the runs across two glyphs or more, the glyphs' peaks once the strokes rule it out).
    ``surround`` and ``inside``: the box's :func:`_surround` and
    :meth:`FrameInk.blobs_inside`, when the caller has them."""
    x0, y0, x1, y1 = box
    height, width = y1 - y0 + 1, x1 - x0 + 1
    sl = (slice(y0, y1 + 1), slice(x0, x1 + 1))
    inner = frame_ink.ink[sl]
    total = cv2.countNonZero(inner)
    if total == 0:
        return LineEvidence(1.0, 0, 0.0, 0.0, 1.0, height, width)
    inside = frame_ink.blobs_inside(box) if inside is None else inside
    stats = frame_ink.stats[inside]
    heights, widths, areas = stats[:, 3], stats[:, 2], stats[:, 4]
    glyph = (heights >= max(MIN_TEXT_HEIGHT - 1, GLYPH_HEIGHT * height)) & (
        widths <= max(GLYPH_MIN_WIDTH, GLYPH_WIDTH * height)
    )
    glyphs = int(glyph.sum())
    share = float(areas[glyph].sum()) / float(total)
    if glyphs == 0 or (glyphs == 1 and width < 2 * height):
        # no glyph, or one mark in a short box: not a line whatever the background (the
        # surround is not measured)
        return LineEvidence(1.0, glyphs, share, 0.0, 1.0, height, width)
    runs = _runs(inner, height, width) if glyphs == 1 else 0.0
    if verdict_only and glyphs == 1 and runs < MIN_RUNS:
        # one blob is a line only as touching letters (is_text), whatever the surround (not
        # measured)
        return LineEvidence(1.0, glyphs, share, 0.0, 1.0, height, width, runs)
    rough, background = _surround(frame_ink, box) if surround is None else surround
    if glyphs == 0 or (glyphs == 1 and (rough > ROUGH_SHARE or width < 2 * height)):
        return LineEvidence(rough, glyphs, share, 0.0, 1.0, height, width)  # not a line
    # (few glyphs: as Python numbers)
    bottoms = (stats[glyph, 1] + heights[glyph]).tolist()
    base, near_base = sorted(bottoms)[(len(bottoms) - 1) // 2], 0.15 * height + 1
    baseline = sum(abs(bottom - base) <= near_base for bottom in bottoms) / len(bottoms)
    lit = inner > 0
    if rough <= ROUGH_SHARE and int(_quantile(frame_ink.level[sl][lit], 0.5)) - background < (
        PANEL_CONTRAST
    ):
        rough = 1.0  # flat but hardly darker than the strokes: fine speckle, not a panel
    if verdict_only and not (
        share >= PANEL_GLYPH_SHARE
        if rough <= ROUGH_SHARE
        else (
            glyphs >= TEXTURE_GLYPHS
            and share >= TEXTURE_GLYPH_SHARE
            and baseline >= TEXTURE_BASELINE
        )
    ):
        return LineEvidence(rough, glyphs, share, baseline, 1.0, height, width)  # not text
    stroke = 2.0 * float(_quantile(frame_ink.distance_in(box)[lit], 0.9)) / height
    if not verdict_only and glyphs > 1:
        runs = _runs(inner, height, width)
    flat, spread = 1.0, 0
    if rough > ROUGH_SHARE and (
        not verdict_only
        or (stroke <= TEXTURE_STROKE and stroke * height <= max(MIN_STROKE_PX, MAX_STROKE * height))
    ):
        # each glyph's peak and share of ink within 10 levels of it, all glyphs at once from
        # the labels of the box's ink (the glyphs lie wholly inside the box)
        own = np.asarray(inside[glyph] + 1)  # the glyphs' labels, ascending
        labels = frame_ink.labels[sl][lit]
        at = np.minimum(np.searchsorted(own, labels), own.size - 1)
        mine = own[at] == labels
        which, pixels = at[mine], frame_ink.level[sl][lit][mine]
        peak_of = np.zeros(own.size, np.int64)
        np.maximum.at(peak_of, which, pixels)
        near = np.bincount(which, weights=pixels >= peak_of[which] - 10, minlength=own.size)
        flats = near / np.bincount(which, minlength=own.size)
        peaks = peak_of.tolist()
        # one colour: most glyphs peak together (a speckle grain touching a letter aside)
        flat = float(_quantile(flats, 0.75))
        top = np.sort(peaks)[::-1][: max(2, int(np.ceil(0.7 * len(peaks))))]
        spread = int(top[0] - top[-1])
    return LineEvidence(rough, glyphs, share, baseline, stroke, height, width, runs, flat, spread)


def _runs(inner: np.ndarray, height: int, width: int) -> float:
    """Ink runs a row of ``inner`` (a box's ink) crosses (median over the rows with ink),
    per line height of width (:attr:`LineEvidence.runs`)."""
    # a run starts on ink after no ink (ink is 0/1: the saturated difference is 1 there)
    starts: np.ndarray = inner[:, 0].astype(np.int32)
    if width > 1:
        after = cv2.subtract(inner[:, 1:], inner[:, :-1])
        starts = starts + np.asarray(cv2.reduce(after, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S))[:, 0]
    return float(_quantile(starts[starts > 0], 0.5)) * height / width if starts.any() else 0.0


def _extend(frame_ink: FrameInk, box: Box) -> Box:
    """``box`` widened over ink in its rows less than :data:`EXTEND_GAP` line heights away
    while the surround stays flat: a lone character set apart by spaces ("4:00  8 CM FN")
    belongs to its line."""
    x0, y0, x1, y1 = box
    height = y1 - y0 + 1
    gap = max(4, round(EXTEND_GAP * height))
    # columns with ink in the box's rows (as sums: REDUCE_MAX is slow on uint8), ascending
    band = cv2.reduce(frame_ink.ink[y0 : y1 + 1], 0, cv2.REDUCE_SUM, dtype=cv2.CV_32S)[0]
    inked = np.flatnonzero(band).tolist()
    # the last inked column at most gap to the right, again from there; then to the left
    right = x1
    while (k := bisect_right(inked, right + gap) - 1) >= 0 and inked[k] > right:
        right = inked[k]
    left = x0
    while (k := bisect_left(inked, left - gap)) < len(inked) and inked[k] < left:
        left = inked[k]
    if (left, right) == (x0, x1):
        return box
    wider = (left, y0, right, y1)
    return wider if surround_roughness(frame_ink, wider) <= ROUGH_SHARE else box


#: :func:`_extend` joins ink up to this many line heights beside a line.
EXTEND_GAP = 1.5


def find_text(
    frame: np.ndarray, *, level: np.ndarray | None = None, tophat: np.ndarray | None = None
) -> FoundText:
    """Text lines of ``frame`` (any layout, anywhere: bands, panels, inside the image) with
    speckle told apart (:func:`text_like`), and the bright areas on a flat background that do
    not come apart into lines (to be read in strips). ``level``: the frame's
    :func:`brightness`, ``tophat``: that image's :func:`stroke_contrast` (left unchanged),
    when the caller has them. The top-hat's square kernel and borders are the same across
    rows and columns: a frame turned a quarter has the turned top-hat of the upright one
    (tested), so the search of a turned view can take the upright frame's."""
    with _one_thread():
        level = brightness(frame, _REUSED) if level is None else level
        return _find_text(level, _REUSED, tophat)


# ---------------------------------------------------------------------------------------
# Lines: the ink's blobs chained


#: :func:`_chain_pairs` looks for a box's neighbours in bands of this many rows (by their
#: top edges).
_PAIR_BAND = 24
#: ... when there are at least this many boxes.
_PAIR_BANDS_FROM = 64


def _chain_pairs(b: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(``i``, ``j``), in no particular order: the pairs of boxes (rows x0, y0, x1, y1 of
    ``b``, int64; ``h`` their heights) where box ``j``'s left edge lies from box ``i``'s
    right edge to ``floor(1.5 * CHAIN_HEIGHTS * h[i])`` columns right of it (a joining box
    is at most 1.5 of the taller height away, and that at most CHAIN_HEIGHTS of ``h[i]``),
    and, from :data:`_PAIR_BANDS_FROM` boxes on, at least those of them where box ``j``
    shares a row with box ``i`` and is at most twice as high (a pair :func:`joins` links
    overlaps by 0.6 of the lower height, heights within CHAIN_HEIGHTS): each box looks among
    the boxes whose top edge lies in the bands of :data:`_PAIR_BAND` rows that such a box's
    can lie in, not among all the frame's rows."""
    n = len(b)
    x0, y0, x1, y1 = (b[:, k] for k in range(4))
    if n < _PAIR_BANDS_FROM:  # (few boxes: every box in the columns, as one band costs less)
        order = np.argsort(x0, kind="stable")
        lefts = x0[order]
        lo = np.searchsorted(lefts, x1, side="left")
        hi = np.searchsorted(lefts, x1 + np.floor(1.5 * CHAIN_HEIGHTS * h), side="right")
        counts = hi - lo
        total = int(counts.sum())
        i = np.repeat(np.arange(n), counts)
        return i, order[np.arange(total) - np.repeat(np.cumsum(counts) - counts - lo, counts)]
    tallest = int(h.max())
    if int(h.min()) < 1:  # (no such box is chained; all rows, as for any box)
        top_band = bottom_band = np.zeros(n, np.int64)
        band = np.zeros(n, np.int64)
    else:
        # a box sharing a row with box i and at most twice as high (CHAIN_HEIGHTS < 2) has its
        # top edge from y0 - min(tallest, 2 h) + 1 to y1
        reach = np.minimum(tallest, 2 * h)
        top_band = (y0 - reach + 1) // _PAIR_BAND
        bottom_band = y1 // _PAIR_BAND
        band = y0 // _PAIR_BAND
    # the boxes by band, then by left edge: one key, ascending
    left = int(x0.min())
    right = x1 + np.floor(1.5 * CHAIN_HEIGHTS * h).astype(np.int64)
    span = int(max(int(right.max()), int(x0.max()))) - left + 1
    key = band * span + (x0 - left)
    order = np.argsort(key, kind="stable")
    keys = key[order]
    # each box once per band it looks into, then each of those bands' boxes in its columns
    bands = bottom_band - top_band + 1
    box = np.repeat(np.arange(n), bands)
    at = top_band[box] + (np.arange(box.size) - np.repeat(np.cumsum(bands) - bands, bands))
    lo = np.searchsorted(keys, at * span + (np.maximum(x1, left) - left)[box], side="left")
    hi = np.searchsorted(keys, at * span + (right - left)[box], side="right")
    counts = np.maximum(hi - lo, 0)
    total = int(counts.sum())
    i = box[np.repeat(np.arange(box.size), counts)]
    j = order[np.arange(total) - np.repeat(np.cumsum(counts) - counts - lo, counts)]
    return i, j


def _chains(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``boxes`` (rows x0, y0, x1, y1) in chains linked by :func:`joins`: each box to its
    nearest joining box on the right when that box's nearest joining box on the left is
    this one (all pairs at once). (Indices into ``boxes`` chain after chain, where each
    chain starts among them.)"""
    n = len(boxes)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    b = boxes.astype(np.int64)
    h = b[:, 3] - b[:, 1] + 1
    i, j = _chain_pairs(b, h)
    if i.size == 0:
        return np.arange(n), np.arange(n)
    hi_, hj = h[i], h[j]
    overlap = np.minimum(b[i, 3], b[j, 3]) - np.maximum(b[i, 1], b[j, 1]) + 1
    gap = b[j, 0] - b[i, 2]
    low, tall = np.minimum(hi_, hj), np.maximum(hi_, hj)
    ok = (
        (overlap >= 0.6 * low)
        & (tall <= CHAIN_HEIGHTS * low)
        & (gap >= 0)
        & (gap <= 1.5 * tall)
        & (i != j)
    )
    i, j, gap, overlap = i[ok], j[ok], gap[ok], overlap[ok]
    succ = np.full(n, -1)
    pred = np.full(n, -1)
    if i.size:
        # nearest on the right of each box (then the most overlapping), and on the left
        # (ties by the other box's index: the order the pairs were once listed in, by
        # left edges, equal for boxes at one gap)
        by_i = np.lexsort((j, -overlap, gap, i))
        first = by_i[np.r_[True, i[by_i][1:] != i[by_i][:-1]]]
        succ[i[first]] = j[first]
        by_j = np.lexsort((i, -overlap, gap, j))
        first = by_j[np.r_[True, j[by_j][1:] != j[by_j][:-1]]]
        pred[j[first]] = i[first]
        mutual = succ >= 0
        mutual[mutual] = pred[succ[mutual]] == np.flatnonzero(mutual)
        succ[~mutual] = -1
    has_pred = np.zeros(n, bool)
    has_pred[succ[succ >= 0]] = True
    # the chains in order, each from its head along the links
    members: list[int] = []
    starts: list[int] = []
    nxt = succ.tolist()
    for head in np.flatnonzero(~has_pred).tolist():
        starts.append(len(members))
        k = head
        while k >= 0:
            members.append(k)
            k = nxt[k]
    return np.array(members, np.int64), np.array(starts, np.int64)


def _chain_boxes(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Box, count of boxes) of each chain of ``boxes`` (see :func:`_chains`)."""
    members, starts = _chains(boxes)
    if members.size == 0:
        return np.zeros((0, 4), np.int64), np.zeros(0, np.int64)
    b = boxes[members]
    low = np.minimum.reduceat(b[:, :2], starts)
    high = np.maximum.reduceat(b[:, 2:], starts)
    return np.column_stack((low, high)), np.diff(np.r_[starts, members.size])


def _find_text(level: np.ndarray, buffers: Buffers, tophat: np.ndarray | None = None) -> FoundText:
    tophat = stroke_contrast(level, buffers) if tophat is None else tophat
    small = shrunk(level)
    ink = text_ink(level, tophat, TEXT_LEVEL, DIM_TEXT_LEVEL, small, buffers)
    frame_ink = FrameInk.of(level, tophat, ink, buffers)
    accepted = _lines(frame_ink, MIN_TEXT_HEIGHT)
    accepted += _coarse_lines(level, small, buffers)
    # bright areas too tall for a line, on a flat background: read in strips
    x, y, w, h = (frame_ink.stats[:, k] for k in range(4))
    tall = np.flatnonzero((h > MAX_LINE_HEIGHT) & (w >= MIN_AREA_WIDTH)).tolist()
    kept = [(int(x[k]), int(y[k]), int(x[k] + w[k] - 1), int(y[k] + h[k] - 1)) for k in tall]
    kept = [
        box
        for box, (rough, _) in zip(kept, _surrounds(frame_ink, np.array(kept)), strict=True)
        if rough <= ROUGH_SHARE
    ]
    return FoundText(
        sorted(set(accepted), key=_reading_order), sorted(set(kept), key=_reading_order)
    )


def _lines(frame_ink: FrameInk, least: int) -> list[Box]:
    """Text lines at least ``least`` pixels high among the chains of ``frame_ink``'s
    glyph-sized blobs."""
    x, y, w, h, area = (frame_ink.stats[:, k] for k in range(5))
    boxes = np.column_stack((x, y, x + w - 1, y + h - 1))
    # glyph-sized blobs (letters, digits, touching letters; not solid blocks, but strokes
    # as thin as an I's) in chains
    solid = (area > MAX_FILL * w * h) & (4 * w > h)
    glyph = (h >= MIN_TEXT_HEIGHT) & (h <= MAX_LINE_HEIGHT) & ~solid
    chains, counts = _chain_boxes(boxes[glyph])
    widths, heights = chains[:, 2] - chains[:, 0] + 1, chains[:, 3] - chains[:, 1] + 1
    # one blob is a line only as touching letters, at least twice as wide as high
    candidates: list[Box] = [
        (b[0], b[1], b[2], b[3])
        for b in chains[((counts > 1) | (widths >= 2 * heights)) & (heights >= least)].tolist()
    ]
    if not candidates:
        return []
    # the verdicts taken before text_like, all candidates at once (see _rejected): no
    # glyph, one glyph in a short box, one blob crossing few strokes per row
    b = np.asarray(candidates, np.int64).reshape(-1, 4)
    glyphs, inside = frame_ink.glyphs_inside(candidates)
    wide = b[:, 2] - b[:, 0] >= 2 * (b[:, 3] - b[:, 1]) + 1
    keep = (glyphs > 1) | ((glyphs == 1) & wide)
    single = np.flatnonzero(keep & (glyphs == 1))
    keep[single[_runs_many(frame_ink.ink, b[single]) < MIN_RUNS]] = False
    accepted: list[Box] = []
    kept = np.flatnonzero(keep)
    for k, surround in zip(kept.tolist(), _surrounds(frame_ink, b[kept]), strict=True):
        box = candidates[k]
        if surround[0] > ROUGH_SHARE and glyphs[k] < TEXTURE_GLYPHS:
            continue  # on a textured surround a line needs more glyphs (text_like)
        evidence = text_like(frame_ink, box, verdict_only=True, surround=surround, inside=inside[k])
        if evidence.is_text:
            box = _extend(frame_ink, box) if evidence.on_panel else box
            accepted.append(_marks_above_below(frame_ink.ink, box))
    # lines set so tight that ascenders and descenders touch come apart between them
    return [
        part
        for box in merge_words(accepted)
        for part in _split_stacked(frame_ink.ink, box)
        if part[3] - part[1] + 1 >= least
    ]


def _marks_above_below(ink: np.ndarray, box: Box, reach: int = 2) -> Box:
    """``box`` grown over the ink rows right above and below it, up to ``reach`` rows:
    marks lower than a glyph that touch the line's rows (a caret, accents, the dots of i
    and j) belong to it.

    >>> ink = np.zeros((12, 10), np.uint8); ink[4:9, 2:8] = 1; ink[2:4, 4] = 1
    >>> _marks_above_below(ink, (2, 4, 7, 8))
    (2, 2, 7, 8)
    """
    x0, y0, x1, y1 = box
    top, bottom = max(0, y0 - reach), min(ink.shape[0] - 1, y1 + reach)
    rows = cv2.reduce(ink[top : bottom + 1, x0 : x1 + 1], 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S)
    inked = rows[:, 0] > 0
    while y0 > top and inked[y0 - 1 - top]:
        y0 -= 1
    while y1 < bottom and inked[y1 + 1 - top]:
        y1 += 1
    return (x0, y0, x1, y1)


def _rejected(frame_ink: FrameInk, box: Box, glyphs: int) -> bool:
    """What :func:`text_like` rejects whatever the surround, from the glyphs inside ``box``
    and, for one glyph, the ink runs its rows cross (touching letters cross many). (One box
    at a time: :func:`_lines` takes the same verdicts on all candidates at once.)"""
    x0, y0, x1, y1 = box
    if glyphs == 0 or (glyphs == 1 and x1 - x0 < 2 * (y1 - y0) + 1):
        return True
    if glyphs > 1:
        return False
    inner = frame_ink.ink[y0 : y1 + 1, x0 : x1 + 1]
    return _runs(inner, y1 - y0 + 1, x1 - x0 + 1) < MIN_RUNS


def _coarse_lines(level: np.ndarray, small: np.ndarray, buffers: Buffers = _fresh) -> list[Box]:
    """Large text (taller than :data:`MAX_LINE_HEIGHT`, or with strokes too wide for the
    top-hat): the same search on ``small`` (:func:`shrunk`), judged there."""
    rows, cols = level.shape
    f = COARSE_FACTOR
    if min(rows, cols) < 2 * f * MIN_TEXT_HEIGHT:
        return []
    small_tophat = stroke_contrast(small, buffers)
    # large text is not thin
    small_ink = text_ink(small, small_tophat, TEXT_LEVEL, buffers=buffers)
    least = MAX_LINE_HEIGHT // f + 1  # lower lines are found at full resolution
    return [
        (x0 * f, y0 * f, min(cols - 1, x1 * f + f - 1), min(rows - 1, y1 * f + f - 1))
        for x0, y0, x1, y1 in _lines(FrameInk.of(small, small_tophat, small_ink, buffers), least)
    ]
