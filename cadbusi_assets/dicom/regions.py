"""SequenceOfUltrasoundRegions, clipped to the image and sanity-checked.

>>> from pydicom.dataset import Dataset
>>> ds = Dataset(); ds.Rows, ds.Columns = 100, 200
>>> item = Dataset()
>>> item.RegionLocationMinX0, item.RegionLocationMinY0 = 10, 20
>>> item.RegionLocationMaxX1, item.RegionLocationMaxY1 = 300, 90
>>> ds.SequenceOfUltrasoundRegions = [item]
>>> ultrasound_regions(ds)[0].box
(10, 20, 199, 90)
"""

from __future__ import annotations

from dataclasses import dataclass

from pydicom.dataset import Dataset

#: A region smaller than this many pixels on a side is treated as absurd.
MIN_REGION_SIDE = 16


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


def ultrasound_regions(ds: Dataset) -> list[UltrasoundRegion]:
    """The valid regions of ``ds``, clipped to Rows x Columns, in file order.

    Regions that are inverted, lie outside the image, or are smaller than
    :data:`MIN_REGION_SIDE` after clipping are dropped.
    """
    rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    regions: list[UltrasoundRegion] = []
    for item in ds.get("SequenceOfUltrasoundRegions", []) or []:
        x0, y0 = _int(item, "RegionLocationMinX0"), _int(item, "RegionLocationMinY0")
        x1, y1 = _int(item, "RegionLocationMaxX1"), _int(item, "RegionLocationMaxY1")
        if None in (x0, y0, x1, y1) or rows <= 0 or cols <= 0:
            continue
        assert x0 is not None and y0 is not None and x1 is not None and y1 is not None
        if x1 < x0 or y1 < y0:
            continue
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
                physical_delta_x=_float(item, "PhysicalDeltaX"),
                physical_delta_y=_float(item, "PhysicalDeltaY"),
                physical_units_x=_int(item, "PhysicalUnitsXDirection"),
                clipped=(cx0, cy0, cx1, cy1) != (x0, y0, x1, y1),
            )
        )
    return regions
