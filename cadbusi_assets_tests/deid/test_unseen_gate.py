"""The learned reader's gate in front of tesseract in the search for text the upright reading
cannot see (:func:`cadbusi_assets.deid.ocr.unseen_text`): a turned line image it reads
confidently as the screen's own words keeps that reading; everything else, and everything
when the reader cannot run, is read by tesseract."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import cadbusi_assets  # noqa: F401  (before cadbusi_demo)
from cadbusi_assets.deid import ocr
from cadbusi_assets.deid.identifiers import OriginalIdentifiers
from cadbusi_assets.ultrasound import ocr as ultrasound_ocr
from cadbusi_assets_tests.support import require_tool
from cadbusi_assets_tests.test_adversarial_pixels import _TOP, _fan, _paste_brightest, _text


def _vertical(text: str, turn: int) -> np.ndarray:
    """``text`` written vertically (``turn``) on a black frame of the canary's size."""
    ink = cv2.rotate(_text(text, 16, shape=(24, 190)), turn)
    return _paste_brightest(np.zeros_like(_fan()), ink, _TOP, 150)


def _tesseract_calls(monkeypatch: pytest.MonkeyPatch, frame: np.ndarray) -> tuple[int, str]:
    """(Lines tesseract is asked to read in ``frame``'s unseen-text search, its text)."""
    reading = ocr.read_frame(frame, vocabulary_gate=True, fields=False)
    calls = []
    original = ultrasound_ocr.Tesseract.read_line

    def counted(self: ultrasound_ocr.Tesseract, image: np.ndarray) -> str:
        calls.append(image.shape)
        return original(self, image)

    monkeypatch.setattr(ultrasound_ocr.Tesseract, "read_line", counted)
    text = ocr.unseen_text(frame, reading)
    return len(calls), text


@pytest.mark.parametrize("turn", [cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_90_COUNTERCLOCKWISE])
def test_a_vertical_line_of_the_screens_words_spares_tesseract_one_reading(monkeypatch, turn):
    """Written vertically, "Gn 36" is read both ways; the way it reads as the screen's own
    words needs no tesseract (before the gate: both ways by tesseract)."""
    require_tool("tesseract", "apt-get install tesseract-ocr tesseract-ocr-eng")
    calls, text = _tesseract_calls(monkeypatch, _vertical("Gn 36", turn))
    assert calls == 1
    assert "GN 36" in text.upper()


def test_without_the_learned_reader_tesseract_reads_every_line(monkeypatch):
    require_tool("tesseract", "apt-get install tesseract-ocr tesseract-ocr-eng")
    monkeypatch.setattr(ultrasound_ocr, "_learned_readings", lambda images: None)
    calls, _ = _tesseract_calls(monkeypatch, _vertical("Gn 36", cv2.ROTATE_90_CLOCKWISE))
    assert calls == 2


def test_a_vertical_name_is_read_by_tesseract(monkeypatch):
    """A name is no reading the gate keeps: tesseract reads the line (both ways)."""
    require_tool("tesseract", "apt-get install tesseract-ocr tesseract-ocr-eng")
    frame = _vertical("CANARYLAST", cv2.ROTATE_90_CLOCKWISE)
    calls, text = _tesseract_calls(monkeypatch, frame)
    assert calls == 2
    ids = OriginalIdentifiers(patient_names=("CANARYLAST^CANARYFIRST",))
    assert ocr.find_identifiers_in_ocr_text(text, ids) == ["patient_name"]


def test_the_gate_keeps_only_readings_the_upright_gate_keeps():
    """:func:`_read_unseen` spares exactly the images the upright verification's gate would
    spare (vocabulary, or a confident reading holding no identifier that explains the ink)."""
    images = []
    for text in ("Gn 36", "LT BREAST", "CANARYLAST", "3:30", "ID 0424242"):
        line = cv2.bitwise_not(_text(text, 16, shape=(24, 190)))
        images += [(line, True), (cv2.rotate(line, cv2.ROTATE_180), True), (line, False)]
    readings = ultrasound_ocr._learned_readings([image for image, _ in images])
    if readings is None:
        pytest.skip("the learned line reader cannot run here")
    got = ocr._read_unseen(images, lambda image: "<tesseract>")
    for (image, gated), (text, vocabulary, confidence), out in zip(
        images, readings, got, strict=True
    ):
        spared = gated and (vocabulary or ultrasound_ocr._no_identifier(text, confidence, image))
        assert out == (text if spared else "<tesseract>")
    assert "<tesseract>" in got and any(out != "<tesseract>" for out in got)
