"""Field of view: dim fans inside a declared region, text blocks touching the image.

The real frames these cases come from are in the real-file regression set
(``test_real_files.py``: the CX50 palette frame, the SonoSite fan, the half-size GE frame).
"""

from __future__ import annotations

import cv2
import numpy as np

from benchmarks.analysis import box_iou
from cadbusi_assets.dicom import UltrasoundRegion
from cadbusi_assets.ultrasound.fov import find_field_of_view


def _fan(height: int, width: int, apex: tuple[int, int], radius: int) -> np.ndarray:
    """Boolean mask of a 70-degree fan pointing down from ``apex``."""
    mask = np.zeros((height, width), np.uint8)
    cv2.ellipse(mask, apex, (radius, radius), 90, -35, 35, 1, thickness=-1)
    return mask.astype(bool)


def _dim_fan_frame(level_of_flanks: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A fan whose near field is bright speckle and the rest dim (``level_of_flanks`` grey
    levels of sparse speckle), on black; and the fan's box."""
    rng = np.random.default_rng(7)
    frame = np.zeros((480, 640), np.uint8)
    fan = _fan(*frame.shape, apex=(320, 40), radius=400)
    speckle = rng.integers(0, level_of_flanks + 1, frame.shape).astype(np.uint8)
    frame[fan] = speckle[fan]
    near = fan & (np.arange(480)[:, None] < 140)
    frame[near] = rng.integers(40, 200, frame.shape).astype(np.uint8)[near]
    ys, xs = np.nonzero(fan)
    return frame, (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))


def test_a_dim_fan_inside_its_region_is_found_whole():
    for level in (1, 3):
        frame, truth = _dim_fan_frame(level)
        region = UltrasoundRegion(40, 20, 599, 459, spatial_format=1)
        fov = find_field_of_view(frame, [region])
        assert fov.box is not None
        assert box_iou(fov.box, truth) >= 0.9, (level, fov.box, truth)


def test_a_text_block_touching_the_image_top_is_not_image():
    rng = np.random.default_rng(3)
    frame = np.zeros((240, 320), np.uint8)
    frame[54:169, 7:312] = rng.integers(20, 160, (115, 305))
    # A right-aligned block of short text lines, its last line three pixels above the image.
    for k in range(5):
        y = 12 + 8 * k
        cv2.putText(frame, "78DR", (270, y + 6), cv2.FONT_HERSHEY_PLAIN, 0.6, 255, 1)
    frame[12:51, 283:300] = np.maximum(frame[12:51, 283:300], 200)
    fov = find_field_of_view(frame, [])
    assert fov.box is not None
    assert box_iou(fov.box, (7, 54, 311, 168)) >= 0.95, fov.box
