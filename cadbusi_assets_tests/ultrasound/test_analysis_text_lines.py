"""The analysis finds text lines as :func:`~cadbusi_assets.ultrasound.ocr.find_text_lines` does.

Without OCR, :func:`~cadbusi_assets.ultrasound.analysis.analyze_frame` hands the text
detector the brightness map it has already (the ``high`` map of the frame's colour maps)
instead of letting it compute that again: the boxes must be those of ``find_text_lines``,
on the whole frame and inside a declared region, for colour and grey frames alike.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cadbusi_assets.dicom import UltrasoundRegion
from cadbusi_assets.ultrasound.analysis import analyze_frame
from cadbusi_assets.ultrasound.ocr import find_text_lines
from cadbusi_assets.ultrasound.overlay import ColourMaps
from cadbusi_demo.screens_heldout import TUNING_FAMILIES, render_screen


def _region(screen) -> UltrasoundRegion:
    height, width = screen.frame.shape[:2]
    ys, xs = np.nonzero(screen.fov_mask)
    return UltrasoundRegion(
        max(0, int(xs.min()) - 12),
        max(0, int(ys.min()) - 13),
        min(width - 1, int(xs.max()) + 12),
        min(height - 1, int(ys.max()) + 12),
        spatial_format=1,
    )


@pytest.mark.parametrize("family", TUNING_FAMILIES)
def test_the_analysis_text_boxes_are_find_text_lines(family):
    screen = render_screen(family, 101)
    frame = screen.frame
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    region = _region(screen)
    for image in (frame, grey):
        for regions in ([], [region]):
            area = region.box if regions else None
            analysis = analyze_frame(image, regions, ocr=False)
            # the grey copy of a colour screen is searched as the analysis searches it
            work = image if image.ndim == 2 or not analysis.is_grey else grey
            expected = find_text_lines(work, area=area)
            assert analysis.ocr.boxes == expected
    # a colour screen with text: the path with the colour maps is the one checked above
    assert not analyze_frame(frame, [], ocr=False).is_grey
    assert find_text_lines(frame)


@pytest.mark.parametrize("family", TUNING_FAMILIES[:2])
def test_find_text_lines_with_the_frames_colour_maps_finds_the_same_lines(family):
    screen = render_screen(family, 102)
    frame = screen.frame
    maps = ColourMaps.of(frame)
    area = _region(screen).box
    for where in (None, area):
        assert find_text_lines(frame, area=where, maps=maps) == find_text_lines(frame, area=where)
    assert find_text_lines(frame, maps=maps)
