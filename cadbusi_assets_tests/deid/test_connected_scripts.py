"""Names in a connected script (Arabic) burned into a frame: each word is one wide blob
(its letters joined along the baseline, dots apart), which no line search of the
verification took for a line (glyphs are at most three line heights wide; one blob must
cross many strokes a row). The verification fails closed for a name the OCR cannot read
only on a line found on it, so an Arabic name 4 px below the screen's own text on black,
or turned a quarter or a half on black, was passed where a Latin name there is found.
:func:`~cadbusi_assets.deid.ocr.connected_words` finds such words, and for a study whose
name is in a connected script (:data:`~cadbusi_assets.deid.ocr.CONNECTED_SCRIPTS`) one
outside the upright reading's lines fails the frame closed.

The frames are drawn here (DejaVu Sans, shaped by PIL's raqm layout when present) or are
``tools/attack_line_gate.py --scripts2`` attack frames (generator tuning screens, seeds
100-439, PHI blacked out, the name planted) that the verification missed before. Every
name is invented.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import cadbusi_assets  # noqa: F401  (before cadbusi_demo and torch)
from cadbusi_assets.deid.identifiers import OriginalIdentifiers
from cadbusi_assets.deid.ocr import connected_words, ocr_identifiers
from cadbusi_assets_tests.support import missing, require_tesseract_executable
from tools.attack_line_gate import DEJAVU, background, build, script_cases_2

ARABIC = "الحسيني"
ARABIC_IDS = OriginalIdentifiers(patient_names=("الحسيني^فاطمة",))
KIND = "text_unreadable_for_a_arabic_name"


def _fonts() -> None:
    if not Path(DEJAVU, "DejaVuSans.ttf").exists():
        missing("DejaVu fonts are not installed (apt-get install fonts-dejavu-core)")


def _ink(text: str, size: int) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(DEJAVU + "DejaVuSans.ttf", size)
    right, bottom = font.getbbox(text)[2:]
    image = Image.new("L", (int(right) + 8, int(bottom) + 8))
    ImageDraw.Draw(image).text((4, 4), text, fill=255, font=font)
    return np.asarray(image).copy()


def _below_label(size: int) -> np.ndarray:
    """A black frame with a probe label and the Arabic name ``size`` px high 4 px below it,
    its left edge on the label's."""
    frame = np.zeros((240, 320), np.uint8)
    label = _ink("ML6-15", 18)
    frame[20 : 20 + label.shape[0], 40 : 40 + label.shape[1]] = label
    bottom = 20 + int(np.flatnonzero(label.max(axis=1) > 0)[-1])
    name = _ink(ARABIC, size)
    top = bottom + 4 - int(np.flatnonzero(name.max(axis=1) > 0)[0])
    region = frame[top : top + name.shape[0], 40 : 40 + name.shape[1]]
    region[:] = np.maximum(region, name)
    return frame


def _turned(way: int) -> np.ndarray:
    """A black frame with an upright label and the Arabic name (16 px) turned by ``way``."""
    frame = np.zeros((320, 320), np.uint8)
    label = _ink("LT BREAST", 18)
    frame[20 : 20 + label.shape[0], 40 : 40 + label.shape[1]] = label
    name = cv2.rotate(_ink(ARABIC, 16), way)
    frame[100 : 100 + name.shape[0], 150 : 150 + name.shape[1]] = name
    return frame


DRAWN = {
    "below_label_14": lambda: _below_label(14),
    "below_label_16": lambda: _below_label(16),
    "turned_90": lambda: _turned(cv2.ROTATE_90_CLOCKWISE),
    "turned_270": lambda: _turned(cv2.ROTATE_90_COUNTERCLOCKWISE),
    "turned_180": lambda: _turned(cv2.ROTATE_180),
}


@pytest.mark.parametrize("placed", sorted(DRAWN))
def test_an_arabic_name_on_black_is_caught(placed):
    require_tesseract_executable()
    _fonts()
    frame = DRAWN[placed]()
    assert KIND in ocr_identifiers(frame, ARABIC_IDS)
    # as colour too (the brightest channel)
    assert KIND in ocr_identifiers(np.repeat(frame[..., None], 3, axis=2), ARABIC_IDS)


def test_the_check_runs_for_connected_scripts_only():
    """An Armenian name cannot be Arabic ink: the frame with Arabic turned on it is not
    failed for an Armenian study (its own checks find no line on the Arabic)."""
    require_tesseract_executable()
    _fonts()
    armenian = OriginalIdentifiers(patient_names=("ՀԱԿՈԲՅԱՆ^ԱՆԻ",))
    assert ocr_identifiers(_turned(cv2.ROTATE_90_CLOCKWISE), armenian) == []


def test_connected_words_finds_an_arabic_word_and_no_latin_line():
    _fonts()
    frame = np.zeros((80, 400), np.uint8)
    arabic = _ink(ARABIC, 16)
    frame[10 : 10 + arabic.shape[0], 20 : 20 + arabic.shape[1]] = arabic
    (x0, y0, x1, y1), *rest = connected_words(frame)
    assert rest == []
    assert 20 <= x0 <= x1 < 20 + arabic.shape[1]
    assert 10 <= y0 <= y1 < 10 + arabic.shape[0]
    latin = np.zeros((80, 400), np.uint8)
    for k, text in enumerate(("GATELAST FATIMA", "Alhusseini 12 cm")):
        ink = _ink(text, 16)
        latin[5 + 35 * k : 5 + 35 * k + ink.shape[0], 20 : 20 + ink.shape[1]] = ink
    assert connected_words(latin) == []
    assert connected_words(cv2.rotate(latin, cv2.ROTATE_90_CLOCKWISE)) == []


#: (attack case: script, turn clockwise (0: upright), font, size, placement, level; seed)
#: that the verification passed before.
MISSED_BEFORE = [
    ("arabic0_sans14_nearlabel255", 368),
    ("arabic0_sans16_brightest255", 146),
    ("arabic90_sans30_brightest255", 211),
    ("arabic270_condensed18_brightest255", 426),
    ("arabic180_sans24_blend200", 153),
    ("mixed270_sans20_edge180", 314),
    ("twogroup0_sans_bold11_edge255", 286),
]

_BY_NAME = {case.name: case for case in script_cases_2()}


@pytest.mark.parametrize(("name", "seed"), MISSED_BEFORE)
def test_an_attack_name_in_arabic_is_caught(name, seed):
    require_tesseract_executable()
    _fonts()
    case = _BY_NAME[name]
    assert KIND in ocr_identifiers(build(case, seed), case.ids), name


#: Cleaned tuning screens (one of each tuning family) that the verification passes for a
#: study with an Arabic name.
CLEAN = [100, 101, 103, 104, 122, 148]


@pytest.mark.parametrize("seed", CLEAN)
def test_clean_tuning_screens_pass_for_an_arabic_name(seed):
    require_tesseract_executable()
    frame, _ = background(seed)
    assert ocr_identifiers(frame, ARABIC_IDS) == []
