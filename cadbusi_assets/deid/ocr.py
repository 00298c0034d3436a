"""OCR verification of cleaned pixels: is any of the study's own identifiers still readable?

After pixel cleaning, text inside the kept regions (laterality, clock position, distances)
stays on purpose, and whatever else was drawn there stays too. This module finds every
text-like line **anywhere** in a frame (no assumption about where operators type), reads each
one, and reports which *kinds* of the study's identifiers it read. Only the kinds leave this
module; the OCR text is never logged or returned by :func:`ocr_identifiers`.

Finding lines (:func:`find_lines`): the detector shared with the annotation reading,
:func:`cadbusi_assets.ultrasound.textlines.find_text`: thin bright strokes smeared into
lines (searched again at higher brightness inside blobs too big for a line; large text on
a shrunk copy), each kept only when it is text rather than speckle (glyphs of one height on a
baseline with thin strokes on a flat background; over speckle also drawn in one colour with
flat strokes). A bright structure on a flat background that does not come apart into lines
(a Doppler trace with text glued to it) is read in overlapping strips (:func:`strips`).

Reading: each line is cropped, pixels darker than its text are set to background, inverted
to dark-on-light, scaled to ~:data:`LINE_HEIGHT` px and read as a single line by the
per-process ``libtesseract`` engine of :mod:`cadbusi_assets.ultrasound.ocr` (in-process C
API, cached per line image: static text repeated on every frame of a cine is read once).

A learned gate (:mod:`cadbusi_assets.ultrasound.glyphs`, when :func:`ocr_identifiers` reads
the frame itself): a small CNN reads every line of the frame first (a pass per line); a line
it reads with high confidence as the scanner's own vocabulary (gain, probe, annotation,
measurements) keeps that reading and skips tesseract, and so does, in the verification of
:func:`ocr_identifiers` (which parses no annotation), a reading that holds no identifier at
all (:func:`cadbusi_assets.ultrasound.glyphs.holds_no_identifier`: words of one or two
letters, numbers of one or two digits, punctuation, vocabulary; a misread "MI 0.6 TIs 0.3",
a clock drawn alone). Names, IDs, dates and whatever the model is unsure of
are read by tesseract as before: the gate only spares tesseract lines that cannot hold an
identifier, so the verification stays fail-closed (without torch or the weights, tesseract
reads every line).

Text the upright reading does not see (:func:`unseen_text`): the frame turned a quarter
each way (names written vertically) and the inverted brightness of its light, flat panels
(dark text on a label) are searched for lines by the same detector, and chains of thin
strokes too low for it (glyphs of 3-7 px drawn in one colour, :func:`tiny_lines`, upright and
turned a quarter; a caliper mark's arm beside them left out) are searched again scaled 2x,
their brightness stretched; a line that does not lie mostly in the upright reading's lines
is read by tesseract too, as drawn (:func:`turned_line_image`: a stroke-cleaned thin slash
reads as a colon), both ways.

Matching (:func:`find_identifiers_in_ocr_text`): the exact matching of
:func:`cadbusi_assets.deid.scan.find_identifiers_in_text` (names in any order or case, IDs
with or without leading zeros, dates in their common forms), plus what OCR does to text.

Cine (:func:`verification_frames`, the one selection every caller reads): the first, the last
and every :data:`CINE_STEP`-th frame (:func:`verification_frame_indices`), and every other
frame whose text layer differs from that of each frame read before it: lines
(:func:`find_lines` on every frame) holding text pixels the read frame lacks, or a change of
the still layer (the pixels the sampled frames agree on: the screen around the moving image).
Text drawn on a few middle frames is read once, text that moves on each frame it moves to.

Reading once (:func:`read_frame`): a caller that also parses the annotation hands the same
:class:`~cadbusi_assets.ultrasound.ocr.FrameText` to
:func:`cadbusi_assets.ultrasound.analysis.analyze_frame` and no line is read twice.

Blind spots: grey text dimmer than ``DIM_TEXT_LEVEL`` (or grey text on a lit surround),
text no brighter than the speckle it touches, text over speckle that is not one flat colour
(heavily compressed), glyphs under :data:`TINY_MIN_HEIGHT` pixels (and tiny glyphs of
uneven brightness: 1 px anti-aliased strokes of 6 px glyphs, Hershey's plain font; tiny text
dimmer than about 200; tiny text 2-4 px from a mark without straight arms, a diamond), thin
text across the edge of the fan (speckle on one side, black on the other), text turned other
than by a quarter or a half, mirrored text, coloured text on a light panel,
text glued to a bright trace that the strips do not separate, and, on cine frames between the
sampled ones only, text over the moving image that :func:`find_lines` does not find (turned,
tiny, dark on a panel) or that is no brighter than :data:`TEXT_LEVEL`.

>>> import cv2
>>> frame = np.zeros((120, 400), np.uint8)
>>> _ = cv2.putText(frame, "DOE JANE", (150, 80), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 230, 2)
>>> [(x0 < 155, x1 > 260) for x0, y0, x1, y1 in find_lines(frame).lines]
[(True, True)]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache

import cv2
import numpy as np

from cadbusi_assets.deid.errors import DeidentificationError
from cadbusi_assets.deid.identifiers import OriginalIdentifiers
from cadbusi_assets.deid.scan import find_identifiers_in_text
from cadbusi_assets.ultrasound.ocr import STRIP_HEIGHTS, FrameText, strips
from cadbusi_assets.ultrasound.textlines import (
    DIM_TEXT_LEVEL,
    LEVEL_STEPS,
    MAX_LINE_HEIGHT,
    MIN_AREA_WIDTH,
    MIN_TEXT_HEIGHT,
    ROUGH_LEVEL,
    ROUGH_SHARE,
    STROKE_CONTRAST,
    TEXT_LEVEL,
    Box,
    FoundText,
    FrameInk,
    brightness,
    find_text,
    merge_words,
    stroke_contrast,
    text_ink,
)

__all__ = [
    "LEVEL_STEPS",
    "MAX_LINE_HEIGHT",
    "MIN_TEXT_HEIGHT",
    "STRIP_HEIGHTS",
    "STROKE_CONTRAST",
    "TEXT_LEVEL",
    "FoundText",
    "FrameText",
    "brightness",
    "find_identifiers_in_ocr_text",
    "find_lines",
    "merge_words",
    "ocr_identifiers",
    "ocr_text",
    "read_frame",
    "strips",
    "stroke_contrast",
    "text_ink",
    "verification_frame_indices",
]

#: Inside a line box, pixels below this percentile (or below the line's
#: :func:`~cadbusi_assets.ultrasound.ocr.reading_floor`) are background for reading.
BACKGROUND_PERCENTILE = 60
#: Line images are scaled to about this height (tesseract reads small UI fonts far better
#: scaled up), at most :data:`MAX_UPSCALE` times.
LINE_HEIGHT = 26
MAX_UPSCALE = 4.0

_MISSING = "OCR verification needs tesseract (apt-get install tesseract-ocr)"


@lru_cache(maxsize=1)
def tesseract_available() -> bool:
    """True when the OCR engine (``libtesseract``, else the ``tesseract`` command) runs."""
    from cadbusi_assets.ultrasound.ocr import tesseract_available as engine_available

    return engine_available()


# ---------------------------------------------------------------------------------------
# Finding lines: the detector shared with the annotation reading


def find_lines(frame: np.ndarray) -> FoundText:
    """Every text line in ``frame``, speckle told apart, and the bright areas on a flat
    background that do not come apart into lines
    (:func:`cadbusi_assets.ultrasound.textlines.find_text`)."""
    return find_text(frame)


# ---------------------------------------------------------------------------------------
# Reading


def line_image(level: np.ndarray, box: Box, height: int = LINE_HEIGHT) -> np.ndarray:
    """Dark text on light for one line of a :func:`brightness` image, scaled to about
    ``height`` px. Pixels darker than the text (speckle) become background."""
    from cadbusi_assets.ultrasound.ocr import clean_line_image

    return clean_line_image(level, box, height)


def read_lines(level: np.ndarray, boxes: Sequence[Box], height: int = LINE_HEIGHT) -> list[str]:
    """Text of each line box of a :func:`brightness` image, each scaled to about ``height``
    px (handle the result as PHI)."""
    from cadbusi_assets.ultrasound.ocr import TesseractUnavailable, engine

    reader = engine()
    try:
        return [reader.read_line(line_image(level, box, height)) for box in boxes]
    except TesseractUnavailable:
        raise DeidentificationError(_MISSING) from None
    except Exception as exc:  # the command fallback raises pytesseract errors
        raise DeidentificationError(f"OCR failed ({type(exc).__name__})") from None


def read_frame(
    frame: np.ndarray, *, vocabulary_gate: bool = False, fields: bool = True
) -> FrameText:
    """Every line of ``frame`` found and read once
    (:func:`cadbusi_assets.ultrasound.ocr.read_frame_text`), as a
    :class:`~cadbusi_assets.ultrasound.ocr.FrameText` a caller may hand on to the annotation
    reading (handle it as PHI). ``vocabulary_gate``: lines the learned reader reads
    confidently as the screen's own words skip tesseract (what :func:`ocr_identifiers`
    does when it reads the frame itself); ``fields=False``: the annotation's lines too
    (their second, tesseract reading serves only the annotation fields)."""
    from cadbusi_assets.ultrasound.ocr import TesseractUnavailable, read_frame_text

    if not tesseract_available():
        raise DeidentificationError(_MISSING)
    try:
        return read_frame_text(frame, vocabulary_gate=vocabulary_gate, fields=fields)
    except TesseractUnavailable:
        raise DeidentificationError(_MISSING) from None
    except Exception as exc:  # the command fallback raises pytesseract errors
        raise DeidentificationError(f"OCR failed ({type(exc).__name__})") from None


def ocr_text(frame: np.ndarray, reading: FrameText | None = None) -> str:
    """All text read in ``frame``, one line per text line (handle the result as PHI);
    ``reading`` (from :func:`read_frame`) when the frame was read already."""
    return (read_frame(frame) if reading is None else reading).text


# ---------------------------------------------------------------------------------------
# Matching

#: Characters OCR confuses, folded to one form before fuzzy matching.
_LOOKALIKES = str.maketrans(
    {"O": "0", "Q": "0", "D": "0", "I": "1", "L": "1", "|": "1", "S": "5", "B": "8", "Z": "2"}
)
#: Names and IDs at least this long (spaces aside) also match with one OCR error (a
#: character wrong, missing or extra), with look-alike characters folded and with spaces
#: OCR put inside or left out.
FUZZY_MIN_LENGTH = 6
#: Shortest identifier term matched exactly in OCR text.
OCR_MIN_TERM = 3


def _fold_number(token: re.Match[str]) -> str:
    word = token.group(0)
    digits = sum(ch.isdigit() for ch in word)
    return word.translate(_LOOKALIKES) if digits >= max(2, len(word) // 2) else word


def _one_error(term: str) -> list[str]:
    """Regex alternatives matching ``term`` with at most one character wrong, missing or
    extra (inside the term)."""
    out = {re.escape(term)}
    for i in range(len(term)):
        head, tail = re.escape(term[:i]), re.escape(term[i + 1 :])
        out.add(f"{head}.{tail}")
        out.add(head + tail)
        out.add(f"{head}.{re.escape(term[i:])}")
    return sorted(out)


@lru_cache(maxsize=4096)
def _one_error_regex(term: str, digit_bounded: bool) -> re.Pattern[str]:
    """``term`` with at most one error (:func:`_one_error`), digit-bounded for numbers (a
    longer number is another number); compiled once per term (by content)."""
    pattern = "|".join(_one_error(term))
    return re.compile(rf"(?<!\d)(?:{pattern})(?!\d)" if digit_bounded else pattern)


class _OneErrorTerms:
    """Whether a text holds one of ``terms`` with at most one error: what
    ``re.compile("|".join(alternatives of every term))`` finds (its ``search`` is truthy on the
    same texts), without compiling that alternation for every study (10-45 ms).

    One error leaves one half of the term intact (a character wrong, missing or extra before
    the middle leaves the second half, at or after it the first), so a term whose halves are
    both absent from the text cannot match: only a term with a half present is searched, by
    its own pattern, compiled once per term (:func:`_one_error_regex`).
    """

    __slots__ = ("_digit_bounded", "_terms")

    def __init__(self, terms: Sequence[str], digit_bounded: bool) -> None:
        self._terms = tuple(dict.fromkeys(terms))
        self._digit_bounded = digit_bounded

    def search(self, text: str) -> bool:
        for term in self._terms:
            half = len(term) // 2
            if (term[:half] in text or term[half:] in text) and _one_error_regex(
                term, self._digit_bounded
            ).search(text):
                return True
        return False


@lru_cache(maxsize=256)
def _ocr_regexes(
    identifiers: OriginalIdentifiers,
) -> tuple[tuple[str, _OneErrorTerms, _OneErrorTerms], ...]:
    """Per kind: matchers for words (names, IDs with letters: folded text, anywhere) and
    for numbers and dates (digit-bounded: a longer number is another number)."""
    words: dict[str, list[str]] = {}
    numbers: dict[str, list[str]] = {}
    for kind, term in identifiers.search_terms():
        compact = "".join(term.split())
        if len(re.sub(r"[^0-9A-Z]", "", compact)) < FUZZY_MIN_LENGTH:
            continue
        if re.search(r"[A-Z]", compact):
            words.setdefault(kind, []).append(compact.translate(_LOOKALIKES))
        else:
            numbers.setdefault(kind, []).append(compact)
    return tuple(
        (
            kind,
            _OneErrorTerms(words.get(kind, ()), digit_bounded=False),
            _OneErrorTerms(numbers.get(kind, ()), digit_bounded=True),
        )
        for kind in sorted(set(words) | set(numbers))
    )


#: Greek and Cyrillic capitals an English OCR model reads as one Latin letter or digit
#: ("ИВАНОВА" comes out "UBAHOBA", "ΠΑΠΑΔΟΠΟΥΛΟΥ" "NANAAONOYAOY"): each matches what it is
#: read as; every other letter of those scripts matches any one or two characters.
_LATIN_LOOKALIKES = {
    **dict.fromkeys("ΑА", "A4"),
    **dict.fromkeys("ΒВ", "B8"),
    **dict.fromkeys("ΕЕЁ", "E"),
    **dict.fromkeys("ΖZ", "Z2"),
    **dict.fromkeys("ΗН", "H"),
    **dict.fromkeys("ΙІ", "I1L|"),
    **dict.fromkeys("ΚК", "K"),
    **dict.fromkeys("ΜМ", "M"),
    "Ν": "N",
    **dict.fromkeys("ΟО", "O0QD"),
    **dict.fromkeys("ΡР", "P"),
    "С": "C",
    **dict.fromkeys("ΤТ", "T"),
    **dict.fromkeys("ΥУ", "YV"),
    **dict.fromkeys("ΧХ", "X"),
}
#: A Greek or Cyrillic term is searched by its look-alikes when at least this many of its
#: letters, and at least half of them, have a Latin look-alike.
LOOKALIKE_MIN_LETTERS = 5


def _lookalike_pattern(term: str) -> str | None:
    """A regex for how English OCR reads a Greek or Cyrillic ``term`` (spaces removed), or
    None for a term of another script or with too few look-alike letters.

    >>> import re
    >>> bool(re.search(_lookalike_pattern("ИВАНОВА"), "UBAHOBA"))
    True
    >>> bool(re.search(_lookalike_pattern("ΠΑΠΑΔΟΠΟΥΛΟΥ"), "FIATAAOFOYAOY"))
    True
    >>> _lookalike_pattern("MULLER") is None, _lookalike_pattern("ΕΛΕΝΗ") is None
    (True, True)
    """
    letters = [ch for ch in term if not ch.isspace()]
    foreign = [ch for ch in letters if "\u0370" <= ch <= "\u04ff"]
    if not foreign or len(letters) < FUZZY_MIN_LENGTH:
        return None
    alike = sum(ch in _LATIN_LOOKALIKES for ch in letters)
    if alike < LOOKALIKE_MIN_LETTERS or 2 * alike < len(letters):
        return None
    parts = []
    for ch in letters:
        if ch in _LATIN_LOOKALIKES:
            parts.append(f"[{re.escape(_LATIN_LOOKALIKES[ch])}]")
        elif "\u0370" <= ch <= "\u04ff":
            parts.append(".{1,2}")
        else:
            parts.append(re.escape(ch))
    return "".join(parts)


@lru_cache(maxsize=256)
def _lookalike_regexes(identifiers: OriginalIdentifiers) -> tuple[tuple[str, re.Pattern[str]], ...]:
    found: dict[str, list[str]] = {}
    for kind, term in identifiers.search_terms():
        pattern = _lookalike_pattern(term)
        if pattern is not None:
            found.setdefault(kind, []).append(pattern)
    return tuple((kind, re.compile("|".join(p))) for kind, p in sorted(found.items()))


#: A name of short parts (``LI^NA``: too short for the one-error matching) is also searched
#: for with the spaces between its parts left out, when its letters number at least this.
JOINED_NAME_MIN = 4


@lru_cache(maxsize=256)
def _joined_short_names(
    identifiers: OriginalIdentifiers,
) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Per kind, a matcher for the names of two or more parts whose letters are too few for
    the one-error matching (:data:`FUZZY_MIN_LENGTH`) but at least :data:`JOINED_NAME_MIN`:
    their parts in order with any spaces, commas or carets between them, none required (OCR
    reads ``LI NA`` as ``LINA``), exactly, as a word of its own (``CAROLINA`` is not
    ``LI NA``).

    >>> ids = OriginalIdentifiers(patient_names=("LI^NA",))
    >>> [bool(_joined_short_names(ids)[0][1].search(t)) for t in ("LINA", "NA LI", "CAROLINA")]
    [True, True, False]
    """
    found: dict[str, list[str]] = {}
    for kind, term in identifiers.search_terms():
        parts = [p for p in re.split(r"[\s,^]+", term) if p]
        letters = sum(len(p) for p in parts)
        if len(parts) < 2 or not JOINED_NAME_MIN <= letters < FUZZY_MIN_LENGTH:
            continue
        if not all(re.fullmatch(r"[A-Z]+", p) for p in parts):
            continue
        joined = r"[\s,^]*".join(re.escape(p) for p in parts)
        found.setdefault(kind, []).append(rf"(?<![A-Z0-9]){joined}(?![A-Z0-9])")
    return tuple((kind, re.compile("|".join(p))) for kind, p in sorted(found.items()))


