"""Caliper marks ('+' and 'x', coloured or white) inside the field of view.

Candidate pixels (:func:`overlay.overlay_candidates`) are pre-filtered by their local
density, then scored against two cross templates of half-size ``arm`` by gathering the
template offsets around each candidate (vectorized, no full-frame convolution): both strokes
of the cross must be lit and the window away from the strokes must be empty. Passing pixels
are grouped (greedy, radius ``arm``) into one point per mark. The confidence of a point
combines the shape fit with colour or contrast; the image confidence is the best point's.

>>> import numpy as np
>>> rgb = np.full((60, 60, 3), 60, np.uint8)
>>> rgb[30, 22:39] = rgb[22:39, 30] = (255, 255, 0)
>>> found = detect_calipers(rgb, (0, 0, 59, 59))
>>> found.points, found.styles
([(30, 30)], ['+'])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np

from cadbusi_assets.ultrasound.overlay import (
    ColourMaps,
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
    cross_core = (np.array([0, 0, -2, 2]), np.array([-2, 2, 0, 0]))
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


def _run(lit: np.ndarray) -> int:
    """Length of the lit run from the start, bridging single unlit pixels."""
    run, gap = 0, 0
    for step, on in enumerate(lit, start=1):
        if on:
            run, gap = step, 0
        else:
            gap += 1
            if gap > 1:
                break
    return run


def arm_length(candidates: np.ndarray, x: int, y: int, style: str, limit: int = 20) -> int:
    """Arm length of a mark centred at ``(x, y)``: the second longest of its four lit runs
    (a pixel counts as lit when it or a 4-neighbour is a candidate), so one arm running into
    bright speckle does not stretch the estimate."""
    return sorted(arm_runs(candidates, x, y, style, limit))[-2]


def arm_runs(
    candidates: np.ndarray, x: int, y: int, style: str, limit: int = 20, *, strict: bool = False
) -> list[int]:
    """The lit run along each of the mark's four arm directions (``strict``: on the exact
    line; otherwise a 4-neighbour counts too, for strokes that JPEG has blurred)."""
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
        runs.append(_run(lit.astype(bool)))
    return runs


def stroke_fill(candidates: np.ndarray, x: int, y: int, style: str, arm: int = ARM) -> float:
    """Share of the mark's two strokes (half-size ``arm``) that is lit."""
    k = np.arange(-arm, arm + 1)
    if style == "+":
        ys = np.concatenate([np.full_like(k, y), y + k])
        xs = np.concatenate([x + k, np.full_like(k, x)])
    else:
        ys = np.concatenate([y + k, y + k])
        xs = np.concatenate([x + k, x - k])
    inside = (ys >= 0) & (ys < candidates.shape[0]) & (xs >= 0) & (xs < candidates.shape[1])
    return float(candidates[ys[inside], xs[inside]].mean()) if inside.any() else 0.0


