"""Cleaning free-text descriptors (the ``C`` action of the Clean Descriptors option).

Two passes: the study's own identifiers (every variant of :meth:`search_terms`) are replaced
by a marker, then generic patterns that look like dates, long ID numbers, person names in
DICOM notation (``LAST^FIRST``) or after a title, e-mail addresses and phone numbers.
Clinical words (laterality, clock position, probe and preset names) are left alone.

>>> from cadbusi_assets.deid.identifiers import OriginalIdentifiers
>>> ids = OriginalIdentifiers(patient_names=("DOE^JANE",), patient_ids=("00123456",))
>>> scrub_text("US BREAST LT 10:00 3CM FN", ids)
'US BREAST LT 10:00 3CM FN'
>>> scrub_text("Jane Doe 123456 seen 03/02/2017 by Dr. Smith", ids)
'[name] [id] seen [date] by [name]'
>>> scrub_text("SMITH^JOHN called 555-123-4567", OriginalIdentifiers())
'[name] called [phone]'

Free-text values (ST, LT, UT: Image Comments, Additional Patient History...) also go through
the report scrubber (:func:`~cadbusi_assets.records.scrub.scrub_report_text`), which finds
other people's names without a title (relatives, staff), addresses, URLs and ids:

>>> scrub_free_text("Pt [name]; sister Zelda Plimsoll 555-0142", ids)
'Pt [name]; sister [NAME] [id]'
"""

from __future__ import annotations

import re
from functools import lru_cache

from cadbusi_assets.deid.identifiers import OriginalIdentifiers
from cadbusi_assets.deid.name_variants import normalise_text, terms_regex

_KIND_MARKERS = {
    "patient_name": "[name]",
    "patient_id": "[id]",
    "accession_number": "[id]",
    "birth_date": "[date]",
    "other_identifier": "[id]",
}

#: a DICOM person name, "SMITH^JANE" (matched by :func:`_person_names`, not by ``sub``)
_PERSON_NAME = re.compile(r"(?<![\w^])[A-Za-z'-]+(?:\^[A-Za-z'-]*)+")
#: the runs of characters a person name is made of
_PERSON_NAME_RUN = re.compile(r"[A-Za-z'^-]+")
#: what may not come before a person name (the pattern's look-behind)
_PERSON_NAME_BEFORE = re.compile(r"[\w^]")
_MONTH = r"(?:JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|SEPT|OCT|NOV|DEC)[A-Z]*\.?"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # (from the start of a run only: the same matches, and a long run with no "@" is read
    # once, not once from each of its characters)
    (re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+\.[\w.-]+"), "[email]"),
    (re.compile(r"(?<!\w)(?:\+?1[ .-]?)?\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}(?!\w)"), "[phone]"),
    (re.compile(r"(?<!\w)\d{1,4}[/.-]\d{1,2}[/.-]\d{2,4}(?!\w)"), "[date]"),
    (re.compile(rf"(?<!\w)\d{{1,2}}[ -]?{_MONTH}[ -]?\d{{2,4}}(?!\w)", re.IGNORECASE), "[date]"),
    (re.compile(rf"(?<!\w){_MONTH} \d{{1,2}},? \d{{4}}(?!\w)", re.IGNORECASE), "[date]"),
    (re.compile(r"(?<!\w)(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?!\w)"), "[date]"),
    (re.compile(r"(?<!\w)[A-Z]*\d[A-Z\d-]{5,}(?!\w)", re.IGNORECASE), "[id]"),
    (_PERSON_NAME, "[name]"),
    (
        re.compile(
            r"(?<!\w)(?:DR|MR|MRS|MS|MISS|PROF)\.?\s+[A-Z][A-Za-z'-]+(?:\s+[A-Z][A-Za-z'-]+)?",
            re.IGNORECASE,
        ),
        "[name]",
    ),
)

#: IDs are only runs with at least this many digits (probe names like L12-5 stay).
_MIN_ID_DIGITS = 6


@lru_cache(maxsize=256)
def _identifier_regex(identifiers: OriginalIdentifiers) -> tuple[tuple[re.Pattern[str], str], ...]:
    """One pattern per marker (compiling a pattern per term cost ~0.2 s per patient), the
    marker whose longest term is longest first."""
    by_marker: dict[str, list[str]] = {}
    for kind, term in identifiers.search_terms():  # longest first
        by_marker.setdefault(_KIND_MARKERS.get(kind, "[id]"), []).append(term)
    return tuple(
        (re.compile(terms_regex(terms), re.IGNORECASE), marker)
        for marker, terms in by_marker.items()
    )


def _collapse(text: str) -> str:
    text = re.sub(r"(\[(?:name|id|date)\])(?:\s*,?\s*\1)+", r"\1", text)
    return re.sub(r"\s{2,}", " ", text).strip()


