"""Annotation phrasings scanners use, with the OCR confusions tesseract makes, and the text on
a screen that must not yield a field (measurements, clinic and probe names, times of day)."""

from __future__ import annotations

import pytest

from cadbusi_assets.ultrasound.annotations import (
    parse_annotation,
    parse_clock,
    parse_laterality,
    parse_nipple_distance,
    parse_orientation,
)

FIELDS = ("laterality", "clock_position", "nipple_distance_cm", "orientation", "body_area")


def _fields(text: str) -> tuple[object, ...]:
    parsed = parse_annotation(text)
    return tuple(getattr(parsed, name) for name in FIELDS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the phrasings of the issue
        ("RT BREAST 10:00 3CMFN", ("RIGHT", "10:00", 3.0, None, "breast")),
        ("L BR 2 O'CLOCK 4 CM FN", ("LEFT", "2:00", 4.0, None, "breast")),
        ("BREAST R 5:00 5CM FN", ("RIGHT", "5:00", 5.0, None, "breast")),
        ("LT 12:00 SUBAREOLAR", ("LEFT", "12:00", None, None, "breast")),
        # sides
        ("RIGHT BREAST 7:00 2 CM FN", ("RIGHT", "7:00", 2.0, None, "breast")),
        ("LEFT BR 11:30 6CM FROM NIPPLE", ("LEFT", "11:30", 6.0, None, "breast")),
        ("R BREAST 9 OCLOCK 1 CM FN RAD", ("RIGHT", "9:00", 1.0, "radial", "breast")),
        ("L 2:30 4 CM FN", ("LEFT", "2:30", 4.0, None, "breast")),
        ("R 10 O'CLOCK 3CMFN TRANS", ("RIGHT", "10:00", 3.0, "transverse", "breast")),
        ("BR L 6:00 RETROAREOLAR", ("LEFT", "6:00", None, None, "breast")),
        ("RT RETROAREOLAR SAG", ("RIGHT", "RETROAREOLAR", None, "longitudinal", "breast")),
        ("LT SUB-AREOLAR ARAD", ("LEFT", "SUBAREOLAR", None, "antiradial", "breast")),
        # distances
        ("LT BREAST 3:00 2 CM FROM THE NIPPLE", ("LEFT", "3:00", 2.0, None, "breast")),
        ("RT BREAST 4:00 7 CM F/N", ("RIGHT", "4:00", 7.0, None, "breast")),
        ("RT BREAST 4:00 3.5CM FN", ("RIGHT", "4:00", 3.5, None, "breast")),
        ("RT BREAST 4:00 12CMFN", ("RIGHT", "4:00", 12.0, None, "breast")),
        ("RT BREAST 4:00 15CMFN", ("RIGHT", "4:00", 15.0, None, "breast")),
        # orientations
        ("LT BREAST 1:00 LONG", ("LEFT", "1:00", None, "longitudinal", "breast")),
        ("LT BREAST 1:00 LONGITUDINAL", ("LEFT", "1:00", None, "longitudinal", "breast")),
        ("LT BREAST 1:00 SAGITTAL", ("LEFT", "1:00", None, "longitudinal", "breast")),
        ("LT BREAST 1:00 TRANSVERSE", ("LEFT", "1:00", None, "transverse", "breast")),
        ("LT BREAST 1:00 TRV", ("LEFT", "1:00", None, "transverse", "breast")),
        ("LT BREAST 1:00 RADIAL", ("LEFT", "1:00", None, "radial", "breast")),
        ("LT BREAST 1:00 ANTIRAD", ("LEFT", "1:00", None, "antiradial", "breast")),
        ("LT BREAST 1:00 ANTI-RADIAL", ("LEFT", "1:00", None, "antiradial", "breast")),
        ("lt breast 1:00 arad", ("LEFT", "1:00", None, "antiradial", "breast")),
        # the generator's two-line and three-line layouts
        ("LEFT BREAST\n8:30  5 CM FN\nTRV", ("LEFT", "8:30", 5.0, "transverse", "breast")),
        ("RT BREAST\n12:00 1CMFN SAG", ("RIGHT", "12:00", 1.0, "longitudinal", "breast")),
        ("RT AXILLA LONG", ("RIGHT", None, None, "longitudinal", "axilla")),
    ],
)
def test_scanner_phrasings(text, expected):
    assert _fields(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # O read for 0, l / I / | for 1, S for 5
        ("RT BREAST 1O:00 3CMFN", ("RIGHT", "10:00", 3.0, None, "breast")),
        ("RT BREAST l0:3O 3CMFN", ("RIGHT", "10:30", 3.0, None, "breast")),
        ("LT BREAST 1l:00 2 CM FN", ("LEFT", "11:00", 2.0, None, "breast")),
        ("LT BREAST I2:OO", ("LEFT", "12:00", None, None, "breast")),
        ("BREAST R S:00 SCM FN", ("RIGHT", "5:00", 5.0, None, "breast")),
        ("RT BREAST 7:00 lO CM FN", ("RIGHT", "7:00", 10.0, None, "breast")),
        ("L BR 2 0'CLOCK 4 CM FN", ("LEFT", "2:00", 4.0, None, "breast")),
        ("L BR l1 O'CLOCK 4 CM FN", ("LEFT", "11:00", 4.0, None, "breast")),
        ("LT BREAST 2:00 L0NG", ("LEFT", "2:00", None, "longitudinal", "breast")),
        ("LT BREAST 2:00 5AG", ("LEFT", "2:00", None, "longitudinal", "breast")),
        ("LT BREAST 2:00 TRAN5", ("LEFT", "2:00", None, "transverse", "breast")),
        ("LT BREAST 2:00 RAD1AL", ("LEFT", "2:00", None, "radial", "breast")),
        ("1T BREAST 2:00", ("LEFT", "2:00", None, None, "breast")),
        ("RT BREA5T 4:00 4CMFN", ("RIGHT", "4:00", 4.0, None, "breast")),
        ("LT 12;00 5UBAREOLAR", ("LEFT", "12:00", None, None, "breast")),
    ],
)
def test_ocr_confusions(text, expected):
    assert _fields(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "D1 1.58 cm",
        "D1 1.58 cm  D2 0.96 cm",
        "Dist 2.00 cm",
        "D1 1.30 om",
        "Area 1.45 cm2",
        "Vol 3.15 ml",
        "L12-5 12MHz",
        "C5-1",
        "9L4 16MHz",
        "ML6-15",
        "Gn 36 DR 72",
        "FR 27 Hz",
        "MI 1.10 TIS 0.4",
        "14:32:05",
        "09:30 AM",
        "10:15 PM",
        "12/10/2026 10:45:03",
        "LONG ISLAND RADIOLOGY",
        "ST. LUKE'S RADIOLOGY",
        "SAGE WOMEN'S IMAGING",
        "TRANSDUCER",
        "DEPTH 4.0 cm",
        "Res 2D 45%",
        "PRF 1.5 kHz",
    ],
)
def test_screen_text_yields_no_field(text):
    assert _fields(text) == (None, None, None, None, None), text


