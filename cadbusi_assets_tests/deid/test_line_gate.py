"""The learned gate in front of tesseract for the unseen-text search's turned lines
(:mod:`cadbusi_assets.deid.line_gate`): every turned line that holds text of the kinds the
adversarial frames draw is read; most chains of speckle are not."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

import cadbusi_assets  # noqa: F401  (before cadbusi_demo and torch)
from cadbusi_assets.deid import line_gate
from cadbusi_assets.deid.ocr import (
    SEEN_SHARE,
    _joined,
    _quarter_turn,
    _share_in,
    _view_box_in_frame,
    turned_line_image,
)
from cadbusi_assets.ultrasound.models import packaged_state
from cadbusi_assets.ultrasound.textlines import brightness, find_text
from cadbusi_assets_tests.adversarial_pixels import paste_brightest, speckle_fan
from cadbusi_demo.screens_heldout import TUNING_FAMILIES, render_screen


def _pil(text: str, size: int) -> np.ndarray:
    font = ImageFont.load_default(size=size)
    right, bottom = font.getbbox(text)[2:]
    image = Image.new("L", (int(right) + 8, int(bottom) + 8), 0)
    ImageDraw.Draw(image).text((4, 4), text, fill=255, font=font)
    return np.asarray(image)


def _hershey(text: str, font: int, height: int) -> np.ndarray:
    scale = cv2.getFontScaleFromHeight(font, height, 1)
    (w, h), base = cv2.getTextSize(text, font, scale, 1)
    ink = np.zeros((h + base + 10, w + 8), np.uint8)
    cv2.putText(ink, text, (4, h + 5), font, scale, 255, 1, cv2.LINE_AA)
    return ink


def _turned_crops(level: np.ndarray) -> list[tuple[tuple[int, int, int, int], np.ndarray]]:
    """Each turned line of ``level`` (view coordinates) and the crop the search reads."""
    view = _quarter_turn(level)
    return [(box, turned_line_image(view, box)) for box in _joined(find_text(view).lines)]


TEXTS = ["CANARYLAST", "ID 00CANARY4242", "DOB 02/03/1961"]
INKS = {
    "pil18": lambda t: _pil(t, 18),
    "pil12": lambda t: _pil(t, 12),
    "simplex12": lambda t: _hershey(t, cv2.FONT_HERSHEY_SIMPLEX, 12),
    "plain10": lambda t: _hershey(t, cv2.FONT_HERSHEY_PLAIN, 10),
}


def test_weights_are_small_and_half_precision():
    state = packaged_state(line_gate.WEIGHTS)
    assert sum(v.numel() for v in state.values()) < 100_000
    assert {str(v.dtype) for v in state.values()} == {"torch.float16"}


@pytest.mark.parametrize("ink", sorted(INKS))
@pytest.mark.parametrize("way", [cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_90_COUNTERCLOCKWISE])
@pytest.mark.parametrize("level", [255, 200])
def test_turned_text_is_read(ink, way, level):
    """Every turned line lying on the planted text passes the gate, and at least one does."""
    for k, text in enumerate(TEXTS):
        mark = cv2.rotate(INKS[ink](text), way)
        mark = (mark.astype(np.float32) * level / 255).astype(np.uint8)
        top, left = 50, 150 - mark.shape[1] // 2
        frame = paste_brightest(speckle_fan(seed=k), mark, top, left)
        cols = frame.shape[1]
        # view[i, j] = frame[j, cols - 1 - i]: the text's rows are the view's columns
        first, last = cols - left - mark.shape[1], cols - 1 - left
        on_text = [
            crop
            for box, crop in _turned_crops(frame)
            if box[0] <= top + mark.shape[0] - 1
            and box[2] >= top
            and box[1] <= last
            and box[3] >= first
        ]
        scores = [line_gate.score(crop) for crop in on_text]
        assert scores, f"{text!r}: no turned line found"
        assert min(scores) > line_gate.THRESHOLD, (text, scores)


def test_most_speckle_is_not_read():
    """Generator frames of the tuning families (seeds past those the gate was trained and
    checked on): the turned lines of their fans outside the screen's texts, chains of
    speckle, mostly stay unread."""
    crops = []
    for seed in range(440, 450):
        screen = render_screen(TUNING_FAMILIES[seed % 5], seed)
        level = brightness(screen.frame)
        seen = np.zeros(level.shape, bool)
        for t in screen.texts:
            seen[t.box[1] : t.box[3] + 1, t.box[0] : t.box[2] + 1] = True
        for box, crop in _turned_crops(level):
            if _share_in(_view_box_in_frame(box, 1, level.shape), seen) < SEEN_SHARE:
                crops.append(crop)
    assert len(crops) >= 5
    read = [c for c in crops if line_gate.may_be_text(c)]
    assert len(read) <= len(crops) // 2, (len(read), len(crops))
