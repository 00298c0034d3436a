"""Caliper marks ('+' and 'x', coloured or white) inside the field of view.

Candidate pixels (:func:`overlay.overlay_candidates`) are pre-filtered by their local
density and by line sums (both strokes of some template may be lit), then scored against
two cross templates of half-size ``arm`` by gathering the template offsets around each
candidate (vectorized, no full-frame convolution): both strokes of the cross must be lit and
the window away from the strokes must be empty. Passing pixels are grouped (greedy, radius
``arm``) into one point per mark. The confidence of a point combines the shape fit with
colour or contrast; the image confidence is the best point's.

Coloured marks, and white ones among the thin near-white strokes (:func:`white_strokes`),
are also found as connected components (:func:`colour_marks`): '+' and 'x' of any size
(candidate centres and their arm tests for all components at once, then a model fit), and
arrows (white ones only off bright speckle and off black bands; a coloured component that is
no arrow is tried again on its core of strong mark colour, :func:`_core_tip`). Marks in a
saturated colour too dim for the layer (red, magenta, blue) are looked for again on the
layer with those pixels added (:func:`.overlay.saturated_mark_pixels`), where no mark is
yet. White crosses that JPEG dims or bright speckle touches are found by the templates on the white strokes and
the thin bright ridges (:func:`white_ridges`; on bright speckle, the ridges duller than the
mark do not count against it), and as components of the thin pixels of a lower white level
on those ridges (:data:`DIM_WHITE_LEVEL`); small white crosses among bright speckle as a 5x5
cross of bright pixels whose other pixels are dark (:func:`small_white_crosses`). Small
coloured marks whose colour JPEG has smeared into a blob are found in the blob's brightest
channel (:func:`smeared_marks`). Crosses drawn over a colour map (elastography, colour
Doppler), whose strokes join the map's pixels, are found among the pixels departing from the
local median other than by a grey step, or brighter than it (:func:`map_marks`). No mark lies
on a colour scale bar, a filled rectangle of colour
(:func:`colour_scales`).

Where no rule found a mark, a small learned finder (:mod:`.caliper_net`: a heat map over the
crop, a refiner on patches, trained on the generator's tuning families) adds the marks it is
sure of (:func:`_net_marks`, style :data:`NET_STYLE`; :data:`LEARNED` switches it), and
white crosses whose arms run into saturated speckle where it leans to a mark
(:func:`white_cross_centre`); its refiner vetoes the rules' doubtful marks it is sure are
none (:data:`NET_VETO_PROB`; a mark in a colour it never learned, judged in yellow with
its chroma stretched: :data:`HUED_KEEP_PROB`, :data:`HUED_BOOST`). Where the rules found a
mark in such a colour, it looks for the frame's other marks on the frame in that yellow
(:func:`_hued_net_marks`). Its points move to the centre of the cross they sit on
(:func:`snap_to_cross`), else, in a frame of arrows, to the tip of their arrow
(:func:`snap_to_arrow`).

>>> import numpy as np
>>> rgb = np.full((60, 60, 3), 60, np.uint8)
>>> rgb[30, 22:39] = rgb[22:39, 30] = (255, 255, 0)
>>> found = detect_calipers(rgb, (0, 0, 59, 59))
>>> found.points, found.styles
([(30, 30)], ['+'])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import cv2
import numpy as np

from cadbusi_assets.ultrasound import overlay
from cadbusi_assets.ultrasound.overlay import (
    ColourMaps,
    as_yellow,
    coloured_pixels,
    overlay_candidates,
    to_grey,
)

#: Half-size of the template window: marks need arms at least this long.
ARM = 4
#: Share of each stroke that must be lit.
MIN_STROKE_FILL = 0.78
#: Share of the window away from the strokes that may be lit (bright speckle, dots).
MAX_OFF_FILL = 0.13
#: Mark centres may lie this far outside the field of view (lesion edges at the FOV border).
FOV_SLACK = 16
#: Points scoring below this are dropped.
MIN_SCORE = 0.5
#: Caliper arms are shorter than this; longer ones are lines.
MAX_ARM = 15
#: The shortest arm of a mark is at least this share of the longest.
ARM_SYMMETRY = 0.7
#: Lit share beside a mark (on its row) that makes it a glyph in a text line.
TEXT_FILL = 0.03
#: Lit share of the ring around a mark that makes it part of an icon or scale.
CLUTTER_FILL = 0.06
#: :func:`same_kind` and :func:`context_rejection` look no farther from a mark's centre
#: (its arms up to MAX_ARM + 1 and their neighbours; the ring up to MAX_ARM + 12; group
#: members up to ARM away).
CONTEXT_REACH = 48

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class CaliperDetection:
    points: list[tuple[int, int]] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    styles: list[str] = field(default_factory=list)

    @property
    def has_calipers(self) -> bool:
        return bool(self.points)

    @property
    def confidence(self) -> float:
        return max(self.scores) if self.scores else 0.0


@dataclass(frozen=True, eq=False)
class _Template:
    style: str
    arm: int
    stroke1: tuple[np.ndarray, np.ndarray]
    stroke2: tuple[np.ndarray, np.ndarray]
    off: tuple[np.ndarray, np.ndarray]
    core: tuple[np.ndarray, np.ndarray]  # next to the centre, between the strokes: unlit
    max_core: int  # lit core pixels allowed (JPEG smears thick strokes sideways)


def _cross_templates(arm: int, gap: int, max_core: int) -> tuple[_Template, _Template]:
    """'+' and 'x' of half-size ``arm``; the window farther than ``gap`` from a stroke is 'off'."""
    k = np.arange(-arm, arm + 1)
    zeros = np.zeros_like(k)
    dy, dx = np.mgrid[-arm : arm + 1, -arm : arm + 1]
    dy, dx = dy.ravel(), dx.ravel()
    plus_off = np.minimum(np.abs(dx), np.abs(dy)) >= gap
    cross_off = np.minimum(np.abs(dx - dy), np.abs(dx + dy)) >= gap + 1
    plus_core = (np.array([-2, -2, 2, 2]), np.array([-2, 2, -2, 2]))
    # Thick 'x' strokes (2 px drawn: 5 px along a row) light the pixels 2 px beside the
    # centre: their core lies 3 px out.
    c = 2 if gap <= 2 else 3
    cross_core = (np.array([0, 0, -c, c]), np.array([-c, c, 0, 0]))
    plus = _Template(
        "+", arm, (zeros, k), (k, zeros), (dy[plus_off], dx[plus_off]), plus_core, max_core
    )
    cross = _Template(
        "x", arm, (k, k), (k, -k), (dy[cross_off], dx[cross_off]), cross_core, max_core
    )
    return plus, cross


@lru_cache(maxsize=8)
def _templates(arm: int) -> tuple[_Template, ...]:
    """Thin strokes (up to 3 px) at ``arm``; thick or JPEG-smeared strokes (up to 5 px) at
    ``arm`` and ``arm + 1``."""
    return (
        _cross_templates(arm, 2, 1) + _cross_templates(arm, 3, 2) + _cross_templates(arm + 1, 3, 2)
    )


@dataclass(frozen=True)
class _Index:
    """A template's offsets as positions in the flattened square window."""

    stroke1: np.ndarray
    stroke2: np.ndarray
    off: np.ndarray
    core: np.ndarray


@lru_cache(maxsize=8)
def _window_offsets(arm: int) -> tuple[np.ndarray, np.ndarray, dict[_Template, _Index]]:
    reach = arm + 1
    side = 2 * reach + 1
    dy, dx = np.mgrid[-reach : reach + 1, -reach : reach + 1]

    def flat(offsets: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        return (offsets[0] + reach) * side + (offsets[1] + reach)

    index = {
        t: _Index(flat(t.stroke1), flat(t.stroke2), flat(t.off), flat(t.core))
        for t in _templates(arm)
    }
    return dy.ravel(), dx.ravel(), index


@lru_cache(maxsize=8)
def _part_rows(arm: int) -> tuple[np.ndarray, ...]:
    """Per template of :func:`_templates`, four index arrays into the flattened window of
    :func:`_window_offsets`: its first and second stroke, its 'off' pixels and its core."""
    _, _, index = _window_offsets(arm)
    return tuple(
        rows
        for template in _templates(arm)
        for rows in (
            index[template].stroke1,
            index[template].stroke2,
            index[template].off,
            index[template].core,
        )
    )


@dataclass(frozen=True)
class _Group:
    x: int
    y: int
    score: float
    style: str
    members: tuple[tuple[int, int], ...]  # passing pixels, nearest to the centre first


def _group(
    ys: np.ndarray, xs: np.ndarray, scores: np.ndarray, styles: np.ndarray, radius: int
) -> list[_Group]:
    """One group per mark: greedy by score, all passing pixels within ``radius``."""
    order = np.lexsort((xs, ys, -scores))
    taken = np.zeros(len(ys), bool)
    out = []
    for i in order:
        if taken[i]:
            continue
        near = (~taken) & (np.abs(ys - ys[i]) <= radius) & (np.abs(xs - xs[i]) <= radius)
        same = near & (styles == styles[i])
        cy, cx = float(ys[same].mean()), float(xs[same].mean())
        taken |= near
        idx = np.flatnonzero(same)
        idx = idx[np.lexsort((xs[idx], ys[idx], np.hypot(xs[idx] - cx, ys[idx] - cy)))]
        members = tuple((int(xs[k]), int(ys[k])) for k in idx[:9])
        out.append(_Group(round(cx), round(cy), float(scores[i]), str(styles[i]), members))
    return out


_DIRECTIONS = {"+": ((0, 1), (0, -1), (1, 0), (-1, 0)), "x": ((1, 1), (-1, -1), (1, -1), (-1, 1))}
#: The same as arrays of (dy, dx) rows, and the pixels that count for a step along an arm
#: (itself; itself and its 4-neighbours).
_DIRECTION_STEPS = {style: np.array(d) for style, d in _DIRECTIONS.items()}
_CENTRE = ((0, 0),)
_CROSS5 = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))


def arm_length(candidates: np.ndarray, x: int, y: int, style: str, limit: int = 20) -> int:
    """Arm length of a mark centred at ``(x, y)``: the second longest of its four lit runs
    (a pixel counts as lit when it or a 4-neighbour is a candidate), so one arm running into
    bright speckle does not stretch the estimate."""
    return sorted(arm_runs(candidates, x, y, style, limit))[-2]


def arm_runs(
    candidates: np.ndarray, x: int, y: int, style: str, limit: int = 20, *, strict: bool = False
) -> list[int]:
    """The lit run along each of the mark's four arm directions (``strict``: on the exact
    line; otherwise a 4-neighbour counts too, for strokes that JPEG has blurred). A run is
    the distance to its farthest lit pixel from the centre, bridging single unlit pixels;
    pixels outside ``candidates`` are unlit."""
    runs = _arm_runs_many(candidates, None, np.array([x]), np.array([y]), style, limit, strict)
    return [int(v) for v in runs[0]]


def _padded(grid: np.ndarray, pad: int) -> tuple[np.ndarray, int]:
    """``grid`` with ``pad`` zeros around it, and ``pad``."""
    if grid.dtype in (np.uint8, np.uint16, np.int32):
        return cv2.copyMakeBorder(grid, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0), pad
    return np.pad(grid, pad), pad


#: :func:`_arm_runs_many`'s step bits (``1 << i``), and the most steps it counts by them.
_STEP_BITS = np.left_shift(np.int64(1), np.arange(63, dtype=np.int64))
_RUN_BITS = 62


def _arm_runs_many(
    grid: np.ndarray,
    values: np.ndarray | None,
    xs: np.ndarray,
    ys: np.ndarray,
    style: str | np.ndarray,
    limit: int,
    strict: bool,
    padded: tuple[np.ndarray, int] | None = None,
) -> np.ndarray:
    """:func:`arm_runs` of many centres at once, ``(N, 4)``: a pixel of ``grid`` is lit when
    it is non-zero (``values`` None) or equals the centre's value (component labels).
    ``style`` is one for all, or each centre's four ``(dy, dx)`` (``(N, 4, 2)``).
    ``padded``: the grid padded with unlit pixels and the padding, ``> limit`` (see
    :func:`_padded`), for callers that ask several times."""
    count = len(xs)
    if limit <= 0 or count == 0:
        return np.zeros((count, 4), np.intp)
    height, width = grid.shape
    directions = _DIRECTION_STEPS[style][None] if isinstance(style, str) else style
    dy, dx = directions[..., 0], directions[..., 1]  # N x 4 (or 1 x 4)
    steps = np.arange(1, limit + 1)
    # Gathers from the grid padded (unlit) by the farthest reach, flattened: no clipping.
    grown, pad = _padded(grid, limit + 1) if padded is None else padded
    flat = grown.ravel()
    row = width + 2 * pad
    centre = (ys + pad) * row + (xs + pad)
    line = centre[:, None, None] + (dy * row + dx)[..., None] * steps  # N x 4 x limit
    lit = np.zeros(line.shape, bool)
    for oy, ox in _CENTRE if strict else _CROSS5:
        seen = flat[line + (oy * row + ox)] if oy or ox else flat[line]
        lit |= seen != 0 if values is None else seen == values[:, None, None]
    # Steps along a direction count up to the grid's edge (a 4-neighbour of a step beyond it
    # may be inside): a bound per centre and direction, where some centre is that near.
    if not (
        int(ys.min()) >= limit
        and int(xs.min()) >= limit
        and int(ys.max()) < height - limit
        and int(xs.max()) < width - limit
    ):
        y_room = np.where(dy > 0, height - 1 - ys[:, None], np.where(dy < 0, ys[:, None], limit))
        x_room = np.where(dx > 0, width - 1 - xs[:, None], np.where(dx < 0, xs[:, None], limit))
        lit &= steps <= np.minimum(y_room, x_room)[..., None]
    if limit > _RUN_BITS:  # (longer than one integer's bits: step by step)
        broken = np.ones(lit.shape, bool)  # the last step: the end of the arm
        broken[..., :-1] = ~lit[..., :-1] & ~lit[..., 1:]
        stop = broken.argmax(axis=2)
        counted = lit & (steps <= stop[..., None] + 1)
        last = limit - counted[..., ::-1].argmax(axis=2)
        return np.where(counted.any(axis=2), last, 0)
    # The run stops at the first two unlit steps in a row (the last step ends the arm); its
    # length is the farthest lit step before the stop (0: none). Per centre and direction as
    # the bits of one integer (bit i: step i + 1 lit).
    bits = lit.astype(np.int64) @ _STEP_BITS[:limit]
    end = _STEP_BITS[limit - 1]
    stops = (~bits & ~(bits >> 1) & (end - 1)) | end
    counted = bits & (((stops & -stops) << 1) - 1)  # the lit steps up to the first stop
    # the highest set bit's position plus one (frexp's exponent; 0 for none)
    return np.frexp(counted.astype(np.float64))[1].astype(np.intp)


def stroke_pixels(
    shape: tuple[int, ...], x: int, y: int, style: str, arm: int = ARM
) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the two strokes (half-size ``arm``) of a ``style`` mark centred at
    ``(x, y)``, those inside an image of ``shape`` only."""
    k = np.arange(-arm, arm + 1)
    if style == "+":
        ys = np.concatenate([np.full_like(k, y), y + k])
        xs = np.concatenate([x + k, np.full_like(k, x)])
    else:
        ys = np.concatenate([y + k, y + k])
        xs = np.concatenate([x + k, x - k])
    inside = (ys >= 0) & (ys < shape[0]) & (xs >= 0) & (xs < shape[1])
    return ys[inside], xs[inside]


def stroke_fill(candidates: np.ndarray, x: int, y: int, style: str, arm: int = ARM) -> float:
    """Share of the mark's two strokes (half-size ``arm``) that is lit."""
    ys, xs = stroke_pixels(candidates.shape, x, y, style, arm)
    return float(candidates[ys, xs].mean()) if ys.size else 0.0


def same_kind(coloured: np.ndarray, grey: np.ndarray, x: int, y: int, style: str) -> np.ndarray:
    """Pixels drawn like the mark at ``(x, y)``: coloured ones for a coloured mark, else the
    ones about as bright as its strokes (bright tissue rims are darker than white marks)."""
    if stroke_fill(coloured, x, y, style) >= 0.5:
        return coloured
    ys, xs = stroke_pixels(grey.shape, x, y, style)
    level = float(np.median(grey[ys, xs])) if ys.size else 255.0
    return (grey >= max(180.0, level - 40.0)).astype(np.uint8)


def context_rejection(candidates: np.ndarray, x: int, y: int, style: str) -> str | None:
    """Why a cross-shaped spot is not a caliper mark, judging by its surroundings, or None.

    ``candidates`` are the pixels drawn like the mark (:func:`same_kind`).

    * ``"line"``: two of its arms run on beyond :data:`MAX_ARM` (lines crossing, box edges);
    * ``"text"``: lit pixels beside it on its row and not above or below (a glyph in text,
      such as the '+' legend before "Dist 1.2 cm");
    * ``"asymmetric"``: its arms differ in length (arrows, corners of icons); a caliper's four
      arms are equal;
    * ``"tilted"``: an arm leaves its exact row, column or diagonal within :data:`ARM` pixels
      (lines crossing at other angles, such as the ruler icon of echo screens);
    * ``"clutter"``: the ring around it is busy (icons, scales), where a mark stands alone.
    """
    runs = sorted(arm_runs(candidates, x, y, style, limit=MAX_ARM + 1))
    arm = runs[-2]
    if arm > MAX_ARM:
        return "line"
    # One arm may run on into a measurement line and one may be cut by an obstacle.
    if runs[1] < ARM_SYMMETRY * runs[2]:
        return "asymmetric"
    if min(arm_runs(candidates, x, y, style, limit=ARM, strict=True)) < ARM:
        return "tilted"
    inner, reach = arm + 3, arm + 12
    y0, y1 = max(0, y - reach), min(candidates.shape[0], y + reach + 1)
    x0, x1 = max(0, x - reach), min(candidates.shape[1], x + reach + 1)
    window = candidates[y0:y1, x0:x1].astype(bool)
    dy, dx = np.mgrid[y0 - y : y1 - y, x0 - x : x1 - x]
    ring = np.maximum(np.abs(dx), np.abs(dy)) >= inner
    if style == "+":
        ring &= (np.abs(dx) > 2) & (np.abs(dy) > 2)
    else:
        ring &= (np.abs(dx - dy) > 3) & (np.abs(dx + dy) > 3)
    if not ring.any():
        return None
    beside = ring & (np.abs(dy) <= arm + 2)
    above = ring & (np.abs(dx) <= arm + 2)
    beside_fill = window[beside].mean() if beside.any() else 0.0
    above_fill = window[above].mean() if above.any() else 0.0
    if beside_fill >= TEXT_FILL and beside_fill >= 3.0 * above_fill:
        return "text"
    if window[ring].mean() > CLUTTER_FILL:
        return "clutter"
    return None


def _shifted_sum(a: np.ndarray, b: np.ndarray, k: int, dy: int, dx: int) -> np.ndarray:
    """``a[p] + b[p + k (dy, dx)]`` (``b`` counts 0 outside; equal-shaped uint8 arrays), in
    one pass."""
    height, width = a.shape
    sy, sx = k * dy, k * dx
    dst = (
        slice(max(0, -sy), height - max(0, sy)),
        slice(max(0, -sx), width - max(0, sx)),
    )
    src = (
        slice(max(0, sy), height - max(0, -sy)),
        slice(max(0, sx), width - max(0, -sx)),
    )
    out = np.empty_like(a)
    cv2.add(a[dst], b[src], dst=out[dst])  # (OpenCV's addition of views: twice numpy's speed)
    # The strips where p + k (dy, dx) falls outside: a alone.
    if sy:
        rows = slice(height - sy, height) if sy > 0 else slice(0, -sy)
        out[rows] = a[rows]
    if sx:
        cols = slice(width - sx, width) if sx > 0 else slice(0, -sx)
        out[:, cols] = a[:, cols]
    return out