def same_kind(coloured: np.ndarray, grey: np.ndarray, x: int, y: int, style: str) -> np.ndarray:
    """Pixels drawn like the mark at ``(x, y)``: coloured ones for a coloured mark, else the
    ones about as bright as its strokes (bright tissue rims are darker than white marks)."""
    if stroke_fill(coloured, x, y, style) >= 0.5:
        return coloured
    k = np.arange(-ARM, ARM + 1)
    if style == "+":
        ys, xs = (
            np.concatenate([np.full_like(k, y), y + k]),
            np.concatenate([x + k, np.full_like(k, x)]),
        )
    else:
        ys, xs = np.concatenate([y + k, y + k]), np.concatenate([x + k, x - k])
    inside = (ys >= 0) & (ys < grey.shape[0]) & (xs >= 0) & (xs < grey.shape[1])
    level = float(np.median(grey[ys[inside], xs[inside]])) if inside.any() else 255.0
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
    density = cv2.blur(candidates * np.uint8(255), (side, side))
    lo, hi = int(255 * (2 * side - 2) * 0.7 / side**2), int(255 * 0.85)
    keep = (candidates > 0) & (density >= lo) & (density <= hi)
    if inside is not None:
        keep &= inside
    reach = arm + 1  # the widest template's half-size
    keep[:reach], keep[-reach:], keep[:, :reach], keep[:, -reach:] = False, False, False, False
    found = cv2.findNonZero(keep.astype(np.uint8))
    empty = np.zeros(0, np.intp)
    if found is None:
        return empty, empty, np.zeros(0, np.float32), np.zeros(0, "<U1")
    found = found.reshape(-1, 2)
    xs, ys = found[:, 0].astype(np.intp), found[:, 1].astype(np.intp)
    order = np.lexsort((xs, ys))  # row-major, as np.nonzero gives them
    ys, xs = ys[order], xs[order]
    window_dy, window_dx, index = _window_offsets(arm)
    rows, cols = ys[:, None] + window_dy[None, :], xs[:, None] + window_dx[None, :]
    window = candidates[rows, cols]  # N x (2 reach + 1)^2, one gather for every template
    best_score = np.zeros(len(ys), np.float32)
    best_style = np.full(len(ys), "", dtype="<U1")
    for template in _templates(arm):
        at = index[template]
        f1 = window[:, at.stroke1].mean(axis=1)
        f2 = window[:, at.stroke2].mean(axis=1)
        off = window[:, at.off].mean(axis=1)
        core = window[:, at.core].sum(axis=1)
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
        grey_window = grey_crop[rows[idx], cols[idx]].astype(np.float32)
        contrast = np.clip(
            (grey_window[:, on].mean(axis=1) - grey_window[:, at.off].mean(axis=1)) / 120.0,
            0.0,
            1.0,
        )
        colour = coloured[rows[idx][:, on], cols[idx][:, on]].mean(axis=1)
        score = shape * (0.55 + 0.45 * np.maximum(contrast, colour))
        better = score > best_score[idx]
        best_score[idx[better]] = score[better]
        best_style[idx[better]] = template.style
    return ys, xs, best_score, best_style


def detect_calipers(
    frame: np.ndarray,
    box: Box,
    fov_mask: np.ndarray | None = None,
    *,
    grey: np.ndarray | None = None,
    arm: int = ARM,
    min_score: float = MIN_SCORE,
    maps: ColourMaps | None = None,
) -> CaliperDetection:
    """Caliper points (full-frame ``(x, y)``) inside ``box``; centres must lie in ``fov_mask``
    (give or take :data:`FOV_SLACK` pixels) when one is given. ``maps`` are the frame's
    :class:`~.overlay.ColourMaps` if the caller has them."""
    height, width = frame.shape[:2]
    margin = arm + 3
    x0, y0 = max(0, box[0] - margin), max(0, box[1] - margin)
    x1, y1 = min(width - 1, box[2] + margin), min(height - 1, box[3] + margin)
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
    # A coloured mark is searched for among the coloured pixels alone too: bright speckle
    # touching its strokes then no longer spoils the template's empty window.
    maps_to_search = [candidates]
    if crop.ndim == 3:
        colour_marks = candidates & coloured
        if cv2.countNonZero(colour_marks):
            maps_to_search.append(colour_marks)
    scored = [_score(m, coloured, grey_crop, arm, inside) for m in maps_to_search]
    ys = np.concatenate([s[0] for s in scored])
    xs = np.concatenate([s[1] for s in scored])
    best_score = np.concatenate([s[2] for s in scored])
    best_style = np.concatenate([s[3] for s in scored])
    passed = best_score >= min_score
    if not passed.any():
        return CaliperDetection()
    groups = _group(ys[passed], xs[passed], best_score[passed], best_style[passed], arm)

    def plausible(group: _Group) -> bool:
        # A 2-px mark has no single centre pixel: judge it from its best-placed one.
        kind = same_kind(coloured, grey_crop, group.x, group.y, group.style)
        return any(context_rejection(kind, x, y, group.style) is None for x, y in group.members)

    groups = sorted((g for g in groups if plausible(g)), key=lambda g: (g.y, g.x))
    return CaliperDetection(
        points=[(g.x + x0, g.y + y0) for g in groups],
        scores=[round(g.score, 4) for g in groups],
        styles=[g.style for g in groups],
    )
