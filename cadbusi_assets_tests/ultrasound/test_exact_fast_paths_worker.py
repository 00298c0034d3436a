"""Faster paths of the de-identification worker (its OCR verification and the rest of a
file's work) that must give the outputs of the code they replaced, bit for bit."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from cadbusi_assets.stages.deidentification import png_is_colour
from cadbusi_assets.ultrasound import encode_png, ocr
from cadbusi_assets_tests.support import require_tesseract
from cadbusi_demo.screens_heldout import TUNING_FAMILIES, render_screen


def _frames(rng: np.random.Generator) -> list[np.ndarray]:
    """Grey, single-channel, colour, grey-as-RGB and nearly grey frames of several sizes."""
    out: list[np.ndarray] = []
    for height, width in [(1, 1), (2, 3), (17, 5), (48, 64), (120, 97)]:
        grey = rng.integers(0, 256, (height, width), dtype=np.uint8)
        colour = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        tinted = np.repeat(grey[..., None], 3, axis=2)
        tinted[height // 2, width // 2, 2] ^= 1  # one pixel off grey
        out += [
            grey,
            grey[..., None],
            colour,
            np.repeat(grey[..., None], 3, axis=2),
            tinted,
            np.zeros((height, width, 3), np.uint8),
        ]
    return out


def test_png_is_colour_is_pillows_mode() -> None:
    # the report's is_colour read off the IHDR colour type, as Pillow's mode of the PNG
    rng = np.random.default_rng(11)
    seen = set()
    for frame in _frames(rng):
        for tolerance in (0, 2):
            png = encode_png(frame, grey_tolerance=tolerance)
            expected = Image.open(io.BytesIO(png)).mode != "L"
            assert png_is_colour(png) == expected
            seen.add(expected)
    assert seen == {False, True}


@pytest.fixture
def four_opencv_threads():
    """OpenCV left several threads by the caller (as a process that never set them has)."""
    threads = cv2.getNumThreads()
    cv2.setNumThreads(4)
    try:
        yield
    finally:
        cv2.setNumThreads(threads)


def test_read_frame_text_runs_opencv_on_one_thread_and_gives_the_threads_back(
    four_opencv_threads, monkeypatch
):
    # the brightness image and every line's cleaning on one OpenCV thread, whatever the
    # caller's setting, which is put back afterwards
    require_tesseract()
    seen: list[int] = []
    brightness, clean = ocr.brightness, ocr.clean_line_image

    def brightness_seen(*args, **kwargs):
        seen.append(cv2.getNumThreads())
        return brightness(*args, **kwargs)

    def clean_seen(*args, **kwargs):
        seen.append(cv2.getNumThreads())
        return clean(*args, **kwargs)

    monkeypatch.setattr(ocr, "brightness", brightness_seen)
    monkeypatch.setattr(ocr, "clean_line_image", clean_seen)
    frame = render_screen(TUNING_FAMILIES[0], 100).frame
    ocr.read_frame_text(frame, vocabulary_gate=True, fields=False)
    assert len(seen) > 2 and set(seen) == {1}
    assert cv2.getNumThreads() == 4


@pytest.mark.parametrize("gate", [False, True])
def test_read_frame_text_on_one_thread_reads_what_the_callers_threads_read(
    four_opencv_threads, gate
):
    # one OpenCV thread against the caller's four: the same lines and the same text (the
    # engines' caches see the same line images, so they are read once)
    require_tesseract()
    for seed, family in enumerate(TUNING_FAMILIES, start=100):
        frame = render_screen(family, seed).frame
        many = ocr._read_frame_text(frame, None, gate, not gate)
        assert cv2.getNumThreads() == 4
        assert ocr.read_frame_text(frame, vocabulary_gate=gate, fields=not gate) == many
        assert many.lines
