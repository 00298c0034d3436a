"""Leak checks: find the study's own identifiers in text, bytes and whole data sets.

Every finder returns *kinds* (and, for data sets, element paths), never the text it found.
Matching is case- and accent-insensitive and bounded: an identifier only counts when it is
not part of a longer run of letters and digits, so ``1234`` does not match inside
``2.25.912345``; CJK name parts match anywhere. The patterns come from
:func:`~cadbusi_assets.deid.name_variants.term_regex`, the one matcher shared by the
scrubber, ``cadbusi verify`` and the pipeline's blocking check.

>>> from cadbusi_assets.deid.identifiers import OriginalIdentifiers
>>> ids = OriginalIdentifiers(patient_names=("DOE^JANE",), accession_numbers=("A77123",))
>>> find_identifiers_in_text("Pt: Jane Doe, acc a77123", ids)
['accession_number', 'patient_name']
>>> find_identifiers_in_text("Doesn't match JANET or DOES", ids)
[]
>>> find_identifiers_in_bytes("x\\x00jane".encode("utf-16-le"), ids)
['patient_name']
"""

from __future__ import annotations

import itertools
import re
import struct
from collections.abc import Iterator
from functools import lru_cache

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.tag import Tag

from cadbusi_assets.deid.identifiers import OriginalIdentifiers
from cadbusi_assets.deid.name_variants import (
    compile_terms,
    fold_text,
    may_match,
    normalise_text,
    term_byte_forms,
    term_pieces,
)

#: Byte-level matches on UTF-16 text need at least this many characters (random binary data
#: matches short UTF-16 patterns too easily).
MIN_UTF16_TERM = 4

#: Numbers written as text (IS, DS) count only for identifiers of at least this length (an
#: MRN in Instance Number; a short one would match image numbers by chance).
MIN_NUMBER_TERM = 6
_TEXT_NUMBER_VRS = ("IS", "DS")

#: Elements whose text we write ourselves (profile and option names): not scanned, since
#: words like "Patient" in "Retain Patient Characteristics" would match a name part.
OWN_BOOKKEEPING = frozenset({"DeidentificationMethod", "DeidentificationMethodCodeSequence"})


@lru_cache(maxsize=256)
def _text_regexes(
    identifiers: OriginalIdentifiers, min_length: int = 1
) -> tuple[tuple[str, re.Pattern[str]], ...]:
    by_kind: dict[str, list[str]] = {}
    for kind, term in identifiers.search_terms():
        if len(term) >= min_length:
            by_kind.setdefault(kind, []).append(term)
    return tuple((kind, compile_terms(terms)) for kind, terms in sorted(by_kind.items()))


def _byte_forms(identifiers: OriginalIdentifiers) -> Iterator[tuple[str, bytes, bool]]:
    """``(kind, bytes, ASCII case folded)`` of every byte form searched for."""
    for kind, term in identifiers.search_terms():
        for encoded, fold_case in term_byte_forms(term):
            yield kind, encoded, fold_case
        if len(term) >= MIN_UTF16_TERM:
            for codec in ("utf-16-le", "utf-16-be"):
                yield kind, term.encode(codec), True


@lru_cache(maxsize=256)
def _byte_needles(identifiers: OriginalIdentifiers) -> tuple[bytes, ...]:
    """Every byte form upper-cased (ASCII): a match needs one in the upper-cased data."""
    return tuple(dict.fromkeys(encoded.upper() for _, encoded, _ in _byte_forms(identifiers)))


