"""The study's own identifiers, and the text variants to search for them.

:class:`OriginalIdentifiers` holds what the raw header says about who the patient is (names,
IDs, accession numbers, birth dates, other IDs). It is used to scrub free text and to check
outputs for leaks. Its ``repr`` shows counts only, never values.

>>> ids = OriginalIdentifiers(patient_names=("DOE^JANE",), patient_ids=("0012345",))
>>> repr(ids)
'OriginalIdentifiers(patient_names=1, patient_ids=1, accession_numbers=0, birth_dates=0, other=0)'
>>> ("patient_id", "12345") in ids.search_terms()
True
>>> ("patient_name", "DOE, JANE") in ids.search_terms()
True
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from functools import lru_cache

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from cadbusi_assets.deid.name_variants import (
    MIN_LATIN_COMPONENT,
    NAME_NOISE,
    component_groups,
    is_cjk,
    name_terms,
    normalise_text,
    spellings,
)

#: Latin name parts shorter than this are not searched for on their own (initials); CJK
#: parts of any length are (see :mod:`~cadbusi_assets.deid.name_variants`).
MIN_NAME_PART = MIN_LATIN_COMPONENT
#: Staff and relatives: only family names of at least this many Latin letters on their own.
MIN_OTHER_FAMILY = 4
#: Identifiers shorter than this are not searched for at all.
MIN_IDENTIFIER = 3

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
#: Full English month names (not the locale's: report text is English).
_MONTH_NAMES = (
    "JANUARY",
    "FEBRUARY",
    "MARCH",
    "APRIL",
    "MAY",
    "JUNE",
    "JULY",
    "AUGUST",
    "SEPTEMBER",
    "OCTOBER",
    "NOVEMBER",
    "DECEMBER",
)

#: Keywords whose values identify the patient or the encounter ("other" identifiers).
OTHER_ID_KEYWORDS = (
    "StudyID",
    "AdmissionID",
    "RequestedProcedureID",
    "PerformedProcedureStepID",
    "ScheduledProcedureStepID",
    "FillerOrderNumberImagingServiceRequest",
    "PlacerOrderNumberImagingServiceRequest",
    "MedicalRecordLocator",
    "ServiceEpisodeID",
    "PatientTelephoneNumbers",
    "PatientAddress",
    "MilitaryRank",
    "InsurancePlanIdentification",
    "ClinicalTrialSubjectID",
    "ClinicalTrialSubjectReadingID",
    "IssuerOfPatientID",
)
#: Person-name keywords of staff and relatives (searched as whole names and last names).
OTHER_NAME_KEYWORDS = (
    "ReferringPhysicianName",
    "PerformingPhysicianName",
    "OperatorsName",
    "NameOfPhysiciansReadingStudy",
    "PhysiciansOfRecord",
    "RequestingPhysician",
    "ScheduledPerformingPhysicianName",
    "PatientMotherBirthName",
    "ResponsiblePerson",
)
PATIENT_NAME_KEYWORDS = ("PatientName", "OtherPatientNames", "PatientBirthName")
PATIENT_ID_KEYWORDS = ("PatientID", "OtherPatientIDs")


def _values(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, MultiValue | list | tuple):
        return [str(v) for v in value if v is not None and str(v).strip()]
    text = str(value)
    return [text] if text.strip() else []


#: What a name's bytes may really be when the declared Specific Character Set is wrong.
_READINGS = (
    "utf-8",
    "cp1252",
    "iso8859_2",
    "iso8859_5",
    "cp1251",
    "koi8_r",
    "iso8859_7",
    "gb18030",
    "shift_jis",
    "euc_kr",
)
#: a UTF-8 lead byte read as Latin-1, followed by a continuation byte ("Ã¼" for "ü")
_UTF8_AS_LATIN1 = re.compile("[\u00c2-\u00f4][\u0080-\u00bf]")


def _script(ch: str) -> str:
    """A coarse script of a letter: latin, cyrillic, greek, cjk or other."""
    code = ord(ch)
    if code < 0x0250 or 0x1E00 <= code < 0x1F00:
        return "latin"
    if 0x0400 <= code < 0x0530:
        return "cyrillic"
    if 0x0370 <= code < 0x0400 or 0x1F00 <= code < 0x2000:
        return "greek"
    return "cjk" if is_cjk(ch) else "other"


def _plausible(text: str) -> bool:
    """Letters of one script, no C1 control character and no replacement character."""
    if any("\u0080" <= c <= "\u009f" or c == "\ufffd" for c in text):
        return False
    scripts = {_script(c) for c in text if c.isalpha()}
    return len(scripts) == 1 and "other" not in scripts


def _mis_decoded(text: str) -> bool:
    """Whether ``text`` looks read with the wrong character set: C1 control characters,
    UTF-8 read as Latin-1 (``Ã¼``), or a name mostly of accented Latin-1 letters (a Cyrillic
    or Greek single-byte name read as Latin-1: ``ÉãÚØÝÐ``)."""
    if any("\u0080" <= c <= "\u009f" for c in text) or _UTF8_AS_LATIN1.search(text):
        return True
    accented = sum(1 for c in text if c.isalpha() and "\u00c0" <= c <= "\u00ff")
    plain = sum(1 for c in text if c.isascii() and c.isalpha())
    return accented >= 3 and accented > plain


def charset_readings(text: str) -> list[str]:
    """Other readings of a name that looks decoded with the wrong character set (a file that
    declares ISO_IR 100 but holds UTF-8, Windows-1251 or ISO 8859-5 bytes): its bytes decoded
    with the usual other character sets, where the result is plausible (letters of one
    script). A transliteration of the real name ("ODEGAARD" for a UTF-8 "Ødegård" read as
    ``Ã\x98degÃ¥rd``) is then found like any other spelling.

    >>> charset_readings("Ã\x98degÃ¥rd^Ã\x85se")
    ['Ødegård^Åse']
    >>> "Щукина^Юлия" in charset_readings("ÉãÚØÝÐ^ÎÛØï")
    True
    >>> charset_readings("Ødegård^Åse"), charset_readings("SMITH^JANE")
    ([], [])
    """
    if text.isascii() or not _mis_decoded(text):
        return []
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError:
        return []
    found: list[str] = []
    for codec in _READINGS:
        try:
            reading = raw.decode(codec)
        except UnicodeDecodeError:
            continue
        if reading != text and reading not in found and _plausible(reading):
            if codec == "utf-8":
                return [reading]  # strict UTF-8 rarely decodes text that is not UTF-8
            found.append(reading)
    return found


def unreadable_name_scripts(identifiers: OriginalIdentifiers) -> list[str]:
    """Scripts of the patient's names that the OCR verification cannot read (tesseract's
    English model): every script but Latin and CJK (CJK names have a guard of their own in
    :mod:`~cadbusi_assets.deid.ocr`). A frame that keeps text outside the screen's own
    vocabulary may show such a name: the verification fails closed on it.

    The name is read as the identifier matching reads it (:func:`normalise_text`: full-width
    and mathematical Latin letters are Latin); modifier letters (``ʻ`` in ``ʻOlena``, ``ʰ``)
    belong to no script's reading. Each script is named as Unicode names it
    (:func:`_script_of`: ``new_tai_lue``, ``canadian_syllabics``).

    >>> unreadable_name_scripts(OriginalIdentifiers(patient_names=("Щукина^Юлия", "Müller^Zoë")))
    ['cyrillic']
    >>> unreadable_name_scripts(OriginalIdentifiers(patient_names=("Yamada^Tarou=山田^太郎",)))
    []
    >>> unreadable_name_scripts(OriginalIdentifiers(patient_names=("Ahmed^الحسيني", "ʻOlena")))
    ['arabic']
    """
    import unicodedata

    found: set[str] = set()
    for name in identifiers.patient_names:
        for ch in normalise_text(name):
            if not ch.isalpha() or ch.isascii() or is_cjk(ch):
                continue
            if unicodedata.category(ch) == "Lm":  # modifier letters: no script's own
                continue
            script = _script_of(ch)
            if script != "latin":
                found.add(script)
    return sorted(found)


#: Words of a character's Unicode name that follow its script's name (``NEW TAI LUE LETTER
#: HIGH QA``, ``GREEK SMALL LETTER ALPHA``, ``CANADIAN SYLLABICS A``, ``THAI CHARACTER KO
#: KAI``, ``YI SYLLABLE IT``, ``CUNEIFORM SIGN A``); without one, the first word is the script.
_AFTER_SCRIPT = frozenset(
    {
        "LETTER",
        "CAPITAL",
        "SMALL",
        "CHARACTER",
        "SYLLABLE",
        "LIGATURE",
        "VOWEL",
        "CONSONANT",
        "SIGN",
        "HIEROGLYPH",
        "IDEOGRAPH",
        "DIGIT",
        "NUMBER",
    }
)


def _script_of(ch: str) -> str:
    """The script of the letter ``ch`` as its Unicode name gives it, lower case, words joined
    by ``_`` (``other`` for a character Unicode does not name).

    >>> [_script_of(c) for c in "aЖאა\u1980\u1401\u1c5a\U00010300"]
    ['latin', 'cyrillic', 'hebrew', 'georgian', 'new_tai_lue', 'canadian_syllabics', \
'ol_chiki', 'old_italic']
    """
    import unicodedata

    words = unicodedata.name(ch, "OTHER").split()
    if words[0] == "CANADIAN":  # CANADIAN SYLLABICS A: no marker word after the script
        return "canadian_syllabics"
    marker = next((k for k, word in enumerate(words) if word in _AFTER_SCRIPT), 0)
    return "_".join(words[: marker or 1]).lower()  # (no marker: the first word)


def _walk_values(ds: Dataset, keywords: set[str]) -> Iterator[tuple[str, object]]:
    """(keyword, value) for every element named in ``keywords``, at any sequence depth."""
    for elem in ds.iterall():
        keyword = elem.keyword
        if keyword in keywords and elem.VR != "SQ":
            yield keyword, elem.value


def parse_da(text: str) -> dt.date | None:
    """``YYYYMMDD`` (also ``YYYY-MM-DD`` / ``YYYY.MM.DD``) as a date, else ``None``.

    >>> parse_da("19510829")
    datetime.date(1951, 8, 29)
    >>> parse_da("1951") is None
    True
    """
    digits = re.sub(r"[-.]", "", str(text).strip())
    if len(digits) != 8 or not digits.isdigit():
        return None
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def name_variants(name: str) -> list[str]:
    """Ways a DICOM person name is written elsewhere (upper case, longest first): whole-name
    forms, every component of every component group, accents stripped and transliterated
    (:func:`~cadbusi_assets.deid.name_variants.name_terms`), and a Cyrillic or Greek word as
    an English OCR reads its letters by shape (:func:`lookalike_forms`).

    >>> name_variants("Doe^Jane^Q")[:4]
    ['DOE, JANE Q', 'DOE^JANE^Q', 'JANE Q DOE', 'DOE, JANE']
    >>> "ZOE" in name_variants("Müller^Zoë") and "MUELLER" in name_variants("Müller^Zoë")
    True
    >>> "LUYKUHA" in name_variants("Лучкина^Анна")
    True
    """
    terms = [v for v in name_terms(name) if len(v) >= MIN_NAME_PART or is_cjk(v)]
    shapes = [
        form
        for group in component_groups(normalise_text(str(name)))
        for component in group[:3]
        for word in re.split(r"[\s\-]+", component)
        for form in lookalike_forms(word)
    ]
    terms += wrong_charset_forms(name)
    if not shapes:
        return sorted(dict.fromkeys(terms), key=lambda t: (-len(t), t))
    return sorted(dict.fromkeys(terms + shapes), key=lambda t: (-len(t), t))


def wrong_charset_forms(name: str) -> list[str]:
    """A name part with letters beyond ASCII as a reader of the wrong character set shows it
    (upper case): its UTF-8 bytes read as Latin-1 or Windows-1252 (``Quimbréll`` as
    ``QuimbrÃ©ll``: a sequence item that declares another Specific Character Set), and a
    name that is such a reading repaired. A reader sees the name in each; the matcher saw
    neither. (Latin-1 bytes read as UTF-8 lose their letters: see
    :func:`~cadbusi_assets.deid.scan.find_identifiers_in_text`.)

    >>> forms = wrong_charset_forms("Quimbréll^Zelda")
    >>> forms[0], "QUIMBRÃ‰LL" in forms
    ('QUIMBRÃ©LL', True)
    >>> wrong_charset_forms("QuimbrÃ©ll^Zelda")[-1]  # a misread name, repaired
    'QUIMBRÉLL'
    >>> wrong_charset_forms("Doe^Jane")
    []
    """
    forms: list[str] = []
    for word in re.split(r"[\s^=\-,]+", normalise_text(str(name))):
        if word.isascii() or len(word) < MIN_NAME_PART or is_cjk(word):
            continue
        found: list[str] = []
        for cased in dict.fromkeys((word.lower(), word.upper())):
            encoded = cased.encode("utf-8")
            found.append(encoded.decode("latin-1"))
            with contextlib.suppress(UnicodeDecodeError):  # a byte Windows-1252 lacks
                found.append(encoded.decode("cp1252"))
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            found.append(word.encode("cp1252").decode("utf-8"))
        found = [normalise_text(f).upper() for f in found]  # as text is matched
        forms += [f for f in found if f != word.upper() and f.strip()]
    return list(dict.fromkeys(forms))


#: Cyrillic and Greek capitals as an English OCR model reads them by their shape (not by
#: their sound: ``Л`` is read ``JI`` or ``L``, ``И`` ``N`` or ``U``, ``Ч`` ``Y`` or ``4``), the
#: likeliest reading first. A letter not listed has no Latin look-alike.
_SHAPE_READINGS: dict[str, tuple[str, ...]] = {
    "А": ("A",), "В": ("B",), "Е": ("E",), "Ё": ("E",), "К": ("K",), "М": ("M",),
    "Н": ("H",), "О": ("O",), "Р": ("P",), "С": ("C",), "Т": ("T",), "Х": ("X",),
    "І": ("I",), "Ј": ("J",), "Ѕ": ("S",), "Б": ("B", "6"), "Г": ("F", "R", "T"),
    "Д": ("A", "D"), "Ж": ("X", "K"), "З": ("3", "E"), "И": ("N", "U", "H"),
    "Й": ("N", "U", "H"), "Л": ("JI", "L", "N"), "П": ("N", "II"), "У": ("Y", "U"),
    "Ф": ("O", "CD"), "Ц": ("U", "LI"), "Ч": ("Y", "U", "4"), "Ш": ("W", "LU", "III"),
    "Щ": ("W", "LU", "LLI"), "Ъ": ("B",), "Ы": ("BI", "B"), "Ь": ("B",), "Э": ("E", "3"),
    "Ю": ("IO", "HO"), "Я": ("R", "A"),
    "Α": ("A",), "Β": ("B",), "Ε": ("E",), "Ζ": ("Z",), "Η": ("H",), "Ι": ("I",),
    "Κ": ("K",), "Μ": ("M",), "Ν": ("N",), "Ο": ("O",), "Ρ": ("P",), "Τ": ("T",),
    "Υ": ("Y",), "Χ": ("X",), "Γ": ("F", "R", "T"), "Δ": ("A", "D"), "Θ": ("O", "0"),
    "Λ": ("A", "N", "L"), "Ξ": ("E", "Z"), "Π": ("N", "II", "TT"), "Σ": ("E", "Z"),
    "Φ": ("O", "CD"), "Ψ": ("W", "Y"), "Ω": ("O", "Q"),
}  # fmt: skip
#: at most this many shape readings of one word (every mix of its letters' readings while
#: they are fewer, the likeliest first)
MAX_LOOKALIKE_FORMS = 256
#: words with fewer letters are not read by shape (too many common words look alike)
MIN_LOOKALIKE_LETTERS = 5


def lookalike_forms(word: str) -> list[str]:
    """How an English OCR model reads a Cyrillic or Greek ``word`` letter by letter by shape
    (upper case; the study's own name only: ``ЛУЧКИНА`` read ``LUYKUHA`` or ``JIYUKNHA``);
    empty for a word of another script or shorter than :data:`MIN_LOOKALIKE_LETTERS`.

    >>> forms = lookalike_forms("Лучкина")
    >>> forms[0], "LUYKUHA" in forms, "JIYUKNHA" in forms, lookalike_forms("Müller")
    ('JIYYKNHA', True, True, [])
    """
    upper = unicodedata.normalize("NFD", normalise_text(word).upper())
    letters = [ch for ch in upper if ch.isalpha()]  # Greek tonos and dialytika dropped
    if len(letters) < MIN_LOOKALIKE_LETTERS:
        return []
    if not any("\u0370" <= ch <= "\u04ff" for ch in letters):
        return []
    choices: list[tuple[str, ...]] = []
    for ch in letters:
        if ch in _SHAPE_READINGS:
            choices.append(_SHAPE_READINGS[ch])
        elif ch.isascii():
            choices.append((ch,))
        else:
            return []  # a letter with no look-alike: what OCR makes of it is unknown
    forms = ["".join(c[0] for c in choices), "".join(c[min(1, len(c) - 1)] for c in choices)]
    total = 1
    for c in choices:
        total *= len(c)
    if total <= MAX_LOOKALIKE_FORMS:
        forms += ["".join(combo) for combo in itertools.product(*choices)]
    return list(dict.fromkeys(forms))


def other_name_variants(name: str) -> list[str]:
    """Search texts for a staff member's or relative's name: whole-name forms in every
    spelling, and the family name alone when it has at least :data:`MIN_OTHER_FAMILY` Latin
    letters (or two CJK characters).

    >>> other_name_variants("Smith^Jo")[:2], "SMITH" in other_name_variants("Smith^Jo")
    (['SMITH, JO', 'JO SMITH'], True)
    >>> "JO" in other_name_variants("Smith^Jo")
    False
    """
    terms = name_terms(name, components=False)
    for group in component_groups(name):
        family = group[0] if group else ""
        if not family:
            continue
        cjk = is_cjk(family)
        long_enough = len(family) >= (2 if cjk else MIN_OTHER_FAMILY)
        if long_enough and family.upper() not in NAME_NOISE:
            terms += spellings(family)
    return [t for t in dict.fromkeys(terms) if len(t) >= MIN_IDENTIFIER or is_cjk(t)]


def date_variants(value: dt.date) -> list[str]:
    """Common written forms of a date (upper case), for burned-in text and free text.

    >>> date_variants(dt.date(1951, 8, 29))[:4]
    ['19510829', '08/29/1951', '8/29/1951', '1951-08-29']
    """
    d, m, y = value.day, value.month, value.year
    mon = _MONTHS[m - 1]
    full = _MONTH_NAMES[m - 1]
    return list(
        dict.fromkeys(
            [
                f"{y:04d}{m:02d}{d:02d}",
                f"{m:02d}/{d:02d}/{y:04d}",
                f"{m}/{d}/{y:04d}",
                f"{y:04d}-{m:02d}-{d:02d}",
                f"{y:04d}/{m:02d}/{d:02d}",
                f"{y:04d}.{m:02d}.{d:02d}",
                f"{d:02d}/{m:02d}/{y:04d}",
                f"{d:02d}.{m:02d}.{y:04d}",
                f"{m:02d}-{d:02d}-{y:04d}",
                f"{d:02d}-{m:02d}-{y:04d}",
                f"{d:02d}-{mon}-{y:04d}",
                f"{d}-{mon}-{y:04d}",
                f"{d:02d} {mon} {y:04d}",
                f"{d:02d}{mon}{y:04d}",
                f"{mon} {d:02d}, {y:04d}",
                f"{mon} {d}, {y:04d}",
                f"{m:02d}/{d:02d}/{y % 100:02d}",
                f"{d:02d}-{mon}-{y % 100:02d}",
                f"{m}/{d}/{y % 100:02d}",
                f"{d}.{m}.{y:04d}",
                f"{d}/{m}/{y:04d}",
                f"{mon} {d} {y:04d}",
                f"{d} {mon} {y:04d}",
                f"{full} {d}, {y:04d}",
                f"{full} {d} {y:04d}",
                f"{d} {full} {y:04d}",
            ]
        )
    )


def name_parts(name: str) -> frozenset[str]:
    """The parts of a DICOM person name a second spelling of it would share (upper case):
    every word of every component of every group, accents stripped and transliterated,
    Cyrillic and Greek in Latin letters, kana in both scripts; initials and titles left out.
    A name that looks decoded with the wrong character set adds its other readings' parts.

    >>> sorted(name_parts("Müller^Zoë"))
    ['MUELLER', 'MULLER', 'MÜLLER', 'ZOE', 'ZOË']
    >>> sorted(name_parts("DOE^J^MRS"))
    ['DOE']
    """
    parts: set[str] = set()
    for reading in [str(name), *charset_readings(str(name))]:
        for group in component_groups(normalise_text(reading)):
            for component in group:
                for word in re.split(r"[\s,.'’\-‐]+", component):
                    if is_cjk(word) or len(word) >= 2:
                        parts.update(s for s in spellings(word) if s not in NAME_NOISE)
    return frozenset(parts)


def names_share_a_part(first: str, second: str) -> bool:
    """Whether two person names share a name part, whatever their order, letter case,
    accents or script (transliterated): the PACS's and the warehouse's spelling of one
    person do; two people with no name in common do not.

    >>> names_share_a_part("Müller^Zoë", "ZOE MUELLER")
    True
    >>> names_share_a_part("Щукина^Юлия", "SHCHUKINA^YULIA")
    True
    >>> names_share_a_part("山田^太郎", "田中^花子"), names_share_a_part("DOE^JANE", "ROE^J")
    (False, False)
    """
    return not name_parts(first).isdisjoint(name_parts(second))


def id_variants(value: str) -> list[str]:
    """An identifier as written, and without leading zeros.

    >>> id_variants(" 00079241539 ")
    ['00079241539', '79241539']
    """
    text = str(value).strip().upper()
    out = [text]
    stripped = text.lstrip("0")
    if stripped != text and len(stripped) >= MIN_IDENTIFIER:
        out.append(stripped)
    return [v for v in out if len(v) >= MIN_IDENTIFIER]


@dataclass(frozen=True)
class OriginalIdentifiers:
    """The identifiers of one study (or object), as read from the raw header.

    Never logged: ``repr`` and ``str`` show counts only.
    """

    patient_names: tuple[str, ...] = ()
    patient_ids: tuple[str, ...] = ()
    accession_numbers: tuple[str, ...] = ()
    birth_dates: tuple[dt.date, ...] = ()
    other: tuple[str, ...] = field(default=())

    def __repr__(self) -> str:
        counts = ", ".join(f"{f.name}={len(getattr(self, f.name))}" for f in fields(self))
        return f"OriginalIdentifiers({counts})"

    __str__ = __repr__

    def is_empty(self) -> bool:
        return not any(getattr(self, f.name) for f in fields(self))

    @classmethod
    def from_dataset(cls, ds: Dataset) -> OriginalIdentifiers:
        """Collect identifiers from every depth of ``ds`` (sequences included).

        Patient names come from PatientName, OtherPatientNames and PatientBirthName; IDs from
        PatientID, OtherPatientIDs and OtherPatientIDsSequence items; accession numbers from
        AccessionNumber wherever it appears; birth dates from PatientBirthDate. ``other``
        holds further encounter IDs (StudyID, RequestedProcedureID...) and staff names.
        """
        wanted = set(
            PATIENT_NAME_KEYWORDS
            + PATIENT_ID_KEYWORDS
            + OTHER_ID_KEYWORDS
            + OTHER_NAME_KEYWORDS
            + ("AccessionNumber", "PatientBirthDate")
        )
        names: list[str] = []
        ids: list[str] = []
        accessions: list[str] = []
        births: list[dt.date] = []
        other: list[str] = []
        for keyword, value in _walk_values(ds, wanted):
            for text in _values(value):
                text = text.strip()
                if keyword in PATIENT_NAME_KEYWORDS:
                    names.append(text)
                    names += charset_readings(text)  # a wrongly declared character set
                elif keyword in PATIENT_ID_KEYWORDS:
                    ids.append(text)
                elif keyword == "AccessionNumber":
                    accessions.append(text)
                elif keyword == "PatientBirthDate":
                    parsed = parse_da(text)
                    if parsed is not None:
                        births.append(parsed)
                elif len(text) >= MIN_IDENTIFIER or keyword in OTHER_NAME_KEYWORDS:
                    other.append(text)
        return cls(
            patient_names=_unique(names),
            patient_ids=_unique(ids),
            accession_numbers=_unique(accessions),
            birth_dates=tuple(sorted(set(births))),
            other=_unique(other),
        )

    def merge(self, other: OriginalIdentifiers | None) -> OriginalIdentifiers:
        """Union of both sets of identifiers (order kept, duplicates dropped)."""
        if other is None:
            return self
        return OriginalIdentifiers(
            patient_names=_unique(self.patient_names + other.patient_names),
            patient_ids=_unique(self.patient_ids + other.patient_ids),
            accession_numbers=_unique(self.accession_numbers + other.accession_numbers),
            birth_dates=tuple(sorted(set(self.birth_dates + other.birth_dates))),
            other=_unique(self.other + other.other),
        )

    def search_terms(self) -> list[tuple[str, str]]:
        """``(kind, text)`` pairs to search for, upper case, longest first.

        Kinds: ``patient_name``, ``patient_id``, ``accession_number``, ``birth_date``,
        ``other_identifier``. Latin name parts shorter than :data:`MIN_NAME_PART` letters
        and identifiers shorter than :data:`MIN_IDENTIFIER` are left out; CJK name parts of
        any length are kept. Every searcher compiles these with
        :func:`~cadbusi_assets.deid.name_variants.term_regex`.
        """
        return list(_search_terms(self))  # every finder asks: worked out once per study

    def _search_terms(self) -> tuple[tuple[str, str], ...]:
        terms: list[tuple[str, str]] = []
        for name in self.patient_names:
            terms += [("patient_name", v) for v in name_variants(name)]
        for value in self.patient_ids:
            terms += [("patient_id", v) for v in id_variants(value)]
        for value in self.accession_numbers:
            terms += [("accession_number", v) for v in id_variants(value)]
        for birth in self.birth_dates:
            terms += [("birth_date", v) for v in date_variants(birth)]
        for value in self.other:
            if "^" in value or "=" in value:
                terms += [("other_identifier", v) for v in other_name_variants(value)]
            else:
                terms += [("other_identifier", v) for v in id_variants(value)]
        unique = dict.fromkeys((kind, text.upper()) for kind, text in terms if text.strip())
        return tuple(sorted(unique, key=lambda item: (-len(item[1]), item[0], item[1])))


@lru_cache(maxsize=256)
def _search_terms(identifiers: OriginalIdentifiers) -> tuple[tuple[str, str], ...]:
    return identifiers._search_terms()


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))