def find_identifiers_in_ocr_text(text: str, identifiers: OriginalIdentifiers) -> list[str]:
    """Kinds found in OCR output (lines separated by newlines).

    On top of the exact matching of
    :func:`~cadbusi_assets.deid.scan.find_identifiers_in_text`, this allows what OCR does to
    text: spaces inside a word or left out between words, letters touching a number,
    look-alike characters (``O`` for ``0``, ``l`` for ``1``...), in names and IDs of at
    least :data:`FUZZY_MIN_LENGTH` characters, one character wrong, missing or extra, and
    birth dates with a two-digit year in every numeric order (:func:`_short_year_dates`).

    >>> import datetime as dt
    >>> ids = OriginalIdentifiers(
    ...     patient_names=("VILLANUEVA^GWEN",), patient_ids=("03908483",),
    ...     accession_numbers=("ACC0412",), birth_dates=(dt.date(1982, 1, 13),))
    >>> find_identifiers_in_ocr_text("1D:O39O8483", ids)
    ['patient_id']
    >>> find_identifiers_in_ocr_text("DOB01/13/1982", ids)
    ['birth_date']
    >>> find_identifiers_in_ocr_text("VILLAN UEVA", ids), find_identifiers_in_ocr_text("NILLANUEVA", ids)
    (['patient_name'], ['patient_name'])
    >>> find_identifiers_in_ocr_text("Acc: ACCO4I2", ids)
    ['accession_number']
    >>> find_identifiers_in_ocr_text("ID 039084830 01/31/1982 VILLA LT BREAST 12:00 2CMFN", ids)
    []

    The marks between a date's numbers as OCR misreads a thin slash (``01:13; 1982``) are
    slashes (:func:`_slashed_dates`):

    >>> find_identifiers_in_ocr_text("DOB 01:13; 1982", ids)
    ['birth_date']
    >>> find_identifiers_in_ocr_text("DOB 01:13:82", ids)  # (a time of day, as read)
    []

    A Greek or Cyrillic name is also searched for as English OCR reads it (its letters that
    look like Latin ones, :func:`_lookalike_pattern`):

    >>> find_identifiers_in_ocr_text("UBAHOBA MAPUA", OriginalIdentifiers(patient_names=("ИВАНОВА^МАРИЯ",)))
    ['patient_name']
    """
    # two-letter name parts are left to the header and free-text checks: OCR of speckle
    # reads stray two-letter words
    kinds = set(find_identifiers_in_text(text, identifiers, min_length=OCR_MIN_TERM))
    lines = text.upper().splitlines()
    compact = "\n".join("".join(line.split()) for line in lines)
    numbers_folded = "\n".join(
        "".join(re.sub(r"[0-9A-Z|]+", _fold_number, line).split()) for line in lines
    )
    folded = compact.translate(_LOOKALIKES)
    dated = _slashed_dates(compact)
    for kind, words, numbers in _ocr_regexes(identifiers):
        if kind not in kinds and (
            words.search(folded)
            or numbers.search(compact)
            or numbers.search(numbers_folded)
            or (dated != compact and numbers.search(dated))
        ):
            kinds.add(kind)
    for kind, lookalike in _lookalike_regexes(identifiers):
        if kind not in kinds and lookalike.search(compact):
            kinds.add(kind)
    upper = "\n".join(lines)
    for kind, joined in _joined_short_names(identifiers):
        if kind not in kinds and joined.search(upper):
            kinds.add(kind)
    short = _short_year_dates(identifiers)
    if (
        "birth_date" not in kinds
        and short is not None
        and (short.search(compact) or short.search(numbers_folded))
    ):
        kinds.add("birth_date")
    return sorted(kinds)


#: A date as OCR may read it: three numbers, one of them a year of four digits, with one
#: or two marks between them (a thin slash is read as a colon, a semicolon, a quote...). A
#: time of day has no four-digit number.
_READ_DATE = re.compile(
    r"(?<!\d)(\d{1,2})[^\w\s]{1,2}(\d{1,2})[^\w\s]{1,2}(\d{4})(?!\d)"
    r"|(?<!\d)(\d{4})[^\w\s]{1,2}(\d{1,2})[^\w\s]{1,2}(\d{1,2})(?!\d)"
)


def _slashed_dates(text: str) -> str:
    """``text`` with the marks inside each date (:data:`_READ_DATE`) made one slash.

    >>> _slashed_dates("DOB05:16'1999 1999.:05;16 10:30:15 02-03-611")
    'DOB05/16/1999 1999/05/16 10:30:15 02-03-611'
    """
    return _READ_DATE.sub(lambda m: "/".join(g for g in m.groups() if g is not None), text)


@lru_cache(maxsize=256)
def _short_year_dates(identifiers: OriginalIdentifiers) -> re.Pattern[str] | None:
    """Birth dates with a two-digit year in the numeric orders scanners print that the
    common forms (:func:`~cadbusi_assets.deid.identifiers.date_variants`) leave out:
    ``MM-DD-YY``, ``DD.MM.YY``, ``DD/MM/YY``, ``DD-MM-YY``, ``MM.DD.YY``, ``YY.MM.DD``...
    (digit-bounded; spaces removed, as OCR text is compacted).

    >>> import datetime as dt
    >>> ids = OriginalIdentifiers(birth_dates=(dt.date(1974, 8, 19),))
    >>> [bool(_short_year_dates(ids).search(t)) for t in ("DOB08-19-74", "19.08.74", "119.08.741")]
    [True, True, False]
    """
    forms = []
    for birth in identifiers.birth_dates:
        d, m, y = f"{birth.day:02d}", f"{birth.month:02d}", f"{birth.year % 100:02d}"
        for first, second, third in ((m, d, y), (d, m, y), (y, m, d)):
            forms += [re.escape(f"{first}{sep}{second}{sep}{third}") for sep in "-./"]
    if not forms:
        return None
    return re.compile(rf"(?<!\d)(?:{'|'.join(dict.fromkeys(forms))})(?!\d)")


#: Contact details of anyone (a relative's phone typed on the image): phone numbers (7 digits
#: and more, national or international), e-mail addresses, URLs, SSNs. Clinical annotations
#: (clock positions, distances, probe names) never take these forms.
_CONTACT = re.compile(
    r"(?:\(\d{3}\)\s?|(?<![\w.])\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w-])"  # (617) 555-0199
    r"|(?<![\w.-])\d{3}-\d{4}(?![\w-])"  # 555-0142
    r"|\+\d{1,3}(?:[ .-]?\d){7,14}"  # +44 20 7946 0958
    r"|[\w.+-]+@[\w-]+\.[a-z]{2,}"
    r"|(?:https?://|www\.)\S+"
    r"|(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)",
    re.IGNORECASE,
)
THIRD_PARTY_CONTACT = "third_party_contact"