@lru_cache(maxsize=256)
def _byte_regexes(identifiers: OriginalIdentifiers) -> tuple[tuple[str, re.Pattern[bytes]], ...]:
    by_kind: dict[str, list[bytes]] = {}
    exact: dict[str, list[bytes]] = {}
    for kind, term in identifiers.search_terms():
        for encoded, fold_case in term_byte_forms(term):
            if fold_case:
                by_kind.setdefault(kind, []).append(
                    rb"(?<![A-Za-z0-9])" + re.escape(encoded) + rb"(?![A-Za-z0-9])"
                )
            else:
                exact.setdefault(kind, []).append(re.escape(encoded))
        if len(term) >= MIN_UTF16_TERM:
            for codec in ("utf-16-le", "utf-16-be"):
                by_kind.setdefault(kind, []).append(re.escape(term.encode(codec)))
    out = []
    for kind in sorted(set(by_kind) | set(exact)):
        parts = []
        if kind in by_kind:
            parts.append(b"(?i:" + b"|".join(by_kind[kind]) + b")")
        if kind in exact:
            parts.append(b"(?:" + b"|".join(exact[kind]) + b")")
        out.append((kind, re.compile(b"|".join(parts))))
    return tuple(out)


@lru_cache(maxsize=256)
def _term_pieces(identifiers: OriginalIdentifiers) -> tuple[tuple[str, ...] | None, ...]:
    return tuple(dict.fromkeys(term_pieces(term) for _, term in identifiers.search_terms()))


def may_hold_identifiers(text: str, identifiers: OriginalIdentifiers) -> bool:
    """False only when none of the identifiers' terms can occur in ``text``: a pre-check
    that compiles nothing (:func:`~cadbusi_assets.deid.name_variants.may_match`), so that
    a patient's patterns are only compiled for a text that may hold one of them."""
    return bool(text) and may_match(normalise_text(text), _term_pieces(identifiers))


def find_identifiers_in_text(
    text: str, identifiers: OriginalIdentifiers, *, min_length: int = 1
) -> list[str]:
    """Kinds of the study's identifiers that occur in ``text`` (sorted, unique).

    ``min_length`` leaves out shorter terms (OCR of speckle reads stray two-letter words).
    The text is matched as a reader sees it (:func:`~cadbusi_assets.deid.name_variants.
    normalise_text`: a name split by a soft hyphen or written in full-width letters counts).
    """
    if not text or identifiers.is_empty():
        return []
    text = normalise_text(text)
    lost = _lost_letter_kinds(text, identifiers, min_length) if "\ufffd" in text else set()
    if not may_hold_identifiers(text, identifiers):
        return sorted(lost)
    regexes = _text_regexes(identifiers, min_length)
    return sorted(lost | {kind for kind, regex in regexes if regex.search(text)})


#: A word of text with letters lost in decoding (U+FFFD: a Latin-1 ``é`` in a value that
#: declares UTF-8), one U+FFFD for each; bounded as the patterns bound a term (a word with
#: digits in it is no name's).
_LOST_WORD_RE = re.compile(r"[\w\ufffd]*\ufffd[\w\ufffd]*")


def _lost_letter_kinds(text: str, identifiers: OriginalIdentifiers, min_length: int) -> set[str]:
    """Kinds of the one-word terms that a word with lost letters can be (``Quimbr\ufffdll``
    is ``QUIMBRELL`` and ``QUIMBRÉLL``, one letter unknown). A word needs at least three
    letters of its own and more than it lost.

    >>> ids = OriginalIdentifiers(patient_names=("QUIMBRELL^ZELDA",))
    >>> _lost_letter_kinds("Breast Quimbr\ufffdll Z\ufffdlda", ids, 1)
    {'patient_name'}
    >>> _lost_letter_kinds("\ufffd\ufffd\ufffd\ufffd\ufffd L\ufffdda", ids, 1)
    set()
    """
    patterns = []
    for word in _LOST_WORD_RE.findall(text):
        letters = sum(c.isalpha() for c in word)
        lost = word.count("\ufffd")
        if letters + lost == len(word) and letters >= 3 and letters > lost:
            body = "".join("." if c == "\ufffd" else re.escape(c) for c in fold_text(word))
            patterns.append(re.compile(body, re.IGNORECASE))
    if not patterns:
        return set()
    return {
        kind
        for kind, term in identifiers.search_terms()
        if len(term) >= min_length
        and " " not in term
        and any(p.fullmatch(fold_text(term)) for p in patterns)
    }


