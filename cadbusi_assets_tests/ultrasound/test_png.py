from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from cadbusi_assets.ultrasound.png import encode_png


def decode(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def test_grey_rgb_is_written_as_single_channel_and_round_trips():
    grey = np.random.default_rng(0).integers(0, 256, (30, 40), dtype=np.uint8)
    image = decode(encode_png(np.repeat(grey[..., None], 3, axis=2)))
    assert image.mode == "L"
    assert np.array_equal(np.asarray(image), grey)


def test_colour_stays_rgb():
    rgb = np.random.default_rng(1).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    image = decode(encode_png(rgb))
    assert image.mode == "RGB"
    assert np.array_equal(np.asarray(image), rgb)


def test_tolerance_turns_near_grey_into_grey():
    rgb = np.full((10, 10, 3), 100, np.uint8)
    rgb[..., 0] += 2
    assert decode(encode_png(rgb)).mode == "RGB"
    assert decode(encode_png(rgb, grey_tolerance=3)).mode == "L"


def test_same_pixels_same_bytes():
    rgb = np.random.default_rng(2).integers(0, 256, (50, 60, 3), dtype=np.uint8)
    assert encode_png(rgb) == encode_png(rgb.copy())


def test_rejects_non_uint8():
    with pytest.raises(ValueError):
        encode_png(np.zeros((4, 4), np.uint16))


@pytest.mark.parametrize("shape", [(1, 1, 3), (7, 1, 3), (1, 9), (768, 1024, 3), (33, 17)])
def test_round_trips_through_pillow_and_libpng_at_any_size(shape):
    import cv2

    rng = np.random.default_rng(len(shape) * 100 + shape[0])
    pixels = rng.integers(0, 256, shape, dtype=np.uint8)
    if pixels.ndim == 3:
        pixels[..., 0] //= 2  # not grey
    data = encode_png(pixels)
    assert np.array_equal(np.asarray(decode(data)), pixels)
    by_libpng = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    expected = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR) if pixels.ndim == 3 else pixels
    assert np.array_equal(by_libpng, expected)


def test_rejects_pixels_that_are_neither_grey_nor_rgb():
    with pytest.raises(ValueError, match="channels"):
        encode_png(np.zeros((4, 4, 4), np.uint8))
