"""Thin and grey text (strokes under TEXT_LEVEL) on the dark bands scanners write on is found;
dim strokes elsewhere (over a lit surround) are not ink."""

from __future__ import annotations

import cv2
import numpy as np

from cadbusi_assets.ultrasound.ocr import clean_line_image, read_frame_text
from cadbusi_assets.ultrasound.textlines import (
    DIM_TEXT_LEVEL,
    TEXT_LEVEL,
    find_text,
    stroke_contrast,
    text_ink,
)
from cadbusi_assets_tests.support import require_tesseract

GREY = 125  # between DIM_TEXT_LEVEL and TEXT_LEVEL, as on the SonoSite files


def _grey_text(background: np.ndarray) -> np.ndarray:
    frame = background.copy()
    cv2.putText(frame, "LT BREAST 2:00", (40, 60), cv2.FONT_HERSHEY_SIMPLEX, 0.5, GREY, 1)
    return frame


def test_grey_text_on_a_dark_band_is_found():
    assert DIM_TEXT_LEVEL < GREY < TEXT_LEVEL
    frame = _grey_text(np.full((120, 400), 8, np.uint8))
    lines = find_text(frame).lines
    assert any(x0 <= 45 and x1 >= 140 and y0 <= 52 and y1 >= 58 for x0, y0, x1, y1 in lines), lines
    # nothing but the line
    assert len(lines) == 1


def test_dim_strokes_count_only_on_a_dark_surround():
    dark = _grey_text(np.full((120, 400), 8, np.uint8))
    rng = np.random.default_rng(0)
    lit_background = rng.integers(70, 110, (120, 400)).astype(np.uint8)
    lit = _grey_text(lit_background)
    for frame, expected in ((dark, True), (lit, False)):
        tophat = stroke_contrast(frame)
        strokes = text_ink(frame, tophat, TEXT_LEVEL, DIM_TEXT_LEVEL)[45:65, 40:200]
        assert bool(strokes.sum() > 50) is expected
        # without the dim level, grey strokes are never ink
        assert text_ink(frame, tophat, TEXT_LEVEL)[45:65, 40:200].sum() == 0


def test_grey_text_found_is_also_read():
    """A grey line found on a dark band is read too: the reading's floor follows the line's
    own strokes (the bright-text floor, TEXT_LEVEL, erased every stroke: blank reading)."""
    require_tesseract()
    frame = np.full((120, 400), 8, np.uint8)
    cv2.putText(frame, "DOE JANE 0123", (40, 60), cv2.FONT_HERSHEY_SIMPLEX, 0.7, GREY, 2)
    reading = read_frame_text(frame)
    assert "DOE" in reading.text.upper() and "JANE" in reading.text.upper(), reading.text
    # bright text keeps the bright floor: a line image shows its strokes, not the band
    bright = np.full((120, 400), 8, np.uint8)
    cv2.putText(bright, "DOE JANE", (40, 60), cv2.FONT_HERSHEY_SIMPLEX, 0.7, 235, 2)
    box = next(iter(find_text(bright).lines))
    image = clean_line_image(bright, box)
    assert image.min() < 60 and np.percentile(image, 50) == 255