#: at most this many neighbouring values are read joined (``QUIM\\BRELL``, ``QUI\\MBR\\ELL``)
MAX_JOINED_VALUES = 3


def split_identifier_values(values: list[str], identifiers: OriginalIdentifiers) -> set[int]:
    """Indexes of the values that, joined with nothing between to one or two neighbours,
    spell one of the study's identifiers that none of them holds alone (a name split across
    two values, ``QUIM\\BRELL``: a reader reads them joined).

    >>> ids = OriginalIdentifiers(patient_names=("QUIMBRELL^ZELDA",))
    >>> split_identifier_values(["ORIGINAL", "QUIM", "BRELL"], ids)
    {1, 2}
    >>> split_identifier_values(["Breast", "Quim"], ids)
    set()
    """
    texts = [str(v).strip() for v in values]
    matched: set[tuple[int, int]] = set()  # (start, end) of the windows that spell one
    for size in range(2, MAX_JOINED_VALUES + 1):
        for start in range(len(texts) - size + 1):
            end = start + size
            window = texts[start:end]
            if not all(window) or any((a, b) in matched for a, b in _inner(start, end)):
                continue  # ("Breast", "久", "石"): the two last alone spell it
            if find_identifiers_in_text("".join(window), identifiers) and not any(
                find_identifiers_in_text(w, identifiers) for w in window
            ):
                matched.add((start, end))
    return {i for start, end in matched for i in range(start, end)}


def _inner(start: int, end: int) -> list[tuple[int, int]]:
    """The shorter windows of two values or more inside ``[start, end)``."""
    return [(a, b) for a in range(start, end) for b in range(a + 2, end + 1) if b - a < end - start]


def utf8_reading(value: str) -> str:
    """A value read as Latin-1 (a code string, an AE title, a UID: no character set applies)
    whose bytes are UTF-8, as UTF-8 (``ä¹\x85ç\x9f³`` is ``久石``); else the value.

    >>> utf8_reading("ä¹\x85ç\x9f³"), utf8_reading("ORIGINAL"), utf8_reading("Ñ")
    ('久石', 'ORIGINAL', 'Ñ')
    """
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


#: VRs whose values pydicom reads without the Specific Character Set
ASCII_VRS = frozenset({"CS", "AE", "UI", "AS", "DA", "DT", "TM", "IS", "DS"})


#: single letters each followed by one space (``Q U I M B R E L L``, ``久 石``)
_SPACED_LETTERS = re.compile(r"(?<![^\W_])(?:[^\W\d_][ \u3000]){1,}[^\W\d_](?![^\W_])")


def spaced_letters_joined(text: str) -> str:
    """``text`` with each run of single letters written with a space between joined
    (``Q U I M B R E L L`` is ``QUIMBRELL`` to a reader).

    >>> spaced_letters_joined("Breast Z E L D A, probe L 12")
    'Breast ZELDA, probe L 12'
    """
    if " " not in text and "\u3000" not in text:
        return text
    return _SPACED_LETTERS.sub(lambda m: re.sub(r"[ \u3000]", "", m.group(0)), text)


#: a run of letters (a CJK run too) that may be a name written backwards: four letters or
#: more (``LIN`` backwards is ``NIL``), two CJK characters or more
_BACKWARDS_RUN = re.compile(
    r"[^\W\d_]{4,}|[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]{2,}"
)


def words_backwards(text: str) -> str:
    """``text`` with each run of four letters or more, or of two CJK characters or more,
    written backwards in its place (``adleZ llosmilP`` is ``Zelda Plimsoll`` to a reader
    told to read it so).

    >>> words_backwards("Breast adleZ LLERBMIUQ 12 石久")
    'tsaerB Zelda QUIMBRELL 12 久石'
    """
    return _BACKWARDS_RUN.sub(lambda m: m.group(0)[::-1], text)


_CJK_ONLY = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]+")


