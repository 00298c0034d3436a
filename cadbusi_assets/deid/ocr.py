"""OCR verification of cleaned pixels: is any of the study's own identifiers still readable?

After pixel cleaning, text inside the kept regions (laterality, clock position, distances)
stays on purpose, and whatever else was drawn there stays too. This module finds every
text-like line **anywhere** in a frame (no assumption about where operators type), reads each
one, and reports which *kinds* of the study's identifiers it read. Only the kinds leave this
module; the OCR text is never logged or returned by :func:`ocr_identifiers`.

Finding lines (:func:`find_lines`):

1. **Ink**: thin bright strokes: brightest channel at or above :data:`TEXT_LEVEL` (coloured
   text counts as much as white text) and at least :data:`STROKE_CONTRAST` above the
   morphological opening (a white top-hat), which keeps letters and drops wide bright areas.
2. **Lines**: the ink is smeared along the line; every blob at least :data:`MIN_TEXT_HEIGHT`
   pixels high and wide, with the shape and ink density of a line, is a candidate, wherever
   it is. A blob too big for a line (text touching speckle, stacked lines) is cut at its
   ink-free rows; a part still too big is searched again at the next brightness of
   :data:`LEVEL_STEPS`, so text brighter than the speckle around it comes apart from it.
   Lines whose ascenders and descenders touch are cut between them, and three or more
   glyph-sized blobs side by side (letters spaced wider than the smear) make a line too.
3. **Large text**: the same search on a copy shrunk :data:`COARSE_FACTOR` times finds lines
   taller than :data:`MAX_LINE_HEIGHT` or with strokes too wide for the top-hat.
4. **Fallback**: a bright structure that does not come apart into lines even at the last
   brightness (a Doppler trace, a needle, text glued to either, text too dense to split) is
   read in overlapping horizontal strips (:func:`strips`), each as one line. This is rare (a
   few frames in a hundred on the demo corpus).

Reading: each line is cropped, pixels darker than its text are set to background, inverted
to dark-on-light, scaled to ~:data:`LINE_HEIGHT` px and read as a single line by the
per-process ``libtesseract`` engine of :mod:`cadbusi_assets.ultrasound.ocr` (in-process C
API, cached per line image: static text repeated on every frame of a cine is read once).

Matching (:func:`find_identifiers_in_ocr_text`): the exact matching of
:func:`cadbusi_assets.deid.scan.find_identifiers_in_text` (names in any order or case, IDs
with or without leading zeros, dates in their common forms), plus what OCR does to text.

Cine (:func:`verification_frame_indices`): the first, the last and every
:data:`CINE_STEP`-th frame.

Blind spots: text dimmer than :data:`TEXT_LEVEL`, text no brighter than the speckle it
touches, glyphs under :data:`MIN_TEXT_HEIGHT` pixels, vertical or rotated text, text glued
to a bright trace that the strips do not separate, and the cine frames between the sampled
ones.

>>> import cv2
>>> frame = np.zeros((120, 400), np.uint8)
>>> _ = cv2.putText(frame, "DOE JANE", (150, 80), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 230, 2)
>>> [(x0 < 155, x1 > 260) for x0, y0, x1, y1 in find_lines(frame).lines]
[(True, True)]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np

from cadbusi_assets.deid.errors import DeidentificationError
from cadbusi_assets.deid.identifiers import OriginalIdentifiers
from cadbusi_assets.deid.scan import find_identifiers_in_text

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (inclusive)

#: Brightest channel from which a pixel can be text (overlay text is bright).
TEXT_LEVEL = 150
#: Brightness levels tried in turn inside a blob too big to be a line (text over speckle).
LEVEL_STEPS = (TEXT_LEVEL, 180, 210, 240)
#: Text strokes stand at least this far above the opened (stroke-free) image.
STROKE_CONTRAST = 40
#: Side of the square top-hat element: strokes narrower than this count as ink.
TOPHAT_SIZE = 11
#: Blobs lower or narrower than this cannot hold readable text.
MIN_TEXT_HEIGHT = 6
#: Lines up to this height are found at full resolution, taller ones by the coarse pass.
MAX_LINE_HEIGHT = 48
#: The coarse pass shrinks the frame this many times.
COARSE_FACTOR = 4
#: A row with at most this fraction of the ink of the densest rows above and below it
#: separates two stacked lines.
STACKED_VALLEY = 0.25
#: Ink fraction of a line box (text sits well inside these bounds).
MIN_FILL, MAX_FILL = 0.04, 0.9
#: Smearing that joins the letters of a line (width, height).
SMEAR = (13, 3)
#: Inside a line box, pixels below this percentile (or below :data:`TEXT_LEVEL`) are
#: background for reading.
BACKGROUND_PERCENTILE = 60
#: Line images are scaled to about this height (tesseract reads small UI fonts far better
#: scaled up), at most :data:`MAX_UPSCALE` times.
LINE_HEIGHT = 26
MAX_UPSCALE = 4.0
#: Fallback: a bright area that is not a set of lines is read in strips this high.
STRIP_HEIGHTS = (24, 40)

_MISSING = "OCR verification needs tesseract (apt-get install tesseract-ocr)"


@lru_cache(maxsize=1)
def tesseract_available() -> bool:
    """True when the OCR engine (``libtesseract``, else the ``tesseract`` command) runs."""
    from cadbusi_assets.ultrasound.ocr import tesseract_available as engine_available

    return engine_available()


# ---------------------------------------------------------------------------------------
# Finding lines


def brightness(frame: np.ndarray) -> np.ndarray:
    """Brightest channel per pixel (the grey value itself for a grey frame), uint8.

    >>> brightness(np.array([[[10, 200, 30], [0, 0, 255]]], np.uint8)).tolist()
    [[200, 255]]
    >>> brightness(np.array([[0, 2048, 4095]], np.uint16)).tolist()
    [[0, 127, 255]]
    """
    frame = np.asarray(frame)
    if frame.ndim == 3:
        if frame.shape[2] == 1:
            frame = frame[..., 0]
        else:
            channels = cv2.split(np.ascontiguousarray(frame[..., :3]))
            frame = cv2.max(cv2.max(channels[0], channels[1]), channels[2])
    if frame.dtype != np.uint8:  # more than 8 bits: scaled to the frame's own maximum
        top = float(frame.max()) if frame.size else 0.0
        scale = 255.0 / top if top > 255 else 1.0
        frame = np.clip(frame.astype(np.float32) * scale, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(frame)


def stroke_contrast(level: np.ndarray) -> np.ndarray:
    """White top-hat of a :func:`brightness` image: how far each pixel stands above the
    opened (stroke-free) image."""
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (TOPHAT_SIZE, TOPHAT_SIZE))
    return cv2.morphologyEx(level, cv2.MORPH_TOPHAT, kernel)


def text_ink(
    level: np.ndarray, tophat: np.ndarray | None = None, threshold: int = TEXT_LEVEL
) -> np.ndarray:
    """uint8 0/1 mask of thin bright strokes in a :func:`brightness` image, without vertical
    runs longer than a text line (scale rulers, bars, region borders: no glyph is that tall).
    """
    tophat = stroke_contrast(level) if tophat is None else tophat
    ink = ((level >= threshold) & (tophat >= STROKE_CONTRAST)).astype(np.uint8)
    rulers = cv2.morphologyEx(
        ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, MAX_LINE_HEIGHT + 1))
    )
    return cv2.subtract(ink, rulers)


def _bands(ink: np.ndarray) -> list[Box]:
    """``ink`` cut at its ink-free rows into horizontal bands, each trimmed to its ink.

    >>> ink = np.zeros((9, 8), np.uint8); ink[1:3, 2:5] = 1; ink[5:8, 1:7] = 1
    >>> _bands(ink)
    [(2, 1, 4, 2), (1, 5, 6, 7)]
    """
    rows = np.flatnonzero(ink.any(axis=1))
    if rows.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(rows) > 1)
    starts = np.concatenate(([rows[0]], rows[breaks + 1]))
    ends = np.concatenate((rows[breaks], [rows[-1]]))
    out = []
    for top, bottom in zip(starts, ends, strict=True):
        cols = np.flatnonzero(ink[top : bottom + 1].any(axis=0))
        out.append((int(cols[0]), int(top), int(cols[-1]), int(bottom)))
    return out


def _is_line(ink: np.ndarray, box: Box) -> bool:
    x0, y0, x1, y1 = box
    w, h = x1 - x0 + 1, y1 - y0 + 1
    if not (MIN_TEXT_HEIGHT <= h <= MAX_LINE_HEIGHT and w >= h):
        return False
    filled = cv2.countNonZero(ink[y0 : y1 + 1, x0 : x1 + 1]) / float(w * h)
    return MIN_FILL <= filled <= MAX_FILL


def _split_stacked(ink: np.ndarray, box: Box) -> list[Box]:
    """``box`` cut where its ink rows thin out between two dense parts: lines of text set
    so tight that their ascenders and descenders touch.

    >>> ink = np.zeros((30, 40), np.uint8); ink[2:12, :] = 1; ink[16:26, :] = 1
    >>> ink[12:16, 5] = 1  # a descender touching the next line
    >>> _split_stacked(ink, (0, 2, 39, 25))
    [(0, 2, 39, 12), (0, 13, 39, 25)]
    """
    x0, y0, x1, y1 = box
    rows = (ink[y0 : y1 + 1, x0 : x1 + 1] > 0).sum(axis=1)
    n = len(rows)
    if n < 2 * MIN_TEXT_HEIGHT + 1:
        return [box]
    ahead = np.maximum.accumulate(rows)
    behind = np.maximum.accumulate(rows[::-1])[::-1]
    best, cut = None, -1
    for y in range(MIN_TEXT_HEIGHT, n - MIN_TEXT_HEIGHT):
        dense = min(ahead[y - 1], behind[y + 1])
        if dense < rows.max() / 2:
            continue  # thin rows at a line's edge (ascenders, a T's bar), not between lines
        if rows[y] <= STACKED_VALLEY * dense and (best is None or rows[y] < best):
            best, cut = rows[y], y
    if cut < 0:
        return [box]
    top = (x0, y0, x1, y0 + cut - 1) if rows[cut] == 0 else (x0, y0, x1, y0 + cut)
    return _split_stacked(ink, top) + _split_stacked(ink, (x0, y0 + cut + 1, x1, y1))


def _shift(box: Box, dx: int, dy: int) -> Box:
    return (box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy)


def _search(
    level: np.ndarray, tophat: np.ndarray, step: int, lines: list[Box], unresolved: list[Box]
) -> None:
    """Append the line boxes of ``level`` (brightness :data:`LEVEL_STEPS` [step]) to
    ``lines``, and to ``unresolved`` what is too big for a line even at the last step."""
    ink = text_ink(level, tophat, LEVEL_STEPS[step])
    smeared = cv2.morphologyEx(
        ink, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, SMEAR)
    )
    _, _, stats, _ = cv2.connectedComponentsWithStats(smeared, connectivity=8)
    glyphs: list[Box] = []
    for x, y, w, h, _ in stats[1:]:
        if h < MIN_TEXT_HEIGHT or w < MIN_TEXT_HEIGHT or (h <= MAX_LINE_HEIGHT and w < h):
            if MIN_TEXT_HEIGHT <= h <= MAX_LINE_HEIGHT and w < h:
                # one glyph, or letters spaced wider than the smear (chained below)
                glyphs.append((int(x), int(y), int(x + w - 1), int(y + h - 1)))
            continue
        # Lines the smearing joined (a gap of a row or two) come apart at ink-free rows.
        for part in _bands(ink[y : y + h, x : x + w]):
            band = _shift(part, int(x), int(y))
            height = band[3] - band[1] + 1
            if _is_line(ink, band):
                lines += _split_stacked(ink, band)
            elif height < MIN_TEXT_HEIGHT:
                continue
            elif step + 1 < len(LEVEL_STEPS):
                sl = (slice(band[1], band[3] + 1), slice(band[0], band[2] + 1))
                found: list[Box] = []
                lost: list[Box] = []
                _search(level[sl], tophat[sl], step + 1, found, lost)
                lines += [_shift(b, band[0], band[1]) for b in found]
                unresolved += [_shift(b, band[0], band[1]) for b in lost]
            elif height > MAX_LINE_HEIGHT:
                for stacked in _split_stacked(ink, band):
                    if _is_line(ink, stacked):
                        lines.append(stacked)
                    elif stacked[3] - stacked[1] + 1 > MAX_LINE_HEIGHT:
                        unresolved.append(stacked)
    lines += _glyph_chains(glyphs)


def _glyph_chains(glyphs: Sequence[Box], least: int = 3) -> list[Box]:
    """Boxes of runs of at least ``least`` glyph-sized blobs side by side on one line (of
    similar height, less than 1.5 heights apart): letters spaced too wide to be smeared
    together still make a line.

    >>> _glyph_chains([(0, 0, 9, 19), (25, 1, 34, 20), (50, 0, 59, 19), (0, 60, 9, 79)])
    [(0, 0, 59, 20)]
    """
    chains: list[list[Box]] = []
    for glyph in sorted(glyphs):
        for chain in chains:
            last = chain[-1]
            h1, h2 = last[3] - last[1] + 1, glyph[3] - glyph[1] + 1
            overlap = min(last[3], glyph[3]) - max(last[1], glyph[1]) + 1
            if (
                overlap >= 0.6 * min(h1, h2)
                and max(h1, h2) <= 1.5 * min(h1, h2)
                and 0 <= glyph[0] - last[2] <= 1.5 * max(h1, h2)
            ):
                chain.append(glyph)
                break
        else:
            chains.append([glyph])
    return [
        (
            min(b[0] for b in chain),
            min(b[1] for b in chain),
            max(b[2] for b in chain),
            max(b[3] for b in chain),
        )
        for chain in chains
        if len(chain) >= least
    ]


def merge_words(boxes: Sequence[Box]) -> list[Box]:
    """Join boxes on one text line (vertical overlap >= 60 % of the lower one, gap <= 1.2
    line heights): a name split into words is read as one line.

    >>> merge_words([(0, 0, 20, 10), (30, 1, 50, 11), (0, 40, 20, 50)])
    [(0, 0, 50, 11), (0, 40, 20, 50)]
    """
    merged = sorted(boxes)
    changed = True
    while changed:
        changed = False
        out: list[Box] = []
        for box in merged:
            for k, other in enumerate(out):
                overlap = min(box[3], other[3]) - max(box[1], other[1]) + 1
                lower = min(box[3] - box[1], other[3] - other[1]) + 1
                taller = max(box[3] - box[1], other[3] - other[1]) + 1
                gap = max(box[0], other[0]) - min(box[2], other[2]) - 1
                if overlap >= 0.6 * lower and gap <= 1.2 * taller:
                    out[k] = (
                        min(box[0], other[0]),
                        min(box[1], other[1]),
                        max(box[2], other[2]),
                        max(box[3], other[3]),
                    )
                    changed = True
                    break
            else:
                out.append(box)
        merged = out
    return merged


@dataclass(frozen=True)
class FoundText:
    """Where a frame may hold text: single lines, and bright areas read in strips."""

    lines: list[Box] = field(default_factory=list)
    unresolved: list[Box] = field(default_factory=list)


def find_lines(frame: np.ndarray) -> FoundText:
    """Every text-like line in ``frame`` (inclusive full-frame boxes, top to bottom), and
    the bright areas that do not come apart into lines."""
    level = brightness(frame)
    lines: list[Box] = []
    unresolved: list[Box] = []
    _search(level, stroke_contrast(level), 0, lines, unresolved)
    lines = merge_words(lines)
    height, width = level.shape
    f = COARSE_FACTOR
    if min(height, width) >= 2 * f * MIN_TEXT_HEIGHT:
        small = cv2.resize(level, (width // f, height // f), interpolation=cv2.INTER_AREA)
        coarse: list[Box] = []
        _search(small, stroke_contrast(small), 0, coarse, [])
        large = [
            (x0 * f, y0 * f, min(width - 1, x1 * f + f - 1), min(height - 1, y1 * f + f - 1))
            for x0, y0, x1, y1 in coarse
            if (y1 - y0 + 1) * f > MAX_LINE_HEIGHT
        ]
        lines += large
    return FoundText(
        sorted(set(lines), key=_reading_order), sorted(set(unresolved), key=_reading_order)
    )


def _reading_order(box: Box) -> tuple[int, int, int, int]:
    return (box[1], box[0], box[3], box[2])


# ---------------------------------------------------------------------------------------
# Reading


def line_image(level: np.ndarray, box: Box, height: int = LINE_HEIGHT) -> np.ndarray:
    """Dark text on light for one line of a :func:`brightness` image, scaled to about
    ``height`` px. Pixels darker than the text (speckle) become background."""
    x0, y0, x1, y1 = box
    rows = y1 - y0 + 1
    pad = max(4, rows // 8)
    crop = level[max(0, y0 - pad) : y1 + pad + 1, max(0, x0 - pad) : x1 + pad + 1]
    inside = level[y0 : y1 + 1, x0 : x1 + 1]
    floor = max(TEXT_LEVEL, int(np.percentile(inside, BACKGROUND_PERCENTILE)))
    crop = np.where(crop >= floor, crop, 0).astype(np.uint8)
    scale = min(MAX_UPSCALE, height / float(rows))
    if scale < 1.0:
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    elif scale > 1.0:
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(255 - crop)


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


def strips(box: Box) -> list[Box]:
    """Overlapping horizontal strips of ``box``, each :data:`STRIP_HEIGHTS` high, half a
    strip apart: any line of text up to half a strip high lies whole in one of them.

    >>> strips((0, 0, 99, 59))
    [(0, 0, 99, 23), (0, 12, 99, 35), (0, 24, 99, 47), (0, 36, 99, 59), (0, 0, 99, 39), (0, 20, 99, 59)]
    """
    x0, y0, x1, y1 = box
    out: list[Box] = []
    for height in STRIP_HEIGHTS:
        last = max(y0, y1 - height + 1)
        tops = sorted({*range(y0, last + 1, height // 2), last})
        out += [(x0, top, x1, min(y1, top + height - 1)) for top in tops]
    return out


def ocr_text(frame: np.ndarray) -> str:
    """All text read in ``frame``, one line per text line (handle the result as PHI)."""
    if not tesseract_available():
        raise DeidentificationError(_MISSING)
    level = brightness(frame)
    found = find_lines(level)
    texts = read_lines(level, found.lines)
    # A strip holds a line of up to half its height: scaled so that such a line is read at
    # about LINE_HEIGHT.
    texts += read_lines(
        level, [strip for box in found.unresolved for strip in strips(box)], 2 * LINE_HEIGHT
    )
    return "\n".join(t.strip() for t in texts if t.strip())


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


_NEVER = re.compile(r"(?!)")


@lru_cache(maxsize=256)
def _ocr_regexes(
    identifiers: OriginalIdentifiers,
) -> tuple[tuple[str, re.Pattern[str], re.Pattern[str]], ...]:
    """Per kind: patterns for words (names, IDs with letters: folded text, anywhere) and
    for numbers and dates (digit-bounded: a longer number is another number)."""
    words: dict[str, list[str]] = {}
    numbers: dict[str, list[str]] = {}
    for kind, term in identifiers.search_terms():
        compact = "".join(term.split())
        if len(re.sub(r"[^0-9A-Z]", "", compact)) < FUZZY_MIN_LENGTH:
            continue
        if re.search(r"[A-Z]", compact):
            words.setdefault(kind, []).extend(_one_error(compact.translate(_LOOKALIKES)))
        else:
            numbers.setdefault(kind, []).extend(_one_error(compact))
    return tuple(
        (
            kind,
            re.compile("|".join(words[kind])) if kind in words else _NEVER,
            re.compile(rf"(?<!\d)(?:{'|'.join(numbers[kind])})(?!\d)")
            if kind in numbers
            else _NEVER,
        )
        for kind in sorted(set(words) | set(numbers))
    )


def find_identifiers_in_ocr_text(text: str, identifiers: OriginalIdentifiers) -> list[str]:
    """Kinds found in OCR output (lines separated by newlines).

    On top of the exact matching of
    :func:`~cadbusi_assets.deid.scan.find_identifiers_in_text`, this allows what OCR does to
    text: spaces inside a word or left out between words, letters touching a number,
    look-alike characters (``O`` for ``0``, ``l`` for ``1``...) and, in names and IDs of at
    least :data:`FUZZY_MIN_LENGTH` characters, one character wrong, missing or extra.

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
    """
    kinds = set(find_identifiers_in_text(text, identifiers))
    lines = text.upper().splitlines()
    compact = "\n".join("".join(line.split()) for line in lines)
    numbers_folded = "\n".join(
        "".join(re.sub(r"[0-9A-Z|]+", _fold_number, line).split()) for line in lines
    )
    folded = compact.translate(_LOOKALIKES)
    for kind, words, numbers in _ocr_regexes(identifiers):
        if kind not in kinds and (
            words.search(folded) or numbers.search(compact) or numbers.search(numbers_folded)
        ):
            kinds.add(kind)
    return sorted(kinds)


def ocr_identifiers(frame: np.ndarray, identifiers: OriginalIdentifiers) -> list[str]:
    """Kinds of the study's identifiers that tesseract can read anywhere in ``frame``."""
    if identifiers.is_empty():
        return []
    return find_identifiers_in_ocr_text(ocr_text(frame), identifiers)


# ---------------------------------------------------------------------------------------
# Cine

#: Cine: every this many frames is read, besides the first and the last.
CINE_STEP = 10
#: ... but at most this many frames in all (the step grows for long cines).
MAX_CINE_FRAMES = 16


def verification_frame_indices(n_frames: int) -> list[int]:
    """Frames OCR reads: every frame of an object with up to three; of a longer cine the
    first, the last and every n-th (n = :data:`CINE_STEP`, larger for cines so long that
    more than :data:`MAX_CINE_FRAMES` frames would be read).

    Burned-in text is drawn by the scanner on every frame of a cine and is static, so the
    first and last frames carry it; the frames between also catch text that appears or
    moves part-way. Static text is read once per process (the engine's line cache).

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
