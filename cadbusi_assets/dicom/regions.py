"""SequenceOfUltrasoundRegions, clipped to the image and sanity-checked.

Regions that over-reach the image on one axis are clipped (a cropped copy):

>>> from pydicom.dataset import Dataset
>>> ds = Dataset(); ds.Rows, ds.Columns = 100, 200
>>> item = Dataset()
>>> item.RegionLocationMinX0, item.RegionLocationMinY0 = 10, 20
>>> item.RegionLocationMaxX1, item.RegionLocationMaxY1 = 300, 90
>>> ds.SequenceOfUltrasoundRegions = [item]
>>> ultrasound_regions(ds)[0].box
(10, 20, 199, 90)

Regions that over-reach it on both axes, and fit once scaled by a simple factor, are those of
the full-size image of a resized copy (the pixels were shrunk, the sequence was not), and are
scaled (:func:`resize_factor`):

>>> item.RegionLocationMaxX1, item.RegionLocationMaxY1 = 280, 130
>>> region = ultrasound_regions(ds)[0]
>>> region.box, round(region.scale, 3)
((6, 13, 187, 87), 0.667)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from pydicom.dataset import Dataset

#: A region smaller than this many pixels on a side is treated as absurd.
MIN_REGION_SIDE = 16
#: The regions of a resized copy over-reach the image on both axes by more than this share
#: of its width and of its height (an off-by-one end, or a region a few pixels too large, is
#: clipped: it is no sign of a resize).
RESIZED_OVERREACH = 0.05
#: The factors a resized copy is tried at, largest first (the first that fits is taken).
RESIZE_FACTORS = (2 / 3, 1 / 2, 1 / 3, 1 / 4)

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (inclusive)


@dataclass(frozen=True)
class UltrasoundRegion:
    x0: int
    y0: int
    x1: int  # inclusive
    y1: int  # inclusive
    spatial_format: int | None = None
    data_type: int | None = None
    physical_delta_x: float | None = None
    physical_delta_y: float | None = None
    physical_units_x: int | None = None
    clipped: bool = False
    #: The factor the file's region was scaled by to fit a resized copy (1.0: as written).
    scale: float = 1.0

    @property
    def box(self) -> tuple[int, int, int, int]:
        return (self.x0, self.y0, self.x1, self.y1)

    @property
    def width(self) -> int:
        return self.x1 - self.x0 + 1

    @property
    def height(self) -> int:
        return self.y1 - self.y0 + 1

    @property
    def area(self) -> int:
        return self.width * self.height


def _int(item: Dataset, keyword: str) -> int | None:
    value = item.get(keyword)
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def _float(item: Dataset, keyword: str) -> float | None:
    value = item.get(keyword)
    try:
        return float(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def scaled_box(box: Box, factor: float) -> Box:
    """``box`` (inclusive) of an image resized by ``factor``: the pixels its pixels went to.

    >>> scaled_box((84, 31, 595, 414), 0.5)
    (42, 15, 297, 207)
    """
    x0, y0, x1, y1 = box
    return (
        math.floor(x0 * factor),
        math.floor(y0 * factor),
        math.ceil((x1 + 1) * factor) - 1,
        math.ceil((y1 + 1) * factor) - 1,
    )


def resize_factor(boxes: Sequence[Box], rows: int, cols: int) -> float | None:
    """The factor a ``rows`` x ``cols`` image was resized by after its regions ``boxes`` were
    written, or ``None`` when they do not say it was.

    A resized copy shrinks both axes, so the full-size regions over-reach it on both (by more
    than :data:`RESIZED_OVERREACH`); a cropped copy, or a region a few pixels too large,
    over-reaches on one axis at most (or barely) and is clipped instead. The factor is the
    largest of :data:`RESIZE_FACTORS` that brings every region inside the image, or one past
    its end (a full-size region ending one past the last pixel, as files often write it, still
    ends there in the copy, give or take the rounding: it is clipped, not taken for a smaller
    factor); none: clip.

    >>> resize_factor([(84, 31, 595, 414)], 240, 320)  # a half-size copy
    0.5
    >>> resize_factor([(120, 60, 799, 518)], 350, 800) is None  # the top 350 rows (a crop)
    True
    >>> resize_factor([(0, 0, 640, 480)], 480, 640) is None  # one past the end
    True
    >>> resize_factor([(0, 0, 960, 720)], 480, 640)  # a 2/3 copy, one past the end
    0.6666666666666666
    """
    if not boxes or rows <= 0 or cols <= 0:
        return None
    right = max(b[2] for b in boxes)
    bottom = max(b[3] for b in boxes)
    if right - (cols - 1) <= RESIZED_OVERREACH * cols:
        return None
    if bottom - (rows - 1) <= RESIZED_OVERREACH * rows:
        return None
    for factor in RESIZE_FACTORS:
        if all(
            scaled_box(b, factor)[2] <= cols and scaled_box(b, factor)[3] <= rows for b in boxes
        ):
            return factor
    return None


def region_boxes(ds: Dataset) -> list[Box]:
    """The boxes of the well-formed regions (all four corners, not inverted), as written."""
    boxes: list[Box] = []
    for item in ds.get("SequenceOfUltrasoundRegions", []) or []:
        x0, y0 = _int(item, "RegionLocationMinX0"), _int(item, "RegionLocationMinY0")
        x1, y1 = _int(item, "RegionLocationMaxX1"), _int(item, "RegionLocationMaxY1")
        if x0 is None or y0 is None or x1 is None or y1 is None or x1 < x0 or y1 < y0:
            continue
        boxes.append((x0, y0, x1, y1))
    return boxes


def ultrasound_regions(ds: Dataset) -> list[UltrasoundRegion]:
    """The valid regions of ``ds``, fitted to Rows x Columns, in file order.

    Regions of a resized copy are scaled by its factor (:func:`resize_factor`), then every
    region is clipped to the image. Regions that are inverted, lie outside the image, or are
    smaller than :data:`MIN_REGION_SIDE` after clipping are dropped.
    """
    rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    factor = resize_factor(region_boxes(ds), rows, cols) or 1.0
    regions: list[UltrasoundRegion] = []
    for item in ds.get("SequenceOfUltrasoundRegions", []) or []:
        x0, y0 = _int(item, "RegionLocationMinX0"), _int(item, "RegionLocationMinY0")
        x1, y1 = _int(item, "RegionLocationMaxX1"), _int(item, "RegionLocationMaxY1")
        if None in (x0, y0, x1, y1) or rows <= 0 or cols <= 0:
            continue
        assert x0 is not None and y0 is not None and x1 is not None and y1 is not None
        if x1 < x0 or y1 < y0:
            continue
        if factor != 1.0:
            x0, y0, x1, y1 = scaled_box((x0, y0, x1, y1), factor)
        cx0, cy0 = max(0, x0), max(0, y0)
        cx1, cy1 = min(cols - 1, x1), min(rows - 1, y1)
        if cx1 - cx0 + 1 < MIN_REGION_SIDE or cy1 - cy0 + 1 < MIN_REGION_SIDE:
            continue
        regions.append(
            UltrasoundRegion(
                cx0,
                cy0,
                cx1,
                cy1,
                spatial_format=_int(item, "RegionSpatialFormat"),
                data_type=_int(item, "RegionDataType"),
                physical_delta_x=_per_pixel(_float(item, "PhysicalDeltaX"), factor),
                physical_delta_y=_per_pixel(_float(item, "PhysicalDeltaY"), factor),
                physical_units_x=_int(item, "PhysicalUnitsXDirection"),
                clipped=(cx0, cy0, cx1, cy1) != (x0, y0, x1, y1),
                scale=factor,
            )
        )
    return regions


def _per_pixel(delta: float | None, factor: float) -> float | None:
    """A physical size per pixel of the full-size image, per pixel of a copy resized by
    ``factor`` (its pixels are ``1 / factor`` times as large)."""
    return None if delta is None else delta / factor
