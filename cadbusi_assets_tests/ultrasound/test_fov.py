from __future__ import annotations

import cv2
import numpy as np
import pytest

from benchmarks.analysis import box_iou
from cadbusi_assets.dicom import UltrasoundRegion
from cadbusi_assets.ultrasound.fov import find_field_of_view
from cadbusi_assets.ultrasound.overlay import to_grey
from cadbusi_assets_tests.ultrasound.synthetic import make_frame


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


@pytest.mark.parametrize("jpeg", [False, True])
@pytest.mark.parametrize("brightness", [25.0, 110.0])
def test_rectangle_found_from_image_alone(jpeg, brightness):
    frame = make_frame(seed=3, jpeg=jpeg, brightness=brightness, text=[("TRANS", (10, 300))])
    fov = find_field_of_view(to_grey(frame.rgb), [])
    assert fov.shape == "rectangle"
    assert fov.source == "image"
    assert box_iou(fov.box, frame.crop_box) >= 0.98


@pytest.mark.parametrize("jpeg", [False, True])
def test_sector_found_with_its_polygon(jpeg):
    frame = make_frame(seed=4, shape="sector", box=(100, 80, 539, 440), jpeg=jpeg)
    fov = find_field_of_view(to_grey(frame.rgb), [])
    assert fov.shape == "sector"
    assert box_iou(fov.box, frame.crop_box) >= 0.97
    assert len(fov.polygon) > 8
    assert mask_iou(fov.mask(480, 640), frame.fov_mask) >= 0.95


def test_text_and_scales_outside_the_image_do_not_widen_the_box():
    frame = make_frame(
        seed=5,
        text=[("LT BREAST 2:00", (130, 450)), ("Adv Breast", (5, 30)), ("L12-5", (5, 50))],
    )
    fov = find_field_of_view(to_grey(frame.rgb), [])
    assert box_iou(fov.box, frame.crop_box) >= 0.99


def test_search_stays_inside_the_region():
    frame = make_frame(seed=6)
    grey = to_grey(frame.rgb).copy()
    grey[0:40, :] = 180  # a bright band the region excludes
    region = UltrasoundRegion(100, 50, 600, 440, spatial_format=1, data_type=1)
    fov = find_field_of_view(grey, [region])
    assert fov.source == "region+image"
    assert box_iou(fov.box, frame.crop_box) >= 0.98


def test_black_region_falls_back_to_the_region_box():
    grey = np.zeros((300, 400), np.uint8)
    region = UltrasoundRegion(20, 30, 379, 279, spatial_format=1, data_type=1)
    fov = find_field_of_view(grey, [region])
    assert fov.source == "region"
    assert fov.box == region.box


def test_nothing_found_without_region_or_image():
    fov = find_field_of_view(np.zeros((200, 200), np.uint8), [])
    assert fov.box is None and fov.shape is None and fov.mask(200, 200) is None


def test_anechoic_band_does_not_split_the_image():
    frame = make_frame(seed=7)
    grey = to_grey(frame.rgb).copy()
    x0, y0, x1, _ = frame.crop_box
    grey[y0 + 90 : y0 + 220, x0 : x1 + 1] = 0  # a black band across the whole image
    fov = find_field_of_view(grey, [])
    assert fov.shape == "rectangle"
    assert box_iou(fov.box, frame.crop_box) >= 0.98


def test_marker_touching_the_image_does_not_widen_the_box():
    frame = make_frame(seed=8)
    grey = to_grey(frame.rgb).copy()
    x0, y0 = frame.crop_box[:2]
    cv2.circle(grey, (x0 - 8, y0 + 12), 9, 160, -1)  # an orientation marker at the corner
    fov = find_field_of_view(grey, [])
    assert abs(fov.box[0] - x0) <= 2
    assert box_iou(fov.box, frame.crop_box) >= 0.98
