"""OCR verification of cleaned pixels (Debian ``tesseract-ocr`` through ``pytesseract``).

After pixel cleaning, text inside the kept regions (laterality, clock position, distances)
stays on purpose. This module reads whatever text is left and reports which kinds of the
study's own identifiers are readable. Only the *kinds* leave this module; the OCR text is
never logged or returned by :func:`ocr_identifiers`.

Only the parts of a frame that can hold text are read: rows and columns that are entirely
blank (zero) are cropped away first, and each remaining horizontal band of non-blank rows is
read on its own, upscaled (tesseract reads small UI fonts far better at 2x).
"""

from __future__ import annotations

import shutil
from functools import lru_cache

import numpy as np
from PIL import Image

from cadbusi_assets.deid.errors import DeidentificationError
from cadbusi_assets.deid.identifiers import OriginalIdentifiers
from cadbusi_assets.deid.scan import find_identifiers_in_text

#: Upscaling before OCR.
SCALE = 2
#: ``--psm 11``: sparse text, as on ultrasound screens.
TESSERACT_CONFIG = "--psm 11"
#: Pixel value above which a grey pixel counts as possible text.
TEXT_THRESHOLD = 96


@lru_cache(maxsize=1)
def tesseract_available() -> bool:
    return shutil.which("tesseract") is not None


def _grey(frame: np.ndarray) -> np.ndarray:
    """Text is bright on dark: the channel maximum keeps coloured text visible."""
    return frame.max(axis=2) if frame.ndim == 3 else frame


def text_bands(
    frame: np.ndarray, min_height: int = 6, pad: int = 4
) -> list[tuple[int, int, int, int]]:
    """Boxes ``(x0, y0, x1, y1)`` (exclusive ends) of horizontal bands that are not blank.

    >>> f = np.zeros((40, 50), np.uint8); f[5:15, 10:20] = 255; f[30:38, 0:5] = 200
    >>> text_bands(f)
    [(6, 1, 24, 19), (0, 26, 9, 40)]
    """
    grey = _grey(frame)
    rows = np.flatnonzero(grey.max(axis=1) > 0)
    if rows.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(rows) > 1)
    starts = np.concatenate(([rows[0]], rows[breaks + 1]))
    ends = np.concatenate((rows[breaks], [rows[-1]]))
    height, width = grey.shape
    boxes = []
    for top, bottom in zip(starts, ends, strict=True):
        if bottom - top + 1 < min_height and (grey[top : bottom + 1] <= TEXT_THRESHOLD).all():
            continue
        cols = np.flatnonzero(grey[top : bottom + 1].max(axis=0) > 0)
        x0, x1 = max(0, int(cols[0]) - pad), min(width, int(cols[-1]) + 1 + pad)
        y0, y1 = max(0, int(top) - pad), min(height, int(bottom) + 1 + pad)
        boxes.append((x0, y0, x1, y1))
    return boxes


def ocr_text(frame: np.ndarray, scale: int = SCALE) -> str:
    """All text tesseract reads in the non-blank bands of ``frame`` (handle as PHI)."""
    if not tesseract_available():
        raise DeidentificationError(
            "OCR verification needs tesseract (apt-get install tesseract-ocr)"
        )
    import pytesseract

    grey = _grey(np.asarray(frame))
    texts = []
    for x0, y0, x1, y1 in text_bands(grey):
        crop = Image.fromarray(np.ascontiguousarray(grey[y0:y1, x0:x1]))
        if scale != 1:
            crop = crop.resize((crop.width * scale, crop.height * scale), Image.Resampling.BICUBIC)
        try:
            texts.append(pytesseract.image_to_string(crop, config=TESSERACT_CONFIG))
        except pytesseract.TesseractError as exc:
            raise DeidentificationError(f"OCR failed (tesseract status {exc.status})") from None
    return "\n".join(texts)


def ocr_identifiers(frame: np.ndarray, identifiers: OriginalIdentifiers) -> list[str]:
    """Kinds of the study's identifiers that tesseract can read in ``frame``."""
    if identifiers.is_empty():
        return []
    return find_identifiers_in_text(ocr_text(frame), identifiers)