def _line_sums(
    padded: np.ndarray, pad: int, dy: int, dx: int, half: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel of the image that ``padded`` holds (uint8 0/1 with ``pad > half`` unlit
    pixels around it), the lit pixels on the line through it along ``(dy, dx)`` within
    ``half`` and within ``half + 1`` steps (pixels outside count as unlit). Run sums doubled
    over the padded array: a few passes, not one per step."""
    length = 2 * half + 1
    run, n = padded, 1  # run[p]: the lit pixels at p, p + d, ..., p + (n - 1) d
    while 2 * n <= length:
        run, n = _shifted_sum(run, run, n, dy, dx), 2 * n
    while n < length:  # the remaining steps one at a time
        run, n = _shifted_sum(run, padded, n, dy, dx), n + 1
    height, width = padded.shape[0] - 2 * pad, padded.shape[1] - 2 * pad

    def at(array: np.ndarray, k: int) -> np.ndarray:
        y, x = pad + k * dy, pad + k * dx
        return array[y : y + height, x : x + width]

    inner = at(run, -half)
    outer = cv2.add(inner, at(padded, -half - 1))
    cv2.add(outer, at(padded, half + 1), dst=outer)
    return inner, outer


def _strokes_lit(candidates: np.ndarray, arm: int) -> np.ndarray:
    """uint8, non-zero at pixels where both strokes of some template of :func:`_templates`
    (arm ``arm`` or ``arm + 1``) may be lit to :data:`MIN_STROKE_FILL` (a cheap test every
    scored pixel must pass; the scoring decides)."""
    lit = cv2.threshold(candidates, 0, 1, cv2.THRESH_BINARY)[1]
    pad = arm + 2
    padded = cv2.copyMakeBorder(lit, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    short, long = 2 * arm + 1, 2 * arm + 3
    need_short = math.ceil(MIN_STROKE_FILL * short - 1e-6)  # the fewest that reach the share
    need_long = math.ceil(MIN_STROKE_FILL * long - 1e-6)
    ok: np.ndarray | None = None
    for (ay, ax), (by, bx) in (((0, 1), (1, 0)), ((1, 1), (1, -1))):  # '+', 'x'
        a_short, a_long = _line_sums(padded, pad, ay, ax, arm)
        b_short, b_long = _line_sums(padded, pad, by, bx, arm)
        # Both strokes reach the count: the smaller of the two sums does.
        for a, b, need in ((a_short, b_short, need_short), (a_long, b_long, need_long)):
            both = cv2.threshold(cv2.min(a, b), need - 1, 255, cv2.THRESH_BINARY)[1]
            ok = both if ok is None else cv2.bitwise_or(ok, both)
    assert ok is not None
    return ok


def _kept_strokes_lit(candidates: np.ndarray, keep: np.ndarray, arm: int) -> np.ndarray:
    """``keep`` (uint8) and :func:`_strokes_lit` of ``candidates``, computed only around the
    kept pixels: the box of them grown by the longer stroke's half (``arm + 1``), the
    farthest the test at a pixel looks (pixels beyond the crop count as unlit either way)."""
    kx, ky, kw, kh = cv2.boundingRect(keep)
    out = np.zeros_like(keep)
    if kw == 0 or kh == 0:
        return out
    height, width = keep.shape
    reach = arm + 1
    near = (
        slice(max(0, ky - reach), min(height, ky + kh + reach)),
        slice(max(0, kx - reach), min(width, kx + kw + reach)),
    )
    cv2.bitwise_and(keep[near], _strokes_lit(candidates[near], arm), dst=out[near])
    return out


def _score(
    candidates: np.ndarray,
    coloured: np.ndarray,
    grey_crop: np.ndarray,
    arm: int,
    inside: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows, columns, best template score and style of the pixels of ``candidates`` that may
    be the centre of a mark (pre-filtered by local density, then scored by gathering)."""
    side = 2 * arm + 1
    lit = cv2.threshold(candidates, 0, 255, cv2.THRESH_BINARY)[1]  # 0 or 255
    density = cv2.blur(lit, (side, side))
    lo, hi = int(255 * (2 * side - 2) * 0.7 / side**2), int(255 * 0.85)
    # uint8 masks (non-zero: kept) and OpenCV's operations on them, all over the crop.
    keep = cv2.bitwise_and(lit, cv2.inRange(density, lo, hi))
    if inside is not None:
        keep = cv2.bitwise_and(keep, inside.view(np.uint8))
    reach = arm + 1  # the widest template's half-size
    keep[:reach], keep[-reach:], keep[:, :reach], keep[:, -reach:] = 0, 0, 0, 0
    if cv2.countNonZero(keep) > 2000:  # a cheap test before gathering
        keep = _kept_strokes_lit(candidates, keep, arm)
    found = cv2.findNonZero(keep)
    empty = np.zeros(0, np.intp)
    if found is None:
        return empty, empty, np.zeros(0, np.float32), np.zeros(0, "<U1")
    found = found.reshape(-1, 2)
    xs, ys = found[:, 0].astype(np.intp), found[:, 1].astype(np.intp)
    order = np.lexsort((xs, ys))  # row-major, as np.nonzero gives them
    ys, xs = ys[order], xs[order]
    window_dy, window_dx, index = _window_offsets(arm)
    # One gather of every centre's window (flat offsets; offsets by rows, centres along
    # them), then every template's stroke, 'off' and core counts (exact: at most 121).
    width = candidates.shape[1]
    flat = np.ascontiguousarray(candidates).ravel()
    window = flat[(window_dy * width + window_dx)[:, None] + (ys * width + xs)[None, :]]
    templates = _templates(arm)
    parts = _part_rows(arm)
    counts = [np.add.reduce(window[rows], axis=0, dtype=np.uint8) for rows in parts]
    best_score = np.zeros(len(ys), np.float32)
    best_style = np.full(len(ys), "", dtype="<U1")
    for t, template in enumerate(templates):
        at = index[template]
        # As the means of the 0/1 window pixels give them (float64 sums over the count).
        f1 = counts[4 * t].astype(np.float64) / at.stroke1.size
        f2 = counts[4 * t + 1].astype(np.float64) / at.stroke2.size
        off = counts[4 * t + 2].astype(np.float64) / at.off.size
        core = counts[4 * t + 3]
        ok = (
            (f1 >= MIN_STROKE_FILL)
            & (f2 >= MIN_STROKE_FILL)
            & (off <= MAX_OFF_FILL)
            & (core <= template.max_core)
        )
        if not ok.any():
            continue
        idx = np.flatnonzero(ok)
        shape = np.minimum(f1[idx], f2[idx]) * (1.0 - 4.0 * off[idx])
        on = np.concatenate([at.stroke1, at.stroke2])
        rows = ys[idx][:, None] + window_dy[None, :]
        cols = xs[idx][:, None] + window_dx[None, :]
        grey_window = grey_crop[rows, cols].astype(np.float32)
        contrast = np.clip(
            (grey_window[:, on].mean(axis=1) - grey_window[:, at.off].mean(axis=1)) / 120.0,
            0.0,
            1.0,
        )
        colour = coloured[rows[:, on], cols[:, on]].mean(axis=1)
        score = shape * (0.55 + 0.45 * np.maximum(contrast, colour))
        better = score > best_score[idx]
        best_score[idx[better]] = score[better]
        best_style[idx[better]] = template.style
    return ys, xs, best_score, best_style


#: A coloured mark's half-size (arm length or arrow wing) lies in this range (px).
MIN_HALF, MAX_HALF = 2, 14
#: Share of a component's pixels within 1 px of the ideal mark, and of the ideal mark's
#: pixels within 1 px of the component, for the component to be that mark.
MODEL_FIT = 0.85
#: An arrow: the wide end's spread (share of the length) and the narrow end's (px). Short
#: wings on a long shaft (a 15-px arrow with 2-px wings: 0.29 of its length) are arrows too.
ARROW_WIDE, ARROW_NARROW = 0.25, 3.5
#: A thick arrow (a 4-5 px shaft, a filled head): its shaft may spread this share of the
#: length where the head is at least :data:`THICK_WIDE` times as wide as the shaft ...
THICK_NARROW, THICK_WIDE = 0.25, 1.5
#: ... and its strokes at the tip this share of the length (JPEG rounds a filled head's
#: point; at least 3 px, as for a thin arrow: wider is a 'T' or a 'Y').
TIP_SPREAD = 0.16
#: ... and its head widens from the tip: halfway to its widest slice (within the ARROW_HEAD
#: share of the length from the tip) it is at least this share of that width already (the
#: thick arrows of the tuning frames: 0.6-0.8; a real ALOKA frame's green mouse pointer,
#: seen from its tail, 0.18).
ARROW_HEAD, THICK_HEAD_RISE = 0.45, 0.4


#: Share of the :data:`CLUTTER_SIDE` square around a mark that other lit pixels may fill.
MARK_CLUTTER = 0.12
CLUTTER_SIDE = 41
#: Share of its bounding box a cross fills at most (thick strokes of a small mark ~0.6).
CROSS_FILL = 0.7
#: White marks are drawn at least this bright.
WHITE_MARK_LEVEL = 250
#: ... and where JPEG dims them, their thin pixels at least this bright (crosses only).
DIM_WHITE_LEVEL = 225
_DISC5 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
_SQUARE5 = np.ones((5, 5), np.uint8)
#: A white arrow: at most this share of the pixels around it at this grey level or above.
ARROW_RING_LEVEL, ARROW_RING_SHARE = 200, 0.03
#: ... or, for a straight arrow (its shaft within :data:`STRAIGHT_NARROW` px of a line over
#: the far 55 % of a length of at least :data:`STRAIGHT_LENGTH` px: no speckle ridge is),
#: at most this share (a drawn arrow on bright speckle) ...
ARROW_RING_LOOSE = 0.3
STRAIGHT_NARROW, STRAIGHT_LENGTH = 3.0, 12
#: ... and its wings alike: the shorter at least this share of the longer.
STRAIGHT_SYMMETRY = 0.75
#: ... and at most this share of them this dark (white text on a black band: nearly all;
#: an arrow on dark tissue, whose speckle dips to 10 in places: up to about 0.35).
ARROW_BLACK_LEVEL, ARROW_BLACK_SHARE = 10, 0.5
#: A thick white arrow's tip (where its 3-px shaft and wings meet): a blob that the opening
#: of :func:`white_strokes` takes, of at most this many pixels.
TIP_BLOB = 60
#: ... on bright speckle: the surroundings of a component holding such a tip as loose as
#: :data:`ARROW_RING_LOOSE` allows (its 3-5 px shaft is not straight by
#: :data:`STRAIGHT_NARROW`) where at most this share of them is black
#: (:data:`ARROW_BLACK_LEVEL`): bright speckle has next to no black pixels; the UI and text
#: edges whose thick pieces look like arrows have many (tuning frames: the arrows 0-0.02,
#: the false marks the rules alone then gave 0.27-0.49).
THICK_LOOSE_BLACK = 0.1
#: ... and there its tip within this many px of the tip blob (a thick arrow's tip lies 2-4 px
#: beyond its blob; speckle touching the tip would take it farther, the tip being the
#: speckle's far end).
THICK_TIP_REACH = 4.0
#: An arrow's pixels are at most this many times its box's longer side (a thin one: about
#: 4.5; a thick one, 4-5 px shaft and filled head: up to about 7.5).
ARROW_AREA = 8
#: A coloured component that is no arrow is tried again on its core (:func:`_core_tip`): its
#: pixels of at least CORE_CHROMA chroma whose green channel is within CORE_GREEN of their
#: brightest (the marks' yellow, green and cyan; not a Doppler map's red, orange or blue),
#: the largest 8-connected piece of them if it holds at least CORE_PIXELS. JPEG bleeds a
#: thick arrow's colour into the bright speckle beside it, faint at the edges (siemens_s2000
#: 103's yellow arrows; philips_epiq 308's cyan one), and a thin green arrow may touch an
#: orange Doppler blob (philips_epiq 231). Chosen on the tuning frames (seeds 100-139,
#: 200-239, 300-339, 400-439, the rules alone): CORE_CHROMA 120 and 150 find 5 true arrow
#: tips more (within 1 px) and no other point, 100 four (it loses one of siemens_s2000 103's);
#: CORE_GREEN 20, 40 and 60 alike; without it the core of a Doppler blob (philips_iu22 108)
#: gave a false arrow. The false arrows of a lesser CORE_PIXELS were cores of numerals beside
#: arrows (13 and 15 px: philips_iu22 112's '2', which cost the 'x' beside it, and ge_logiq
#: 301's '1'); the true arrows' cores hold 23 px and more.
CORE_CHROMA, CORE_GREEN, CORE_PIXELS = 120, 40, 20


@dataclass(frozen=True)
class _Mark:
    x: int
    y: int
    style: str
    score: float
    box: Box  # the component's bounding box (inclusive, crop coordinates)

    def moved(self, dx: int, dy: int) -> _Mark:
        """The same mark, its point and box moved by (``dx``, ``dy``)."""
        x0, y0, x1, y1 = self.box
        return _Mark(
            self.x + dx, self.y + dy, self.style, self.score, (x0 + dx, y0 + dy, x1 + dx, y1 + dy)
        )


def _model_fit(pixels: np.ndarray, box: Box, model: np.ndarray) -> float:
    """The worse of the two shares of :data:`MODEL_FIT` (``pixels``, ``model``: uint8 0/1
    over ``box`` grown by 2 px)."""
    kernel = np.ones((3, 3), np.uint8)
    n_pixels, n_model = cv2.countNonZero(pixels), cv2.countNonZero(model)
    if not n_pixels or not n_model:
        return 0.0
    near_model = cv2.countNonZero(pixels & cv2.dilate(model, kernel))
    near_pixels = cv2.countNonZero(model & cv2.dilate(pixels, kernel))
    return min(near_model / n_pixels, near_pixels / n_model)


def _whole_median(runs: np.ndarray) -> np.ndarray:
    """Per row of ``runs`` ((N, 4) whole numbers, none negative), its median as
    ``np.median(runs, axis=1).astype(np.intp)`` gives it: the floor of the mean of the
    middle two (without np.median's overhead)."""
    middle = np.sort(runs, axis=1)[:, 1:3].astype(np.intp)
    return (middle[:, 0] + middle[:, 1]) // 2


def _fit_centres(
    lit: tuple[np.ndarray, np.ndarray],
    labels: np.ndarray,
    stats: np.ndarray,
    which: np.ndarray,
    pixel_slack: bool = False,
) -> dict[str, dict[int, list[tuple[int, int, int]]]]:
    """Per style and component (``which``: bool per label), its candidate centres that pass
    the first tests of a cross: ``(x, y, half)`` in the component's own coordinates (2-px
    border), in order. Candidates are where the most lit row and column (diagonals) cross,
    and the rounded centroid (thick strokes tie many rows); a centre must be lit, its four
    arms (:func:`arm_runs`, 4-neighbours count) at least :data:`MIN_HALF` and within 75 %
    of each other (with ``pixel_slack``, or 1 px apart), and ``half``, the median arm on
    the exact lines, at least :data:`MIN_HALF`. All components at once (``lit``: the layer's lit pixels)."""
    out: dict[str, dict[int, list[tuple[int, int, int]]]] = {"+": {}, "x": {}}
    chosen = np.flatnonzero(which)
    if chosen.size == 0:
        return out
    index = np.full(len(stats), -1, np.intp)
    index[chosen] = np.arange(chosen.size)
    py, px = lit
    member = index[labels[py, px]]
    keep = member >= 0
    py, px, member = py[keep], px[keep], member[keep]
    x, y, w, h = (stats[chosen, i].astype(np.intp) for i in range(4))
    ox, oy = np.maximum(0, x - 2), np.maximum(0, y - 2)
    crop_h = np.minimum(labels.shape[0], y + h + 2) - oy
    crop_w = np.minimum(labels.shape[1], x + w + 2) - ox
    ly, lx = py - oy[member], px - ox[member]
    n = np.bincount(member, minlength=chosen.size).astype(np.float64)
    # The rounded centroid, as round(float(xs.mean())) gives it.
    mean_x = np.bincount(member, weights=lx, minlength=chosen.size) / n
    mean_y = np.bincount(member, weights=ly, minlength=chosen.size) / n
    centroid = (np.round(mean_x).astype(np.intp), np.round(mean_y).astype(np.intp))
    span = 2 * int(crop_h.max() + crop_w.max()) + 1
    shift = crop_h[member]  # makes both indices non-negative within a component

    def most_lit(values: np.ndarray) -> np.ndarray:
        """Per component, the most frequent of ``values`` (the smallest of the tied ones)."""
        counts = np.bincount(member * span + values + shift, minlength=chosen.size * span)
        return counts.reshape(chosen.size, span).argmax(axis=1) - crop_h

    everywhere = np.ones(chosen.size, bool)
    # The most lit row and column cross at (column, row); the diagonals x - y = u and
    # x + y = v at a pixel when u + v is even. Candidates in order: per style, the
    # centroid's then the crossing's.
    row, column = most_lit(ly), most_lit(lx)
    u, v = most_lit(lx - ly), most_lit(lx + ly)
    # A crossing at the centroid is the same candidate again (its fit is the same): left out.
    crossing = ((u + v) // 2, (v - u) // 2)
    cands = [
        ("+", centroid, everywhere),
        ("+", (column, row), (column != centroid[0]) | (row != centroid[1])),
        ("x", centroid, everywhere),
        (
            "x",
            crossing,
            ((u + v) % 2 == 0) & ((crossing[0] != centroid[0]) | (crossing[1] != centroid[1])),
        ),
    ]
    cx = np.concatenate([c[1][0] for c in cands])
    cy = np.concatenate([c[1][1] for c in cands])
    ok = np.concatenate([c[2] for c in cands])
    styles = np.repeat(np.array([c[0] for c in cands]), chosen.size)
    ks = np.tile(chosen, len(cands))
    ox, oy = np.tile(ox, len(cands)), np.tile(oy, len(cands))
    ok &= (cx >= 0) & (cy >= 0) & (cx < np.tile(crop_w, len(cands)))
    ok &= cy < np.tile(crop_h, len(cands))
    gx, gy = np.where(ok, cx + ox, 0), np.where(ok, cy + oy, 0)
    ok &= labels[gy, gx] == ks
    at = np.flatnonzero(ok)
    directions = np.where(
        (styles == "+")[:, None, None], _DIRECTION_STEPS["+"], _DIRECTION_STEPS["x"]
    )

    grown = _padded(labels, MAX_HALF + 3)  # the farthest any run below looks, and one

    def runs_of(at: np.ndarray, limit: int, strict: bool) -> np.ndarray:
        return _arm_runs_many(labels, ks[at], gx[at], gy[at], directions[at], limit, strict, grown)

    # Arms of MIN_HALF (2) show in the first 3 steps: a cheap test first.
    at = at[runs_of(at, 3, False).min(axis=1) >= MIN_HALF]
    runs = runs_of(at, MAX_HALF + 2, False)
    ordered = np.sort(runs, axis=1)
    shortest, second, longest = ordered[:, 0], ordered[:, 1], ordered[:, 3]
    # About equal arms; JPEG may cut one of a long mark's short, or lend one of a small
    # coloured mark's a pixel (2 px against 3: otherwise a broken 'x' is taken for an arrow;
    # not for white marks, where bright speckle gives such small crosses).
    equal = (shortest >= 0.75 * longest) | (
        (second >= 0.75 * longest) & (shortest >= 0.5 * longest) & (longest >= 6)
    )
    if pixel_slack:
        equal |= longest - shortest <= 1
    at = at[(shortest >= MIN_HALF) & equal]
    half = _whole_median(runs_of(at, MAX_HALF + 2, True))
    passed = half >= MIN_HALF
    at, half = at[passed], half[passed]
    for style, k, x, y, half_i in zip(
        styles[at].tolist(),
        ks[at].tolist(),
        cx[at].tolist(),
        cy[at].tolist(),
        half.tolist(),
        strict=True,
    ):
        out[style].setdefault(k, []).append((x, y, half_i))
    return out


def _stroke_width(component: np.ndarray, x: int, y: int, style: str, half: int) -> float:
    """The widest of the mark's four strokes (px), measured across each arm halfway along it."""
    height, width = component.shape
    d = max(1, half // 2)
    widest = 0
    for dx, dy in _DIRECTIONS[style]:
        px, py = x + dx * d, y + dy * d
        ax, ay = (dy, dx) if style == "+" else (dx, -dy)  # across the arm
        run = 0
        for sign in (1, -1):
            for k in range(0 if sign == 1 else 1, 2 * MAX_HALF):
                qx, qy = px + sign * k * ax, py + sign * k * ay
                if not (0 <= qx < width and 0 <= qy < height and component[qy, qx]):
                    break
                run += 1
        widest = max(widest, run)
    return widest * (1.0 if style == "+" else math.sqrt(2.0))


def _flip_overlap(part: np.ndarray, axes: tuple[int, ...], shift: int = 1) -> int:
    """Pixels of ``part`` that its mirror image (about ``axes``) also lights, the mirror
    shifted by up to ``shift`` pixels along each axis."""
    flipped = np.flip(part, axis=axes)
    best = 0
    shifts = tuple(range(-shift, shift + 1))
    for shift_y in shifts if 0 in axes else (0,):
        for shift_x in shifts if 1 in axes else (0,):
            moved = np.roll(flipped, (shift_y, shift_x), axis=(0, 1))
            best = max(best, cv2.countNonZero(part & moved))
    return best


def _near_flip(part: np.ndarray, axes: tuple[int, ...]) -> int:
    """Pixels of ``part`` within 1 px of a pixel of its mirror image (about ``axes``)."""
    return cv2.countNonZero(part & cv2.dilate(np.flip(part, axis=axes), _SQUARE3))


_SQUARE3 = np.ones((3, 3), np.uint8)


def cross_pixels(
    shape: tuple[int, ...], centres: list[tuple[int, int]], half: int, style: str, stroke: int = 1
) -> np.ndarray:
    """uint8 0/1 of ``shape``: crosses of ``style`` and arm ``half`` at ``centres``, their
    strokes ``stroke`` px wide (the 1-px lines grown left and up by ``stroke - 1`` px)."""
    model = np.zeros(shape[:2], np.uint8)
    for cx, cy in centres:
        if style == "+":
            cv2.line(model, (cx - half, cy), (cx + half, cy), 1, 1)
            cv2.line(model, (cx, cy - half), (cx, cy + half), 1, 1)
        else:
            cv2.line(model, (cx - half, cy - half), (cx + half, cy + half), 1, 1)
            cv2.line(model, (cx - half, cy + half), (cx + half, cy - half), 1, 1)
    if stroke == 1:
        return model
    grown: np.ndarray = cv2.dilate(model, np.ones((stroke, stroke), np.uint8), anchor=(0, 0))
    return grown


def _cross_fit(
    component: np.ndarray, style: str, centres: list[tuple[int, int, int]], at_least: float = 0.0
) -> tuple[float, int, int]:
    """Fit of a component (uint8 0/1, 2-px border) to a '+' or 'x': ``(fit, x, y)`` in the
    component's coordinates. ``centres`` are the ``(x, y, half)`` of :func:`_fit_centres`:
    lit centres whose four arms are about equally long, ``half`` the median arm on the exact
    lines. The mark's window must be symmetric; pixels beyond the arms (dots of a
    measurement line or an ellipse trace touching the mark) are not judged. Centres whose
    fit stays below ``at_least`` are not judged to the end (their fit counts as 0)."""
    best = (0.0, 0, 0)
    for cx, cy, half in centres:
        # Strokes, not a filled blob (colour bars, discs, flow).
        if _stroke_width(component, cx, cy, style, half) > max(
            3 if style == "+" else 5, 0.9 * half
        ):
            continue
        model = cross_pixels(component.shape, [(cx, cy)], half, style)
        reach = half + 1
        if cy - reach < 0 or cx - reach < 0:
            continue
        window = (slice(cy - reach, cy + reach + 1), slice(cx - reach, cx + reach + 1))
        part, ideal = component[window], model[window]
        if part.shape != ideal.shape or part.shape[0] != part.shape[1]:
            continue
        lit, n_ideal = cv2.countNonZero(part), cv2.countNonZero(ideal)
        # Thick strokes: pixels count as on the mark within the stroke width they imply.
        side = 2 * round(lit / max(1, n_ideal)) + 1
        near = cv2.countNonZero(part & cv2.dilate(ideal, np.ones((side, side), np.uint8)))
        covered = cv2.countNonZero(part & ideal) / max(1, n_ideal)
        # Beyond the arms only dots of a line or trace may touch the mark, not a glyph's
        # other strokes.
        outside = cv2.countNonZero(component) - lit
        if outside > 0.25 * lit or min(near / max(1, lit), covered / 0.9) < at_least:
            continue  # a fit of 0, or below what the caller takes (symmetry costs the most)
        # Thick strokes of even width centre between pixels and are drawn a little lopsided.
        shift = 1 if side > 3 and half >= 4 else 0  # small marks are thin: exact symmetry
        symmetry = min(
            _flip_overlap(part, (0, 1), shift),
            _flip_overlap(part, (1,), shift),
            _flip_overlap(part, (0,), shift),
        ) / max(1, lit)
        if shift:
            symmetry = min(1.0, symmetry + 0.1)
        if symmetry < 0.85 and covered >= 0.9 and half >= 3:
            # JPEG smears a few pixels to one side of a stroke: mirrored pixels count within
            # 1 px, when the ideal mark is all there.
            symmetry = min(_near_flip(part, axes) for axes in ((0, 1), (1,), (0,))) / max(1, lit)
        fit = min(near / max(1, lit), symmetry, covered / 0.9)
        if outside > 0.25 * lit or symmetry < 0.85:
            fit = 0.0
        if fit > best[0]:
            best = (min(1.0, fit), cx, cy)
    return best


def _arrow_tip(component: np.ndarray, straight: bool = False) -> tuple[float, int, int] | None:
    """An arrow (a shaft and two short wings from its tip): ``(score, x, y)`` of the tip, or
    None. Along the shaft, the end near the tip is wide (the wings), the far end is the
    shaft alone; at the tip itself the strokes meet in one point. ``straight``: only an
    arrow whose shaft is straight and long and whose wings are alike (:data:`STRAIGHT_NARROW`,
    :data:`STRAIGHT_SYMMETRY`), for a component whose
    surroundings only :data:`ARROW_RING_LOOSE` allows."""
    ys, xs = np.nonzero(component)
    points = np.stack([xs, ys], axis=1).astype(np.float64)
    centre = points.mean(axis=0)
    centred = points - centre
    _, vectors = np.linalg.eigh(centred.T @ centred)
    axis, across = vectors[:, 1], vectors[:, 0]
    along, side = centred @ axis, centred @ across
    length = float(along.max() - along.min())
    if length < 5:
        return None
    spreads, rests = [], []
    for end in (along.min(), along.max()):
        band = np.abs(along - end) <= 0.45 * length
        rest = ~band  # the far 55 %: the shaft alone (a '+' has its bar in the middle)
        spreads.append(float(side[band].max() - side[band].min()))
        rests.append(float(side[rest].max() - side[rest].min()) if rest.any() else 0.0)
    tip_end = int(np.argmax(spreads))
    wide, narrow = spreads[tip_end], rests[tip_end]
    if length < 12 and (narrow > 1.5 or len(points) > 2.5 * length):
        return None  # a small arrow is drawn with thin strokes (not a chain of thick dots)
    shaft = ARROW_NARROW
    if wide >= THICK_WIDE * narrow:  # a thick arrow's shaft
        shaft = max(shaft, THICK_NARROW * length)
    if wide < ARROW_WIDE * length or narrow > shaft:
        return None
    if straight and (narrow > STRAIGHT_NARROW or length < STRAIGHT_LENGTH):
        return None
    end = along.min() if tip_end == 0 else along.max()
    near = np.abs(along - end) <= 0.45 * length
    left, right = float(side[near].max()), float(-side[near].min())
    if min(left, right) < 0.12 * length or min(left, right) < 0.5 * max(left, right):
        return None  # wings on both sides of the shaft, not one curve
    if straight and min(left, right) < STRAIGHT_SYMMETRY * max(left, right):
        return None  # (a box's corner with a speckle bump beside it)
    if narrow > ARROW_NARROW and not _widens_from_tip(along, side, end, length):
        return None  # a thick shape whose wide part does not grow from this end
    at_tip = np.abs(along - end) <= 1.0
    if float(side[at_tip].max() - side[at_tip].min()) > max(3.0, TIP_SPREAD * length):
        return None  # a 'T' or 'Y', not a tip
    tx, ty = points[at_tip].mean(axis=0)
    return min(1.0, wide / (0.5 * length)), round(tx), round(ty)


def _core_tip(component: np.ndarray, core: np.ndarray) -> tuple[float, int, int] | None:
    """:func:`_arrow_tip` of the largest piece of ``component`` & ``core`` (uint8 0/1 of
    the same shape: the component's pixels of a mark's strong colour, :data:`CORE_CHROMA`),
    if it holds at least :data:`CORE_PIXELS`: a coloured arrow without the pixels JPEG or a
    touching blob added to its component."""
    piece = cv2.bitwise_and(component, core)
    if cv2.countNonZero(piece) < CORE_PIXELS:
        return None
    _, labels, stats = _components(piece)
    largest = 1 + int(np.argmax(stats[1:, 4]))
    if stats[largest, 4] < CORE_PIXELS:
        return None
    return _arrow_tip((labels == largest).astype(np.uint8))


def _widens_from_tip(along: np.ndarray, side: np.ndarray, end: float, length: float) -> bool:
    """Whether a thick arrow's head widens from its tip at ``end``: over the head (the
    :data:`ARROW_HEAD` share of the length nearest ``end``, in 2-px slices), halfway from
    the tip to the widest slice the spread is at least :data:`THICK_HEAD_RISE` of the
    widest. A mouse pointer seen from its tail (a thin stem, then the triangle's base at
    once) is not."""
    distance = np.abs(along - end)
    head = distance <= ARROW_HEAD * length
    slices = (distance[head] // 2).astype(np.intp)
    across = side[head]
    widths = np.zeros(int(slices.max()) + 1)
    for k in np.unique(slices):
        part = across[slices == k]
        widths[k] = float(part.max() - part.min())
    widest = int(np.argmax(widths))
    return bool(widths[widest // 2] >= THICK_HEAD_RISE * widths[widest])


def white_strokes(
    grey: np.ndarray,
    coloured: np.ndarray,
    *,
    crossings: bool = False,
    level: int = WHITE_MARK_LEVEL,
) -> np.ndarray:
    """uint8 0/1: grey pixels at :data:`WHITE_MARK_LEVEL` or above that an opening with a
    5x5 disc removes (strokes up to 4 px wide, not blobs of saturated speckle). With
    ``crossings``, the opening is with a 5x5 square, which fits where two 3-px strokes
    cross no more than along them (the disc does, and takes a thick cross's centre)."""
    return _white_parts(grey, coloured, crossings=crossings, level=level)[0]


def _white_parts(
    grey: np.ndarray,
    coloured: np.ndarray,
    *,
    crossings: bool = False,
    level: int = WHITE_MARK_LEVEL,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`white_strokes` and the blobs its opening kept (uint8 0/1 both): the grey
    pixels at ``level`` or above that are not coloured are the two together (the blobs are
    what :func:`thick_arrow_tips` looks at: one threshold and opening for both)."""
    white = ((grey >= level) & (coloured == 0)).astype(np.uint8)
    if not cv2.countNonZero(white):
        return white, white
    blobs = cv2.morphologyEx(white, cv2.MORPH_OPEN, _SQUARE5 if crossings else _DISC5)
    return white & (1 - blobs), blobs


def thick_arrow_tips(
    grey: np.ndarray,
    coloured: np.ndarray,
    white: np.ndarray,
    blobs: np.ndarray | None = None,
) -> np.ndarray:
    """uint8 0/1: the blobs that the opening of :func:`white_strokes` took (``white``: its
    output) where they are small (at most :data:`TIP_BLOB` pixels) and touch its strokes:
    the tips of thick white arrows, whose shaft and wings meet in a filled wedge.
    ``blobs``: those the opening took, when the caller has them (:func:`_white_parts`)."""
    tips = np.zeros_like(white)
    if blobs is None:
        full = cv2.threshold(grey, WHITE_MARK_LEVEL - 1, 1, cv2.THRESH_BINARY)[1]
        full = cv2.bitwise_and(full, cv2.threshold(coloured, 0, 1, cv2.THRESH_BINARY_INV)[1])
        blobs = cv2.subtract(full, white)
    if not cv2.countNonZero(blobs):
        return tips
    touch = cv2.bitwise_and(cv2.dilate(white, _SQUARE3), blobs)
    # The blobs' components only in the box around the pixels touching the strokes grown by
    # TIP_BLOB px: a blob of at most TIP_BLOB px that touches them lies within it, and a
    # larger one that the box cuts holds more than TIP_BLOB px in it (a path from a touching
    # pixel to the cut): both as on the whole crop.
    nx, ny, nw, nh = cv2.boundingRect(touch)
    if nw == 0 or nh == 0:
        return tips
    height, width = blobs.shape
    x0, y0 = max(0, nx - TIP_BLOB), max(0, ny - TIP_BLOB)
    x1, y1 = min(width, nx + nw + TIP_BLOB), min(height, ny + nh + TIP_BLOB)
    count, labels, stats = _components(np.ascontiguousarray(blobs[y0:y1, x0:x1]))
    small = stats[:, 4] <= TIP_BLOB
    small[0] = False
    near = cv2.findNonZero(touch[y0:y1, x0:x1])
    if near is None or not small.any():
        return tips
    near = near.reshape(-1, 2)
    touching = np.zeros(count, bool)
    touching[labels[near[:, 1], near[:, 0]]] = True
    for label in np.flatnonzero(small & touching):
        x, y, w, h = (int(v) for v in stats[label, :4])
        piece = (labels[y : y + h, x : x + w] == label).astype(np.uint8)
        tips[y0 + y : y0 + y + h, x0 + x : x0 + x + w] |= piece
    return tips


def _lit_around(layer: np.ndarray, x: int, y: int) -> int:
    """Lit pixels of ``layer`` in the :data:`CLUTTER_SIDE` square centred at ``(x, y)``,
    the layer mirrored at its edges (``cv2.BORDER_REFLECT_101``, as a box filter has it)."""
    half = CLUTTER_SIDE // 2
    height, width = layer.shape
    if y >= half and x >= half and y + half < height and x + half < width:
        return int(np.count_nonzero(layer[y - half : y + half + 1, x - half : x + half + 1]))

    def mirrored(centre: int, size: int) -> np.ndarray:
        index = np.arange(centre - half, centre + half + 1)
        if size == 1:
            return np.zeros_like(index)
        period = 2 * (size - 1)
        index = np.abs(index) % period
        return np.where(index >= size, period - index, index)

    return int(np.count_nonzero(layer[np.ix_(mirrored(y, height), mirrored(x, width))]))


#: A white stroke pixel is at least this bright, and this much brighter than the pixels
#: 2 px to both sides of it (across a stroke of 1-2 px, in any direction but its own).
RIDGE_LEVEL, RIDGE_CONTRAST = 200, 40


def white_ridges(grey: np.ndarray, coloured: np.ndarray) -> np.ndarray:
    """uint8 0/1: bright grey pixels on a thin ridge (brighter than the pixels 2 px left and
    right of them, or above and below): white strokes that JPEG has dimmed or that bright
    speckle touches."""
    height, width = grey.shape
    padded = cv2.copyMakeBorder(grey, 2, 2, 2, 2, cv2.BORDER_REPLICATE)
    left, right = padded[2:-2, :width], padded[2:-2, 4:]
    up, down = padded[:height, 2:-2], padded[4:, 2:-2]
    # uint8 throughout (OpenCV's saturating subtraction: a pixel darker than its sides
    # gives 0, below the contrast as the signed difference is).
    across_x = cv2.subtract(grey, cv2.max(left, right))
    across_y = cv2.subtract(grey, cv2.max(up, down))
    contrast = cv2.threshold(cv2.max(across_x, across_y), RIDGE_CONTRAST - 1, 1, cv2.THRESH_BINARY)[
        1
    ]
    bright = cv2.threshold(grey, RIDGE_LEVEL - 1, 1, cv2.THRESH_BINARY)[1]
    ridge = cv2.bitwise_and(bright, contrast)
    # Where strokes cross, no side is dark: a bright pixel between two ridge pixels joins.
    r = cv2.copyMakeBorder(ridge, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    between = np.zeros_like(ridge)
    for (ay, ax), (by, bx) in (
        ((0, 1), (2, 1)),
        ((1, 0), (1, 2)),
        ((0, 0), (2, 2)),
        ((0, 2), (2, 0)),
    ):
        pair = cv2.bitwise_and(
            r[ay : ay + height, ax : ax + width], r[by : by + height, bx : bx + width]
        )
        between = cv2.bitwise_or(between, pair)
    joined = cv2.bitwise_or(ridge, cv2.bitwise_and(bright, between))
    return cv2.bitwise_and(joined, cv2.threshold(coloured, 0, 1, cv2.THRESH_BINARY_INV)[1])


#: Arrows of the dim pass: straight white arrows (:func:`_arrow_tip`) whose strokes JPEG has
#: dimmed below :data:`WHITE_MARK_LEVEL` in places, on the thin pixels of the lower level,
#: with few bright pixels around them (:data:`ARROW_RING_SHARE`).
DIM_ARROWS = True

#: A mark of the dim pass is thin strokes: of the 5x5 pixels around its centre, at most
#: this many at :data:`DIM_WHITE_LEVEL` or above (a blob of bright speckle fills more).
DIM_CORE_MAX = 14


def _dim_core(grey: np.ndarray, x: int, y: int) -> int:
    """Pixels at :data:`DIM_WHITE_LEVEL` or above among the 5x5 around ``(x, y)``."""
    core = grey[max(0, y - 2) : y + 3, max(0, x - 2) : x + 3]
    return int(np.count_nonzero(core >= DIM_WHITE_LEVEL))


#: A white cross on bright speckle: its strokes are at least this bright (median) and the
#: ridges that make its ring busy are speckle if darker than them by this much.
ALONE_LEVEL, ALONE_MARGIN = 235.0, 25.0


def _alone_among_duller(ridges: np.ndarray, grey: np.ndarray, x: int, y: int, style: str) -> bool:
    """Whether the cross at ``(x, y)`` on ``ridges`` stands alone once the ridges clearly
    duller than its strokes (bright speckle around a white mark) are left out."""
    ys, xs = stroke_pixels(grey.shape, x, y, style)
    if not ys.size:
        return False
    level = float(np.median(grey[ys, xs]))
    if level < ALONE_LEVEL:
        return False
    reach = CONTEXT_REACH
    y0, x0 = max(0, y - reach), max(0, x - reach)
    near = (slice(y0, y + reach + 1), slice(x0, x + reach + 1))
    bright = ridges[near] & (grey[near] >= level - ALONE_MARGIN).astype(np.uint8)
    return context_rejection(bright, x - x0, y - y0, style) is None


#: Small white crosses (arms of 2-3 px) that bright speckle touches or JPEG breaks: the
#: components miss them (one piece with the speckle, or an arm's pixel dimmed to 248 beside a
#: speckle ridge, less than RIDGE_CONTRAST above its sides) and the templates need ARM. Their
#: 5x5 cross (:func:`small_white_crosses`): every stroke pixel at least SMALL_LEVEL, at most
#: SMALL_QUADRANT_LIT of the 16 others at SMALL_LEVEL or above (the speckle touching an arm),
#: the strokes' mean at least SMALL_CONTRAST above theirs. On the tuning frames of seeds
#: 100-439 (800 frames) it finds three small '+' that nothing found (contrast 92-99) and puts
#: no point off a true mark. 3 lit pixels give the same, 4 two points on speckle, 1 one true
#: mark fewer; a level of 240 the same, 215 one true mark fewer. The contrast takes no point of
#: the tuning frames by itself (0 gives the same): a guard against flat bright patches, below
#: the marks' 92.
SMALL_LEVEL, SMALL_QUADRANT_LIT, SMALL_CONTRAST = 225, 2, 80.0
#: ... on bright speckle, not on black: at most SMALL_BLACK of the SMALL_SIDE square around it
#: at ARROW_BLACK_LEVEL or below (at 1.0 six points off any true mark: crossings of header
#: glyphs such as a '4' on black; 0.3 the same as 0.1) ...
SMALL_SIDE, SMALL_BLACK = 21, 0.1
#: ... and no arm of it SMALL_LINE px long at SMALL_LEVEL (a drawn line crossing another). The
#: tuning frames ask for nothing here (60, about no test, gives the same points); a first
#: version that asked it of both sides of the centre at once let the corner of a box's edges
#: beside an elastography map through (1 false mark, seeds 200-239).
SMALL_LINE = 8
_SMALL_HALF = 2


@lru_cache(maxsize=2)
def _small_offsets(style: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 5x5 '+' or 'x' kernel (uint8), and the (dy, dx) offsets of its strokes and of the
    other pixels of the 5x5 square."""
    half = _SMALL_HALF
    kernel = cross_pixels((2 * half + 1,) * 2, [(half, half)], half, style)
    on = np.argwhere(kernel > 0) - half
    off = np.argwhere(kernel == 0) - half
    return kernel, on, off


def _sparse_centres(bright: np.ndarray, centres: np.ndarray, half: int) -> np.ndarray | None:
    """``(x, y)`` rows (as ``cv2.findNonZero`` gives them, or None) of the pixels of
    ``centres`` where the square of side ``2 half + 1`` around holds at most
    ``9 + SMALL_QUADRANT_LIT`` pixels of ``bright`` (uint8 0/1; pixels beyond the crop
    unlit). The count only in the box around ``centres`` grown by ``half``, the farthest
    the square looks."""
    height, width = bright.shape
    cx, cy, cw, ch = cv2.boundingRect(centres)
    if cw == 0 or ch == 0:
        return None
    x0, y0 = max(0, cx - half), max(0, cy - half)
    near = (slice(y0, min(height, cy + ch + half)), slice(x0, min(width, cx + cw + half)))
    count = cv2.boxFilter(
        bright[near], -1, (2 * half + 1,) * 2, normalize=False, borderType=cv2.BORDER_CONSTANT
    )
    sparse = cv2.threshold(count, 9 + SMALL_QUADRANT_LIT, 1, cv2.THRESH_BINARY_INV)[1]
    at = cv2.findNonZero(cv2.bitwise_and(centres[near], sparse))
    return None if at is None else at.reshape(-1, 2) + np.array([x0, y0], at.dtype)


def small_white_crosses(
    grey: np.ndarray, coloured: np.ndarray, inside: np.ndarray | None = None
) -> list[_Mark]:
    """Small white '+' and 'x' (a 5x5 cross, :data:`SMALL_LEVEL`, :data:`SMALL_QUADRANT_LIT`,
    :data:`SMALL_CONTRAST`) on bright speckle (:data:`SMALL_BLACK`), their strokes no long
    lines (:data:`SMALL_LINE`): one mark per cluster of passing pixels, the best contrast."""
    height, width = grey.shape
    plain = grey
    if cv2.countNonZero(coloured):
        plain = cv2.bitwise_and(grey, cv2.threshold(coloured, 0, 255, cv2.THRESH_BINARY_INV)[1])
    found: list[tuple[float, int, int, str]] = []
    half, reach = _SMALL_HALF, SMALL_LINE
    # The coloured pixels 0. Where all 9 stroke pixels are lit, the 5x5 square's count less 9
    # is the other pixels' (one box filter: most bright pixels are in speckle blobs); one
    # search for the centres of both styles.
    bright = cv2.threshold(plain, SMALL_LEVEL - 1, 1, cv2.THRESH_BINARY)[1]
    lit = {style: cv2.erode(bright, _small_offsets(style)[0]) for style in ("+", "x")}
    at = _sparse_centres(bright, cv2.bitwise_or(lit["+"], lit["x"]), half)
    if at is None:
        return []
    all_xs, all_ys = at[:, 0].astype(np.intp), at[:, 1].astype(np.intp)
    for style in ("+", "x"):
        _, on, off = _small_offsets(style)
        xs, ys = all_xs, all_ys
        keep = (ys >= half) & (ys < height - half) & (xs >= half) & (xs < width - half)
        keep &= lit[style][ys, xs] > 0
        if inside is not None:
            keep &= inside[ys, xs]
        xs, ys = xs[keep], ys[keep]
        if not xs.size:
            continue
        others = plain[ys[:, None] + off[None, :, 0], xs[:, None] + off[None, :, 1]]
        strokes = plain[ys[:, None] + on[None, :, 0], xs[:, None] + on[None, :, 1]]
        contrast = strokes.mean(axis=1) - others.mean(axis=1)
        keep = contrast >= SMALL_CONTRAST
        xs, ys, contrast = xs[keep], ys[keep], contrast[keep]
        k = np.arange(1, reach + 1)
        for dy, dx in _DIRECTION_STEPS[style]:  # the four arms
            ly = np.clip(ys[:, None] + k[None, :] * dy, 0, height - 1)
            lx = np.clip(xs[:, None] + k[None, :] * dx, 0, width - 1)
            keep = plain[ly, lx].min(axis=1) < SMALL_LEVEL
            xs, ys, contrast = xs[keep], ys[keep], contrast[keep]
        r = SMALL_SIDE // 2
        for score, x, y in zip(contrast.tolist(), xs.tolist(), ys.tolist(), strict=True):
            window = grey[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1]
            if np.count_nonzero(window <= ARROW_BLACK_LEVEL) <= SMALL_BLACK * window.size:
                found.append((score, x, y, style))
    marks: list[_Mark] = []
    for score, x, y, style in sorted(found, reverse=True):
        if any(abs(x - m.x) <= 2 * half and abs(y - m.y) <= 2 * half for m in marks):
            continue
        fit = 0.55 + 0.45 * min(1.0, score / 120.0)
        marks.append(_Mark(x, y, style, round(fit, 4), (x - half, y - half, x + half, y + half)))
    return marks


def _components(layer: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """8-connected components of ``layer``: count, labels and stats, as
    ``cv2.connectedComponentsWithStats`` gives them; 16-bit labels when they fit (the same
    labelling, several times faster to compute)."""
    ltype = cv2.CV_16U if cv2.countNonZero(layer) < 65000 else cv2.CV_32S
    count, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
        layer, 8, ltype, cv2.CCL_SPAGHETTI
    )
    return count, labels, stats


def _middle_lit(labels: np.ndarray, stats: np.ndarray, which: np.ndarray) -> np.ndarray:
    """Per label, whether it is among ``which`` (bool per label of ``stats``) and a pixel of
    the 3x3 around its box's middle (column ``x + w // 2``, row ``y + h // 2``; cut at the
    labels' edges) is its own."""
    out = np.zeros(len(stats), bool)
    chosen = np.flatnonzero(which)
    if chosen.size == 0:
        return out
    height, width = labels.shape
    cx = stats[chosen, 0] + stats[chosen, 2] // 2
    cy = stats[chosen, 1] + stats[chosen, 3] // 2
    steps = np.array([-1, 0, 1])
    rows = np.clip(cy[:, None, None] + steps[None, :, None], 0, height - 1)
    cols = np.clip(cx[:, None, None] + steps[None, None, :], 0, width - 1)
    out[chosen] = (labels[rows, cols] == chosen[:, None, None]).any(axis=(1, 2))
    return out


def _lit_of(
    layer: np.ndarray, stats: np.ndarray, which: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of ``layer``'s lit pixels in row-major order (as ``np.nonzero``
    gives them), those in the box around the components of ``which`` (bool per label of
    ``stats``) only: every pixel of theirs, in the same order (the others are left out by
    whoever looks at their labels)."""
    if not which.any():
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    chosen = stats[which]
    x0, y0 = int(chosen[:, 0].min()), int(chosen[:, 1].min())
    x1, y1 = int((chosen[:, 0] + chosen[:, 2]).max()), int((chosen[:, 1] + chosen[:, 3]).max())
    nonzero = cv2.findNonZero(layer[y0:y1, x0:x1])
    if nonzero is None:  # (a component has a lit pixel: never)
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    points = nonzero.reshape(-1, 2)
    return points[:, 1].astype(np.intp) + y0, points[:, 0].astype(np.intp) + x0


def _arrow_context(
    layer: np.ndarray,
    labels: np.ndarray,
    stats: np.ndarray,
    grey: np.ndarray,
    which: np.ndarray,
    loose_black: float = ARROW_BLACK_SHARE,
) -> tuple[np.ndarray, np.ndarray]:
    """Per label of ``layer``'s components (``labels``, ``stats``), whether the pixels just
    around it (its ring: 8-neighbours of its pixels that are unlit, a ring pixel owned by
    the largest label beside it) are few bright (:data:`ARROW_RING_SHARE`) and few black
    (:data:`ARROW_BLACK_SHARE`): a drawn white arrow on tissue, not a piece of bright speckle
    or a white glyph on a black band; and whether they are so with bright ones up to
    :data:`ARROW_RING_LOOSE` (an arrow there must be straight: :func:`_arrow_tip`), black
    ones up to ``loose_black`` (of the ring). Exact for
    the labels of ``which`` (bool per label; the others may read True): only the box around
    them, grown by 2 px, is looked at (every ring pixel of theirs, and its 3x3 neighbours,
    lie within it)."""
    count = len(stats)
    chosen = stats[which]
    height, width = layer.shape
    wx0, wy0 = max(0, int(chosen[:, 0].min()) - 2), max(0, int(chosen[:, 1].min()) - 2)
    wx1 = min(width, int((chosen[:, 0] + chosen[:, 2]).max()) + 2)
    wy1 = min(height, int((chosen[:, 1] + chosen[:, 3]).max()) + 2)
    window = (slice(wy0, wy1), slice(wx0, wx1))
    part = layer[window]
    ring = cv2.compare(cv2.dilate(part, _SQUARE3), part, cv2.CMP_GT)
    # The ring's pixels found once (row-major, as a boolean mask picks them), read twice.
    found = cv2.findNonZero(ring)
    at = np.zeros((0, 2), np.int32) if found is None else found.reshape(-1, 2)
    ry, rx = at[:, 1], at[:, 0]
    # The largest label around each ring pixel (16-bit labels dilate as they are).
    owned = labels[window] if labels.dtype == np.uint16 else labels[window].astype(np.float32)
    owner = cv2.dilate(owned, _SQUARE3)[ry, rx].astype(np.intp)
    levels = grey[window][ry, rx]
    around = np.bincount(owner, minlength=count)
    lit_around = np.bincount(owner, weights=levels >= ARROW_RING_LEVEL, minlength=count)
    # ... and not on a black band (white text: its '1', 'L' and '7' look like arrows).
    black = np.bincount(owner, weights=levels <= ARROW_BLACK_LEVEL, minlength=count)
    not_black = black <= ARROW_BLACK_SHARE * around
    strict = (lit_around <= ARROW_RING_SHARE * around) & not_black
    loose = (lit_around <= ARROW_RING_LOOSE * around) & (black <= loose_black * around)
    return strict, loose


#: A component of the layer of at least REGION_AREA px (the clutter square's area: one
#: component larger than the square it is counted in) is a region, such as an elastography
#: map beside a cross, not clutter around it: its pixels are not counted against a cross
#: (against an arrow still: not counted for arrows too, 3 false arrows more beside the maps
#: of philips_iu22 228 and 406). The maps beside the true crosses it let through are
#: 17,750-146,790 px, the crosses 13-25 px. On the tuning frames of seeds 100-439 (2,728
#: marks): 1 true mark more (ge_voluson 113's small yellow 'x' at (534, 243), 4 px from a
#: green map's corner), two more that the learned finder found already now the rules'
#: (philips_epiq 184 (524, 387), ge_voluson 209 (280, 250)), no false mark and no other
#: point changed; at 400 px the same.
REGION_AREA = CLUTTER_SIDE**2


def _region_pixels(labels: np.ndarray, stats: np.ndarray, x: int, y: int) -> int:
    """Pixels of components of at least :data:`REGION_AREA` px (``labels``, ``stats``) in the
    :data:`CLUTTER_SIDE` square centred at ``(x, y)`` (clipped at the edges)."""
    half = CLUTTER_SIDE // 2
    window = labels[max(0, y - half) : y + half + 1, max(0, x - half) : x + half + 1]
    region = stats[:, 4] >= REGION_AREA
    region[0] = False  # (the background)
    return int(np.count_nonzero(region[window]))


def colour_marks(
    layer: np.ndarray,
    arrows: bool = True,
    *,
    grey: np.ndarray | None = None,
    seeds: np.ndarray | None = None,
    holding: np.ndarray | None = None,
    straight: bool = False,
    tint: tuple[np.ndarray, ColourMaps] | None = None,
) -> list[_Mark]:
    """Caliper marks among the connected components of ``layer`` (uint8 0/1, the pixels of
    mark colours): '+' and 'x' of any size in range (the centre), arrows (the tip).
    Components in a text line (neighbours of about their height beside them) are not marks.
    With ``grey`` (white marks), arrows only where the pixels around a component are not
    bright (a drawn arrow on tissue, not a piece of bright speckle). With ``seeds`` (uint8
    0/1, the layer's shape), arrows only, and only on components holding a pixel of it (the
    others are context: text lines, clutter); on bright speckle, arrows of any shape where
    few pixels around are black (:data:`THICK_LOOSE_BLACK`). With ``holding`` (uint8 0/1,
    the layer's shape), marks of any kind only on components holding a pixel of it. With
    ``straight`` (and ``grey``), arrows only straight ones (:func:`_arrow_tip`) with few
    bright pixels around (:data:`ARROW_RING_SHARE`). With ``tint`` (the RGB frame the layer
    is of, and its :class:`~.overlay.ColourMaps`), a component that is no arrow is tried
    again on its core of strong mark colour (:func:`_core_tip`)."""
    # All below looks at the lit pixels and no farther than 2 px around them (component
    # crops, rings), but for the clutter count (on the whole layer): the lit pixels'
    # bounding box grown by 2 px is searched, its origin even (the labelling's 2x2 blocks
    # stay aligned: the same components in the same order).
    whole = layer
    bx, by, bw, bh = cv2.boundingRect(layer)
    if bw == 0 or bh == 0:
        return []
    x0, y0 = max(0, bx - 2) // 2 * 2, max(0, by - 2) // 2 * 2
    layer = whole[y0 : by + bh + 2, x0 : bx + bw + 2]
    if grey is not None:
        grey = grey[y0 : by + bh + 2, x0 : bx + bw + 2]
    if tint is not None:
        tint = (
            tint[0][y0 : by + bh + 2, x0 : bx + bw + 2],
            tint[1].crop(y0, by + bh + 2, x0, bx + bw + 2),
        )
    count, labels, stats = _components(layer)
    lo, hi = 2 * MIN_HALF + 1, 2 * MAX_HALF + 3
    boxes = stats[1:, :4]
    heights = stats[1:, 3]
    found = []
    # Size tests on every component at once; the rest only for those in range.
    side_max = np.maximum(stats[:, 2], stats[:, 3])
    sized = (
        (stats[:, 4] >= 5)
        & (side_max >= lo)
        & (side_max <= 3 * hi)
        & (np.minimum(stats[:, 2], stats[:, 3]) >= 2)
    )
    sized[0] = False
    for must in (seeds, holding):
        if must is not None:
            held = np.zeros(count, bool)
            found_at = cv2.findNonZero(must[y0 : by + bh + 2, x0 : bx + bw + 2])  # (few)
            if found_at is not None:
                xy = found_at.reshape(-1, 2)
                held[labels[xy[:, 1], xy[:, 0]]] = True
            sized &= held
    arrow_ok = np.ones(count, bool)
    straight_ok = np.zeros(count, bool)
    # An arrow is at least 5 px long (its box's diagonal bounds the length), a short one
    # at most 2.5 pixels per pixel of it: the first tests of _arrow_tip, on the stats.
    arrow_sized = np.zeros(count, bool)
    if arrows:
        diagonals = np.hypot(stats[:, 2] - 1, stats[:, 3] - 1)
        arrow_sized = (diagonals >= 5) & ~((diagonals < 12) & (stats[:, 4] > 2.5 * diagonals))
        if straight:  # (the box's diagonal bounds the length)
            arrow_sized &= diagonals >= STRAIGHT_LENGTH
    # (only for the components that could be an arrow: the others never ask); straight_ok:
    # those whose surroundings are bright enough that only a straight arrow is one
    may_be_arrow = sized & (stats[:, 4] <= ARROW_AREA * side_max) & arrow_sized
    # (with seeds, thick arrows: on bright speckle, any shape of arrow where few of those
    # pixels are black, THICK_LOOSE_BLACK)
    thick = seeds is not None
    seeded = None if seeds is None else seeds[y0 : by + bh + 2, x0 : bx + bw + 2]
    if grey is not None and may_be_arrow.any():
        loose_black = THICK_LOOSE_BLACK if thick else ARROW_BLACK_SHARE
        arrow_ok, straight_ok = _arrow_context(
            layer, labels, stats, grey, may_be_arrow, loose_black
        )
        if straight:  # straight arrows of a lower level: the strict context alone
            straight_ok[:] = False
    if not arrows:  # crosses only: square and sparse
        sized &= (
            (side_max <= hi)
            & (np.abs(stats[:, 2] - stats[:, 3]) <= 2 + side_max // 4)
            & (stats[:, 4] <= CROSS_FILL * stats[:, 2] * stats[:, 3])
        )
    shaped = (
        sized
        & (seeds is None)
        & (
            (side_max <= hi)
            & (np.abs(stats[:, 2] - stats[:, 3]) <= 2 + side_max // 4)
            & (stats[:, 4] <= CROSS_FILL * stats[:, 2] * stats[:, 3])
        )
    )
    # Components whose centres may pass the first tests of _cross_fit, per style.
    # ... and lit at their middle, as the loop below asks before any cross fit (the others
    # would be tried for an arrow alone, which they are when they may be one).
    shaped = _middle_lit(labels, stats, shaped)
    lit = _lit_of(layer, stats, shaped)
    fittable = _fit_centres(lit, labels, stats, shaped, pixel_slack=grey is None)
    tried = np.zeros(count, bool)  # a cross may fit, or an arrow (the tests below)
    tried[[*fittable["+"], *fittable["x"]]] = True
    if arrows:
        tried |= (stats[:, 4] <= ARROW_AREA * side_max) & (arrow_ok | straight_ok) & arrow_sized
    fitted: dict[int, tuple[tuple[float, int, int, str], int, int]] = {}
    for label in np.flatnonzero(sized & tried):
        k = int(label)
        x, y, w, h, area = (int(v) for v in stats[k])
        may_cross = k in fittable["+"] or k in fittable["x"]
        component = labels[y - 2 if y >= 2 else 0 : y + h + 2, max(0, x - 2) : x + w + 2] == k
        component = component.astype(np.uint8)
        ox, oy = max(0, x - 2), max(0, y - 2)
        best: tuple[float, int, int, str] | None = None
        # A cross is square, sparse and lit at its middle (cheap tests first: most
        # components are speckle or text).
        middle = labels[y + h // 2 - 1 : y + h // 2 + 2, x + w // 2 - 1 : x + w // 2 + 2]
        crossable = (
            max(w, h) <= hi
            and abs(w - h) <= 2 + max(w, h) // 4
            and area <= CROSS_FILL * w * h
            and bool((middle == k).any())
        )
        if crossable and may_cross:
            for style in ("+", "x"):
                if k not in fittable[style]:
                    continue  # no centre passes the first tests
                fit, cx, cy = _cross_fit(component, style, fittable[style][k], MODEL_FIT)
                if fit >= MODEL_FIT and (best is None or fit > best[0]):
                    best = (fit, cx, cy, style)
        may_arrow = arrows and area <= ARROW_AREA * max(w, h) and arrow_sized[k]
        if best is None and may_arrow and (arrow_ok[k] or straight_ok[k]):
            tip = _arrow_tip(component, straight=straight or (not arrow_ok[k] and not thick))
            if tip is not None and seeded is not None and not arrow_ok[k]:
                # on bright speckle: the tip by its seed (not speckle beyond it)
                tx, ty = tip[1] + ox, tip[2] + oy
                r = math.ceil(THICK_TIP_REACH)
                near = (slice(max(0, ty - r), ty + r + 1), slice(max(0, tx - r), tx + r + 1))
                sy, sx = np.nonzero((labels[near] == k) & (seeded[near] > 0))
                reach = np.hypot(sx + near[1].start - tx, sy + near[0].start - ty)
                if not (reach <= THICK_TIP_REACH).any():
                    tip = None
            if tip is None and tint is not None:
                window = (
                    slice(oy, oy + component.shape[0]),
                    slice(ox, ox + component.shape[1]),
                )
                high = tint[1].high[window]
                core = (tint[1].chroma[window] >= CORE_CHROMA) & (
                    high - tint[0][window][..., 1] <= CORE_GREEN  # (green: never above high)
                )
                tip = _core_tip(component, core.astype(np.uint8))
            if tip is not None:
                best = (tip[0], tip[1], tip[2], ">")
        if best is not None:
            fitted[k] = (best, ox, oy)
    # Marks beside each other (a pair drawn close) are not a text line.
    is_mark = np.zeros(count - 1, bool)
    is_mark[[k - 1 for k in fitted]] = True
    for k, (best, ox, oy) in fitted.items():
        x, y, w, h, area = (int(v) for v in stats[k])
        # Text: components of about this height beside it, on its rows.
        same_rows = (boxes[:, 1] < y + h) & (boxes[:, 1] + heights > y)
        # ... glyphs of one line: about its height, their tops or bottoms aligned with its.
        align = max(2.0, 0.2 * h)
        similar = (
            (heights >= 0.6 * h)
            & (heights <= 1.6 * h)
            & (
                (np.abs(boxes[:, 1] - y) <= align)
                | (np.abs(boxes[:, 1] + heights - (y + h)) <= align)
            )
        )
        gap = np.maximum(boxes[:, 0] - (x + w), x - (boxes[:, 0] + boxes[:, 2]))
        beside = same_rows & similar & (gap <= max(4, h)) & (np.arange(1, count) != k) & ~is_mark
        if beside.any():
            continue
        fit, cx, cy, style = best
        my = min(max(cy + oy + y0, 0), whole.shape[0] - 1)
        mx = min(max(cx + ox + x0, 0), whole.shape[1] - 1)
        # Lit pixels around a mark besides its own (colour flow, elastography, busy icons).
        clutter = _lit_around(whole, mx, my) - area
        if clutter > MARK_CLUTTER * CLUTTER_SIDE**2 and (
            style == ">"
            or clutter - _region_pixels(labels, stats, mx - x0, my - y0)
            > MARK_CLUTTER * CLUTTER_SIDE**2
        ):
            continue
        box = (x + x0, y + y0, x + x0 + w - 1, y + y0 + h - 1)
        found.append(_Mark(cx + ox + x0, cy + oy + y0, style, round(fit, 4), box))
    return found


#: Hollow '+' marks (:func:`hollow_marks`), filled ones (:func:`_hollow_filled`): four light
#: bars (at least HOLLOW_BAR_LEVEL in the brightest channel; JPEG dims a green bar's edges
#: to 180-200) with dark sides (at most HOLLOW_DARK; the Philips EPIQ's: black), of these
#: widths (px; the EPIQ's: 3) ...
HOLLOW_BAR_LEVEL = 160
HOLLOW_DARK = 90
HOLLOW_BAR_WIDTHS = (1, 3, 5)
#: ... and this long (the EPIQ's: 5), longer than wide ...
HOLLOW_BAR_LENGTH = (3, 12)
#: ... facing each other across an empty centre at least 1 and at most this many px wider
#: than a bar (the EPIQ's: 5 px across, 2 wider than its 3-px bars; a solid '+' whose
#: crossing breaks its arms' runs leaves a centre as wide as a bar); the two arms of an
#: axis differ by at most 1 px in width and length, the two axes by at most
#: HOLLOW_AXIS_SLACK px.
HOLLOW_GAP_EXTRA = 6
HOLLOW_AXIS_SLACK = 2
#: A solid '+' whose runs JPEG or anti-aliasing broke beyond the crossing is told by its
#: centre: the strips between facing bars at least HOLLOW_SOLID_CENTRE lit, the corners
#: beside them less than HOLLOW_SOLID_CORNERS.
HOLLOW_SOLID_CENTRE = 0.9
HOLLOW_SOLID_CORNERS = 0.5
#: Outline marks (:func:`_hollow_outlined`; the 1-px light outline of a solid '+', its
#: inside not lit): light is at least HOLLOW_LEVEL, and again at least HOLLOW_BAR_LEVEL (JPEG
#: dims a pixel of a 1-px outline to 190-200 and the inside leaks out there; at the lower
#: level speckle lights more of an inside that shows the image) ...
HOLLOW_LEVEL = 200
#: ... the mark is this many px across ...
HOLLOW_OUTLINE_SIDE = (11, 27)
#: ... its inside matches a solid '+' at least this well (intersection over union), and
#: at least this share of the outline around that solid is lit.
HOLLOW_OUTLINE_FIT = 0.8
HOLLOW_RING_FIT = 0.85
#: Style of a hollow mark.
HOLLOW_STYLE = "h+"


def _bar_pairs(stats: np.ndarray, upright: bool) -> np.ndarray:
    """The pairs of upright (or lying) bars among ``stats`` (rows as :func:`_outlined_bars`
    gives them, the first a dummy) that face each other across a gap as
    :func:`_hollow_filled` asks: per pair, the centre ``x, y``, the mean width and length,
    the gap, and the two bars' rows in ``stats[1:]`` ((0, 7) when none)."""
    x, y, w, h = (stats[1:, k].astype(np.int64) for k in range(4))
    long_ = np.maximum(w, h)
    bar = (long_ >= HOLLOW_BAR_LENGTH[0]) & (long_ <= HOLLOW_BAR_LENGTH[1])
    which = np.flatnonzero(bar & ((h > w) if upright else (w > h)))
    if which.size < 2:
        return np.zeros((0, 7))
    # along: the axis the bars lie on; across: the other
    a0, a1 = (y, h) if upright else (x, w)
    c0, c1 = (x, w) if upright else (y, h)
    lo, ln = a0[which], a1[which]
    co, cw = c0[which], c1[which]
    gap = lo[None, :] - (lo[:, None] + ln[:, None])  # first bar i, second j
    ok = (
        (gap >= cw[:, None] + 1)
        & (gap <= cw[:, None] + HOLLOW_GAP_EXTRA)
        & (np.abs(co[:, None] - co[None, :]) <= 1)
        & (np.abs(cw[:, None] - cw[None, :]) <= 1)
        & (np.abs(ln[:, None] - ln[None, :]) <= 1)
    )
    i, j = np.nonzero(ok)
    centre_along = (lo[i] + ln[i] + lo[j] - 1) / 2
    centre_across = (co[i] + co[j]) / 2 + (cw[i] + cw[j] - 2) / 4
    return np.stack(
        [
            centre_across if upright else centre_along,  # x
            centre_along if upright else centre_across,  # y
            (cw[i] + cw[j]) / 2,
            (ln[i] + ln[j]) / 2,
            gap[i, j],
            which[i],
            which[j],
        ],
        axis=1,
    )


def _hollow_filled(stats: np.ndarray, level: np.ndarray) -> list[_Mark]:
    """Filled hollow '+' marks among light bars (``stats``: ``x, y, width, height, area``
    rows as :func:`_outlined_bars` gives them, the first a dummy): two upright bars above
    and below a centre and two lying ones left and right of it, each pair alike (width and
    length within 1 px, the same column or row within 1 px) across a gap of
    :data:`HOLLOW_GAP_EXTRA`, both pairs alike within :data:`HOLLOW_AXIS_SLACK` px and their
    centres within 1 px, whose centre is not lit through (``level``: the brightest channel,
    lit at least :data:`HOLLOW_BAR_LEVEL`; a solid '+' is). Score: 1 where the parts agree to the
    pixel, 0.1 less for every pixel they differ by (at least 0.5)."""
    pairs = [_bar_pairs(stats, upright) for upright in (True, False)]
    up, lying = pairs
    if not len(up) or not len(lying):
        return []
    d = np.abs(up[:, None, :5] - lying[None, :, :5])
    match = (
        (d[..., 0] <= 1)
        & (d[..., 1] <= 1)
        & (d[..., 2] <= 1)
        & (d[..., 3] <= HOLLOW_AXIS_SLACK)
        & (d[..., 4] <= HOLLOW_AXIS_SLACK)
    )
    found = []
    used: set[int] = set()
    for i, j in zip(*np.nonzero(match), strict=True):
        bars = {int(up[i, 5]), int(up[i, 6]), int(lying[j, 5]), int(lying[j, 6])}
        if bars & used:
            continue
        used |= bars
        # (halves round up: the same point whatever the crop's origin)
        cx = math.floor((up[i, 0] + lying[j, 0]) / 2 + 0.5)
        cy = math.floor((up[i, 1] + lying[j, 1]) / 2 + 0.5)
        if _solid_centre(stats[1:], level, [int(v) for v in (*up[i, 5:7], *lying[j, 5:7])]):
            continue
        score = max(0.5, 1.0 - 0.1 * float(d[i, j, :5].sum()))
        k = np.array(sorted(bars)) + 1
        box = (
            int(stats[k, 0].min()),
            int(stats[k, 1].min()),
            int((stats[k, 0] + stats[k, 2]).max() - 1),
            int((stats[k, 1] + stats[k, 3]).max() - 1),
        )
        found.append(_Mark(cx, cy, HOLLOW_STYLE, score, box))
    return found


def _solid_centre(stats: np.ndarray, level: np.ndarray, bars: list[int]) -> bool:
    """Whether the centre between ``bars`` (rows of ``stats``: the top, bottom, left and
    right bar) is a solid '+' crossing whose runs JPEG or anti-aliasing broke: the strips
    between facing bars lit (at least :data:`HOLLOW_SOLID_CENTRE`), the corners beside them
    not (less than :data:`HOLLOW_SOLID_CORNERS`). A hollow mark's centre shows the image:
    unlit, or bright speckle lit all over."""
    top, bottom, left, right = (stats[k] for k in bars)
    ry0, ry1 = top[1] + top[3], bottom[1]  # the rows between the upright bars
    cx0, cx1 = left[0] + left[2], right[0]  # the columns between the lying ones
    if ry1 <= ry0 or cx1 <= cx0:
        return False
    square = level[ry0:ry1, cx0:cx1] >= HOLLOW_BAR_LEVEL
    strips = np.zeros(square.shape, bool)
    strips[:, max(0, top[0] - cx0) : top[0] + top[2] - cx0] = True
    strips[max(0, left[1] - ry0) : left[1] + left[3] - ry0, :] = True
    if strips.all() or square.shape != (ry1 - ry0, cx1 - cx0):
        return False
    return bool(
        square[strips].mean() >= HOLLOW_SOLID_CENTRE
        and square[~strips].mean() < HOLLOW_SOLID_CORNERS
    )


def _solid_plus(side: int, arm: int) -> np.ndarray:
    half, a = side // 2, arm // 2
    plus = np.zeros((side, side), np.uint8)
    plus[half - a : half + a + 1, :] = 1
    plus[:, half - a : half + a + 1] = 1
    return plus


def _holes(light: np.ndarray) -> np.ndarray:
    """uint8 0/1: the unlit pixels of ``light`` (uint8 0/1) that the crop's border does not
    reach (4-connected): insides and holes. One flood fill from a ring of unlit pixels
    around the crop (OpenCV's border and threshold: no copies)."""
    reach = cv2.copyMakeBorder(light, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    cv2.floodFill(reach, None, (0, 0), 1, flags=4)
    return cv2.threshold(reach[1:-1, 1:-1], 0, 1, cv2.THRESH_BINARY_INV)[1]


def _hollow_outlined(light: np.ndarray) -> list[_Mark]:
    """Outline hollow '+' marks in ``light`` (uint8 0/1, the light pixels): the inside of a
    '+' outline is a component of the unlit pixels, square within 2 px, about a mark's size,
    that matches a solid '+' (arms 1, 3 or 5 px wide; intersection over union at least
    :data:`HOLLOW_OUTLINE_FIT`), and the outline around that solid is lit (at least
    :data:`HOLLOW_RING_FIT` of it). The insides are the unlit pixels that the crop's border
    does not reach (one flood fill), taken by their outer contours."""
    height, width = light.shape
    holes = _holes(light)
    if not cv2.countNonZero(holes):
        return []
    contours, _ = cv2.findContours(holes, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    found = []
    kernel = np.ones((3, 3), np.uint8)
    for contour in contours:
        x, y, bw, bh = cv2.boundingRect(contour)
        side = max(bw, bh)
        if (
            abs(bw - bh) > 2
            or side < HOLLOW_OUTLINE_SIDE[0] - 2
            or side > HOLLOW_OUTLINE_SIDE[1] - 2
        ):
            continue
        n = side | 1  # odd: the model's centre is a pixel
        cx, cy = x + bw // 2, y + bh // 2
        r = n // 2 + 1  # the outline's reach from the centre
        if cx - r < 0 or cy - r < 0 or cx + r >= width or cy + r >= height:
            continue
        inner = np.zeros((2 * r - 1, 2 * r - 1), np.uint8)
        cv2.drawContours(inner, [contour], 0, 1, cv2.FILLED, offset=(r - 1 - cx, r - 1 - cy))
        if cv2.countNonZero(inner) >= 0.7 * bw * bh:
            continue
        best, best_arm = 0.0, 0
        for arm in (1, 3, 5):
            model = _solid_plus(2 * r - 1, arm)
            fit = cv2.countNonZero(inner & model) / max(1, cv2.countNonZero(inner | model))
            if fit > best:
                best, best_arm = fit, arm
        if best < HOLLOW_OUTLINE_FIT:
            continue
        solid = _solid_plus(2 * r + 1, best_arm + 2)
        ring = (solid - cv2.erode(solid, kernel, borderValue=0)).astype(bool)
        lit = light[cy - r : cy + r + 1, cx - r : cx + r + 1].astype(bool)
        ring_fit = float((lit & ring).sum() / ring.sum())
        if ring_fit < HOLLOW_RING_FIT:
            continue
        score = max(0.5, min(1.0, best * ring_fit))
        found.append(_Mark(cx, cy, HOLLOW_STYLE, score, (cx - r, cy - r, cx + r, cy + r)))
    return found


def _outlined_bars(level: np.ndarray) -> np.ndarray:
    """Light bars with dark sides in ``level`` (uint8, the brightest channel): per bar width
    ``w`` of :data:`HOLLOW_BAR_WIDTHS`, the pixels in the middle of ``w`` light pixels
    (at least :data:`HOLLOW_BAR_LEVEL`) flanked by two dark ones (at most :data:`HOLLOW_DARK`)
    across the bar, upright and lying; the runs of such pixels along the bar are the bars,
    returned as component statistics (``x, y, width, height, area`` rows, the first a dummy
    background row) of the bars themselves. Bright speckle at a mark's empty centre or
    JPEG's halo beside it joins a bar to other light pixels, not these runs."""
    light, dark = _bar_layers(level)
    return np.concatenate(
        [np.zeros((1, 5), np.int32), *(_direction_bars(light, dark, up) for up in (True, False))]
    )


def _bar_layers(
    level: np.ndarray, light: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The light and the dark pixels (uint8 0/1) of :func:`_outlined_bars` (``light``: the
    light ones, when the caller has them)."""
    if light is None:
        light = cv2.threshold(level, HOLLOW_BAR_LEVEL - 1, 1, cv2.THRESH_BINARY)[1]
    dark = cv2.threshold(level, HOLLOW_DARK, 1, cv2.THRESH_BINARY_INV)[1]
    return light, dark


def _direction_bars(light: np.ndarray, dark: np.ndarray, upright: bool) -> np.ndarray:
    """The rows of :func:`_outlined_bars` (no dummy) of the upright bars, or the lying ones
    (``light``, ``dark``: :func:`_bar_layers`)."""
    rows = [np.zeros((0, 5), np.int32)]
    for w in HOLLOW_BAR_WIDTHS:
        a = w // 2
        # w light pixels across the bar, the pixel on either side of them dark: erosions
        # (borders count as unlit: no bar runs off the crop)
        across = np.ones((1, w), np.uint8)
        sides = np.zeros((1, w + 2), np.uint8)
        sides[0, [0, -1]] = 1
        if not upright:
            across, sides = across.T, sides.T
        lit = (
            light
            if w == 1
            else cv2.erode(light, across, borderType=cv2.BORDER_CONSTANT, borderValue=0)
        )
        mid = cv2.bitwise_and(
            lit, cv2.erode(dark, sides, borderType=cv2.BORDER_CONSTANT, borderValue=0)
        )
        at = cv2.findNonZero(mid)
        if at is None:
            continue
        # runs along the bar: sorted by the across coordinate, then along; a run breaks
        # where the across coordinate changes or the along one skips more than a pixel
        # (JPEG lightens a dark side here and there)
        xy = at.reshape(-1, 2).astype(np.int32)
        along, across_at = (xy[:, 1], xy[:, 0]) if upright else (xy[:, 0], xy[:, 1])
        order = np.lexsort((along, across_at))
        along, across_at = along[order], across_at[order]
        starts = np.flatnonzero(np.r_[True, (np.diff(across_at) != 0) | (np.diff(along) > 2)])
        ends = np.r_[starts[1:], len(along)] - 1
        lengths = along[ends] - along[starts] + 1
        keep = lengths > w
        first, run_across, run_len = along[starts][keep], across_at[starts][keep], lengths[keep]
        bar_w = np.full(len(first), w)
        if upright:
            bars = np.stack([run_across - a, first, bar_w, run_len], 1)
        else:
            bars = np.stack([first, run_across - a, run_len, bar_w], 1)
        rows.append(np.concatenate([bars, bars[:, 2:3] * bars[:, 3:4]], 1).astype(np.int32))
    return np.concatenate(rows)


def hollow_marks(level: np.ndarray) -> list[_Mark]:
    """Hollow '+' marks in ``level`` (uint8, the brightest channel of a crop): filled ones
    (four light bars with dark sides around an empty centre, as Philips EPIQ draws them:
    :func:`_outlined_bars`, :func:`_hollow_filled`) and outline ones (the light outline of a
    '+' around an unlit inside: :func:`_hollow_outlined`, at two light levels). A text glyph
    '+' is solid: its crossing breaks its arms' runs by no more than a bar's width, and it
    has no inside; scale ticks, dots and speckle rarely make four matching bars around one
    centre or a '+'-shaped hole."""
    found: list[_Mark] = []
    lights = {}
    for threshold in (HOLLOW_LEVEL, HOLLOW_BAR_LEVEL):
        light = lights[threshold] = cv2.threshold(level, threshold - 1, 1, cv2.THRESH_BINARY)[1]
        found += [m for m in _hollow_outlined(light) if not _near_any(m, found)]
    # an outline's 1-px sides are bars too: its centre from the inside stays. (A filled mark
    # needs a pair of upright bars: the lying ones only where there is one.) The bars' light
    # pixels are the second outline pass's (HOLLOW_BAR_LEVEL: _bar_layers's threshold).
    light, dark = _bar_layers(level, lights[HOLLOW_BAR_LEVEL])
    upright = np.concatenate([np.zeros((1, 5), np.int32), _direction_bars(light, dark, True)])
    if not len(_bar_pairs(upright, True)):
        return found
    lying = _direction_bars(light, dark, False)
    bars = _hollow_filled(np.concatenate([upright, lying]), level)
    return found + [m for m in bars if not _near_any(m, found)]


def _near_any(mark: _Mark, marks: list[_Mark]) -> bool:
    return any(abs(mark.x - m.x) <= 2 and abs(mark.y - m.y) <= 2 for m in marks)


#: A small coloured mark that JPEG has smeared: its colour fills a blob of at most this
#: side (px), in which the strokes are brighter than the rest by :data:`BLOB_CONTRAST`.
BLOB_SIDE = (5, 15)
BLOB_CONTRAST = 50.0
#: The strokes are drawn bright (their brightest channel's mean, each arm), brighter by
#: :data:`BLOB_INNER_CONTRAST` than the colour spread off them, which covers at most
#: :data:`BLOB_SPREAD` pixels of the window (a filled blob is not a mark).
BLOB_LEVEL, BLOB_INNER_CONTRAST, BLOB_SPREAD = 160.0, 20.0, 10
#: ... and the pixels around the blob are tissue, at least this bright (median).
BLOB_RING_LEVEL = 20.0
#: ... and no mark found already within this distance (px; a mark's number), no blob of
#: about its size within this one (dots of a dotted line).
BLOB_SPACE, BLOB_CHAIN = 24, 14


@lru_cache(maxsize=16)
def _blob_model(style: str, half: int) -> tuple[np.ndarray, ...]:
    """Offsets ``(dy, dx)`` of a '+' or 'x' of half-size ``half``: its four arms (without
    the centre), the window (half-size ``half + 1``) farther than 1 px from the strokes and
    the core (the four pixels next to the centre between the strokes)."""
    steps = np.arange(1, half + 1)
    arms = np.stack([np.outer(_DIRECTION_STEPS[style][:, i], steps) for i in (0, 1)])
    wy, wx = np.mgrid[-half - 1 : half + 2, -half - 1 : half + 2]
    wy, wx = wy.ravel(), wx.ravel()
    if style == "+":
        away = np.minimum(np.abs(wy), np.abs(wx)) >= 2
    else:
        away = np.minimum(np.abs(wy - wx), np.abs(wy + wx)) >= 3
    core = ((-1, -1, 1, 1), (-1, 1, -1, 1)) if style == "+" else ((0, 0, -1, 1), (-1, 1, 0, 0))
    return arms, np.stack([wy[away], wx[away]]), np.array(core)


@dataclass(frozen=True)
class _ColouredComponents:
    """The components of a crop's coloured pixels (:func:`_coloured_components`)."""

    box: Box  # x0, y0, x1, y1 (exclusive ends) of the window they were labelled in
    count: int
    labels: np.ndarray  # the window's
    stats: np.ndarray  # in the window's coordinates


def _coloured_components(coloured: np.ndarray) -> _ColouredComponents | None:
    """The components of ``coloured`` (uint8 0/1; None when it has no pixel) labelled in its
    pixels' bounding box grown by 8 px, the farthest :func:`smeared_marks` looks (a centre
    1 px beyond a blob, its arms and window up to 7 px on; the ring 3 px)."""
    bx, by, bw, bh = cv2.boundingRect(coloured)
    if bw == 0 or bh == 0:
        return None
    x0, y0 = max(0, bx - 8), max(0, by - 8)
    x1, y1 = min(coloured.shape[1], bx + bw + 8), min(coloured.shape[0], by + bh + 8)
    count, labels, stats = _components(np.ascontiguousarray(coloured[y0:y1, x0:x1]))
    return _ColouredComponents((x0, y0, x1, y1), count, labels, stats)


def smeared_marks(
    coloured: np.ndarray,
    level: np.ndarray,
    grey: np.ndarray,
    taken: list[_Mark],
    components: _ColouredComponents | None = None,
) -> list[_Mark]:
    """Small coloured '+' and 'x' that JPEG has smeared into a blob of colour (``coloured``,
    uint8 0/1): within a blob of about a mark's size, standing alone, a cross whose four arms
    are all brighter in ``level`` (the brightest channel, at full resolution where the colour
    is not) than the pixels away from its strokes. ``taken``: marks found already (their
    blobs are not searched). ``components``: :func:`_coloured_components` of ``coloured``
    if the caller has them."""
    parts = _coloured_components(coloured) if components is None else components
    if parts is None:
        return []
    whole = coloured
    x0, y0, x1, y1 = parts.box
    coloured, level, grey = (a[y0:y1, x0:x1] for a in (whole, level, grey))
    count, labels, stats = parts.count, parts.labels, parts.stats
    if count <= 1:
        return []
    side = np.maximum(stats[:, 2], stats[:, 3])
    ok = (
        (side >= BLOB_SIDE[0])
        & (side <= BLOB_SIDE[1])
        & (np.abs(stats[:, 2] - stats[:, 3]) <= 3)
        & (stats[:, 4] >= 0.3 * stats[:, 2] * stats[:, 3])
    )
    ok[0] = False
    height, width = coloured.shape
    found = []
    centres_x = stats[:, 0] + stats[:, 2] / 2
    centres_y = stats[:, 1] + stats[:, 3] / 2
    for k in np.flatnonzero(ok):
        x, y, w, h, area = (int(v) for v in stats[k])
        # Not by a mark found already (its number), not in colour flow or a busy icon.
        mx, my = x + w / 2, y + h / 2
        if any(
            abs(m.x - x0 - mx) <= BLOB_SPACE and abs(m.y - y0 - my) <= BLOB_SPACE for m in taken
        ):
            continue
        if (
            _lit_around(whole, x0 + x + w // 2, y0 + y + h // 2) - area
            > MARK_CLUTTER * CLUTTER_SIDE**2
        ):
            continue
        # On tissue (text stands on black), alone (not a glyph of a text line).
        ry0, ry1, rx0, rx1 = (
            max(0, y - 3),
            min(height, y + h + 3),
            max(0, x - 3),
            min(width, x + w + 3),
        )
        near = labels[ry0:ry1, rx0:rx1]
        ring = grey[ry0:ry1, rx0:rx1][near == 0]
        if ring.size == 0 or float(np.median(ring)) < BLOB_RING_LEVEL:
            continue
        # Not one of a chain of dots (a dotted line or trace).
        chained = (
            (np.hypot(centres_x - mx, centres_y - my) <= BLOB_CHAIN)
            & (side >= 0.6 * max(w, h))
            & (stats[:, 4] >= 4)
        )
        chained[[0, k]] = False
        if chained.any():
            continue
        same_rows = (stats[:, 1] < y + h) & (stats[:, 1] + stats[:, 3] > y)
        similar = (stats[:, 3] >= 0.6 * h) & (stats[:, 3] <= 1.6 * h)
        gap = np.maximum(stats[:, 0] - (x + w), x - (stats[:, 0] + stats[:, 2]))
        beside = same_rows & similar & (gap <= max(4, h))
        beside[[0, k]] = False
        if beside.any():
            continue
        # Centres within 1 px of the blob's middle, every half-size and style: the best
        # contrast (the first of equal ones: centres row by row, then half-size, style).
        cys, cxs = np.mgrid[
            y + (h - 1) // 2 - 1 : y + h // 2 + 2, x + (w - 1) // 2 - 1 : x + w // 2 + 2
        ]
        cys, cxs = cys.ravel(), cxs.ravel()
        top = min(6, (max(w, h) - 1) // 2)
        halves = range(2, top + 1)
        contrast = np.full((len(cys), len(halves), 2), -np.inf)
        for i, half in enumerate(halves):
            fits = (cys >= half + 1) & (cys < height - half - 1)
            fits &= (cxs >= half + 1) & (cxs < width - half - 1)
            if not fits.any():
                continue
            py, px = cys[fits], cxs[fits]
            for j, style in enumerate(("+", "x")):
                arms, away, core = _blob_model(style, half)
                ay, ax = py[:, None] + away[0], px[:, None] + away[1]
                smear = labels[ay, ax] == k  # the colour JPEG spread off the strokes
                spread = np.count_nonzero(smear, axis=1)
                arm_min = level[py[:, None, None] + arms[0], px[:, None, None] + arms[1]]
                arm_min = arm_min.mean(axis=2).min(axis=1)
                # Strokes, not a filled disc (Doppler flow): dim between them.
                core_level = level[py[:, None] + core[0], px[:, None] + core[1]].mean(axis=1)
                values = level[ay, ax].astype(np.float64)
                off = values.mean(axis=1)
                smeared = np.where(smear, values, 0.0).sum(axis=1) / np.maximum(spread, 1)
                passes = (
                    (spread <= BLOB_SPREAD)
                    & (arm_min >= BLOB_LEVEL)
                    & (arm_min - core_level >= BLOB_INNER_CONTRAST)
                    & ((spread == 0) | (arm_min - smeared >= BLOB_INNER_CONTRAST))
                    & (arm_min - off >= BLOB_CONTRAST)
                )
                contrast[np.flatnonzero(fits)[passes], i, j] = (arm_min - off)[passes]
        flat = contrast.ravel()
        if flat.size == 0 or not np.isfinite(flat.max()):
            continue
        best = int(np.argmax(flat))
        c, _, j = (int(v) for v in np.unravel_index(best, contrast.shape))
        score = min(1.0, 0.5 + float(flat[best]) / 240.0)
        style = ("+", "x")[j]
        box = (x0 + x, y0 + y, x0 + x + w - 1, y0 + y + h - 1)
        found.append(_Mark(x0 + int(cxs[c]), y0 + int(cys[c]), style, round(score, 4), box))
    return found


#: Marks drawn over a colour map (elastography, colour Doppler): where at least
#: :data:`MAP_DENSITY` of the :data:`MAP_WINDOW`-px square around a pixel is coloured, a mark's
#: strokes join the map's pixels in one component and the rules above see no mark. There the
#: strokes are the pixels whose colour departs from the local median (:data:`MAP_MEDIAN` px
#: square, wider than three stroke widths) other than by a grey step: a blended map's speckle
#: brightens or darkens every channel alike, a drawn stroke does not. Pixels whose residual's
#: spread over the channels is at least :data:`MAP_RESIDUAL` are the layer the component rules
#: (crosses only: arrows gave false marks on the tuning frames; arrows on the vivid pixels
#: alone, :data:`MAP_VIVID`) search, with the pixels whose
#: brightest channel exceeds its local median by :data:`MAP_BRIGHT` (JPEG blurs a thin
#: stroke's colour into the map's, not its brightness; a blended map dims its speckle), and
#: on a second layer the light marks (:data:`MAP_LIFT`).
MAP_DENSITY = 0.6
MAP_WINDOW = 20
MAP_BLOCK = 4
MAP_MEDIAN = 9
MAP_RESIDUAL = 60
MAP_BRIGHT = 60
#: ... and, on a layer of their own, the pixels whose lowest channel exceeds its local median
#: by MAP_LIFT: a white mark, or a yellow one on a yellow map, that JPEG tinted with the map's
#: colour lifts every channel, the map's own lowest one too (a white 'x' on elastography:
#: 50-120 levels, the map's texture up to ~40). On the tuning frames of seeds 100-439 (2,728
#: marks): at 30, 2 more true marks (siemens_s2000 218's white 'x', ge_voluson 113's yellow
#: 'x'), no false one and no other point changed; at 40, 1; at 20, 1 (low texture joins the
#: strokes); or-ed into the layer above at 30, the same 2 but ge_logiq 141's cyan '+' lost to
#: the rules (test_caliper_maps).
MAP_LIFT = 30
#: ... and arrows, on a third layer: the vivid pixels (chroma at least MAP_VIVID, the green
#: channel within :data:`CORE_GREEN` of the brightest: the marks' yellow, green and cyan)
#: where a lossless frame's arrow is drawn in its pure colour (chroma 255) and a blended map
#: stays duller (ge_logiq 304's elastography: chroma up to about 146). On the tuning frames
#: of seeds 100-439 (the rules alone): at 200 and 230, 3 true arrow tips more (ge_logiq 304's
#: green arrows, within 1 px; the learned finder missed 2 of them) and no other point changed;
#: at 180, 10 false arrows on philips_iu22 324's map, at 150, 15 on three frames. Of the
#: other pixels on the maps of those frames, up to 592 a frame are vivid at 200, up to 61 at
#: 230 (Doppler's saturated colours): 230 leaves the wider margin.
MAP_VIVID = 230
#: ... and crosses on that vivid layer too, centred on the map or within MAP_EDGE blocks (of
#: MAP_BLOCK px) of it: a lossless mark at the map's edge (its centre on the map's white
#: border, an arm on the map) joins the map in the mark-colour layer, while MAP_DENSITY
#: leaves the map's outer 2-4 px off ``on_map`` (philips_iu22 432's small cyan '+' at
#: (343, 318), missed by the learned finder too). On the tuning frames of seeds 100-439
#: (2,728 marks): at 1 and 2, that 1 true mark more, no false one and no other point
#: changed; at 0, none; with no bound at all (anywhere in the searched window), the same as
#: at 2: 2 keeps a block of margin without a false mark to show for wider.
MAP_EDGE = 2
#: ... and bold crosses (:func:`_bold_map_marks`), where no mark of the layers above is: a
#: mark whose strokes are 3 px or more wide covers over half of the MAP_MEDIAN square at
#: its crossing, so the median there is the mark's own level and the layers above keep the
#: four arms but lose the crossing that joins them (philips_iu22 152's two bold white 'x'
#: on a yellow-green map, JPEG: no rule, no learned point within 2 px, a learned point 7 px
#: off counted false). The light marks' layer again, against the median over a MAP_WIDE px
#: square (px; 0: off; a 15 px square holds the crossing of strokes up to 4 px wide under
#: half of it), by MAP_WIDE_LIFT; searched only on the components holding a pixel where the
#: narrow median itself is at least MAP_WIDE_HOLD above the wide one (a bold crossing: ~150
#: levels there; map texture moves it less), which keeps the cost at ~0.5 CPU ms a map frame
#: (~1.8 ms searching every component). MAP_MEDIAN 13 or 17 for every layer instead found
#: the same 2 marks but lost philips_iu22 190's small yellow 'x'. On the elastography and
#: Doppler frames of the tuning seeds 100-269 (148 frames, 496 marks): at MAP_WIDE 13, 15
#: and 17, MAP_WIDE_HOLD 30, 60 and 90, those 2 true marks more and the false one gone, no
#: other point changed. Not taken: the colour layer (MAP_RESIDUAL, MAP_BRIGHT) against the
#: wide medians of the three channels too: the same on those frames, ~1.7 ms a map frame.
MAP_WIDE = 15
#: ... and light arrows (white, or pale where JPEG tinted them with the map), which the layers
#: above search for crosses only (an arrow there is looked for in the vivid layer alone): on
#: a layer of the pixels whose lowest channel exceeds its local median by MAP_LIGHT_LIFT,
#: arrows only, their component at least MAP_LIGHT_SIDE px long, at most MAP_LIGHT_AREA px a
#: px of that length (strokes, not a lit patch), at least MAP_LIGHT_TINTED of the pixels
#: around it clearly coloured (on the map, not at its edge beside bright tissue), where no
#: mark is within :data:`NET_CLEAR` px or in its bounding box (the pale pieces of a thick
#: arrow that another rule found). On the Doppler and elastography frames of the tuning seeds
#: 100-439 (1,026 marks): at 75, 90, 3 true arrow tips more (philips_epiq 172's small white
#: arrows on JPEG, which neither the learned finder nor any rule found), no false one, no
#: other point changed; at 60, a false arrow on siemens_s2000 358's map texture; at 120, 1
#: true tip more (the arrows' pale JPEG strokes lift the lowest channel by 90-120). Without
#: the length bound, two JPEG pieces (6 px) at a thick white arrow's wings on philips_epiq
#: 215 were taken (then for small crosses); without it and the area and ring bounds, bright
#: tissue at a blue Doppler blob's edge (ge_voluson 170; with the length bound in place the
#: other two change no tuning point). All tuning frames of seeds 100-439 (5,568 marks):
#: found 5,506 -> 5,509, false or second marks 24 -> 24, no other line of
#: ``benchmarks.caliper_misses`` changed. Cost: ~1.6 CPU ms a map frame (the layer's
#: components), nothing elsewhere.
MAP_LIGHT_LIFT = 90
MAP_LIGHT_SIDE = 8
MAP_LIGHT_AREA = 3.0
MAP_LIGHT_TINTED = 0.7
MAP_WIDE_LIFT = 30
MAP_WIDE_HOLD = 60


def _coarse_median(plane: np.ndarray, block: int) -> np.ndarray:
    """The median of ``plane`` (uint8) over squares of 5 x 5 blocks of ``block`` px (each
    block its mean), at every pixel (interpolated between the blocks' centres): a median over
    a ``5 * block`` px square in a fraction of the time of ``cv2.medianBlur`` at that size
    (above 5 px it takes its slower histogram path).

    >>> plane = np.full((40, 40), 50, np.uint8)
    >>> plane[16:20, :] = plane[:, 16:20] = 250  # a bold '+', 4 px strokes
    >>> int(cv2.medianBlur(plane, 9)[18, 18])  # its crossing: the mark's own level ...
    250
    >>> int(_coarse_median(plane, 4)[18, 18])  # ... and the ground's
    50
    """
    height, width = plane.shape[:2]
    small = cv2.resize(
        plane, (-(-width // block), -(-height // block)), interpolation=cv2.INTER_AREA
    )
    return cv2.resize(cv2.medianBlur(small, 5), (width, height), interpolation=cv2.INTER_LINEAR)


def _above_median(plane: np.ndarray, least: np.ndarray, margin: int, size: int) -> np.ndarray:
    """uint8 0/1: the pixels of ``plane`` (uint8) at least ``margin`` above the median of
    their ``size`` square, as ``cv2.medianBlur(plane, size)`` gives it (edges replicated),
    given ``least`` (uint8), at most that median at every pixel: only the pixels at least
    ``margin`` above ``least`` are looked at (a median is at most a level when at least half
    the square, rounded up, is).

    >>> plane = np.full((12, 12), 50, np.uint8)
    >>> plane[5, 5] = 200  # one bright pixel; the median around it stays 50
    >>> int(_above_median(plane, np.zeros_like(plane), 60, 9).sum())
    1
    """
    out = cv2.threshold(cv2.subtract(plane, least), margin - 1, 1, cv2.THRESH_BINARY)[1]
    ys, xs = np.nonzero(out)
    if ys.size == 0:
        return out
    half = size // 2
    padded = cv2.copyMakeBorder(plane, half, half, half, half, cv2.BORDER_REPLICATE)
    squares = np.lib.stride_tricks.sliding_window_view(padded, (size, size))[ys, xs]
    level = plane[ys, xs].astype(np.int16) - margin
    below = np.count_nonzero(squares.reshape(len(ys), -1) <= level[:, None], axis=1)
    out[ys, xs] = below >= size * size // 2 + 1
    return out


def _bold_map_marks(low: np.ndarray, narrow: np.ndarray) -> list[_Mark]:
    """Bold light crosses (:data:`MAP_WIDE`) on ``low`` (uint8, the lowest channel of a
    :func:`map_marks` window), its pixels at least MAP_WIDE_LIFT above their median over a
    MAP_WIDE square (:func:`_coarse_median`), on the components holding a pixel where
    ``narrow`` (its MAP_MEDIAN median) is itself MAP_WIDE_HOLD above that wide median (the
    crossing of a mark that fills over half of the narrow square)."""
    wide = _coarse_median(low, MAP_WIDE // 5)
    lifted = cv2.threshold(cv2.subtract(low, wide), MAP_WIDE_LIFT - 1, 1, cv2.THRESH_BINARY)[1]
    held = cv2.bitwise_and(
        lifted,
        cv2.threshold(cv2.subtract(narrow, wide), MAP_WIDE_HOLD - 1, 1, cv2.THRESH_BINARY)[1],
    )
    if not cv2.countNonZero(held):
        return []
    return colour_marks(lifted, arrows=False, holding=held)


def map_marks(
    crop: np.ndarray, coloured: np.ndarray, light: list[_Mark] | None = None
) -> list[_Mark]:
    """'+' and 'x' marks (bold light ones too, :data:`MAP_WIDE`), and vivid arrows
    (:data:`MAP_VIVID`; vivid crosses at the map's edge too, :data:`MAP_EDGE`), drawn over a
    colour map in ``crop`` (RGB uint8; ``coloured``: its uint8 0/1 clearly coloured
    pixels), centred (an arrow's tip) where the map covers at least :data:`MAP_DENSITY` of
    the :data:`MAP_WINDOW` square (see :data:`MAP_DENSITY`). Nothing is computed on a crop
    without such a map. ``light``: a list that light arrows on the map
    (:data:`MAP_LIGHT_LIFT`) are added to (not returned: the caller judges them against
    the other rules' marks); None: not searched.

    >>> rng = np.random.default_rng(0)
    >>> crop = np.empty((80, 80, 3), np.uint8)
    >>> crop[:] = (40, 150, 60)  # a green map ...
    >>> crop += rng.integers(0, 60, (80, 80, 1), dtype=np.uint8)  # ... over grey speckle
    >>> crop[40, 33:48] = crop[33:48, 40] = (0, 255, 255)  # a cyan '+'
    >>> coloured = coloured_pixels(crop).astype(np.uint8)
    >>> [(m.x, m.y, m.style) for m in map_marks(crop, coloured)]
    [(40, 40, '+')]
    """
    if crop.ndim != 3 or cv2.countNonZero(coloured) < MAP_DENSITY * MAP_WINDOW**2:
        return []
    # the coloured share of MAP_BLOCK-px blocks, then of MAP_WINDOW-px squares of them
    height, width = coloured.shape
    blocks = cv2.resize(
        coloured * np.uint8(255),
        (-(-width // MAP_BLOCK), -(-height // MAP_BLOCK)),
        interpolation=cv2.INTER_AREA,
    )
    side = MAP_WINDOW // MAP_BLOCK
    density = cv2.blur(blocks, (side, side), borderType=cv2.BORDER_CONSTANT)
    on_map = (density >= round(255 * MAP_DENSITY)).astype(np.uint8)
    bx, by, bw, bh = (v * MAP_BLOCK for v in cv2.boundingRect(on_map))
    if bw == 0 or bh == 0:
        return []
    # the strokes of a mark centred on the map reach past it by a mark's half size
    reach = MAX_ARM + MAP_MEDIAN
    x0, y0 = max(0, bx - reach), max(0, by - reach)
    x1, y1 = min(width, bx + bw + reach), min(height, by + bh + reach)
    window = np.ascontiguousarray(crop[y0:y1, x0:x1])
    channels = cv2.split(window)
    high = cv2.max(cv2.max(channels[0], channels[1]), channels[2])
    low = cv2.min(cv2.min(channels[0], channels[1]), channels[2])
    # the medians of the three channels and of the lowest, in one call (four channels: less
    # time than three and one)
    medians = cv2.split(cv2.medianBlur(cv2.merge([*channels, low]), MAP_MEDIAN))
    residual = [
        cv2.subtract(c.astype(np.int16), m.astype(np.int16))
        for c, m in zip(channels, medians[:3], strict=True)
    ]
    spread = cv2.subtract(
        cv2.max(cv2.max(residual[0], residual[1]), residual[2]),
        cv2.min(cv2.min(residual[0], residual[1]), residual[2]),
    )
    layer = (spread >= MAP_RESIDUAL).astype(np.uint8)
    # JPEG keeps a thin stroke's brightness, not its colour (its chroma is averaged over
    # 2x2 pixels with the map's): a stroke brighter than the local median by MAP_BRIGHT
    # (the median of the brightest channel is at least each channel's median: the pixels
    # that brightness may pass are few, and looked at alone)
    least = cv2.max(cv2.max(medians[0], medians[1]), medians[2])
    layer |= _above_median(high, least, MAP_BRIGHT, MAP_MEDIAN)
    marks = colour_marks(layer, arrows=False)
    # A light mark in JPEG (white, or yellow on a yellow map) lifts the map's lowest channel:
    # searched on a layer of its own (joined to the layer above, the lifted map texture
    # breaks the crosses found there), where no mark is yet
    lifted = cv2.threshold(cv2.subtract(low, medians[3]), MAP_LIFT - 1, 1, cv2.THRESH_BINARY)[1]
    marks += [
        m
        for m in colour_marks(lifted, arrows=False)
        if all(math.hypot(m.x - k.x, m.y - k.y) > NET_CLEAR for k in marks)
    ]
    # Light arrows (white, or pale in JPEG), which no layer above looks for arrows in: the
    # lowest channel far above its median (MAP_LIGHT_LIFT), thin components only (an
    # arrow's strokes, not a lit patch of the map), most of their ring on the map's colours
    light_arrows: list[_Mark] = []
    if light is not None and MAP_LIGHT_LIFT:
        lit = cv2.threshold(
            cv2.subtract(low, medians[3]), MAP_LIGHT_LIFT - 1, 1, cv2.THRESH_BINARY
        )[1]
        tinted = coloured[y0:y1, x0:x1]
        for m in colour_marks(lit):
            if m.style != ">" or any(math.hypot(m.x - k.x, m.y - k.y) <= NET_CLEAR for k in marks):
                continue
            bx0, by0, bx1, by1 = m.box
            part = lit[by0 : by1 + 1, bx0 : bx1 + 1]
            side = max(bx1 - bx0, by1 - by0) + 1
            if side < MAP_LIGHT_SIDE or cv2.countNonZero(part) > MAP_LIGHT_AREA * side:
                continue
            ring_box = (slice(max(0, by0 - 2), by1 + 3), slice(max(0, bx0 - 2), bx1 + 3))
            grown = cv2.dilate(lit[ring_box], _SQUARE3)
            ring = (grown > 0) & (lit[ring_box] == 0)
            if np.count_nonzero(tinted[ring_box][ring]) < MAP_LIGHT_TINTED * np.count_nonzero(ring):
                continue
            light_arrows.append(m)
    # Bold marks, whose crossing those layers lost: against a wider median, where no mark is
    if MAP_WIDE:
        marks += [
            m
            for m in _bold_map_marks(low, medians[3])
            if all(math.hypot(m.x - k.x, m.y - k.y) > NET_CLEAR for k in marks)
        ]
    # Arrows in a mark's pure colour: the vivid pixels alone (the map's are duller)
    vivid = cv2.bitwise_and(
        cv2.threshold(cv2.subtract(high, low), MAP_VIVID - 1, 1, cv2.THRESH_BINARY)[1],
        cv2.threshold(cv2.subtract(high, channels[1]), CORE_GREEN, 1, cv2.THRESH_BINARY_INV)[1],
    )
    edge: list[_Mark] = []
    if cv2.countNonZero(vivid):
        for m in colour_marks(vivid):
            if all(math.hypot(m.x - k.x, m.y - k.y) > NET_CLEAR for k in marks):
                (marks if m.style == ">" else edge).append(m)
    marks = [m for m in marks if on_map[(m.y + y0) // MAP_BLOCK, (m.x + x0) // MAP_BLOCK]]
    if light is not None:
        light += [
            m.moved(x0, y0)
            for m in light_arrows
            if on_map[(m.y + y0) // MAP_BLOCK, (m.x + x0) // MAP_BLOCK]
            and all(math.hypot(m.x - k.x, m.y - k.y) > NET_CLEAR for k in marks)
        ]
    if edge:  # vivid crosses on the map or within MAP_EDGE blocks of it
        near = cv2.dilate(on_map, np.ones((2 * MAP_EDGE + 1,) * 2, np.uint8))
        marks += [m for m in edge if near[(m.y + y0) // MAP_BLOCK, (m.x + x0) // MAP_BLOCK]]
    return [m.moved(x0, y0) for m in marks]


#: Colour scale bars (the legend of a Doppler or elastography display): a component of the
#: coloured pixels that fills at least SCALE_FILL of its bounding box, whose narrow side is in
#: SCALE_SIDE (px). No mark lies on one or within SCALE_REACH px of its box (its blurred
#: edge), whichever finder proposed it: a drawn mark is strokes (a cross fills at most
#: CROSS_FILL of its box, a smeared one a roundish blob, an arrow less), a colour bar is a
#: filled rectangle. Chosen on the coloured components within 3 px of the marks found on the
#: tuning frames of seeds 100-459 (1,800 frames, 4,412 such marks, all but 16 true): away from
#: elastography maps none fills more than 0.86 of its box once both its sides are at least
#: 7 px (only blobs of 5-6 px fill 0.9), while each half of the power-Doppler bar of the
#: half-size real frame ``examples_rgb_color.dcm`` (13 x 16 px, 0.99 filled; the learned finder
#: took its lower corner for a mark) is one, as are the full-size frame's (US1_UNCR: 24 x 31)
#: and the generator's bars (8 px wide, outside the searched crop). The elastography maps
#: under true marks are filled rectangles too, but at least 102 px across: the upper bound
#: lies between (their marks are :func:`map_marks`'s and the learned finder's). On tuning
#: seeds 100-139 and 300-339, and held-out seeds 0-19, no point found changes.
SCALE_FILL = 0.95
SCALE_SIDE = (8, 48)
SCALE_REACH = 2


def colour_scales(coloured: np.ndarray, components: _ColouredComponents | None = None) -> list[Box]:
    """Boxes ``(x0, y0, x1, y1)`` of the colour scale bars among ``coloured`` (uint8 0/1):
    filled rectangles of colour (see :data:`SCALE_FILL`).

    >>> coloured = np.zeros((60, 60), np.uint8)
    >>> coloured[10:42, 40:53] = 1  # a bar 13 px wide
    >>> coloured[30, 5:20] = coloured[23:38, 12] = 1  # a '+'
    >>> colour_scales(coloured)
    [(40, 10, 52, 41)]

    ``components``: :func:`_coloured_components` of ``coloured`` if the caller has them
    (the same boxes; in the order of their labelling there)."""
    if components is not None:
        stats = components.stats + np.array([components.box[0], components.box[1], 0, 0, 0])
    elif not cv2.countNonZero(coloured):
        return []
    else:
        _, _, stats = _components(coloured)
    x, y, w, h, area = (stats[1:, k] for k in range(5))
    narrow = np.minimum(w, h)
    scale = (narrow >= SCALE_SIDE[0]) & (narrow <= SCALE_SIDE[1]) & (area >= SCALE_FILL * w * h)
    return [
        (int(x[k]), int(y[k]), int(x[k] + w[k] - 1), int(y[k] + h[k] - 1))
        for k in np.flatnonzero(scale)
    ]


def _on_scale(mark: _Mark, scales: list[Box]) -> bool:
    return any(
        x0 - SCALE_REACH <= mark.x <= x1 + SCALE_REACH
        and y0 - SCALE_REACH <= mark.y <= y1 + SCALE_REACH
        for x0, y0, x1, y1 in scales
    )


#: Whether :func:`detect_calipers` adds the learned heat map's points by default.
LEARNED = True
#: The heat map's points at least this probable are looked at by the refiner
#: (:mod:`.caliper_net`) ... Was 0.5: on the tuning frames of seeds 100-439 (160 a family,
#: 2,728 true marks) a third of the misses were heat-map points between 0.2 and 0.5 that
#: the refiners are sure of; at 0.2, 12 more true marks (3, 4, 3, 2 per 40 seeds), no false
#: one and no point farther off; at 0.1, 1 more and 3 false ones (one 4 px off). About 4.7
#: more points a frame for the deciding refiner; the placing one is asked only where its
#: word can count (:func:`_net_marks`): with the mirrored verdicts, ~0.7 ms a frame more.
NET_MIN_PROB = 0.2
#: ... and are marks when the refiner is at least this sure, where no mark lies within
#: NET_CLEAR px (a mark's arms or an arrow's shaft may peak too): per refiner version
#: (:attr:`.caliper_net.CaliperNet.refiner_version`, the weights file's), each version's
#: probabilities being its own. Version 1: at 0.95 the refiner took a scale tick of a real
#: ALOKA frame (0.983) and a colour-flow edge of a real Affiniti frame (0.966) for marks; at
#: 0.99 the tuning frames of seeds 100-299 lose 0.011-0.013 recall for 0.001-0.004 precision.
#: Version 3 (a version 2 verdict, version 1 offsets; V3 = V2f + W of
#: ``tools/train_caliper_net.py``): 0.98 (at 0.97 a thick white arrow of a tuning frame,
#: ge_logiq 9 of test_caliper_styles, comes in 5 px off its tip), or its placing refiner at
#: least :data:`NET_PLACE_PROB` sure (version 1's own rule).
NET_REFINE_PROB: dict[int, float] = {1: 0.99, 2: 0.99, 3: 0.98}
#: Version 3: a point its placing (version 1) refiner is at least this sure of is a mark too,
#: when the heat map gives it at least NET_PLACE_HEAT: below, the placing refiner alone
#: took two points of a real ALOKA frame's UI (test_real_files: heat 0.23 and 0.35, the
#: deciding refiner 0.0 and 0.4, the placing one 0.998 and 0.9998).
NET_PLACE_PROB = 0.99
NET_PLACE_HEAT = 0.5
#: Version 3: where no mark is yet once the points above are taken, a point both refiners
#: lean to is a mark too: the deciding one at least NET_AGREE_PROB sure and its own offset
#: within NET_AGREE_REACH px of the placing one's point, the placing one at least
#: NET_AGREE_PLACE sure. On the heat-map points of tuning seeds 100-439 (800 frames, 2,728
#: true marks), the deciding refiner alone at 0.9 took 18 more true marks and 4 false ones
#: (3 of the new points 3-3.6 px off their mark). With both votes: at 0.9 +5 marks and +1
#: false on seeds 100-239, +10 and +1 on seeds 300-439, but the thick white arrows of two
#: tuning frames of test_caliper_styles got a point 5 px off their tips (both refiners
#: agree there, at 0.93 and 0.97 before the placement test); at 0.93 +5 and +1, +8 and +0.
NET_AGREE_PROB = 0.93
NET_AGREE_PLACE = 0.5
NET_AGREE_REACH = 2.0
#: Version 3: where no mark is yet once the points above are taken, a point the placing
#: refiner gives at least NET_MIRROR_PLACE is a mark too when the deciding one gives its
#: inputs mirrored three ways (:meth:`.caliper_net.CaliperNet.mirrored`) at least
#: NET_MIRROR_PROB each: a drawn mark looks like one mirrored, speckle and UI that fool the
#: deciding refiner seldom do at every orientation. On the heat-map points of tuning seeds
#: 100-439 that no rule took (before it): 4 true marks and no false or doubtful one (at
#: 0.8: 6 true, but a thick white arrow of test_caliper_styles, philips_epiq 26, got a point
#: 5 px into its head, mirrored 0.82-0.93 there; 0.8 / 0.5: 7 true and 2 false; the mean of
#: the four at 0.8: 5 and 1 false).
NET_MIRROR_PLACE = 0.8
NET_MIRROR_PROB = 0.85
#: Version 3, off (None) in production: faint heat-map points (at least NET_FAINT_PROB,
#: below :data:`NET_MIN_PROB`), after every other point, where no mark is yet: a mark when
#: the deciding refiner gives its inputs at least NET_FAINT_TURNED at all eight orientations
#: (as they are, mirrored three ways, transposed and mirrored three ways:
#: :meth:`.caliper_net.CaliperNet.mirrored`), the placing one at least NET_FAINT_PLACE and
#: the two refiners' points lie within NET_FAINT_REACH px; or a white arrow's tip beside it
#: (:data:`NET_ARROW_PROB`; the white-cross rule took a false '+' on an elastography map,
#: philips_epiq 215, the other shape rules nothing). At 0.05, tuning seeds 100-439 (2,728
#: marks): 2,694 -> 2,697 found (ge_voluson 304, siemens_s2000 310 by the orientations,
#: ge_logiq 212's white JPEG arrow by its tip), false or second marks 12 -> 12; held-out
#: seeds 0-49 (2,156 marks, measured once): 2,089 -> 2,090 found, 20 -> 21 false or second
#: marks, > 2 px 26 -> 26, max 5.00; ``detect_calipers`` +1.4 ms a frame (tuning seeds
#: 100-115, alternated in one process: the refiner on ~16 more points a frame). Not worth
#: its time at the one pass's 30 frames/s line: off until a lever finds more marks with it.
NET_FAINT_PROB: float | None = None
NET_FAINT_TURNED = 0.85
NET_FAINT_PLACE = 0.8
NET_FAINT_REACH = 2.0
#: Off (empty) in production: the heat map also run on the crop seen other ways
#: (:data:`.caliper_net.VIEWS`, :meth:`.caliper_net.CaliperNet.find_views`), for marks drawn
#: in orientations the training families never drew. A point of those views at least
#: :data:`NET_MIN_PROB` probable with no point of the crop's own heat map within
#: NET_VIEW_NEW px is judged as the others are, after all of them (where no mark is yet),
#: by the rules of NET_VIEW_RULES only (0 sure, 1 agreed, 2 mirrored, 3 white cross,
#: 4 white arrow, 5 smeared '+', 6 small arrow's tip), and, where NET_VIEW_TURNED is set,
#: only when the deciding refiner gives its inputs at least that at all eight orientations.
#: Measured (calipers round 12) on tuning seeds 100-439 (2,728 marks; HEAD 2,694 found, 12
#: false or second, 2 > 2 px, max 2.24): ``("lr",)`` at 0.85: 2,696, 12, 2, 2.24 (ge_voluson
#: 304, siemens_s2000 310: the marks NET_FAINT_PROB finds, their own heat 0.07 and 0.12);
#: the three mirrorings at 0.85 the same two; all seven views (the seven others at 0.85,
#: not the point's own verdict) 2,696, 13, at 0.7 16 false; without the eight orientations
#: (NET_VIEW_TURNED None) the three mirrorings 2,699, 16, 3 > 2 px (max 3.00), the sure rule
#: alone 2,698, 15; the transposed crop alone 2,696, 20. The heat map on the crop scaled
#: 0.75x or 1.33x (all rules): 2,695, 12 and 2,696, 13; both at 0.85: 2,695, 13. Held-out seeds 0-49 (2,156 marks),
#: ``("lr",)`` at 0.85, measured once: 2,089 -> 2,090 found, 20 -> 20 false or second, 26
#: > 2 px, max 5.00. ``detect_calipers`` +5.1 ms mean, +5.4 median a frame (the mirrored
#: heat map ~3.2; tuning seeds 100-115, alternated in one process): off, too dear for one mark.
NET_VIEWS: tuple[str, ...] = ()
NET_VIEW_NEW = 4.0
NET_VIEW_RULES: frozenset[int] = frozenset(range(7))
NET_VIEW_TURNED: float | None = None
#: Version 3: where no mark is yet once the points above are taken, a point the deciding
#: refiner gives at least NET_WHITE_PROB (of its version; none: the rule is off) is a mark
#: too where a white cross is drawn (:func:`white_cross_centre`): white '+' whose arms run
#: into saturated speckle (JPEG), which the rules' context tests and the refiner's sure
#: verdicts (0.66-0.96) miss. On the tuning frames of seeds 100-439 (800 frames, 2,728 true
#: marks): 6 true marks more (ge_logiq 439 two, ge_voluson 116 two, philips_iu22 426 and
#: 122, all within 1 px), no false or second mark and no point farther off. The heat-map
#: points there that pass the arms' test and are no mark get at most 0.47 (the crossing edges
#: of ge_logiq 438's zoom and Doppler boxes; saturated speckle of ge_voluson 405, 0.28-0.32);
#: those the refiner gives 0.6 or more and are no mark have an arm of at most 4 px at
#: NET_WHITE_LEVEL (speckle, the corner of an elastography box, beside thick arrows). The
#: refiner alone at 0.6 would take about 19 true marks and 30 false points there.
NET_WHITE_PROB: dict[int, float] = {3: 0.6}
#: The cross test: of the pixels within NET_WHITE_REACH px of the refined point, one whose
#: four arms ('+' or 'x', on the exact 1-px line, single dim pixels bridged) are at least
#: NET_WHITE_LEVEL in every channel (white) for NET_WHITE_ARM px each; the mark goes to the
#: one whose shortest arm, then whose arms together, run longest (up to NET_WHITE_SPAN px),
#: the nearest first (the refined point lies up to 2 px off a large mark's centre, ge_logiq
#: 439, and a 3-px stroke's pixels off its middle line are not thin, NET_WHITE_THIN).
NET_WHITE_LEVEL = 235
NET_WHITE_ARM = 5
NET_WHITE_REACH = 2
NET_WHITE_SPAN = 12
#: ... and at least NET_WHITE_THIN of the arms' steps thin: both pixels NET_WHITE_SIDE steps
#: to the side of the arm not white (the head of a thick white arrow is white through: a
#: learned point inside one, 6 px off its tip, passes the arms' test with 0.23 of them
#: thin; the tuning marks above 0.43-0.61).
NET_WHITE_THIN = 1 / 3
NET_WHITE_SIDE = 2
#: Version 3: then, a point the deciding refiner gives at least NET_ARROW_PROB (of its
#: version) is a mark where a white arrow's tip lies within NET_ARROW_REACH px of it
#: (:func:`white_arrow_tip`): thin white arrows on bright speckle or beside a numeral, whose
#: context the rules reject. On the tuning frames of seeds 100-439: 5 true marks more
#: (ge_logiq 411 and 323, philips_epiq 318, philips_epiq 413 two; refiner 0.31-0.94), all
#: within 1 px, and nothing else changed. Among the heat-map points there that no rule took,
#: those near an arrow-shaped white piece that are no mark get at most 0.23 (a tip 2.8 px
#: away; 0.13 with a tip 2.2 px away), and a yellow '+' (JPEG, refiner 0.5) gives a tip 3.6 px
#: away. NET_ARROW_REACH 2.0: ge_logiq 323's tip, 2.2 px from the refined point, left out.
NET_ARROW_PROB: dict[int, float] = {3: 0.3}
NET_ARROW_REACH = 2.5
#: ... the arrow: an 8-connected piece of the pixels at least NET_WHITE_LEVEL in every
#: channel within NET_ARROW_SPAN px of the point, one of its pixels within 2 px of it, whose
#: shape is an arrow's (:func:`_arrow_tip`).
NET_ARROW_SPAN = 40
#: ... drawn thin: its pixels at most NET_ARROW_FILL times its box's longer side (the tuning
#: arrows above 1.4-2.2; the edge of a saturated region that ge_logiq 190, a tuning frame of
#: test_caliper_net, gave a false point at without it, 3.3).
NET_ARROW_FILL = 2.75
#: (A mark's own arms and an arrow's shaft lie inside its box, which a point must be off
#: too. Was 10: the second mark of a pair drawn 8-10 px apart was never taken; at 7 three
#: tuning marks of seeds 100-439 come in and no false one, as at 5.)
NET_CLEAR = 7
#: Style of a mark only the learned finder found (it gives no shape).
NET_STYLE = "*"
#: A mark of the rules scored below NET_VETO_SCORE goes when the refiner gives a caliper
#: point within its reach of the mark's point less than NET_VETO_PROB (per refiner version, as
#: NET_REFINE_PROB). Version 1, on the tuning frames of seeds 100-299: 6 of the rules' 13
#: false marks went, and 1 of their 3004 true ones; a quarter of the rules' marks, 11 of the
#: 13 false ones, score below 1.
NET_VETO_PROB: dict[int, float] = {1: 0.01, 2: 0.01, 3: 0.01}
NET_VETO_SCORE = 1.0


#: A rules' arrow whose tip is a numeral (or other mark) joined to the far end of its shaft:
#: the arrow rules took the numeral's end for the tip (it spreads wider than the wings:
#: philips_epiq 341, ge_logiq 186, siemens_s2000 346, small numbered arrows whose shafts run
#: into their numbers; the deciding refiner gives those points 0.02-0.55), and the learned
#: finder's point on the true tip (refiner 0.99-1.0) was kept out by the arrow's box. A doubtful
#: rules' arrow (scored below :data:`NET_VETO_SCORE`) that the deciding refiner gives less than
#: ARROW_MOVE_DOUBT, whose box (and no other mark's) holds a heat-map point (at least
#: :data:`NET_MIN_PROB`, farther than :data:`NET_CLEAR` px from every mark) of which the
#: refiner is sure (:data:`NET_REFINE_PROB`), moves to that point, refined, as a learned mark
#: (0: never). On the tuning frames of seeds 100-439 those three marks move (to 1, 2.24 and
#: 1.41 px off) and nothing else.
ARROW_MOVE_DOUBT = 0.6


def _arrows_moved(
    crop: np.ndarray,
    net: Any,
    marks: list[_Mark],
    heat: list[Any],
    usable: Callable[[int, int], bool],
    refine_prob: float,
) -> list[_Mark]:
    """``marks`` with each doubtful rules' arrow moved to the learned point in its box
    (:data:`ARROW_MOVE_DOUBT`); ``heat``: the heat map's points, ``usable`` whether a point
    may hold a mark."""
    arrows = [m for m in marks if m.style == ">" and m.score < NET_VETO_SCORE]
    if not arrows:
        return marks
    inner: list[tuple[int, Any]] = []  # (arrow index, heat point) in an arrow's box only
    for p in heat:
        if not usable(p.x, p.y) or any(
            math.hypot(p.x - m.x, p.y - m.y) <= NET_CLEAR for m in marks
        ):
            continue
        held = [
            k
            for k, m in enumerate(marks)
            if m.box[0] <= p.x <= m.box[2] and m.box[1] <= p.y <= m.box[3]
        ]
        if len(held) == 1 and marks[held[0]] in arrows:
            inner.append((held[0], p))
    if not inner:
        return marks
    owners = sorted({k for k, _ in inner})
    verdicts = net.refine(
        crop, [(marks[k].x, marks[k].y) for k in owners] + [(p.x, p.y) for _, p in inner]
    )
    doubt = dict(zip(owners, (v.prob for v in verdicts[: len(owners)]), strict=True))
    best: dict[int, Any] = {}
    for (k, _), v in zip(inner, verdicts[len(owners) :], strict=True):
        if doubt[k] >= ARROW_MOVE_DOUBT or v.prob < refine_prob or not usable(v.x, v.y):
            continue
        if k not in best or v.prob > best[k].prob:
            best[k] = v
    moved = list(marks)
    for k, v in best.items():
        box = (v.x - ARM, v.y - ARM, v.x + ARM, v.y + ARM)
        moved[k] = _Mark(v.x, v.y, NET_STYLE, v.prob, box)
    return moved


#: The saturated pixels (:func:`~.overlay.saturated_mark_pixels`) count where at least
#: SATURATED_NEIGHBOURS of them (itself included) lie in their 3x3 square (a stroke's, not a
#: lone pixel of JPEG's fringes or speckle); the saturated pass looks only at components
#: holding an inner one (SATURATED_INNER: a stroke's pixel but its ends), and only where at
#: least SATURATED_MIN are (a small lossless '+' has 9). Tuning frames, seeds 100-111: the
#: pass on 15 of 60 frames instead of 28 (every saturated pixel), about 0.3 ms a frame
#: less. Its layer with the stroke ends: without them (3), the unseen-colour recall (seeds
#: 100-139) 0.720 against 0.730.
SATURATED_NEIGHBOURS, SATURATED_INNER, SATURATED_MIN = 2, 3, 5


def _saturated_strokes(
    coloured: np.ndarray, grey: np.ndarray, maps: ColourMaps
) -> tuple[np.ndarray, np.ndarray] | None:
    """uint8 0/1 masks of the stroke pixels among :func:`~.overlay.saturated_mark_pixels`
    (:data:`SATURATED_NEIGHBOURS`) and of their inner ones (:data:`SATURATED_INNER`), or
    None where fewer than :data:`SATURATED_MIN` are inner; looked up at the ``coloured``
    pixels alone (few, outside a colour map)."""
    found = cv2.findNonZero(coloured)
    if found is None:
        return None
    xy = found.reshape(-1, 2)
    xs, ys = xy[:, 0], xy[:, 1]
    keep = (
        (maps.chroma[ys, xs] >= overlay.SATURATED_MARK_CHROMA)
        & (maps.high[ys, xs] >= overlay.SATURATED_MARK_HIGH)
        & (grey[ys, xs] < overlay.COLOUR_MARK_LEVEL)
    )
    if np.count_nonzero(keep) < SATURATED_MIN:
        return None
    xs, ys = xs[keep], ys[keep]
    height, width = coloured.shape
    padded = np.zeros((height + 2, width + 2), np.uint8)
    padded[ys + 1, xs + 1] = 1
    near = sum(padded[ys + 1 + dy, xs + 1 + dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1))
    inner = near >= SATURATED_INNER
    if np.count_nonzero(inner) < SATURATED_MIN:
        return None
    stroke = near >= SATURATED_NEIGHBOURS
    out = np.zeros((height, width), np.uint8)
    out[ys[stroke], xs[stroke]] = 1
    seeds = np.zeros((height, width), np.uint8)
    seeds[ys[inner], xs[inner]] = 1
    return out, seeds


#: A mark's colour is one the learned finder never saw (:func:`_unlearned_hue`) where its
#: pixels within UNLEARNED_REACH px of its point that are at least CORE_CHROMA coloured
#: have, mostly, a green channel more than CORE_GREEN below their brightest.
UNLEARNED_REACH = 2
#: ... and the median of their brightest channel at least UNLEARNED_HIGH (a mark is drawn
#: at full brightness, JPEG's red halved to 130-190 on dark speckle; a colour Doppler map's
#: dull red or blue lower). Was 180 with the plain yellow, which kept out a colour Doppler
#: map's blue that the rules took for a small arrow (150-190: siemens_s2000 103 (445, 252));
#: that one UNLEARNED_FILL keeps out now. 140 and 110 give the same figures on tuning seeds
#: 100-139 in the unseen colours (with :data:`HUED_BOOST`; without it, 110 changes nothing).
UNLEARNED_HIGH = 140
#: ... and at most UNLEARNED_FILL of the pixels within UNLEARNED_WINDOW px of its point inside
#: a strongly coloured (CORE_CHROMA) 5x5 square: a power Doppler map's bright orange, whose
#: edge the rules took for an arrow and the refiner in yellow for a mark (philips_iu22 420
#: (504, 566)): 0.14; the marks in magenta, orange, red of the tests (thick 'x', thick
#: arrows): at most 0.01.
UNLEARNED_WINDOW, UNLEARNED_FILL = 7, 0.05
#: A rules' mark in such a colour that the refiner vetoes (:data:`NET_VETO_PROB`) is kept
#: where, the frame in yellow (:func:`~.overlay.as_yellow`), it is at least this sure of it.
#: Tuning frames (seeds 100-139) with their calipers in magenta, orange, red and light blue:
#: the true marks so judged 0.82-1.0; a colour Doppler blob's false arrow (philips_iu22 108,
#: the families' own colours) 0.07.
HUED_KEEP_PROB = 0.5
#: The frame in yellow for that verdict has red and green at the dimmest channel plus this
#: many times the chroma (:func:`~.overlay.as_yellow`): JPEG halves a red or magenta stroke's
#: chroma and brightest channel (a red '+' on dark speckle at 130-190), which, turned yellow
#: as it is, the refiner takes for no mark. Tuning seeds 100-139 re-rendered in the unseen
#: colours (:data:`UNLEARNED_HIGH` 140): recall 0.7303 at 1.0 (and 180), 0.7741 at 1.25 and
#: 1.5 (5 false or second marks), 0.7726 at 2.0 (6), 0.7697 at 2.5 (5).
HUED_BOOST = 1.5


def _unlearned_hue(crop: np.ndarray, maps: ColourMaps, layer: np.ndarray, mark: _Mark) -> bool:
    """Whether ``mark`` (of the coloured mark ``layer``) is drawn in a colour other than the
    yellow, green and cyan the learned finder was trained on (:data:`UNLEARNED_REACH`)."""
    r = UNLEARNED_WINDOW
    near = (slice(max(0, mark.y - r), mark.y + r + 1), slice(max(0, mark.x - r), mark.x + r + 1))
    strong = (maps.chroma[near] >= CORE_CHROMA).astype(np.uint8)
    solid = cv2.erode(strong, np.ones((5, 5), np.uint8), borderType=cv2.BORDER_CONSTANT)
    if cv2.countNonZero(solid) > UNLEARNED_FILL * strong.size:
        return False  # in a colour map's blob, not a drawn mark's strokes
    r = UNLEARNED_REACH
    near = (slice(max(0, mark.y - r), mark.y + r + 1), slice(max(0, mark.x - r), mark.x + r + 1))
    lit = (layer[near] > 0) & (maps.chroma[near] >= CORE_CHROMA)
    if not lit.any():
        return False
    high = maps.high[near][lit]
    if np.median(high) < UNLEARNED_HIGH:
        return False  # a colour map's dull red or blue, not a mark drawn at full brightness
    below = high.astype(np.int16) - crop[near][..., 1][lit]
    return bool(np.count_nonzero(below > CORE_GREEN) * 2 > below.size)


#: Where a mark of the rules is drawn in a colour the learned finder never learned
#: (:func:`_unlearned_hue`), the finder looks again for the frame's other marks on the crop
#: in boosted yellow (:func:`_hued_net_marks`): JPEG frames re-rendered in magenta, orange,
#: red and light blue (tuning seeds 100-139) got no heat on most of their marks (a red '+'
#: on the frame in yellow: heat on 138 of 150 true marks of seeds 100-119 against 44, the
#: refiner sure of 88 against 3). Recall 0.7741 -> 0.7988 (JPEG 0.443 -> 0.492), false or
#: second marks 5 -> 6 (a learned point on a red colour Doppler frame). Without the rules'
#: mark as a gate (every frame with such pixels): 0.8134 and 11, and 6 false marks more on
#: the families' own Doppler frames (seeds 100/200/300/400, 10 frames each).
HUED_HEAT = True
#: A colour map: at least HUED_MAP_SHARE of the pixels in the HUED_MAP_SIDE square around a
#: coloured pixel are coloured (as the inpainting's colour maps); a learned point on the
#: frame in yellow within HUED_MAP_REACH px of one is not taken (a guard against colour
#: Doppler turned yellow: on tuning seeds 100-139 in the unseen colours it changes nothing
#: behind the rules' mark gate).
HUED_MAP_SIDE, HUED_MAP_SHARE, HUED_MAP_REACH = 41, 0.4, 8


def _colour_map(maps: ColourMaps) -> bool:
    """Whether the crop holds a colour map's pixel (:data:`HUED_MAP_SHARE`)."""
    coloured = (maps.chroma >= overlay.CHROMA_LEVEL).astype(np.uint8)
    share = cv2.boxFilter(
        coloured, cv2.CV_32F, (HUED_MAP_SIDE,) * 2, borderType=cv2.BORDER_CONSTANT
    )
    return bool(((share >= HUED_MAP_SHARE) & (coloured > 0)).any())


def _near_colour_map(maps: ColourMaps, x: int, y: int) -> bool:
    """Whether a colour map's pixel (:data:`HUED_MAP_SHARE`) lies within
    :data:`HUED_MAP_REACH` px of ``(x, y)``."""
    height, width = maps.chroma.shape
    r = HUED_MAP_REACH + HUED_MAP_SIDE // 2
    x0, y0, x1, y1 = max(0, x - r), max(0, y - r), min(width, x + r + 1), min(height, y + r + 1)
    coloured = (maps.chroma[y0:y1, x0:x1] >= overlay.CHROMA_LEVEL).astype(np.uint8)
    share = cv2.boxFilter(
        coloured, cv2.CV_32F, (HUED_MAP_SIDE,) * 2, borderType=cv2.BORDER_CONSTANT
    )
    r = HUED_MAP_REACH
    near = (slice(max(0, y - y0 - r), y - y0 + r + 1), slice(max(0, x - x0 - r), x - x0 + r + 1))
    return bool(((share[near] >= HUED_MAP_SHARE) & (coloured[near] > 0)).any())


#: Where no mark of the rules is in such a colour, the finder looks on the crop in boosted
#: yellow all the same where the crop has pixels of a colour it never learned, JPEG-smeared
#: strokes included (:func:`_hued_pixels`: at least HUED_CHROMA coloured, the brightest
#: channel at least HUED_HIGH, green at least HUED_GREEN below it; a JPEG light blue '+' on
#: speckle is about (150, 170, 190), a red one chroma 90-100, both below CORE_CHROMA, which
#: kept such frames out), unless a rules' mark is in a learned colour (:func:`_learned_colour`:
#: a frame's calipers are of one colour) or the crop shows a colour flow map
#: (:func:`_colour_flow`); an added mark needs HUED_PIXELS such pixels within HUED_REACH px
#: (:func:`_hued_point`; HUED_PIXEL_GATE off: neither the gate nor this). Tuning seeds 100-139 re-rendered in the unseen colours: recall
#: 0.8017 -> 0.8819 (JPEG 0.500 -> 0.708), false or second marks 6 -> 8; the families' own
#: colours (seeds 100-199, 240-299, 340-399) line for line unchanged. Chosen on those seeds:
#: chroma 60 and green 40 below (CORE_GREEN) gave 0.8484 (JPEG light blue left out).
HUED_PIXEL_GATE = True
HUED_CHROMA, HUED_HIGH, HUED_GREEN, HUED_REACH, HUED_PIXELS = 30, 120, 15, 2, 3
#: A colour flow map (:func:`_colour_flow`), whose red and blue specks the finder in yellow
#: takes for small marks (the families' own Doppler frames: 6 false marks on seeds 100-139,
#: 9 on 140-199 without this): at least FLOW_HUE_PIXELS unlearned pixels both red (hue
#: <= 10 or >= 170 of OpenCV's 180) and blue (100-130); or FLOW_BLOBS solid blobs (an
#: FLOW_BLOB square fits in them: no stroke of a mark); or FLOW_SPECKS compact specks (at
#: least SPECK_AREA pixels filling SPECK_FILL of their box, sides at least SPECK_SIDE: a
#: power Doppler map's orange dots). On tuning seeds 100-199, frames with colour flow /
#: caliper frames in the unseen colours without: specks >= 9 on 98 % / 2 %.
FLOW_HUE_PIXELS = 10
FLOW_BLOB, FLOW_BLOBS = 9, 3
SPECK_AREA, SPECK_FILL, SPECK_SIDE, FLOW_SPECKS = 12, 0.6, 3, 9
#: A mark of a learned colour: white (brightest channel at least LEARNED_WHITE, chroma
#: below HUED_CHROMA) or coloured with green the brightest (yellow, green, cyan).
LEARNED_WHITE = 200


def _hued_pixels(crop: np.ndarray, maps: ColourMaps) -> np.ndarray:
    """uint8 0/1: the crop's pixels of a colour the learned finder never learned, JPEG-smeared
    strokes included (:data:`HUED_CHROMA`, :data:`HUED_HIGH`, :data:`HUED_GREEN`)."""
    below = cv2.subtract(maps.high, np.ascontiguousarray(crop[..., 1]))
    return ((maps.chroma >= HUED_CHROMA) & (maps.high >= HUED_HIGH) & (below >= HUED_GREEN)).astype(
        np.uint8
    )


def _colour_flow(crop: np.ndarray, hued: np.ndarray) -> bool:
    """Whether the unlearned pixels ``hued`` (:func:`_hued_pixels`) look like a colour flow
    map's (:data:`FLOW_HUE_PIXELS`, :data:`FLOW_BLOBS`, :data:`FLOW_SPECKS`)."""
    lit = hued > 0
    hue = cv2.cvtColor(crop, cv2.COLOR_RGB2HSV)[..., 0][lit]
    red = np.count_nonzero((hue <= 10) | (hue >= 170))
    blue = np.count_nonzero((hue >= 100) & (hue <= 130))
    if red >= FLOW_HUE_PIXELS and blue >= FLOW_HUE_PIXELS:
        return True
    solid = cv2.erode(hued, np.ones((FLOW_BLOB,) * 2, np.uint8))
    if cv2.connectedComponents(solid)[0] - 1 >= FLOW_BLOBS:
        return True
    stats = cv2.connectedComponentsWithStats(hued, connectivity=8)[2][1:]
    width, height, area = stats[:, 2], stats[:, 3], stats[:, 4]
    compact = (
        (area >= SPECK_AREA)
        & (area >= SPECK_FILL * width * height)
        & (np.minimum(width, height) >= SPECK_SIDE)
    )
    return int(np.count_nonzero(compact)) >= FLOW_SPECKS


def _learned_colour(crop: np.ndarray, maps: ColourMaps, mark: _Mark) -> bool:
    """Whether at least HUED_PIXELS of ``mark``'s pixels within HUED_REACH px are of a
    learned colour (:data:`LEARNED_WHITE`), more than are of an unlearned one."""
    r = HUED_REACH
    near = (slice(max(0, mark.y - r), mark.y + r + 1), slice(max(0, mark.x - r), mark.x + r + 1))
    chroma, high = maps.chroma[near], maps.high[near]
    below = cv2.subtract(high, np.ascontiguousarray(crop[near][..., 1]))
    white = (high >= LEARNED_WHITE) & (chroma < HUED_CHROMA)
    tinted = (chroma >= HUED_CHROMA) & (high >= HUED_HIGH)
    learned = int(np.count_nonzero(white | (tinted & (below < HUED_GREEN))))
    return learned >= HUED_PIXELS and learned > int(
        np.count_nonzero(tinted & (below >= HUED_GREEN))
    )


def _hued_point(crop: np.ndarray, maps: ColourMaps, hued: np.ndarray, x: int, y: int) -> bool:
    """Whether at least HUED_PIXELS of ``hued`` lie within HUED_REACH px of ``(x, y)``, not
    in a colour map's solid blob (as :func:`_unlearned_hue` asks)."""
    r = UNLEARNED_WINDOW
    near = (slice(max(0, y - r), y + r + 1), slice(max(0, x - r), x + r + 1))
    strong = (maps.chroma[near] >= CORE_CHROMA).astype(np.uint8)
    solid = cv2.erode(strong, np.ones((5, 5), np.uint8), borderType=cv2.BORDER_CONSTANT)
    if cv2.countNonZero(solid) > UNLEARNED_FILL * strong.size:
        return False
    r = HUED_REACH
    near = (slice(max(0, y - r), y + r + 1), slice(max(0, x - r), x + r + 1))
    return cv2.countNonZero(hued[near]) >= HUED_PIXELS


def _hued_net_marks(
    kept: list[_Mark],
    inside: np.ndarray | None,
    arm: int,
    tip_layer: np.ndarray | None,
    placed: list[_Mark],
    hued: tuple[np.ndarray, ColourMaps, np.ndarray],
) -> list[_Mark]:
    """``kept`` and, where one of the rules' marks among them is drawn in a colour the learned
    finder never learned (:func:`_unlearned_hue`; a learned mark beside a colour Doppler map's
    red is not: philips_epiq 191), or, none being, where the crop has pixels of such a colour
    and neither a rules' mark of a learned colour nor a colour map or flow
    (:data:`HUED_PIXEL_GATE`), the marks it finds on the crop in boosted yellow
    (:func:`~.overlay.as_yellow`, :data:`HUED_BOOST`) where none is yet, of such a colour
    themselves (:func:`_unlearned_hue` or :func:`_hued_point`) and off colour maps
    (:func:`_near_colour_map`); no mark of ``kept`` is vetoed
    or moved. ``hued``: the crop, its :class:`~.overlay.ColourMaps` and its coloured mark
    layer with the saturated pixels; ``placed`` gets the added marks a shape put."""
    crop, maps, layer = hued
    hue_px = _hued_pixels(crop, maps)
    if not any(m.style != NET_STYLE and _unlearned_hue(crop, maps, layer, m) for m in kept) and (
        not HUED_PIXEL_GATE
        or cv2.countNonZero(hue_px) == 0
        or any(m.style != NET_STYLE and _learned_colour(crop, maps, m) for m in kept)
        or _colour_map(maps)
        or _colour_flow(crop, hue_px)
    ):
        return kept
    yellow = as_yellow(maps, HUED_BOOST)
    more_placed: list[_Mark] = []
    more = _net_marks(
        yellow, kept, inside, arm, tip_layer, more_placed, None, veto=False, views=False
    )
    known = {id(m) for m in kept}
    added = [
        m
        for m in more
        if id(m) not in known
        and (
            _unlearned_hue(crop, maps, layer, m)
            or (HUED_PIXEL_GATE and _hued_point(crop, maps, hue_px, m.x, m.y))
        )
        and not _near_colour_map(maps, m.x, m.y)
    ]
    placed += [m for m in more_placed if any(m is a for a in added)]
    return kept + added


def _net_marks(
    crop: np.ndarray,
    kept: list[_Mark],
    inside: np.ndarray | None,
    arm: int,
    tip_layer: np.ndarray | None = None,
    placed: list[_Mark] | None = None,
    hued: tuple[np.ndarray, ColourMaps, np.ndarray] | None = None,
    veto: bool = True,
    views: bool = True,
) -> list[_Mark]:
    """The marks ``kept`` that the learned finder (:func:`.caliper_net.caliper_net`) does not
    veto (one scored below :data:`NET_VETO_SCORE` whose point its refiner gives less than
    :data:`NET_VETO_PROB` of its refiner's version), and the marks it finds in ``crop``:
    heat-map points at least :data:`NET_MIN_PROB` probable, away from the marks ``kept``
    (farther than :data:`NET_CLEAR` px and off their boxes), that the refiner is at least
    :data:`NET_REFINE_PROB` (of its version; version 3: or its placer at least
    :data:`NET_PLACE_PROB` on a heat-map point at least :data:`NET_PLACE_HEAT`; then,
    where no mark is yet, both leaning to it as :data:`NET_AGREE_PROB` asks; then the
    placer leaning to it and the refiner sure of it mirrored, :data:`NET_MIRROR_PROB`; then
    a white cross or arrow where it leans to one, :data:`NET_WHITE_PROB`,
    :data:`NET_ARROW_PROB`; then a small coloured '+' smeared by JPEG, :data:`SMEAR_PROB`;
    then the tip of a small arrow on ``tip_layer``, the coloured mark layer, in a frame of
    arrows, :data:`NET_TIP_PROB`; then, where :data:`NET_FAINT_PROB` is set, the faint
    heat-map points sure at every orientation or beside a white arrow's tip; then, where
    :data:`NET_VIEWS` is set, the points of the heat map on the crop mirrored or
    transposed, ``views`` False: not looked for) sure of, at the
    refined point (the cross's centre, the
    arrow's tip, the smeared blob's centre; inside the crop, and ``inside`` when given). One
    refiner batch for the veto and the heat-map points, one for the mirrored verdicts (and
    one for the placer's word on the arrows' tips). ``placed``, when given, gets the marks
    that a shape put (a white cross's centre, an arrow's tip, a smeared blob's centre).
    ``hued``: ``crop`` again, its :class:`~.overlay.ColourMaps` and its coloured mark layer
    (the saturated pixels added): a mark the veto took in a colour the finder never learned
    (:func:`_unlearned_hue`) is judged again on the crop in yellow
    (:func:`~.overlay.as_yellow`, :data:`HUED_KEEP_PROB`)."""
    from cadbusi_assets.ultrasound.caliper_net import NetPoint, caliper_net

    height, width = crop.shape[:2]

    def clear(x: int, y: int, marks: list[_Mark]) -> bool:
        return not any(
            math.hypot(x - m.x, y - m.y) <= NET_CLEAR
            or (m.box[0] <= x <= m.box[2] and m.box[1] <= y <= m.box[3])
            for m in marks
        )

    def usable(x: int, y: int) -> bool:
        return 0 <= x < width and 0 <= y < height and (inside is None or bool(inside[y, x]))

    net = caliper_net()
    refine_prob = NET_REFINE_PROB[net.refiner_version]
    veto_prob = NET_VETO_PROB[net.refiner_version]
    lowest = NET_MIN_PROB if NET_FAINT_PROB is None else min(NET_MIN_PROB, NET_FAINT_PROB)
    all_heat = net.find([crop], lowest)[0]
    found_heat = [p for p in all_heat if p.prob >= NET_MIN_PROB]
    heat = [p for p in found_heat if usable(p.x, p.y) and clear(p.x, p.y, kept)]
    plain = len(heat)
    if NET_VIEWS and views:
        # the other views' points where the crop's own heat map has none
        seen = list(found_heat)
        for p in (q for points in net.find_views(crop, NET_MIN_PROB, NET_VIEWS) for q in points):
            if (
                usable(p.x, p.y)
                and clear(p.x, p.y, kept)
                and all(math.hypot(p.x - q.x, p.y - q.y) > NET_VIEW_NEW for q in seen)
            ):
                heat.append(p)
                seen.append(p)
    faint = [
        p for p in all_heat if p.prob < NET_MIN_PROB and usable(p.x, p.y) and clear(p.x, p.y, kept)
    ]
    doubtful = [m for m in kept if m.score < NET_VETO_SCORE] if veto else []
    # The placing refiner's word counts only on points it may take alone (heat at least
    # NET_PLACE_HEAT) or where the deciding one leans to a mark (NET_AGREE_PROB, below
    # NET_REFINE_PROB): on the others (faint heat, the rules' doubtful marks) it is not asked.
    verdicts = net.refine(
        crop,
        [(p.x, p.y) for p in heat] + [(m.x, m.y) for m in doubtful],
        place=[p.prob >= NET_PLACE_HEAT for p in heat] + [False] * len(doubtful),
        place_above=min(NET_AGREE_PROB, refine_prob),
    )
    vetoed = {
        id(m) for m, v in zip(doubtful, verdicts[len(heat) :], strict=True) if v.prob < veto_prob
    }
    if hued is not None:
        # A vetoed mark in a colour the finder never learned: judged again in a learned one,
        # kept where the refiner is then at least HUED_KEEP_PROB sure of it.
        which = [m for m in doubtful if id(m) in vetoed and _unlearned_hue(*hued, m)]
        if which:
            again = net.refine(as_yellow(hued[1], HUED_BOOST), [(m.x, m.y) for m in which])
            vetoed -= {id(m) for m, v in zip(which, again, strict=True) if v.prob >= HUED_KEEP_PROB}
    out = [m for m in kept if id(m) not in vetoed]
    if ARROW_MOVE_DOUBT and veto:
        out = _arrows_moved(crop, net, out, found_heat, usable, refine_prob)

    def sure(p: NetPoint, heat_prob: float) -> bool:
        return p.prob >= refine_prob or (
            p.placer_prob is not None
            and p.placer_prob >= NET_PLACE_PROB
            and heat_prob >= NET_PLACE_HEAT
        )

    def agreed(p: NetPoint) -> bool:
        return (
            p.placer_prob is not None
            and p.judged_at is not None
            and p.prob >= NET_AGREE_PROB
            and p.placer_prob >= NET_AGREE_PLACE
            and math.hypot(p.judged_at[0] - p.x, p.judged_at[1] - p.y) <= NET_AGREE_REACH
        )

    # Per heat-map point, whether each rule takes it: sure, agreed and (the points the
    # placing refiner leans to that neither takes) mirrored, the deciding refiner's verdict
    # on its inputs mirrored three ways (one batch).
    taken_by = [
        [sure(p, h.prob), agreed(p), False]
        for h, p in zip(heat, verdicts[: len(heat)], strict=True)
    ]
    leaning = [
        k
        for k, taken in enumerate(taken_by)
        if not any(taken) and (verdicts[k].placer_prob or 0.0) >= NET_MIRROR_PLACE
    ]
    mirrored = net.mirrored(crop, [(heat[k].x, heat[k].y) for k in leaning])
    for k, probs in zip(leaning, mirrored, strict=True):
        taken_by[k][2] = bool(probs.min() >= NET_MIRROR_PROB)
    # the other views' points that are no mark at one of the eight orientations (the seven
    # others asked only where the deciding refiner's own verdict passes)
    refused: set[int] = set()
    if NET_VIEW_TURNED is not None:
        turning = [k for k in range(plain, len(heat)) if verdicts[k].prob >= NET_VIEW_TURNED]
        refused = set(range(plain, len(heat))) - set(turning)
        seen_turned = net.mirrored(crop, [(heat[k].x, heat[k].y) for k in turning], turned=True)
        refused |= {
            k
            for k, probs in zip(turning, seen_turned, strict=True)
            if probs.min() < NET_VIEW_TURNED
        }
    # The faint points (after all the others): the deciding refiner's verdict (the placing
    # one's only where that is at least NET_FAINT_TURNED), then, where both lean to a mark,
    # the deciding one's at the seven other orientations (one batch); their third rule.
    ordinary = len(heat)
    if faint:
        faint_verdicts = net.refine(
            crop,
            [(p.x, p.y) for p in faint],
            place=[False] * len(faint),
            place_above=NET_FAINT_TURNED,
        )
        turning = [
            k
            for k, p in enumerate(faint_verdicts)
            if p.prob >= NET_FAINT_TURNED
            and p.placer_prob is not None
            and p.placer_prob >= NET_FAINT_PLACE
            and p.judged_at is not None
            and math.hypot(p.judged_at[0] - p.x, p.judged_at[1] - p.y) <= NET_FAINT_REACH
        ]
        turned = net.mirrored(crop, [(faint[k].x, faint[k].y) for k in turning], turned=True)
        faint_taken = [[False, False, False] for _ in faint]
        for k, probs in zip(turning, turned, strict=True):
            faint_taken[k][2] = bool(probs.min() >= NET_FAINT_TURNED)
        heat = heat + faint
        verdicts = verdicts[:ordinary] + faint_verdicts
        taken_by += faint_taken
    # White crosses (a fourth rule, where none of the others took the point: the point moves
    # to the cross's centre, the mark takes its style, so that no pair of the other style is
    # split from it, _loose_split), then white arrows (a fifth: to the arrow's tip).
    white_prob = NET_WHITE_PROB.get(net.refiner_version)
    arrow_prob = NET_ARROW_PROB.get(net.refiner_version)
    smear_prob = SMEAR_PROB.get(net.refiner_version)
    at: list[list[tuple[int, int, str] | None]] = [[None, None, None, None] for _ in heat]
    tip_prob = NET_TIP_PROB.get(net.refiner_version)
    arrows = sum(m.style == ">" for m in out)
    tips_here = (
        tip_prob is not None
        and tip_layer is not None
        and arrows >= ARROW_SNAP_VOTE * (len(out) - arrows)
    )
    tips: list[tuple[int, tuple[int, int]]] = []
    for k, (p, taken) in enumerate(zip(verdicts[: len(heat)], taken_by, strict=True)):
        if any(taken):
            continue
        if k >= ordinary:
            # (a faint point: only a white arrow's tip)
            if arrow_prob is not None and p.prob >= arrow_prob:
                tip = white_arrow_tip(crop, p.x, p.y)
                at[k][1] = None if tip is None else (*tip, NET_STYLE)
            continue
        if white_prob is not None and p.prob >= white_prob:
            at[k][0] = white_cross_centre(crop, p.x, p.y)
        if at[k][0] is None and arrow_prob is not None and p.prob >= arrow_prob:
            tip = white_arrow_tip(crop, p.x, p.y)
            at[k][1] = None if tip is None else (*tip, NET_STYLE)
        # (a sixth: small coloured '+' smeared by JPEG, to the blob's centre)
        if at[k][0] is None and at[k][1] is None and smear_prob is not None:
            at[k][2] = smeared_cross_centre(crop, p.x, p.y) if p.prob >= smear_prob else None
        # (a seventh: a small coloured arrow's tip, where the placing refiner leans to it too)
        if tips_here and tip_prob is not None and p.prob >= tip_prob and not any(at[k][:3]):
            assert tip_layer is not None
            tip = snap_to_arrow(tip_layer, p.x, p.y)
            if tip is not None:
                tips.append((k, tip))
    if tips:
        placers = net.refine(
            crop, [(heat[k].x, heat[k].y) for k, _ in tips], place=[True] * len(tips)
        )
        for (k, tip), v in zip(tips, placers, strict=True):
            if v.placer_prob is not None and v.placer_prob >= NET_TIP_PLACE:
                at[k][3] = (*tip, NET_STYLE)
    found: list[_Mark] = []
    # the agreed points only where no sure one is, the mirrored ones where neither is, the
    # white crosses and arrows, then the smeared coloured crosses, then the arrows' tips;
    # then the same for the faint points, then for the other views' points (NET_VIEWS)
    passes = [range(plain), range(ordinary, len(heat)), range(plain, ordinary)]
    for n, ks, rule in ((n, ks, rule) for n, ks in enumerate(passes) for rule in range(7)):
        if n == 2 and rule not in NET_VIEW_RULES:
            continue
        for k in ks:
            if k in refused:
                continue
            p, taken = verdicts[k], taken_by[k]
            moved = at[k][rule - 3] if rule >= 3 else None
            x, y, style = (p.x, p.y, NET_STYLE) if rule < 3 else (moved or (-1, -1, NET_STYLE))
            chosen = taken[rule] if rule < 3 else moved is not None
            if chosen and usable(x, y) and clear(x, y, kept + found):
                box = (x - arm, y - arm, x + arm, y + arm)
                found.append(_Mark(x, y, style, p.prob, box))
                if rule >= 3 and placed is not None:
                    placed.append(found[-1])
    return out + found


#: The learned finder's points on crosses: the placing refiner puts a cross's point 1-2 px
#: off its centre now and then (tuning frames, seeds 100-439: 10 of its 147 points on true
#: marks more than 2 px off, the thick or JPEG-smeared '+' marks among them at 2.24 px). A
#: point moves to the centre of the cross (1-px strokes, arm at least SNAP_HALF px, either
#: style) within SNAP_REACH px whose pixels the mark layer lights (a share of at least
#: SNAP_EXACT of them, and within 1 px at least SNAP_NEAR), the cross best lit there (ties:
#: the larger cross, then the nearer centre), where at most SNAP_CLUTTER of the pixels of its
#: box more than 2 px from its strokes are lit (not a colour map's or a scale's solid block,
#: which any cross fits: philips_epiq 322's point went 3 px off without it). On those 147
#: points: 30 move, 29 nearer their mark and one 1 px farther (a 2-px 'x' whose 1-px lines
#: fit two centres); more than 2 px off 10 -> 7, mean error 0.77 -> 0.54 px. Small arrows'
#: tips (the other learned points more than 2 px off) are not snapped: arrow templates of a
#: 2-4 px wing fit pieces of crosses too (28 points more than 2 px off, max 4.2 px, tried).
SNAP_HALF = 3
SNAP_REACH = 3
SNAP_EXACT = 0.95
SNAP_NEAR = 0.9
SNAP_CLUTTER = 0.2


def snap_to_cross(layer: np.ndarray, x: int, y: int) -> tuple[int, int] | None:
    """The centre of the cross on ``layer`` (uint8 0/1) that a learned point at ``(x, y)``
    moves to (:data:`SNAP_REACH` etc.), or None."""
    height, width = layer.shape
    reach = MAX_HALF + SNAP_REACH + 2
    x0, y0 = max(0, x - reach), max(0, y - reach)
    window = layer[y0 : min(height, y + reach + 1), x0 : min(width, x + reach + 1)]
    if not window.any():
        return None
    cx, cy = x - x0, y - y0
    sy0, sx0 = max(0, cy - SNAP_REACH), max(0, cx - SNAP_REACH)
    # The sums of the mark layer (grown by 1 px, and as it is) under each cross around
    # (x, y) (:func:`_cross_sums`: exact; filter2D's on the whole window are the same whole
    # numbers but for its rounding of zeros).
    pad = MAX_HALF + 1
    padded = np.zeros((window.shape[0] + 2 * pad, window.shape[1] + 2 * pad, 2), np.uint8)
    padded[pad:-pad, pad:-pad, 0] = cv2.dilate(window, _SQUARE3)
    padded[pad:-pad, pad:-pad, 1] = window
    rows = min(cy + SNAP_REACH + 1, window.shape[0]) - sy0
    cols = min(cx + SNAP_REACH + 1, window.shape[1]) - sx0
    best: tuple[tuple[float, float, float, float], str, int, int, int] | None = None
    for style in ("+", "x"):
        sums = _cross_sums(padded, style, sy0 + pad, sx0 + pad, rows, cols).astype(np.float32)
        for half in range(SNAP_HALF, MAX_HALF + 1):
            count = float(4 * half + 1)
            cover = sums[0, half - 1] / count
            if float(cover.max()) < SNAP_NEAR:
                continue
            exact = sums[1, half - 1] / count
            ys, xs = np.nonzero((cover >= SNAP_NEAR) & (exact >= SNAP_EXACT))
            for py, px in zip(ys.tolist(), xs.tolist(), strict=True):
                d = math.hypot(px + sx0 - cx, py + sy0 - cy)
                if d > SNAP_REACH:
                    continue
                key = (round(float(exact[py, px]), 3), round(float(cover[py, px]), 3), count, -d)
                if best is None or key > best[0]:
                    best = (key, style, half, px + sx0, py + sy0)
    if best is None:
        return None
    _, style, half, bx, by = best
    box = (
        slice(max(0, by - half), by + half + 1),
        slice(max(0, bx - half), bx + half + 1),
    )
    model = cross_pixels(window.shape, [(bx, by)], half, style)
    away = 1 - cv2.dilate(model, _SQUARE5)[box]
    if cv2.countNonZero(window[box] & away) > SNAP_CLUTTER * cv2.countNonZero(away):
        return None
    return bx + x0, by + y0


#: The learned finder's points on arrows not moved to a cross: the placing refiner puts a
#: small arrow's point 1-3 px back along its shaft or beside its tip now and then (tuning
#: frames, seeds 100-439: of its 40 points on true arrow tips, 6 were 2.24-3.16 px off, mean
#: 1.23 px; the learned points more than 2 px off were all on arrows). The generator draws an
#: arrow as a shaft from the tip and two wings back from it at 0.45 rad
#: (:mod:`cadbusi_demo.screens.calipers`); the layers often lose the tip's own pixel (it
#: touches the wings only diagonally, or bright speckle takes it from the white strokes).
#: A point moves to the tip of the arrow it sits on (:func:`snap_to_arrow`): of the mark
#: layer's pixels 8-connected to those within 2 px of it, those within ARROW_SNAP_SPAN px of
#: it are the arrow (a small arrow whole; the head and the near shaft of a large one, not a
#: numeral or a dotted line farther along), which must be long and thin (its pixels' lesser
#: second moment at most ARROW_SNAP_THIN of the greater: a cross's is about 1, a large
#: arrow's head cut by the span or a numeral stuck to a small one 0.35-0.8) and at least
#: ARROW_SNAP_LENGTH px long. At either end of its long axis the tip is the pixel at that end
#: (within 0.75 px) nearest the shaft's line (the median of the far 45 %), where the pixels of
#: the half of the length nearest it reach at least ARROW_SNAP_WING px to both sides of that
#: line (wings: a bare line has none) and the tip lies within ARROW_SNAP_REACH px of the point;
#: the end with the wider wings wins, then the nearer. A point a shape put at a tip already
#: (a white arrow's, :data:`NET_ARROW_PROB`; an arrow's, :data:`NET_TIP_PROB`) stays
#: (philips_epiq 413's white arrow: 1 -> 1.41 px off without that). On those 40 points: 21
#: move, 18 nearer their tip, 2 as far, 1 by 1 px farther (philips_epiq 404, 0 -> 1 px); more
#: than 2 px off 6 -> 1 (ge_logiq 304's large arrow over an elastography map, 2.24 px: its
#: piece holds the map's edge, not thin); on all tuning frames nothing else changes
#: (ARROW_SNAP_VOTE). Without the thinness test (1.0), siemens_s2000 421's JPEG-smeared large
#: arrow goes 1 -> 2.24 px off (while 4 points of large arrows go 1-2 px nearer); a span of
#: 20 px moves 3 more points 1 px nearer and 2 from 0 to 1 px off.
ARROW_SNAP_SPAN = 12
ARROW_SNAP_THIN = 0.3
ARROW_SNAP_LENGTH = 5.0
ARROW_SNAP_WING = 0.4
ARROW_SNAP_REACH = 3.2
#: A scanner draws a frame's marks in one style: the learned points go to their arrows' tips
#: only where the marks that are arrows (the rules' arrows, the learned points that would go
#: to a tip) are at least ARROW_SNAP_VOTE times as many as the others (the rules' crosses,
#: the learned points that went to a cross's centre). A small green '+' that JPEG smeared
#: along one arm (ge_voluson 328) looks like an arrow at that arm's end: without the vote
#: its learned point goes there, 1.41 -> 4.12 px off; the frame's 3 rules' crosses and its
#: learned points on crosses outvote it. (Counting the rules' marks alone would keep
#: ge_logiq 438's small arrow, which the rules took for a '+' beside it, 3.16 px off.)
ARROW_SNAP_VOTE = 1.0


def snap_to_arrow(layer: np.ndarray, x: int, y: int) -> tuple[int, int] | None:
    """The tip of the arrow on ``layer`` (uint8 0/1) that a learned point at ``(x, y)``
    moves to (:data:`ARROW_SNAP_SPAN` etc.), or None."""
    height, width = layer.shape
    r = ARROW_SNAP_SPAN
    x0, y0 = max(0, x - r), max(0, y - r)
    window = np.ascontiguousarray(layer[y0 : min(height, y + r + 1), x0 : min(width, x + r + 1)])
    px, py = x - x0, y - y0
    near = window[max(0, py - 2) : py + 3, max(0, px - 2) : px + 3]
    if not near.any():
        return None
    _, labels, _ = _components(window)
    touched = np.unique(labels[max(0, py - 2) : py + 3, max(0, px - 2) : px + 3])
    ys, xs = np.nonzero(np.isin(labels, touched[touched > 0]))
    keep = (xs - px) ** 2 + (ys - py) ** 2 <= r * r
    xs, ys = xs[keep], ys[keep]
    if len(xs) < 5:
        return None
    points = np.stack([xs, ys], axis=1).astype(np.float64)
    centred = points - points.mean(axis=0)
    moments, vectors = np.linalg.eigh(centred.T @ centred)
    if moments[0] > ARROW_SNAP_THIN * moments[1]:
        return None
    best: tuple[tuple[float, float], int, int] | None = None
    for sign in (1.0, -1.0):
        axis = sign * vectors[:, 1]  # from the tip along the shaft
        along = points @ axis
        side = points @ np.array([-axis[1], axis[0]])
        length = float(along.max() - along.min())
        if length < ARROW_SNAP_LENGTH:
            return None
        from_end = along - along.min()
        line = float(np.median(side[from_end > 0.55 * length]))
        k = int(np.argmin(np.where(from_end <= 0.75, np.abs(side - line), np.inf)))
        tx, ty = int(xs[k]), int(ys[k])
        reach = math.hypot(tx - px, ty - py)
        head = side[from_end <= 0.45 * length] - line
        left, right = float(head.max()), float(-head.min())
        if reach <= ARROW_SNAP_REACH and min(left, right) >= ARROW_SNAP_WING:
            rank = (left + right, -reach)
            if best is None or rank > best[0]:
                best = (rank, tx, ty)
    return None if best is None else (best[1] + x0, best[2] + y0)


def _snap_learned(
    marks: list[_Mark],
    layers: list[np.ndarray],
    inside: np.ndarray | None = None,
    placed: list[_Mark] | None = None,
) -> list[_Mark]:
    """``marks`` with each of the learned finder's moved to the centre of its cross
    (:func:`snap_to_cross`, on the first of ``layers`` that gives one; ``inside`` when
    given), else to the tip of its arrow (:func:`snap_to_arrow`, alike) where the frame's
    marks are arrows (:data:`ARROW_SNAP_VOTE`) and a shape did not place it already (one of
    ``placed``: a white arrow's tip, :func:`white_arrow_tip`), its box with it."""
    shaped = {id(m) for m in placed or []}

    def snapped(
        m: _Mark, snap: Callable[[np.ndarray, int, int], tuple[int, int] | None]
    ) -> _Mark | None:
        for layer in layers:
            point = snap(layer, m.x, m.y)
            if point is not None and (inside is None or inside[point[1], point[0]]):
                return m.moved(point[0] - m.x, point[1] - m.y)
        return None

    learned = [m.style == NET_STYLE for m in marks]
    crosses = [
        snapped(m, snap_to_cross) if k else None for m, k in zip(marks, learned, strict=True)
    ]
    tips = [
        snapped(m, snap_to_arrow) if k and c is None and id(m) not in shaped else None
        for m, k, c in zip(marks, learned, crosses, strict=True)
    ]
    # the vote: the rules' arrows and the learned points on an arrow (put at a white arrow's
    # tip, or going to one), against the rules' other marks and the learned points on a cross
    arrows = sum(m.style == ">" for m in marks) + sum(t is not None for t in tips)
    arrows += sum(
        k and c is None and id(m) in shaped for m, k, c in zip(marks, learned, crosses, strict=True)
    )
    others = sum(not k and m.style != ">" for m, k in zip(marks, learned, strict=True))
    others += sum(c is not None for c in crosses)
    to_tips = arrows >= ARROW_SNAP_VOTE * others
    return [
        c if c is not None else (t if t is not None and to_tips else m)
        for m, c, t in zip(marks, crosses, tips, strict=True)
    ]


def white_cross_centre(crop: np.ndarray, x: int, y: int) -> tuple[int, int, str] | None:
    """The centre and style of a white '+' or 'x' drawn at ``(x, y)`` of ``crop`` (grey or
    RGB), within
    :data:`NET_WHITE_REACH` px of it: its four arms at least :data:`NET_WHITE_LEVEL` for
    :data:`NET_WHITE_ARM` px each (:func:`arm_runs`, strict); the best of them as
    :data:`NET_WHITE_LEVEL`'s note says, or None. Looks no farther than a window around the
    point (a learned point's check: bright speckle blobs pass it too)."""
    height, width = crop.shape[:2]
    reach, span = NET_WHITE_REACH, NET_WHITE_SPAN
    r = reach + span + 2
    wx0, wy0 = max(0, x - r), max(0, y - r)
    bright = _white_pixels(crop[wy0 : min(height, y + r + 1), wx0 : min(width, x + r + 1)])
    offsets = [(dx, dy) for dy in range(-reach, reach + 1) for dx in range(-reach, reach + 1)]
    xs = np.array([x - wx0 + dx for dx, _ in offsets])
    ys = np.array([y - wy0 + dy for _, dy in offsets])
    inside = (xs >= 0) & (xs < bright.shape[1]) & (ys >= 0) & (ys < bright.shape[0])
    xs, ys = xs[inside], ys[inside]
    best: tuple[int, int, float, int, int, str] | None = None
    grown, pad = _padded(bright, span + NET_WHITE_SIDE + 1)
    steps = np.arange(1, span + 1)
    for style in ("+", "x"):
        runs = _arm_runs_many(bright, None, xs, ys, style, span, True)
        # per centre, arm and step: both sides NET_WHITE_SIDE px (steps) off the arm not white
        directions = _DIRECTION_STEPS[style]
        along_y = ys[:, None, None] + pad + directions[None, :, 0, None] * steps
        along_x = xs[:, None, None] + pad + directions[None, :, 1, None] * steps
        side_y, side_x = (
            NET_WHITE_SIDE * directions[:, 1, None],
            -NET_WHITE_SIDE * directions[:, 0, None],
        )
        thin = (grown[along_y + side_y, along_x + side_x] == 0) & (
            grown[along_y - side_y, along_x - side_x] == 0
        )
        thin &= steps <= runs[..., None]
        for (cx, cy), arms, arm_thin in zip(
            zip(xs.tolist(), ys.tolist(), strict=True), runs, thin, strict=True
        ):
            if arms.min() < NET_WHITE_ARM or not bright[cy, cx]:
                continue
            if arm_thin.sum() < NET_WHITE_THIN * arms.sum():
                continue
            rank = (int(arms.min()), int(arms.sum()), -math.hypot(cx + wx0 - x, cy + wy0 - y))
            if best is None or rank > best[:3]:
                best = (*rank, cx + wx0, cy + wy0, style)
    return None if best is None else (best[3], best[4], best[5])


def _white_pixels(window: np.ndarray) -> np.ndarray:
    """uint8 0/1: the pixels of ``window`` (grey or RGB) at least :data:`NET_WHITE_LEVEL` in
    every channel (white, not a yellow or cyan mark's)."""
    lowest = window if window.ndim == 2 else window.min(axis=2)
    return cv2.threshold(lowest, NET_WHITE_LEVEL - 1, 1, cv2.THRESH_BINARY)[1]


def white_arrow_tip(crop: np.ndarray, x: int, y: int) -> tuple[int, int] | None:
    """The tip of a white arrow drawn at ``(x, y)`` of ``crop`` (grey or RGB): of the pieces
    of its white pixels (:func:`_white_pixels`, 8-connected, within :data:`NET_ARROW_SPAN`
    px) that come within 2 px of the point and are thin (:data:`NET_ARROW_FILL`), the arrow
    tips (:func:`_arrow_tip`) within :data:`NET_ARROW_REACH` px of it, the nearest; or None."""
    height, width = crop.shape[:2]
    r = NET_ARROW_SPAN
    wx0, wy0 = max(0, x - r), max(0, y - r)
    white = _white_pixels(crop[wy0 : min(height, y + r + 1), wx0 : min(width, x + r + 1)])
    px, py = x - wx0, y - wy0
    near = white[max(0, py - 2) : py + 3, max(0, px - 2) : px + 3]
    if not near.any():
        return None
    _, labels, stats = _components(white)
    best: tuple[float, int, int] | None = None
    for k in np.unique(labels[max(0, py - 2) : py + 3, max(0, px - 2) : px + 3]).tolist():
        if k == 0:
            continue
        bx, by, bw, bh, area = (int(v) for v in stats[k, :5])
        if area > NET_ARROW_FILL * max(bw, bh):
            continue
        piece = (labels[by : by + bh, bx : bx + bw] == k).astype(np.uint8)
        tip = _arrow_tip(piece)
        if tip is None:
            continue
        tx, ty = tip[1] + bx + wx0, tip[2] + by + wy0
        reach = math.hypot(tx - x, ty - y)
        if reach <= NET_ARROW_REACH and (best is None or reach < best[0]):
            best = (reach, tx, ty)
    return None if best is None else (best[1], best[2])


#: Version 3: then, a point the deciding refiner gives at least SMEAR_PROB (of its version;
#: none: the rule is off) is a mark where a small coloured '+' that JPEG smeared into a blob
#: lies (:func:`smeared_cross_centre`): the rules see no cross in the blob (its strokes no
#: brighter than the speckle around, so :func:`smeared_marks` leaves it) and the refiner
#: gives such blobs 0.06-0.66. On the tuning frames of seeds 100-439 (800 frames, 2,728 true
#: marks): 5 true marks more (ge_voluson 328, 332, 339, 433, ge_logiq 131; refiner
#: 0.28-0.66), within 1 px of their marks. The other heat-map points no rule took that pass
#: the blob's tests are small arrows smeared alike (siemens_s2000 113, 430: refiner
#: 0.44-0.93, their blob's centre 1.6-2.9 px off the tip: the '+' test keeps them out) and
#: JPEG numerals and dots (refiner at most 0.74: the size and '+' tests keep them out).
SMEAR_PROB: dict[int, float] = {3: 0.25}
#: Version 3: last, a point the deciding refiner gives at least NET_TIP_PROB (of its version;
#: none: the rule is off) is a mark at the tip of the small arrow it sits on, on the coloured
#: mark layer (:func:`snap_to_arrow`), where its placing refiner gives it at least
#: NET_TIP_PLACE and the frame's marks are arrows (the rules' arrows at least
#: :data:`ARROW_SNAP_VOTE` times their other marks): coloured small arrows that JPEG smeared,
#: which the rules' arrow tests and the refiner's sure verdicts miss. On the tuning frames
#: of seeds 100-439 (800 frames, 2,728 true marks): 3 true marks more (ge_logiq 201,
#: siemens_s2000 113 and 430: refiner 0.79-0.87, placer 0.85-0.96; 0-1.41 px off), nothing
#: else changed. Of the heat-map points no rule took where such a tip lies: in frames of
#: arrows, a point 6 px from a tip (siemens_s2000 113: refiner 0.88, placer 0.40) and one 5
#: px from one (0.50, 0.91); white arrows' tips are left to :data:`NET_ARROW_PROB` (a thick
#: white arrow of siemens_s2000 208 gives one 6.4 px off its tip, 0.76 and 0.96); in frames
#: of crosses, which the vote keeps out, numerals, arm ends and a zoom box's corner (refiner
#: 0.67-0.93, placer 0.02-0.75). The placer is asked again for these points alone (most have
#: too little heat for :data:`NET_PLACE_HEAT`).
NET_TIP_PROB: dict[int, float] = {3: 0.75}
NET_TIP_PLACE = 0.8
#: The blob: the pixels of mark colour (chroma, 0 where the green channel is more than
#: CORE_GREEN below the brightest: yellow, green, cyan; not Doppler's red or blue) within
#: SMEAR_REACH px (each axis) of the refined point, their peak between SMEAR_PEAK (below, no
#: mark; above, a crisp stroke, which the rules judge: crisp numerals and dots of a dotted
#: line peak at 255); the 8-connected pixels around it at least half the peak (and at least
#: SMEAR_FLOOR), SMEAR_AREA pixels, each side of its box SMEAR_SIDE px at most (the marks:
#: 12-18 px, sides 4-7; JPEG numerals 20-27 px, 6-9 px tall; dots of dotted lines 8-11 px).
SMEAR_REACH = 3
SMEAR_PEAK = (100, 200)
SMEAR_FLOOR = 40
SMEAR_AREA = (12, 20)
SMEAR_SIDE = 7
#: ... alone: at most SMEAR_OTHER pixels of chroma at least SMEAR_OTHER_CHROMA (any hue)
#: within SMEAR_OTHER_REACH px of the peak, off the blob grown by 2 px (the marks: 4-69, a
#: numeral or another mark beside them; a colour map or Doppler box: hundreds).
SMEAR_OTHER = 100
SMEAR_OTHER_CHROMA = 30
SMEAR_OTHER_REACH = 12
#: ... and a '+': at the blob's centre (its chroma-weighted mean), the least of the chroma
#: SMEAR_ARM_AT px along the four arms at least SMEAR_PLUS times the most SMEAR_ARM_AT px
#: along the four diagonals (the marks: 0.76-1.57; the smeared small arrows 0.14-0.71, whose
#: blob's centre is 1.6-2.9 px off their tip; dots 0.06-0.31).
SMEAR_ARM_AT = 3.0
SMEAR_PLUS = 0.74
_SMEAR_AXES = ((1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0))
_SMEAR_DIAGONALS = tuple((u * math.sqrt(0.5), v * math.sqrt(0.5)) for u in (1, -1) for v in (1, -1))


def smeared_cross_centre(crop: np.ndarray, x: int, y: int) -> tuple[int, int, str] | None:
    """The centre of a small coloured '+' that JPEG smeared into a blob at ``(x, y)`` of
    ``crop`` (RGB; grey: None), as :data:`SMEAR_PROB`'s notes say, and its style, or None.
    Looks no farther than :data:`SMEAR_OTHER_REACH` px beyond the point's reach."""
    if crop.ndim != 3:
        return None
    height, width = crop.shape[:2]
    r = SMEAR_REACH + SMEAR_OTHER_REACH
    wx0, wy0 = max(0, x - r), max(0, y - r)
    window = crop[wy0 : min(height, y + r + 1), wx0 : min(width, x + r + 1)]
    high, low = window.max(axis=2), window.min(axis=2)
    chroma = cv2.subtract(high, low)
    mark = np.where(cv2.subtract(high, window[..., 1]) <= CORE_GREEN, chroma, 0).astype(np.uint8)
    px, py = x - wx0, y - wy0
    ny0, nx0 = max(0, py - SMEAR_REACH), max(0, px - SMEAR_REACH)
    near = mark[ny0 : py + SMEAR_REACH + 1, nx0 : px + SMEAR_REACH + 1]
    if near.size == 0:
        return None
    at_peak = np.unravel_index(int(np.argmax(near)), near.shape)
    qy, qx = int(at_peak[0]) + ny0, int(at_peak[1]) + nx0
    peak = int(mark[qy, qx])
    if not SMEAR_PEAK[0] <= peak <= SMEAR_PEAK[1]:
        return None
    level = max(SMEAR_FLOOR, peak / 2)
    _, labels, stats = _components((mark >= level).astype(np.uint8))
    k = int(labels[qy, qx])
    bw, bh, area = (int(v) for v in stats[k, 2:5])
    if not SMEAR_AREA[0] <= area <= SMEAR_AREA[1] or max(bw, bh) > SMEAR_SIDE:
        return None
    blob = (labels == k).astype(np.uint8)
    grown = cv2.dilate(blob, _SQUARE5)
    oy0, ox0 = max(0, qy - SMEAR_OTHER_REACH), max(0, qx - SMEAR_OTHER_REACH)
    around = (slice(oy0, qy + SMEAR_OTHER_REACH + 1), slice(ox0, qx + SMEAR_OTHER_REACH + 1))
    other = (chroma[around] >= SMEAR_OTHER_CHROMA) & (grown[around] == 0)
    if int(np.count_nonzero(other)) > SMEAR_OTHER:
        return None
    weights = np.where(blob > 0, mark, 0).astype(np.float32)
    moments = cv2.moments(weights)
    cx, cy = moments["m10"] / moments["m00"], moments["m01"] / moments["m00"]
    plane = mark.astype(np.float32)

    def at(dx: float, dy: float) -> float:
        centre = (float(cx + SMEAR_ARM_AT * dx), float(cy + SMEAR_ARM_AT * dy))
        return float(cv2.getRectSubPix(plane, (1, 1), centre)[0, 0])

    arms = min(at(dx, dy) for dx, dy in _SMEAR_AXES)
    between = max(at(dx, dy) for dx, dy in _SMEAR_DIAGONALS)
    if arms < SMEAR_PLUS * between:
        return None
    mx, my = round(cx) + wx0, round(cy) + wy0
    if not (0 <= mx < width and 0 <= my < height):
        return None
    return mx, my, "+"


#: A small '+' or 'x' that the rules took for an arrow (JPEG or a missing pixel broke its
#: symmetry, so :func:`_cross_fit` left it, and one arm's end looks like a tip): the point went
#: to that arm's end, 2-3 px off the centre (tuning seeds 100-439: siemens_s2000 229's green
#: 'x', 407's white 'x'). A rules' arrow whose box is at most CROSS_ARROW_SIDE px each side
#: goes to the centre of a cross (arm CROSS_ARROW_HALF px, 1-px strokes, either style) on
#: its layer that lights at least CROSS_ARROW_COVER of the cross's pixels and explains (within
#: 1 px) at least CROSS_ARROW_EXPLAIN of the lit pixels of the arrow's box (an arrow's shaft
#: runs past any cross that fits its head), each of its four arms lit at least CROSS_ARROW_ARM
#: (an arrow has three). On the tuning frames of seeds 100-439 the two marks move, each to
#: 0 px, and nothing else (without the arm test, a cover of 0.7 moves philips_epiq 313's four
#: small arrows 2.8-3.6 px off their tips, 0.6 philips_epiq 407's too; with it, cover 0.5 and
#: explained 0.75 still move nothing else). 229's 'x' lights 0.85 of its cross.
CROSS_ARROW_SIDE = 9
CROSS_ARROW_HALF = (2, 4)
CROSS_ARROW_COVER = 0.8
CROSS_ARROW_EXPLAIN = 0.9
CROSS_ARROW_ARM = 2 / 3
#: ... but one arm, lit at least CROSS_ARROW_WEAK (JPEG or a missing pixel took one of a
#: half-2 'x''s two arm pixels: ge_logiq 198, siemens_s2000 147, 2.83 -> 0 px; an arrow's
#: fourth arm, ahead of its tip, is dark). On the tuning frames of seeds 100-439 nothing else
#: moves.
CROSS_ARROW_WEAK = 1 / 2
#: In a frame whose other rules' marks are mostly crosses (a scanner draws one style), a
#: larger arrow's box is looked at within this many px of its point (0: never).
CROSS_ARROW_REACH = 5
#: ... those whose rules' crosses outnumber their rules' arrows this many times. Without the
#: vote, about 70 true arrows of tuning seeds 100-439 (a numeral, a dotted line or an
#: ellipse's dots joined to them) moved 2.2-5 px off their tips, and requiring each arm's end
#: unlit 1 (2) px beyond kept 3 (10) of them moving.
CROSS_ARROW_VOTE = 1.0


def _four_arms(window: np.ndarray, pad: int, h: int, w: int, style: str, half: int) -> np.ndarray:
    """(h, w) bool: for each centre of the ``h`` x ``w`` box at ``(pad, pad)`` of ``window``
    (uint8 0/1, at least ``half`` px around the box), whether each of the four arms
    (``style``, ``half`` px) has at least :data:`CROSS_ARROW_ARM` of its pixels lit, one of
    them at least :data:`CROSS_ARROW_WEAK` (an arrow has three: two wings and a shaft)."""
    ok = np.ones((h, w), bool)
    weak = np.zeros((h, w), np.int32)  # arms lit less than CROSS_ARROW_ARM
    for dy, dx in _DIRECTIONS[style]:
        lit = np.zeros((h, w), np.int32)
        for k in range(1, half + 1):
            y, x = pad + k * dy, pad + k * dx
            lit += window[y : y + h, x : x + w]
        ok &= lit >= CROSS_ARROW_WEAK * half
        weak += lit < CROSS_ARROW_ARM * half
    return ok & (weak <= 1)


def cross_for_arrow(layer: np.ndarray, mark: _Mark, larger: bool = False) -> _Mark | None:
    """The cross that a rules' arrow ``mark`` on ``layer`` (uint8 0/1) is
    (:data:`CROSS_ARROW_SIDE` etc.), at its centre with its style, or None. With ``larger``
    (a frame whose other marks are crosses), an arrow whose box is larger (a dotted line or
    an ellipse's dots joined the cross) is looked at in the part of its box within
    :data:`CROSS_ARROW_REACH` px of its point, for crosses of arm 2 to that many px."""
    bx0, by0, bx1, by1 = mark.box
    w, h = bx1 - bx0 + 1, by1 - by0 + 1
    if mark.style != ">":
        return None
    if max(w, h) <= CROSS_ARROW_SIDE and abs(w - h) <= 2:
        found = _cross_in_box(layer, mark.box, CROSS_ARROW_HALF)
    elif larger and CROSS_ARROW_REACH:
        r = CROSS_ARROW_REACH
        part = (
            max(bx0, mark.x - r),
            max(by0, mark.y - r),
            min(bx1, mark.x + r),
            min(by1, mark.y + r),
        )
        found = _cross_in_box(layer, part, (CROSS_ARROW_HALF[0], r))
    else:
        return None
    if found is None:
        return None
    cx, cy, style = found
    return _Mark(cx, cy, style, mark.score, mark.box)


def _cross_in_box(
    layer: np.ndarray, box: Box, halves: tuple[int, int]
) -> tuple[int, int, str] | None:
    """The best cross (centre and style) of :func:`cross_for_arrow`'s tests centred in
    ``box`` (arm ``halves`` px, inclusive), explaining the lit pixels of ``box``."""
    bx0, by0, bx1, by1 = box
    w, h = bx1 - bx0 + 1, by1 - by0 + 1
    # the box and pad px around it (zeros beyond the layer)
    pad = halves[1] + 1
    height, width = layer.shape[:2]
    wx0, wy0 = max(0, bx0 - pad), max(0, by0 - pad)
    wx1, wy1 = min(width, bx1 + pad + 1), min(height, by1 + pad + 1)
    window: np.ndarray = cv2.copyMakeBorder(
        np.ascontiguousarray(layer[wy0:wy1, wx0:wx1]),
        pad - (by0 - wy0),
        by1 + pad + 1 - wy1,
        pad - (bx0 - wx0),
        bx1 + pad + 1 - wx1,
        cv2.BORDER_CONSTANT,
        value=0,
    )
    lit = np.zeros_like(window)
    lit[pad : pad + h, pad : pad + w] = window[pad : pad + h, pad : pad + w]
    n_lit = cv2.countNonZero(lit)
    if n_lit == 0:
        return None
    # centres whose four arms are lit first (cheap, all at once), then the cover and the
    # explained share, in the order (row, column, style, arm) that ranks ties
    tried = []
    for si, style in enumerate(("+", "x")):
        for half in range(halves[0], halves[1] + 1):
            for y, x in np.argwhere(_four_arms(window, pad, h, w, style, half)).tolist():
                tried.append((y, x, si, half))
    best: tuple[tuple[float, int], int, int, str] | None = None
    for y, x, si, half in sorted(tried):
        style = ("+", "x")[si]
        model = cross_pixels(window.shape, [(x + pad, y + pad)], half, style)
        n_model = cv2.countNonZero(model)
        cover = cv2.countNonZero(model & window) / n_model
        if cover < CROSS_ARROW_COVER:
            continue
        explained = cv2.countNonZero(lit & cv2.dilate(model, _SQUARE3)) / n_lit
        if explained < CROSS_ARROW_EXPLAIN:
            continue
        key = (cover + explained, half)
        if best is None or key > best[0]:
            best = (key, bx0 + x, by0 + y, style)
    if best is None:
        return None
    _, cx, cy, style = best
    return cx, cy, style


#: Two marks drawn overlapping (a measurement's end on another's): one component of the
#: mark layers that two crosses of one style, size and stroke explain, their centres at
#: least PAIR_APART px apart on one axis, with an intersection over union of at least
#: PAIR_IOU and better than one cross's (:func:`overlapping_pair`). The rules and the
#: learned finder put one point between the two (3-4 px off each), or one good point and
#: one between. Tuning frames: real pairs drawn crisp fit at 0.99-1.0, single thick or
#: JPEG-smeared crosses that a pair would also fit at most 0.74 (so do pairs in JPEG,
#: 0.57-0.61: left as they are).
PAIR_IOU = 0.85
PAIR_APART = 3
#: ... or, for crosses of 1-px strokes, PAIR_APART_THIN px (two thin crosses 2 px apart
#: leave a 1-px gap between their parallel strokes that no single cross has: philips_iu22
#: 149's green '+' pair 2 px apart on both axes gave one point; thicker strokes 2 px apart
#: are a single thick or JPEG-smeared cross's shape, a 3-px '+' blurred and thresholded
#: fits them, so they keep PAIR_APART).
PAIR_APART_THIN = 2
#: Stroke widths (px) tried for the crosses of a pair.
PAIR_STROKES = (1, 2, 3)
#: The window (px each side of a point) in which a point's component is labelled; a
#: component reaching the window's edge is too large for a pair of marks.
PAIR_REACH = 2 * MAX_HALF + 4


@lru_cache(maxsize=8192)
def _pair_model(
    style: str, stroke: int, half: int, width: int, height: int, flip: bool
) -> tuple[np.ndarray, int, tuple[int, int], tuple[int, int]]:
    """Two crosses (:func:`cross_pixels`) filling a ``width`` x ``height`` box from opposite
    corners (``flip``: bottom left and top right): the pixels (read only), their count and
    the two centres of the 1-px lines."""
    grow = stroke - 1  # the strokes' growth left and up
    left, right, top, bottom = grow + half, width - 1 - half, grow + half, height - 1 - half
    a, b = ((left, bottom), (right, top)) if flip else ((left, top), (right, bottom))
    model = cross_pixels((height, width), [a, b], half, style, stroke)
    model.flags.writeable = False
    return model, cv2.countNonZero(model), a, b


def overlapping_pair(
    component: np.ndarray,
) -> tuple[str, tuple[int, int], tuple[int, int], int] | None:
    """Two crosses of one style, size and stroke that explain ``component`` (uint8 0/1, the
    component alone) as :data:`PAIR_IOU` asks: ``(style, centre, centre, half)`` in its
    coordinates, or None. Their box is the component's: for each style, stroke and arm,
    the centres sit in from opposite corners (either diagonal; :func:`_pair_model`)."""
    points = cv2.findNonZero(component)
    if points is None:
        return None
    bx, by, bw, bh = cv2.boundingRect(points)
    part = component[by : by + bh, bx : bx + bw]
    lit = len(points)
    best: tuple[float, str, tuple[int, int], tuple[int, int], int, int] | None = None
    single = 0.0
    for style in ("+", "x"):
        for stroke in PAIR_STROKES:
            for half in range(MIN_HALF, MAX_HALF + 1):
                dx, dy = bw - stroke - 2 * half, bh - stroke - 2 * half
                if dx < 0 or dy < 0:
                    break
                apart = max(dx, dy) >= (PAIR_APART_THIN if stroke == 1 else PAIR_APART)
                for flip in (False, True) if dx and dy else (False,):
                    model, count, a, b = _pair_model(style, stroke, half, bw, bh, flip)
                    if min(lit, count) < PAIR_IOU * max(lit, count):
                        continue  # (the IoU is at most the ratio of the counts)
                    both = cv2.countNonZero(part & model)
                    iou = both / (lit + count - both)
                    if not apart:
                        single = max(single, iou)
                    elif best is None or iou > best[0]:
                        best = (iou, style, a, b, half, (stroke - 1) // 2)
    if best is None or best[0] < PAIR_IOU or best[0] <= single:
        return None
    _, style, a, b, half, centre = best
    # (the thick strokes' middle: ``centre`` px up and left of the 1-px lines)
    return (
        style,
        (a[0] - centre + bx, a[1] - centre + by),
        (b[0] - centre + bx, b[1] - centre + by),
        half,
    )


#: Two overlapping crosses that JPEG or bright speckle broke (no component of the mark layer
#: is the pair, or :data:`PAIR_IOU` is out of reach: JPEG pairs fit at 0.57-0.61; a white
#: pair's opened layer loses the pixels where its strokes meet): found on the mark layer
#: itself (:func:`loose_pair`). Each cross (arm LOOSE_HALF px or more, 1-px strokes: thicker
#: ones lie within the 1 px allowed) is all there within 1 px (a share of at least
#: LOOSE_COVER of its pixels, and of the pixels that only it draws, more than 1 px from the
#: other cross's strokes: at least LOOSE_OWN of them), the pair explains (within 1 px) all
#: but LOOSE_LEFT of the lit pixels of its box, and no single cross (any arm, centred in that
#: box) explains all but LOOSE_GAIN of what the pair does. Tried on marks of the crosses'
#: styles and the learned finder's, alone in the pair's box. Tuning frames (seeds 100-439):
#: four such pairs (philips_epiq 139 and 338, siemens_s2000 234, ge_voluson 236; one point
#: between each pair's marks, 1.4-4.5 px off) now give both centres, exactly.
LOOSE_HALF = 3
LOOSE_COVER = 0.9
LOOSE_OWN = 6
LOOSE_LEFT = 0.15
LOOSE_GAIN = 0.18
#: ... and the pair lights at least LOOSE_EXACT of its pixels exactly (the four true pairs:
#: all of them), its arms end where it does (at most LOOSE_BEYOND of the pixels 2-3 px
#: beyond them lit: not pieces of a larger cross), and a cross or '+' mark of the rules
#: splits into crosses of its own style. Without these three, single thick or JPEG marks of
#: five tuning frames were split (siemens_s2000 123 and 218, philips_epiq 233, ge_voluson
#: 127 and 201: a '+' into two 'x' marks, a large 'x' into two 3-px ones).
LOOSE_EXACT = 0.95
LOOSE_BEYOND = 0.5
#: At most this many best-covered centres per cross (style and arm) are paired.
LOOSE_CENTRES = 6


@lru_cache(maxsize=512)
def _cross_kernel(style: str, half: int, stroke: int, grow: int = 0) -> tuple[np.ndarray, int]:
    """A cross (:func:`cross_pixels`) centred in its own square (float32 0/1, read only), its
    1-px lines at ``(r, r)``, the strokes grown by ``grow`` px all round; and ``r``."""
    r = half + stroke + grow
    model = cross_pixels((2 * r + 1, 2 * r + 1), [(r, r)], half, style, stroke)
    if grow:
        model = cv2.dilate(model, np.ones((2 * grow + 1,) * 2, np.uint8))
    kernel = model.astype(np.float32)
    kernel.flags.writeable = False
    return kernel, r


def _filtered(layer: np.ndarray, kernel: np.ndarray, r: int) -> np.ndarray:
    """Per pixel of ``layer`` (float32), the sum of ``layer`` under ``kernel`` centred there."""
    out: np.ndarray = cv2.filter2D(layer, -1, kernel, anchor=(r, r), borderType=cv2.BORDER_CONSTANT)
    return out


#: The two lines of each style's cross, as (dx, dy) steps (dy >= 0, not both 0).
_LINES = {"+": ((1, 0), (0, 1)), "x": ((1, 1), (-1, 1))}


def _cross_sums(
    padded: np.ndarray, style: str, top: int, left: int, rows: int, cols: int
) -> np.ndarray:
    """Per layer of ``padded`` (uint8, height x width x layers, C-contiguous), arm ``h`` (1 to
    :data:`MAX_HALF`) and centre (``rows`` x ``cols`` from ``(top, left)``, more than
    :data:`MAX_HALF` px from the edges): the sum of the layer under the 1-px cross of
    ``style`` and arm ``h`` centred there, shape ``(layers, MAX_HALF, rows, cols)`` (int32;
    as filter2D with the cross would give but for its rounding). A line's sums for all ``h``
    at once: differences of the layer's cumulative sums along the line (the flat layer seen
    as rows of the line's step: each column one line of the layer; cv2.integral sums them)."""
    _, width, layers = padded.shape
    flat = padded.reshape(-1, layers)
    size = flat.shape[0]
    start = top * width + left
    total: np.ndarray = -padded[top : top + rows, left : left + cols].astype(np.int32)
    total = total.transpose(2, 0, 1)[:, None]
    for dx, dy in _LINES[style]:
        step = dy * width + dx
        if step == 1:
            cum = cv2.integral(flat.reshape(1, size, layers))[1, 1:].reshape(-1, layers)
        else:
            chain = np.zeros((-(-size // step) * step, layers), np.uint8)
            chain[:size] = flat
            summed = cv2.integral(chain.reshape(-1, step, layers)).reshape(-1, step + 1, layers)
            cum = (summed[1:, 1:] - summed[1:, :-1]).reshape(-1, layers)
        item = cum.strides[1]
        # the sum from c - h * step to c + h * step: cum[c + h * step] - cum[c - (h + 1) * step]
        shape = (layers, MAX_HALF, rows, cols)
        strides = (item, step * cum.strides[0], width * cum.strides[0], cum.strides[0])
        ahead = np.lib.stride_tricks.as_strided(cum[start + step :], shape, strides)
        behind = np.lib.stride_tricks.as_strided(
            cum[start - 2 * step :], shape, (item, -strides[1], *strides[2:])
        )
        total = total + ahead - behind
    return total


@lru_cache(maxsize=256)
def _loose_need(height: int, width: int, x: int, y: int, exact: float) -> np.ndarray:
    """For :func:`loose_pair` on a ``height`` x ``width`` window around ``(x, y)``: per arm
    ``h`` (1 to :data:`MAX_HALF`) and centre within :data:`MAX_HALF` of ``(x, y)`` (clipped
    to the window), the fewest of its cross's pixels that must be lit for a pair to be
    fitted with it (read only): a pair is only fitted from two centres within its arm of
    ``(x, y)`` whose crosses each leave at most 1 - ``exact`` (:data:`LOOSE_EXACT`) of the
    pair's pixels, 2 (1 - ``exact``) of their own, unlit when wholly on the window (none
    elsewhere: 0 needed; centres farther than ``h``: none is enough). ``exact`` is part of
    the cache's key: a changed bound is never answered from an earlier one."""
    ys = np.arange(max(0, y - MAX_HALF), min(height, y + MAX_HALF + 1))[:, None]
    xs = np.arange(max(0, x - MAX_HALF), min(width, x + MAX_HALF + 1))[None, :]
    halves = np.arange(1, MAX_HALF + 1)[:, None, None]
    within = np.maximum(abs(ys - y), abs(xs - x)) <= halves
    whole = (ys >= halves) & (ys < height - halves) & (xs >= halves) & (xs < width - halves)
    counts = 4 * halves + 1
    need = np.where(whole, counts - (2 * (1 - exact) * counts + 1e-6), 0.0)
    need = np.where(within, need, np.inf)
    need.flags.writeable = False
    return need


#: (:func:`loose_pair`: the arm from which pairs are ruled out by their crosses of this arm)
LOOSE_SPLIT = 5


#: The pixels a cross may leave unlit in a pair that passes LOOSE_EXACT (wholly on the
#: window): of arms below LOOSE_SPLIT, of all arms; and so the fewest lit of the crosses of
#: arm LOOSE_HALF (the centres of pairs of arms below LOOSE_SPLIT, of all arms) and arm
#: LOOSE_SPLIT (of pairs from it on), less half a pixel (filter2D's rounding).
_LOOSE_FEW, _LOOSE_MOST = (
    int(2 * (1 - LOOSE_EXACT) * (4 * h + 1) + 1e-6) for h in (LOOSE_SPLIT - 1, MAX_HALF)
)
_LOOSE_LIT = (
    4 * LOOSE_HALF + 1 - _LOOSE_FEW - 0.5,
    4 * LOOSE_HALF + 1 - _LOOSE_MOST - 0.5,
    4 * LOOSE_SPLIT + 1 - _LOOSE_MOST - 0.5,
)


@lru_cache(maxsize=64)
def _tight_kernel(style: str, half: int) -> np.ndarray:
    """:func:`_cross_kernel`'s 1-px cross without its empty border (``half`` px each side of
    its centre; read only): filter2D sums it directly up to arm 5, not by a DFT."""
    kernel = np.ascontiguousarray(_cross_kernel(style, half, 1)[0][1:-1, 1:-1])
    kernel.flags.writeable = False
    return kernel


#: The centres of a square of side 2 MAX_HALF + 1 less than LOOSE_SPLIT from its middle
#: (Chebyshev).
_LOOSE_NEAR = np.maximum.outer(*(abs(np.arange(-MAX_HALF, MAX_HALF + 1)),) * 2) < LOOSE_SPLIT


def _spread(mask: np.ndarray) -> bool:
    """Whether two of ``mask``'s (bool) pixels are :data:`PAIR_APART` px or more apart on an
    axis."""
    _, _, w, h = cv2.boundingRect(mask.view(np.uint8))
    return max(w, h) > PAIR_APART


def loose_pair(
    window: np.ndarray, x: int, y: int
) -> tuple[str, tuple[int, int], tuple[int, int], int] | None:
    """Two overlapping crosses (1-px lines) of one style and arm on ``window`` (uint8 0/1, a
    mark layer) around ``(x, y)``, as :data:`LOOSE_COVER` etc. ask: ``(style, centre,
    centre, half)`` in the window's coordinates, or None. Each centre lies within its arm of
    ``(x, y)`` and :data:`PAIR_APART` px or more from the other on one axis."""
    if not window.any():
        return None
    height, width = window.shape
    # A pair is only fitted (below) from two centres within its arm h of (x, y), PAIR_APART
    # px apart, whose crosses each leave at most 1 - LOOSE_EXACT of the pair's pixels
    # unlit, 2 (1 - LOOSE_EXACT) of their own when wholly on the window (as they all are
    # here): their crosses of a smaller arm at most as many. The styles where two such
    # centres are, for arms below LOOSE_SPLIT (by their crosses of arm LOOSE_HALF) or from
    # it on (by those of arms LOOSE_HALF and LOOSE_SPLIT; filter2D's sums: whole numbers
    # but for its rounding).
    styles: tuple[str, ...] = ("+", "x")
    margin = 2 * MAX_HALF
    if margin <= y < height - margin and margin <= x < width - margin:
        reach = MAX_HALF + LOOSE_SPLIT
        region = window[y - reach : y + reach + 1, x - reach : x + reach + 1].astype(np.float32)
        middle = (slice(LOOSE_SPLIT, LOOSE_SPLIT + 2 * MAX_HALF + 1),) * 2
        kept = []
        for style in styles:
            small = _filtered(region, _tight_kernel(style, LOOSE_HALF), LOOSE_HALF)[middle]
            if _spread((small >= _LOOSE_LIT[0]) & _LOOSE_NEAR):
                kept.append(style)
                continue
            fit = small >= _LOOSE_LIT[1]
            if _spread(fit):
                large = _filtered(region, _tight_kernel(style, LOOSE_SPLIT), LOOSE_SPLIT)[middle]
                if _spread(fit & (large >= _LOOSE_LIT[2])):
                    kept.append(style)
        styles = tuple(kept)
        if not styles:
            return None
    # A 1-px cross of arm h at c lights c and h pixels along each of its four directions:
    # its sums over the layers at all centres within MAX_HALF of (x, y), for every h at
    # once (:func:`_cross_sums`, as filter2D with the cross would give), on the part of the
    # window those crosses reach.
    cy0, cy1 = max(0, y - MAX_HALF), min(height, y + MAX_HALF + 1)
    cx0, cx1 = max(0, x - MAX_HALF), min(width, x + MAX_HALF + 1)
    ry0, ry1 = max(0, cy0 - MAX_HALF), min(height, cy1 + MAX_HALF)
    rx0, rx1 = max(0, cx0 - MAX_HALF), min(width, cx1 + MAX_HALF)
    pad = MAX_HALF + 1
    top, left, rows, cols = cy0 - ry0 + pad, cx0 - rx0 + pad, cy1 - cy0, cx1 - cx0
    padded = np.zeros((ry1 - ry0 + 2 * pad, rx1 - rx0 + 2 * pad, 1), np.uint8)
    padded[pad:-pad, pad:-pad, 0] = window[ry0:ry1, rx0:rx1]
    need = _loose_need(height, width, x, y, LOOSE_EXACT)
    tried = {style: np.zeros(MAX_HALF, bool) for style in ("+", "x")}
    for style in styles:
        lit = _cross_sums(padded, style, top, left, rows, cols)[0]
        tried[style] = np.count_nonzero(lit >= need, axis=(1, 2)) >= 2
    if not any(t[LOOSE_HALF - 1 :].any() for t in tried.values()):
        return None
    near = cv2.dilate(window, _SQUARE3)
    padded = np.concatenate([np.zeros_like(padded), padded], axis=2)
    padded[pad:-pad, pad:-pad, 0] = near[ry0:ry1, rx0:rx1]
    grown = near.astype(np.float32)
    summed = cv2.integral(window)  # (the lit pixels of a pair's box)
    best: tuple[tuple[float, int], str, tuple[int, int], tuple[int, int], int] | None = None
    for style in ("+", "x"):
        if not tried[style][LOOSE_HALF - 1 :].any():
            continue
        sums = _cross_sums(padded, style, top, left, rows, cols).astype(np.float32)
        for half in range(LOOSE_HALF, MAX_HALF + 1):
            if not tried[style][half - 1]:
                continue
            count = float(4 * half + 1)
            y0, y1 = max(0, y - half), min(height, y + half + 1)
            x0, x1 = max(0, x - half), min(width, x + half + 1)
            inner = (slice(y0 - cy0, y1 - cy0), slice(x0 - cx0, x1 - cx0))
            part = sums[0, half - 1][inner] / count
            if float(part.max()) < LOOSE_COVER:
                continue
            exact = sums[1, half - 1][inner]
            peak = cv2.dilate(exact, np.ones((3, 3), np.uint8))
            ys, xs = np.nonzero((part >= LOOSE_COVER) & (exact >= peak))
            if len(ys) < 2:
                continue
            order = np.argsort(-exact[ys, xs], kind="stable")[:LOOSE_CENTRES]
            centres = [(int(xs[k]) + x0, int(ys[k]) + y0) for k in order]
            # Pairs that provably fail _loose_fit are not fitted: a cross wholly on the window
            # that leaves more than 1 - LOOSE_EXACT of the two crosses' pixels unlit (their
            # pixels at most 2 count), or draws fewer than LOOSE_OWN pixels of its own (as
            # the two crosses' offset alone decides), or more than 1 - LOOSE_LEFT of the
            # pair's box lit beyond what two crosses grown by 1 px can explain.
            whole_on = [
                half <= cx < width - half and half <= cy < height - half for cx, cy in centres
            ]
            unlit = [
                int(count - exact[cy - y0, cx - x0]) if on else 0
                for (cx, cy), on in zip(centres, whole_on, strict=True)
            ]
            limit = (1 - LOOSE_EXACT) * 2 * count + 1e-6
            able = [k for k in range(len(centres)) if unlit[k] <= limit]
            for n, i in enumerate(able):
                a = centres[i]
                for j in able[n + 1 :]:
                    b = centres[j]
                    if max(abs(a[0] - b[0]), abs(a[1] - b[1])) < PAIR_APART:
                        continue
                    own, explained = _pair_geometry(style, half, b[0] - a[0], b[1] - a[1])
                    if whole_on[i] and whole_on[j] and own < LOOSE_OWN:
                        continue
                    rows_, cols_ = _pair_box(window.shape, style, half, 1, a, b)
                    n_lit = int(
                        summed[rows_.stop, cols_.stop]
                        - summed[rows_.start, cols_.stop]
                        - summed[rows_.stop, cols_.start]
                        + summed[rows_.start, cols_.start]
                    )
                    if n_lit - explained > LOOSE_LEFT * n_lit:
                        continue
                    key = _loose_fit(window, grown, style, half, 1, a, b)
                    if key is not None and (best is None or key > best[0]):
                        best = (key, style, a, b, half)
    if best is None:
        return None
    _, style, a, b, half = best
    if not _beats_single(window, style, half, 1, a, b):
        return None
    return style, a, b, half


@lru_cache(maxsize=4096)
def _pair_geometry(style: str, half: int, dx: int, dy: int) -> tuple[int, int]:
    """Two 1-px crosses of ``style`` and arm ``half``, the second ``(dx, dy)`` from the
    first, both wholly drawn: the fewer of the pixels that each draws more than 1 px from
    the other's strokes (as :func:`_loose_fit` counts them), and the pixels the two cover
    grown by 1 px (at least those of the pair's box that they explain, drawn or not)."""
    r = half + 3
    shape = (2 * r + 1 + abs(dy), 2 * r + 1 + abs(dx))
    a = (r + max(0, -dx), r + max(0, -dy))
    one = cross_pixels(shape, [a], half, style)
    other = cross_pixels(shape, [(a[0] + dx, a[1] + dy)], half, style)
    apart = np.ones((5, 5), np.uint8)
    own = min(
        cv2.countNonZero(one & (1 - cv2.dilate(other, apart))),
        cv2.countNonZero(other & (1 - cv2.dilate(one, apart))),
    )
    return own, cv2.countNonZero(cv2.dilate(one | other, _SQUARE3))


def _loose_fit(
    window: np.ndarray,
    near: np.ndarray,
    style: str,
    half: int,
    stroke: int,
    a: tuple[int, int],
    b: tuple[int, int],
) -> tuple[float, int] | None:
    """``(-share lit beyond the arms, pixels lit on the pair)`` of the pair of crosses at
    ``a`` and ``b`` on ``window`` (``near``: its pixels grown by 1 px; the share to 2
    decimals: the pair whose arms end where drawn first, then the one that explains most)
    if it passes :data:`LOOSE_EXACT`, :data:`LOOSE_OWN`, :data:`LOOSE_LEFT` and
    :data:`LOOSE_BEYOND`, else None."""
    one = cross_pixels(window.shape, [a], half, style, stroke)
    other = cross_pixels(window.shape, [b], half, style, stroke)
    both = one | other
    n_both = cv2.countNonZero(both)
    exact = cv2.countNonZero(window & both) / max(1, n_both)
    if exact < LOOSE_EXACT:  # (the cheapest test first)
        return None
    apart = np.ones((2 * stroke + 3,) * 2, np.uint8)
    own = [one & (1 - cv2.dilate(other, apart)), other & (1 - cv2.dilate(one, apart))]
    for pixels in own:
        if cv2.countNonZero(pixels) < LOOSE_OWN or float(near[pixels > 0].mean()) < LOOSE_COVER:
            return None
    box = _pair_box(window.shape, style, half, stroke, a, b)
    lit = window[box]
    n_lit = cv2.countNonZero(lit)
    left = n_lit - cv2.countNonZero(lit & cv2.dilate(both, _SQUARE3)[box])
    beyond = _beyond_arms(window, both, style, half, stroke, (a, b))
    if left > LOOSE_LEFT * n_lit or beyond > LOOSE_BEYOND:
        return None
    return -round(beyond, 2), cv2.countNonZero(window & both)


def _beyond_arms(
    window: np.ndarray,
    both: np.ndarray,
    style: str,
    half: int,
    stroke: int,
    centres: tuple[tuple[int, int], ...],
) -> float:
    """The share of the pixels 2-3 px beyond the crosses' arm ends (away from both crosses'
    strokes) that ``window`` lights: high where the crosses are pieces of a larger mark, or
    an 'x' pair read the wrong way round (two 'x' marks draw four lines, which another two
    centres on the same lines explain too, but for the arms' ends)."""
    height, width = window.shape
    clear = cv2.dilate(both, np.ones((2 * stroke + 1,) * 2, np.uint8))
    lit = total = 0
    for cx, cy in centres:
        for dx, dy in _DIRECTIONS[style]:
            for step in (half + 2, half + 3):
                x, y = cx + dx * step, cy + dy * step
                if 0 <= x < width and 0 <= y < height and not clear[y, x]:
                    total += 1
                    lit += int(window[y, x])
    return lit / max(1, total)


def _pair_box(
    shape: tuple[int, ...],
    style: str,
    half: int,
    stroke: int,
    a: tuple[int, int],
    b: tuple[int, int],
) -> tuple[slice, slice]:
    """The box of the two crosses at ``a`` and ``b``, 1 px more all round."""
    reach = half + stroke
    x0, y0 = max(0, min(a[0], b[0]) - reach), max(0, min(a[1], b[1]) - reach)
    x1, y1 = max(a[0], b[0]) + reach + 1, max(a[1], b[1]) + reach + 1
    return slice(y0, min(shape[0], y1)), slice(x0, min(shape[1], x1))


def _beats_single(
    window: np.ndarray, style: str, half: int, stroke: int, a: tuple[int, int], b: tuple[int, int]
) -> bool:
    """Whether the pair at ``a`` and ``b`` explains (within 1 px) at least :data:`LOOSE_GAIN`
    of its box's lit pixels more than any single cross of either style and any arm, of the
    pair's stroke, centred in the box does."""
    box = _pair_box(window.shape, style, half, stroke, a, b)
    inside = np.zeros_like(window)
    inside[box] = window[box]
    n_lit = cv2.countNonZero(inside)
    both = cross_pixels(window.shape, [a, b], half, style, stroke)
    paired = cv2.countNonZero(inside & cv2.dilate(both, _SQUARE3))
    lit = inside.astype(np.float32)
    single = 0.0
    for s in ("+", "x"):
        for h in range(MIN_HALF, MAX_HALF + 1):
            kernel, r = _cross_kernel(s, h, stroke, 1)
            single = max(single, float(_filtered(lit, kernel, r)[box].max()))
    return paired - single >= LOOSE_GAIN * n_lit


class _DimWhite:
    """The pixels of ``grey`` at :data:`DIM_WHITE_LEVEL` or above where ``coloured`` is 0, as
    a uint8 0/1 layer of their shape whose windows (``layer[rows, cols]``, slices) are made
    when read: :func:`_loose_split` reads a few small ones of a whole crop's layer."""

    def __init__(self, grey: np.ndarray, coloured: np.ndarray) -> None:
        self.grey, self.coloured = grey, coloured
        self.shape: tuple[int, int] = grey.shape[:2]

    def __getitem__(self, window: tuple[slice, slice]) -> np.ndarray:
        return ((self.grey[window] >= DIM_WHITE_LEVEL) & (self.coloured[window] == 0)).astype(
            np.uint8
        )


def _split_pairs(
    kept: list[_Mark],
    layers: list[np.ndarray],
    inside: np.ndarray | None = None,
    loose: list[np.ndarray | _DimWhite] | None = None,
) -> list[_Mark]:
    """``kept`` with each pair of overlapping crosses (:func:`overlapping_pair`) on one of
    ``layers`` (uint8 0/1, the crop's shape) as two marks: the cross and learned marks
    inside the pair's box replaced by its two centres (scored as the best of them), when
    both centres are ``inside`` (bool, the crop's shape; None: anywhere). Where none is, a
    cross or learned mark alone in its pair's box is tried on each of ``loose`` (uint8 0/1
    layers) by :func:`loose_pair`."""
    out = list(kept)
    done: list[Box] = []
    for m in kept:
        if m.style == ">" or any(b[0] <= m.x <= b[2] and b[1] <= m.y <= b[3] for b in done):
            continue
        for layer in layers:
            height, width = layer.shape
            x0, y0 = max(0, m.x - PAIR_REACH), max(0, m.y - PAIR_REACH)
            x1, y1 = min(width, m.x + PAIR_REACH + 1), min(height, m.y + PAIR_REACH + 1)
            window = layer[y0:y1, x0:x1]
            # the 3x3 around the point: its component (the highest label there)
            around = (
                slice(max(0, m.y - y0 - 1), m.y - y0 + 2),
                slice(max(0, m.x - x0 - 1), m.x - x0 + 2),
            )
            if not window[around].any():
                continue
            _, labels = cv2.connectedComponents(window, connectivity=8, ltype=cv2.CV_16U)
            label = int(labels[around].max())
            component = (labels == label).astype(np.uint8)
            bx, by, bw, bh = cv2.boundingRect(component)
            edge = (bx == 0 and x0 > 0) or (by == 0 and y0 > 0)
            edge |= (bx + bw == window.shape[1] and x1 < width) or (
                by + bh == window.shape[0] and y1 < height
            )
            pair = None if edge else overlapping_pair(component)
            if pair is None:
                continue
            style, a, b, half = pair
            if inside is not None and not (
                inside[a[1] + y0, a[0] + x0] and inside[b[1] + y0, b[0] + x0]
            ):
                continue
            box = (bx + x0, by + y0, bx + bw - 1 + x0, by + bh - 1 + y0)
            inner = [
                k
                for k in out
                if k is m
                or (k.style != ">" and box[0] <= k.x <= box[2] and box[1] <= k.y <= box[3])
            ]
            score = max(k.score for k in inner)
            out = [k for k in out if k not in inner]
            for cx, cy in (a, b):
                x, y = cx + x0, cy + y0
                out.append(_Mark(x, y, style, score, (x - half, y - half, x + half, y + half)))
            done.append(box)
            break
        else:
            found = _loose_split(m, out, loose or [], inside)
            if found is not None:
                out, box = found
                done.append(box)
    return out


def _loose_split(
    m: _Mark, marks: list[_Mark], layers: list[np.ndarray | _DimWhite], inside: np.ndarray | None
) -> tuple[list[_Mark], Box] | None:
    """``marks`` with ``m`` replaced by the two centres of a :func:`loose_pair` around it on
    one of ``layers`` (both ``inside``, no other mark in the pair's box), and that box; or
    None."""
    if m.style not in ("+", "x", NET_STYLE):
        return None
    for layer in layers:
        height, width = layer.shape
        x0, y0 = max(0, m.x - PAIR_REACH), max(0, m.y - PAIR_REACH)
        x1, y1 = min(width, m.x + PAIR_REACH + 1), min(height, m.y + PAIR_REACH + 1)
        pair = loose_pair(layer[y0:y1, x0:x1], m.x - x0, m.y - y0)
        if pair is None:
            continue
        style, a, b, half = pair
        if m.style != NET_STYLE and style != m.style:
            continue
        (ax, ay), (bx, by) = (a[0] + x0, a[1] + y0), (b[0] + x0, b[1] + y0)
        if not (min(ax, bx) >= 0 and max(ax, bx) < width and min(ay, by) >= 0):
            continue
        if max(ay, by) >= height or (
            inside is not None and not (inside[ay, ax] and inside[by, bx])
        ):
            continue
        box = (min(ax, bx) - half, min(ay, by) - half, max(ax, bx) + half, max(ay, by) + half)
        if any(k is not m and box[0] <= k.x <= box[2] and box[1] <= k.y <= box[3] for k in marks):
            continue
        out = [k for k in marks if k is not m]
        for x, y in ((ax, ay), (bx, by)):
            out.append(_Mark(x, y, style, m.score, (x - half, y - half, x + half, y + half)))
        return out, box
    return None


#: White arrows drawn over a colour map (an elastography or Doppler box): the map's light
#: pixels around such an arrow are bright but tinted, not bright speckle. A white component
#: whose ring (:func:`_arrow_context`'s) is mostly tinted (at least MAP_ARROW_RING of its
#: pixels of chroma MAP_ARROW_TINT or more) is judged with only its untinted pixels counted
#: as bright: a straight arrow (:func:`_arrow_tip`) where at most :data:`ARROW_RING_LOOSE` of
#: the ring is bright and untinted and at most :data:`ARROW_BLACK_SHARE` black. Tuning frames
#: (seeds 100-439, 2,728 marks): 1 true arrow more (ge_logiq 218's, on a light elastography
#: map, 1 px off; the heat map 0.1 there), no other point changed; no candidate at all on
#: seeds 140-199, 240-299, 340-399; with every ring pixel counted as tinted (and no light-map
#: gate) 82 false marks (white text, UI glyphs, crosses' arms).
MAP_ARROW_TINT, MAP_ARROW_RING = 15, 0.5
#: ... looked for only near a light map (on a dark one the strict context takes such an
#: arrow): 4x4 blocks whose middle pixel has that chroma and at least MAP_ARROW_LIGHT grey,
#: at least MAP_ARROW_BLOCKS of them connected (a mark's coloured strokes give a few). The
#: gate keeps the rule's cost at 0.03-0.13 ms a frame (tuning frames, one thread; ~1-2 ms on
#: a frame with a light map); without it ~0.8 ms on every colour frame.
MAP_ARROW_LIGHT, MAP_ARROW_BLOCKS = 180, 25


def map_white_arrows(white: np.ndarray, grey: np.ndarray, chroma: np.ndarray) -> list[_Mark]:
    """Straight white arrows (their tips) among the components of ``white`` (uint8 0/1,
    :func:`white_strokes`) drawn over a colour map (``chroma``: the crop's
    :class:`~.overlay.ColourMaps` chroma), judged by the untinted pixels around them
    (:data:`MAP_ARROW_TINT`)."""
    # Only near a light map (:data:`MAP_ARROW_BLOCKS`): in the bounding box of its blocks
    # grown by the largest arrow's side, which holds every component of the size below
    # that touches it.
    height, width = white.shape
    # (one pixel of each 4x4 block: a map is smooth, tinted and light throughout)
    sample = (slice(2, height, 4), slice(2, width, 4))
    blocks = cv2.bitwise_and(
        cv2.threshold(
            np.ascontiguousarray(chroma[sample]), MAP_ARROW_TINT - 1, 1, cv2.THRESH_BINARY
        )[1],
        cv2.threshold(
            np.ascontiguousarray(grey[sample]), MAP_ARROW_LIGHT - 1, 1, cv2.THRESH_BINARY
        )[1],
    )
    if cv2.countNonZero(blocks) < MAP_ARROW_BLOCKS:
        return []
    _, block_labels, block_stats = _components(blocks)
    large = block_stats[:, 4] >= MAP_ARROW_BLOCKS
    large[0] = False
    if not large.any():
        return []
    bx, by, bw, bh = cv2.boundingRect(large[block_labels].astype(np.uint8))
    reach = 3 * (2 * MAX_HALF + 3)
    wx0, wy0 = max(0, 4 * bx - reach), max(0, 4 * by - reach)
    wx1, wy1 = min(width, 4 * (bx + bw) + reach), min(height, 4 * (by + bh) + reach)
    white, grey, chroma = (a[wy0:wy1, wx0:wx1] for a in (white, grey, chroma))
    tinted = cv2.threshold(chroma, MAP_ARROW_TINT - 1, 1, cv2.THRESH_BINARY)[1]
    touch = cv2.bitwise_and(white, cv2.dilate(tinted, _SQUARE3))
    if not cv2.countNonZero(touch):
        return []
    count, labels, stats = _components(white)
    held = np.zeros(count, bool)
    xy = cv2.findNonZero(touch).reshape(-1, 2)
    held[labels[xy[:, 1], xy[:, 0]]] = True
    held[0] = False
    side_max = np.maximum(stats[:, 2], stats[:, 3])
    diagonals = np.hypot(stats[:, 2] - 1, stats[:, 3] - 1)
    held &= (
        (diagonals >= STRAIGHT_LENGTH)
        & (side_max <= 3 * (2 * MAX_HALF + 3))
        & (stats[:, 4] <= ARROW_AREA * side_max)
    )
    found = []
    height, width = white.shape
    for label in np.flatnonzero(held):
        x, y, w, h, _ = (int(v) for v in stats[label])
        ox, oy = max(0, x - 2), max(0, y - 2)
        window = (slice(oy, min(height, y + h + 2)), slice(ox, min(width, x + w + 2)))
        component = (labels[window] == label).astype(np.uint8)
        ring = cv2.dilate(component, _SQUARE3) > component
        if not ring.any():
            continue
        tint = tinted[window][ring]
        if np.count_nonzero(tint) < MAP_ARROW_RING * tint.size:
            continue
        levels = grey[window][ring]
        bright = np.count_nonzero((levels >= ARROW_RING_LEVEL) & (tint == 0))
        black = np.count_nonzero(levels <= ARROW_BLACK_LEVEL)
        if bright > ARROW_RING_LOOSE * tint.size or black > ARROW_BLACK_SHARE * tint.size:
            continue
        tip = _arrow_tip(component, straight=True)
        if tip is None:
            continue
        x, y = x + wx0, y + wy0
        tx, ty = tip[1] + ox + wx0, tip[2] + oy + wy0
        found.append(_Mark(tx, ty, ">", tip[0], (x, y, x + w - 1, y + h - 1)))
    return found


#: A template cross on a rules' arrow replaces the arrow (a cross that JPEG broke at one arm
#: looks like one) only where the arrow's piece reaches about as far from the cross's centre
#: across as down: a real arrow's shaft runs on past the point where its wings cross it (the
#: templates' '+' there: siemens_s2000 197's two thick yellow arrows, 16 px along against 5
#: across, each a false '+' 6 px behind a lost tip), while a broken cross's arms, and a
#: numeral touching one, stay within ARROW_PAST_CROSS times the other axis's reach
#: (:func:`_runs_past`).
ARROW_PAST_CROSS = 2.0


def _runs_past(mark: _Mark, x: int, y: int) -> bool:
    """Whether arrow ``mark``'s piece reaches more than :data:`ARROW_PAST_CROSS` times as far
    (plus 2 px) from ``(x, y)`` along one axis as along the other."""
    if mark.style != ">":
        return False
    bx0, by0, bx1, by1 = mark.box
    across, down = max(x - bx0, bx1 - x), max(y - by0, by1 - y)
    return max(across, down) > ARROW_PAST_CROSS * min(across, down) + 2


def _tip_put_back(arrow: _Mark, thick: _Mark) -> bool:
    """Whether ``thick`` (an arrow of :func:`thick_arrow_tips`' layer) is ``arrow`` (one found
    before, on the opened white layer) with its tip put back: ``arrow``'s piece lies inside
    ``thick``'s and ``thick``'s tip more than 1 px outside it (the opening took a thick
    arrow's tip and left the end of a wing to be taken for one: the generator's white arrow,
    half 10, 2-px strokes, at 60 degrees, 5 px off)."""
    ax0, ay0, ax1, ay1 = arrow.box
    tx0, ty0, tx1, ty1 = thick.box
    inside = tx0 <= ax0 and ty0 <= ay0 and ax1 <= tx1 and ay1 <= ty1
    beyond = not (ax0 - 1 <= thick.x <= ax1 + 1 and ay0 - 1 <= thick.y <= ay1 + 1)
    return inside and beyond


def search_box(box: Box, shape: tuple[int, ...], arm: int = ARM) -> Box:
    """The pixels :func:`detect_calipers` looks at for ``box`` in a frame of ``shape``
    (inclusive ``x0, y0, x1, y1``): the box grown by ``arm + 3`` px, within the frame."""
    height, width = shape[:2]
    margin = arm + 3
    return (
        max(0, box[0] - margin),
        max(0, box[1] - margin),
        min(width - 1, box[2] + margin),
        min(height - 1, box[3] + margin),
    )


def detect_calipers(
    frame: np.ndarray,
    box: Box,
    fov_mask: np.ndarray | None = None,
    *,
    grey: np.ndarray | None = None,
    arm: int = ARM,
    min_score: float = MIN_SCORE,
    maps: ColourMaps | None = None,
    learned: bool | None = None,
) -> CaliperDetection:
    """Caliper points (full-frame ``(x, y)``) inside ``box``; centres must lie in ``fov_mask``
    (give or take :data:`FOV_SLACK` pixels) when one is given. ``maps`` are the frame's
    :class:`~.overlay.ColourMaps` if the caller has them. ``learned`` (default
    :data:`LEARNED`): add the points of the learned heat map (:func:`_net_marks`)."""
    learned = LEARNED if learned is None else learned
    x0, y0, x1, y1 = search_box(box, frame.shape, arm)
    crop = frame[y0 : y1 + 1, x0 : x1 + 1]
    grey_crop = (to_grey(frame) if grey is None else grey)[y0 : y1 + 1, x0 : x1 + 1]
    if crop.ndim == 3:
        maps = ColourMaps.of(crop) if maps is None else maps.crop(y0, y1 + 1, x0, x1 + 1)
    candidates = overlay_candidates(crop, grey_crop, maps)
    coloured = coloured_pixels(crop, maps=maps).astype(np.uint8)
    inside = None
    if fov_mask is not None:
        near = fov_mask[y0 : y1 + 1, x0 : x1 + 1].astype(np.uint8)
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * FOV_SLACK + 1,) * 2)
        inside = cv2.dilate(near, kernel).astype(bool)
    # Coloured marks are connected components of the mark-coloured pixels (bright speckle
    # touching a stroke is grey and stays out); white ones are found by the templates.
    marks: list[_Mark] = []
    # The mark layer (coloured candidates) and the white strokes, with whether each is lit:
    # made once, read by every pass below (none writes to them).
    mark_layer = candidates & coloured if crop.ndim == 3 else None
    mark_lit = mark_layer is not None and cv2.countNonZero(mark_layer) > 0
    if mark_layer is not None and mark_lit:
        marks = [
            m
            for m in colour_marks(mark_layer, tint=None if maps is None else (crop, maps))
            if m.score >= min_score and (inside is None or inside[m.y, m.x])
        ]
    # Marks in a saturated colour too dim for the layer (red, magenta, blue: none of the
    # families' own): the layer with those pixels added, where no mark is yet. A pass of
    # its own, so a colour Doppler map's red and blue, which are such pixels too, never join
    # the marks of the layer (a yellow arrow touching them).
    hue_layer: np.ndarray | None = mark_layer
    if mark_layer is not None and maps is not None:
        strokes = _saturated_strokes(coloured, grey_crop, maps)
        if strokes is not None:
            saturated, inner = strokes
            hue_layer = cv2.bitwise_or(mark_layer, saturated)
            boxes = list(marks)
            hued_marks = [
                m
                for m in colour_marks(hue_layer, tint=(crop, maps), holding=inner)
                if m.score >= min_score
                and (inside is None or inside[m.y, m.x])
                and not any(
                    abs(m.x - b.x) <= b.box[2] - b.box[0] and abs(m.y - b.y) <= b.box[3] - b.box[1]
                    for b in boxes
                )
            ]
            marks += hued_marks
    hued = None if maps is None or hue_layer is None else (crop, maps, hue_layer)
    # White marks: near-white pixels that are thin (not in a blob of bright speckle); crosses
    # only, since bright speckle ridges and white text give arrow-like pieces.
    white, white_blobs = _white_parts(grey_crop, coloured, crossings=True)
    white_lit = cv2.countNonZero(white) > 0
    white_marks: list[_Mark] = []
    if white_lit:
        white_marks = [
            m
            for m in colour_marks(white, grey=grey_crop)
            if m.score >= min_score and (inside is None or inside[m.y, m.x])
        ]
    ys, xs, best_score, best_style = _score(candidates, coloured, grey_crop, arm, inside)
    passed = best_score >= min_score
    groups = (
        _group(ys[passed], xs[passed], best_score[passed], best_style[passed], arm)
        if passed.any()
        else []
    )

    def plausible(group: _Group) -> bool:
        # A 2-px mark has no single centre pixel: judge it from its best-placed one. Both
        # tests look no farther than CONTEXT_REACH: a window around the group is enough.
        wy0, wx0 = max(0, group.y - CONTEXT_REACH), max(0, group.x - CONTEXT_REACH)
        near = (
            slice(wy0, group.y + CONTEXT_REACH + 1),
            slice(wx0, group.x + CONTEXT_REACH + 1),
        )
        kind = same_kind(coloured[near], grey_crop[near], group.x - wx0, group.y - wy0, group.style)
        return any(
            context_rejection(kind, x - wx0, y - wy0, group.style) is None for x, y in group.members
        )

    def over(x: int, y: int, by: list[_Mark]) -> list[_Mark]:
        return [
            m
            for m in by
            if abs(x - m.x) <= m.box[2] - m.box[0] and abs(y - m.y) <= m.box[3] - m.box[1]
        ]

    def at_point(x: int, y: int, score: float, style: str) -> _Mark:
        return _Mark(x, y, style, score, (x - arm, y - arm, x + arm, y + arm))

    # A template cross on a coloured component is the same mark: the component's stays,
    # unless it was taken for an arrow (a cross that JPEG broke at one arm looks like one):
    # then the cross replaces it, at the cross's centre (a mark is there: its context
    # judged already).
    kept = list(marks)
    for g in groups:
        hits = over(g.x, g.y, [m for m in kept if m in marks])
        if any(m.style != ">" or _runs_past(m, g.x, g.y) for m in hits) or not (
            hits or plausible(g)
        ):
            continue
        kept = [m for m in kept if m not in hits]
        kept.append(at_point(g.x, g.y, g.score, g.style))
    # A white mark the templates found keeps the templates' centre.
    taken = [at_point(m.x, m.y, m.score, m.style) if m in marks else m for m in kept]
    kept += [m for m in white_marks if not over(m.x, m.y, taken)]
    # White crosses that JPEG dimmed below WHITE_MARK_LEVEL in places (broken components):
    # on the thin pixels of a lower level, where no mark is yet. The dimmed pixels must be
    # on thin ridges (not the smooth slope of a bright speckle blob), and a mark found there
    # must hold some (the white pass judged the others). Arrows there (a thin white arrow
    # that JPEG broke) only straight ones with few bright pixels around (DIM_ARROWS).
    thin_ridges = white_ridges(grey_crop, coloured)
    dim = white_strokes(grey_crop, coloured, crossings=True, level=DIM_WHITE_LEVEL)
    dimmed = cv2.bitwise_and(cv2.subtract(dim, white), thin_ridges)
    if cv2.countNonZero(dimmed):
        taken = [m if m.style == ">" else at_point(m.x, m.y, m.score, m.style) for m in kept]
        kept += [
            m
            for m in colour_marks(
                cv2.bitwise_or(white, dimmed),
                arrows=DIM_ARROWS,
                grey=grey_crop,
                holding=dimmed,
                straight=True,
            )
            if m.score >= min_score
            and (inside is None or inside[m.y, m.x])
            and not over(m.x, m.y, taken)
            and (m.style == ">" or _dim_core(grey_crop, m.x, m.y) <= DIM_CORE_MAX)
        ]
    # White marks that bright speckle touches or JPEG breaks: the templates on the white
    # strokes alone.
    if white_lit:
        ridges = thin_ridges | white
        wy, wx, w_score, w_style = _score(ridges, coloured, grey_crop, arm, inside)
        passed = w_score >= min_score
        if passed.any():

            def on_ridges(group: _Group) -> bool:
                for x, y in group.members:
                    why = context_rejection(ridges, x, y, group.style)
                    if why is None:
                        return True
                    if why == "clutter" and _alone_among_duller(
                        ridges, grey_crop, x, y, group.style
                    ):
                        return True
                return False

            for g in _group(wy[passed], wx[passed], w_score[passed], w_style[passed], arm):
                # Crosses already kept cover arm-sized boxes; arrows their components.
                boxes = [
                    m if m.style == ">" else at_point(m.x, m.y, m.score, m.style) for m in kept
                ]
                hits = over(g.x, g.y, boxes)
                if any(m.style != ">" or _runs_past(m, g.x, g.y) for m in hits) or not (
                    hits or on_ridges(g)
                ):
                    continue
                arrows = {(m.x, m.y) for m in hits}
                kept = [m for m in kept if not (m.style == ">" and (m.x, m.y) in arrows)]
                kept.append(at_point(g.x, g.y, g.score, g.style))
    # Small white crosses that bright speckle touches or JPEG breaks (too small for the
    # templates), where no mark is yet.
    boxes = [m if m.style == ">" else at_point(m.x, m.y, m.score, m.style) for m in kept]
    kept += [
        m
        for m in small_white_crosses(grey_crop, coloured, inside)
        if m.score >= min_score and not over(m.x, m.y, boxes)
    ]
    # Thick white arrows: their tips, which the opening took, put back; arrows only, on
    # the components holding such a tip (on bright speckle too: THICK_LOOSE_BLACK). One
    # replaces the crosses that the pieces left without its tip gave (its shaft and wings).
    if white_lit:
        tips = thick_arrow_tips(grey_crop, coloured, white, white_blobs)
        if cv2.countNonZero(tips):
            thick = cv2.bitwise_or(white, tips)
            for m in colour_marks(thick, grey=grey_crop, seeds=tips):
                bx0, by0, bx1, by1 = m.box
                if (
                    m.style != ">"
                    or m.score < min_score
                    or (inside is not None and not inside[m.y, m.x])
                ):
                    continue
                within = [k for k in kept if bx0 <= k.x <= bx1 and by0 <= k.y <= by1]
                if any(k.style == ">" and not _tip_put_back(k, m) for k in within):
                    continue
                kept = [k for k in kept if k not in within]
                kept.append(m)
    # Hollow '+' marks: the cross rules find no cross in them (the arms are bars around an
    # empty centre); one replaces the marks found on its pieces.
    level = maps.high if crop.ndim == 3 and maps is not None else grey_crop
    for m in hollow_marks(level):
        if m.score < min_score or (inside is not None and not inside[m.y, m.x]):
            continue
        bx0, by0, bx1, by1 = m.box
        kept = [k for k in kept if not (bx0 <= k.x <= bx1 and by0 <= k.y <= by1)]
        kept.append(m)
    # (the coloured pixels' components: for the smeared marks and the colour scales)
    coloured_parts = _coloured_components(coloured) if crop.ndim == 3 else None
    if crop.ndim == 3 and maps is not None and coloured_parts is not None:
        boxes = [m if m.style == ">" else at_point(m.x, m.y, m.score, m.style) for m in kept]
        for m in smeared_marks(coloured, maps.high, grey_crop, boxes, coloured_parts):
            if m.score >= min_score and (inside is None or inside[m.y, m.x]):
                kept.append(m)
    if crop.ndim == 3:
        light: list[_Mark] = []
        kept += [
            m
            for m in map_marks(crop, coloured, light)
            if m.score >= min_score
            and (inside is None or inside[m.y, m.x])
            and all(math.hypot(m.x - k.x, m.y - k.y) > NET_CLEAR for k in kept)
        ]
        # (a light arrow: where no mark is in its box either, the tip of a thick arrow
        # that another rule found)
        kept += [
            m
            for m in light
            if m.score >= min_score
            and (inside is None or inside[m.y, m.x])
            and not any(
                (m.box[0] <= k.x <= m.box[2] and m.box[1] <= k.y <= m.box[3])
                or math.hypot(m.x - k.x, m.y - k.y) <= NET_CLEAR
                for k in kept
            )
        ]
    # White arrows over a colour map, whose light pixels the arrow rules took for speckle.
    if crop.ndim == 3 and maps is not None and white_lit:
        kept += [
            m
            for m in map_white_arrows(white, grey_crop, maps.chroma)
            if m.score >= min_score
            and (inside is None or inside[m.y, m.x])
            and all(math.hypot(m.x - k.x, m.y - k.y) > NET_CLEAR for k in kept)
        ]
    # Small crosses the rules took for arrows: to the cross's centre.
    layers = [white] if mark_layer is None else [mark_layer, white]
    lit_layers = [
        a for a, lit in ((mark_layer, mark_lit), (white, white_lit)) if lit and a is not None
    ]
    if CROSS_ARROW_SIDE:
        # (a frame whose other rules' marks are mostly crosses: larger arrows' boxes too)
        n_arrows = sum(m.style == ">" for m in kept)
        larger = sum(m.style in ("+", "x") for m in kept) > CROSS_ARROW_VOTE * n_arrows
        for i, m in enumerate(kept):
            for a in layers if m.style == ">" else []:
                cross = cross_for_arrow(a, m, larger)
                if cross is not None and (inside is None or inside[cross.y, cross.x]):
                    kept[i] = cross
                    break
    if learned:
        placed: list[_Mark] = []
        kept = _net_marks(crop, kept, inside, arm, mark_layer, placed, hued)
        if hued is not None and HUED_HEAT:
            kept = _hued_net_marks(kept, inside, arm, mark_layer, placed, hued)
        kept = _snap_learned(kept, lit_layers, inside, placed)
    # A colour scale bar holds no mark, whatever proposed one there.
    if crop.ndim == 3 and kept and coloured_parts is not None:
        scales = colour_scales(coloured, coloured_parts)
        kept = [m for m in kept if not _on_scale(m, scales)]
    # Pairs that JPEG or speckle broke: on the mark layer and the white pixels of the level of
    # JPEG-dimmed strokes (not opened: the opening takes the pixels where a pair's strokes meet).
    # (the white pixels made only in the windows the pairs are looked for in)
    loose: list[np.ndarray | _DimWhite] = [a for a in (mark_layer,) if mark_lit and a is not None]
    loose.append(_DimWhite(grey_crop, coloured))
    kept = _split_pairs(kept, lit_layers, inside, loose)
    points = [(m.x, m.y, m.score, m.style) for m in kept]
    points.sort(key=lambda p: (p[1], p[0]))
    return CaliperDetection(
        points=[(x + x0, y + y0) for x, y, _, _ in points],
        scores=[round(score, 4) for _, _, score, _ in points],
        styles=[style for _, _, _, style in points],
    )
