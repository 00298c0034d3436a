"""The unseen-text search finds turned lines it missed: turned text crossed along its length
by a straight line (a caliper's measurement line through the middle of the letters, 1 or 2
px, at 230 or 255; a strike-through), whose glyphs the line joined into one blob with it, and
letter-spaced turned text on the margin, found in part (the line search chains letters at
most 1.5 heights apart).

The frames are ``tools/attack_line_gate.py``'s (a generator tuning screen, seeds 100-439,
its PHI blacked out, the identifier planted turned a quarter; ``rule_cases`` and
``spacing_cases``); each was missed before the search took the rule out of a crop of the
turned view (:func:`~cadbusi_assets.deid.ocr._crossed_lines`) or widened the lines it found
(:func:`~cadbusi_assets.deid.ocr._extended`). Every name is invented.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import cadbusi_assets  # noqa: F401  (before cadbusi_demo and torch)
from cadbusi_assets.deid import ocr
from cadbusi_assets.deid.identifiers import OriginalIdentifiers
from cadbusi_assets.deid.ocr import ocr_identifiers
from cadbusi_assets.ultrasound.textlines import (
    STROKE_CONTRAST,
    TEXT_LEVEL,
    brightness,
    stroke_contrast,
    text_ink,
)
from cadbusi_assets_tests.support import require_tesseract_executable
from tools.attack_line_gate import background, build, cases, rule_cases, spacing_cases

_BY_NAME = {case.name: case for case in cases() + spacing_cases() + rule_cases()}

#: (attack case, tuning seed of the background screen, the kind the verification finds)
CROSSED = [
    # the attack's caliper placement: a 1 px line at 230 from 20 px before the text to 20
    # px after it, with a cross at each end, through the turned text's middle, in the fan
    ("cal18_1", 381, "patient_id"),
    ("cal12_2", 337, "birth_date"),
    # rule_cases: the line at 255, 2 px, or through the upper third (a strike-through), in
    # the fan; at 230 on the margin (the upright reading reads the glyphs in pieces there)
    ("rmid255_18_1", 294, "patient_id"),
    ("rmid2px_24_2", 148, "birth_date"),
    ("rstrike_18_0", 426, "patient_name"),
    ("rmmid230_18_0", 167, "patient_name"),
]
#: letter spaced by a third to all of the letters' size on the margin beside the fan, found
#: in part before
SPACED = [
    ("spm12_12_0", 433, "patient_name"),
    ("spm12_12_1", 183, "patient_id"),
    ("spm12_4_2", 317, "birth_date"),
    ("spm18_14_2", 229, "birth_date"),
]


@pytest.mark.parametrize(("name", "seed", "kind"), CROSSED + SPACED)
def test_turned_identifier_is_caught(name: str, seed: int, kind: str) -> None:
    require_tesseract_executable()
    case = _BY_NAME[name]
    assert kind in ocr_identifiers(build(case, seed), case.ids), name


def _ruled_frame(ticks: bool) -> tuple[np.ndarray, OriginalIdentifiers]:
    """A dark 300 x 400 frame with ``DOE JANE`` written top to bottom, a 1 px line at 230
    through the middle of its letters from 20 px before to 20 px after it (or, with
    ``ticks``, no text: a ruler, the same line with ticks on one side)."""
    frame = np.zeros((300, 400), np.uint8)
    ink = np.zeros((30, 200), np.uint8)
    if not ticks:
        cv2.putText(ink, "DOE JANE", (30, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 255, 1)
    ink[15, 10:190] = np.maximum(ink[15, 10:190], 230)
    if ticks:
        for x in range(12, 190, 12):
            ink[6:15, x] = 230
    frame[50:250, 185:215] = cv2.rotate(ink, cv2.ROTATE_90_CLOCKWISE)
    return frame, OriginalIdentifiers(patient_names=("DOE^JANE",))


def test_turned_name_crossed_by_a_line_is_caught() -> None:
    """On a flat, dark margin too: the glyphs and the line were one blob; the upright
    reading reads the glyphs in pieces, each with the line through it, and the turned
    line lies mostly in those pieces (read anyway)."""
    require_tesseract_executable()
    frame, ids = _ruled_frame(ticks=False)
    assert "patient_name" in ocr_identifiers(frame, ids)


def test_a_rule_alone_is_not_searched_again() -> None:
    frame = np.zeros((300, 400), np.uint8)
    frame[50:250, 200] = 230
    level = brightness(frame)
    _ink, rules, crossing = ocr._ink_and_rules(level, np.zeros(level.shape, bool))
    assert rules.any() and crossing is None


def test_a_ruler_is_no_crossed_line() -> None:
    """A rule with ink on one side only (a ruler's ticks) is not searched again."""
    frame, _ = _ruled_frame(ticks=True)
    level = brightness(frame)
    _ink, rules, crossing = ocr._ink_and_rules(level, np.zeros(level.shape, bool))
    assert rules.any()
    assert crossing is None
    assert ocr._crossed_lines(ocr._quarter_turn(level), rules, crossing, []) == []


@pytest.mark.parametrize("seed", [101, 257, 388])
def test_ink_and_rules_are_text_inks(seed: int) -> None:
    """The tiny search's ink is :func:`text_ink` outside the seen lines, as before; the
    rules are the thin bright strokes that :func:`text_ink` left out."""
    frame, _ = background(seed)
    level = brightness(frame)
    seen = np.zeros(level.shape, bool)
    seen[100:180, 200:500] = True
    ink, rules, _crossing = ocr._ink_and_rules(level, seen)
    whole = text_ink(level)
    expected = whole.copy()
    expected[seen] = 0
    np.testing.assert_array_equal(ink, expected)
    thin_bright = (level >= TEXT_LEVEL) & (stroke_contrast(level) >= STROKE_CONTRAST)
    np.testing.assert_array_equal(rules, (thin_bright & (whole == 0)).astype(np.uint8))
    np.testing.assert_array_equal(ocr.tiny_ink(level, seen), expected)


def test_a_crossed_line_is_found_with_the_rule_taken_out() -> None:
    frame, _ = _ruled_frame(ticks=False)
    level = brightness(frame)
    view = ocr._quarter_turn(level)
    _ink, rules, crossing = ocr._ink_and_rules(level, np.zeros(level.shape, bool))
    assert crossing is not None
    found = ocr._crossed_lines(view, rules, crossing, [])
    assert len(found) == 1
    (x0, y0, x1, y1), image = found[0]
    # the text's rows in the view: frame columns 185-214 turned (rows 185-214 of the view)
    assert 185 <= y0 <= y1 <= 214 and x1 - x0 > 60
    # read with the rule taken out (dark text on light): no row dark across the line
    assert float((image < 128).mean(axis=1).max()) < 0.6