@lru_cache(maxsize=256)
def _term_words(identifiers: OriginalIdentifiers) -> tuple[frozenset[str], tuple[str, ...]]:
    """The runs of :data:`_BACKWARDS_RUN` in the identifiers' terms, folded: the other
    scripts' words (matched whole) and the CJK runs (matched anywhere)."""
    words: set[str] = set()
    cjk: set[str] = set()
    for _, term in identifiers.search_terms():
        for run in _BACKWARDS_RUN.findall(normalise_text(term)):
            (cjk if _CJK_ONLY.fullmatch(run) else words).add(fold_text(run).upper())
    return frozenset(words), tuple(sorted(cjk))


def may_read_backwards(text: str, identifiers: OriginalIdentifiers) -> bool:
    """False when no run of ``text`` written backwards is a word of the identifiers' terms
    (a CJK run: holds one): a pre-check that spares the patterns for nearly every value.

    >>> ids = OriginalIdentifiers(patient_names=("QUIMBRELL^ZELDA=久石^是留田",))
    >>> [may_read_backwards(t, ids) for t in ("Breast LLERBMIUQ", "US 田留是石", "Breast L12")]
    [True, True, False]
    """
    if not text or identifiers.is_empty():
        return False
    words, cjk = _term_words(identifiers)
    for run in _BACKWARDS_RUN.findall(normalise_text(text)):
        back = fold_text(run[::-1]).upper()
        if back in words or any(w in back for w in cjk):
            return True
    return False


def backwards_identifiers_turned(text: str, identifiers: OriginalIdentifiers) -> str:
    """``text`` with the words that, written backwards, spell one of the study's identifiers
    turned forwards (for the cleaner to find and remove); the other words as they are.
    ``text`` itself where no word does.

    >>> ids = OriginalIdentifiers(patient_names=("QUIMBRELL^ZELDA",))
    >>> backwards_identifiers_turned("Breast LLERBMIUQ adleZ, L12", ids)
    'Breast QUIMBRELL Zelda, L12'
    >>> backwards_identifiers_turned("Breast LATERAL", ids)
    'Breast LATERAL'
    """
    if not may_read_backwards(text, identifiers):
        return text
    turned = words_backwards(text)
    if turned == text or not find_identifiers_in_text(turned, identifiers):
        return text
    out = _BACKWARDS_RUN.sub(
        lambda m: (
            m.group(0)[::-1]
            if find_identifiers_in_text(m.group(0)[::-1], identifiers)
            and not find_identifiers_in_text(m.group(0), identifiers)
            else m.group(0)
        ),
        text,
    )
    if out != text or find_identifiers_in_text(text, identifiers):
        return out
    return turned  # only the words together spell one ("adleZ llosmilP" of a relative)


#: a run of letters with single spaces or punctuation between, or a phone, in bytes
_TEXT_IN_BYTES = re.compile(
    rb"[A-Za-z](?:[A-Za-z]|[ ,.'-]{1,2}(?=[A-Za-z])){5,}"
    rb"|(?<![0-9])[0-9]{3}[-. ][0-9]{3}[-. ][0-9]{4}(?![0-9])|(?<![0-9])[0-9]{3}-[0-9]{4}(?![0-9])"
)


def reads_as_text(data: bytes) -> bool:
    """Whether numbers' bytes (a LUT's entries, a table's values) read as words or a phone:
    six letters or more of at least four different ones, none of them nearly half the run
    (``AABACADA``, the bytes of a 16-bit ramp, is no word) and most not one step apart
    (``ABCDEFGH``: an 8-bit ramp), or a phone's digits.

    >>> reads_as_text(b"Ottoline Vexworth"), reads_as_text(b"\\x00\\x01617-555-0143")
    (True, True)
    >>> reads_as_text(bytes(range(256))), reads_as_text(b"AABACADAEAFAGA")
    (False, False)
    """
    for match in _TEXT_IN_BYTES.finditer(data):
        run = match.group(0)
        if run[:1].isdigit():
            return True
        letters = [c for c in run.upper() if 65 <= c <= 90]
        if len(letters) < 6 or len(set(letters)) < 4:
            continue
        steps = [b - a for a, b in itertools.pairwise(run)]
        if max(steps.count(d) for d in set(steps)) * 2 >= len(steps):
            continue  # "ABCDEFGH": a ramp's bytes, one step apart
        if max(letters.count(c) for c in set(letters)) * 5 <= len(letters) * 2:
            return True
    return False