def test_measurement_beside_an_annotation_does_not_change_it():
    fields = parse_annotation("RT BREAST 10:00 3CMFN\nTRANS\nD1 1.58 cm D2 1.15 cm\nL12-5")
    assert (fields.laterality, fields.clock_position, fields.nipple_distance_cm) == (
        "RIGHT",
        "10:00",
        3.0,
    )
    assert fields.orientation == "transverse"


def test_an_upper_case_l_glued_to_a_clock_is_the_side_not_a_one():
    assert parse_clock("L2:00 4CMFN") == "2:00"
    assert parse_clock("l2:00") == "12:00"


@pytest.mark.parametrize(
    ("text", "side"),
    [("RT", "RIGHT"), ("LT", "LEFT"), ("R BR", "RIGHT"), ("L BREAST", "LEFT"), ("RIGHT", "RIGHT")],
)
def test_sides(text, side):
    assert parse_laterality(text) == side


def test_fields_one_by_one():
    assert parse_nipple_distance("3 CM FR NIPPLE") == 3.0
    assert parse_nipple_distance("3 CM F.N.") == 3.0
    assert parse_orientation("A-RAD") == "antiradial"
    assert parse_orientation("OBLIQUE") == "oblique"


def test_an_hour_glued_to_the_side_stays_a_digit():
    """Found on a tuning family: OCR read "L BR 5 O'CLOCK" as "LBR5 O'CLOCK"."""
    assert parse_clock("LBR5 O'CLOCK 2 CM FN") == "5:00"