def find_contact_details_in_ocr_text(text: str) -> list[str]:
    r"""``[THIRD_PARTY_CONTACT]`` when OCR text holds a phone number, an e-mail address, a URL
    or an SSN of anyone, else ``[]``.

    >>> find_contact_details_in_ocr_text("ZELDA PLIMSOLL 555-0142")
    ['third_party_contact']
    >>> find_contact_details_in_ocr_text("LT BREAST\n10:00 7 CM FN\nARAD L12-5 0.6 X 0.4")
    []
    """
    return [THIRD_PARTY_CONTACT] if _CONTACT.search(text) else []


def ocr_identifiers(
    frame: np.ndarray, identifiers: OriginalIdentifiers, reading: FrameText | None = None
) -> list[str]:
    """Kinds of the study's identifiers that tesseract can read anywhere in ``frame``
    (``reading``: the frame's :func:`read_frame`, when a caller has it already), plus
    :data:`THIRD_PARTY_CONTACT` for anyone's phone number, e-mail, URL or SSN.

    Without ``reading`` the frame is read with the learned vocabulary gate
    (:func:`read_frame`): lines the small line reader reads confidently as the scanner's own
    words (gain, probe, annotation, measurements) skip tesseract; names, IDs, dates and
    anything the reader is unsure of are read by tesseract. When that finds nothing, the
    text the upright reading cannot see is read too (:func:`unseen_text`).

    A study whose name is in a script the OCR cannot read (:func:`_unreadable_name_kinds`)
    fails closed on text that may be that name: a line of the upright reading that is not
    the screen's own vocabulary (:func:`_unexplained_text`), else a line of the unseen-text
    search that the learned gate takes for text and tesseract reads as letters of no
    vocabulary (:func:`_unreadable_turned_text`: a turned name), else, for a name in a
    connected script (:data:`CONNECTED_SCRIPTS`: Arabic), a blob shaped like one of its words
    outside the upright reading's lines, in any of the four turns, on the frame or on a light
    label (:func:`_connected_script_text`), else, for a name in a script of
    :data:`BANDED_SCRIPTS` (Georgian, Armenian), a line whose letters share a band of rows
    but no baseline, read as letters of no vocabulary (:func:`_banded_script_text`). Lines
    found upright on a light label and read as letters of no vocabulary count too
    (:func:`_unreadable_label_text`)."""
    if reading is None:  # nobody parses this reading's annotation: no second reading of it
        reading = read_frame(frame, vocabulary_gate=True, fields=False)
    found = _kinds(ocr_text(frame, reading), identifiers)
    unreadable = _unreadable_name_kinds(identifiers)
    unexplained = bool(unreadable) and _unexplained_text(reading)
    # a name in a script the OCR cannot read, turned: text the unseen search reads as junk
    reads: list[tuple[np.ndarray, str]] | None = [] if unreadable and not unexplained else None
    # ... and lines on a light label read as letters of no vocabulary
    label_reads: list[tuple[np.ndarray, str]] | None = None if reads is None else []
    if not found:  # (a finding withholds the frame already: nothing more is read)
        found = _kinds(unseen_text(frame, reading, reads, label_reads), identifiers)
    if unexplained or (
        reads is not None
        and not found
        and (
            (reads and _unreadable_turned_text(reads, frame, reading))
            or (label_reads and _unreadable_label_text(label_reads))
            # a name in a connected script (Arabic): one wide blob a word, no line found
            or (_connected_name(identifiers) and _connected_script_text(frame, reading))
            # a name in a script whose letters reach above and below the line in turn
            # (Georgian): letters on no one baseline, no line found
            or (_banded_name(identifiers) and _banded_script_text(frame, reading))
        )
    ):
        found += unreadable
    return sorted(set(found))


def _kinds(text: str, identifiers: OriginalIdentifiers) -> list[str]:
    """The study's identifiers and anyone's contact details found in ``text``."""
    found = [] if identifiers.is_empty() else find_identifiers_in_ocr_text(text, identifiers)
    return [*found, *find_contact_details_in_ocr_text(text)]


# ---------------------------------------------------------------------------------------
# Text the upright reading does not see

#: A line found in a turned or inverted view is read unless at least this share of its box
#: lies in lines the upright reading found already (upright text seen sideways).
SEEN_SHARE = 0.5
#: A light panel (that may carry dark text) is at least this bright.
LIGHT_PANEL_LEVEL = 128


def _view_box_in_frame(box: Box, turn: int, shape: tuple[int, ...]) -> Box:
    """``box`` of ``np.rot90(frame, turn)`` (``turn`` 0, 1 or -1) in ``frame`` coordinates.

    >>> frame = np.zeros((4, 6)); frame[1, 4] = 1
    >>> view = np.rot90(frame, 1); [(int(y), int(x)) for y, x in zip(*np.nonzero(view))]
    [(1, 1)]
    >>> _view_box_in_frame((1, 1, 1, 1), 1, frame.shape)
    (4, 1, 4, 1)
    >>> view = np.rot90(frame, -1); [(int(y), int(x)) for y, x in zip(*np.nonzero(view))]
    [(4, 2)]
    >>> _view_box_in_frame((2, 4, 2, 4), -1, frame.shape)
    (4, 1, 4, 1)
    """
    rows, cols = shape[:2]
    x0, y0, x1, y1 = box
    if turn == 1:  # view[i, j] = frame[j, cols - 1 - i]
        return (cols - 1 - y1, x0, cols - 1 - y0, x1)
    if turn == -1:  # view[i, j] = frame[rows - 1 - j, i]
        return (y0, rows - 1 - x1, y1, rows - 1 - x0)
    return box


def _share_in(box: Box, mask: np.ndarray) -> float:
    x0, y0, x1, y1 = box
    inside = mask[y0 : y1 + 1, x0 : x1 + 1]
    return float(inside.mean()) if inside.size else 1.0


#: A light panel is at least this many pixels high (and :data:`MIN_AREA_WIDTH` wide) once
#: thin dark strokes are filtered out of it, and is searched with this margin around it.
PANEL_MIN_HEIGHT = MIN_TEXT_HEIGHT + 2
PANEL_MARGIN = 4
#: ... and flat: the median-filtered brightness varies by at most this over 3x3 px (bright
#: speckle is grainy at every scale).
PANEL_SPREAD = 16
_SPREAD_KERNEL = np.ones((3, 3), np.uint8)
_BOLD_KERNEL = np.ones((9, 9), np.uint8)
_CHANNELS = np.ones((1, 3), np.uint8)
#: A panel is searched only when at least this many pixels inside it (margin aside) are at
#: most :data:`PANEL_INK_LEVEL` in their darkest channel: ink darker than a light panel.
PANEL_MIN_INK = 2 * MIN_TEXT_HEIGHT
PANEL_INK_LEVEL = LIGHT_PANEL_LEVEL - STROKE_CONTRAST
#: ... and when at least this share of its pixels that are not ink lie within this many
#: levels of their median.
PANEL_FLAT_SHARE = 0.6
PANEL_FLAT_LEVELS = 8


def _components(binary: np.ndarray) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """8-connected blobs of ``binary`` with their stats: the labels, stats and centroids of
    ``cv2.connectedComponentsWithStats(binary, connectivity=8)`` bit for bit (tested), by
    Grana's algorithm (2-2.5x faster on one thread on a whole frame: 3.3 -> 1.4 ms)."""
    return cv2.connectedComponentsWithStatsWithAlgorithm(binary, 8, cv2.CV_32S, cv2.CCL_GRANA)


def _blob_stats(binary: np.ndarray) -> np.ndarray:
    """``_components(binary)[2][1:]`` (each blob's x, y, width, height, area, in label
    order), labelled within the mask's bounding box only
    (:func:`cadbusi_assets.ultrasound.textlines._ink_components`: the same labels as on the
    whole image; a light or tiny-text mask's box is about two thirds of a tuning frame)."""
    from cadbusi_assets.ultrasound.textlines import _ink_components

    return _ink_components(binary, np.empty(binary.shape, np.int32))[1]


def light_panels(level: np.ndarray) -> list[Box]:
    """Boxes of the light areas of a :func:`brightness` image that may carry dark text: at
    least :data:`LIGHT_PANEL_LEVEL` and flat (:data:`PANEL_SPREAD`) once a 5x5 median has
    removed thin dark strokes, closed over bold ones (9x9), at least
    :data:`PANEL_MIN_HEIGHT` x :data:`MIN_AREA_WIDTH` px (with a :data:`PANEL_MARGIN`).

    >>> level = np.zeros((60, 200), np.uint8); level[10:40, 20:180] = 220
    >>> light_panels(level)
    [(17, 7, 182, 42)]
    >>> level[25, 30:170] = 0  # a dark stroke across it changes nothing
    >>> light_panels(level)
    [(17, 7, 182, 42)]
    >>> grains = np.random.default_rng(0).rayleigh(60, (60, 200)).clip(0, 255).astype(np.uint8)
    >>> light_panels(cv2.GaussianBlur(grains, (0, 0), 1.5))  # bright speckle is no panel
    []
    """
    smooth = cv2.medianBlur(level, 5)
    spread = cv2.morphologyEx(smooth, cv2.MORPH_GRADIENT, _SPREAD_KERNEL)
    # light and flat: a panel, not the bright grains of speckle; closed over bold strokes
    light = cv2.bitwise_and(
        cv2.threshold(smooth, LIGHT_PANEL_LEVEL - 1, 1, cv2.THRESH_BINARY)[1],
        cv2.threshold(spread, PANEL_SPREAD, 1, cv2.THRESH_BINARY_INV)[1],
    )
    light = cv2.morphologyEx(light, cv2.MORPH_CLOSE, _BOLD_KERNEL)
    out = []
    for x, y, w, h, _area in _blob_stats(light).tolist():
        if h >= PANEL_MIN_HEIGHT and w >= MIN_AREA_WIDTH:
            out.append(_grown((x, y, w, h), PANEL_MARGIN, level.shape))
    return out


def _grown(stat: tuple[int, int, int, int], margin: int, shape: tuple[int, ...]) -> Box:
    """The inclusive box of a component's ``(x, y, w, h)`` grown by ``margin`` px, within
    an image of ``shape``.

    >>> _grown((5, 2, 10, 4), 3, (20, 16))
    (2, 0, 15, 8)
    """
    x, y, w, h = stat
    rows, cols = shape[:2]
    return (
        max(0, x - margin),
        max(0, y - margin),
        min(cols - 1, x + w - 1 + margin),
        min(rows - 1, y + h - 1 + margin),
    )


#: Tiny text: chains of thin bright strokes (letters joined over gaps of up to
#: :data:`TINY_GAP` px) from :data:`TINY_MIN_HEIGHT` px high to below what the line detector
#: takes (:data:`MIN_TEXT_HEIGHT` + 1) and at least :data:`TINY_MIN_WIDTH` wide are searched
#: again scaled by :data:`TINY_SCALE`.
TINY_MIN_HEIGHT = 3
TINY_MAX_HEIGHT = MIN_TEXT_HEIGHT + 1
TINY_MIN_WIDTH = 16
TINY_GAP = 4
TINY_SCALE = 2.0
#: A tiny line is read as drawn (no stroke cleaning: its anti-aliased strokes are most of
#: it), inverted and scaled by this.
TINY_READ_SCALE = 3.0
TINY_MARGIN = 8


#: Strokes at least this long across a tiny line (the arm of a caliper mark, a tick, a rule
#: crossing the text's rows) are no tiny glyph: they are taken out of the ink before its
#: letters are joined, so that a mark beside tiny text does not make the chain too high.
TINY_LONG_STROKE = TINY_MAX_HEIGHT + 1
_TINY_ACROSS = np.ones((TINY_LONG_STROKE, 1), np.uint8)
#: ... and at most this many px wide (a thicker long stroke is no mark's arm but a blob).
TINY_MARK_WIDTH = 2
_TINY_WIDE = np.ones((1, TINY_MARK_WIDTH + 1), np.uint8)