def _replace_ids(match: re.Match[str]) -> str:
    token = match.group(0)
    digits = sum(ch.isdigit() for ch in token)
    return "[id]" if digits >= _MIN_ID_DIGITS else token


def _person_names(text: str, marker: str) -> str:
    """``_PERSON_NAME.sub(marker, text)`` in linear time: the regular expression tries every
    character of a run of letters, apostrophes and hyphens with no caret after it, and reads
    the run to its end from each (a text of 16,000 hyphens took 10 s). A match starts at the
    first character of a run of those characters and carets that the pattern's look-behind
    allows, that is not a caret and has a caret after it, and ends at the run's end."""
    if "^" not in text:
        return text
    spans = []
    for run in _PERSON_NAME_RUN.finditer(text):
        start, end = run.span()
        last_caret = text.rfind("^", start, end)
        if last_caret < 0:
            continue
        for at in range(start, last_caret):
            if text[at] != "^" and (at == 0 or _PERSON_NAME_BEFORE.match(text, at - 1) is None):
                spans.append((at, end))
                break
    if not spans:
        return text
    parts, done = [], 0
    for start, end in spans:
        parts += [text[done:start], marker]
        done = end
    return "".join([*parts, text[done:]])


def scrub_text(text: str, identifiers: OriginalIdentifiers | None = None) -> str:
    """``text`` without the study's identifiers and without name/date/ID-like patterns."""
    if not text:
        return text
    text = normalise_text(str(text))  # invisible characters, NFD accents, full-width letters
    out = text
    if identifiers is not None and not identifiers.is_empty():
        for regex, marker in _identifier_regex(identifiers):
            out = regex.sub(marker, out)
    for regex, marker in _PATTERNS:
        if regex is _PERSON_NAME:
            out = _person_names(out, marker)
        elif marker == "[id]":
            out = regex.sub(_replace_ids, out)
        else:
            out = regex.sub(marker, out)
    if "[date]" in out:  # "Seen Tuesday, [date]": the weekday told the date's day
        from cadbusi_assets.records.scrub import drop_weekdays_beside_dates

        out = drop_weekdays_beside_dates(out)
    return _collapse(out) if out != text else out


def scrub_free_text(text: str, identifiers: OriginalIdentifiers | None = None) -> str:
    """:func:`scrub_text`, then the report scrubber's third-party pass (names of relatives and
    staff without a title, addresses, URLs, ids; dates removed, never shifted)."""
    out = scrub_text(text, identifiers)
    if not out:
        return out
    from cadbusi_assets.records.scrub import drop_odd_space_fragments, scrub_report_text

    scrubbed = scrub_report_text(out, identifiers=(), date_shift_days=0, remove_dates=True) or out
    return drop_odd_space_fragments(str(text), scrubbed)


def scrub_descriptor_text(text: str, identifiers: OriginalIdentifiers | None = None) -> str:
    """:func:`scrub_text`, then the report scrubber's patterns (addresses, URLs, phones, ids,
    ages over 89) and its names in a name context only ("for Hortensia Quackenbush",
    "Dr Quimby", a name from the person-name list and its neighbours): short descriptors
    (LO, SH: Study Description, Protocol Name) are full of product names that are in no
    vocabulary ("Voluson", "Aplio"), which the free-text pass would take for names.

    >>> scrub_descriptor_text("US BREAST Voluson E10 for Hortensia Quackenbush")
    'US BREAST Voluson E10 for [NAME]'
    """
    out = scrub_text(text, identifiers)
    if not out:
        return out
    from cadbusi_assets.deid.shapes import (
        caret_names,
        particle_names,
        title_name_pairs,
        underscored_name_pairs,
    )
    from cadbusi_assets.records.scrub import drop_odd_space_fragments, scrub_report_text

    scrubbed = scrub_report_text(
        out, identifiers=(), date_shift_days=0, remove_dates=True, unknown_are_names=False
    )
    scrubbed = scrubbed or out
    pairs = title_name_pairs(scrubbed)  # "Ottoline Quimbrell L breast": two name-like words
    if " ^ " in scrubbed:  # "QUIMBRELL ^ OTTOLINE": a person name's caret between spaces
        pairs = sorted(pairs + caret_names(scrubbed))
    if "_" in scrubbed:  # "QUIMBRELL_OTTOLINE_2": a protocol named after a person
        pairs = sorted(pairs + underscored_name_pairs(scrubbed))
    low = scrubbed.lower()
    if any(p in low for p in ("van ", "von ", "bin ", "ibn ", "ten ", "ter ", "binti ")):
        particles = particle_names(scrubbed)  # "van der Quellenberg": a surname's particles
        if particles:
            pairs = sorted(pairs + particles)
    if pairs:
        parts, done = [], 0
        for start, end in pairs:
            if start >= done:
                parts += [scrubbed[done:start], "[NAME]"]
                done = end
        scrubbed = "".join([*parts, scrubbed[done:]])
    return drop_odd_space_fragments(str(text), scrubbed)
