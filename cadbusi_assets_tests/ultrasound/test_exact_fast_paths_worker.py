"""Faster paths of the de-identification worker (its OCR verification and the rest of a
file's work) that must give the outputs of the code they replaced, bit for bit."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from cadbusi_assets.stages.deidentification import png_is_colour
from cadbusi_assets.ultrasound import encode_png


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
