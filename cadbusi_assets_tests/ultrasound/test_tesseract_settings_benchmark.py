"""The tesseract-settings benchmark: its identifier ground truth and its reading A/B."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from benchmarks.tesseract_settings import Read, _identifiers_of, compare, rescaled
from cadbusi_assets.deid.ocr import find_contact_details_in_ocr_text, find_identifiers_in_ocr_text
from cadbusi_assets_tests.support import require_tesseract


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("KOWALSKA^ANNA", "patient_name"),
        ("Tuweouj Mcfw", "patient_name"),
        ("MRN: 7901892", "patient_id"),
        ("ID:6290862", "patient_id"),
        ("2024-04-05 12:25", "birth_date"),
        ("13.10.1965", "birth_date"),
        ("7/19/25 13:49", "birth_date"),
        ("01/13/1982", "birth_date"),
    ],
)
def test_each_synthetic_identifier_is_the_study_identifier_it_shows(text, kind):
    """The identifier A/B counts a line caught when its text is found again: the line's own
    text must be found as its kind, and a line of other text must not."""
    ids = _identifiers_of(text)
    assert find_identifiers_in_ocr_text(text, ids) == [kind]
    assert find_identifiers_in_ocr_text("LT BREAST 10:00 3 CM FN", ids) == []


def test_a_phone_number_is_no_study_identifier_but_anyones_contact():
    assert _identifiers_of("(310) 959-6906").is_empty()
    assert find_contact_details_in_ocr_text("(310) 959-6906")


def test_rescaled_scales_every_image_by_the_height_ratio_and_never_up():
    line, strip = np.zeros((52, 200), np.uint8), np.zeros((104, 120), np.uint8)
    assert rescaled(13)(line).shape == (26, 100) and rescaled(13)(strip).shape == (52, 60)
    assert rescaled(40)(line) is line


def _line(text: str) -> np.ndarray:
    image = np.full((40, 300), 255, np.uint8)
    cv2.putText(image, text, (5, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.9, 0, 2)
    return image


def test_compare_counts_readings_that_change_per_group():
    """The same settings change no reading; reading light-on-dark without the inverted second
    reading changes it (counted in the image's group)."""
    require_tesseract()
    dark = _line("SMITH JOHN 0391")
    reads = [
        Read("ge_logiq", False, False, dark, "SMITH JOHN 0391"),
        Read("bk", True, True, 255 - dark, "SMITH JOHN 0391"),
    ]
    same = compare(reads, {}, repeats=1)
    assert {k: v["changed"] for k, v in same.items()} == {
        "held_out": 0,
        "held_out strip": 0,
        "tuning": 0,
        "tuning line": 0,
    }
    assert same["tuning line"]["reads"] == 1 and same["held_out strip"]["unstable"] == 0
    changed = compare(reads, {"tessedit_do_invert": "0"}, repeats=1)
    assert changed["held_out strip"]["changed"] == 1 and changed["tuning line"]["changed"] == 0
