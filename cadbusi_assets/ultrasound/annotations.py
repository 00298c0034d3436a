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

import functools
import re
from dataclasses import dataclass

ORIENTATIONS = (
    ("antiradial", r"A\s*-?\s*RAD(?:IAL)?|ANTI\s*-?\s*RAD(?:IAL)?|ANTRAD"),
    ("radial", r"RAD(?:IAL)?"),
    ("transverse", r"TRANS(?:V|VERSE)?|TRV|TRNS|TRAN|TRS"),
    (
        "longitudinal",
        # "LONG ISLAND RADIOLOGY" and "LONG BEACH" are clinics, not orientations
        r"(?:LONG(?:IT|ITUD|ITUDINAL)?|LON|LNG)(?!\s+(?:ISLAND|BEACH)\b)|SAG(?:IT|ITTAL)?",
    ),
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
#: A lone "L" / "R" counts before the organ, after it, or right before a clock position
#: ("L 2:30 4 CM FN", "R 10 O'CLOCK"); never inside a probe name ("L12-5") or a word.
_SIDE_CONTEXT = (
    r"(?=\s+(?:BREAST|BR|AXILLA|AX)\b)"
    r"|(?=\s+(?:1[0-2]|0?[1-9])\s*(?::[0-5]\d|O'?\s*CLOCK|OCLOCK)(?![\d:]))"
)
_LEFT = re.compile(rf"\b(?:LT|LEFT|LFT|L(?:{_SIDE_CONTEXT})|(?<=BREAST\s)L|(?<=\bBR\s)L)\b")
_RIGHT = re.compile(rf"\b(?:RT|RIGHT|RGT|R(?:{_SIDE_CONTEXT})|(?<=BREAST\s)R|(?<=\bBR\s)R)\b")
#: not followed by a unit; OCR reads the "c" of "cm" as "o", "0" or "e" ("D1 1.30 om")
#: (nor by other units a screen shows next to a number: "Vol 3.15 ml", "FR 12.30 Hz"), nor by
#: AM / PM (a time of day).
_NOT_A_UNIT = (
    r"(?![\d.,:])(?!\s*(?:[CO0E]\s*M\b|C\s*M|CRN|MM|ML|%|K?HZ|MHZ|DB\b|FPS|S\b|M\s*/\s*S"
    r"|KPA|[AP]\.?\s*M\b))"
)
#: "2:00"; OCR may read the colon as ';'.
_CLOCK = re.compile(r"(?<![\d.,:])(1[0-2]|0?[1-9])\s*[:;]\s*([0-5]\d)" + _NOT_A_UNIT)
#: "2.30" only with quarter-hour minutes, so "MI 1.10" or "1.25" are not clock positions.
_CLOCK_DOT = re.compile(r"(?<![\d.,:])(1[0-2]|0?[1-9])\s*[.]\s*(00|15|30|45)" + _NOT_A_UNIT)
_OCLOCK = re.compile(r"(?<![\d.,])(1[0-2]|0?[1-9])\s*(?:[O0]\s*'?\s*CL[O0]CK|[O0]'C)\b")
_QUADRANT = re.compile(r"\b(UOQ|UIQ|LOQ|LIQ|SUB\s*-?\s*AREOLAR|RETRO\s*-?\s*AREOLAR)\b")
#: "3 CM FN", "4CMFN", "2-3 cm from nipple"; OCR may add a stray letter before CM ("6BCMFN")
#: or an E inside FN ("CMFEN").
_DISTANCE = re.compile(
    r"(?<![\d.,])(\d{1,2}(?:[.,]\d)?)\s*(?:-\s*(\d{1,2}(?:[.,]\d)?)\s*)?[A-Z]?\s*C\s*M\s*"
    r"(?:F\s*[./]?\s*E?\s*N\b\.?|FR(?:OM)?\s+(?:THE\s+)?NIP(?:PLE)?|FTN)"
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


#: Characters OCR reads for digits inside a number (case matters: an upper-case "L" is
#: the left side in "L2:00" with its space lost, a lower-case "l" is a 1).
_AS_DIGIT = str.maketrans(
    {"O": "0", "o": "0", "D": "0", "l": "1", "I": "1", "|": "1", "i": "1", "S": "5", "s": "5"}
)
_AS_LETTER = str.maketrans({"0": "O", "1": "I", "5": "S"})
_DIGITISH = "0-9OoDlIi|Ss"
#: A clock position or an hour before "o'clock" in which OCR put letters for digits:
#: "1O:3O", "l0:00", "S:00", "l1 O'CLOCK" (at least one real digit or the colon form).
_FUZZY_CLOCK = re.compile(
    rf"(?<![\w.,:])([{_DIGITISH}]{{1,2}})(\s*[:;]\s*)([{_DIGITISH}]{{2}})(?![\w:])"
    rf"|(?<![\w.,:])([{_DIGITISH}]{{1,2}})(?=\s*[O0o]\s*'?\s*[Cc][Ll][Oo0][Cc][Kk])"
)
#: A number before "cm" in which OCR put letters for digits ("S CM FN", "lO CM FN").
_FUZZY_CM = re.compile(
    rf"(?<![\w.,])([{_DIGITISH}]{{1,2}}(?:[.,][{_DIGITISH}])?)(?=\s*[Cc]\s*[Mm])"
)
#: A word in which OCR put digits for letters ("L0NG", "5AG", "RAD1AL", "TRAN5").
_WORD = re.compile(r"\b[A-Z015]{3,}\b")


def _digits(text: str) -> str:
    return text.translate(_AS_DIGIT)


def _fold_clock(match: re.Match[str]) -> str:
    if match.group(4) is not None:
        hour = match.group(4)
        return _digits(hour) if any(c.isdigit() for c in hour) or len(hour) == 1 else hour
    return _digits(match.group(1)) + match.group(2) + _digits(match.group(3))


def _fold_cm(match: re.Match[str]) -> str:
    return _digits(match.group(1))


#: Annotation words whose digits-for-letters misreadings are folded back ("L0NG", "5AG");
#: other words keep their digits ("LBR5 O'CLOCK": the hour glued to the side).
_FOLDABLE = frozenset(
    [
        "LONG",
        "LONGITUDINAL",
        "SAG",
        "SAGITTAL",
        "TRANS",
        "TRANSVERSE",
        "TRV",
        "RAD",
        "RADIAL",
        "ARAD",
        "ANTIRAD",
        "ANTIRADIAL",
        "OBL",
        "OBLIQUE",
        "BREAST",
        "SUBAREOLAR",
        "RETROAREOLAR",
        "LEFT",
        "RIGHT",
        "AXILLA",
    ]
)


def _fold_word(match: re.Match[str]) -> str:
    word = match.group(0)
    folded = word.translate(_AS_LETTER)
    return folded if folded != word and folded in _FOLDABLE else word


@functools.lru_cache(maxsize=1024)
def _normalize(text: str) -> str:
    """``text`` with OCR's confusions folded (see the substitutions), upper-cased. Cached
    per string (a pure function of it, asked about the same line many times: each field
    parser of :func:`parse_annotation`, :func:`looks_misread`, :func:`has_fields` and the
    learned reader's vocabulary test normalize it again; the texts stay in memory as the
    line readers' own caches keep them)."""
    text = _FUZZY_CLOCK.sub(_fold_clock, text.replace("’", "'").replace("`", "'"))
    text = _FUZZY_CM.sub(_fold_cm, text)
    text = _WORD.sub(_fold_word, text.upper())
    # "1T" or "|T": OCR read the L of "LT" as a one.
    text = re.sub(r"(?<![\w.])[1|]T\b", "LT", text)
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


def clean_numbers(line: str) -> tuple[str | None, float | None]:
    """The clock and the nipple distance of ``line`` where each was read cleanly on its own:
    a clock with its colon, a distance a breast can have (None otherwise). One misread number
    does not spoil the other ("400 3CMFN": no clock, 3.0 cm).

    >>> clean_numbers("400 3CMFN"), clean_numbers("4:00 3CM FN"), clean_numbers("2:00 83CMFN")
    ((None, 3.0), ('4:00', 3.0), ('2:00', None))
    """
    text = _normalize(line)
    clock = parse_clock(text) if _CLOCK.search(text) else None
    distance = parse_nipple_distance(text)
    if distance is not None and distance > PLAUSIBLE_DISTANCE_CM:
        distance = None
    return clock, distance


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


def has_fields(text: str) -> bool:
    """True when ``text`` names any annotation field (side, orientation, clock position,
    nipple distance, body area).

    >>> has_fields("RT BREAST"), has_fields("4:00 7CMFN"), has_fields("D1 1.58 cm"), has_fields("Gn 36")
    (True, True, False, False)
    """
    fields = parse_annotation(text)
    return any(
        value is not None
        for value in (
            fields.laterality,
            fields.orientation,
            fields.clock_position,
            fields.nipple_distance_cm,
            fields.body_area,
        )
    )


_ORIENTATION_WORDS = {
    "antiradial": "ARAD",
    "radial": "RAD",
    "transverse": "TRANS",
    "longitudinal": "LONG",
    "oblique": "OBL",
}


def fields_text(fields: AnnotationFields) -> str | None:
    """One line that :func:`parse_annotation` reads back as ``fields`` exactly, or None when
    no such line is written here (a distance with two decimals, say).

    >>> fields_text(AnnotationFields("RIGHT", "transverse", "10:00", 3.0, "breast"))
    'RT BREAST 10:00 3CMFN TRANS'
    >>> fields_text(AnnotationFields("LEFT", None, "SUBAREOLAR", None, "breast"))
    'LT BREAST SUBAREOLAR'
    """
    words = []
    if fields.laterality is not None:
        words.append({"LEFT": "LT", "RIGHT": "RT"}.get(fields.laterality, "?"))
    if fields.body_area is not None:
        words.append(fields.body_area.upper())
    if fields.clock_position is not None:
        words.append(fields.clock_position)
    if fields.nipple_distance_cm is not None:
        words.append(f"{fields.nipple_distance_cm:g}CMFN")
    if fields.orientation is not None:
        words.append(_ORIENTATION_WORDS.get(fields.orientation, "?"))
    text = " ".join(words)
    return text if text and parse_annotation(text) == fields else None