def find_identifiers_in_bytes(data: bytes, identifiers: OriginalIdentifiers) -> list[str]:
    """Kinds found in raw bytes, as ASCII/Latin-1 or UTF-16 (LE/BE) text, case-insensitive.

    Scanning a whole file includes the pixel bytes, where short terms match by chance; use
    :func:`pixel_data_span` to leave the Pixel Data value out (OCR covers the pixels).
    """
    if not data or identifiers.is_empty():
        return []
    upper = bytes(data).upper()  # a match needs one of the forms (ASCII case folded)
    if not any(needle in upper for needle in _byte_needles(identifiers)):
        return []
    return [kind for kind, regex in _byte_regexes(identifiers) if regex.search(data)]


def pixel_data_span(data: bytes) -> tuple[int, int] | None:
    """``(start, end)`` of the native Pixel Data value in an explicit-VR little-endian file.

    >>> blob = b"x" * 4 + b"\\xe0\\x7f\\x10\\x00OB\\x00\\x00" + (4).to_bytes(4, "little") + b"abcd"
    >>> pixel_data_span(blob)
    (16, 20)
    """
    marker = b"\xe0\x7f\x10\x00"
    position = data.rfind(marker)
    while position >= 0:
        vr = data[position + 4 : position + 6]
        if vr in (b"OB", b"OW") and data[position + 6 : position + 8] == b"\x00\x00":
            length = int.from_bytes(data[position + 8 : position + 12], "little")
            start = position + 12
            end = len(data) if length == 0xFFFFFFFF else start + length
            if end <= len(data):
                return start, end
        position = data.rfind(marker, 0, position)
    return None


def find_identifiers_in_file_bytes(data: bytes, identifiers: OriginalIdentifiers) -> list[str]:
    """Like :func:`find_identifiers_in_bytes` but without the Pixel Data value."""
    span = pixel_data_span(data)
    if span is not None:
        data = data[: span[0]] + b"\x00" + data[span[1] :]
    return find_identifiers_in_bytes(data, identifiers)


#: Numbers stored as binary values (written back as the bytes they were read from), and the
#: ``struct`` format of one value (an AT value is its group, then its element).
BINARY_NUMBER_FORMATS = {
    "US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d", "UV": "Q", "SV": "q",
    "AT": "HH",
}  # fmt: skip


def number_bytes(elem: DataElement) -> bytes | None:
    """The little-endian bytes of a binary number element's values (as the file holds them);
    ``None`` for another VR or values that do not pack."""
    fmt = BINARY_NUMBER_FORMATS.get(elem.VR)
    if fmt is None or elem.value is None:
        return None
    values = list(elem.value) if isinstance(elem.value, MultiValue | list | tuple) else [elem.value]
    try:
        if elem.VR == "AT":
            return b"".join(struct.pack("<HH", int(v) >> 16, int(v) & 0xFFFF) for v in values)
        return struct.pack(f"<{len(values)}{fmt}", *values)
    except (struct.error, TypeError, ValueError, OverflowError):
        return None


def find_identifiers_in_number_bytes(data: bytes, identifiers: OriginalIdentifiers) -> list[str]:
    """Kinds whose terms of at least :data:`MIN_NUMBER_TERM` characters the bytes of numbers
    spell (``QUIMBRELL`` as twelve ``US`` values, an MRN as one ``FD``), as ASCII/Latin-1 or
    UTF-16: the bytes read as text with their NULs as spaces and without them.

    >>> ids = OriginalIdentifiers(patient_names=("DOE^JANE",), patient_ids=("4815162",))
    >>> find_identifiers_in_number_bytes(struct.pack("<d", 1.5) + b"4815162\\x00", ids)
    ['patient_id']
    >>> find_identifiers_in_number_bytes(struct.pack("<4H", 0, 256, 256, 0), ids)
    []
    """
    if len(data) < MIN_NUMBER_TERM or identifiers.is_empty():
        return []  # (one US, UL or SL value: too short to spell a term)
    text = data.decode("latin-1")
    kinds = set()
    for form in (text.replace("\x00", " "), text.replace("\x00", "")):
        kinds |= set(find_identifiers_in_text(form, identifiers, min_length=MIN_NUMBER_TERM))
    return sorted(kinds)


