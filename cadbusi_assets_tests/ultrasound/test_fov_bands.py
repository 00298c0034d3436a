"""A UI band at the frame's edge with an inset hanging over its last rows.

On ge_voluson seed 328 (a tuning frame: dual view, a zoom box's picture at the top left
overlapping the header band's lower rows) the inset's dark speckle left those rows short of
:data:`~.fov.BAND_SHARE`. They stayed in the evidence as a thin wide band joined to both
fans' apexes. That band was the widest row, so ``_cut_tabs`` took both fans for a "tab"
under it and cleared them, and no field of view was found: crop IoU 0, all eight calipers
missed. The band now goes on over the rows under it lit over
:data:`~.fov.BAND_EDGE_SHARE` of the width, unless that makes it thicker than a band.
"""

from __future__ import annotations

import numpy as np

from benchmarks.analysis import box_iou
from cadbusi_assets.ultrasound import fov
from cadbusi_assets.ultrasound.fov import find_field_of_view
from cadbusi_assets.ultrasound.overlay import to_grey
from cadbusi_demo.screens_heldout import TUNING_FAMILIES, render_screen


def test_dual_view_under_a_header_with_an_inset_is_found(monkeypatch):
    assert "ge_voluson" in TUNING_FAMILIES
    screen = render_screen("ge_voluson", 328)
    assert screen.dual and screen.zoom
    grey = to_grey(screen.frame)
    box = find_field_of_view(grey, []).box
    assert box is not None and box_iou(box, screen.fov_box) >= 0.99
    monkeypatch.setattr(fov, "BAND_EDGE_SHARE", 1.01)  # the band's full rows only: before
    assert find_field_of_view(grey, []).box is None


def _header_and_image(image_width: int, image_rows: tuple[int, int]) -> np.ndarray:
    rng = np.random.default_rng(7)
    grey = np.zeros((480, 640), np.uint8)
    grey[:40] = 30  # the header band
    top, bottom = image_rows
    left = (640 - image_width) // 2
    grey[top:bottom, left : left + image_width] = rng.integers(20, 230, (bottom - top, image_width))
    return grey


def test_an_image_as_wide_right_under_the_header_is_kept_whole():
    """A linear image 90 % of the width starting right under the band: its rows are wide
    too, but band and image together are far thicker than a band, so only the band goes."""
    grey = _header_and_image(576, (40, 400))
    box = find_field_of_view(grey, []).box
    assert box is not None
    assert box_iou(box, (32, 40, 607, 399)) >= 0.97


def test_a_narrower_image_under_the_header_is_unchanged():
    grey = _header_and_image(400, (60, 400))
    box = find_field_of_view(grey, []).box
    assert box is not None
    assert box_iou(box, (120, 60, 519, 399)) >= 0.97
