"""Field of view: the ultrasound image area of a frame (crop box and simplified polygon).

The search area is the main 2-D region of ``SequenceOfUltrasoundRegions`` when the file has
one, else the whole frame (the header band is already blanked by de-identification). Inside
it the speckle is separated from the flat background, text, depth ticks and bars by image
evidence: a low threshold on a 2x area-downsampled copy, a closing that bridges dark speckle,
an opening that removes thin UI elements, narrow tabs (text blocks touching the image's top
or bottom edge) cut, the largest component with its holes filled, and a full-resolution
refinement of the edges. Inside a region the file declares, on a flat dark background, dim
evidence (blocks of 8 x 8 pixels partly above the background level) replaces it when it
holds it and is larger: a fan's sparse near field and dim flanks, or a fan drawn at grey
level 1, are lost by the per-pixel threshold. The component is then described as a ``rectangle``,
a ``sector`` (fan with an apex; fitted from its two straight sides and its radii) or
``other`` (Douglas-Peucker polygon).

>>> import numpy as np
>>> frame = np.zeros((200, 300), np.uint8)
>>> frame[40:181, 60:241] = np.random.default_rng(0).integers(30, 200, (141, 181))
>>> fov = find_field_of_view(frame, [])
>>> fov.box, fov.shape
((60, 40, 240, 180), 'rectangle')
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from cadbusi_assets.dicom import UltrasoundRegion

#: Background is near 0 even after JPEG; speckle averaged over 2x2 pixels rarely is.
BACKGROUND_LEVEL = 4
#: Edge refinement: a line belongs to the image when this many pixels exceed this level.
EDGE_LEVEL = 12
EDGE_MIN_PIXELS = 3
EDGE_KEEP = 0.1
#: Other parts of the image (split off by a black band) are at least this share of the
#: largest and span the same columns within this overlap.
MIN_PART_SHARE = 0.05
SAME_COLUMNS = 0.95
#: Rows lit over at least this share of the search area's width are a UI band.
BAND_SHARE = 0.97
#: ... and a band is at most this share of the frame's height thick.
BAND_MAX_SHARE = 0.12
#: A band at the frame's top (bottom) edge goes on over the rows below (above) it that are
#: lit over at least this share of the width: where an inset (a zoom box's picture) hangs
#: over the band's last rows, its dark speckle leaves them short of BAND_SHARE.
BAND_EDGE_SHARE = 0.85
#: A second view of a dual view: at least this share of the first's area, on the same rows.
DUAL_SHARE = 0.4
SAME_ROWS = 0.8
#: The evidence is computed at half resolution when the search area's short side is at
#: least this long. On smaller frames (half-size copies) text lines sit a few pixels above
#: the image, and the closing at half resolution would bridge them into it.
HALF_RESOLUTION_MIN_SIDE = 300
#: Below this share of the search area, image evidence is not trusted.
MIN_FOV_SHARE = 0.05
#: Dim image evidence inside a declared region (a fan's sparse near field and dim flanks, a
#: fan drawn at grey level 1): the background is one flat dark level, the darkest level up to
#: :data:`BACKGROUND_LEVEL` that covers :data:`BACKGROUND_SHARE` of the search area; blocks
#: of ``DIM_SCALE`` x ``DIM_SCALE`` pixels with at least :data:`DIM_LIT_SHARE` of their
#: pixels above it are image. The dim component replaces the bright one when it holds
#: :data:`DIM_HOLDS` of it and its refined box is at least :data:`DIM_GAIN` times as large
#: (a few rows of JPEG ringing above a bright edge are not a dim flank).
DIM_SCALE = 8
BACKGROUND_SHARE = 0.1
DIM_LIT_SHARE = 0.1
DIM_GAIN = 1.03
DIM_HOLDS = 0.95
RECTANGLE_FILL = 0.96
SECTOR_IOU = 0.92

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class FieldOfView:
    """Where the ultrasound image is. ``box`` is inclusive ``(x0, y0, x1, y1)``."""

    box: Box | None
    shape: str | None  # "rectangle" | "sector" | "other"; None when not found
    polygon: list[list[int]]
    source: str  # "image", "region+image", "region" or "none"

    def mask(self, height: int, width: int) -> np.ndarray | None:
        """Boolean mask of the polygon, full frame size (None when there is no FOV)."""
        if self.box is None:
            return None
        mask = np.zeros((height, width), np.uint8)
        if self.shape == "rectangle" or len(self.polygon) < 3:
            x0, y0, x1, y1 = self.box
            mask[y0 : y1 + 1, x0 : x1 + 1] = 1
        else:
            cv2.fillPoly(mask, [np.asarray(self.polygon, np.int32)], 1)
        return mask.view(bool)  # 0/1 bytes: a bool view, no copy


def _row_counts(mask: np.ndarray) -> np.ndarray:
    """Non-zero pixels per row of a uint8 0/1 ``mask`` (int32; one OpenCV reduce)."""
    return cv2.reduce(mask, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel()


def _column_counts(mask: np.ndarray) -> np.ndarray:
    """Non-zero pixels per column of a uint8 0/1 ``mask`` (int32; one OpenCV reduce)."""
    return cv2.reduce(mask, 0, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel()


def image_regions(regions: Sequence[UltrasoundRegion]) -> list[UltrasoundRegion]:
    """Regions that hold a 2-D image (spatial format 1, or unknown), largest first."""
    found = [r for r in regions if r.spatial_format in (1, None)]
    return sorted(found, key=lambda r: (-r.area, r.y0, r.x0))


def main_region(regions: Sequence[UltrasoundRegion]) -> UltrasoundRegion | None:
    found = image_regions(regions)
    return found[0] if found else None


def _evidence_mask(grey: np.ndarray, scale: int) -> np.ndarray | None:
    """Component mask of the speckle area at ``1/scale`` resolution (uint8 0/1)."""
    if scale > 1:
        small = cv2.resize(
            grey,
            (grey.shape[1] // scale, grey.shape[0] // scale),
            interpolation=cv2.INTER_AREA,
        )
    else:
        small = grey
    _, mask = cv2.threshold(small, BACKGROUND_LEVEL, 1, cv2.THRESH_BINARY)
    kernel_close = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel_close)
    # Header and footer bands span the whole width; an image rarely does, and when it does
    # (an image filling its region) such rows are most of the lit ones.
    # Only thin runs of such rows are bands: two views side by side also light whole rows,
    # in one thick block.
    counts = _row_counts(mask)
    full = counts / mask.shape[1] >= BAND_SHARE
    if 0 < np.count_nonzero(full) < 0.5 * np.count_nonzero(counts):
        thin = max(1, int(BAND_MAX_SHARE * mask.shape[0]))
        wide = counts / mask.shape[1] >= BAND_EDGE_SHARE
        last = mask.shape[0] - 1
        rows = np.flatnonzero(full)
        for run in np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1):
            start, end = int(run[0]), int(run[-1])
            if end - start + 1 > thin:
                continue
            # a band at the top (bottom) edge, and the wide rows under (above) it, unless
            # they make it too thick (an image as wide right under it: the band alone)
            if start == 0:
                below = end
                while below < last and wide[below + 1] and below - start < thin:
                    below += 1
                end = below if below - start < thin else end
            if end == last:
                above = start
                while above > 0 and wide[above - 1] and end - above < thin:
                    above -= 1
                start = above if end - above < thin else start
            mask[start : end + 1] = 0
    # Opening at ~14 full-resolution pixels removes text, ticks, thin bars and markers.
    side = max(3, (14 // scale) | 1)
    kernel_open = cv2.getStructuringElement(cv2.MORPH_RECT, (side, side))
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel_open)
    _cut_tabs(mask)
    # The largest outer contour, filled: the largest component with its holes (cysts,
    # shadows) closed, in one pass.
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    areas = [cv2.contourArea(c) for c in contours]
    best = int(np.argmax(areas))
    component = np.zeros_like(mask)
    # Parts of one image split by an anechoic (black) band share its left and right edges:
    # join them through their convex hull.
    bx, _, bw, _ = cv2.boundingRect(contours[best])
    parts = [
        contour
        for contour, area in zip(contours, areas, strict=True)
        if area >= MIN_PART_SHARE * areas[best] and _same_columns(cv2.boundingRect(contour), bx, bw)
    ]
    if len(parts) > 1:
        hull = cv2.convexHull(np.concatenate(parts))
        cv2.drawContours(component, [hull], -1, 1, thickness=cv2.FILLED)
    else:
        cv2.drawContours(component, [contours[best]], -1, 1, thickness=cv2.FILLED)
    # Dual views: another image of about the same size beside it, on the same rows. Each
    # view stays a component of its own (the crop is their union, see _refine_box).
    best_rect = cv2.boundingRect(contours[best])
    for contour, area in zip(contours, areas, strict=True):
        rect = cv2.boundingRect(contour)
        if (
            area >= DUAL_SHARE * areas[best]
            and _same_rows(rect, best_rect)
            and not _same_columns(rect, bx, bw)
        ):
            cv2.drawContours(component, [contour], -1, 1, thickness=cv2.FILLED)
    return component


def _background_level(grey: np.ndarray) -> int | None:
    """The flat dark level of the background: the darkest grey level up to
    :data:`BACKGROUND_LEVEL` that covers :data:`BACKGROUND_SHARE` of the area (None when
    there is none)."""
    sample = grey[::4, ::4]  # every 16th pixel is plenty for a share of a tenth
    hist = np.bincount(sample.ravel(), minlength=256)[: BACKGROUND_LEVEL + 1]
    common = np.flatnonzero(hist >= BACKGROUND_SHARE * sample.size)
    return int(common[0]) if len(common) else None


def _dim_evidence(grey: np.ndarray, level: int, scale: int) -> np.ndarray | None:
    """Component mask (at ``1/scale`` resolution, like :func:`_evidence_mask`) of the
    blocks of :data:`DIM_SCALE` x :data:`DIM_SCALE` pixels with at least
    :data:`DIM_LIT_SHARE` of their pixels above the background ``level``: the sparse, dim
    speckle of a fan's flanks or near field, or a whole fan drawn a level above the
    background, that the per-pixel evidence loses."""
    height, width = grey.shape
    if min(height, width) < 8 * DIM_SCALE:
        return None
    _, above = cv2.threshold(grey, level, 255, cv2.THRESH_BINARY)  # 255 above the background
    coarse = cv2.resize(
        above, (width // DIM_SCALE, height // DIM_SCALE), interpolation=cv2.INTER_AREA
    )
    mask: np.ndarray = (coarse >= round(255 * DIM_LIT_SHARE)).astype(np.uint8)
    # Text lines, ticks and markers are at most about two blocks thick.
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    best = max(contours, key=cv2.contourArea)
    component = np.zeros_like(mask)
    cv2.drawContours(component, [best], -1, 1, thickness=cv2.FILLED)
    small = (grey.shape[1] // scale, grey.shape[0] // scale)
    out: np.ndarray = cv2.resize(component, small, interpolation=cv2.INTER_NEAREST)
    return out


def _holds(dim: np.ndarray, bright: np.ndarray, box: Box | None, scale: int) -> bool:
    """True when the dim component holds :data:`DIM_HOLDS` of the bright one and its box
    (at block resolution, one block of slack) may reach :data:`DIM_GAIN` times the bright
    one's refined ``box`` (so that its refinement is worth computing)."""
    if box is not None:
        _, _, w, h = cv2.boundingRect(dim)
        slack = 2 * DIM_SCALE
        if (w * scale + slack) * (h * scale + slack) < DIM_GAIN * _box_area(box):
            return False
    held = cv2.countNonZero(bright & dim) / max(1, cv2.countNonZero(bright))
    return held >= DIM_HOLDS


