"""Fitting SequenceOfUltrasoundRegions to the image: a resized copy's regions are scaled, a
cropped copy's are clipped, regions inside the image are kept as written; de-identification
does not keep a scaled region (it fails closed)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from cadbusi_assets.deid.errors import DeidentificationError
from cadbusi_assets.deid.pixels import plan_pixel_cleaning, usable_regions
from cadbusi_assets.dicom import read_dataset, ultrasound_regions

Box = tuple[int, int, int, int]


def dataset(rows: int, cols: int, boxes: list[Box], delta_cm: float = 0.01) -> Dataset:
    ds = Dataset()
    ds.Rows, ds.Columns = rows, cols
    items = []
    for x0, y0, x1, y1 in boxes:
        item = Dataset()
        item.RegionLocationMinX0, item.RegionLocationMinY0 = x0, y0
        item.RegionLocationMaxX1, item.RegionLocationMaxY1 = x1, y1
        item.RegionSpatialFormat = 1
        item.PhysicalDeltaX = item.PhysicalDeltaY = delta_cm
        items.append(item)
    ds.SequenceOfUltrasoundRegions = items
    return ds


def resized_box(box: Box, full: tuple[int, int], size: tuple[int, int]) -> Box:
    """Where the pixels of ``box`` of a ``full`` (rows, cols) image land in its copy resized
    to ``size`` (rows, cols), by resizing a mask of the box the way the copies were made."""
    mask = np.zeros(full, np.uint8)
    x0, y0, x1, y1 = box
    mask[y0 : y1 + 1, x0 : x1 + 1] = 255
    small = cv2.resize(mask, (size[1], size[0]), interpolation=cv2.INTER_AREA)
    ys, xs = np.nonzero(small)
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_a_resized_copy_region_is_scaled_to_where_its_pixels_went(factor):
    # sides divisible by the factor (else the copy's true factor differs from the simple one
    # by a fraction of a pixel per side, and a corner may land one pixel off)
    full, box = (480, 648), (84, 31, 595, 414)
    size = (full[0] // factor, full[1] // factor)
    region = ultrasound_regions(dataset(*size, [box]))[0]
    assert region.box == resized_box(box, full, size)
    assert region.scale == pytest.approx(1 / factor)
    # a pixel of the copy is ``factor`` pixels of the full-size image
    assert region.physical_delta_x == pytest.approx(0.01 * factor)
    assert region.physical_delta_y == pytest.approx(0.01 * factor)


def test_a_cropped_copy_region_is_clipped():
    """The top 350 rows of an 800 x 600 frame: the region over-reaches on the rows only."""
    regions = ultrasound_regions(dataset(350, 800, [(120, 60, 799, 518), (176, 522, 743, 576)]))
    assert [r.box for r in regions] == [(120, 60, 799, 349)]
    assert regions[0].scale == 1.0 and regions[0].clipped
    assert regions[0].physical_delta_x == 0.01


def test_a_one_axis_over_reach_is_clipped_whatever_its_size():
    regions = ultrasound_regions(dataset(240, 320, [(84, 31, 595, 200)]))
    assert [(r.box, r.scale) for r in regions] == [((84, 31, 319, 200), 1.0)]


def test_a_region_inside_the_image_is_kept_as_written():
    boxes: list[Box] = [(32, 24, 335, 415), (336, 24, 639, 415)]
    regions = ultrasound_regions(dataset(480, 640, boxes))
    assert [(r.box, r.scale, r.clipped) for r in regions] == [(b, 1.0, False) for b in boxes]


def test_one_past_the_end_on_both_axes_is_clipped_not_scaled():
    regions = ultrasound_regions(dataset(480, 640, [(10, 20, 640, 480)]))
    assert [(r.box, r.scale) for r in regions] == [((10, 20, 639, 479), 1.0)]


def test_every_region_of_a_resized_copy_is_scaled_by_one_factor():
    """A region that lies inside the copy is at the full-size place too: it is moved."""
    full, size = (480, 640), (240, 320)
    boxes: list[Box] = [(84, 31, 595, 414), (20, 40, 60, 100)]
    regions = ultrasound_regions(dataset(*size, boxes))
    assert [r.box for r in regions] == [resized_box(b, full, size) for b in boxes]


def _pydicom(name: str) -> Dataset:
    path = get_testdata_file(name, download=False)
    assert path is not None, f"{name} missing: install pydicom-data"
    return read_dataset(path)


def test_the_real_half_size_and_cropped_copies():
    """pydicom's examples_ybr_color is color3d_jpeg_baseline at half size with the full-size
    region; examples_palette is OBXXXX1A cut to its top 350 rows with the full-size ones."""
    base = ultrasound_regions(_pydicom("color3d_jpeg_baseline.dcm"))[0]
    half = ultrasound_regions(_pydicom("examples_ybr_color.dcm"))[0]
    assert half.box == resized_box(base.box, (480, 640), (240, 320)) and half.scale == 0.5
    full = ultrasound_regions(_pydicom("OBXXXX1A.dcm"))[0]
    cropped = ultrasound_regions(_pydicom("examples_palette.dcm"))
    assert [r.box for r in cropped] == [(full.x0, full.y0, full.x1, 349)]


def test_deidentification_keeps_no_scaled_region():
    """A scaled region is a reading of the geometry, not the file's declaration (its corners
    leave the declared box): the pixel cleaning rejects every region of a resized copy, even
    one that lies inside the image, and fails closed (no device rule for these)."""
    ds = dataset(240, 320, [(84, 31, 595, 414), (20, 40, 100, 100)])
    kept, rejected = usable_regions(ds)
    assert kept == [] and rejected
    with pytest.raises(DeidentificationError, match="outside the image"):
        plan_pixel_cleaning(ds)


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_a_resized_copy_of_a_one_past_the_end_region_keeps_its_factor(factor):
    """Files often end a region one past the last pixel (x1 = Columns): a region of the
    whole 960 x 720 frame written as (0, 0, 960, 720), in its copy resized by ``factor``, is
    still that copy's whole frame, scaled by the copy's own factor (not the next smaller one,
    which would leave a third or more of the copy outside the region)."""
    full = (720, 960)
    size = (full[0] // factor, full[1] // factor)
    regions = ultrasound_regions(dataset(*size, [(0, 0, full[1], full[0])]))
    assert [r.scale for r in regions] == [pytest.approx(1 / factor)]
    assert regions[0].box == (0, 0, size[1] - 1, size[0] - 1)


def test_a_two_thirds_copy_of_a_one_past_the_end_region_keeps_its_factor():
    regions = ultrasound_regions(dataset(480, 640, [(0, 0, 960, 720)]))
    assert [(r.box, r.scale) for r in regions] == [((0, 0, 639, 479), pytest.approx(2 / 3))]


@pytest.mark.parametrize(
    "boxes",
    [
        [(100, 80, 900, 700)],  # the top-left 640 x 480 of a 1024 x 768 frame (cut on both axes)
        [(10, 10, 630, 470), (700, 500, 900, 700)],  # a valid region and a stray one outside
        [(-100, -100, 700, 560)],  # over-reaching on all four sides
    ],
)
def test_regions_taken_for_a_resize_keep_no_pixels(boxes):
    """Regions that look like a resized copy's, whether or not the copy was resized (a crop
    on both axes, a stray region, a region around the whole screen): de-identification keeps
    none of them, scaled or as written (it fails closed)."""
    ds = dataset(480, 640, boxes)
    kept, rejected = usable_regions(ds)
    assert kept == [] and rejected
    with pytest.raises(DeidentificationError):
        plan_pixel_cleaning(ds)


def test_a_half_size_copy_of_a_real_one_past_the_end_file():
    """pydicom's OBXXXX1A (800 x 600) writes its first region to x1 = 800, one past the end:
    a half-size copy of it is read at half size (it was read at a third: the region 267 of
    the copy's 400 columns wide, placed at a third of the way)."""
    full = _pydicom("OBXXXX1A.dcm")
    boxes: list[Box] = [
        (
            int(item.RegionLocationMinX0),
            int(item.RegionLocationMinY0),
            int(item.RegionLocationMaxX1),
            int(item.RegionLocationMaxY1),
        )
        for item in full.SequenceOfUltrasoundRegions
    ]
    assert boxes[0][2] == int(full.Columns)  # one past the end, as written
    size = (int(full.Rows) // 2, int(full.Columns) // 2)
    regions = ultrasound_regions(dataset(*size, boxes))
    assert [r.scale for r in regions] == [0.5, 0.5]
    clipped = [(x0, y0, min(x1, 799), min(y1, 599)) for x0, y0, x1, y1 in boxes]
    assert [r.box for r in regions] == [resized_box(b, (600, 800), size) for b in clipped]
