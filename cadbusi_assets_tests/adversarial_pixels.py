"""Frames, readers and checks shared by the adversarial pixel tests (``test_adversarial_pixels*.py``,
``test_adversarial_cine.py``): a speckled fan of the canary study's size, text drawn into it,
what a person with tesseract reads, and the de-identification contract (the OCR verification
reads the identifier; the file is quarantined). Moved out of ``test_adversarial_pixels.py`` and
``test_adversarial_pixels_2.py`` so that no test module imports another. Every name is invented
(:mod:`cadbusi_assets_tests.deid.canary`).
"""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from cadbusi_assets.deid import DeidentificationError, deidentify_dataset
from cadbusi_assets.deid.identifiers import OriginalIdentifiers
from cadbusi_assets.deid.ocr import find_identifiers_in_ocr_text, ocr_identifiers
from cadbusi_assets.identity import Pseudonymizer
from cadbusi_assets_tests.deid import canary
from cadbusi_assets_tests.support import require_tesseract_executable

#: the canary study's identifiers
IDS = OriginalIdentifiers(
    patient_names=(canary.NAME,), patient_ids=(canary.MRN,), birth_dates=(canary.BIRTH,)
)
#: the planted strings themselves, letters and digits only
PLANTED = {"patient_name": "CANARYLAST", "patient_id": "CANARY4242", "birth_date": "030261"}
KEPT_TOP = canary.REGION[1]  # the kept region: rows KEPT_TOP.. of the whole width


def speckle_fan(seed: int = 3) -> np.ndarray:
    """A grey frame of the canary's size: a speckled sector inside the kept region, its
    speckle drawn from ``seed`` (a cine draws it afresh for each frame)."""
    rng = np.random.default_rng(seed)
    speckle = cv2.GaussianBlur(
        rng.rayleigh(30, (canary.ROWS, canary.COLS)).astype(np.float32), (0, 0), 1.2
    )
    rows, cols = np.mgrid[: canary.ROWS, : canary.COLS]
    radius = np.hypot(cols - canary.COLS / 2, rows - KEPT_TOP + 20)
    angle = np.degrees(np.arctan2(cols - canary.COLS / 2, rows - KEPT_TOP + 20))
    inside = (radius > 30) & (radius < 260) & (np.abs(angle) < 40) & (rows >= KEPT_TOP)
    return np.where(inside, np.clip(speckle * (1.3 - radius / 400), 0, 255), 0).astype(np.uint8)


def draw_text(
    text: str, size: int, fill: int = 255, shape: tuple[int, int] = (30, 200)
) -> np.ndarray:
    """``text`` drawn in PIL's default font of ``size`` px, grey level ``fill``, on a black
    ``shape`` (rows, columns) canvas."""
    image = Image.new("L", (shape[1], shape[0]), 0)
    ImageDraw.Draw(image).text((2, 2), text, fill=fill, font=ImageFont.load_default(size=size))
    return np.asarray(image)


def paste_brightest(frame: np.ndarray, ink: np.ndarray, top: int, left: int) -> np.ndarray:
    """``frame`` with ``ink`` laid over it at (``top``, ``left``), the brighter pixel winning."""
    out = frame.copy()
    rows, cols = ink.shape
    out[top : top + rows, left : left + cols] = np.maximum(
        out[top : top + rows, left : left + cols], ink
    )
    return out


def frame_dataset(frame: np.ndarray):
    """The canary study's dataset carrying ``frame`` (grey, or RGB when it has 3 axes)."""
    colour = frame.ndim == 3
    ds = canary.canary_dataset(colour=colour)
    ds.set_pixel_data(frame, "RGB" if colour else "MONOCHROME2", 8, generate_instance_uid=False)
    return ds


def reader_kinds(frame: np.ndarray) -> list[str]:
    """What a person with tesseract reads in ``frame``: the page upright and turned 90, 270
    and 180 degrees, dark-on-light and as drawn, scaled 2x."""
    import pytesseract

    if frame.ndim == 3:
        frame = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    texts = []
    for turn in (None, cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_90_COUNTERCLOCKWISE, cv2.ROTATE_180):
        view = frame if turn is None else cv2.rotate(frame, turn)
        big = cv2.resize(view, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
        bright = np.where(big >= 180, 0, 255).astype(np.uint8)  # the brightest ink only
        dark = np.where(big <= 60, 0, 255).astype(np.uint8)  # the darkest ink only
        for image in (big, cv2.bitwise_not(big), bright, dark):
            for mode in ("--psm 11", "--psm 6"):
                texts.append(pytesseract.image_to_string(image, config=mode))
    text = "\n".join(texts)
    # the matcher under test, and the planted strings themselves (letters and digits only)
    compact = re.sub(r"[^0-9A-Z]", "", text.upper())
    literal = {kind for kind, planted in PLANTED.items() if planted in compact}
    return sorted(set(find_identifiers_in_ocr_text(text, IDS)) | literal)


def assert_read(frame: np.ndarray, expected: str | None = None) -> None:
    """The OCR verification finds ``expected`` in ``frame`` (else any kind of the study's)."""
    require_tesseract_executable()
    kinds = ocr_identifiers(frame, IDS)
    assert (expected in kinds) if expected else kinds


def assert_quarantined(frame: np.ndarray, pseudonymizer: Pseudonymizer) -> None:
    """``deidentify_dataset`` with the OCR verification quarantines ``frame``'s file, with a
    reason that quotes nothing of it."""
    require_tesseract_executable()
    with pytest.raises(DeidentificationError, match="readable after pixel cleaning") as info:
        deidentify_dataset(frame_dataset(frame), pseudonymizer, verify_ocr=True)
    assert "CANARY" not in str(info.value).upper()


def draw_calipers(frame: np.ndarray, points: list[tuple[int, int]]) -> np.ndarray:
    """``frame`` with a 9 px caliper cross at each (x, y) of ``points``."""
    out = frame.copy()
    for x, y in points:
        cv2.drawMarker(out, (x, y), 255, cv2.MARKER_CROSS, 9, 1)
    return out


def grey_to_rgb(frame: np.ndarray) -> np.ndarray:
    """A grey ``frame`` as RGB (the grey level in each channel)."""
    return np.repeat(frame[..., None], 3, axis=2)
