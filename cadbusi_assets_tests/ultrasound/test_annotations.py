from __future__ import annotations

import pytest

from cadbusi_assets.ultrasound.annotations import (
    parse_annotation,
    parse_body_area,
    parse_clock,
    parse_laterality,
    parse_nipple_distance,
    parse_orientation,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("LT BREAST", "LEFT"),
        ("left", "LEFT"),
        ("RT", "RIGHT"),
        ("R BREAST 2:00", "RIGHT"),
        ("L AXILLA", "LEFT"),
        ("L12-5 Breast", None),  # probe name
        ("RES 2D", None),
        ("", None),
    ],
)
def test_laterality(text, expected):
    assert parse_laterality(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2:00", "2:00"),
        ("10:30 3 CM FN", "10:30"),
        ("12;00", "12:00"),  # OCR reads the colon as a semicolon
        ("9.30", "9:30"),
        ("3 o'clock", "3:00"),
        ("UOQ", "UOQ"),
        ("1.2 cm", None),  # a measurement, not 1:20
        ("1.25 cm", None),
        ("D1 0.45 cm", None),
        ("MI 1.10", None),
        ("13:00", None),
        ("08:48:26", None),  # a time of day
        ("4.5CMFN", None),
    ],
)
def test_clock_position(text, expected):
    assert parse_clock(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3 CM FN", 3.0),
        ("4CMFN", 4.0),
        ("4.5 cm fn", 4.5),
        ("2-3 cm from nipple", 2.5),
        ("SCMFN", 5.0),  # OCR reads 5 as S
        ("1.2 cm", None),  # no 'from nipple': a measurement
        ("40 CM FN", None),  # out of range
    ],
)
def test_nipple_distance(text, expected):
    assert parse_nipple_distance(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("TRANS", "transverse"),
        ("TRV", "transverse"),
        ("LONG", "longitudinal"),
        ("SAG", "longitudinal"),
        ("RAD", "radial"),
        ("RADIAL", "radial"),
        ("ARAD", "antiradial"),
        ("ANTI-RADIAL", "antiradial"),
        ("OBL", "oblique"),
        ("RADIOLOGY", None),
        ("Gn 52", None),
    ],
)
def test_orientation(text, expected):
    assert parse_orientation(text) == expected


def test_body_area():
    assert parse_body_area("RT AXILLA") == "axilla"
    assert parse_body_area("LT BREAST") == "breast"
    assert parse_body_area("LEFT", clock="2:00") == "breast"
    assert parse_body_area("LEFT") is None


def test_whole_annotation_and_empty_text():
    fields = parse_annotation("RIGHT\n10:30 4CMFN\nARAD")
    assert (fields.laterality, fields.clock_position, fields.nipple_distance_cm) == (
        "RIGHT",
        "10:30",
        4.0,
    )
    assert (fields.orientation, fields.body_area) == ("antiradial", "breast")
    empty = parse_annotation(None)
    assert empty.laterality is None and empty.clock_position is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("RT BREAST 10:00 3CMFN", ("RIGHT", "10:00", 3.0, None, "breast")),
        ("L BR 2 O'CLOCK 4 CM FN", ("LEFT", "2:00", 4.0, None, "breast")),
        ("BREAST R 5:00 5CM FN", ("RIGHT", "5:00", 5.0, None, "breast")),  # side after organ
        ("BR L 7:30 2CM FN", ("LEFT", "7:30", 2.0, None, "breast")),
        ("LT 12:00 SUBAREOLAR", ("LEFT", "12:00", None, None, "breast")),
        ("RT SUBAREOLAR RADIAL", ("RIGHT", "SUBAREOLAR", None, "radial", "breast")),
        ("LT BREAST\n3:00 2 CM FN\nANTIRADIAL", ("LEFT", "3:00", 2.0, "antiradial", "breast")),
        ("R BREAST 9:00 ANTI-RAD", ("RIGHT", "9:00", None, "antiradial", "breast")),
        ("LEFT BREAST 1:00 TRANSVERSE", ("LEFT", "1:00", None, "transverse", "breast")),
        ("RT BREAST 11:00 SAGITTAL", ("RIGHT", "11:00", None, "longitudinal", "breast")),
        ("L12-5 BREAST LONG", (None, None, None, "longitudinal", "breast")),  # probe, not side
    ],
)
def test_scanner_phrasings(text, expected):
    fields = parse_annotation(text)
    got = (
        fields.laterality,
        fields.clock_position,
        fields.nipple_distance_cm,
        fields.orientation,
        fields.body_area,
    )
    assert got == expected


def test_a_measurement_whose_unit_ocr_misread_is_not_a_clock_position():
    """Found by the held-out lesion evaluation: OCR read "D1 1.30 cm" as "D1 1.30 om", and the
    reader took 1.30 for the clock position 1:30."""
    from cadbusi_assets.ultrasound.annotations import parse_clock

    for text in ("D1 1.30 om", "D1 1.30 0m", "D2 2.15 em", "D1 1.30 crn"):
        assert parse_clock(text) is None, text
    assert parse_clock("RT BREAST 1.30 3CMFN") == "1:30"
    assert parse_clock("L 2:30 4 CM FN") == "2:30"