def _box_area(box: Box) -> int:
    return (box[2] - box[0] + 1) * (box[3] - box[1] + 1)


def _refined(area: np.ndarray, component: np.ndarray | None, scale: int, level: int) -> Box | None:
    """The refined box of ``component`` in ``area`` coordinates, or None when there is no
    component or it covers less than :data:`MIN_FOV_SHARE` of the search area."""
    if component is None:
        return None
    share = cv2.countNonZero(component) * scale * scale / area.size
    if share < MIN_FOV_SHARE:
        return None
    return _refine_box(area, component, scale, level)


def _cut_tabs(mask: np.ndarray) -> None:
    """Cut narrow tabs off the image's top and bottom, in place (``mask``: uint8 0/1).

    Going up (down) from the widest row, the first row that is lit but less than
    :data:`EDGE_KEEP` as wide as the row before it starts a tab: that row and the lit rows
    beyond it, up to the next unlit row, are cleared. A block of text lines touching the
    image's top edge joins it as such a tab, while the image itself narrows gradually (the
    apex of a fan, the arc of a curvilinear probe). Parts beyond an unlit row are other
    components (their own image part, a band) and are left alone."""
    widths = _row_counts(mask)
    widest = int(np.argmax(widths))
    if widths[widest] == 0:
        return
    for step in (-1, 1):
        r = _edge(widths, widest, step, 0)
        beyond = widths[r + step :] if step > 0 else widths[: max(r, 0)][::-1]
        unlit = np.flatnonzero(beyond == 0)
        end = r + step * (1 + int(unlit[0]) if len(unlit) else 1 + len(beyond))
        if step < 0:
            mask[end + 1 : r] = 0
        else:
            mask[r + 1 : end] = 0


