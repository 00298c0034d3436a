"""Operator annotation text -> laterality, orientation, clock position, nipple distance, area.

The text comes from OCR, so the rules accept the usual scanner abbreviations and a few OCR
confusions, and refuse lookalikes: ``1.2 cm`` is a measurement, not the clock position 1:20;
``L12-5`` is a probe name, not the left side.

>>> fields = parse_annotation("LT BREAST\\n2:00 3 CM FN\\nTRANS")
>>> fields.laterality, fields.clock_position, fields.nipple_distance_cm, fields.orientation
('LEFT', '2:00', 3.0, 'transverse')
>>> parse_annotation("D1 1.2 cm  D2 0.8 cm").clock_position is None
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ORIENTATIONS = (
    ("antiradial", r"A\s*-?\s*RAD(?:IAL)?|ANTI\s*-?\s*RAD(?:IAL)?"),
    ("radial", r"RAD(?:IAL)?"),
    ("transverse", r"TRANS(?:VERSE)?|TRV|TRNS|TRAN"),
    ("longitudinal", r"LONG(?:ITUDINAL)?|LONG|LON|SAG(?:ITTAL)?"),
    ("oblique", r"OBL(?:IQUE)?|OBLQ"),
)
QUADRANTS = {
    "UOQ": "UOQ",
    "UIQ": "UIQ",
    "LOQ": "LOQ",
    "LIQ": "LIQ",
    "SA": "SUBAREOLAR",
    "RA": "RETROAREOLAR",
    "SUBAREOLAR": "SUBAREOLAR",
    "RETROAREOLAR": "RETROAREOLAR",
}
MIN_DISTANCE_CM, MAX_DISTANCE_CM = 0.0, 25.0

#: "LT", "LEFT", "L BREAST", and the side after the organ ("BREAST L 5:00", "BR R").
_LEFT = re.compile(
    r"\b(?:LT|LEFT|LFT|L(?=\s+(?:BREAST|BR|AXILLA|AX)\b)|(?<=BREAST\s)L|(?<=\bBR\s)L)\b"
)
_RIGHT = re.compile(
    r"\b(?:RT|RIGHT|RGT|R(?=\s+(?:BREAST|BR|AXILLA|AX)\b)|(?<=BREAST\s)R|(?<=\bBR\s)R)\b"
)
#: not followed by a unit; OCR reads the "c" of "cm" as "o", "0" or "e" ("D1 1.30 om")
_NOT_A_UNIT = r"(?![\d.,:])(?!\s*(?:[CO0E]\s*M\b|C\s*M|CRN|MM|%|HZ|MHZ|S\b))"
#: "2:00"; OCR may read the colon as ';'.
_CLOCK = re.compile(r"(?<![\d.,:])(1[0-2]|0?[1-9])\s*[:;]\s*([0-5]\d)" + _NOT_A_UNIT)
#: "2.30" only with quarter-hour minutes, so "MI 1.10" or "1.25" are not clock positions.
_CLOCK_DOT = re.compile(r"(?<![\d.,:])(1[0-2]|0?[1-9])\s*[.]\s*(00|15|30|45)" + _NOT_A_UNIT)
_OCLOCK = re.compile(r"(?<![\d.,])(1[0-2]|0?[1-9])\s*(?:O'?\s*CLOCK|OCLOCK|O'C)\b")
_QUADRANT = re.compile(r"\b(UOQ|UIQ|LOQ|LIQ|SUB\s*-?\s*AREOLAR|RETRO\s*-?\s*AREOLAR)\b")
#: "3 CM FN", "4CMFN", "2-3 cm from nipple"; OCR may add a stray letter before CM ("6BCMFN")
#: or an E inside FN ("CMFEN").
_DISTANCE = re.compile(
    r"(?<![\d.,])(\d{1,2}(?:[.,]\d)?)\s*(?:-\s*(\d{1,2}(?:[.,]\d)?)\s*)?[A-Z]?\s*C\s*M\s*"
    r"(?:F\s*E?\s*N|FROM\s+(?:THE\s+)?NIPPLE|FTN)"
)
#: A clock position whose colon OCR lost ("400 7CMFN"), trusted only before a distance.
_CLOCK_NO_COLON = re.compile(
    r"(?<![\d.,:])(1[0-2]|[1-9])(00|15|30|45)(?=\s+\d{1,2}(?:[.,]\d)?\s*[A-Z]?\s*C\s*M)"
)
#: Farther than this from the nipple is outside a breast: most likely a lost decimal point.
PLAUSIBLE_DISTANCE_CM = 12.0
#: A caliper measurement: a decimal number of centimetres ("D1 1.58 cm", "Dist 0.96cm").
_MEASUREMENT = re.compile(r"\d[.,]\d{1,2}\s*C\s*M\b")
_AXILLA = re.compile(r"\b(?:AXILLA|AXILLARY|AXILL\w*|AX)\b")
_BREAST = re.compile(r"\bBREAST\b")


@dataclass(frozen=True)
class AnnotationFields:
    laterality: str | None = None  # 'LEFT' | 'RIGHT'
    orientation: str | None = None  # 'transverse' | 'longitudinal' | 'radial' | ...
    clock_position: str | None = None  # 'H:MM' or a quadrant ('UOQ', ...)
    nipple_distance_cm: float | None = None
    body_area: str | None = None  # 'breast' | 'axilla'


def _normalize(text: str) -> str:
    text = text.upper().replace("’", "'").replace("`", "'")
    # OCR doubles or mixes the colon of a clock position: "2:;00", "10::30".
    text = re.sub(r"(?<=\d)\s*[:;][:;.]*\s*(?=\d)", ":", text)
    # OCR confusions inside number+unit tokens: S/O misread for 5/0 before CM.
    text = re.sub(r"\b([0-9]*)S(\s*CM)", lambda m: m.group(1) + "5" + m.group(2), text)
    text = re.sub(r"(\d)O(\s*CM)", r"\g<1>0\2", text)
    return text


def _first(patterns: list[tuple[str, re.Pattern[str]]], text: str) -> str | None:
    best: tuple[int, str] | None = None
    for value, pattern in patterns:
        match = pattern.search(text)
        if match and (best is None or match.start() < best[0]):
            best = (match.start(), value)
    return None if best is None else best[1]


_ORIENTATION_PATTERNS = [(v, re.compile(rf"\b(?:{p})\b")) for v, p in ORIENTATIONS]


def parse_laterality(text: str) -> str | None:
    """The first side named in ``text`` ('LEFT' / 'RIGHT'), or None."""
    return _first([("LEFT", _LEFT), ("RIGHT", _RIGHT)], _normalize(text))


def parse_orientation(text: str) -> str | None:
    text = _normalize(text)
    found: tuple[int, str] | None = None
    for value, pattern in _ORIENTATION_PATTERNS:
        match = pattern.search(text)
        if match and (found is None or match.start() < found[0]):
            found = (match.start(), value)
    return None if found is None else found[1]


def parse_clock(text: str) -> str | None:
    """``H:MM`` (hours 1-12), ``H:00`` from "H o'clock", or a quadrant; None otherwise."""
    text = _normalize(text)
    match = _CLOCK.search(text) or _CLOCK_DOT.search(text) or _CLOCK_NO_COLON.search(text)
    if match:
        return f"{int(match.group(1))}:{match.group(2)}"
    match = _OCLOCK.search(text)
    if match:
        return f"{int(match.group(1))}:00"
    match = _QUADRANT.search(text)
    if not match:
        return None
    word = re.sub(r"[\s-]", "", match.group(1))
    return QUADRANTS.get(word, word)


def parse_nipple_distance(text: str) -> float | None:
    """Distance from the nipple in cm ("3 CM FN", "4CMFN", "2-3 cm from nipple")."""
    match = _DISTANCE.search(_normalize(text))
    if not match:
        return None
    values = [float(v.replace(",", ".")) for v in match.groups() if v]
    value = round(sum(values) / len(values), 2)
    return value if MIN_DISTANCE_CM < value <= MAX_DISTANCE_CM else None


def parse_body_area(
    text: str, clock: str | None = None, distance: float | None = None
) -> str | None:
    text = _normalize(text)
    if _AXILLA.search(text):
        return "axilla"
    if _BREAST.search(text) or clock is not None or distance is not None:
        return "breast"
    return None


def looks_misread(line: str) -> bool:
    """True for a line that seems to hold a clock or distance OCR did not read cleanly
    (digits and 'CM' without a parsable distance, a clock without its colon, a distance
    no breast has); such a line is worth reading again at another scale. A caliper
    measurement read cleanly ("D1 1.58 cm") is not.

    >>> looks_misread("D1 1.58 cm  D2 1.79 cm"), looks_misread("4:00 7CMEN"), looks_misread("1.2 CM FN")
    (False, True, False)
    """
    text = _normalize(line)
    if not re.search(r"\d", text):
        return False
    distance = parse_nipple_distance(text)
    if (
        distance is None
        and _MEASUREMENT.search(text)
        and not re.search(r"F\s*E?\s*N|NIPPLE|FTN", text)
    ):
        return False
    if re.search(r"C\s*M", text) and (distance is None or distance > PLAUSIBLE_DISTANCE_CM):
        return True
    return bool(_CLOCK_NO_COLON.search(text)) and not _CLOCK.search(text)


def parse_annotation(text: str | None) -> AnnotationFields:
    if not text:
        return AnnotationFields()
    clock = parse_clock(text)
    distance = parse_nipple_distance(text)
    return AnnotationFields(
        laterality=parse_laterality(text),
        orientation=parse_orientation(text),
        clock_position=clock,
        nipple_distance_cm=distance,
        body_area=parse_body_area(text, clock, distance),
    )