def element_name(elem: DataElement) -> str:
    """Keyword, or ``(gggg,eeee)`` for private and unknown elements."""
    tag = Tag(elem.tag)
    return elem.keyword or f"({tag.group:04X},{tag.element:04X})"


def iter_elements(ds: Dataset, prefix: str = "") -> Iterator[tuple[str, DataElement]]:
    """``(path, element)`` for every element at every depth; file meta first."""
    meta = getattr(ds, "file_meta", None)
    if meta is not None and not prefix:
        for elem in meta:
            yield f"file_meta.{element_name(elem)}", elem
    for elem in ds:
        path = f"{prefix}{element_name(elem)}"
        yield path, elem
        if elem.VR == "SQ" and elem.value is not None:
            for index, item in enumerate(elem.value):
                yield from iter_elements(item, f"{path}[{index}].")


def _element_text(elem: DataElement) -> str | bytes | None:
    value = elem.value
    if value is None or elem.VR == "SQ":
        return None
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, MultiValue | list | tuple):
        return "\\".join(str(v) for v in value)
    if isinstance(value, int | float) and elem.VR not in _TEXT_NUMBER_VRS:
        return None
    return str(value)


def find_identifiers_in_dataset(ds: Dataset, identifiers: OriginalIdentifiers) -> list[str]:
    """``"<element path>: <kind>"`` for every element that holds one of the identifiers.

    Walks the file meta, every sequence item at any depth and private elements. Binary
    values (OB/OW/UN) are scanned as bytes, numbers written as text (IS, DS) as text, binary
    numbers (US, UL, FD, ...) also as their bytes (:func:`find_identifiers_in_number_bytes`); the
    top-level Pixel Data value is left to OCR (Pixel Data in a sequence item is scanned:
    nothing cleans or reads it).
    """
    if identifiers.is_empty():
        return []
    findings: list[str] = []
    for path, elem in iter_elements(ds):
        if path == "PixelData" or path.split("[")[0] in OWN_BOOKKEEPING:
            continue
        number = number_bytes(elem)
        in_bytes = find_identifiers_in_number_bytes(number, identifiers) if number else []
        content = _element_text(elem)
        if content is None:
            kinds = []
        elif isinstance(content, bytes):
            kinds = find_identifiers_in_bytes(content, identifiers)
        elif elem.VR in _TEXT_NUMBER_VRS:
            kinds = find_identifiers_in_text(content, identifiers, min_length=MIN_NUMBER_TERM)
        else:
            if elem.VR in ASCII_VRS:
                content = utf8_reading(content)
            kinds = find_identifiers_in_text(content, identifiers)
            spaced = spaced_letters_joined(content)
            if not kinds and spaced != content:  # "Q U I M B R E L L"
                kinds = find_identifiers_in_text(spaced, identifiers)
            if not kinds and may_read_backwards(content, identifiers):  # "LLERBMIUQ"
                backwards = words_backwards(content)
                if backwards != content:
                    kinds = find_identifiers_in_text(backwards, identifiers)
            if not kinds and isinstance(elem.value, MultiValue | list | tuple):  # "QUIM\\BRELL"
                values = [str(v) for v in elem.value]
                if elem.VR in ASCII_VRS:
                    values = [utf8_reading(v) for v in values]
                if split_identifier_values(values, identifiers):
                    kinds = find_identifiers_in_text("".join(values), identifiers)
        findings += [f"{path}: {kind}" for kind in sorted({*kinds, *in_bytes})]
    return findings
