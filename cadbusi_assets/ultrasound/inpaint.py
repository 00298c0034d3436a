"""Caliper removal: a tight mask from the detected points, then a local fill.

Each mark gets two masks. The *fill* mask holds the pixels whose grey level the mark changed:
bright or saturated pixels on the mark's own strokes ('+' or 'x', arm length measured from
the image) and the dots of a measurement line joining two marks. Those are interpolated from
their neighbours. The *recolour* mask holds the colour halo that JPEG chroma subsampling
smears around a coloured mark on a grey image: those pixels keep their grey level and only
lose the tint, except the bright ones, which are the mark's own faded pixels and join the
fill mask. Pixels outside both masks never change.

Fill methods (all work on a small window around each mark, never on the whole frame):

* ``"torch"`` (the default, also ``"auto"``): normalized Gaussian convolution, i.e. the
  locally weighted mean of the unmasked neighbours (anisotropic, twice as wide across the
  image as down it, as speckle is: sigma 0.7 x 0.4 px next to the unmasked image, wider
  deeper inside a wide mask; :data:`SIGMAS`), computed with torch on every window of a
  batch of frames at once on CUDA when present, else window by window with OpenCV in
  float64 on the CPU (:mod:`.inpaint_torch`; ``$CADBUSI_INPAINT_DEVICE`` forces a device).
  Exact fixed-point arithmetic: a frame gives the same bytes alone or in a batch, on any
  device. Speckle under a stroke cannot be recovered; its best estimate in
  the mean-square sense is a local mean of the nearest pixels.
* ``"normconv"``: the same normalized convolution with OpenCV, window by window (float32;
  within one grey level of ``"torch"``).
* ``"telea"`` / ``"ns"``: OpenCV ``cv2.inpaint``.

:func:`inpaint_frames` is the one entry point: the pipeline stage and ``cadbusi analyze``
hand it batches of frames, :func:`inpaint_calipers` is a batch of one.

On grey images (and grey images with coloured marks) the fill is computed on the grey level
and written to all channels, so the result is grey again.

>>> import numpy as np
>>> frame = np.full((40, 40), 90, np.uint8)
>>> frame[20, 14:27] = 255; frame[14:27, 20] = 255
>>> out, mask = inpaint_calipers(frame, [(20, 20)])
>>> int(out[20, 20]), bool(mask[20, 20]), bool(mask[5, 5]), int(mask.sum())
(90, True, False, 29)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from cadbusi_assets.ultrasound.calipers import (
    HOLLOW_BAR_LEVEL,
    HOLLOW_DARK,
    arm_length,
    cross_pixels,
    hollow_marks,
    stroke_fill,
    white_strokes,
)
from cadbusi_assets.ultrasound.overlay import (
    CHROMA_LEVEL,
    COLOUR_MARK_LEVEL,
    SATURATED_LEVEL,
    WHITE_CONTRAST,
    WHITE_LEVEL,
    ColourMaps,
    chroma,
    overlay_candidates,
    saturated_mark_pixels,
    to_grey,
)

#: Half-size of the window searched around a caliper point.
REACH = 20
#: Extra context around the window for the fill.
CONTEXT = 8
#: Gaussian sigmas ``(along x, along y)`` of the normalized convolution, wide to narrow: a
#: narrower estimate replaces the wider one wherever its weights reach :data:`MIN_WEIGHT`.
#: The narrowest is under a pixel, so a pixel next to the unmasked image takes (nearly) its
#: nearest neighbours' mean: speckle is correlated over a few pixels, so the nearest pixels
#: predict it best (on the true caliper masks of the tuning families, isotropic sigma 0.5 px
#: gave 24.8 dB inside the mask against 22.8 dB for 1 px and 20.6 dB for 2 px). Speckle is
#: elongated across the image (the lateral resolution of a probe is coarser than the axial
#: one; the generator blurs its noise 1.5-3 px across and 0.8-1.4 px down): weighting the
#: neighbours to the left and right twice as far as those above and below gave, on the
#: frames of the tuning families without JPEG and their true masks, 25.7 dB median (26.5
#: mean) against 24.4 (24.8) for the isotropic ((4, 1, 0.5) px) sigmas.
SIGMAS: tuple[tuple[float, float], ...] = ((4.0, 4.0), (1.4, 0.8), (0.7, 0.4))
SIGMA_NEAR = SIGMAS[-1]
SIGMA_FAR = SIGMAS[0]
MIN_WEIGHT = 0.05
#: :func:`caliper_masks` looks at the box around the points grown by this: the colour
#: graphics' box (:data:`PIECE_NEAR` + :data:`PIECE_MAX_SIDE`), their halo
#: (:data:`HALO_REACH`), the background of :func:`_promote_bright` and its 15 px blur.
REGION_MARGIN = 96
#: Chroma above which a pixel near a coloured mark belongs to its JPEG halo, and how far the
#: halo reaches (JPEG codes 4:2:2 chroma in 16x8 blocks, so the tint spreads that far).
HALO_CHROMA = 6
HALO_REACH = (31, 17)
METHODS = ("auto", "torch", "normconv", "telea", "ns")
#: Share of samples along a segment between two marks that must be lit for a dotted line.
LINE_MIN_HITS = 0.08
MAX_LINE_LENGTH = 800
#: A window is grey when at most this share of its unmasked pixels has chroma above 8.
GREY_WINDOW_SHARE = 0.05
#: Coloured graphics of a caliper besides its mark: small pieces (numbers, dots of a line or
#: an ellipse trace) of about the mark's colour, near a mark or between two marks.
PIECE_MAX_SIDE = 16
PIECE_NEAR = 30
PIECE_COLOUR = 60
#: A pixel of a coloured mark's component is drawn when its grey level is within this of the
#: mark's (see :func:`_colour_graphics`).
LUMA_TOLERANCE = 20
#: A white mark's strokes are sought this far (px) from its point: the opening of
#: :func:`.calipers.white_strokes` takes the crossing of a thick '+' or 'x' away, so its
#: nearest stroke pixels are 3-4 px from the centre.
WHITE_MARK_NEAR = 4
#: A mark's component is at most this wide (a large arrow: a 36 px shaft, its wings and the
#: JPEG bleed) and, when wider than :data:`SOLID_MARK_SIDE`, fills at most this share of its
#: box; a larger or solid component under a point is a colour map (elastography, Doppler).
MARK_MAX_SIDE = 64
SOLID_MARK_SIDE = 20
MARK_MAX_FILL = 0.6
#: Half-side of the square whose pixels outside the graphics give the image's level there.
LEVEL_REACH = 3
#: A light mark's dark outline (:func:`_dark_outline`): pixels at most this dark, this share
#: of the ring around the mark, and the image beyond the ring this much brighter. The
#: EPIQ's hollow '+' (black 0 beside 255 bars on speckle around 100-160) holds about two
#: thirds of its ring black.
OUTLINE_LEVEL = 48
OUTLINE_SHARE = 0.5
OUTLINE_CONTRAST = 40
#: A hollow '+' (:func:`_hollow_fill`) is the mark at a point when centred this close (px),
#: and its mask reaches this far beyond its box.
HOLLOW_NEAR = 2
HOLLOW_MARGIN = 1
#: Half-side of the window searched for a hollow mark (the largest is 27 px across).
HOLLOW_REACH = 16

Point = Sequence[int]


@dataclass(frozen=True)
class CaliperMasks:
    """Boolean full-frame masks: pixels to interpolate and pixels to make grey. ``box``
    ``(x0, y0, x1, y1)`` (exclusive ends), when known, holds every masked pixel: the
    full-frame work on the masks (their union, the fill's windows) stays inside it."""

    fill: np.ndarray
    recolour: np.ndarray
    box: tuple[int, int, int, int] | None = None

    @property
    def union(self) -> np.ndarray:
        if self.box is None:
            return self.fill | self.recolour
        x0, y0, x1, y1 = self.box
        out = np.zeros(self.fill.shape, bool)
        np.bitwise_or(self.fill[y0:y1, x0:x1], self.recolour[y0:y1, x0:x1], out=out[y0:y1, x0:x1])
        return out


def _maps_of(
    sub: np.ndarray, maps: ColourMaps | None, y0: int, y1: int, x0: int, x1: int
) -> ColourMaps | None:
    """The :class:`.overlay.ColourMaps` of ``sub`` (``frame[y0:y1, x0:x1]``): cropped from
    the frame's ``maps`` when given (they are per pixel), else computed; None when grey."""
    if sub.ndim != 3:
        return None
    return maps.crop(y0, y1, x0, x1) if maps is not None else ColourMaps.of(sub)


def _window(shape: tuple[int, ...], x: int, y: int, half: int) -> tuple[int, int, int, int]:
    height, width = shape[:2]
    return max(0, x - half), max(0, y - half), min(width, x + half + 1), min(height, y + half + 1)


def _bright(grey: np.ndarray) -> np.ndarray:
    """Pixels a white or yellow mark brightened (the grey-level part of a mark)."""
    background = cv2.blur(grey, (15, 15))
    return ((grey >= WHITE_LEVEL) & (cv2.subtract(grey, background) >= WHITE_CONTRAST)) | (
        grey >= SATURATED_LEVEL
    )


def _mark_masks(
    frame: np.ndarray, grey: np.ndarray, x: int, y: int, maps: ColourMaps | None = None
) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """Fill and recolour masks of one mark in its window, and the window (exclusive end);
    ``maps``: the frame's :class:`.overlay.ColourMaps`, when the caller has them."""
    wx0, wy0, wx1, wy1 = _window(frame.shape, x, y, REACH + HALO_REACH[0] // 2 + 2)
    sub, sub_grey = frame[wy0:wy1, wx0:wx1], grey[wy0:wy1, wx0:wx1]
    sub_maps = _maps_of(sub, maps, wy0, wy1, wx0, wx1)
    candidates = overlay_candidates(sub, sub_grey, sub_maps)
    cx, cy = x - wx0, y - wy0
    fills = {style: stroke_fill(candidates, cx, cy, style) for style in ("+", "x")}
    arms = {style: arm_length(candidates, cx, cy, style, limit=REACH) for style in ("+", "x")}
    style = max(("+", "x"), key=lambda s: (fills[s], arms[s]))
    arm = max(3, arms[style])
    model = cross_pixels(candidates.shape, [(cx, cy)], arm, style)
    # Bright pixels within one pixel of the stroke model: JPEG blurs a thin white stroke by
    # about a pixel, and bright speckle further out is image (masking it only takes the
    # fill's nearest neighbours away).
    band: np.ndarray = cv2.dilate(model, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3)))
    fill = (_bright(sub_grey).astype(np.uint8) & band) | model
    # Bright pixels beside the strokes at the image's own level are speckle (JPEG blurs a
    # stroke's level into them no further than that), as in :func:`_colour_graphics`.
    reference = np.full(sub_grey.shape, _luma_mode(sub_grey[model.astype(bool)]), np.int16)
    beside = fill.astype(bool) & ~model.astype(bool)
    fill[_off_level(sub_grey, beside, band.astype(bool), reference)] = 0
    fill |= _dark_outline(sub_grey, fill)
    recolour = np.zeros_like(fill)
    if sub.ndim == 3:
        halo_band: np.ndarray = cv2.dilate(
            band, cv2.getStructuringElement(cv2.MORPH_RECT, HALO_REACH)
        )
        tint = sub_maps.chroma if sub_maps is not None else chroma(sub)
        # The halo is JPEG's on a grey image: on a colour map (Doppler, elastography) the
        # tinted pixels around the mark are the map's, and they stay.
        outside = tint[halo_band == 0]
        if outside.size and float(np.mean(outside > 8)) <= GREY_WINDOW_SHARE:
            recolour = (tint >= HALO_CHROMA).astype(np.uint8) & halo_band & (1 - fill)
    return fill, recolour, (wx0, wy0, wx1, wy1)


