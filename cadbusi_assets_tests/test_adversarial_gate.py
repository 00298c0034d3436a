"""The learned turned-line gate (:mod:`cadbusi_assets.deid.line_gate`) against identifiers
written vertically in ways it was not trained on: fonts it never saw (Hershey's complex,
triplex, script and italic faces; DejaVu serif, mono, oblique, extra-light), sizes past its
training (9 px, 34-60 px), dim and coloured ink, text across the fan's edge, beside a dotted
measurement line or other turned text, letter-spaced, bold, underlined, lower case, pixelated,
JPEG-compressed, an MRN of digits only and an ISO date.

Each case is one of ``tools/attack_line_gate.py``'s attack frames (a generator tuning
screen, seeds 100-439, its PHI blacked out, the identifier planted turned a quarter in the
field of view) that the OCR verification (:func:`ocr_identifiers`) catches only by reading
its turned line. The gate must pass that line: the identifier is caught with the gate on.
Of 1,327 attack frames (tuning seeds only) the first gate missed 7 it should have read, all
letter spaced by about two thirds of the letters' size; retrained with spaced text, it
missed one 60 px name (lines taller than its training are now read whatever their score).
These pin those cases and a representative subset of the rest. Every name is invented.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

import cadbusi_assets  # noqa: F401  (before cadbusi_demo and torch)
from cadbusi_assets.deid import line_gate
from cadbusi_assets.deid.ocr import ocr_identifiers
from cadbusi_assets_tests.support import require_tesseract_executable
from tools.attack_line_gate import build, cases, hard_cases, spacing_cases

#: (case name, tuning seed of the background screen, the kind the verification finds)
CASES = [
    ("complex_24_0", 174, "patient_name"),
    ("simplex_italic_24_2", 122, "birth_date"),
    ("script_complex_24_0", 146, "patient_name"),
    ("triplex_16_1", 241, "patient_id"),
    ("complex_italic_24_1", 243, "patient_id"),
    ("extralight_11_1", 198, "patient_id"),
    ("mono_20_0", 158, "patient_name"),
    ("serif_20_2", 202, "birth_date"),
    ("condensed_oblique_11_1", 215, "patient_id"),
    ("pil34_0", 110, "patient_name"),
    ("pil9_0", 218, "patient_name"),
    ("dim115_2", 278, "birth_date"),
    ("red_1", 365, "patient_id"),
    ("yellow_2", 409, "birth_date"),
    ("edge12_0", 237, "patient_name"),
    ("spaced12_1", 361, "patient_id"),
    ("bold18_2", 266, "birth_date"),
    ("beside18_0", 378, "patient_name"),
    ("jpeg12_1", 270, "patient_id"),
    ("mrn10", 377, "patient_id"),
    ("date14", 232, "birth_date"),
    ("dot18_1", 418, "patient_id"),
    ("under18_0", 150, "patient_name"),
    ("xl16_2", 361, "birth_date"),
    ("lower12", 145, "patient_name"),
    ("pil52_0", 339, "patient_name"),
    ("pix2x10_2", 236, "birth_date"),
    # letter spaced by two thirds of the letters' size (the gate was trained on text drawn
    # in one run): these scored -5.0 to -5.8 and were skipped with THRESHOLD -5.0
    ("sp18_12_1", 368, "patient_id"),
    ("spm18_12_1", 405, "patient_id"),
    ("spm18_14_1", 139, "patient_id"),
    ("spm24_16_1", 435, "patient_id"),
    ("spm18_12_1", 166, "patient_id"),
    ("spm18_14_1", 240, "patient_id"),
    ("spm18_12_2", 256, "birth_date"),
    # 60 px letters (a 43 px line) on the margin beside the fan: the gate retrained with
    # letter-spaced text scored it -7.9; lines taller than the training's are read anyway
    ("margin:pil60_0", 174, "patient_name"),
]

_BY_NAME = {case.name: case for case in cases() + hard_cases() + spacing_cases()}


def _frame_and_ids(name: str, seed: int):
    """The attack frame (``margin:`` before a name: planted on the black margin beside the
    fan) and the study's identifiers."""
    where, _, plain = name.rpartition(":")
    case = _BY_NAME[plain]
    if where == "margin":
        case = replace(case, style="outside")
    return build(case, seed), case.ids


@pytest.mark.parametrize(("name", "seed", "kind"), CASES)
def test_turned_identifier_is_caught_with_the_gate_on(name, seed, kind):
    require_tesseract_executable()
    frame, ids = _frame_and_ids(name, seed)
    assert kind in ocr_identifiers(frame, ids), name


def test_the_cases_are_caught_only_through_their_turned_line(monkeypatch):
    """Every case rests on the gate: with no turned line read (the gate closed) the
    verification misses it. (A case a later change catches another way no longer tests the
    gate: replace it with another attack frame from ``tools/attack_line_gate.py``.)"""
    require_tesseract_executable()
    monkeypatch.setattr(line_gate, "may_be_text", lambda image: False)
    caught = []
    for name, seed, kind in CASES:
        frame, ids = _frame_and_ids(name, seed)
        if kind in ocr_identifiers(frame, ids):
            caught.append(name)
    assert caught == []


def test_the_cases_are_caught_with_every_turned_line_read(monkeypatch):
    """With the gate open (every turned line read) the verification catches every case: a
    case missed with the gate on is the gate's doing."""
    require_tesseract_executable()
    monkeypatch.setattr(line_gate, "may_be_text", lambda image: True)
    missed = []
    for name, seed, kind in CASES:
        frame, ids = _frame_and_ids(name, seed)
        if kind not in ocr_identifiers(frame, ids):
            missed.append(name)
    assert missed == []
