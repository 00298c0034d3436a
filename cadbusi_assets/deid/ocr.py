"""OCR verification of cleaned pixels (Debian ``tesseract-ocr`` through ``pytesseract``).

After pixel cleaning, text inside the kept regions (laterality, clock position, distances)
stays on purpose. This module reads whatever text is left and reports which kinds of the
study's own identifiers are readable. Only the *kinds* leave this module; the OCR text is
never logged or returned by :func:`ocr_identifiers`.

Only the parts of a frame that can hold text are read: overlay text is bright, so pixels at
or above :data:`TEXT_THRESHOLD` form a mask; each horizontal band of the mask is read on its
own, drawn black on white and upscaled (tesseract reads small UI fonts far better at 2x).
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
#: Pixel value (channel maximum) from which a pixel counts as text: overlays are bright.
TEXT_THRESHOLD = 150
#: Bands closer than this many rows are read together.
BAND_GAP = 6
#: With more bands than this, the whole frame is read in one call.
MAX_BANDS = 12


@lru_cache(maxsize=1)
def tesseract_available() -> bool:
    return shutil.which("tesseract") is not None


def text_mask(frame: np.ndarray, threshold: int = TEXT_THRESHOLD) -> np.ndarray:
    """Bright pixels (channel maximum >= ``threshold``): where overlay text can be."""
    grey = frame.max(axis=2) if frame.ndim == 3 else frame
    return grey >= threshold


def text_bands(
    mask: np.ndarray, gap: int = BAND_GAP, pad: int = 4
) -> list[tuple[int, int, int, int]]:
    """Boxes ``(x0, y0, x1, y1)`` (exclusive ends) around horizontal bands of ``mask``.

    >>> m = np.zeros((40, 50), bool); m[5:15, 10:20] = True; m[30:38, 0:5] = True
    >>> text_bands(m)
    [(6, 1, 24, 19), (0, 26, 9, 40)]
    """
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(rows) > gap)
    starts = np.concatenate(([rows[0]], rows[breaks + 1]))
    ends = np.concatenate((rows[breaks], [rows[-1]]))
    height, width = mask.shape
    boxes = []
    for top, bottom in zip(starts, ends, strict=True):
        cols = np.flatnonzero(mask[top : bottom + 1].any(axis=0))
        x0, x1 = max(0, int(cols[0]) - pad), min(width, int(cols[-1]) + 1 + pad)
        y0, y1 = max(0, int(top) - pad), min(height, int(bottom) + 1 + pad)
        boxes.append((x0, y0, x1, y1))
    return boxes


def ocr_text(frame: np.ndarray, scale: int = SCALE) -> str:
    """All text tesseract reads in the bright bands of ``frame`` (handle the result as PHI).

    Bright pixels are drawn black on white (tesseract's best case), which also removes the
    darker speckle around annotation text inside the image region.
    """
    if not tesseract_available():
        raise DeidentificationError(
            "OCR verification needs tesseract (apt-get install tesseract-ocr)"
        )
    import pytesseract

    mask = text_mask(np.asarray(frame))
    page = np.where(mask, 0, 255).astype(np.uint8)
    bands = text_bands(mask)
    if len(bands) > MAX_BANDS:
        bands = [(0, 0, mask.shape[1], mask.shape[0])]
    texts = []
    for x0, y0, x1, y1 in bands:
        crop = Image.fromarray(np.ascontiguousarray(page[y0:y1, x0:x1]))
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
