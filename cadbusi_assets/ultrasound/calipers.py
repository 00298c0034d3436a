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

from cadbusi_assets.ultrasound.overlay import coloured_pixels, overlay_candidates, to_grey

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


@dataclass(frozen=True)
class _Template:
    style: str
    arm: int
    stroke1: tuple[np.ndarray, np.ndarray]
    stroke2: tuple[np.ndarray, np.ndarray]
    off: tuple[np.ndarray, np.ndarray]


def _cross_templates(arm: int, gap: int) -> tuple[_Template, _Template]:
    """'+' and 'x' of half-size ``arm``; the window farther than ``gap`` from a stroke is 'off'."""
    k = np.arange(-arm, arm + 1)
    zeros = np.zeros_like(k)
    dy, dx = np.mgrid[-arm : arm + 1, -arm : arm + 1]
    dy, dx = dy.ravel(), dx.ravel()
    plus_off = np.minimum(np.abs(dx), np.abs(dy)) >= gap
    cross_off = np.minimum(np.abs(dx - dy), np.abs(dx + dy)) >= gap + 1
    plus = _Template("+", arm, (zeros, k), (k, zeros), (dy[plus_off], dx[plus_off]))
    cross = _Template("x", arm, (k, k), (k, -k), (dy[cross_off], dx[cross_off]))
    return plus, cross


@lru_cache(maxsize=8)
def _templates(arm: int) -> tuple[_Template, ...]:
    """Thin strokes (up to 3 px) at ``arm``, thick strokes (up to 5 px) at ``arm + 1``."""
    return _cross_templates(arm, 2) + _cross_templates(arm + 1, 3)