def tiny_ink(level: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """The thin bright strokes (:func:`~cadbusi_assets.ultrasound.textlines.text_ink`) of a
    :func:`brightness` image outside ``seen``: what :func:`tiny_lines` chains (taken once
    for a frame and turned with it)."""
    return _ink_and_rules(level, seen)[0]


def _ink_and_rules(
    level: np.ndarray, seen: np.ndarray, tophat: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(:func:`tiny_ink`; the thin bright strokes that
    :func:`~cadbusi_assets.ultrasound.textlines.text_ink` left out as rules, vertical runs
    longer than a text line, 0/1; the pixels of those rules with ink :data:`RULE_SIDE` px
    beside them on both sides in their row, as (x, y) rows, or None when there are fewer
    than :data:`RULE_SIDE_INK`), from one top-hat; the rules and their crossings are taken
    inside ``seen`` too (turned text crossed by a rule is read upright in pieces: a glyph
    and the rule through it). ``tophat``: the level's :func:`stroke_contrast`, when the
    caller has it (left unchanged)."""
    given = tophat is not None
    tophat = stroke_contrast(level) if tophat is None else tophat
    ink = text_ink(level, tophat)
    rules = cv2.threshold(level, TEXT_LEVEL - 1, 1, cv2.THRESH_BINARY)[1]
    strokes = cv2.threshold(
        tophat, STROKE_CONTRAST - 1, 1, cv2.THRESH_BINARY, dst=None if given else tophat
    )[1]
    cv2.bitwise_and(rules, strokes, dst=rules)
    cv2.subtract(rules, ink, dst=rules)
    d = RULE_SIDE
    crossing = None
    points = cv2.findNonZero(rules)  # (few: a ruler's, a caliper's line)
    if points is not None:
        xs, ys = points.reshape(-1, 2).T
        keep = (xs >= d) & (xs < level.shape[1] - d)
        xs, ys = xs[keep], ys[keep]
        both = (ink[ys, xs - d] > 0) & (ink[ys, xs + d] > 0)
        if int(np.count_nonzero(both)) >= RULE_SIDE_INK:
            crossing = np.column_stack((xs[both], ys[both]))
    np.copyto(ink, 0, where=seen)  # (ink[seen] = 0, a third of its time)
    return ink, rules, crossing


def tiny_lines(
    level: np.ndarray, seen: np.ndarray | None = None, ink: np.ndarray | None = None
) -> list[Box]:
    """Boxes (with a :data:`TINY_MARGIN`) of a :func:`brightness` image that may hold text
    too small for the line detector: chains of thin bright strokes (``ink``, else
    :func:`tiny_ink` outside ``seen``) from :data:`TINY_MIN_HEIGHT` to
    :data:`TINY_MAX_HEIGHT` px high, at least :data:`TINY_MIN_WIDTH` wide, once thin strokes
    of at least :data:`TINY_LONG_STROKE` px across the line are left out (the arm of a mark
    beside the text); boxes that overlap are one box (a line whose chain broke is read
    whole).

    >>> level = np.zeros((40, 120), np.uint8)
    >>> _ = cv2.putText(level, "ABCDEFGH", (10, 22), cv2.FONT_HERSHEY_PLAIN, 0.6, 255, 1)
    >>> seen = np.zeros(level.shape, bool)
    >>> boxes = tiny_lines(level, seen); len(boxes)
    1
    >>> _ = cv2.drawMarker(level, (6, 18), 255, cv2.MARKER_CROSS, 9, 1)  # a caliper beside
    >>> len(tiny_lines(level, seen))
    1
    """
    if ink is None:
        ink = tiny_ink(level, np.zeros(level.shape, bool) if seen is None else seen)
    # thin long strokes across the line (at most TINY_MARK_WIDTH wide) are no glyph
    long = cv2.morphologyEx(ink, cv2.MORPH_OPEN, _TINY_ACROSS)
    long = cv2.subtract(long, cv2.morphologyEx(long, cv2.MORPH_OPEN, _TINY_WIDE))
    strokes = cv2.subtract(ink, long)
    joined = cv2.morphologyEx(strokes, cv2.MORPH_CLOSE, np.ones((1, TINY_GAP + 1), np.uint8))
    stats = _blob_stats(joined)
    high = stats[:, 3]
    sized = (high >= TINY_MIN_HEIGHT) & (high <= TINY_MAX_HEIGHT) & (stats[:, 2] >= TINY_MIN_WIDTH)
    out = []
    for x, y, w, h, _area in stats[sized].tolist():
        if not _one_colour_glyphs(strokes[y : y + h, x : x + w], level[y : y + h, x : x + w]):
            continue
        out.append(_grown((x, y, w, h), TINY_MARGIN, level.shape))
    return _merged(out)


def _merged(boxes: list[Box]) -> list[Box]:
    """``boxes`` with those that overlap replaced by the box around them.

    >>> _merged([(0, 0, 10, 10), (20, 0, 30, 10), (8, 2, 22, 9), (40, 40, 50, 50)])
    [(0, 0, 30, 10), (40, 40, 50, 50)]
    """
    out = list(boxes)
    merged = True
    while merged:
        merged = False
        for i in range(len(out)):
            for j in range(i + 1, len(out)):
                a, b = out[i], out[j]
                if a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]:
                    out[i] = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
                    del out[j]
                    merged = True
                    break
            if merged:
                break
    return out


#: A tiny line holds at least this many glyphs (strokes at least :data:`TINY_MIN_HEIGHT`
#: high) whose brightest pixels lie within this many levels (10th to 90th percentile):
#: text is drawn in one colour, the grains of bright speckle are not.
TINY_MIN_GLYPHS = 3
TINY_PEAK_SPREAD = 40


def _one_colour_glyphs(ink: np.ndarray, level: np.ndarray) -> bool:
    """Whether the strokes ``ink`` (0/1) of a tiny line's box are glyphs of one colour."""
    n, labels, stats, _ = _components(ink)
    glyphs = np.flatnonzero(stats[1:n, 3] >= TINY_MIN_HEIGHT) + 1
    if len(glyphs) < TINY_MIN_GLYPHS:
        return False
    peaks = np.zeros(n, np.int32)
    np.maximum.at(peaks, labels.ravel().astype(np.intp), level.ravel().astype(np.int32))
    low, high = _percentiles(peaks[glyphs], (10, 90))
    return bool(high - low <= TINY_PEAK_SPREAD)


def _percentiles(values: np.ndarray, percents: tuple[float, ...]) -> list[float]:
    """``np.percentile(values, percents)`` (its linear method and interpolation, the same
    floats) of a few values, without its overhead (tested).

    >>> v = np.array([202, 216, 235, 235, 241, 255, 255, 245, 235])
    >>> _percentiles(v, (10, 90)) == np.percentile(v, (10, 90)).tolist()
    True
    """
    ordered = np.sort(values).tolist()
    last = len(ordered) - 1
    out = []
    for q in percents:
        at = q / 100 * last
        below = int(at)
        above = min(below + 1, last)
        a, b, t = float(ordered[below]), float(ordered[above]), at - below
        diff = b - a
        out.append(b - diff * (1 - t) if t >= 0.5 else a + diff * t)
    return out


def unseen_text(
    frame: np.ndarray,
    reading: FrameText,
    reads: list[tuple[np.ndarray, str]] | None = None,
    label_reads: list[tuple[np.ndarray, str]] | None = None,
) -> str:
    """Text that the upright, bright-on-dark reading of ``frame`` (``reading``) cannot see,
    read by tesseract (handle the result as PHI): lines written vertically (found in the
    frame turned a quarter, each read both ways, as drawn, unless the learned gate
    :mod:`~cadbusi_assets.deid.line_gate` scores it as speckle), text too small for the line
    detector (:func:`tiny_lines`, upright and turned a quarter, found again scaled by
    :data:`TINY_SCALE`, read whole as drawn, both ways), and
    in the :func:`light_panels`, dark or coloured text on the light (the panel's darkest
    channel inverted: upright, vertical or tiny). Lines lying mostly in lines the upright
    reading found (upright text seen sideways) are left out: a few lines a frame are read.
    The upright lines that are not the screen's own words are read turned 180 degrees too
    (text written upside down). ``reads``: each image the search for lines read (all but
    those upside-down readings of upright lines) and its text are appended to it (for
    :func:`_unreadable_turned_text`). ``label_reads``: each image of a line found upright on
    a light label and its text are appended to it too (for :func:`_unreadable_label_text`).
    """
    from cadbusi_assets.ultrasound.glyphs import is_screen_vocabulary
    from cadbusi_assets.ultrasound.ocr import TesseractUnavailable, engine

    level = brightness(frame)
    seen = np.zeros(level.shape, bool)
    for x0, y0, x1, y1 in reading.boxes:
        seen[y0 : y1 + 1, x0 : x1 + 1] = True
    reader = engine()
    read_line = reader.read_line if reads is None else _recorded(reader.read_line, reads)
    read_label = read_line if label_reads is None else _recorded(read_line, label_reads)
    # (a label's dark words may lie in a line the upright reading found in the light between
    # them: read for the label check only)
    read_seen = None if label_reads is None else _recorded(reader.read_line, label_reads)
    texts = []
    try:
        for line in reading.lines:  # upside down: a line that is not the screen's words
            if not is_screen_vocabulary(line.text):  # (as drawn: turned_line_image)
                turned = cv2.rotate(turned_line_image(level, line.box), cv2.ROTATE_180)
                texts.append(reader.read_line(turned))
        texts += _search(level, (0, 0), seen, read_line, upright=False, gate=True)
        for box in light_panels(level):
            if _share_in(box, seen) >= SEEN_SHARE:
                continue  # a panel lying in the upright reading's lines is bright text itself
            # the darkest channel is a pixel's own: taken on the panel only (a fifth of a
            # frame on the tuning screens, where panels are found on most)
            dark = _darkness(_crop(frame, box), _crop(level, box))
            inside = (0, 0, box[2] - box[0], box[3] - box[1])
            if _holds_ink(dark, _crop(level, box), inside):
                crop = cv2.bitwise_not(dark)
                texts += _search(
                    crop,
                    box[:2],
                    seen,
                    read_line,
                    True,
                    read_upright=read_label,
                    read_seen=read_seen,
                )
    except TesseractUnavailable:
        raise DeidentificationError(_MISSING) from None
    except Exception as exc:  # the command fallback raises pytesseract errors
        raise DeidentificationError(f"OCR failed ({type(exc).__name__})") from None
    return "\n".join(t.strip() for t in texts if t.strip())


def _holds_ink(dark: np.ndarray, level: np.ndarray, panel: Box) -> bool:
    """Whether ``panel`` (margin aside) is a label with ink on it: at least
    :data:`PANEL_MIN_INK` pixels at most :data:`PANEL_INK_LEVEL` in ``dark`` (the darkest
    channel), and at least :data:`PANEL_FLAT_SHARE` of its other pixels within
    :data:`PANEL_FLAT_LEVELS` of their median brightness (a label is one colour around its
    text, however much of it the text covers; bright speckle, even where flat once
    filtered, is not)."""
    x0, y0, x1, y1 = panel
    m = PANEL_MARGIN
    core = dark[y0 + m : y1 + 1 - m, x0 + m : x1 + 1 - m]
    if core.size == 0 or int(np.count_nonzero(core <= PANEL_INK_LEVEL)) < PANEL_MIN_INK:
        return False
    # the brightness of the pixels that are not ink, as a histogram: their median (that of
    # np.median, truncated) and the count within PANEL_FLAT_LEVELS of it (tested)
    light = cv2.threshold(core, PANEL_INK_LEVEL, 255, cv2.THRESH_BINARY)[1]
    hist = cv2.calcHist(
        [level[y0 + m : y1 + 1 - m, x0 + m : x1 + 1 - m]], [0], light, [256], [0, 256]
    )
    counts = np.cumsum(hist.ravel().astype(np.int64))
    n = int(counts[-1])
    if n == 0:
        return False
    low, high = np.searchsorted(counts, ((n - 1) // 2 + 1, n // 2 + 1)).tolist()
    median = (low + high) // 2
    below = int(counts[median - PANEL_FLAT_LEVELS - 1]) if median > PANEL_FLAT_LEVELS else 0
    flat = int(counts[min(255, median + PANEL_FLAT_LEVELS)]) - below
    return flat >= PANEL_FLAT_SHARE * n


def _darkness(frame: np.ndarray, level: np.ndarray) -> np.ndarray:
    """The darkest channel of an 8-bit colour frame (blue or red text on white is dark
    there), else ``level``."""
    if frame.ndim == 3 and frame.shape[2] >= 3 and frame.dtype == np.uint8:
        if frame.shape[2] == 3 and frame.shape[0] * frame.shape[1] > 0:
            # the darkest channel as a 1x3 erosion of the interleaved rows, read from the
            # first channel (as brightness does; the channels' minimum, tested)
            rows, cols = frame.shape[:2]
            interleaved = np.ascontiguousarray(frame).reshape(rows, cols * 3)
            darkest = cv2.erode(interleaved, _CHANNELS, anchor=(0, 0))
            return cv2.extractChannel(darkest.reshape(rows, cols, 3), 0)
        channels = cv2.split(np.ascontiguousarray(frame[..., :3]))
        return cv2.min(cv2.min(channels[0], channels[1]), channels[2])
    return level


def _search(
    source: np.ndarray,
    corner: tuple[int, int],
    seen: np.ndarray,
    read_line: Callable[[np.ndarray], str],
    upright: bool,
    gate: bool = False,
    read_upright: Callable[[np.ndarray], str] | None = None,
    read_seen: Callable[[np.ndarray], str] | None = None,
) -> list[str]:
    """Texts of the lines of ``source`` (bright text on dark; the frame, or an inverted
    panel lying at ``corner`` of it) outside ``seen``: turned a quarter (read both ways, as
    drawn: :func:`turned_line_image`), too small for the detector (upright and turned a
    quarter, read both ways: :func:`_tiny_texts`), and ``upright`` too (a panel). With
    ``gate`` (the frame's own search) a turned line that the learned gate scores as speckle
    (:func:`~cadbusi_assets.deid.line_gate.may_be_text`) is not read: nearly all of the
    frame's turned lines are chains of bright speckle in the fan. A turned line is read
    widened over letter-spaced glyphs beside it too (:func:`_extended`), and turned text
    that a rule runs through (a caliper's line) is searched again with the rule taken out
    (:func:`_crossed_lines`). ``read_upright`` reads the ``upright`` lines (``read_line``
    when not given), ``read_seen``, when given, those of them lying in ``seen`` too (their
    texts are not returned)."""
    from cadbusi_assets.deid.line_gate import may_be_text

    ox, oy = corner
    rows, cols = source.shape[:2]
    texts = []
    # one top-hat for the tiny ink and both views: the turned view's is the upright one's
    # turned (find_text)
    tophat = stroke_contrast(source)
    ink, rules, crossing = _ink_and_rules(source, seen[oy : oy + rows, ox : ox + cols], tophat)
    # (cv2.rotate: np.rot90(source, 1) made contiguous, ten times faster; tested)
    views = [(1, _quarter_turn(source), _quarter_turn(tophat))]
    if upright:
        views.insert(0, (0, source, tophat))
    for turn, view, view_tophat in views:
        lines = find_text(view, tophat=view_tophat).lines
        found = _joined(lines) if turn else lines
        for box in found:
            x0, y0, x1, y1 = _view_box_in_frame(box, turn, source.shape)
            in_frame = (x0 + ox, y0 + oy, x1 + ox, y1 + oy)
            if _share_in(in_frame, seen) >= SEEN_SHARE:
                if read_seen is not None and not turn:
                    read_seen(line_image(view, box))
                continue
            if turn:  # written top to bottom or bottom to top: read both ways
                images = [turned_line_image(view, box)]
                wider = _extended(view, box)
                if wider != box:  # (letter-spaced text found in part: read whole too)
                    images.append(turned_line_image(view, wider))
                for image in images:
                    if gate and not may_be_text(image):
                        continue  # speckle to the learned gate (line_gate)
                    texts.append(read_line(image))
                    texts.append(read_line(cv2.rotate(image, cv2.ROTATE_180)))
            else:
                texts.append((read_upright or read_line)(line_image(view, box)))
        if turn:  # turned text crossed along its length by a rule (a caliper's line)
            # (the upright reading's lines are no reason to skip one: the glyphs of turned
            # text a rule crosses are read upright in pieces, each with the rule through it)
            for _box, image in _crossed_lines(view, rules, crossing, found):
                if gate and not may_be_text(image):
                    continue
                texts.append(read_line(image))
                texts.append(read_line(cv2.rotate(image, cv2.ROTATE_180)))
    texts += _tiny_texts(source, ink, read_line)
    texts += _tiny_texts(views[-1][1], _quarter_turn(ink), read_line)
    return texts


#: A rule (a thin bright vertical run longer than a text line, left out of the ink by
#: :func:`~cadbusi_assets.ultrasound.textlines.text_ink`: a caliper's measurement line) at
#: most :data:`RULE_WIDTH` px wide, with at least :data:`RULE_SIDE_INK` ink pixels
#: :data:`RULE_SIDE` px beside it on both sides (text it crosses; a ruler's ticks lie on one
#: side), is taken out of the turned view (each pixel set to the brighter of the pixels
#: :data:`RULE_SIDE` - 1 px across it: a glyph's stroke crossing it stays) and the view is
#: searched again within :data:`RULE_REACH` px of it: turned text that the rule ran along
#: was one blob with it.
RULE_WIDTH = 3
RULE_SIDE = 3
RULE_SIDE_INK = 6
RULE_REACH = MAX_LINE_HEIGHT // 2 + 8


def _crossed_lines(
    view: np.ndarray, rules: np.ndarray, crossing: np.ndarray | None, found: Sequence[Box]
) -> list[tuple[Box, np.ndarray]]:
    """(Box in ``view``, :func:`turned_line_image`) of each line of ``view`` (the source
    turned a quarter) that a rule of the source crosses along its length (``rules`` and
    ``crossing`` of :func:`_ink_and_rules`) and that the search of ``view`` did not find
    (``found``): searched again with the rule taken out (:data:`RULE_WIDTH`), read with it
    taken out."""
    if crossing is None:
        return []
    src_rows, src_cols = rules.shape
    d = RULE_SIDE
    points = crossing
    columns, counts = np.unique(points[:, 0], return_counts=True)
    out: list[tuple[Box, np.ndarray]] = []
    done = -1
    for x in columns[counts >= RULE_SIDE_INK].tolist():
        if x <= done:
            continue  # a column of a rule already searched
        rows_here = points[points[:, 0] == x, 1]
        at = int(np.median(rows_here))
        column = rules[:, x]
        y0, y1 = at, at
        while y0 > 0 and column[y0 - 1]:
            y0 -= 1
        while y1 < src_rows - 1 and column[y1 + 1]:
            y1 += 1
        x0, x1 = x, x
        while x0 > 0 and x - x0 < RULE_WIDTH - 1 and rules[at, x0 - 1]:
            x0 -= 1
        while x1 < src_cols - 1 and x1 - x0 < RULE_WIDTH - 1 and rules[at, x1 + 1]:
            x1 += 1
        done = x1
        if y1 - y0 + 1 <= MAX_LINE_HEIGHT:
            continue
        # the rule in the view: a row per source column (cols-1-x), columns y0..y1; the
        # search looks at the rule's crossings and a line height beyond them
        row0, row1 = src_cols - 1 - x1, src_cols - 1 - x0
        top, bottom = max(0, row0 - RULE_REACH), min(view.shape[0], row1 + RULE_REACH + 1)
        crossed = rows_here[(rows_here >= y0) & (rows_here <= y1)]
        first = max(0, y0 - TURNED_MARGIN, int(crossed.min()) - MAX_LINE_HEIGHT)
        last = min(view.shape[1], y1 + TURNED_MARGIN + 1, int(crossed.max()) + MAX_LINE_HEIGHT + 1)
        crop = view[top:bottom, first:last].copy()
        # each rule pixel set to the brighter of the pixels d - 1 px across it (in the view)
        ys, xs = np.nonzero(rules[first:last, x0 : x1 + 1])
        r, c = row1 - xs - top, ys
        crop[r, c] = np.maximum(
            view[np.maximum(0, r + top - d + 1), c + first],
            view[np.minimum(view.shape[0] - 1, r + top + d - 1), c + first],
        )
        for box in _joined(find_text(crop).lines):
            bx0, by0, bx1, by1 = box
            if not (by0 <= row0 - top and row1 - top <= by1):
                continue  # not crossed by the rule
            in_view = (bx0 + first, by0 + top, bx1 + first, by1 + top)
            if any(_overlap(in_view, other) >= SEEN_SHARE for other in found):
                continue  # found by the search of the view
            out.append((in_view, turned_line_image(crop, box)))
    return out


def _overlap(box: Box, other: Box) -> float:
    """Share of ``box`` lying in ``other``.

    >>> _overlap((0, 0, 9, 9), (5, 0, 20, 9))
    0.5
    """
    w = min(box[2], other[2]) - max(box[0], other[0]) + 1
    h = min(box[3], other[3]) - max(box[1], other[1]) + 1
    if w <= 0 or h <= 0:
        return 0.0
    return w * h / ((box[2] - box[0] + 1) * (box[3] - box[1] + 1))


#: A turned line is widened over glyphs in its rows less than :data:`TURNED_EXTEND_GAP`
#: line heights beside it, glyph by glyph while each step's surround is flat (at most
#: :data:`~cadbusi_assets.ultrasound.textlines.ROUGH_SHARE` of its pixels away from the
#: bright ones more than :data:`~cadbusi_assets.ultrasound.textlines.ROUGH_LEVEL` from
#: their median): the line search chains letters at most 1.5 heights apart, and finds
#: letter-spaced text in part. A glyph: a run of columns holding bright pixels
#: (:data:`TEXT_LEVEL`) in the line's rows over at least :data:`TURNED_GLYPH_HEIGHT` of
#: them, with none over :data:`TURNED_GLYPH_REACH` of the line's height above or below
#: them (a grain of speckle is low; a mark that is no letter of the line is taller).
TURNED_EXTEND_GAP = 3.0
TURNED_GLYPH_HEIGHT = 0.55
TURNED_GLYPH_REACH = 0.35
_AROUND = np.ones((5, 5), np.uint8)


def _extended(view: np.ndarray, box: Box) -> Box:
    """``box`` (a line of ``view``) widened over glyphs in its rows on a flat surround
    (:data:`TURNED_EXTEND_GAP`).

    >>> view = np.zeros((30, 200), np.uint8)
    >>> for x in (20, 40, 60, 78, 96, 114): view[10:20, x : x + 3] = 255
    >>> _extended(view, (20, 10, 62, 19))
    (20, 10, 116, 19)
    >>> view[:, 100:] = np.random.default_rng(0).integers(0, 140, (30, 100))  # speckle
    >>> _extended(view, (20, 10, 62, 19))
    (20, 10, 98, 19)
    >>> view[:, 100:] = 0; view[13:20, 96:99] = 0  # a grain lower than a letter
    >>> _extended(view, (20, 10, 62, 19))
    (20, 10, 80, 19)
    """
    x0, y0, x1, y1 = box
    height = y1 - y0 + 1
    gap = max(4, round(TURNED_EXTEND_GAP * height))
    pad = max(3, height // 2)
    reach = max(2, round(TURNED_GLYPH_REACH * height))
    top, bottom = max(0, y0 - pad), min(view.shape[0], y1 + pad + 1)
    left, right = x0, x1
    for step in (1, -1):
        while (glyph := _next_glyph(view, (left, y0, right, y1), step, gap, reach)) is not None:
            a, b = glyph
            if not _flat(
                view[top:bottom, right + 1 : b + 1] if step > 0 else view[top:bottom, a:left]
            ):
                break
            left, right = (left, b) if step > 0 else (a, right)
    return (left, y0, right, y1)


def _next_glyph(
    view: np.ndarray, box: Box, step: int, gap: int, reach: int
) -> tuple[int, int] | None:
    """First and last column of the nearest glyph (:data:`TURNED_GLYPH_HEIGHT`) beside
    ``box`` (right for ``step`` 1, left for -1) less than ``gap`` px away, past lower marks
    (a hyphen, a dot); None when there is none or a mark taller than the line is nearer."""
    x0, y0, x1, y1 = box
    height = y1 - y0 + 1
    cols = view.shape[1]
    # (a glyph starting within the gap is looked at whole: two line heights more)
    far = gap + 2 * height
    lo, hi = (x1 + 1, min(cols, x1 + far + 1)) if step > 0 else (max(0, x0 - far), x0)
    if lo >= hi:
        return None
    up = max(0, y0 - reach)
    band = view[up : y1 + reach + 1, lo:hi] >= TEXT_LEVEL
    inside = band[y0 - up : y0 - up + height]
    lit: list[bool] = np.asarray(inside.any(axis=0)).tolist()
    k = 0 if step > 0 else len(lit) - 1
    while 0 <= k < len(lit):
        if not lit[k]:
            k += step
            continue
        if (k + 1 if step > 0 else hi - lo - k) > gap:
            return None  # no glyph starts within the gap
        first = k  # a run of lit columns
        while 0 <= k + step < len(lit) and lit[k + step]:
            k += step
        a, b = min(first, k), max(first, k)
        tall = int(np.count_nonzero(inside[:, a : b + 1].any(axis=1)))
        if int(np.count_nonzero(band[:, a : b + 1].any(axis=1))) - tall >= reach:
            return None  # a mark reaching beyond the line's rows
        if tall >= TURNED_GLYPH_HEIGHT * height:
            return lo + a, lo + b
        k += step
    return None


def _flat(region: np.ndarray) -> bool:
    """Whether the pixels of ``region`` away from its bright ones (:data:`TEXT_LEVEL`, and a
    pixel around them) lie within ``ROUGH_LEVEL`` of their median, but for at most
    ``ROUGH_SHARE`` of them (a flat background, no speckle)."""
    bright = cv2.threshold(np.ascontiguousarray(region), TEXT_LEVEL - 1, 1, cv2.THRESH_BINARY)[1]
    away = cv2.dilate(bright, _AROUND) == 0
    values = region[away]
    if values.size < 8:
        return True
    median = float(np.median(values))
    return float(np.mean(np.abs(values.astype(np.int16) - median) > ROUGH_LEVEL)) <= ROUGH_SHARE


#: Lines found turned a quarter on one row less than :data:`TURNED_JOIN` line heights apart
#: are read as one line: the detector takes only some words of a line in a thin font (1 px
#: strokes), and an identifier read in pieces matches nothing.
TURNED_JOIN = 3.0


def _joined(lines: Sequence[Box]) -> list[Box]:
    """``lines`` of a turned view on one row less than :data:`TURNED_JOIN` line heights
    apart joined (:func:`~cadbusi_assets.ultrasound.textlines.merge_words` with a wider gap).

    >>> _joined([(50, 10, 70, 17), (85, 11, 99, 17), (50, 40, 60, 47)])
    [(50, 10, 99, 17), (50, 40, 60, 47)]
    """
    joined: list[Box] = []
    for box in sorted(lines):
        for k, other in enumerate(joined):
            overlap = min(box[3], other[3]) - max(box[1], other[1]) + 1
            lower = min(box[3] - box[1], other[3] - other[1]) + 1
            taller = max(box[3] - box[1], other[3] - other[1]) + 1
            gap = max(box[0], other[0]) - min(box[2], other[2]) - 1
            if overlap >= 0.6 * lower and gap <= TURNED_JOIN * taller:
                joined[k] = (
                    min(box[0], other[0]),
                    min(box[1], other[1]),
                    max(box[2], other[2]),
                    max(box[3], other[3]),
                )
                break
        else:
            joined.append(box)
    return joined


#: A line found turned a quarter is read as drawn (no stroke cleaning: the anti-aliased
#: edges of thin strokes are much of them, and a cleaned slash reads as a colon), with a
#: margin of :data:`TURNED_MARGIN` px, scaled to about :data:`TURNED_READ_HEIGHT` px high,
#: by at most :data:`TINY_READ_SCALE`.
TURNED_READ_HEIGHT = 20
TURNED_MARGIN = 6


def turned_line_image(view: np.ndarray, box: Box) -> np.ndarray:
    """Dark text on light of a line ``box`` of ``view`` (bright text on dark), as drawn,
    scaled to about :data:`TURNED_READ_HEIGHT` px high (1x to :data:`TINY_READ_SCALE`).

    >>> turned_line_image(np.zeros((40, 100), np.uint8), (10, 10, 59, 19)).shape
    (44, 124)
    """
    x0, y0, x1, y1 = box
    m = TURNED_MARGIN
    crop = view[max(0, y0 - m) : y1 + m + 1, max(0, x0 - m) : x1 + m + 1]
    scale = min(TINY_READ_SCALE, max(1.0, TURNED_READ_HEIGHT / (y1 - y0 + 1)))
    if scale > 1.0:
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    return cv2.bitwise_not(crop)


#: A tiny line is text when the detector finds a line in it scaled by :data:`TINY_SCALE`
#: with its brightness stretched so that this percentile of it is white (text of any
#: colour, dimmer than white, blended into the speckle, is measured as bright text).
TINY_STRETCH_PERCENTILE = 99


def _tiny_texts(
    view: np.ndarray, ink: np.ndarray, read_line: Callable[[np.ndarray], str]
) -> list[str]:
    """Texts of the :func:`tiny_lines` of ``view`` (strokes ``ink``) that are text once
    scaled (:data:`TINY_STRETCH_PERCENTILE`), each read whole as drawn, scaled by
    :data:`TINY_READ_SCALE`, both ways (upside down, or written either way when ``view`` is
    turned)."""
    texts = []
    for box in tiny_lines(view, ink=ink):
        crop = _crop(view, box)
        big = cv2.resize(crop, None, fx=TINY_SCALE, fy=TINY_SCALE, interpolation=cv2.INTER_CUBIC)
        top = float(np.percentile(crop, TINY_STRETCH_PERCENTILE))
        if 0 < top < 255:
            big = cv2.convertScaleAbs(big, alpha=255.0 / top)
        if find_text(big).lines:  # text once scaled: read whole, as drawn, scaled further
            scale = TINY_READ_SCALE
            read = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
            image = cv2.bitwise_not(read)
            texts.append(read_line(image))
            texts.append(read_line(cv2.rotate(image, cv2.ROTATE_180)))
    return texts


def _quarter_turn(image: np.ndarray) -> np.ndarray:
    """``np.ascontiguousarray(np.rot90(image, 1))`` (a quarter turn counter-clockwise), by
    OpenCV (empty images aside)."""
    if image.size == 0:
        return np.ascontiguousarray(np.rot90(image, 1))
    return cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE)


def _crop(image: np.ndarray, box: Box) -> np.ndarray:
    x0, y0, x1, y1 = box
    return image[y0 : y1 + 1, x0 : x1 + 1]


#: The kind reported when the study's name is written in CJK characters and text that is
#: not the screen's own vocabulary is left in the frame: the OCR engine reads English only,
#: so that text may be the name (fail closed; install tesseract's ``jpn``/``chi_sim``/``kor``
#: data and read them to do better).
UNREADABLE_CJK = "text_unreadable_for_a_cjk_name"


def _unreadable_name_kinds(identifiers: OriginalIdentifiers) -> list[str]:
    """The kinds for the scripts of the patient's names that the OCR engine (English) cannot
    read: :data:`UNREADABLE_CJK` for CJK, ``text_unreadable_for_a_<script>_name`` for the
    others but Latin (:func:`~cadbusi_assets.deid.identifiers.unreadable_name_scripts`:
    Cyrillic, Greek, Hebrew, Arabic...). A frame that keeps text outside the screen's own
    vocabulary (upright, or turned: :func:`_unreadable_turned_text`) may show such a name:
    every caller of :func:`ocr_identifiers` (the
    ``cadbusi deidentify`` workers, the imaging stage behind the assets and ``--analyze``,
    ``cadbusi verify``) fails closed on it.

    >>> _unreadable_name_kinds(OriginalIdentifiers(patient_names=("Щукина^Юлия",)))
    ['text_unreadable_for_a_cyrillic_name']
    >>> _unreadable_name_kinds(OriginalIdentifiers(patient_names=("Müller^Zoë",)))
    []
    """
    from cadbusi_assets.deid.identifiers import unreadable_name_scripts
    from cadbusi_assets.deid.name_variants import is_cjk

    kinds = [
        f"text_unreadable_for_a_{script}_name" for script in unreadable_name_scripts(identifiers)
    ]
    if any(is_cjk(name) for name in identifiers.patient_names):
        kinds.append(UNREADABLE_CJK)
    return kinds


def _connected_name(identifiers: OriginalIdentifiers) -> bool:
    """Whether a patient's name is written in a script of :data:`CONNECTED_SCRIPTS`."""
    from cadbusi_assets.deid.identifiers import unreadable_name_scripts

    return bool(CONNECTED_SCRIPTS.intersection(unreadable_name_scripts(identifiers)))


#: A line the unseen-text search read (:func:`unseen_text`) that the learned turned-line gate
#: (:mod:`~cadbusi_assets.deid.line_gate`) scores above this either way (a logit; the search
#: skips lines at or below its ``THRESHOLD``, -5), that is read as nothing of the screen's own
#: vocabulary either way and as at least :data:`UNREADABLE_MIN_LETTERS` letters one way, and
#: whose image is at least :data:`UNREADABLE_MIN_ASPECT` times as wide as high (a line of
#: several glyphs; one or two glyphs with the image's margins are about twice) or that the
#: gate scores above :data:`UNREADABLE_SURE_SCORE` (a part of a name found as a line of its
#: own) is text the upright reading did not see: for a study whose name is in a script the
#: OCR cannot read, it may be that name (Greek, Cyrillic or Hebrew names turned a quarter are
#: read as junk, ``VHUMAT`` for ``ЩУКИНА``, and match nothing). Chosen on the generator's
#: tuning screens (seeds 100-439, cleaned): of their frames whose upright reading is all
#: vocabulary, lines of that kind scored at most -0.9 (narrower ones at most 0.6: a turned
#: 'o' between two bars; two caliper crosses on a dotted line, 1.2, read no letters); turned
#: non-Latin names mostly 0.5-6.
UNREADABLE_TURNED_SCORE = 0.0
UNREADABLE_SURE_SCORE = 2.0
UNREADABLE_MIN_LETTERS = 3
UNREADABLE_MIN_ASPECT = 2.25
#: ... unless it is a turned line lying at least this share in the upright reading's lines
#: (the search reads those below :data:`SEEN_SHARE`): upright labels stacked in a column
#: (``MI``, ``Gn``, ``DR``) make a turned line of their first letters (0.35 of it in them).
#: The upside-down readings of upright lines are the upright check's
#: (:func:`_unexplained_text`): a measurement line read as nothing upright was junk upside
#: down. Both were found by the acceptance check on the side-by-side corpus (held-out
#: families; ``benchmarks.sidebyside``), 2 of its 120 screens, not on the tuning screens.
UNREADABLE_SEEN_SHARE = 0.25


def _unreadable_turned_text(
    reads: Sequence[tuple[np.ndarray, str]], frame: np.ndarray, reading: FrameText
) -> bool:
    """Whether ``reads`` (the images the unseen-text search of ``frame`` read and their
    texts, in order; ``reading``: the frame's upright reading) hold a line that may be a name
    in a script the OCR cannot read (see :data:`UNREADABLE_TURNED_SCORE`). A line read both
    ways is an image followed by the same image turned 180 degrees."""
    from cadbusi_assets.deid.line_gate import score
    from cadbusi_assets.ultrasound.glyphs import is_screen_vocabulary

    sideways: list[tuple[np.ndarray, float]] | None = None
    k = 0
    while k < len(reads):
        images, texts = [reads[k][0]], [reads[k][1]]
        k += 1
        if k < len(reads):
            other, text = reads[k]
            if other.shape == images[0].shape and np.array_equal(
                other, cv2.rotate(images[0], cv2.ROTATE_180)
            ):
                images.append(other)
                texts.append(text)
                k += 1
        if any(is_screen_vocabulary(t) for t in texts):
            continue
        if max(sum(ch.isalpha() for ch in t) for t in texts) < UNREADABLE_MIN_LETTERS:
            continue
        rows, cols = images[0].shape[:2]
        wide = cols >= UNREADABLE_MIN_ASPECT * rows
        least = UNREADABLE_TURNED_SCORE if wide else UNREADABLE_SURE_SCORE
        if not any(score(image) > least for image in images):
            continue
        if sideways is None:  # (found again for the rare line that gets this far)
            sideways = _turned_lines_seen(frame, reading)
        if not any(
            share >= UNREADABLE_SEEN_SHARE
            for line, share in sideways
            if line.shape == images[0].shape and np.array_equal(line, images[0])
        ):
            return True
    return False


def _unreadable_label_text(label_reads: Sequence[tuple[np.ndarray, str]]) -> bool:
    """Whether a line found upright on a light label (``label_reads``: the images the
    unseen-text search read there and their texts) is read as at least
    :data:`UNREADABLE_MIN_LETTERS` letters of none of the screen's own vocabulary: dark text
    on a label that the upright reading did not see, which for a study whose name is in a
    script the OCR cannot read may be that name (read as Latin junk)."""
    from cadbusi_assets.ultrasound.glyphs import is_screen_vocabulary

    return any(
        sum(ch.isalpha() for ch in text) >= UNREADABLE_MIN_LETTERS
        and not is_screen_vocabulary(text)
        for _image, text in label_reads
    )


def _turned_lines_seen(frame: np.ndarray, reading: FrameText) -> list[tuple[np.ndarray, float]]:
    """The images :func:`unseen_text` reads of the lines of ``frame`` found turned a quarter
    (as :func:`_search` finds them, widened over letter-spaced glyphs too), each with the
    share of its box that lies in the upright ``reading``'s lines. A line read that is not
    among them (tiny text, a panel's, a line crossed by a rule) counts as lying outside
    them."""
    level = brightness(frame)
    seen = np.zeros(level.shape, bool)
    for x0, y0, x1, y1 in reading.boxes:
        seen[y0 : y1 + 1, x0 : x1 + 1] = True
    view = _quarter_turn(level)
    out = []
    for box in _joined(find_text(view).lines):
        wider = _extended(view, box)
        for line in (box, wider) if wider != box else (box,):
            share = _share_in(_view_box_in_frame(line, 1, level.shape), seen)
            out.append((turned_line_image(view, line), share))
    return out


def _recorded(
    read_line: Callable[[np.ndarray], str], reads: list[tuple[np.ndarray, str]]
) -> Callable[[np.ndarray], str]:
    """``read_line`` appending each image it reads and its text to ``reads``."""

    def read(image: np.ndarray) -> str:
        text = read_line(image)
        reads.append((image, text))
        return text

    return read


def _unexplained_text(reading: FrameText) -> bool:
    """True when a line or strip of ``reading`` is not the screen's own vocabulary
    (:func:`~cadbusi_assets.ultrasound.glyphs.is_screen_vocabulary`)."""
    from cadbusi_assets.ultrasound.glyphs import is_screen_vocabulary

    texts = [line.text for line in reading.lines] + list(reading.strips)
    return any(t.strip() and not is_screen_vocabulary(t) for t in texts)


# ---------------------------------------------------------------------------------------
# Words of a connected script

#: Scripts whose letters join into one stroke along the baseline: a word of them is one
#: wide blob (with dots apart), which the line detector does not take for a line (its
#: glyphs are at most :data:`~cadbusi_assets.ultrasound.textlines.GLYPH_WIDTH` line heights
#: wide, and one blob must cross :data:`~cadbusi_assets.ultrasound.textlines.MIN_RUNS`
#: strokes a row). Only Arabic is tested (the only such font installed: DejaVu Sans).
CONNECTED_SCRIPTS = frozenset({"arabic", "syriac", "nko", "mandaic"})
#: A connected word (:func:`connected_words`): one ink blob from
#: :data:`MIN_TEXT_HEIGHT` to :data:`MAX_LINE_HEIGHT` px high, from
#: :data:`CONNECTED_MIN_ASPECT` to :data:`CONNECTED_MAX_ASPECT` times as wide, ink in at
#: least :data:`CONNECTED_COLUMNS` of its columns, at most :data:`CONNECTED_MAX_FILL` of its
#: box inked; a row crossing at least :data:`CONNECTED_MIN_RUNS` strokes (the teeth and
#: stems standing on the joining stroke), a row inked over :data:`CONNECTED_BASE` to
#: :data:`CONNECTED_MAX_BASE` of its width (the joining stroke; a straight line with marks
#: hanging on it is inked all along), at least :data:`CONNECTED_BAND` of its ink in the
#: densest band of rows a row higher than a stroke (at least 3 rows), at most
#: :data:`CONNECTED_TALL` of its columns inked over half its height or more (stems are few;
#: a speckle grain is a lump); strokes (twice the 90th percentile of the ink's distance to
#: the background) at most ``MAX_STROKE`` of its height or 3 px on a flat surround at
#: least ``PANEL_CONTRAST`` darker than the ink (the upright detector's rules), on speckle
#: at most :data:`CONNECTED_STROKE` of its height (3 px at least, 4 at most), at least
#: :data:`CONNECTED_CONTRAST` above its surround and drawn in one colour (at least
#: :data:`CONNECTED_FLAT` of its ink within 10 levels of its peak). Chosen on the generator's
#: tuning screens (seeds 100-439, cleaned): none of their blobs outside the upright reading's
#: lines passes, upright or turned a quarter (their densest band holds at most 0.43 of the
#: ink where all else passes); the Arabic names of ``tools/attack_line_gate.py --scripts2``
#: that the verification missed pass in 51 of 94 cases (their connected word, or speckle
#: glued to it, on the name; most bands 0.5-0.8).
CONNECTED_MIN_ASPECT = 2.0
CONNECTED_MAX_ASPECT = 7.0
CONNECTED_COLUMNS = 0.9
CONNECTED_MAX_FILL = 0.35
CONNECTED_MIN_RUNS = 6
CONNECTED_BASE = 0.5
CONNECTED_MAX_BASE = 0.97
CONNECTED_BAND = 0.5
CONNECTED_TALL = 0.35
CONNECTED_STROKE = 0.2
CONNECTED_CONTRAST = 100
CONNECTED_FLAT = 0.15


def _ink_blobs(level: np.ndarray) -> tuple[FrameInk, tuple[np.ndarray, ...]]:
    """The text ink's blobs on ``level`` as the line detector sees them, with their x, y,
    width, height and area columns."""
    frame_ink = FrameInk.of(level, ink=text_ink(level, None, TEXT_LEVEL, DIM_TEXT_LEVEL))
    return frame_ink, tuple(frame_ink.stats[:, k] for k in range(5))


def connected_words(level: np.ndarray) -> list[Box]:
    """Boxes of the blobs of a :func:`brightness` image that look like one word of a
    connected script (Arabic: letters joined along the baseline, dots apart; see
    :data:`CONNECTED_MIN_ASPECT` for the rules), bright on dark, upright or upside down.

    >>> word = np.zeros((40, 100), np.uint8)
    >>> word[24:26, 30:70] = 230  # the joining stroke
    >>> for x in (34, 40, 46, 52, 58):  # teeth standing on it
    ...     word[19:24, x : x + 2] = 230
    >>> word[10:24, 66:68] = 230; word[26:30, 28:30] = 230  # a stem, a tail
    >>> connected_words(word)
    [(28, 10, 69, 29)]
    >>> word[24:26, 20:80] = 230  # a straight line with marks on it
    >>> connected_words(word)
    []
    """
    from cadbusi_assets.ultrasound.textlines import (
        MAX_STROKE,
        PANEL_CONTRAST,
        ROUGH_SHARE,
        _surround,
    )

    frame_ink, (x, y, w, h, area) = _ink_blobs(level)
    pick = np.flatnonzero(
        (h >= MIN_TEXT_HEIGHT)
        & (h <= MAX_LINE_HEIGHT)
        & (w >= CONNECTED_MIN_ASPECT * h)
        & (w <= CONNECTED_MAX_ASPECT * h)
        & (area <= CONNECTED_MAX_FILL * w * h)
    )
    out: list[Box] = []
    for k in pick.tolist():
        x0, y0, wide, high = int(x[k]), int(y[k]), int(w[k]), int(h[k])
        box = (x0, y0, x0 + wide - 1, y0 + high - 1)
        mine = (frame_ink.labels[y0 : y0 + high, x0 : x0 + wide] == k + 1).view(np.uint8)
        if np.count_nonzero(mine.any(axis=0)) < CONNECTED_COLUMNS * wide:
            continue
        per_row = mine.sum(axis=1, dtype=np.int64)
        if not CONNECTED_BASE * wide <= int(per_row.max()) <= CONNECTED_MAX_BASE * wide:
            continue
        starts = np.count_nonzero(np.diff(mine, axis=1, prepend=0) == 1, axis=1)
        if int(starts.max()) < CONNECTED_MIN_RUNS:
            continue
        padded = cv2.copyMakeBorder(mine, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
        distance = cv2.distanceTransform(padded, cv2.DIST_L2, 3)[1:-1, 1:-1]
        lit = mine.astype(bool)
        stroke = 2.0 * float(np.quantile(distance[lit], 0.9))
        band = max(3, round(stroke) + 1)  # (the joining stroke wavers by a row)
        window = np.convolve(per_row, np.ones(band, np.int64))
        if int(window.max()) < CONNECTED_BAND * int(area[k]):
            continue
        first = lit.argmax(axis=0)
        last = high - 1 - lit[::-1].argmax(axis=0)
        spans = np.where(lit.any(axis=0), last - first + 1, 0)
        if np.count_nonzero(spans >= 0.5 * high) > CONNECTED_TALL * wide:
            continue
        levels = level[y0 : y0 + high, x0 : x0 + wide][lit]
        rough, background = _surround(frame_ink, box)
        contrast = int(np.median(levels)) - background
        if rough <= ROUGH_SHARE:
            ok = contrast >= PANEL_CONTRAST and stroke <= max(3.0, MAX_STROKE * high)
        else:
            flat = float(np.count_nonzero(levels >= int(levels.max()) - 10)) / levels.size
            ok = (
                contrast >= CONNECTED_CONTRAST
                and flat >= CONNECTED_FLAT
                and stroke <= min(4.0, max(3.0, CONNECTED_STROKE * high))
            )
        if ok:
            out.append(box)
    return out


def _connected_script_text(frame: np.ndarray, reading: FrameText) -> bool:
    """Whether ``frame`` shows a word of a connected script (:func:`connected_words`) that
    does not lie mostly (:data:`SEEN_SHARE`) in the upright ``reading``'s lines: upright or
    upside down, or turned a quarter either way; bright on the frame, or dark on a light
    label (:func:`light_panels` that hold ink, searched as :func:`unseen_text` searches them:
    the darkest channel inverted)."""
    level = brightness(frame)
    seen = np.zeros(level.shape, bool)
    for x0, y0, x1, y1 in reading.boxes:
        seen[y0 : y1 + 1, x0 : x1 + 1] = True
    for turn, view in ((0, level), (1, _quarter_turn(level))):
        for box in connected_words(view):
            if _share_in(_view_box_in_frame(box, turn, level.shape), seen) < SEEN_SHARE:
                return True
    # dark words on a light label (as unseen_text searches labels: the darkest channel
    # inverted)
    for panel in light_panels(level):
        if _share_in(panel, seen) >= SEEN_SHARE:
            continue
        crop_level = _crop(level, panel)
        dark = _darkness(_crop(frame, panel), crop_level)
        inside = (0, 0, panel[2] - panel[0], panel[3] - panel[1])
        if not _holds_ink(dark, crop_level, inside):
            continue
        ink = cv2.bitwise_not(dark)
        for turn, view in ((0, ink), (1, _quarter_turn(ink))):
            for box in connected_words(view):
                x0, y0, x1, y1 = _view_box_in_frame(box, turn, ink.shape)
                in_frame = (x0 + panel[0], y0 + panel[1], x1 + panel[0], y1 + panel[1])
                if _share_in(in_frame, seen) < SEEN_SHARE:
                    return True
    return False


# ---------------------------------------------------------------------------------------
# Words of a script whose letters share no baseline

#: Scripts whose letters reach above the x-height (ascenders) or below the baseline
#: (descenders) in turn, many of them descending (Georgian's mkhedruli: in ``ბერიძე`` three
#: of six letters; Armenian's lower case): a word's letters share the band of the x-height
#: but about half of them end below the baseline, so on a textured surround the line
#: detector's baseline rule (``TEXTURE_BASELINE``: 0.7 of the glyphs' bottoms within 0.15 of
#: the line height of their median) rejects it, upright or upside down (where the ascenders
#: end below). A Latin name in the same place is found (11 of the 26 Georgian names of
#: ``tools/attack_line_gate.py --scripts2`` missed on tuning seeds, all but 3 turned).
BANDED_SCRIPTS = frozenset({"georgian", "armenian"})
#: A banded line (:func:`banded_lines`): a chain of at least ``TEXTURE_GLYPHS`` glyphs that
#: the line detector's rules take for text on a textured surround but for the baseline, all
#: of whose glyphs cover one band of rows at least this share of the line's height (the
#: x-height: about half of a Georgian line's).
BANDED_SHARE = 0.4


def banded_lines(level: np.ndarray) -> list[Box]:
    """Boxes of the chains of glyphs of a :func:`brightness` image (bright on dark) that
    the line detector rejects on a textured surround only for their baseline while every
    glyph covers one band of rows (see :data:`BANDED_SHARE`): a word of a
    :data:`BANDED_SCRIPTS` script, upright or upside down."""
    from dataclasses import replace

    from cadbusi_assets.ultrasound.textlines import (
        GLYPH_HEIGHT,
        GLYPH_MIN_WIDTH,
        GLYPH_WIDTH,
        MAX_FILL,
        TEXTURE_BASELINE,
        TEXTURE_GLYPHS,
        _chain_boxes,
        text_like,
    )

    frame_ink, (x, y, w, h, area) = _ink_blobs(level)
    boxes = np.column_stack((x, y, x + w - 1, y + h - 1))
    solid = (area > MAX_FILL * w * h) & (4 * w > h)
    glyph = (h >= MIN_TEXT_HEIGHT) & (h <= MAX_LINE_HEIGHT) & ~solid
    chains, counts = _chain_boxes(boxes[glyph])
    heights = chains[:, 3] - chains[:, 1] + 1
    out: list[Box] = []
    for chain in chains[(counts >= TEXTURE_GLYPHS) & (heights >= MIN_TEXT_HEIGHT)].tolist():
        box: Box = (chain[0], chain[1], chain[2], chain[3])
        height = box[3] - box[1] + 1
        stats = frame_ink.stats[frame_ink.blobs_inside(box)]
        tall = (stats[:, 3] >= max(MIN_TEXT_HEIGHT - 1, GLYPH_HEIGHT * height)) & (
            stats[:, 2] <= max(GLYPH_MIN_WIDTH, GLYPH_WIDTH * height)
        )
        tops, highs = stats[tall, 1] - box[1], stats[tall, 3]
        if tops.size < TEXTURE_GLYPHS:
            continue
        rows = np.zeros(height + 1, np.int64)  # glyphs covering each row
        np.add.at(rows, tops, 1)
        np.add.at(rows, np.minimum(tops + highs, height), -1)
        covered = np.cumsum(rows)[:height]
        band = max(2, int(np.ceil(BANDED_SHARE * height)))
        if band > height:
            continue
        least = np.lib.stride_tricks.sliding_window_view(covered, band).min(axis=1)
        if int(least.max()) < tops.size:
            continue  # (the cheap test first: most chains of speckle fail it)
        evidence = text_like(frame_ink, box)
        if evidence.is_text or evidence.on_panel or evidence.baseline >= TEXTURE_BASELINE:
            continue  # a line already, on a panel (no baseline rule), or failing elsewhere
        if replace(evidence, baseline=1.0).is_text:
            out.append(box)
    return out


def _banded_name(identifiers: OriginalIdentifiers) -> bool:
    """Whether a patient's name is written in a script of :data:`BANDED_SCRIPTS`."""
    from cadbusi_assets.deid.identifiers import unreadable_name_scripts

    return bool(BANDED_SCRIPTS.intersection(unreadable_name_scripts(identifiers)))


def _banded_script_text(frame: np.ndarray, reading: FrameText) -> bool:
    """Whether ``frame`` shows a :func:`banded_lines` line, upright or turned a quarter,
    lying mostly outside (:data:`SEEN_SHARE`) the upright ``reading``'s lines, that
    tesseract reads one way (as drawn or upside down) as at least
    :data:`UNREADABLE_MIN_LETTERS` letters of no vocabulary and the learned turned-line gate
    scores that same way above :data:`UNREADABLE_TURNED_SCORE` (a line at least
    :data:`UNREADABLE_MIN_ASPECT` times as wide as high) or :data:`UNREADABLE_SURE_SCORE`.
    Chosen on the generator's tuning screens (seeds 100-439, cleaned): 18 of their 173
    frames that pass have a banded line, all speckle, read as at most 2 letters the way the
    gate scores above 0 (the highest -2.9 otherwise); the Georgian names it finds score
    2.3-8.6 (one 0.1, wide)."""
    from cadbusi_assets.deid.line_gate import score
    from cadbusi_assets.ultrasound.glyphs import is_screen_vocabulary
    from cadbusi_assets.ultrasound.ocr import TesseractUnavailable, engine

    level = brightness(frame)
    seen = np.zeros(level.shape, bool)
    for x0, y0, x1, y1 in reading.boxes:
        seen[y0 : y1 + 1, x0 : x1 + 1] = True
    reader = engine()
    try:
        for turn, view in ((0, level), (1, _quarter_turn(level))):
            for box in banded_lines(view):
                if _share_in(_view_box_in_frame(box, turn, level.shape), seen) >= SEEN_SHARE:
                    continue
                image = turned_line_image(view, box) if turn else line_image(view, box)
                rows, cols = image.shape[:2]
                least = (
                    UNREADABLE_TURNED_SCORE
                    if cols >= UNREADABLE_MIN_ASPECT * rows
                    else UNREADABLE_SURE_SCORE
                )
                for way in (image, cv2.rotate(image, cv2.ROTATE_180)):
                    text = reader.read_line(way)
                    if (
                        sum(ch.isalpha() for ch in text) >= UNREADABLE_MIN_LETTERS
                        and not is_screen_vocabulary(text)
                        and score(way) > least
                    ):
                        return True
    except TesseractUnavailable:
        raise DeidentificationError(_MISSING) from None
    except Exception as exc:  # the command fallback raises pytesseract errors
        raise DeidentificationError(f"OCR failed ({type(exc).__name__})") from None
    return False


# ---------------------------------------------------------------------------------------
# Cine

#: Cine: every this many frames is read, besides the first and the last.
CINE_STEP = 10
#: ... but at most this many frames in all (the step grows for long cines).
MAX_CINE_FRAMES = 16


def verification_frame_indices(n_frames: int) -> list[int]:
    """The sampled frames every verification reads (of a cine, :func:`verification_frames`
    adds the frames whose text differs from theirs): every frame of an object with up to
    three; of a longer cine the first, the last and every n-th (n = :data:`CINE_STEP`,
    larger for cines so long that more than :data:`MAX_CINE_FRAMES` frames would be read).

    >>> verification_frame_indices(1), verification_frame_indices(3)
    ([0], [0, 1, 2])
    >>> verification_frame_indices(25)
    [0, 10, 20, 24]
    >>> n = verification_frame_indices(1000); len(n), n[:2], n[-1]
    (16, [0, 67], 999)
    """
    if n_frames <= 3:
        return list(range(n_frames))
    step = max(CINE_STEP, -(-(n_frames - 1) // (MAX_CINE_FRAMES - 1)))
    return sorted({*range(0, n_frames, step), n_frames - 1})


#: A line of a frame is a read frame's line unless, in some window of the line's height
#: (at most :data:`MAX_LINE_HEIGHT`) and twice as wide, its text pixels (at least
#: ``DIM_TEXT_LEVEL`` bright: grey fonts too) that are no text pixel of the read frame
#: (within a pixel) are at least this share of its text pixels ...
NEW_INK_SHARE = 0.5
#: ... and at least this share of the window (the speckle around a line changes a few).
NEW_INK_DENSITY = 0.05
#: The still layer: pixels that the sampled frames agree on (within :data:`CHANGE_LEVEL`),
#: away from where they disagree by :data:`STILL_MARGIN` pixels (a moving fan's speckle, its
#: JPEG blocks).
CHANGE_LEVEL = 40
STILL_MARGIN = 8
#: A frame changes the still layer where at least this many of its pixels inside one
#: :data:`CHANGE_WINDOW` square differ from a read frame's by more than :data:`CHANGE_LEVEL`.
CHANGE_PIXELS = 10
CHANGE_WINDOW = 16


def _difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per pixel, the largest difference of any channel between two 8-bit frames (uint8;
    of deeper frames, that of their :func:`brightness`)."""
    if a.dtype != np.uint8:
        return cv2.absdiff(brightness(a), brightness(b))
    diff = cv2.absdiff(a, b)
    return brightness(diff) if diff.ndim == 3 else diff


def _changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """uint8 0/1: the pixels two frames differ at by more than :data:`CHANGE_LEVEL`."""
    return cv2.threshold(_difference(a, b), CHANGE_LEVEL, 1, cv2.THRESH_BINARY)[1]


def _still_layer(frames: np.ndarray, sampled: Sequence[int]) -> np.ndarray:
    """uint8 0/1 mask of the pixels the ``sampled`` frames agree on (see
    :data:`STILL_MARGIN`): what does not change anyway."""
    changed = np.zeros(frames.shape[1:3], np.uint8)
    first = frames[sampled[0]]
    for index in sampled[1:]:
        cv2.bitwise_or(changed, _changed(frames[index], first), dst=changed)
    size = 2 * STILL_MARGIN + 1
    moving = cv2.dilate(changed, cv2.getStructuringElement(cv2.MORPH_RECT, (size, size)))
    return (1 - moving).astype(np.uint8)


def _same_still_layer(a: np.ndarray, b: np.ndarray, still: np.ndarray) -> bool:
    """Whether frames ``a`` and ``b`` agree on the ``still`` layer (see
    :data:`CHANGE_PIXELS`)."""
    changed = cv2.bitwise_and(_changed(a, b), still)
    if cv2.countNonZero(changed) < CHANGE_PIXELS:
        return True
    window = (CHANGE_WINDOW, CHANGE_WINDOW)
    density = cv2.boxFilter(changed, cv2.CV_16U, window, normalize=False)
    return int(density.max()) < CHANGE_PIXELS


class _Lines:
    """A frame's lines over the moving image (:func:`find_lines`' boxes, strip areas too,
    found in ``area``: the box around what the still layer leaves out) and its text
    pixels."""

    def __init__(self, frame: np.ndarray, area: Box) -> None:
        x0, y0 = area[:2]
        found = find_lines(_crop(frame, area))
        self.boxes = [
            (a + x0, b + y0, c + x0, d + y0) for a, b, c, d in [*found.lines, *found.unresolved]
        ]
        self.ink = (brightness(frame) >= DIM_TEXT_LEVEL).view(np.uint8)

    def covered_by(self, read: _Lines) -> bool:
        """No line of this frame holds text pixels that ``read`` lacks (see
        :data:`NEW_INK_SHARE`)."""
        return not any(_new_text(self.ink, read.ink, box) for box in self.boxes)


_NEAR = np.ones((3, 3), np.uint8)


def _new_text(ink: np.ndarray, read: np.ndarray, box: Box) -> bool:
    """Whether the line ``box`` of a frame with text pixels ``ink`` holds text that a frame
    with text pixels ``read`` lacks (see :data:`NEW_INK_SHARE`)."""
    x0, y0, x1, y1 = box
    mine = ink[y0 : y1 + 1, x0 : x1 + 1]
    new = cv2.bitwise_and(mine, 1 - cv2.dilate(read[y0 : y1 + 1, x0 : x1 + 1], _NEAR))
    if cv2.countNonZero(new) == 0:
        return False
    height = min(y1 - y0 + 1, MAX_LINE_HEIGHT)
    window = (min(2 * height, x1 - x0 + 1), height)
    border = cv2.BORDER_CONSTANT
    new_sum = cv2.boxFilter(new, cv2.CV_32F, window, normalize=False, borderType=border)
    ink_sum = cv2.boxFilter(mine, cv2.CV_32F, window, normalize=False, borderType=border)
    enough = (new_sum >= NEW_INK_SHARE * ink_sum) & (
        new_sum >= NEW_INK_DENSITY * window[0] * window[1]
    )
    return bool(enough.any())


def verification_frames(frames: np.ndarray) -> list[int]:
    """Frames OCR verification reads of ``frames`` (n x rows x columns [x channels]): the
    sampled ones (:func:`verification_frame_indices`) and every other frame whose text
    layer differs from that of each frame read so far (in order).

    A frame's text layer is its lines (:func:`find_lines` runs on every frame: it tells
    text from the speckle that changes on every frame) and its still layer (the pixels the
    sampled frames agree on: the screen around the moving image, where text of any
    orientation or colour drawn on some frames only changes it). A frame is not read when
    a frame read before has the same text layer: no line of it holds text pixels that frame
    lacks (:data:`NEW_INK_SHARE` in a window of the line's height) and its still layer
    differs from that frame's nowhere (:data:`CHANGE_PIXELS` in a :data:`CHANGE_WINDOW`
    square). Text drawn on a few middle frames is read once, text that moves on each frame
    it moves to; a cine whose burned-in text is static reads only the sampled frames
    (selecting costs a :func:`find_lines` a frame, about a tenth of reading one).
    """
    frames = np.asarray(frames)
    n_frames = int(frames.shape[0])
    sampled = verification_frame_indices(n_frames)
    if n_frames <= len(sampled):
        return sampled
    still = _still_layer(frames, sampled)
    # lines in the still layer are the still layer's: lines are searched over the moving image
    x, y, w, h = cv2.boundingRect(1 - still)
    area = (x, y, x + max(w, 1) - 1, y + max(h, 1) - 1)
    lines: dict[int, _Lines] = {i: _Lines(frames[i], area) for i in sampled}
    read = list(sampled)
    chosen = set(sampled)
    for index in range(n_frames):
        if index in chosen:
            continue
        mine = _Lines(frames[index], area)
        if not any(
            mine.covered_by(lines[r]) and _same_still_layer(frames[index], frames[r], still)
            for r in read
        ):
            lines[index] = mine
            read.append(index)
            chosen.add(index)
    return sorted(chosen)