def _hollow_fill(level: np.ndarray, cx: int, cy: int) -> np.ndarray | None:
    """Fill mask (uint8 0/1) of a hollow '+' (:func:`.calipers.hollow_marks`) centred
    within :data:`HOLLOW_NEAR` px of ``(cx, cy)`` in ``level`` (a mark's window, its
    brightest channel), or None when there is none: in the mark's box grown by
    :data:`HOLLOW_MARGIN`, its light pixels, the dark ones beside them (a filled mark's
    outline) and the dark ones they enclose (an outline mark's dark inside). The stroke model of a solid '+' misses it: its
    arms start beyond an empty centre. Pixels at the image's own levels stay."""
    marks = [m for m in hollow_marks(level) if max(abs(m.x - cx), abs(m.y - cy)) <= HOLLOW_NEAR]
    if not marks:
        return None
    mark = min(marks, key=lambda m: abs(m.x - cx) + abs(m.y - cy))
    height, width = level.shape
    bx0, by0, bx1, by1 = mark.box
    x0, y0 = max(0, bx0 - HOLLOW_MARGIN), max(0, by0 - HOLLOW_MARGIN)
    x1, y1 = min(width, bx1 + HOLLOW_MARGIN + 1), min(height, by1 + HOLLOW_MARGIN + 1)
    box = level[y0:y1, x0:x1]
    light = (box >= HOLLOW_BAR_LEVEL).astype(np.uint8)
    square = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
    dark = (box <= HOLLOW_DARK).astype(np.uint8)
    # the dark inside an outline mark: unlit pixels the light encloses (not reached from
    # the box's border through unlit ones)
    unlit = np.pad(1 - light, 1, constant_values=1)
    cv2.floodFill(unlit, None, (0, 0), 2, flags=4)
    enclosed = (unlit[1:-1, 1:-1] == 1).astype(np.uint8)
    fill = np.zeros(level.shape, np.uint8)
    fill[y0:y1, x0:x1] = light | (dark & (cv2.dilate(light, square) | enclosed))
    return fill