def _gather(
    padded: np.ndarray, ys: np.ndarray, xs: np.ndarray, offsets: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    return padded[ys[:, None] + offsets[0][None, :], xs[:, None] + offsets[1][None, :]]


def _group(ys: np.ndarray, xs: np.ndarray, scores: np.ndarray, styles: np.ndarray, radius: int):
    order = np.lexsort((xs, ys, -scores))
    taken = np.zeros(len(ys), bool)
    out = []
    for i in order:
        if taken[i]:
            continue
        near = (~taken) & (np.abs(ys - ys[i]) <= radius) & (np.abs(xs - xs[i]) <= radius)
        same = near & (styles == styles[i])
        cy = float(ys[same].mean())
        cx = float(xs[same].mean())
        taken |= near
        out.append((round(cx), round(cy), float(scores[i]), str(styles[i])))
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
    height, width = candidates.shape
    padded = np.pad(candidates, 1)
    steps = np.arange(1, limit + 1)
    runs = []
    for dy, dx in _DIRECTIONS[style]:
        ys, xs = y + dy * steps, x + dx * steps
        inside = (ys >= 0) & (ys < height) & (xs >= 0) & (xs < width)
        ys, xs = ys[inside] + 1, xs[inside] + 1
        lit = (
            padded[ys, xs]
            | padded[ys - 1, xs]
            | padded[ys + 1, xs]
            | padded[ys, xs - 1]
            | padded[ys, xs + 1]
        )
        runs.append(_run(lit.astype(bool)))
    return sorted(runs)[-2]


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


def _in_text_line(candidates: np.ndarray, x: int, y: int, style: str, arm: int) -> bool:
    """True when lit pixels sit beside the mark on its row but not above or below it (text)."""
    reach = arm + 10
    y0, y1 = max(0, y - reach), min(candidates.shape[0], y + reach + 1)
    x0, x1 = max(0, x - reach), min(candidates.shape[1], x + reach + 1)
    window = candidates[y0:y1, x0:x1].astype(bool)
    dy, dx = np.mgrid[y0 - y : y1 - y, x0 - x : x1 - x]
    ring = np.maximum(np.abs(dx), np.abs(dy)) >= arm + 3
    if style == "+":
        ring &= (np.abs(dx) > 2) & (np.abs(dy) > 2)
    else:
        ring &= (np.abs(dx - dy) > 3) & (np.abs(dx + dy) > 3)
    beside = ring & (np.abs(dy) <= arm + 2)
    above = ring & (np.abs(dx) <= arm + 2)
    beside_fill = window[beside].mean() if beside.any() else 0.0
    above_fill = window[above].mean() if above.any() else 0.0
    return bool(beside_fill >= 0.08 and beside_fill >= 3.0 * above_fill)


def detect_calipers(
    frame: np.ndarray,
    box: Box,
    fov_mask: np.ndarray | None = None,
    *,
    grey: np.ndarray | None = None,
    arm: int = ARM,
    min_score: float = MIN_SCORE,
) -> CaliperDetection:
    """Caliper points (full-frame ``(x, y)``) inside ``box``; centres must lie in ``fov_mask``
    (give or take :data:`FOV_SLACK` pixels)."""
    height, width = frame.shape[:2]
    margin = arm + 3
    x0, y0 = max(0, box[0] - margin), max(0, box[1] - margin)
    x1, y1 = min(width - 1, box[2] + margin), min(height - 1, box[3] + margin)
    crop = frame[y0 : y1 + 1, x0 : x1 + 1]
    grey_crop = (to_grey(frame) if grey is None else grey)[y0 : y1 + 1, x0 : x1 + 1]
    candidates = overlay_candidates(crop, grey_crop)
    side = 2 * arm + 1
    density = cv2.blur(candidates * np.uint8(255), (side, side))
    lo, hi = int(255 * (2 * side - 2) * 0.7 / side**2), int(255 * 0.85)
    keep = (candidates > 0) & (density >= lo) & (density <= hi)
    if fov_mask is not None:
        inside = fov_mask[y0 : y1 + 1, x0 : x1 + 1].astype(np.uint8)
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * FOV_SLACK + 1,) * 2)
        keep &= cv2.dilate(inside, kernel).astype(bool)
    ys, xs = np.nonzero(keep)
    if len(ys) == 0:
        return CaliperDetection()
    pad = arm + 1
    padded = np.pad(candidates, pad)
    ys_p, xs_p = ys + pad, xs + pad
    best_score = np.zeros(len(ys), np.float32)
    best_style = np.full(len(ys), "", dtype="<U1")
    grey_p = np.pad(grey_crop, pad)
    colour_p = np.pad(coloured_pixels(crop).astype(np.uint8), pad)
    for template in _templates(arm):
        f1 = _gather(padded, ys_p, xs_p, template.stroke1).mean(axis=1)
        f2 = _gather(padded, ys_p, xs_p, template.stroke2).mean(axis=1)
        off = _gather(padded, ys_p, xs_p, template.off).mean(axis=1)
        ok = (f1 >= MIN_STROKE_FILL) & (f2 >= MIN_STROKE_FILL) & (off <= MAX_OFF_FILL)
        if not ok.any():
            continue
        idx = np.flatnonzero(ok)
        shape = np.minimum(f1[idx], f2[idx]) * (1.0 - 4.0 * off[idx])
        on_offsets = (
            np.concatenate([template.stroke1[0], template.stroke2[0]]),
            np.concatenate([template.stroke1[1], template.stroke2[1]]),
        )
        on_grey = _gather(grey_p, ys_p[idx], xs_p[idx], on_offsets).astype(np.float32)
        off_grey = _gather(grey_p, ys_p[idx], xs_p[idx], template.off).astype(np.float32)
        contrast = np.clip((on_grey.mean(axis=1) - off_grey.mean(axis=1)) / 120.0, 0.0, 1.0)
        colour = _gather(colour_p, ys_p[idx], xs_p[idx], on_offsets).mean(axis=1)
        score = shape * (0.55 + 0.45 * np.maximum(contrast, colour))
        better = score > best_score[idx]
        best_score[idx[better]] = score[better]
        best_style[idx[better]] = template.style
    passed = best_score >= min_score
    if not passed.any():
        return CaliperDetection()
    groups = _group(ys[passed], xs[passed], best_score[passed], best_style[passed], arm)
    groups = [
        g
        for g in groups
        if not _in_text_line(candidates, g[0], g[1], g[3], arm_length(candidates, g[0], g[1], g[3]))
    ]
    groups.sort(key=lambda g: (g[1], g[0]))
    return CaliperDetection(
        points=[(gx + x0, gy + y0) for gx, gy, _, _ in groups],
        scores=[round(score, 4) for _, _, score, _ in groups],
        styles=[style for _, _, _, style in groups],
    )
