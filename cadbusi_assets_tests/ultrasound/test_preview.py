from __future__ import annotations

import io

import numpy as np
from PIL import Image

from cadbusi_assets.dicom import UltrasoundRegion
from cadbusi_assets.ultrasound import analyze_frame, inpaint_calipers
from cadbusi_assets.ultrasound.preview import PANEL_WIDTH, preview_png
from cadbusi_assets_tests.ultrasound.synthetic import YELLOW, make_frame


def test_preview_shows_the_crop_and_the_inpainted_crop_only():
    frame = make_frame(seed=1, calipers=[(200, 200, "+", YELLOW)])
    rgb = frame.rgb.copy()
    rgb[:30] = 255  # a bright band above the image: must not appear
    analysis = analyze_frame(rgb, [UltrasoundRegion(0, 32, 639, 479, 1, 1)], ocr=False)
    inpainted, _ = inpaint_calipers(rgb, analysis.calipers.points)
    single = np.asarray(Image.open(io.BytesIO(preview_png(rgb, analysis))))
    double = np.asarray(Image.open(io.BytesIO(preview_png(rgb, analysis, inpainted))))
    assert single.shape[1] == PANEL_WIDTH
    assert double.shape[1] == 2 * PANEL_WIDTH + 4 and double.shape[0] == single.shape[0]
    assert (single.astype(int).sum(axis=2) == 765).mean() < 0.01  # no white band
    assert preview_png(rgb, analysis, inpainted) == preview_png(rgb.copy(), analysis, inpainted)


def test_preview_without_field_of_view_is_a_blank_picture():
    analysis = analyze_frame(np.zeros((100, 100), np.uint8), [], ocr=False)
    image = np.asarray(
        Image.open(io.BytesIO(preview_png(np.zeros((100, 100), np.uint8), analysis)))
    )
    assert image.max() == 0
