"""The verification's reading computes the brightness image only where it reads lines
(:func:`cadbusi_assets.ultrasound.ocr._line_level`): every line and strip image it cleans is
the one the whole frame's brightness gives."""

from __future__ import annotations

import numpy as np
import pytest

from cadbusi_assets.ultrasound import ocr as ultrasound_ocr
from cadbusi_assets.ultrasound.textlines import brightness, find_text
from cadbusi_demo.screens_heldout import TUNING_FAMILIES, render_screen


def _boxes(frame: np.ndarray) -> list[tuple[int, int, int, int]]:
    found = find_text(frame)
    return list(found.lines) + [s for area in found.unresolved for s in ultrasound_ocr.strips(area)]


@pytest.mark.parametrize("family", TUNING_FAMILIES)
def test_line_images_from_the_windows_are_those_of_the_whole_frame(family):
    frame = render_screen(family, 4343).frame
    grey = np.ascontiguousarray(frame.max(axis=2))
    deep = grey.astype(np.uint16) * 16  # 12 bits: scaled to the frame's maximum
    checked = 0
    for image in (frame, grey, deep):
        boxes = _boxes(image)
        whole = brightness(image)
        windows = ultrasound_ocr._line_level(image, boxes)
        for box in boxes:
            for height in (ultrasound_ocr.LINE_HEIGHT, 2 * ultrasound_ocr.LINE_HEIGHT, 40):
                expected = ultrasound_ocr.clean_line_image(whole, box, height)
                got = ultrasound_ocr.clean_line_image(windows, box, height)
                assert got.shape == expected.shape and np.array_equal(got, expected), box
                checked += 1
    assert checked >= 30


def test_a_box_at_the_frame_edge_reads_the_same():
    frame = render_screen(TUNING_FAMILIES[0], 4344).frame
    h, w = frame.shape[:2]
    boxes = [(0, 0, 60, 9), (w - 50, h - 12, w - 1, h - 1), (0, h - 20, w - 1, h - 1)]
    whole = brightness(frame)
    windows = ultrasound_ocr._line_level(frame, boxes)
    for box in boxes:
        assert np.array_equal(
            ultrasound_ocr.clean_line_image(windows, box),
            ultrasound_ocr.clean_line_image(whole, box),
        )


@pytest.mark.parametrize("grey", [False, True])
def test_an_8_bit_frame_is_found_and_read_on_one_brightness_image(grey):
    """An 8-bit frame's lines are found and read on one brightness image (the frame itself
    when grey): the same lines and texts as through the windows (a 16-bit copy of the same
    values takes that path), inside an area too, and the frame is left as it was."""
    from cadbusi_assets_tests.support import require_tool

    require_tool("tesseract", "apt-get install tesseract-ocr tesseract-ocr-eng")
    frame = render_screen(TUNING_FAMILIES[1], 4345).frame
    if grey:
        frame = np.ascontiguousarray(frame.max(axis=2))
    before = frame.copy()
    deep = frame.astype(np.uint16)  # values under 256: the same brightness, read by windows
    h, w = frame.shape[:2]
    for area in (None, (w // 4, 0, w - 1, h // 2)):
        for gate in (False, True):
            got = ultrasound_ocr.read_frame_text(frame, area=area, vocabulary_gate=gate)
            expected = ultrasound_ocr.read_frame_text(deep, area=area, vocabulary_gate=gate)
            assert got == expected
            assert got.lines or area is not None
    assert np.array_equal(frame, before)