def _same_columns(rect: Sequence[int], x: int, width: int) -> bool:
    """True when ``rect`` spans (nearly) the same columns as ``x .. x + width``."""
    overlap = min(rect[0] + rect[2], x + width) - max(rect[0], x)
    return overlap >= SAME_COLUMNS * max(rect[2], width)


def _same_rows(rect: Sequence[int], other: Sequence[int]) -> bool:
    """True when ``rect`` spans (nearly) the same rows as ``other`` (both x, y, w, h)."""
    overlap = min(rect[1] + rect[3], other[1] + other[3]) - max(rect[1], other[1])
    return overlap >= SAME_ROWS * max(rect[3], other[3])


def _walk(counts: np.ndarray, start: int, step: int, minimum: int) -> int:
    """Move an edge outward over lit lines and inward over unlit ones (contiguous only)."""
    last = len(counts) - 1
    edge = min(max(start, 0), last)
    while counts[edge] < minimum and 0 <= edge - step <= last:
        edge -= step
    while 0 <= edge + step <= last and counts[edge + step] >= minimum:
        edge += step
    return edge


def _edge(counts: np.ndarray, centre: int, step: int, minimum: int) -> int:
    """Walk from ``centre`` outward while each next line keeps at least :data:`EDGE_KEEP`
    of the previous line's count (and ``minimum``); return the last line kept.

    The image thins out gradually towards the tip of a fan but drops at once to the sparse
    pixels of markers, ticks and JPEG ringing beside a straight edge."""
    run = counts[centre:] if step > 0 else counts[: centre + 1][::-1]
    keeps = run[1:] >= np.maximum(minimum, EDGE_KEEP * run[:-1])
    stops = np.flatnonzero(~keeps)
    length = int(stops[0]) if len(stops) else len(keeps)
    return centre + step * length