def _dark_outline(grey: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """The dark outline some scanners draw around a light mark (the Philips EPIQ's hollow
    '+': light bars edged with black, :func:`.calipers.hollow_marks`), as uint8 0/1: the
    pixels next to the mark's ``fill`` at most :data:`OUTLINE_LEVEL`, when they make up at
    least :data:`OUTLINE_SHARE` of that ring and the image just beyond it is brighter by
    :data:`OUTLINE_CONTRAST` (medians). Left in, the fill spreads the outline's black over
    the mark; a light mark on a dark image (a cyst) has no such contrast and loses nothing."""
    square = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
    near: np.ndarray = cv2.dilate(fill, square)
    ring = (near & (1 - fill)).astype(bool)
    if not ring.any():
        return np.zeros_like(fill)
    dark = ring & (grey <= OUTLINE_LEVEL)
    if dark.sum() < OUTLINE_SHARE * ring.sum():
        return np.zeros_like(fill)
    grown: np.ndarray = cv2.dilate(near, square)
    beyond = (grown & (1 - near)).astype(bool)
    if not beyond.any():
        return np.zeros_like(fill)
    if float(np.median(grey[beyond])) - float(np.median(grey[dark])) < OUTLINE_CONTRAST:
        return np.zeros_like(fill)
    return dark.astype(np.uint8)


def _line_samples(
    p: tuple[int, int], q: tuple[int, int], shape: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """The pixels sampled for a line from mark ``p`` to mark ``q``: ``(sx, sy)`` every pixel
    along the segment (clear of the marks' centres) and one pixel to either side of it
    (three rows of samples, concatenated), and ``(xs, ys)`` the samples on the segment.
    None when the marks are too close or too far apart for a measurement line."""
    (x0, y0), (x1, y1) = p, q
    length = float(np.hypot(x1 - x0, y1 - y0))
    clearance = 3
    if length < 24 or length > MAX_LINE_LENGTH:
        return None
    height, width = shape[:2]
    t = np.arange(clearance, length - clearance) / length
    xs = np.rint(x0 + t * (x1 - x0)).astype(np.intp)
    ys = np.rint(y0 + t * (y1 - y0)).astype(np.intp)
    nx, ny = -(y1 - y0) / length, (x1 - x0) / length
    offsets = np.array([-1.0, 0.0, 1.0])[:, None]
    sx = np.clip(np.rint(xs + offsets * nx).astype(np.intp), 0, width - 1).ravel()
    sy = np.clip(np.rint(ys + offsets * ny).astype(np.intp), 0, height - 1).ravel()
    return sx, sy, xs, ys


def _line_samples_many(
    ends: Sequence[tuple[tuple[int, int], tuple[int, int]]], shape: tuple[int, ...]
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None]:
    """:func:`_line_samples` of every ``(p, q)`` of ``ends``, computed for all segments at
    once: the same arrays (the same float operations, element by element, in one pass)."""
    out: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None] = [None] * len(ends)
    if not ends:
        return out
    e = np.array(ends, np.int64).reshape(-1, 4)  # x0, y0, x1, y1
    dx, dy = e[:, 2] - e[:, 0], e[:, 3] - e[:, 1]
    length = np.hypot(dx, dy)
    clearance = 3
    kept = np.flatnonzero((length >= 24) & (length <= MAX_LINE_LENGTH))
    if kept.size == 0:
        return out
    # each segment's np.arange(clearance, length - clearance): ceil of the float span
    counts = np.array(
        [math.ceil((float(length[k]) - clearance) - clearance) for k in kept.tolist()], np.int64
    )
    at = np.repeat(np.arange(kept.size), counts)
    starts = np.cumsum(counts) - counts
    steps = (np.arange(int(counts.sum())) - starts[at] + clearance).astype(np.float64)
    k = kept[at]
    t = steps / length[k]
    xs = np.rint(e[k, 0] + t * dx[k]).astype(np.intp)
    ys = np.rint(e[k, 1] + t * dy[k]).astype(np.intp)
    nx, ny = -dy[k] / length[k], dx[k] / length[k]
    offsets = np.array([-1.0, 0.0, 1.0])[:, None]
    height, width = shape[:2]
    sx = np.clip(np.rint(xs + offsets * nx).astype(np.intp), 0, width - 1)
    sy = np.clip(np.rint(ys + offsets * ny).astype(np.intp), 0, height - 1)
    for segment, start, count in zip(kept.tolist(), starts.tolist(), counts.tolist(), strict=True):
        end = start + count
        out[segment] = (
            sx[:, start:end].ravel(),
            sy[:, start:end].ravel(),
            xs[start:end],
            ys[start:end],
        )
    return out


def _dotted_line(
    samples: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    overlay: np.ndarray,
    marks: np.ndarray,
) -> np.ndarray | None:
    """Which ``samples`` (:func:`_line_samples`) are the pixels of a dotted or dashed line,
    ``overlay`` saying which samples are overlay pixels (:func:`_overlay_at`); None when the
    segment is no line.

    The segment between the two marks is a line when at least :data:`LINE_MIN_HITS` of its
    samples have an overlay pixel within one pixel across the segment (speckle gives about
    1 %, a dotted line 15-35 %). Samples in ``marks`` (pixels already masked) count only
    farther than :data:`LINE_GROW_CLEARANCE` from both marks: nearer, they are the marks'
    strokes; farther, dots that another pass (the white dots of :func:`_colour_graphics`,
    another line) took already.
    """
    sx, sy, xs, ys = samples
    n = len(xs)
    t = np.arange(n)
    away = (t >= LINE_GROW_CLEARANCE) & (t < n - LINE_GROW_CLEARANCE)
    counted = ~marks[sy, sx] | np.tile(away, 3)
    lit = overlay & counted
    hits = lit.reshape(3, n).any(axis=0)
    free = ~marks[ys, xs] | away
    if not free.any() or hits[free].mean() < LINE_MIN_HITS:
        return None
    return lit


#: Samples of a line within this many samples of a mark (the samples start 3 px from its
#: centre) that are masked already are the mark's strokes (a large mark's arm is at most
#: 12 px, its JPEG blur one more); farther, masked samples are dots another pass took.
LINE_GROW_CLEARANCE = 14
#: A pixel is tinted like a mark when its chroma reaches :data:`HALO_CHROMA` and its colour
#: minus its grey points the mark's way (cosine at least this).
TINT_COSINE = 0.8
#: Side of the neighbourhood whose mean a white stroke must exceed (as in :mod:`.overlay`).
BACKGROUND_SIDE = 15


def _overlay_at(
    frame: np.ndarray,
    grey: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
    colours: np.ndarray | None = None,
    maps: ColourMaps | None = None,
) -> np.ndarray:
    """:func:`.overlay.overlay_candidates` at the pixels ``(xs, ys)`` only (bool per pixel;
    the neighbourhood mean of a bright pixel from its own window, clipped at the frame's
    edge). ``colours`` (one RGB row per pixel, NaN for none): a pixel with a colour counts
    only where it is tinted that way, even faintly (the dots of a coloured line that JPEG
    faded toward white). ``maps``: ``frame``'s :class:`.overlay.ColourMaps`, when the
    caller has them (each pixel's brightest channel and chroma read off them)."""
    g = grey[ys, xs]
    lit = g >= SATURATED_LEVEL
    allowed = np.ones(len(xs), bool)
    if frame.ndim == 3:
        rgb8: np.ndarray | None = None
        if maps is None:
            rgb8 = frame[ys, xs]
            high = rgb8.max(axis=1)
            spread = high - rgb8.min(axis=1)  # (max - min: no wrap-around)
        else:
            high, spread = maps.high[ys, xs], maps.chroma[ys, xs]
        lit |= (spread >= CHROMA_LEVEL) & (high >= 100) & (g >= COLOUR_MARK_LEVEL)
        if colours is not None:
            # The tint matters only where a pixel may count (lit, or bright enough for a
            # white stroke): tested there alone (a sample of a white line has no colour).
            coloured = ~np.isnan(colours[:, 0])
            at = np.flatnonzero(coloured & (lit | (g >= WHITE_LEVEL)))
            allowed = ~coloured
            rgb = (frame[ys[at], xs[at]] if rgb8 is None else rgb8[at]).astype(np.float64)
            tint = rgb - rgb.mean(axis=1, keepdims=True)
            ref = colours[at] - colours[at].mean(axis=1, keepdims=True)
            ref /= np.maximum(np.sqrt((ref * ref).sum(axis=1, keepdims=True)), 1e-6)
            norm = np.sqrt((tint * tint).sum(axis=1))
            along = (tint * ref).sum(axis=1)
            allowed[at] = (along >= TINT_COSINE * norm) & (spread[at] >= HALO_CHROMA)
    elif colours is not None:
        allowed = np.isnan(colours[:, 0])
    # A white stroke: bright and brighter than its neighbourhood's mean.
    maybe = np.flatnonzero(allowed & ~lit & (g >= WHITE_LEVEL))
    if maybe.size:
        background = np.rint(_box_sums(grey, xs[maybe], ys[maybe]) / BACKGROUND_SIDE**2)
        lit[maybe] = g[maybe] - background >= WHITE_CONTRAST
    return lit & allowed


def _box_sums(grey: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Sum of the :data:`BACKGROUND_SIDE` square of ``grey`` around each pixel ``(xs, ys)``,
    the frame's edge replicated (exact integers, float64): one integral image over the box
    around the pixels instead of a gathered square per pixel."""
    half = BACKGROUND_SIDE // 2
    height, width = grey.shape
    bx0, by0 = int(xs.min()) - half, int(ys.min()) - half
    bx1, by1 = int(xs.max()) + half + 1, int(ys.max()) + half + 1
    x0, y0, x1, y1 = max(0, bx0), max(0, by0), min(width, bx1), min(height, by1)
    box = cv2.copyMakeBorder(
        np.ascontiguousarray(grey[y0:y1, x0:x1]),
        y0 - by0,
        by1 - y1,
        x0 - bx0,
        bx1 - x1,
        cv2.BORDER_REPLICATE,
    )
    total = cv2.integral(box, sdepth=cv2.CV_32S)
    cx, cy = xs - bx0 - half, ys - by0 - half  # the squares' first row and column
    side = BACKGROUND_SIDE
    sums = total[cy + side, cx + side] - total[cy, cx + side] - total[cy + side, cx] + total[cy, cx]
    return sums.astype(np.float64)


def _mark_colour(
    frame: np.ndarray, fill: np.ndarray, x: int, y: int, maps: ColourMaps | None = None
) -> np.ndarray | None:
    """Mean colour of the clearly coloured fill pixels within 5 px of ``(x, y)``."""
    y0, x0 = max(0, y - 5), max(0, x - 5)
    sub = frame[y0 : y + 6, x0 : x + 6]
    tint = chroma(sub) if maps is None else maps.chroma[y0 : y + 6, x0 : x + 6]
    keep = fill[y0 : y + 6, x0 : x + 6] & (tint >= CHROMA_LEVEL)
    if not keep.any():
        return None
    return np.asarray(sub[keep].mean(axis=0))


#: White dots of a line or an ellipse trace: at most this wide; within this distance of the
#: segment or of the ellipse; an ellipse needs this share of the dots its perimeter would hold
#: at the widest spacing (:data:`DOT_GAP` px) to agree on its minor axis.
WHITE_DOT_SIDE = 5
TRACE_DISTANCE = 2.5
DOT_GAP = 9.0
TRACE_SUPPORT = 0.25


def _on_trace(centres: np.ndarray, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Which ``centres`` lie on the segment ``pq`` or on an ellipse with the axis ``pq`` that
    enough of them agree on (its half minor axis voted by the centres; bright speckle is
    scattered, the dots of a trace are not)."""
    half = float(np.hypot(*(q - p))) / 2
    if half < 1:
        return np.zeros(len(centres), bool)
    along = (q - p) / (2 * half)
    rel = centres - (p + q) / 2
    u = rel @ along
    v = rel @ np.array([-along[1], along[0]])
    inside = np.abs(u) <= half
    out = inside & (np.abs(v) <= TRACE_DISTANCE)
    sure = inside & (np.abs(u) <= 0.85 * half)
    minor = np.abs(v[sure]) / np.sqrt(1 - (u[sure] / half) ** 2)
    if minor.size == 0:
        return out
    votes = np.bincount(np.rint(minor).astype(np.intp))
    window = np.convolve(votes, np.ones(2 * int(TRACE_DISTANCE) + 1), mode="same")
    best = int(np.argmax(window))
    perimeter = np.pi * (half + best)
    if best < 3 or window[best] < max(6.0, TRACE_SUPPORT * perimeter / DOT_GAP):
        return out
    radius = np.sqrt((u / half) ** 2 + (v / best) ** 2)
    distance = np.abs(1 - 1 / np.maximum(radius, 1e-9)) * np.hypot(u, v)
    return out | (distance <= TRACE_DISTANCE)


#: A dotted line from a mark: at least this many dots in a row, the first within
#: :data:`RAY_START` px of the mark, each within :data:`DOT_GAP` + 2 px of the previous one.
RAY_DOTS = 5
RAY_START = 24.0
RAY_REAIM = 3


def _run(rel: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Indices of ``rel`` (centres relative to a mark) in the run of dots along the ray in
    ``direction`` (unit) from the mark, nearest first."""
    along = rel @ direction
    across = np.abs(direction[0] * rel[:, 1] - direction[1] * rel[:, 0])
    members = np.flatnonzero((across <= TRACE_DISTANCE) & (along > 0))
    order = members[np.argsort(along[members], kind="stable")]
    steps = np.diff(np.concatenate([[0.0], along[order]]))
    limits = np.concatenate([[RAY_START], np.full(max(len(order) - 1, 0), DOT_GAP + 2)])
    broken = np.flatnonzero(steps > limits)
    return order[: broken[0]] if broken.size else order


def _on_ray(centres: np.ndarray, mark: np.ndarray) -> np.ndarray:
    """Which ``centres`` form a dotted line leaving ``mark`` (in any direction): the longest
    run of centres within :data:`TRACE_DISTANCE` of a ray from the mark through one of them,
    evenly enough spaced from the mark outwards."""
    rel = centres - mark
    dist = np.hypot(rel[:, 0], rel[:, 1])
    out = np.zeros(len(centres), bool)
    near = np.flatnonzero((dist > 2) & (dist <= MAX_LINE_LENGTH))
    if near.size < RAY_DOTS:
        return out
    # A line's first dot is within RAY_START of the mark: the rays through those, each
    # re-aimed through the farthest dot of its run while the run grows.
    best: np.ndarray | None = None
    candidates = rel[near]
    runs: dict[bytes, np.ndarray] = {}  # the dots of a line re-aim through the same tips

    def run_along(direction: np.ndarray) -> np.ndarray:
        key = direction.tobytes()
        if key not in runs:
            runs[key] = _run(candidates, direction)
        return runs[key]

    for seed in near[dist[near] <= RAY_START]:
        run = run_along(rel[seed] / dist[seed])
        for _ in range(RAY_REAIM):
            if len(run) < 2:
                break
            tip = candidates[run[-1]]
            longer = run_along(tip / np.hypot(*tip))
            if len(longer) <= len(run):
                break
            run = longer
        if len(run) >= RAY_DOTS and (best is None or len(run) > len(best)):
            best = run
    if best is not None:
        out[near[best]] = True
    return out


def _luma_mode(values: np.ndarray) -> int:
    """The grey level with the most of ``values`` within :data:`LUMA_TOLERANCE` of it."""
    counts = np.bincount(values, minlength=256).astype(np.float64)
    window = np.ones(2 * LUMA_TOLERANCE + 1)
    return int(np.argmax(np.convolve(counts, window, mode="same")))


def _components(layer: np.ndarray) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """8-connected components of ``layer`` (uint8 0/1): count, labels, stats and centres as
    ``cv2.connectedComponentsWithStats`` gives them, the labels 16-bit when they fit (the
    same labelling, nearly three times faster on the caliper regions)."""
    ltype = cv2.CV_16U if cv2.countNonZero(layer) < 65000 else cv2.CV_32S
    count, labels, stats, centres = cv2.connectedComponentsWithStatsWithAlgorithm(
        layer, 8, ltype, cv2.CCL_SPAGHETTI
    )
    return count, labels, stats, centres


def _mark_sized(stat: np.ndarray) -> bool:
    """Whether a component (its ``connectedComponentsWithStats`` row) can be a mark: at most
    :data:`MARK_MAX_SIDE` across and, unless small, mostly empty inside its box (strokes, not
    a colour map such as an elastography box under the point)."""
    side = max(int(stat[2]), int(stat[3]))
    return side <= MARK_MAX_SIDE and (
        side <= SOLID_MARK_SIDE or int(stat[4]) <= MARK_MAX_FILL * int(stat[2]) * int(stat[3])
    )


#: A point's mark is of a dim saturated colour (:func:`_dim_marks`) when the component under
#: it with the saturated pixels added is a mark (:func:`_mark_sized`) at least this many
#: times the size of the one without them (none counts as zero) ...
DIM_MARK_GROWTH = 2.0
#: ... and the median grey level of its most coloured pixels (this share, by chroma) within
#: :data:`DIM_CORE_REACH` px of the point, and that of its pixels at the point (3x3: where a
#: '+' or 'x' crosses, an arrow's tip), are under :data:`.overlay.COLOUR_MARK_LEVEL`: the
#: mark's colour itself is dim (red 76, magenta 105, blue 29), not only JPEG's blur of a
#: bright one at its edges (green 150), nor a colour Doppler blob it touches (a cyan '+' on
#: a small blue blob). Tuning seeds (the generator's points that have such pixels within
#: 2 px): the families' own colours, seeds 100-199, 0 of 328 points (the core rule alone
#: took a green '+' on a blue blob, siemens_s2000 158); re-rendered in magenta, orange, red
#: and light blue, seeds 100-139: red 158 of 162, magenta 196 of 200, orange 0 of 19 and
#: light blue 0 of 31 (the coloured layer finds those).
DIM_CORE_SHARE = 0.25
DIM_CORE_REACH = 4


def _dim_marks(
    frame: np.ndarray,
    grey: np.ndarray,
    points: list[tuple[int, int]],
    maps: ColourMaps | None,
    on_map: np.ndarray | None = None,
    skip: list[bool] | None = None,
) -> list[bool]:
    """Per point, whether its mark is drawn in a saturated colour too dim in grey level for
    :func:`.overlay.overlay_candidates` (red, magenta, blue: its pixels are
    :func:`.overlay.saturated_mark_pixels`, off the colour maps ``on_map``): the component of
    the coloured layer with those pixels added under the point (within 2 px, as
    :func:`_colour_graphics` looks) is a mark, :data:`DIM_MARK_GROWTH` times the size of the
    coloured layer's own (JPEG leaves a dim mark a few blurred pixels bright enough for the
    layer, beside bright speckle), and its most coloured pixels are dim
    (:data:`DIM_CORE_SHARE`). Points of ``skip`` (hollow marks, masked on their own) are not."""
    out = [False] * len(points)
    if maps is None or not points:
        return out
    half = MARK_MAX_SIDE + 2
    for i, (x, y) in enumerate(points):
        if skip is not None and skip[i]:
            continue
        wx0, wy0, wx1, wy1 = _window(frame.shape, x, y, half)
        sub_maps = maps.crop(wy0, wy1, wx0, wx1)
        sub_grey = grey[wy0:wy1, wx0:wx1]
        extra = saturated_mark_pixels(sub_grey, sub_maps)
        if on_map is not None:
            extra[on_map[wy0:wy1, wx0:wx1]] = 0
        cx, cy = x - wx0, y - wy0
        near = (slice(max(0, cy - 2), cy + 3), slice(max(0, cx - 2), cx + 3))
        if not extra[near].any():
            continue
        tinted = (sub_maps.chroma >= CHROMA_LEVEL).view(np.uint8)
        base = overlay_candidates(frame[wy0:wy1, wx0:wx1], sub_grey, sub_maps) & tinted
        sizes, labels, mark = [], None, 0
        for layer in (base, base | extra):
            _, labels, stats, _ = _components(layer)
            found = labels[near][labels[near] > 0]
            if not found.size:
                sizes.append(0)
                continue
            mark = int(np.bincount(found).argmax())
            sizes.append(int(stats[mark][4]) if _mark_sized(stats[mark]) else -1)
        if sizes[1] <= 0 or (sizes[0] > 0 and sizes[1] < DIM_MARK_GROWTH * sizes[0]):
            continue
        assert labels is not None
        centre = (
            slice(max(0, cy - DIM_CORE_REACH), cy + DIM_CORE_REACH + 1),
            slice(max(0, cx - DIM_CORE_REACH), cx + DIM_CORE_REACH + 1),
        )
        pixels = labels[centre] == mark
        tint, level = sub_maps.chroma[centre][pixels], sub_grey[centre][pixels]
        core = tint >= np.quantile(tint, 1 - DIM_CORE_SHARE)
        middle = (slice(max(0, cy - 1), cy + 2), slice(max(0, cx - 1), cx + 2))
        at_point = sub_grey[middle][labels[middle] == mark]
        out[i] = (
            float(np.median(level[core])) < COLOUR_MARK_LEVEL
            and at_point.size > 0
            and float(np.median(at_point)) < COLOUR_MARK_LEVEL
        )
    return out


def _colour_graphics(
    frame: np.ndarray,
    grey: np.ndarray,
    points: list[tuple[int, int]],
    *,
    white: bool = False,
    saturated: bool = False,
    blocked: np.ndarray | None = None,
    frame_maps: ColourMaps | None = None,
) -> tuple[np.ndarray | None, np.ndarray | None, list[bool]]:
    """Full-frame masks of the coloured caliper graphics of ``points`` (None when there are
    none): the drawn pixels, and the pixels of the graphics' components off the marks' grey
    level (None for ``white``); and, per point, whether its mark is a coloured component
    (``white``: of thin near-white strokes, :func:`.calipers.white_strokes`, instead).

    The mark is the connected component of mark-coloured pixels under the point (any shape:
    '+', 'x', an arrow); with it go the small components of about its colour (the
    :data:`PIECE_MAX_SIDE`) within :data:`PIECE_NEAR` px of a mark (its number) or inside the
    circle whose diameter joins two marks (dots of a measurement line or an ellipse trace).

    JPEG codes colour at half resolution, so a mark's colour bleeds into the neighbouring
    pixels, and bright speckle next to a mark joins its component; but grey levels keep full
    resolution: a drawn pixel keeps about the grey level of the mark's colour (within 16
    levels on the JPEG frames of the tuning families), a tinted neighbour its own. The
    component's pixels more than :data:`LUMA_TOLERANCE` from the mark's grey level (the mode
    of its pixels' levels) are its tinted neighbours: they keep their grey level and only
    lose the tint (filled, they take the image around a mark away from the fill of the
    mark's own pixels: 3 dB inside the true caliper masks of the tuning JPEG frames).

    A component under a point is a mark only when :func:`_mark_sized` (not a colour map).
    With two coloured marks, the dots JPEG faded are added (:func:`_faint_traces`), except
    on ``blocked`` pixels (full frame, the colour maps' of :func:`_on_colour_map`).
    ``frame_maps``: ``frame``'s :class:`.overlay.ColourMaps`, when the caller has them.
    ``saturated``: the layer holds the saturated pixels too dim in grey level for it
    (:func:`.overlay.saturated_mark_pixels`: red, magenta, blue marks, :func:`_dim_marks`)."""
    handled = [False] * len(points)
    if (frame.ndim != 3 and not white) or not points:
        return None, None, handled
    height, width = grey.shape
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    margin = PIECE_NEAR + PIECE_MAX_SIDE
    x0, y0 = max(0, min(xs) - margin), max(0, min(ys) - margin)
    x1, y1 = min(width, max(xs) + margin + 1), min(height, max(ys) + margin + 1)
    sub, sub_grey = frame[y0:y1, x0:x1], grey[y0:y1, x0:x1]
    maps = _maps_of(sub, frame_maps, y0, y1, x0, x1)
    tinted = maps.chroma >= CHROMA_LEVEL if maps is not None else np.zeros(sub_grey.shape, bool)
    if white:
        layer = white_strokes(sub_grey, tinted.astype(np.uint8)).astype(bool)
    else:
        layer = overlay_candidates(sub, sub_grey, maps).astype(bool) & tinted
        if saturated and maps is not None:
            layer |= saturated_mark_pixels(sub_grey, maps).view(bool)
    if not layer.any():
        return None, None, handled
    count, labels, stats, centres = _components(layer.astype(np.uint8))
    lit = np.flatnonzero(layer)
    lit_labels = labels.ravel()[lit]
    pixels = sub.reshape(-1, sub.shape[2])[lit] if sub.ndim == 3 else sub.ravel()[lit, None]
    sums = np.stack(
        [np.bincount(lit_labels, pixels[:, c], minlength=count) for c in range(pixels.shape[1])],
        axis=1,
    )
    colours = sums / np.maximum(stats[:, 4:5], 1)
    marks: list[int] = []
    centre_levels: list[np.ndarray] = []
    for i, (px, py) in enumerate(points):
        cx, cy = px - x0, py - y0
        r = WHITE_MARK_NEAR if white else 2
        near = labels[max(0, cy - r) : cy + r + 1, max(0, cx - r) : cx + r + 1]
        found = near[near > 0]
        if found.size and _mark_sized(stats[int(np.bincount(found).argmax())]):
            marks.append(int(np.bincount(found).argmax()))
            handled[i] = True
            # The mark's own pixels at its centre (where its strokes meet).
            middle = (slice(max(0, cy - 1), cy + 2), slice(max(0, cx - 1), cx + 2))
            centre_levels.append(sub_grey[middle][labels[middle] == marks[-1]])
    if not marks:
        return None, None, handled
    selected = np.zeros(count, bool)
    selected[marks] = True
    mark_colours = colours[marks]
    local = np.array(points, float) - (x0, y0)
    pairs = [
        (i, j)
        for i in range(len(points))
        for j in range(i + 1, len(points))
        if handled[i] and handled[j] and np.hypot(*(local[i] - local[j])) <= MAX_LINE_LENGTH
    ]
    ends = np.array([(local[i], local[j]) for i, j in pairs]).reshape(-1, 2, 2)
    # Candidate pieces: small, of about a mark's colour, not a mark.
    k = np.arange(1, count)
    k = k[~selected[k] & (np.maximum(stats[k, 2], stats[k, 3]) <= PIECE_MAX_SIDE)]
    nearest = np.abs(colours[k, None, :] - mark_colours[None]).max(axis=2)
    k = k[nearest.min(axis=1) <= PIECE_COLOUR]
    if k.size:
        centre = centres[k]
        close = np.hypot(*(local[None] - centre[:, None]).transpose(2, 0, 1)).min(axis=1)
        keep = close <= PIECE_NEAR
        if white:
            dots = np.maximum(stats[k, 2], stats[k, 3]) <= WHITE_DOT_SIDE
            for p, q in ends:
                keep |= dots & _on_trace(centre, p, q)
            # A dotted line to a mark that was not found: a run of dots from a mark.
            for m in np.flatnonzero(handled):
                keep |= dots & _on_ray(centre, local[m])
        elif len(ends):
            middle, radius = ends.mean(axis=1), np.hypot(*(ends[:, 0] - ends[:, 1]).T) / 2
            gap = np.hypot(*(centre[:, None] - middle[None]).transpose(2, 0, 1))
            keep |= (gap <= radius[None] + 3).any(axis=1)
        selected[k[keep]] = True
    mask = np.zeros(grey.shape, bool)
    drawn = selected[labels]
    mask[y0:y1, x0:x1] = drawn
    if white:
        return mask, None, handled
    # The grey level each selected component's pixels should have: its mark's (the median of
    # its pixels at its centre, else the mode of its pixels), or that of the mark of the
    # closest colour.
    levels = np.array(
        [
            int(np.median(centre))
            if centre.size
            else _luma_mode(sub_grey.ravel()[lit[lit_labels == m]])
            for m, centre in zip(marks, centre_levels, strict=True)
        ]
    )
    reference = np.zeros(count, np.int16)
    picked = np.flatnonzero(selected)
    closest = np.abs(colours[picked, None, :] - mark_colours[None]).max(axis=2).argmin(axis=1)
    reference[picked] = levels[closest]
    off = _off_level(sub_grey, drawn, layer, reference, labels)
    off_mask = np.zeros(grey.shape, bool)
    off_mask[y0:y1, x0:x1] = off
    mask[y0:y1, x0:x1] &= ~off
    if pairs and maps is not None:
        mask[y0:y1, x0:x1] |= (
            _faint_traces(sub, sub_grey, maps.chroma, local, pairs, handled, mark_colours, levels)
            & ~off
            & ~_or_none(blocked, grey)[y0:y1, x0:x1]
        )
    return mask, off_mask, handled


#: Faint dots of a coloured trace: within this many grey levels of the marks' level, and at
#: most this wide.
FAINT_LEVEL = 25
FAINT_DOT_SIDE = 4


def _faint_traces(
    sub: np.ndarray,
    grey: np.ndarray,
    tint_chroma: np.ndarray,
    local: np.ndarray,
    pairs: list[tuple[int, int]],
    handled: list[bool],
    mark_colours: np.ndarray,
    levels: np.ndarray,
) -> np.ndarray:
    """Mask (``sub``'s shape) of the dots of dotted lines and ellipse traces through two
    coloured marks (``pairs`` of indices into the points ``local``, handled ones only) that
    JPEG faded: a 1 px dot of the marks' colour loses most of its chroma (cyan
    ``(0, 255, 255)`` becomes ``(165, 185, 183)``) but keeps the marks' grey level and a tint
    of their colour. Small groups of such pixels (within :data:`FAINT_LEVEL` of a mark's
    level, tinted toward its colour, :func:`_tinted`) inside the circle on the two marks
    whose centres lie on the segment or on an ellipse (:func:`_on_trace`)."""
    out = np.zeros(grey.shape, bool)
    order = np.cumsum(handled) - 1  # a handled point's index in ``mark_colours``
    # Tinted pixels only (few on a grey image): the level and colour tests on those alone.
    at = np.flatnonzero(tint_chroma >= HALO_CHROMA)
    g = grey.reshape(-1)[at].astype(np.int16)
    near = np.zeros(at.size, bool)
    for level in np.unique(levels):
        near |= np.abs(g - int(level)) <= FAINT_LEVEL
    at = at[near]
    if at.size == 0:
        return out
    pixels = sub.reshape(-1, 3)[at]
    lit = np.zeros(at.size, bool)
    done: list[np.ndarray] = []
    for colour in mark_colours:
        if any(np.abs(colour - c).max() <= PIECE_COLOUR for c in done):
            continue
        done.append(colour)
        lit |= _tinted(pixels, colour)
    if not lit.any():
        return out
    # Components of the candidates in their bounding box only (a component does not depend
    # on the empty pixels around). Centres back in ``sub``'s coordinates as OpenCV computes
    # them there (its integer coordinate sums over the area: the same bits).
    cy, cx = np.divmod(at[lit], grey.shape[1])
    bx0, by0, bx1, by1 = int(cx.min()), int(cy.min()), int(cx.max()) + 1, int(cy.max()) + 1
    candidates = np.zeros((by1 - by0, bx1 - bx0), np.uint8)
    candidates[cy - by0, cx - bx0] = 1
    count, labels, stats, centres = _components(candidates)
    area = stats[:, 4:5].astype(np.float64)
    sums = np.rint(centres * area) + area * np.array([bx0, by0], np.float64)
    centres = sums / area
    k = np.flatnonzero(np.maximum(stats[:, 2], stats[:, 3]) <= FAINT_DOT_SIDE)
    k = k[k > 0]
    if k.size == 0:
        return out
    keep = np.zeros(count, bool)
    for i, j in pairs:
        if np.abs(mark_colours[order[i]] - mark_colours[order[j]]).max() > PIECE_COLOUR:
            continue
        p, q = local[i], local[j]
        radius = float(np.hypot(*(q - p))) / 2
        inside = np.hypot(*(centres[k] - (p + q) / 2).T) <= radius + 3
        if radius >= 12 and inside.any():
            keep[k[inside][_on_trace(centres[k[inside]], p, q)]] = True
    out[by0:by1, bx0:bx1] = keep[labels]
    return out


def _tinted(pixels: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """Which ``pixels`` (N x 3, chroma at least :data:`HALO_CHROMA`) are tinted toward
    ``colour``: colour minus grey pointing ``colour``'s way (cosine at least
    :data:`TINT_COSINE`), as :func:`_overlay_at` has it."""
    values = pixels.astype(np.float32)
    tint = values - values.mean(axis=1, keepdims=True)
    ref = (colour - colour.mean()).astype(np.float32)
    ref /= max(float(np.sqrt((ref * ref).sum())), 1e-6)
    along = tint @ ref
    norm = np.sqrt((tint * tint).sum(axis=1))
    return np.asarray(along >= TINT_COSINE * norm)


def _off_level(
    grey: np.ndarray,
    drawn: np.ndarray,
    graphics: np.ndarray,
    reference: np.ndarray,
    labels: np.ndarray | None = None,
) -> np.ndarray:
    """The pixels of ``drawn`` at the image's own grey level rather than the mark's
    (``reference``, per pixel; with ``labels``, per label: a pixel's is its label's): more
    than :data:`LUMA_TOLERANCE` from the mark's level and closer to the mean of the pixels
    around them outside ``graphics`` (a faded mark pixel is closer to the mark's). Only the
    drawn pixels are looked at (the masks and the image around them are the whole region's)."""
    dy, dx = np.nonzero(drawn)
    ref = reference[dy, dx] if labels is None else reference[labels[dy, dx]]
    level = grey[dy, dx].astype(np.int16)
    far = np.abs(level - ref) > LUMA_TOLERANCE
    oy, ox, level, ref = dy[far], dx[far], level[far], ref[far]
    off = np.zeros(drawn.shape, bool)
    if oy.size:
        offsets = np.arange(-LEVEL_REACH, LEVEL_REACH + 1)
        wy = np.clip(oy[:, None] + offsets, 0, grey.shape[0] - 1)[:, :, None]
        wx = np.clip(ox[:, None] + offsets, 0, grey.shape[1] - 1)[:, None, :]
        free = ~graphics[wy, wx]
        around = (grey[wy, wx].astype(np.int16) * free).sum(axis=(1, 2)) / np.maximum(
            free.sum(axis=(1, 2)), 1
        )
        image = free.any(axis=(1, 2)) & (np.abs(level - around) < np.abs(level - ref))
        off[oy[image], ox[image]] = True
    return off


def caliper_masks(
    frame: np.ndarray,
    caliper_points: Sequence[Point],
    grey: np.ndarray | None = None,
    *,
    lines: bool = True,
) -> CaliperMasks:
    """Fill and recolour masks of the marks at ``caliper_points`` and, with ``lines``, of
    dotted measurement lines joining two of them.

    Only the box around the points grown by :data:`REGION_MARGIN` is looked at (every
    window below stays inside it, so the masks are those of the whole frame)."""
    height, width = frame.shape[:2]
    fill = np.zeros((height, width), bool)
    recolour = np.zeros((height, width), bool)
    points = [
        (int(p[0]), int(p[1]))
        for p in caliper_points
        if 0 <= int(p[0]) < width and 0 <= int(p[1]) < height
    ]
    if not points:
        return CaliperMasks(fill, recolour, (0, 0, 0, 0))
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, y0 = max(0, min(xs) - REGION_MARGIN), max(0, min(ys) - REGION_MARGIN)
    x1, y1 = min(width, max(xs) + REGION_MARGIN + 1), min(height, max(ys) + REGION_MARGIN + 1)
    region = frame[y0:y1, x0:x1]
    region_grey = to_grey(region) if grey is None else grey[y0:y1, x0:x1]
    local = [(x - x0, y - y0) for x, y in points]
    masks = _region_masks(region, region_grey, local, lines)
    fill[y0:y1, x0:x1] = masks.fill
    recolour[y0:y1, x0:x1] = masks.recolour
    return CaliperMasks(fill, recolour, (x0, y0, x1, y1))


def _region_masks(
    frame: np.ndarray, grey: np.ndarray, points: list[tuple[int, int]], lines: bool
) -> CaliperMasks:
    """:func:`caliper_masks` of ``points`` (inside the frame) in the frame (a region)."""
    fill = np.zeros(frame.shape[:2], bool)
    recolour = np.zeros(frame.shape[:2], bool)
    # Coloured pixels of a colour map (Doppler, elastography): no mark's halo, line or trace.
    # Chroma and brightest channel once for the region (per pixel: every window crops them).
    maps = ColourMaps.of(frame) if frame.ndim == 3 else None
    on_map = _on_colour_map(frame, maps)
    # Marks of a saturated colour too dim in grey level for the coloured layer (red,
    # magenta, blue: :func:`.overlay.saturated_mark_pixels`) take a pass of their own with
    # those pixels added; the others keep the coloured layer alone.
    level = grey if maps is None else maps.high
    hollows = []
    for x, y in points:
        # A hollow '+' (light bars, maybe dark-edged, around an empty centre): its own mask
        # below, also when coloured (the colour components leave its dark outline).
        hx0, hy0, hx1, hy1 = _window(frame.shape, x, y, HOLLOW_REACH)
        hollow = _hollow_fill(level[hy0:hy1, hx0:hx1], x - hx0, y - hy0)
        hollows.append(None if hollow is None else (hollow, (hx0, hy0, hx1, hy1)))
    dim = _dim_marks(frame, grey, points, maps, on_map, [h is not None for h in hollows])
    graphics, off_level, coloured = _colour_graphics(
        frame,
        grey,
        [p for p, d in zip(points, dim, strict=True) if not d],
        blocked=on_map,
        frame_maps=maps,
    )
    if any(dim):
        dim_graphics, dim_off, dim_found = _colour_graphics(
            frame,
            grey,
            [p for p, d in zip(points, dim, strict=True) if d],
            saturated=True,
            blocked=on_map,
            frame_maps=maps,
        )
        if dim_graphics is not None:
            graphics = dim_graphics if graphics is None else graphics | dim_graphics
        if dim_off is not None:
            off_level = dim_off if off_level is None else off_level | dim_off
        dim_marks, other_marks = iter(dim_found), iter(coloured)
        coloured = [next(dim_marks) if d else next(other_marks) for d in dim]
    if graphics is not None:
        fill |= graphics
        recolour |= _halo(frame, graphics if off_level is None else graphics | off_level, maps)
    rest = [p for p, c in zip(points, coloured, strict=True) if not c]
    # White marks keep their stroke model below (JPEG breaks thin white strokes); their
    # numbers and dots come from the thin near-white components.
    whites, _, _ = _colour_graphics(frame, grey, rest, white=True, frame_maps=maps)
    if whites is not None:
        fill |= whites
    for (x, y), done, hollow_at in zip(points, coloured, hollows, strict=True):
        if hollow_at is not None:
            hollow_fill, (hx0, hy0, hx1, hy1) = hollow_at
            fill[hy0:hy1, hx0:hx1] |= hollow_fill.astype(bool)
            continue
        if done:
            continue
        mark, halo, (wx0, wy0, wx1, wy1) = _mark_masks(frame, grey, x, y, maps)
        fill[wy0:wy1, wx0:wx1] |= mark.astype(bool)
        recolour[wy0:wy1, wx0:wx1] |= halo.astype(bool)
    if lines:
        ends, line_colours = [], []
        colours: dict[int, np.ndarray | None] = {}
        for i, p in enumerate(points):
            for j in range(i + 1, len(points)):
                colour = np.full(3, np.nan)
                if coloured[i] and coloured[j]:
                    # Its dots are of the marks' colour: among the coloured graphics already
                    # unless JPEG faded them, so only pixels tinted like the marks count.
                    if i not in colours:
                        colours[i] = _mark_colour(frame, fill, *p, maps)
                    found = colours[i]
                    if found is None:
                        continue
                    colour = found
                ends.append((p, points[j]))
                line_colours.append(colour)
        pairs = [
            (samples, colour)
            for samples, colour in zip(
                _line_samples_many(ends, frame.shape), line_colours, strict=True
            )
            if samples is not None
        ]
        if pairs:
            # Every pair's samples looked at in one pass; the lines are then taken one by
            # one (the pixels of a line found are a mark's for the next pairs).
            sizes = [len(samples[0]) for samples, _ in pairs]
            overlay = _overlay_at(
                frame,
                grey,
                np.concatenate([samples[0] for samples, _ in pairs]),
                np.concatenate([samples[1] for samples, _ in pairs]),
                np.repeat(np.array([colour for _, colour in pairs]), sizes, axis=0),
                maps,
            )
            if on_map is not None:
                overlay &= ~on_map[
                    np.concatenate([samples[1] for samples, _ in pairs]),
                    np.concatenate([samples[0] for samples, _ in pairs]),
                ]
            taken = []
            for (samples, colour), lit in zip(
                pairs, np.split(overlay, np.cumsum(sizes)[:-1]), strict=True
            ):
                line = _dotted_line(samples, lit, fill)
                if line is not None:
                    fill[samples[1][line], samples[0][line]] = True
                    taken.append((samples, line, colour))
            grown = _grown_lines(frame, grey, fill | _or_none(on_map, fill), taken, maps)
            for lx, ly in grown:
                fill[ly, lx] = True
            for samples, line, _ in taken:
                lx, ly = samples[0][line], samples[1][line]
                fill[ly, lx] = True
                if frame.ndim == 3:
                    rx, ry = HALO_REACH[0] // 2, HALO_REACH[1] // 2
                    x0, y0 = max(0, int(lx.min()) - rx), max(0, int(ly.min()) - ry)
                    x1 = min(frame.shape[1], int(lx.max()) + 1 + rx)
                    y1 = min(frame.shape[0], int(ly.max()) + 1 + ry)
                    drawn = np.zeros((y1 - y0, x1 - x0), np.uint8)
                    drawn[ly - y0, lx - x0] = 1
                    near = cv2.dilate(drawn, np.ones(HALO_REACH[::-1], np.uint8))
                    assert maps is not None
                    tint = maps.chroma[y0:y1, x0:x1] >= HALO_CHROMA
                    recolour[y0:y1, x0:x1] |= near.astype(bool) & tint
    recolour &= ~fill
    if on_map is not None:
        recolour &= ~cv2.dilate(on_map.view(np.uint8), np.ones((3, 3), np.uint8)).view(bool)
    _promote_bright(grey, fill, recolour)
    if off_level is not None:
        fill &= ~off_level
        recolour |= off_level
    return CaliperMasks(fill, recolour)


#: A coloured pixel belongs to a colour map when at least this share of the pixels in the
#: :data:`COLOUR_MAP_SIDE` square around it are coloured (chroma :data:`CHROMA_LEVEL` or
#: more): a large coloured mark with its JPEG bleed holds about a fifth of that square.
COLOUR_MAP_SHARE = 0.4
COLOUR_MAP_SIDE = 41


def _on_colour_map(frame: np.ndarray, maps: ColourMaps | None = None) -> np.ndarray | None:
    """Boolean mask of the coloured pixels of a colour map (Doppler, elastography) in
    ``frame``, None for a grey frame or one without coloured pixels. On a map, the tinted
    pixels around a mark are the map's, not JPEG's halo, and the map's pixels of about a
    mark's colour are not the dots of its line."""
    if frame.ndim != 3:
        return None
    coloured = (chroma(frame) if maps is None else maps.chroma) >= CHROMA_LEVEL
    if np.count_nonzero(coloured) < COLOUR_MAP_SHARE * COLOUR_MAP_SIDE**2:
        return None  # too few coloured pixels for any square to reach the share
    share = cv2.boxFilter(
        coloured.view(np.uint8), cv2.CV_32F, (COLOUR_MAP_SIDE,) * 2, borderType=cv2.BORDER_CONSTANT
    )
    out: np.ndarray = coloured & (share >= COLOUR_MAP_SHARE)
    return out if out.any() else None


def _or_none(mask: np.ndarray | None, like: np.ndarray) -> np.ndarray:
    return np.zeros(like.shape[:2], bool) if mask is None else mask


def _grown_lines(
    frame: np.ndarray,
    grey: np.ndarray,
    fill: np.ndarray,
    lines: list[
        tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray, np.ndarray]
    ],
    maps: ColourMaps | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The pixels ``(xs, ys)`` of each dotted line ``(samples, line, colour)`` (which of the
    ``samples`` are its pixels, :func:`_dotted_line`) and the overlay pixels of its
    ``colour`` (:func:`_overlay_at`, one call for all lines) touching them and not in
    ``fill``: the samples reach one pixel either side of the segment, but a thick line's 3x3
    dots, rounded to the pixel grid apart from the samples, reach two. A white line
    (``colour`` NaN) grows into pixels without colour only. ``maps``: ``frame``'s
    :class:`.overlay.ColourMaps`, when the caller has them."""
    height, width = grey.shape
    own, grow, colours = [], [], []
    for samples, line, colour in lines:
        lx, ly = samples[0][line], samples[1][line]
        # The 3x3 neighbourhoods of the line's pixels, less the samples (looked at already).
        x0, y0 = max(0, int(lx.min()) - 1), max(0, int(ly.min()) - 1)
        x1, y1 = min(width, int(lx.max()) + 2), min(height, int(ly.max()) + 2)
        seeds = np.zeros((y1 - y0, x1 - x0), np.uint8)
        seeds[ly - y0, lx - x0] = 1
        near = cv2.dilate(seeds, np.ones((3, 3), np.uint8))
        sx, sy = samples[0], samples[1]
        inside = (sx >= x0) & (sx < x1) & (sy >= y0) & (sy < y1)
        near[sy[inside] - y0, sx[inside] - x0] = 0
        near[fill[y0:y1, x0:x1]] = 0
        cy, cx = np.nonzero(near)
        cy, cx = cy + y0, cx + x0
        if frame.ndim == 3 and np.isnan(colour[0]) and cx.size:
            # A white line grows into white pixels, not into a colour map's.
            if maps is None:
                rgb = frame[cy, cx]
                white = rgb.max(axis=1) - rgb.min(axis=1) < CHROMA_LEVEL
            else:
                white = maps.chroma[cy, cx] < CHROMA_LEVEL
            cx, cy = cx[white], cy[white]
        if np.isnan(colour[0]) and cx.size:
            # A white dot's own pixels stay near saturation; JPEG's blur of it, and bright
            # speckle beside it, are image (masking them takes the fill's neighbours away).
            keep = grey[cy, cx] >= SATURATED_LEVEL
            cx, cy = cx[keep], cy[keep]
        own.append((lx, ly))
        grow.append((cx, cy))
        colours.append(np.repeat(colour[None], cx.size, axis=0))
    if not own:
        return []
    sizes = [len(cx) for cx, _ in grow]
    lit = _overlay_at(
        frame,
        grey,
        np.concatenate([cx for cx, _ in grow]),
        np.concatenate([cy for _, cy in grow]),
        np.concatenate(colours),
        maps,
    )
    out = []
    for (lx, ly), (cx, cy), grown in zip(
        own, grow, np.split(lit, np.cumsum(sizes)[:-1]), strict=True
    ):
        out.append((np.concatenate([lx, cx[grown]]), np.concatenate([ly, cy[grown]])))
    return out


def _promote_bright(grey: np.ndarray, fill: np.ndarray, recolour: np.ndarray) -> None:
    """Move the bright pixels of the colour halo into the fill mask, in place.

    JPEG smears a thin coloured stroke: its chroma spreads and fades (a yellow dot becomes a
    near-white ``(218, 219, 213)``), while its brightness stays. Such a pixel is part of the
    drawing; making it grey would leave a bright spot, so it is interpolated instead.
    (Bright pixels merely next to the fill are not taken: on white marks those are mostly
    bright speckle, and masking them only takes the fill's nearest neighbours away.)"""
    if not recolour.any():
        return
    bx, by, bw, bh = cv2.boundingRect(recolour.view(np.uint8))
    pad = 8
    x0, y0 = max(0, bx - pad), max(0, by - pad)
    x1, y1 = min(grey.shape[1], bx + bw + pad), min(grey.shape[0], by + bh + pad)
    sub_fill, sub_recolour = fill[y0:y1, x0:x1], recolour[y0:y1, x0:x1]
    promote = _bright(grey[y0:y1, x0:x1]) & sub_recolour
    sub_fill |= promote
    sub_recolour &= ~promote


def _halo(frame: np.ndarray, drawn: np.ndarray, maps: ColourMaps | None = None) -> np.ndarray:
    """The tinted pixels JPEG smears around coloured graphics ``drawn`` (full frame;
    ``maps``: ``frame``'s :class:`.overlay.ColourMaps`, when the caller has them)."""
    out = np.zeros(drawn.shape, bool)
    bx, by, bw, bh = cv2.boundingRect(drawn.astype(np.uint8))
    rx, ry = HALO_REACH[0] // 2, HALO_REACH[1] // 2
    x0, y0 = max(0, bx - rx), max(0, by - ry)
    x1, y1 = min(frame.shape[1], bx + bw + rx), min(frame.shape[0], by + bh + ry)
    near = cv2.dilate(drawn[y0:y1, x0:x1].astype(np.uint8), np.ones(HALO_REACH[::-1], np.uint8))
    tint = (chroma(frame[y0:y1, x0:x1]) if maps is None else maps.chroma[y0:y1, x0:x1]) >= (
        HALO_CHROMA
    )
    out[y0:y1, x0:x1] = near.astype(bool) & tint
    return out & ~drawn


def caliper_mask(
    frame: np.ndarray,
    caliper_points: Sequence[Point],
    grey: np.ndarray | None = None,
    *,
    lines: bool = True,
) -> np.ndarray:
    """Boolean full-frame mask of every pixel :func:`inpaint_calipers` may change."""
    return caliper_masks(frame, caliper_points, grey, lines=lines).union


def gaussian_kernel(sigma: float) -> np.ndarray:
    size = 2 * int(np.ceil(3 * sigma)) + 1
    return cv2.getGaussianKernel(size, sigma, cv2.CV_32F).ravel()


def _normconv(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Locally weighted mean of the valid pixels (float32, same shape as ``values``)."""
    valid_f = valid.astype(np.float32)
    weighted = values.astype(np.float32) * (valid_f[..., None] if values.ndim == 3 else valid_f)
    out = None
    for sigma_x, sigma_y in SIGMAS:
        kx, ky = gaussian_kernel(sigma_x), gaussian_kernel(sigma_y)
        num = cv2.sepFilter2D(weighted, cv2.CV_32F, kx, ky, borderType=cv2.BORDER_CONSTANT)
        den = cv2.sepFilter2D(valid_f, cv2.CV_32F, kx, ky, borderType=cv2.BORDER_CONSTANT)
        if num.ndim == 3:
            den = den[..., None]
        estimate = num / np.maximum(den, 1e-6)
        if out is None:
            out = estimate
        else:
            trusted = den >= MIN_WEIGHT
            out = np.where(trusted, estimate, out)
    assert out is not None
    return out


def _windows(
    union: np.ndarray, box: tuple[int, int, int, int] | None = None
) -> list[tuple[int, int, int, int]]:
    """``(x, y, w, h)`` of the marks' surroundings (one per group of nearby masked pixels);
    ``box`` (exclusive ends), when given, holds every masked pixel."""
    ox, oy, ox1, oy1 = (0, 0, union.shape[1], union.shape[0]) if box is None else box
    if ox1 <= ox or oy1 <= oy:
        return []
    bx, by, bw, bh = cv2.boundingRect(union[oy:oy1, ox:ox1].view(np.uint8))
    if bw == 0 or bh == 0:
        return []
    bx, by = bx + ox, by + oy
    x0, y0 = max(0, bx - CONTEXT), max(0, by - CONTEXT)
    x1, y1 = min(union.shape[1], bx + bw + CONTEXT), min(union.shape[0], by + bh + CONTEXT)
    near = cv2.dilate(union[y0:y1, x0:x1].view(np.uint8), np.ones((2 * CONTEXT + 1,) * 2, np.uint8))
    contours, _ = cv2.findContours(near, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    boxes = []
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        boxes.append((x + x0, y + y0, w, h))
    return sorted(boxes, key=lambda b: (b[1], b[0]))


@dataclass
class _Job:
    """One window: the values to interpolate and where they are unknown."""

    frame_index: int
    x: int
    y: int
    fill: np.ndarray
    recolour: np.ndarray
    grey_mode: bool
    values: np.ndarray  # grey (H, W) in grey mode, else the window's channels
    unknown: np.ndarray  # the pixels to interpolate


def _job(
    frame: np.ndarray, masks: CaliperMasks, frame_index: int, box: tuple[int, int, int, int]
) -> _Job:
    x, y, w, h = box
    window = frame[y : y + h, x : x + w]
    fill, recolour = masks.fill[y : y + h, x : x + w], masks.recolour[y : y + h, x : x + w]
    union = fill | recolour
    grey_mode = window.ndim == 2
    if not grey_mode:
        free = ~union
        around = np.count_nonzero(free)
        tinted = np.count_nonzero((chroma(window) > 8) & free)
        grey_mode = bool(around > 0 and tinted <= GREY_WINDOW_SHARE * around)
    if grey_mode:
        return _Job(frame_index, x, y, fill, recolour, True, to_grey(window), fill)
    return _Job(frame_index, x, y, fill, recolour, False, window, union)


def _write(target: np.ndarray, job: _Job, estimate: np.ndarray) -> None:
    """Put the interpolated (and, in grey mode, decoloured) pixels into ``target``."""
    h, w = job.fill.shape
    window = target[job.y : job.y + h, job.x : job.x + w]
    filled = np.clip(np.rint(estimate), 0, 255).astype(np.uint8)
    if job.grey_mode:
        grey = np.where(job.fill, filled, job.values)
        changed = job.fill | job.recolour
        window[changed] = grey[changed][:, None] if window.ndim == 3 else grey[changed]
    else:
        window[job.unknown] = filled[job.unknown]


def _estimate(job: _Job, method: str) -> np.ndarray:
    if method in ("telea", "ns"):
        flag = cv2.INPAINT_TELEA if method == "telea" else cv2.INPAINT_NS
        return cv2.inpaint(job.values, job.unknown.astype(np.uint8), 3, flag).astype(np.float32)
    return _normconv(job.values, ~job.unknown)


def _masks_for(frame: np.ndarray, points: Sequence[Point], mask: np.ndarray | None) -> CaliperMasks:
    if mask is None:
        return caliper_masks(frame, points)
    return CaliperMasks(mask.astype(bool), np.zeros(frame.shape[:2], bool))


def inpaint_calipers(
    frame: np.ndarray,
    caliper_points: Sequence[Point],
    *,
    method: str = "auto",
    device: str | None = None,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(inpainted copy, boolean mask)``; pixels outside the mask are unchanged.

    ``mask`` replaces the masks derived from the points (e.g. a known overlay mask; every
    pixel in it is interpolated). A batch of one of :func:`inpaint_frames`.
    """
    masks = None if mask is None else [mask]
    return inpaint_frames([frame], [caliper_points], method=method, device=device, masks=masks)[0]


def inpaint_frames(
    frames: Sequence[np.ndarray],
    points: Sequence[Sequence[Point]],
    *,
    method: str = "auto",
    device: str | None = None,
    masks: Sequence[np.ndarray | CaliperMasks | None] | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(inpainted copy, boolean mask)`` of every frame; pixels outside a mask unchanged.

    With ``"torch"`` / ``"auto"`` the windows of all frames are filled in one batched call
    on ``device`` (see :func:`.inpaint_torch.pick_device`); the result of a frame does not
    depend on the other frames of the batch. The OpenCV methods go window by window.
    ``masks`` (one per frame, None to derive it from the points) replace the detected masks.
    """
    if method not in METHODS:
        raise ValueError(f"unknown inpainting method {method!r}; choose one of {METHODS}")
    if len(points) != len(frames) or (masks is not None and len(masks) != len(frames)):
        raise ValueError("one list of caliper points (and one mask, if given) per frame")
    all_masks = []
    for i, frame in enumerate(frames):
        given = None if masks is None else masks[i]
        all_masks.append(
            given if isinstance(given, CaliperMasks) else _masks_for(frame, points[i], given)
        )
    outputs = [frame.copy() for frame in frames]
    unions = [m.union for m in all_masks]
    jobs = [
        _job(frame, m, i, box)
        for i, (frame, m, union) in enumerate(zip(frames, all_masks, unions, strict=True))
        for box in _windows(union, m.box)
    ]
    for job, estimate in zip(jobs, _estimates(jobs, method, device), strict=True):
        _write(outputs[job.frame_index], job, estimate)
    return list(zip(outputs, unions, strict=True))


def _estimates(jobs: list[_Job], method: str, device: str | None) -> list[np.ndarray]:
    """The fill of every job (one batched torch call, or window by window with OpenCV)."""
    if not jobs:
        return []
    if method in ("auto", "torch"):
        from cadbusi_assets.ultrasound.inpaint_torch import normconv_windows

        return normconv_windows(
            [job.values for job in jobs],
            [job.unknown for job in jobs],
            SIGMAS,
            device=device,
            min_weight=MIN_WEIGHT,
        )
    return [_estimate(job, method) for job in jobs]


def inpaint_batch(
    frames: Sequence[np.ndarray],
    points: Sequence[Sequence[Point]],
    *,
    method: str = "auto",
    device: str | None = None,
    masks: Sequence[np.ndarray | CaliperMasks | None] | None = None,
) -> list[np.ndarray]:
    """The inpainted copies of :func:`inpaint_frames` (without the masks)."""
    done = inpaint_frames(frames, points, method=method, device=device, masks=masks)
    return [out for out, _ in done]