def _refine_box(
    grey: np.ndarray, component: np.ndarray, scale: int, level: int = EDGE_LEVEL
) -> Box | None:
    """The refined box (:func:`_refine_view`) of every view in ``component`` (two side by
    side on a dual view), united."""
    # Counted in the component's box (the empty rest adds no component).
    bx, by, bw, bh = cv2.boundingRect(component)
    count = cv2.connectedComponents(component[by : by + bh, bx : bx + bw])[0] if bw else 1
    if count <= 2:
        return _refine_view(grey, component, scale, level)
    count, labels = cv2.connectedComponents(component)
    if count <= 2:
        return _refine_view(grey, component, scale, level)
    boxes = [
        _refine_view(grey, (labels == k).astype(np.uint8), scale, level) for k in range(1, count)
    ]
    found = [b for b in boxes if b is not None]
    if not found:
        return None
    return (
        min(b[0] for b in found),
        min(b[1] for b in found),
        max(b[2] for b in found),
        max(b[3] for b in found),
    )


def _refine_view(
    grey: np.ndarray, component: np.ndarray, scale: int, level: int = EDGE_LEVEL
) -> Box | None:
    """Full-resolution edges from the pixels above ``level`` (:data:`EDGE_LEVEL`, above the
    ringing JPEG leaves on black next to a bright edge; the background level for dim
    evidence) near the component, counted per row and column.

    The side edges walk out from the middle of the image (:func:`_edge`), which stops at
    markers touching the image; the top and bottom edges only need contiguous lit rows
    (:func:`_walk`), because depth attenuation and anechoic bands darken whole rows.
    """
    height, width = grey.shape
    bx, by, bw, bh = cv2.boundingRect(component)
    y0, y1 = by * scale, min(height - 1, (by + bh) * scale - 1)
    x0, x1 = bx * scale, min(width - 1, (bx + bw) * scale - 1)
    reach = 4 * scale + 2
    oy0, oy1 = max(0, y0 - reach), min(height - 1, y1 + reach)
    ox0, ox1 = max(0, x0 - reach), min(width - 1, x1 + reach)
    roi = grey[oy0 : oy1 + 1, ox0 : ox1 + 1]
    near = _near(component, scale, reach, (height, width), (ox0, oy0, ox1, oy1))
    _, lit = cv2.threshold(roi, level, 1, cv2.THRESH_BINARY)
    lit = cv2.bitwise_and(lit, near)
    rows = _row_counts(lit)
    cols = _column_counts(lit)
    if rows.max(initial=0) < EDGE_MIN_PIXELS or cols.max(initial=0) < EDGE_MIN_PIXELS:
        return None
    middle = (x0 + x1) // 2 - ox0
    centre = middle if cols[middle] >= EDGE_MIN_PIXELS else int(np.argmax(cols))
    left = _edge(cols, centre, -1, EDGE_MIN_PIXELS)
    right = _edge(cols, centre, 1, EDGE_MIN_PIXELS)
    top = _walk(rows, y0 - oy0, -1, EDGE_MIN_PIXELS)
    bottom = _walk(rows, y1 - oy0, 1, EDGE_MIN_PIXELS)
    if right < left or bottom < top:
        return None
    return left + ox0, top + oy0, right + ox0, bottom + oy0


def _near(
    component: np.ndarray,
    scale: int,
    reach: int,
    shape: tuple[int, int],
    roi: Box,
) -> np.ndarray:
    """uint8 0/1 mask, over ``roi`` (inclusive, full resolution), of the pixels within
    ``reach`` (a square) of ``component`` (at ``1/scale`` resolution) brought to the full
    resolution ``shape`` by nearest neighbours.

    When the full resolution is exactly ``scale`` times the component's and ``reach`` and
    the roi's corner are multiples of ``scale`` (the usual case), the square is dilated at
    the component's resolution and the result repeated: the same pixels (each component
    pixel is a ``scale`` x ``scale`` block, and a square of a whole number of blocks around a
    block is whole blocks) at a ``scale``-squared share of the work."""
    height, width = shape
    ox0, oy0, ox1, oy1 = roi
    if scale > 1 and (
        component.shape[0] * scale == height
        and component.shape[1] * scale == width
        and reach % scale == 0
        and ox0 % scale == 0
        and oy0 % scale == 0
    ):
        sx0, sy0 = ox0 // scale, oy0 // scale
        sx1, sy1 = ox1 // scale, oy1 // scale
        side = 2 * (reach // scale) + 1
        small = cv2.dilate(
            component[sy0 : sy1 + 1, sx0 : sx1 + 1],
            cv2.getStructuringElement(cv2.MORPH_RECT, (side, side)),
        )
        big = cv2.resize(
            small, (small.shape[1] * scale, small.shape[0] * scale), interpolation=cv2.INTER_NEAREST
        )
        return big[: oy1 - oy0 + 1, : ox1 - ox0 + 1]
    up = cv2.resize(component, (width, height), interpolation=cv2.INTER_NEAREST)[
        oy0 : oy1 + 1, ox0 : ox1 + 1
    ]
    near: np.ndarray = cv2.dilate(
        up, cv2.getStructuringElement(cv2.MORPH_RECT, (2 * reach + 1,) * 2)
    )
    return near


#: Below this many pixels :func:`_fan_radii` takes every pixel's radius (the bands it
#: would pick hold about all of them).
FAN_RADII_ALL = 4000


def _radii_of_rows(
    component: np.ndarray, lo: int, hi: int, apex_x: float, apex_y: float
) -> np.ndarray:
    """The distance from the apex of every lit pixel of ``component``'s rows ``lo`` to
    ``hi`` (exclusive), as the whole component's ``np.hypot(x - apex_x, y - apex_y)`` gives
    them (row-major order)."""
    found = cv2.findNonZero(component[lo:hi])
    if found is None:
        return np.zeros(0)
    points = found.reshape(-1, 2)
    return np.asarray(np.hypot(points[:, 0] - apex_x, (points[:, 1] + lo) - apex_y))


def _fan_radii(
    component: np.ndarray, counts: np.ndarray, apex_x: float, apex_y: float
) -> tuple[float, float]:
    """The 0.2 and 99.8 percentiles of the lit pixels' distances from the apex, as
    :func:`.ocr._percentiles` of all of them gives them (the same floats), from the rows
    that can hold those ranks only. A pixel is at least its row's distance ``d`` from the
    apex and at most ``hypot(widest, d)`` (``widest``: the farthest lit column's), so the
    nearest ranks lie in a band of rows around the apex's row, the farthest ones outside
    a band; a band is grown until every row left out is provably farther (nearer) than the
    rank's value found without it, one pixel of slack against rounding. ``counts``: the
    lit pixels per row (:func:`_row_counts`)."""
    rows = np.flatnonzero(counts)
    per_row = counts[rows].astype(np.int64)
    n = int(per_row.sum())
    last = n - 1
    spots = []
    for percent in (0.2, 99.8):  # (ocr._percentiles' ranks)
        virtual = last * (percent / 100)
        low = last if virtual >= last else int(np.floor(virtual))
        spots.append((virtual, low, min(low + 1, last)))
    height = component.shape[0]
    distance = np.abs(rows - apex_y)
    values = []
    if n < FAN_RADII_ALL:
        radii = _radii_of_rows(component, 0, height, apex_x, apex_y)
        ordered = np.partition(radii, sorted({k for _, lo, hi in spots for k in (lo, hi)}))
        values = [(ordered[low].item(), ordered[high].item()) for _, low, high in spots]
    else:
        # The nearest ranks: the rows within `reach` of the apex's row, reach first the
        # fewest rows' that hold enough pixels.
        _, low, high = spots[0]
        order = np.argsort(distance, kind="stable")
        at = np.searchsorted(np.cumsum(per_row[order]), high + 1)
        reach = float(distance[order[at]]) + 0.5  # (a row at the edge: in, whatever rounding)
        while True:
            y0 = min(height, max(0, math.ceil(apex_y - reach)))
            y1 = max(y0, min(height, math.floor(apex_y + reach) + 1))
            ordered = np.partition(_radii_of_rows(component, y0, y1, apex_x, apex_y), [low, high])
            out = (rows < y0) | (rows >= y1)
            # every pixel left out is at least its row's distance from the apex
            if not out.any() or ordered[high] + 1.0 < distance[out].min():
                break
            reach = max(reach + 0.5, float(ordered[high]) + 1.5)
        values.append((ordered[low].item(), ordered[high].item()))
        # The farthest ranks: the rows at least `reach` from the apex's row, reach first
        # the fewest rows' (the farthest first) that hold enough pixels.
        _, low, high = spots[1]
        x0, _, w, _ = cv2.boundingRect(component)
        widest = max(abs(x0 - apex_x), abs(x0 + w - 1 - apex_x))
        order = np.argsort(-distance, kind="stable")
        at = np.searchsorted(np.cumsum(per_row[order]), n - low)
        reach = float(distance[order[at]]) - 0.5
        while True:
            # rows 0..y0 (exclusive) and y1.. : the rows at least reach from the apex's row
            y0 = min(height, max(0, math.floor(apex_y - reach) + 1))
            y1 = max(y0, min(height, math.ceil(apex_y + reach)))
            far = np.concatenate(
                [
                    _radii_of_rows(component, 0, y0, apex_x, apex_y),
                    _radii_of_rows(component, y1, height, apex_x, apex_y),
                ]
            )
            skipped = n - far.size  # (the ranks of the pixels left out: all below)
            ordered = np.partition(far, [low - skipped, high - skipped])
            bound = float(ordered[low - skipped]) - 1.0
            out = (rows >= y0) & (rows < y1)
            # every pixel left out is at most hypot(widest, its row's distance) away
            if not out.any() or math.hypot(widest, float(distance[out].max())) < bound:
                break
            inner = math.sqrt(bound * bound - widest * widest) if bound > widest else 0.0
            reach = min(reach, inner) - 0.5  # (at most 0: every row)
        values.append((ordered[low - skipped].item(), ordered[high - skipped].item()))
    radii_at = []
    for (virtual, low, _), (a, b) in zip(spots, values, strict=True):
        gamma = virtual - low
        diff = b - a
        radii_at.append(float(b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma))
    return radii_at[0], radii_at[1]


def _sector_polygon(component: np.ndarray) -> tuple[list[tuple[float, float]], float] | None:
    """Fit a fan (two straight sides meeting at an apex, inner and outer arcs).

    Returns the polygon in the component's pixel coordinates and its IoU with the component.
    """
    counts = _row_counts(component)
    ys_any = np.flatnonzero(counts)
    if len(ys_any) < 10:
        return None
    top, bottom = int(ys_any[0]), int(ys_any[-1])
    height = bottom - top + 1
    rows = np.arange(top + int(0.25 * height), top + int(0.75 * height) + 1)
    band = component[rows].astype(bool)
    has = band.any(axis=1)
    rows, band = rows[has], band[has]
    if len(rows) < 5:
        return None
    left = np.argmax(band, axis=1).astype(np.float64)
    right = (band.shape[1] - 1 - np.argmax(band[:, ::-1], axis=1)).astype(np.float64)
    a_left, b_left = np.polyfit(rows, left, 1)
    a_right, b_right = np.polyfit(rows, right, 1)
    if not (a_left < -0.05 and a_right > 0.05):
        return None
    apex_y = (b_right - b_left) / (a_left - a_right)
    apex_x = a_left * apex_y + b_left
    theta_left, theta_right = math.atan(a_left), math.atan(a_right)
    # (np.percentile's floats of every pixel's radius, from the rows that hold the ranks)
    r_inner, r_outer = _fan_radii(component, counts, apex_x, apex_y)
    angles = np.linspace(theta_left, theta_right, 24)
    outer = [(apex_x + r_outer * math.sin(t), apex_y + r_outer * math.cos(t)) for t in angles]
    if r_inner > 2.0:
        inner = [(apex_x + r_inner * math.sin(t), apex_y + r_inner * math.cos(t)) for t in angles]
    else:
        inner = [(apex_x, apex_y)]
    polygon = inner + outer[::-1]
    raster = np.zeros_like(component)
    cv2.fillPoly(raster, [np.round(np.asarray(polygon)).astype(np.int32)], 1)
    inter = cv2.countNonZero(cv2.bitwise_and(raster, component))
    union = cv2.countNonZero(raster) + int(counts.sum()) - inter
    return polygon, inter / union if union else 0.0


def _other_polygon(component: np.ndarray) -> list[tuple[float, float]]:
    contours, _ = cv2.findContours(component, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    contour = max(contours, key=cv2.contourArea)
    epsilon = 0.005 * cv2.arcLength(contour, True)
    approx = cv2.approxPolyDP(contour, epsilon, True)
    return [(float(p[0][0]), float(p[0][1])) for p in approx]


def _describe(
    component: np.ndarray, box: Box, scale: int, offset: tuple[int, int]
) -> tuple[str, list[list[int]]]:
    x0, y0, x1, y1 = box
    rectangle = [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
    _, _, bw, bh = cv2.boundingRect(component)
    fill = cv2.countNonZero(component) / float(bw * bh)
    if fill >= RECTANGLE_FILL:
        return "rectangle", rectangle

    def to_frame(points: list[tuple[float, float]]) -> list[list[int]]:
        out = []
        for px, py in points:
            fx = round(px * scale + (scale - 1) / 2.0) + offset[0]
            fy = round(py * scale + (scale - 1) / 2.0) + offset[1]
            out.append([min(max(fx, x0), x1), min(max(fy, y0), y1)])
        return out

    sector = _sector_polygon(component)
    if sector is not None and sector[1] >= SECTOR_IOU:
        return "sector", to_frame(sector[0])
    return "other", to_frame(_other_polygon(component))


def find_field_of_view(grey: np.ndarray, regions: Sequence[UltrasoundRegion]) -> FieldOfView:
    """Crop box, shape and polygon of the ultrasound image in a grey ``(H, W)`` frame."""
    region = main_region(regions)
    if region is not None:
        ox, oy = region.x0, region.y0
        area = grey[region.y0 : region.y1 + 1, region.x0 : region.x1 + 1]
    else:
        ox, oy = 0, 0
        area = grey
    scale = 2 if min(area.shape) >= HALF_RESOLUTION_MIN_SIDE else 1
    component = _evidence_mask(area, scale)
    local = _refined(area, component, scale, EDGE_LEVEL)
    # Dim evidence only inside a region the scanner declared: on a whole frame, stacked
    # text lines and panels next to the image are as lit as dim speckle.
    background = None if region is None else _background_level(area)
    if background is not None:
        dim = _dim_evidence(area, background, scale)
        if dim is not None and (component is None or _holds(dim, component, local, scale)):
            dim_local = _refined(area, dim, scale, background)
            if dim_local is not None and (
                local is None or _box_area(dim_local) >= DIM_GAIN * _box_area(local)
            ):
                component, local = dim, dim_local
    box = None
    if local is not None:
        box = (local[0] + ox, local[1] + oy, local[2] + ox, local[3] + oy)
    if box is None or component is None:
        if region is None:
            return FieldOfView(None, None, [], "none")
        x0, y0, x1, y1 = region.box
        return FieldOfView(
            region.box, "rectangle", [[x0, y0], [x1, y0], [x1, y1], [x0, y1]], "region"
        )
    shape, polygon = _describe(component, box, scale, (ox, oy))
    source = "region+image" if region is not None else "image"
    return FieldOfView(box, shape, polygon, source)
