"""Free-text de-identification for the research zone: :func:`scrub_report_text` and
:func:`scrub_reports`.

The design follows Philter (a safe-list approach): a word stays only when it is known to be
safe (common English or clinical vocabulary, :mod:`cadbusi_assets.records.vocabulary`) or part
of a known clinical pattern; capitalised words that are not known are taken for names. Patterns
find the other HIPAA Safe Harbor identifiers first. What happens to a text, in order:

1. signature lines ("Dictated by: …", "Electronically signed by …", "Radiologist: …") →
   ``[SIGNATURE]`` (the rest of the line goes);
2. the study's own identifiers in every variant (:func:`identifier_variants`: case, accents
   removed or transliterated — ü → u/ue, ø → o/oe, å → a/aa, ñ → n, ß → ss —, ``LAST^FIRST``
   with its ``=`` ideographic / phonetic groups, each name component in every script, CJK
   components as substrings, initials) → their pseudonym when ``replacements`` gives one, else
   ``[REDACTED]``;
3. other people's DICOM-style names (``MARCHETTI^MAGDALENA``) → ``[NAME]``;
4. e-mail addresses (also obfuscated: ``jane at example dot com``, ``jane [at] example [dot]
   org``), URLs, IP addresses → ``[EMAIL]``, ``[URL]``, ``[IP]``;
5. SSNs and labelled identifiers (MRN, accession, account, health plan, member, policy,
   licence, certificate, serial / device, vehicle, specimen, encounter numbers) → ``[SSN]``,
   ``[MRN]``, ``[ACCESSION]``, ``[ID]`` (the label stays; digits a line break split off go
   with it: ``MRN 4815\n1623``, and after a blank line when they stand alone on their line);
6. dates in every common format (``2026-09-25``, ``09/25/2026``, ``25.09.2026``, ``20260925``,
   ``Sep 25 2026``, ``25 September 2026``, ``September 25th, 2026``, ``25-SEP-2026``,
   ``September 2026``, ``Feb '25``, ``September 25th``, ``4-Mar``, ``2026年9月25日``, and
   ``9/25`` after a date word such as "on", "dated", "LMP" or before another full date of a
   range ``3/4-3/6/2026``) → the same date shifted by ``date_shift_days`` in the same format
   (month-precision dates by at least one month, so the original never survives; impossible
   dates → ``[DATE]``); a bare year → ``[YEAR]``; a day with a month name of another language
   (``5. März 2024``, ``1er mars 2024``, ``5 de marzo de 2024``) → ``[DATE]``; a weekday
   before an ordinal day (``Tuesday the 3rd``) or an ordinal day after "on the" / "by the" at a
   sentence's end (``Seen on the 3rd.``) → the day shifted, as one of January (its month
   unknown); a weekday before a date shifted or removed goes with it (it would tell the
   shift); a weekday is never a name;
7. phone and fax numbers (North American, 7-digit, international ``+44 20 7946 0958``,
   national with a trunk 0, labelled numbers, extensions, short numbers after "pager" /
   "bleep", seven or more digits written as words ``five five five zero one four two``) →
   ``[PHONE]``;
8. street addresses (also in lower case ``1600 quillbrook avenue``, and European ones
   ``ul. Marszałkowska 10/12``, ``Via Garibaldi 22``, ``Hauptstraße 12``), PO boxes,
   "City ST 01103" and UK postcodes → ``[ADDRESS]``;
9. other numbers that look like identifiers (five or more digits, or four digits with
   letters; six or more digits glued to letters or underscores, as in file names
   ``IMG_20260304_101112.jpg``) → ``[ID]``; ages of 90 and over → ``90+`` (also ``93y``,
   ``ninety-three``, ``aged one hundred and two``, ``nonagenarian``, ``her late nineties``);
10. names: every capitalised word that is not in the safe vocabulary (and lower-case words
    found only in the person-name list); words that are both names and common words
    (*Grant*, *Rose*, *Boston*) when they stand in a name context (after a title, a relation or
    a role such as "her sister", "sonographer", before a credential such as ", MD", next to
    another name, two capitalised name words in a row or before a verb, a town after "in" /
    "from"); staff initials after a role ("sonographer KMR"); runs of CJK or kana characters
    outside a small clinical list (honorifics such as 様 stay; a one-character clinical kanji
    inside or beside such a run is part of it: 小林, 王小明) → ``[NAME]``; a word of a script
    without capitals (Arabic, Hebrew, Devanagari, Thai, Georgian) counts as capitalised; a
    lower-case unknown word after a title or a relation ("Dr. mcallister"); a lone first name
    that is also a word before "called", "phoned"... or before ", her daughter"; a name
    before a relation as a possessive ("Quarrington's daughter"); name parts joined by "/",
    "_" or a bare "." (``SMITHERS/JOSEPHINE``, ``Eustace.Winterbottom``); a name glued to
    digits (``Philomena2``) or written with digits for look-alike letters (``K0walczyk``);
    in descriptors, an unknown word of a non-Latin script (products are named in Latin).

Text is scrubbed as a reader sees it (:func:`~cadbusi_assets.deid.name_variants.normalise_text`:
invisible characters such as soft hyphens dropped, full-width letters and typographic dashes
folded).

Adjacent ``[NAME]`` tokens merge into one. Speed: about 200–300 reports/s on one core
(``python -m cadbusi_assets_tests.records.bench_scrub``); each patient's identifier pattern is
compiled once and cached.

Clinical content stays: BI-RADS categories, clock positions (``10:00``, ``2 o'clock``),
distances (``3 cm FN``), measurements (``1.2 x 0.8 x 1.0 cm``), lexicon terms, diagnoses.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import itertools
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import polars as pl

from cadbusi_assets.deid.identifiers import lookalike_forms
from cadbusi_assets.deid.name_variants import normalise_text, script_latin_forms
from cadbusi_assets.records.vocabulary import (
    PRODUCT_NAMES,
    WEEKDAY_WORDS,
    core_words,
    english_words,
    eponym_words,
    fold,
    medical_words,
    name_words,
    place_words,
)

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_MONTHS["sept"] = 9
_MON = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_ORD = r"(?:st|nd|rd|th)?"
#: the English month names and abbreviations as lower-case words (a cheap check)
_MONTH_WORDS = frozenset(_MONTHS)
#: words before a month/day without a year ("on 9/25") that make it a date, not a fraction
_DATE_CUE = re.compile(
    r"(?i)\b(?:on|dated?|since|until|till|from|seen|performed|done|exam|mammogram|ultrasound"
    r"|study|prior|visit|called|scheduled|biopsy|surgery|returns?|due|lmp|edd|dob|born)\s+$"
)
#: a month/day right after another date of a list ("on 9/1 and 9/2", "9/1, 9/2 or 9/3") is a date
_DATE_LIST_CUE = re.compile(
    r"(?i)(?:\b\d{1,4}[/.-]\d{1,2}(?:[/.-]\d{2,4})?|\b"
    + _MON
    + r"\.?\s+\d{1,2}(?:st|nd|rd|th)?(?:,?\s+\d{4})?)\s*(?:,|;|&|\band\b|\bor\b|\bto\b|-)\s*(?:and\s+|or\s+)?$"
)


#: a month/day right before another full date ("3/4-3/6/2026", "9/1 and 9/3/2026") is a date
_DATE_RANGE_CUE = re.compile(
    r"(?i)\s*(?:-|–|—|,|;|&|\bto\b|\bthrough\b|\bthru\b|\band\b|\bor\b)\s*"
    r"(?:\d{1,2}[/.\-]\d{1,2}[/.\-](?:19|20)?\d{2}(?!\d)|\[date\])"
)


#: a time of day after a month/day ("03/03 14:22", "3/4 9:05")
_TIME_AFTER = re.compile(r"[ \t]+(?:[01]?\d|2[0-3]):[0-5]\d(?![\d:/.]|\.\d)")


def _cued(match: re.Match[str]) -> bool:
    """Whether a month/day without a year (``9/25``) stands where a date is meant."""
    before = match.string[max(0, match.start() - 40) : match.start()]
    return bool(
        _TIME_AFTER.match(match.string, match.end())  # "03/03 14:22": a time follows
        or _DATE_CUE.search(before[-12:])
        or _DATE_LIST_CUE.search(before)
        or _DATE_RANGE_CUE.match(match.string, match.end())
    )


_WEEKDAY = r"(?:(?:Mon|Tues?|Wed(?:nes)?|Thu(?:rs)?|Fri|Sat(?:ur)?|Sun)(?:day)?\.?,?\s+)?"

_SIGNATURE = re.compile(
    r"(?im)\b(?:dictated|interpreted|transcribed|electronically signed|e-signed|signed|reviewed"
    r"|verified|read|attested|finalized|reported|released)(?:\s+and\s+\w+)?\s+(?:by|on)\b[^\n]*"
    r"|^[ \t]*(?:radiologist|attending|resident|fellow|pathologist|physician|technologist|sonographer)s?\s*:[^\n]*"
)
#: a signature label alone on its line and the lines under it (``Sonographer:`` then
#: ``Zelda``, ``Farthing``): :func:`_signature_lines` takes those that read as a name
_SIGNATURE_LINES = re.compile(
    r"(?im)^([ \t]*(?:radiologist|attending|resident|fellow|pathologist|physician|technologist"
    r"|sonographer)s?[ \t]*:[ \t]*)\n((?:[ \t]*[^\W\d_][^\W\d_'’\-.]*[ \t]*(?:\n|$)){1,3})"
)
#: words of a report's headings and closing lines: no name under a signature label
_NOT_SIGNED_NAMES = frozenset({
    "impression", "findings", "history", "technique", "comparison", "addendum", "signature",
    "recommendation", "recommendations", "assessment", "procedure", "indication", "clinical",
    "conclusion", "conclusions", "result", "results", "report", "note", "notes", "pending",
    "none", "unknown", "na", "tbd", "birads", "comment", "comments", "summary", "date",
})  # fmt: skip


def _signature_lines(match: re.Match[str]) -> str:
    """The label of :data:`_SIGNATURE_LINES` becomes ``[SIGNATURE]``; of the one-word lines
    under it, those up to the first that is a heading, a stop, core or clinical word become
    ``[NAME]``."""
    lines = match.group(2).split("\n")
    out = ["[SIGNATURE]"]
    for at, line in enumerate(lines):
        key = _fold_lower(line.strip().rstrip("."))
        if (
            not key
            or key in _NOT_SIGNED_NAMES
            or key in _STOP
            or key in core_words()
            or key in medical_words()
            or not line.strip()[:1].isupper()
        ):
            out += lines[at:]
            break
        out.append(line[: len(line) - len(line.lstrip())] + "[NAME]")
    return "\n".join(out)


_PLACEHOLDER = re.compile("\ue000(.)\ue001")
_DICTATION_MARK = re.compile(r"\[\*\*[^\]\n]{0,80}?\*\*\]")
_NAME_MARKER = re.compile(r"\[name\]")
_NAME_WORD = r"(?:\ue000.\ue001|[^\W\d_][\w'\-^.]*)(?![\w'\-^.]*\s*[:#])"
_LABELLED_NAME = re.compile(
    r"(?i)\b(patient(?:'s)?(?: name)?|name)\s*:[ \t]*"
    + _NAME_WORD
    + r"(?:,?[ \t]+"
    + _NAME_WORD
    + r"){0,3}"
)
#: name labels of forms in English and other languages ("Surname:", "Nom :", "Vorname:"),
#: searched only in a text with one of :data:`_NAME_LABEL_WORDS`
_LABELLED_NAME_MORE = re.compile(
    r"(?i)\b(surname|forenames?|forename\(s\)|nom|pr[ée]noms?|nombre|apellidos?|vorname"
    r"|nachname|cognome|nome|naam|voornaam|achternaam|imi[ęe]|nazwisko)\s*:[ \t]*"
    + _NAME_WORD
    + r"(?:,?[ \t]+"
    + _NAME_WORD
    + r"){0,3}"
)
_NAME_LABEL_WORDS = frozenset(
    [
        "surname",
        "forename",
        "forenames",
        "nom",
        "prénom",
        "prénoms",
        "prenom",
        "nombre",
        "apellido",
        "apellidos",
        "vorname",
        "nachname",
        "cognome",
        "nome",
        "naam",
        "voornaam",
        "achternaam",
        "imię",
        "imie",
        "nazwisko",
    ]
)
_PN_PART = r"(?:[^\W\d_]\.|[^\W\d_][^\W\d_'’\-]*(?:[ \-](?=[A-Z]{2})[A-Z][A-Z'\-]+)?)"
_CARET_NAME = re.compile(
    r"(?<![\w^])" + _PN_PART + r"(?:\^" + _PN_PART + r"?){1,4}"
    r"(?:=(?:" + _PN_PART + r"?(?:\^" + _PN_PART + r"?){0,4}))*"
)

_EMAIL = re.compile(r"(?<![\w.+\-])[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
#: an e-mail with spaces around its ``@`` or dots (``ottoline . quimbrell @ example . com``):
#: a domain of words and dots that ends in a usual top-level domain
_SPACED_EMAIL = re.compile(
    r"(?<![\w.+\-])[\w+\-]+(?:\.[\w+\-]+)*(?:[ \t]\.[ \t][\w+\-]+)?[ \t]{0,2}@[ \t]{0,2}[\w\-]+"
    r"(?:[ \t]?\.[ \t]?[\w\-]+)*[ \t]?\.[ \t]?(?i:com|org|net|edu|gov|mil|info|biz|io|co|uk|de"
    r"|fr|es|it|nl|pl|ru|cn|jp|kr|au|ca|us|ch|se|no|dk|fi|be|at|ie|nz|in|br|mx|pt|gr|tr|il|za)"
    r"(?![\w.\-])"
)
_URL = re.compile(
    r"(?i)\b(?:(?:https?|ftp|sftp)://|www\.)[^\s<>\"']+"
    r"|\b(?:[a-z0-9\-]+\.)+(?:com|org|net|edu|gov|io|health|med|info|us|uk|de|fr|jp|ca|au|nl)"
    r"(?:/[^\s<>\"']*)?(?![\w.])"
)
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\d|\.\d)")
_IPV6 = re.compile(r"(?i)(?<![\w:])(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{1,4}(?![\w:])")
_SSN = re.compile(
    r"(?<![\d\-])\d{3}-\d{2}-\d{4}(?![\d\-])"
    # with spaces ("491 72 8154"): a valid number only (no area 000, 666 or 9xx, no group 00,
    # no serial 0000) and no longer run of spaced digits (phones, spaced hospital numbers)
    r"|(?<![\d\-.,/:])(?:(?<!\d )|(?<=[^\W\d_]\d )|(?<=[^\W\d_]\d\d ))"
    r"(?!000|666|9)\d{3} (?!00)\d{2} (?!0000)\d{4}(?![\d\-]|[.,]\d| \d)"
    # with two spaces or a tab, the same between both pairs of groups ("491  72  8154"): no
    # digit a space or two before or after it (:func:`_spaced_ssns` also looks at the lines
    # beside it: a spaced table of numbers stays)
    r"|(?<![\d\-.,/:])(?<!\d[ \t])(?<!\d[ \t]{2})"
    r"(?!000|666|9)\d{3}(?P<ssngap>  |\t)(?!00)\d{2}(?P=ssngap)(?!0000)\d{4}"
    r"(?![\d\-]|[.,]\d|[ \t]{1,2}\d)"
    r"|(?i:\b(?:SSN|SS#|social security(?:\s+(?:number|no\.?|#))?)\s*[:#]?\s*)\d{3}[\s\-]?\d{2}[\s\-]?\d{4}\b"
)
_ID_VALUE = (
    # digits in spaced groups ("NHS number 943 476 5919"), at least eight digits in all
    r"(?:(?=(?:\d ?){8})\d{3,4}(?: \d{2,4}){1,3}(?![\dA-Za-z]|\.\d)"
    # short groups ("2 58 05 75 123 456 78", a French social security number)
    r"|(?=(?:\d ?){8})\d{1,4}(?: \d{1,4}){2,7}(?![\dA-Za-z]|\.\d)"
    r"|(?=[A-Za-z\-/.]*\d)[A-Za-z0-9][A-Za-z0-9\-/.]*[A-Za-z0-9])"
)
#: the rest of an id's digits on the next line (``MRN 4815\n1623``, ``MRN: 4815-\n1623``):
#: after a digit at a line's end, three digits or more (no year: :data:`_YEAR` takes it), two
#: not before a dot (a list item ``12.``), one only after a hyphen; no decimal, time, date,
#: fraction, percentage or unit after them (``1.2 cm``, ``10:30``, ``3/4``, ``12 mm``); groups
#: of digits before the line's end too (``NHS no. 481 516\n2342``);
#: after a blank line, three digits or more alone on their line (``MRN 4815\n\n1623``);
#: :func:`_labelled_id` takes them only where the id and they hold six digits or more
_LINE_BREAK = r"(?:\r\n|[\r\n\u2028\u2029\x85])"
_ID_NEXT_LINE = (
    r"(?P<cont>(?<=\d)(?: \d{2,4}(?!\d)){0,3}(?:[ \t]*" + _LINE_BREAK + r"[ \t]*"
    r"(?:(?!(?:19|20)\d\d(?!\d))\d{3,}(?!\d)|\d\d(?![\d.]))"
    # after a hyphen: one digit or more, in groups ("MRN 48-15-\n16-23")
    r"|[ \t]*-[ \t]*" + _LINE_BREAK + r"[ \t]*\d+(?:-\d+)*(?![\d.])"
    # after a blank line or two: three digits or more (no year) alone on their line (no
    # paragraph's number is so long: "MRN 4815\n\n1623"; "MRN 4815\n\n1623 lesions" stays)
    r"|[ \t]*-?(?:[ \t]*" + _LINE_BREAK + r"){2,3}[ \t]*(?!(?:19|20)\d\d(?!\d))\d{3,}"
    r"(?=[ \t]*(?:" + _LINE_BREAK + r"|\Z)))"
    r"(?![A-Za-z:/%\-]|[.,]\d|[ \t]*%|[ \t]*(?:cm|mm|ml|cc|mg|kg|g|o'?clock|h|hrs?|min|am|pm|a\.m|p\.m)\b))?"
)
_LABELLED_IDS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (
        re.compile(
            r"(?i)\b("
            + label
            + r")(\s*(?:number|no\.?|num|#|id)?\s*[:#=]?\s*)"
            + _ID_VALUE
            + _ID_NEXT_LINE
        ),
        token,
    )
    for label, token in (
        (
            r"MRN|MR\s*#|MR\s*No\.?|medical record|clinic|patient\s+id|PID|hosp(?:ital)?|NHS|CN"
            r"|unit number|chart"
            # "Pt no. 4471", "Record Number: AB-12-CD": only with the number word after them
            r"|(?:pt|patient|record|case\s+record)(?=\s*(?:number|no\.|#))",
            "[MRN]",
        ),
        (r"accession|acc", "[ACCESSION]"),
        (
            r"account|acct|health\s*plan|member|subscriber|policy|insurance|group|beneficiary"
            r"|licen[cs]e|DL|certificate|cert|serial|device|VIN|vehicle|plate|specimen|case"
            r"|encounter|visit|CSN|FIN|order|requisition|study id|badge|employee|provider"
            r"|NPI|DEA|passport|ID",
            "[ID]",
        ),
        # European labels: social security, national and health card numbers (searched only
        # in a text with one of _EUROPEAN_ID_WORDS)
        (
            r"s[ée]curit[ée]\s+sociale|seguridad\s+social|NIR|NSS|DNI|NIE|NHC|SIP|CIP|PESEL"
            r"|NIP|BSN|CPF|CNS|SNS|codice\s+fiscale|tessera\s+sanitaria|Versichertennummer"
            r"|KVNR|Fall-?Nr|IPP|dossier",
            "[ID]",
        ),
    )
)
#: lower-case words and upper-case labels of :data:`_LABELLED_IDS`' European labels
#: the words of :data:`_LABELLED_IDS`' European labels, lower case
_EUROPEAN_ID_WORDS = frozenset(
    [
        "sociale",
        "seguridad",
        "fiscale",
        "sanitaria",
        "versichertennummer",
        "dossier",
        "fall",
        "nir",
        "nss",
        "dni",
        "nie",
        "nhc",
        "sip",
        "cip",
        "pesel",
        "nip",
        "bsn",
        "cpf",
        "cns",
        "sns",
        "kvnr",
        "ipp",
    ]
)

_STATES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH"
    "|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|PR|AS|GU|MP|VI|FM|MH|PW"
    "|AA|AE|AP"
    "|Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware|Florida|Georgia"
    "|Hawaii|Idaho|Illinois|Indiana|Iowa|Kansas|Kentucky|Louisiana|Maine|Maryland|Massachusetts"
    "|Michigan|Minnesota|Mississippi|Missouri|Montana|Nebraska|Nevada|New Hampshire|New Jersey"
    "|New Mexico|New York|North Carolina|North Dakota|Ohio|Oklahoma|Oregon|Pennsylvania"
    "|Rhode Island|South Carolina|South Dakota|Tennessee|Texas|Utah|Vermont|Virginia|Washington"
    "|West Virginia|Wisconsin|Wyoming|Mass\\.|Calif\\.|Fla\\.|Tex\\.|Penn\\."
)
_STREET_SUFFIX = (
    "Street|St|Avenue|Ave|Av|Road|Rd|Lane|Ln|Drive|Dr|Boulevard|Blvd|Court|Ct|Way|Place|Pl"
    "|Terrace|Ter|Circle|Cir|Highway|Hwy|Parkway|Pkwy|Square|Sq|Trail|Trl|Crescent|Cres|Close"
    "|Row|Mews|Gardens|Grove|Hill|Plaza|Alley|Loop|Pike|Walk|Green|Quay|Wharf|Heights"
    # more USPS suffixes (not those that are clinical words: oval, view, wall, trace, radial...)
    "|Avenues|Roads|Streets|Drives|Courts|Lanes|Ways|Bayou|Beach|Bend|Bluffs?|Brooks?|Burgs?"
    "|Bypass|Canyon|Causeway|Cliffs?|Commons?|Corners?|Coves?|Creek|Crossroad|Dale|Estates?"
    "|Expressway|Falls|Ferry|Fields|Flats|Fords?|Forest|Forges?|Freeway|Gateway|Glens?|Greens"
    "|Groves|Harbors?|Haven|Highways|Hills|Inlet|Isle|Junctions?|Knolls?|Lakes?|Landing|Lodge"
    "|Manors?|Meadows?|Mills?|Mission|Motorway|Mountains?|Orchard|Overpass|Parkways|Pines|Plains?"
    "|Port|Prairie|Ranch|Rapids|Ridges?|River|Route|Shoals?|Shores?|Skyway|Springs|Squares"
    "|Stravenue|Stream|Summit|Terraces|Throughway|Trafficway|Trails|Tunnel|Turnpike|Underpass"
    "|Valleys?|Viaduct|Villages?|Ville|Vista|Villas?"
)
_SUFFIX_FORMS = "|".join(
    sorted(
        {f for s in _STREET_SUFFIX.split("|") for f in (s, s.upper())} - {"CT", "PL", "DR", "AV"},
        key=len,
        reverse=True,
    )
)
_CAP_WORD = r"(?:[^\W\d_a-z][\w'’\-]*\.?|\d+(?:st|nd|rd|th))"
_UNIT = (
    r"(?:,?\s*(?:Apt|APT|Apartment|Unit|UNIT|Suite|SUITE|Ste|Flat|FLAT|Studio|Room|Rm|#)\.?\s*#?"
    r"(?:\d[\w\-]*|[A-Z]\b))"
)
_STREET = re.compile(
    r"(?<![\w.,])\d{1,6}[A-Za-z]?(?:\s*[-–/]\s*\d{1,5})?,?\s+(?!(?i:cm|mm|o'?clock|x|cores?)\b)"
    r"(?:" + _CAP_WORD + r"\s+){0,4}"
    r"(?:" + _SUFFIX_FORMS + r")(?![\w'’])\.?" + _UNIT + "?"
    r"|(?i:\bP\.?\s*O\.?\s*Box\s+\d+)"
    # (a street word of at most 60 letters: unbounded, a long run of "A1-A1-..." took
    # quadratic time)
    r"|\b(?:[^\W\d_a-z][\w\-]{0,60}?(?:-(?i:ring|damm|ufer)|(?i:stra(?:ss|ß)e|str\.|gasse|weg"
    r"|platz|allee|gatan|gata|vej|veien|vegen)))"
    r"\s+\d{1,5}[a-z]?\b"
    r"|(?<![\w.,])\d{1,5}(?:bis|ter)?,?\s+(?i:rue|avenue|boulevard|chemin|place|via|calle|avenida|rua)"
    r"\s+(?:[\w'’\-]+\s+){0,3}[\w'’\-]+"
)
#: post office boxes of European addresses ("Postfach 12 34 56", "Apartado 123")
_PO_BOX = re.compile(
    r"(?i)\b(?:Postfach|Postbus|Apartado(?:\s+de\s+correos)?|Apdo\.|Bo[iî]te\s+postale"
    r"|Casella\s+postale|Caixa\s+postal|Skrytka\s+pocztowa)\s+(?:n[°o]?\.?[ \t]*)?\d+(?:[ \t]\d+){0,3}\b"
)
_PO_BOX_WORDS = frozenset(
    ["postfach", "postbus", "apartado", "apdo", "postale", "postal", "pocztowa"]
)
_CITY_STATE_ZIP = re.compile(
    r"(?:\b(?:" + _CAP_WORD + r"[ \t]+){0,3}" + _CAP_WORD + r",?[ \t]+)?"
    r"\b(?:(?:" + _STATES + r")\.?,?[ \t]+\d{5}(?:-\d{4})?"
    r"|(?:NSW|VIC|QLD|TAS|SA|WA|NT|ACT)\.?,?[ \t]+\d{4})(?!\d)"
)
#: an address after "lives at", "address:": a number and up to five capitalised words
_ADDRESS_BODY = (
    r"(\d{1,6}[A-Za-z]?(?:\s*[-–/]\s*\d{1,5})?,?"
    r"(?:[ \t]+(?!(?:Apt|APT|Apartment|Unit|UNIT|Suite|SUITE|Ste|Flat|FLAT|Room|Rm)\b)"
    r"[^\W\d_a-z][\w'’\-]*){1,5}" + _UNIT + "?"
    # European order: street words, then the house number and a floor / flat
    r"|[^\W\d_a-z][\w'’\-]*[ \t,]+(?:[^\W\d_][\w'’\-]*[ \t,]+){0,5}\d{1,5}[A-Za-z]?\b"
    r"(?:[ \t,]+(?i:piso|piano|appartamento|etage|stock|apt\.?|apartment|flat|escalera|puerta)"
    r"[ \t]*\d+[A-Za-z]?\b)*)"
)
_CUED_ADDRESS = re.compile(
    r"(?i:\b(?:lives|living|resides|residing|reside|moved|relocated|staying)\s+(?:at|to|on)"
    r"|\baddress(?:\s+on\s+file)?\s*[:\-]|\bhome\s*:)\s*" + _ADDRESS_BODY
)
#: an address after the address label of another language ("Anschrift:", "Domicilio:"),
#: searched only in a text with one of :data:`_ADDRESS_LABEL_WORDS`
_CUED_ADDRESS_MORE = re.compile(
    r"(?i:\b(?:adresse|adres|anschrift|wohnort|domicilio|direcci[oó]n|indirizzo|residenza"
    r"|morada|endere[cç]o|woonadres)\s*[:\-])\s*" + _ADDRESS_BODY
)
_ADDRESS_LABEL_WORDS = frozenset(
    [
        "adresse",
        "adres",
        "anschrift",
        "wohnort",
        "domicilio",
        "dirección",
        "direccion",
        "indirizzo",
        "residenza",
        "morada",
        "endereço",
        "endereco",
        "woonadres",
    ]
)
#: a European / Japanese postcode and the town after it ("10115 Berlin", "1234 AB Amsterdam")
_POSTCODE_TOWN = re.compile(
    r"(?<![\w.,\-])(?!(?:19|20)\d\d\b)(?:\d{5}|\d{4}(?:\s?[A-Z]{2})?|\d{3}-\d{4}|[A-Z]-\d{4,5})"
    r"[ \t]+(?:[^\W\d_a-z][\w'’\-]*)"
    # more words of the town, with particles: "Mühldorf am Inn", "Koog aan de Zaan"
    r"(?:[ \t]+(?:(?:am|an|im|ob|bei|der|de|del|della|di|da|aan|den|sur|sous|en|la|le|les)[ \t]+)*"
    r"[^\W\d_a-z][\w'’\-]*){0,2}"
)
_UK_POSTCODE = re.compile(
    r"\b(?:[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}|[A-Z]\d[A-Z][ ]?\d[A-Z]\d)\b"
    r"(?:[ \t]+[A-Z][a-z][\w'’\-]*){0,2}"
)
_ZIP_LABEL = re.compile(
    r"(?i)\b(zip(?:\s*code)?|postal\s*code|postcode)\s*[:#]?\s*[A-Z0-9][A-Z0-9 \-]{2,8}[A-Z0-9]"
)

_PHONE_LABEL = (
    r"(?i:\b(?:phone|ph|tel|telephone|fax|facsimile|cell|mobile|mob|pager|beeper|contact|call"
    r"|reach(?:ed)?|callback|number)\b\.?(?:\s*(?:no\.?|number|#|at|on|is))?\s*[:#]?\s*)"
)
#: a number after a phone label of a European report ("Teléfono de contacto:", "Tél :",
#: "Handy"), searched only in a text with one of :data:`_PHONE_LABEL_WORDS`
_LABELLED_PHONE_MORE = re.compile(
    r"(?i:\b(?:tel[ée]fono|t[ée]l[ée]phone|t[ée]l|telefon|telefone|telem[óo]vel|m[óo]vil"
    r"|celular|cellulare|portable|handy|mobiel|mobil|kom[óo]rka|kom|contacto|contatto"
    r"|kontakt)\b\.?(?:\s*(?:no\.?|nr\.?|n[º°]|de\s+contacto|fixe|mobile|domicile))?\s*[:#]?\s*)"
    r"\+?\(?\d[\d\s().\-]{5,}\d"
)
_PHONE_LABEL_WORDS = frozenset(
    [
        "teléfono",
        "telefono",
        "téléphone",
        "tél",
        "telefon",
        "telefone",
        "telemóvel",
        "telemovel",
        "móvil",
        "movil",
        "celular",
        "cellulare",
        "portable",
        "handy",
        "mobiel",
        "mobil",
        "komórka",
        "komorka",
        "kom",
        "contacto",
        "contatto",
        "kontakt",
    ]
)
_PHONES = re.compile(
    # international: +CC then groups
    r"(?<![\w+])\+\d{1,3}(?:[ \-]|\.(?=\d))?(?:\(0\)\s?)?(?:\(?\d{1,5}\)?(?:[ \-]|\.(?=\d))?){1,5}\d{2,5}(?!\d)"
    # North American with optional 1
    r"|(?<![\w.])(?:1[\s.\-])?(?:\(\d{3}\)\s*|\d{3}[\s.\-])\d{3}[\s.\-]\d{4}(?![\d\-])"
    # 7-digit local
    r"|(?<![\w.\-/])\d{3}[\-.]\d{4}(?![\w\-]|\.\d)"
    # national with trunk 0 (UK, Europe)
    r"|(?<![\w.])\(?0\d{1,4}\)?[\s\-]?\d{3,4}[\s\-]?\d{3,4}(?![\d\-])"
    # French: ten digits in pairs ("06 12 34 56 78")
    r"|(?<![\w.])0[1-9](?:[ .\-]?\d{2}){4}(?![\d\-])"
    # Chinese mobile in groups of 3-4-4 ("138 1234 5678"; unbroken, it is a long number)
    r"|(?<![\w.])1[3-9]\d[ \-]\d{4}[ \-]\d{4}(?![\d\-])"
    # labelled numbers of any layout
    r"|" + _PHONE_LABEL + r"\+?\(?\d[\d\s().\-]{5,}\d"
)
_EXTENSION = r"(?i:\s*,?\s*(?:ext\.?|extension|x)\s*\d{1,6}\b)"
_BARE_EXTENSION = re.compile(r"(?i)\b(?:ext\.?|extension)\s*#?\s*\d{2,6}\b")
#: a short internal number after a pager label ("Pager #4417", "bleep 2231")
_PAGER = re.compile(
    r"(?i)\b((?:pager|beeper|bleep|pgr)\b\.?(?:\s*(?:no\.?|number|#))?\s*[:#]?\s*)\d{3,6}\b"
)
_DIGIT_WORD = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)"
#: a phone number written out in words ("five five five zero one four two")
_SPELLED_NUMBER = re.compile(r"(?i)\b" + _DIGIT_WORD + r"(?:[\s,\-]+" + _DIGIT_WORD + r"){6,}\b")
_OBFUSCATED_AT = r"(?:\s*[\[({<]\s*at\s*[\])}>]\s*|\s+at\s+)"
_OBFUSCATED_DOT = r"(?:\s*[\[({<]\s*dot\s*[\])}>]\s*|\s+dot\s+|\.)"
#: an e-mail written to dodge filters ("jane at example dot com", "jane [at] example [dot] org")
_OBFUSCATED_EMAIL = re.compile(
    r"(?i)(?<![\w.+\-])[\w.+\-]+"
    + _OBFUSCATED_AT
    + r"[\w\-]+(?:"
    + _OBFUSCATED_DOT
    + r"[\w\-]+)*?"
    + _OBFUSCATED_DOT
    + r"(?:com|org|net|edu|gov|io|mil|info|biz|health|med|us|uk|de|fr|jp|ca|au|nl|co)\b"
)
_OBFUSCATION_HINT = re.compile(r"(?i)\bdot\b|[\[({<]\s*at\s*[\])}>]")
#: six or more digits glued to letters or underscores (file names "IMG_20260304_101112.jpg",
#: "V000123"), which the word-bounded identifier patterns do not see
_GLUED_DIGITS = re.compile(r"(?<=[A-Za-z_])\d{6,}|(?<!\d)\d{6,}(?=_)")
#: a street in European order: a street-type word first ("ul. Marszałkowska 10/12", "Via
#: Garibaldi 22", "Calle Mayor 5") or glued last ("Hauptstraße 12"), then the house number
_EUROPEAN_STREET = re.compile(
    r"(?<![\w.])(?:(?:ul\.|ulica|aleja|al\.|Rue|rue|Via|Viale|Vicolo|Piazza|Calle|Avenida|Rua|Plac"
    r"|Strada|Chemin|Straße|Strasse|Carrer|Paseo|Travessa)[ \t]+(?:[^\W\d_][\w'’\-]*[ \t]+){0,3}"
    r"[^\W\d_a-z][\w'’\-]*"
    r"|[^\W\d_a-z]\w*(?:straße|strasse|str\.|weg|gasse|platz|allee|damm|ufer|laan|straat|gracht"
    r"|gatan|vägen|vej|gade|veien))"
    r"[ \t,]+\d{1,5}[A-Za-z]?(?:/\d{1,5})?\b"
)
#: a street written in lower case ("1600 quillbrook avenue")
_LOWER_STREET = re.compile(
    r"(?i)(?<![\w.])\d{1,6}[a-z]?\s+(?:[a-z][a-z'\-]*\s+){1,3}"
    r"(?:street|avenue|road|lane|drive|boulevard|court|terrace|highway|parkway|crescent)\b"
)
_LOWER_STREET_WORDS = ("street", "avenue", "road", "lane", "drive", "boulevard", "court",
                       "terrace", "highway", "parkway", "crescent")  # fmt: skip
#: cheap tests that let most texts skip the new patterns
_SIX_DIGITS = re.compile(r"\d{6}")
_EUROPEAN_STREET_WORDS = ("ul.", "ulica", "aleja", "al.", "rue", "via", "vicolo", "piazza",
                          "calle", "avenida", "rua", "plac", "strada", "chemin", "carrer",
                          "paseo", "travessa", "straße", "strasse", "str.", "weg", "gasse",
                          "platz", "allee", "damm", "ufer", "laan", "straat", "gracht", "gatan",
                          "vägen", "vej", "gade", "veien")  # fmt: skip
_DIGIT_WORDS = ("zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight",
                "nine")  # fmt: skip
_PAGER_WORDS = ("pager", "beeper", "bleep", "pgr")

_DIGIT = re.compile(r"\d")
_YEAR = re.compile(r"(?<![\w\-./:])(?:19|20)\d{2}(?![\w\-/:]|\.\d)")
_STATE_ZIP_HINT = re.compile(r"[A-Za-z.],?[ \t]+\d{4,5}(?:-\d{4})?(?!\d)")
_URL_HINT = re.compile(
    r"(?i)://|www\.|\.(?:com|org|net|edu|gov|io|health|med|info|us|uk|de|fr|jp|ca|au|nl)\b"
)
_NINETY = re.compile(r"(?<!\d)(?:9\d|1[0-4]\d)(?!\d)")
#: ages over 89 in words ("ninety-three", "one hundred and one", "nonagenarian"), not
#: followed by a unit that makes them a measure ("ninety percent", "ninety degrees")
_UNITS = "one|two|three|four|five|six|seven|eight|nine"
_TEENS_TENS = "ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen"
_HUNDRED = (
    r"one[\s\-]hundred(?:(?:[\s\-]and)?[\s\-](?:"
    + _UNITS
    + "|"
    + _TEENS_TENS
    + r"|twenty|thirty|forty))?"
)
_OLD_AGE_WORDS = re.compile(
    r"(?i)\bninety"
    rf"(?:[\s\-](?:{_UNITS}))?"
    r"(?:th)?(?![\w\-])(?!\s*(?:%|percent|per\s*cent|degrees?|°|minutes?|seconds?|mm|cm"
    r"|millimet|centimet|ml|cc|mg|kg|g\b|beats|bpm|times|cases|patients|women|of\b))"
    # "one hundred (and two)" only as an age: "aged one hundred", "one hundred years old"
    r"|(?:(?<=\bage\s)|(?<=\baged\s)|(?<=\bage:\s))" + _HUNDRED + r"\b"
    r"|\b" + _HUNDRED + r"(?=[\s\-]*(?:years?|yrs?|year-old)\b)"
    r"|\b(?:super)?(?:nonagenarian|centenarian)s?\b"
    # "in her late nineties", "his mid-nineties": an age, not the decade
    r"|\b(?:(?:early|mid|late)[\s\-]+|(?<=\bher\s)|(?<=\bhis\s)|(?<=\btheir\s))nineties\b",
)
#: an age in Roman numerals after "age" or before "yo", "years" ("age XCII", "XCII yo"); only
#: a value over 89 becomes ``90+`` (:func:`_roman_age`)
_ROMAN_AGE = re.compile(
    r"(?:(?<=\bage\s)|(?<=\bage:\s)|(?<=\baged\s)|(?<=\bage:)|(?<=\bAge\s)|(?<=\bAGE\s)"
    r"|(?<=\bAge:\s)|(?<=\bAGE:\s)|(?<=\bAged\s)|(?<=\bAGED\s))(?:XC|C)[IVXLC]{0,7}\b"
    r"|\b(?:XC|C)[IVXLC]{0,7}(?=[\s\-]*(?i:years?|yrs?|y/?o|y\.o\.|yo|year-old|yr-old)\b)"
)
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}


def _roman(value: int) -> str:
    out = []
    for number, letters in ((100, "C"), (90, "XC"), (50, "L"), (40, "XL"), (10, "X"), (9, "IX"),
                            (5, "V"), (4, "IV"), (1, "I")):  # fmt: skip
        while value >= number:
            out.append(letters)
            value -= number
    return "".join(out)


#: the Roman numerals of 90 to 199, lower case (a text without one as a word skips
#: :data:`_ROMAN_AGE`; "C" alone, a frequent letter, only beside "age" or "yo")
_ROMAN_AGES = frozenset(_roman(value).lower() for value in range(90, 200)) - {"c"}


def _roman_age(match: re.Match[str]) -> str:
    """``90+`` for a well-formed Roman numeral of 90 to 199, else the text unchanged."""
    text = match.group(0)
    values = [_ROMAN_VALUES[c] for c in text]
    total = sum(
        -v if i + 1 < len(values) and values[i + 1] > v else v for i, v in enumerate(values)
    )
    return "90+" if 90 <= total < 200 and _roman(total) == text else text


#: an age after an age label and any separator of a form or a table ("| Age | 94 |",
#: "Edad: 93", "Âge : 95", "Alter: 96")
_LABELLED_OLD_AGE = re.compile(
    r"(?i)(\b(?:age|aged|edad|âge|alter|età|idade|leeftijd|wiek)[ \t]*[:|=\-]?[ \t]*[|:]?[ \t]*)"
    r"(?:9\d|1[0-4]\d)(?![\d.,]\d|\d|\+)"
)
#: the age labels of other languages; "age" with a separator that :data:`_OLD_AGE` does not
#: see ("| Age | 94 |", "Edad: 96")
_AGE_LABEL_WORDS = frozenset(["edad", "âge", "alter", "età", "idade", "leeftijd", "wiek"])
_AGE_SEPARATORS = ("age |", "age|", "age	", "age =", "age=", "age -", "age :")
_MANY_COLONS = re.compile(r"[0-9a-fA-F]:[0-9a-fA-F]{1,4}:[0-9a-fA-F]{1,4}:")
_ID_RUN = re.compile(
    r"(?<![\w\-./])(?=[\w\-./]*\d)[A-Za-z0-9][A-Za-z0-9\-/.]*[A-Za-z0-9](?![\w\-/]|\.\w)"
)
_OLD_AGE = re.compile(
    r"(?i)\b(?:9\d|1[0-4]\d)(?=[\s\-]*(?:years?|yrs?|y/?o|y\.o\.|yo|year-old|yr-old|y"
    r"|años|anos|ans|anni|jaar|jahre|jahren|jährige[rn]?|lat|lata|roku)\b)"
    # "Pacjentka lat 93" (Polish: the years word first), "Alter 93", "Edad 93"
    r"|(?<=\blat\s)(?:9\d|1[0-4]\d)\b"
    r"|\b(?:9\d|1[0-4]\d)(?:st|nd|rd|th)(?=\s+birthday)"
    # age and sex in one word: "92F", "101M"
    r"|\b(?:9\d|1[0-4]\d)(?=(?-i:[FM])\b)"
    r"|(?i:(?<=\bage\s)|(?<=\bage:\s)|(?<=\baged\s)|(?<=\bage:)|(?<=\bage\s\s))(?:9\d|1[0-4]\d)\b"
)

_DATES = re.compile(
    # every form starts a word: the look-around in front lets the engine skip the rest fast
    r"(?<![^\W_])(?=\d|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|mon|tue|wed|thu|fri|sat|sun))(?:"
    r"(?P<iso>(?<![\d.])(?P<iy>(?:19|20)\d{2})(?P<isep>[-/.])(?P<im>\d{1,2})(?P=isep)(?P<id>\d{1,2})(?![\d]|\.\d))"
    r"|(?P<num>(?<![\d.:])(?P<na>\d{1,2})(?P<nsep>[/.\-])(?P<nb>\d{1,2})(?P=nsep)(?P<ny>(?:19|20)\d{2}|\d{2})(?![\d]|\.\d))"
    r"|(?P<jp>(?P<jy>(?:19|20)\d{2})年\s*(?P<jm>\d{1,2})月\s*(?P<jd>\d{1,2})日)"
    r"|(?P<compact>(?<![\w.])(?P<cy>(?:19|20)\d{2})(?P<cm>0[1-9]|1[0-2])(?P<cd>0[1-9]|[12]\d|3[01])(?!\w))"
    r"|(?P<mdy>\b"
    + _WEEKDAY
    + r"(?P<mm>(?i:"
    + _MON
    + r"))\.?\s+(?P<md>\d{1,2})"
    + _ORD
    + r",?\s+(?P<my>(?:19|20)\d{2})\b)"
    r"|(?P<dmy>\b(?P<dd>\d{1,2})"
    + _ORD
    + r"(?:\s+(?:day\s+)?of)?(?P<dsep>[\s\-/]?)(?P<dm>(?i:"
    + _MON
    + r"))\.?,?(?:\s+|(?P=dsep))(?P<dy>(?:19|20)\d{2}|\d{2})\b)"
    r"|(?P<monyear>\b(?P<ym>(?i:"
    + _MON
    + r"))\.?,?\s+(?:(?P<yy>(?:19|20)\d{2})|(?P<yq>['’])(?P<yy2>\d{2}))\b)"
    r"|(?P<monthyear>(?<![\d/.])(?P<qm>0?[1-9]|1[0-2])/(?P<qy>(?:19|20)\d{2})(?![\d/]))"
    r"|(?P<mdnoyear>\b"
    + _WEEKDAY
    + r"(?P<am>"
    + _MON
    + r")\.?\s+(?P<ad>\d{1,2})(?P<aord>"
    + _ORD
    + r")(?![\d:]|\.\d|\s*(?:cm|mm|o'?clock)))"
    r"|(?P<dmnoyear>\b(?P<bd>\d{1,2})(?P<bord>"
    + _ORD
    + r")(?:(?:\s+(?:day\s+)?of)?\s+|(?P<bdash>-))(?P<bm>"
    + _MON
    + r")\b\.?)"
    r"|(?P<cued>(?<![^\s])(?P<um>1[0-2]|0?[1-9])/(?P<ud>3[01]|[12]\d|0?[1-9])(?![\d/]|\.\d))"
    r")"
)


#: Month names of other languages (German, French, Spanish, Italian, Portuguese, Dutch, Polish,
#: Russian and Greek in the genitive of a day's date: ``3 марта``, ``3 Μαρτίου``) and
#: their usual abbreviations, where they differ from the English ones (not those that are
#: English words after a number: "5 out of 6", "2 ago", "10 mag").
_FOREIGN_MON = (
    r"(?:januar|jänner|februar|märz|maerz|mai|juni|juli|oktober|dezember"
    r"|janvier|février|fevrier|mars|avril|juin|juillet|août|aout|septembre|octobre|novembre"
    r"|décembre|decembre|enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre"
    r"|setiembre|octubre|noviembre|diciembre|gennaio|febbraio|aprile|maggio|giugno|luglio"
    r"|settembre|ottobre|dicembre|janeiro|fevereiro|março|marco|maio|junho|julho|setembro"
    r"|outubro|dezembro|januari|februari|maart|mei|augustus"
    r"|stycznia|styczeń|lutego|luty|marca|marzec|kwietnia|kwiecień|maja|czerwca|czerwiec"
    r"|lipca|lipiec|sierpnia|sierpień|września|wrzesień|października|październik|listopada"
    r"|listopad|grudnia|grudzień"
    r"|января|февраля|марта|апреля|мая|июня|июля|августа|сентября|октября|ноября|декабря"
    r"|ιανουαρίου|ιανουαριου|φεβρουαρίου|φεβρουαριου|μαρτίου|μαρτιου|απριλίου|απριλιου|μαΐου"
    r"|μαιου|ιουνίου|ιουνιου|ιουλίου|ιουλιου|αυγούστου|αυγουστου|σεπτεμβρίου|σεπτεμβριου"
    r"|οκτωβρίου|οκτωβριου|νοεμβρίου|νοεμβριου|δεκεμβρίου|δεκεμβριου"
    r"|jän|mär|mrz|okt|dez|janv|févr|fevr|avr|juil|déc|giu|lug|ott|fev|mrt)"
)
#: A day with a month name of another language, with or without a year ("5. März 2024",
#: "1er mars 2024", "5 de marzo de 2024", "12 mei"), or such a month with a year ("März
#: 2024"): removed (``[DATE]``), not shifted (the English names are shifted by ``_DATES``).
_FOREIGN_DATES = re.compile(
    r"(?i)(?<![^\W_])(?:(?:[0-3]?\d)(?:\.|er|º|°)?\s*(?:de\s+)?" + _FOREIGN_MON + r"\.?"
    r"(?:,?\s*(?:de\s+)?(?:(?:19|20)\d{2}|\d{2}(?![\d:.,]\d)))?"
    r"|" + _FOREIGN_MON + r"\.?\s+(?:de\s+)?(?:19|20)\d{2})(?![^\W_])"
)


_FOREIGN_MONTH_WORDS = frozenset(_FOREIGN_MON[3:-1].split("|"))
_LETTER_RUN = re.compile(r"[^\W\d_]+")


def _word_start(pattern: re.Pattern[str], first: str) -> re.Pattern[str]:
    """``pattern`` (every match of which starts a word with one of ``first``) with a look-around
    in front that lets the regex engine skip other positions fast (3-4x faster)."""
    source, flags = pattern.pattern, pattern.flags & (re.IGNORECASE | re.MULTILINE)
    inline = re.match(r"\(\?([imx]+)\)", source)
    if inline:
        source = source[inline.end() :]
        for letter in inline.group(1):
            flags |= {"i": re.IGNORECASE, "m": re.MULTILINE, "x": re.VERBOSE}[letter]
    return re.compile(r"(?<![^\W_])(?=[" + first + r"])(?:" + source + ")", flags)


_LETTERS = "A-Za-z"
_LABELLED_IDS = tuple((_word_start(p, _LETTERS), t) for p, t in _LABELLED_IDS)
_PHONES = _word_start(_PHONES, r"\d+(" + _LETTERS)
_STREET = _word_start(_STREET, r"\d" + _LETTERS)
_CITY_STATE_ZIP = _word_start(_CITY_STATE_ZIP, _LETTERS)
_OLD_AGE = _word_start(_OLD_AGE, r"\d")
_SSN = _word_start(_SSN, r"\d" + _LETTERS)
_ID_RUN = _word_start(_ID_RUN, r"\dA-Za-z")
_URL = _word_start(_URL, r"\dA-Za-z")
_IPV4 = _word_start(_IPV4, r"\d")
_EMAIL = _word_start(_EMAIL, r"\w.+\-")
_UK_POSTCODE = _word_start(_UK_POSTCODE, "A-Z")
_ZIP_LABEL = _word_start(_ZIP_LABEL, _LETTERS)
_BARE_EXTENSION = _word_start(_BARE_EXTENSION, _LETTERS)


#: numbers in columns: a digit, two spaces or more (or a tab) and a digit
_NUMBER_COLUMNS = re.compile(r"\d(?: {2,}|\t)[ \t]*\d")


def _spaced_ssns() -> Callable[[re.Match[str]], bool]:
    """Whether an :data:`_SSN` match is one: always, but an SSN with two spaces or a
    tab between its groups only when no line beside it holds numbers in columns (a table's
    row reads so); each line's neighbours are looked at once."""
    tables: dict[int, bool] = {}

    def is_ssn(match: re.Match[str]) -> bool:
        if not match.group("ssngap"):
            return True
        text = match.string
        start = text.rfind("\n", 0, match.start()) + 1  # this line's start
        if start not in tables:
            end = text.find("\n", match.end())  # its end
            end = len(text) if end < 0 else end
            before = text[text.rfind("\n", 0, start - 1) + 1 : start - 1] if start else ""
            below = text.find("\n", end + 1)
            after = text[end + 1 : len(text) if below < 0 else below] if end < len(text) else ""
            tables[start] = bool(_NUMBER_COLUMNS.search(before) or _NUMBER_COLUMNS.search(after))
        return not tables[start]

    return is_ssn


# --------------------------------------------------------------------------- dates
def _month(name: str) -> int:
    return _MONTHS[name.rstrip(".").lower()]


def _fmt_month(original: str, month: int) -> str:
    """The month name in the style of ``original`` (full / abbreviated, case)."""
    plain = original.rstrip(".")
    name = (
        calendar.month_name[month]
        if len(plain) > 4 or plain.lower() in {"june", "july", "sept"}
        else calendar.month_abbr[month]
    )
    if len(plain) <= 4 and plain.lower() == "sept":
        name = calendar.month_abbr[month]
    if plain.isupper():
        name = name.upper()
    elif plain.islower():
        name = name.lower()
    return name + ("." if original.endswith(".") else "")


def _two(value: int, like: str) -> str:
    return f"{value:02d}" if len(like) == 2 else str(value)


def _ordinal(day: int, suffix: str) -> str:
    if not suffix:
        return str(day)
    end = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{end.upper() if suffix.isupper() else end}"


def _year(text: str) -> int:
    year = int(text)
    if len(text) == 2:
        year += 2000 if year < 50 else 1900
    return year


def _shift_month(year: int, month: int, days: int) -> tuple[int, int]:
    """A month-precision date moved by ``days`` rounded to whole months, at least one month
    (so that the original month never survives a small shift)."""
    months = round(days / 30.44) or (1 if days > 0 else -1 if days < 0 else 0)
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


_DAY_OF = re.compile(r"(?i)\bday\s+of\b")
#: the months' names in full, lower case
_FULL_MONTHS = frozenset(name.lower() for name in calendar.month_name if name)
_OF = re.compile(r"(?i)\bof\b")


def _of(text: str) -> str:
    """What stands between a day and its month in ``text``: " day of", " of" or nothing."""
    return " day of" if _DAY_OF.search(text) else " of" if _OF.search(text) else ""


def _shift_match(match: re.Match[str], days: int) -> str:
    g = match.groupdict()
    delta = dt.timedelta(days=days)
    text = match.group(0)
    try:
        if g["iso"]:
            d = dt.date(int(g["iy"]), int(g["im"]), int(g["id"])) + delta
            sep = g["isep"]
            return f"{d.year}{sep}{_two(d.month, g['im'])}{sep}{_two(d.day, g['id'])}"
        if g["num"]:
            a, b, sep = int(g["na"]), int(g["nb"]), g["nsep"]
            day_first = a > 12 or (sep == "." and b <= 12)
            if a > 12 and b > 12:
                return "[DATE]"
            if day_first:
                day, month = a, b
            else:
                month, day = a, b
            d = dt.date(_year(g["ny"]), month, day) + delta
            y = f"{d.year}" if len(g["ny"]) == 4 else f"{d.year % 100:02d}"
            if day_first:
                return f"{_two(d.day, g['na'])}{sep}{_two(d.month, g['nb'])}{sep}{y}"
            return f"{_two(d.month, g['na'])}{sep}{_two(d.day, g['nb'])}{sep}{y}"
        if g["jp"]:
            d = dt.date(int(g["jy"]), int(g["jm"]), int(g["jd"])) + delta
            return f"{d.year}年{d.month}月{d.day}日"
        if g["compact"]:
            d = dt.date(int(g["cy"]), int(g["cm"]), int(g["cd"])) + delta
            return f"{d:%Y%m%d}"
        if g["mdy"]:
            d = dt.date(int(g["my"]), _month(g["mm"]), int(g["md"])) + delta
            comma = "," if "," in text[match.start("md") - match.start() :] else ""
            ordinal = re.match(r"\d+(st|nd|rd|th)", text[match.start("md") - match.start() :], re.I)
            day_text = _ordinal(d.day, ordinal.group(1) if ordinal else "")
            return f"{_fmt_month(g['mm'] + ('.' if text[match.end('mm') - match.start() :].startswith('.') else ''), d.month)} {day_text}{comma} {d.year}"
        if g["dmy"]:
            d = dt.date(_year(g["dy"]), _month(g["dm"]), int(g["dd"])) + delta
            y = f"{d.year}" if len(g["dy"]) == 4 else f"{d.year % 100:02d}"
            sep = g["dsep"]
            if sep and sep != " ":
                return f"{_two(d.day, g['dd'])}{sep}{_fmt_month(g['dm'], d.month)}{sep}{y}"
            if sep == "" and not re.search(r"\s", text):
                return f"{_two(d.day, g['dd'])}{_fmt_month(g['dm'], d.month)}{y}"
            ordinal = re.match(r"\d+(st|nd|rd|th)", text, re.I)
            return f"{_ordinal(d.day, ordinal.group(1) if ordinal else '')}{_of(text)} {_fmt_month(g['dm'], d.month)} {y}"
        if g["monyear"]:
            if g["yy2"]:  # "Feb '25"
                year, month = _shift_month(_year(g["yy2"]), _month(g["ym"]), days)
                return f"{_fmt_month(g['ym'], month)} {g['yq']}{year % 100:02d}"
            year, month = _shift_month(int(g["yy"]), _month(g["ym"]), days)
            return f"{_fmt_month(g['ym'], month)} {year}"
        if g["monthyear"]:
            year, month = _shift_month(int(g["qy"]), int(g["qm"]), days)
            return f"{_two(month, g['qm'])}/{year}"
        if g["cued"]:
            if not _cued(match):
                return text
            d = dt.date(2001, int(g["um"]), int(g["ud"])) + delta
            return f"{_two(d.month, g['um'])}/{_two(d.day, g['ud'])}"
        if g["mdnoyear"]:
            d = dt.date(2001, _month(g["am"]), int(g["ad"])) + delta  # a non-leap year
            return f"{_fmt_month(g['am'], d.month)} {_ordinal(d.day, g['aord'])}"
        if g["dmnoyear"]:
            d = dt.date(2001, _month(g["bm"]), int(g["bd"])) + delta
            # the dot after the month: an abbreviation's or a sentence's ("the 3rd of March.")
            name = _fmt_month(g["bm"] + ("." if text.endswith(".") else ""), d.month)
            if g["bdash"]:
                return f"{_two(d.day, g['bd'])}-{name}"
            return f"{_ordinal(d.day, g['bord'])}{_of(text)} {name}"
    except (ValueError, KeyError, OverflowError):
        return "[DATE]"
    return "[DATE]"


#: the days of a month as ordinal words ("third", "twenty-first")
_DAY_WORDS = [
    "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
    "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth",
    "seventeenth", "eighteenth", "nineteenth", "twentieth",
]  # fmt: skip
_DAY_WORDS += [f"twenty-{w}" for w in _DAY_WORDS[:9]] + ["thirtieth", "thirty-first"]
_DAY_NUMBERS = {word: day for day, word in enumerate(_DAY_WORDS, 1)}
#: a day after its month and "the" ("March the third, 2024", "Mar the 3rd"; the month
#: capitalised: "may the first dose" is no date): group ``m`` the month, ``d`` the day (digits or an ordinal word), ``y`` the comma and year if any
_MONTH_THE_DAY = re.compile(
    rf"(?i)\b(?-i:(?=[A-Z]))(?P<m>{_MON})\.?[ \t]+(?P<t>the)[ \t]+(?P<d>(?:3[01]|[12]\d|0?[1-9])(?:st|nd|rd|th)?"
    + "|"
    + "|".join(w.replace("-", r"[ \t-]?") for w in sorted(_DAY_WORDS, key=len, reverse=True))
    + r")"
    r"\b(?P<y>,?[ \t]+(?:19|20)\d{2}\b)?"
)


#: a day word before "of" and its month ("the third of March 2024", "twenty-first of June";
#: the month capitalised): group ``d`` the day, ``m`` the month, ``y`` the comma and year
_DAY_OF_MONTH = re.compile(
    r"(?i)\b(?P<d>"
    + "|".join(w.replace("-", r"[ \t-]?") for w in sorted(_DAY_WORDS, key=len, reverse=True))
    + rf")[ \t]+of[ \t]+(?-i:(?=[A-Z]))(?P<m>{_MON})\b(?P<y>,?[ \t]+(?:19|20)\d{{2}}\b)?"
)
#: a cheap test before :data:`_DAY_OF_MONTH`
_OF_MONTH = re.compile(r"of[ \t]+(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)")
_LOWER_WORD_AFTER = re.compile(r"[ \t]+[a-z]")


def _day_value(day_text: str) -> int:
    """The day of the month ``day_text`` writes (``3rd``, ``third``, ``twenty-first``)."""
    digits = re.match(r"\d+", day_text)
    if digits:
        return int(digits.group())
    return _DAY_NUMBERS[re.sub(r"[ \t-]+", "-", day_text.lower())]


def _day_written_like(day: int, day_text: str) -> str:
    """``day`` (1-31) written as ``day_text`` is: an ordinal in digits with its suffix's case,
    else a word in its case."""
    digits = re.match(r"\d+", day_text)
    if digits:
        return _ordinal(day, day_text[len(digits.group()) :])
    word = _DAY_WORDS[day - 1]
    if day_text[:1].isupper():
        word = word.upper() if day_text.isupper() else word.capitalize()
    return word


def _day_of_month(match: re.Match[str], days: int | None) -> str:
    """``_DAY_OF_MONTH``'s date shifted by ``days`` in the same words (``None``: removed);
    ``the first of May be ...`` (May, no year, a small word after it) stays."""
    month, day_text, year_text = match.group("m"), match.group("d"), match.group("y")
    if (
        month.lower() == "may"
        and not year_text
        and _LOWER_WORD_AFTER.match(match.string, match.end())
    ):
        return match.group(0)
    if days is None:
        return "[DATE]"
    try:
        year = int(year_text.strip(" \t,")) if year_text else 2001  # no year: a non-leap one
        d = dt.date(year, _month(month), _day_value(day_text)) + dt.timedelta(days=days)
    except ValueError:
        return "[DATE]"
    shifted = _day_written_like(d.day, day_text)
    like = {"May": "March", "MAY": "MARCH", "may": "march"}.get(month, month)  # in full
    out = f"{shifted} of {_fmt_month(like, d.month)}"
    if year_text:
        out += ("," if "," in year_text else "") + f" {d.year}"
    return out


def _month_the_day(match: re.Match[str], days: int | None) -> str:
    """``_MONTH_THE_DAY``'s date shifted by ``days`` in the same words (``None``: removed)."""
    month, day_text, year_text = match.group("m"), match.group("d"), match.group("y")
    digits = re.match(r"\d+", day_text)
    if month.lower() == "may" and not (digits or year_text):
        return match.group(0)  # "May the first dose be given"
    if days is None:
        return "[DATE]"
    try:
        year = int(year_text.strip(" \t,")) if year_text else 2001  # no year: a non-leap one
        d = dt.date(year, _month(month), _day_value(day_text)) + dt.timedelta(days=days)
    except ValueError:
        return "[DATE]"
    shifted = _day_written_like(d.day, day_text)
    out = f"{_fmt_month(month, d.month)} {match.group('t')} {shifted}"
    if year_text:
        out += ("," if "," in year_text else "") + f" {d.year}"
    return out


#: a weekday: in full in any case, an abbreviation capitalised ("Tue.", "Weds"; "mon", "sat"
#: are words)
_WEEKDAY_WORD = (
    r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day|(?-i:(?=[A-Z]))(?:Mon|Tues?|Weds?|Thu(?:rs?)?"
    r"|Fri|Sat|Sun)\.?)"
)
#: an ordinal day in digits ("3rd", "21st")
_DAY_NUM = r"(?:3[01]|[12]\d|0?[1-9])(?:st|nd|rd|th)"
_DAY_WORD_RE = "|".join(
    w.replace("-", r"[ \t-]?") for w in sorted(_DAY_WORDS, key=len, reverse=True)
)
#: a weekday before an ordinal day and no month ("Tuesday the 3rd", "Tue, the third",
#: "Tuesday 3rd"; the weekday capitalised): group ``t`` "the", ``d`` the day; what follows
#: ends a sentence or is a small word ("Tuesday the 3rd time", "... of March" stay)
_WEEKDAY_DAY = re.compile(
    r"(?i)\b" + _WEEKDAY_WORD + r",?"
    rf"[ \t]+(?:(?P<t>the)[ \t]+)?(?P<d>{_DAY_NUM}|(?<=the[ \t])(?:{_DAY_WORD_RE}))\b"
    r"(?=[ \t]*(?:[.,;:!?)\]\r\n]|$)|[ \t]+(?:at|for|with|in|and|or|to|by|when|from|until|till"
    r"|after|before|as)\b|[ \t]+of[ \t]+(?:this|the|that|next|last)[ \t]+month\b)"
)
#: an ordinal day in digits after "on the", "by the", "since the", "until the" at a sentence's
#: or clause's end or before a time ("Seen on the 3rd.", "by the 21st at noon"; "on the 3rd
#: floor", "on the 3rd, 4th ribs", "on the 2nd attempt" stay): group ``d`` the day
_CUED_DAY = re.compile(
    r"(?i)\b(?:on|by|since|until|till|(?:scheduled|booked|due|planned|arranged|rescheduled)"
    rf"[ \t]+for)[ \t]+the[ \t]+(?P<d>{_DAY_NUM})\b"
    r"(?=[ \t]*(?:[.;!?)\r\n]|,(?![ \t]*\d)|$)|[ \t]+(?:at|for|when|from|until|till|after|before)\b"
    r"|[ \t]+of[ \t]+(?:this|the|that|next|last)[ \t]+month\b)"
)
#: the weekdays of German, French, Spanish, Italian, Portuguese, Dutch, Russian (also after
#: "в": ``в среду``), Greek and Polish, in full (a two-letter ``Di``, ``Mo`` is left: ``So``,
#: ``Do`` are English words): beside a date they tell its shift as an English one does
_FOREIGN_WEEKDAY = (
    r"(?:montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonnabend|sonntag|lundi|mardi"
    r"|mercredi|jeudi|vendredi|samedi|dimanche|lunes|martes|mi[ée]rcoles|jueves|viernes"
    r"|s[áa]bado|domingo|(?:luned|marted|mercoled|gioved|venerd)[ìi]|sabato|domenica"
    r"|(?:segunda|ter[çc]a|quarta|quinta|sexta)(?:-feira)?|maandag|dinsdag|woensdag"
    r"|donderdag|vrijdag|zaterdag|zondag|понедельник|вторник|сред[ау]|четверг|пятниц[ау]"
    r"|суббот[ау]|воскресенье|δευτ[εέ]ρα|τρ[ιί]τη|τετ[αά]ρτη|π[εέ]μπτη|παρασκευ[ηή]"
    r"|σ[αά]ββατο|κυριακ[ηή]|poniedzia[łl]ek|wtorek|[śs]rod[aę]|czwartek|pi[ąa]tek"
    r"|sobot[aę]|niedziel[aę])"
)
#: the words of :data:`_FOREIGN_WEEKDAY` as :data:`_LETTER_RUN` finds them in lower case (a
#: cheap check)
_FOREIGN_WEEKDAY_HINTS = frozenset([
    "montag", "dienstag", "mittwoch", "donnerstag", "freitag", "samstag", "sonnabend", "sonntag",
    "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche", "lunes", "martes",
    "miércoles", "miercoles", "jueves", "viernes", "sábado", "sabado", "domingo", "lunedì",
    "lunedi", "martedì", "martedi", "mercoledì", "mercoledi", "giovedì", "giovedi", "venerdì",
    "venerdi", "sabato", "domenica", "segunda", "terça", "terca", "quarta", "quinta", "sexta",
    "maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag", "понедельник",
    "вторник", "среда", "среду", "четверг", "пятница", "пятницу", "суббота", "субботу",
    "воскресенье", "δευτέρα", "δευτερα", "τρίτη", "τριτη", "τετάρτη", "τεταρτη", "πέμπτη",
    "πεμπτη", "παρασκευή", "παρασκευη", "σάββατο", "σαββατο", "κυριακή", "κυριακη", "poniedziałek",
    "poniedzialek", "wtorek", "środa", "sroda", "środę", "srode", "czwartek", "piątek", "piatek",
    "sobota", "sobotę", "sobote", "niedziela", "niedzielę", "niedziele",
])  # fmt: skip
#: a weekday before a placeholder (``Tuesday <3 March 2024>``, ``Tue, the <3rd of March>``,
#: ``Dienstag, <3. März 2024>``, ``Dienstag, den <3. März 2024>``, ``mardi, le <3 mars
#: 2024>``: the article goes with it): group 1 the placeholder's character
_WEEKDAY_BEFORE_DATE = re.compile(
    r"(?i)\b(?:" + _WEEKDAY_WORD + "|" + _FOREIGN_WEEKDAY + r"),?"
    r"[ \t]+(?:(?:den|le|el|il)[ \t]+(?=\ue000))?(?=(?:the[ \t]+)?\ue000(.)\ue001)"
)
#: a weekday after a placeholder (``<March 3>, Tuesday``, ``<3/3/2024> (Tue)``, ``<03.03.2024>
#: (Dienstag)``): group 1 the placeholder's character
_WEEKDAY_AFTER_DATE = re.compile(
    r"(?i)\ue000(.)\ue001(,?[ \t]+(\()?(?:" + _WEEKDAY_WORD + r"(?(3)\))(?![A-Za-z])"
    r"|" + _FOREIGN_WEEKDAY + r"(?(3)\))(?![^\W\d_])))"
)
#: a weekday before or after a date removed as ``[date]`` by the header scrubber
#: (:func:`cadbusi_assets.deid.text.scrub_text`): ``Seen Tuesday, [date]``, ``[date]
#: (Dienstag)``
_WEEKDAY_BESIDE_MARK = re.compile(
    r"(?i)\b(?:" + _WEEKDAY_WORD + "|" + _FOREIGN_WEEKDAY + r"),?[ \t]+(?=(?:the[ \t]+)?\[date\])"
    r"|(?<=\[date\])(,?[ \t]+(\()?(?:" + _WEEKDAY_WORD + r"(?(2)\))(?![A-Za-z])"
    r"|" + _FOREIGN_WEEKDAY + r"(?(2)\))(?![^\W\d_])))"
)


def drop_weekdays_beside_dates(text: str) -> str:
    """``text`` without a weekday beside a removed date (``[date]``): it told the date's day
    (as a weekday beside a report's removed date, ``[DATE]``, did)."""
    if "[date]" not in text:
        return text
    return _WEEKDAY_BESIDE_MARK.sub("", text)


_CUE_WORDS = frozenset(["on", "by", "since", "until", "till", "for"])
_ORDINAL_ENDS = frozenset(["st", "nd", "rd", "th"])
_WEEKDAY_HINTS = frozenset(
    ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "mon", "tue",
     "tues", "wed", "weds", "wednes", "thu", "thur", "thurs", "fri", "sat", "satur", "sun"]
)  # fmt: skip


def _weekday_day(match: re.Match[str], days: int | None) -> str:
    """A day of :data:`_WEEKDAY_DAY` or :data:`_CUED_DAY` shifted by ``days`` (``None``: the
    date removed). The weekday goes (as in ``Tuesday, March 3``: it would no longer match);
    with no month the day moves as a day of January of a non-leap year (a month of 31 days
    after one of 31 days)."""
    cued = "t" not in match.re.groupindex
    start = match.start()
    head = match.group(0)[: match.start("d") - start] if cued else ""
    if days is None:
        return head + "[DATE]"
    day_text = match.group("d")
    try:
        d = dt.date(2001, 1, _day_value(day_text)) + dt.timedelta(days=days)
    except (ValueError, OverflowError):
        return head + "[DATE]"
    shifted = _day_written_like(d.day, day_text)
    if cued:
        return head + shifted
    if match.group("t"):
        return match.group(0)[match.start("t") - start : match.start("d") - start] + shifted
    return shifted


def _remove_match(match: re.Match[str]) -> str:
    if match.group("cued") and not _cued(match):
        return match.group(0)
    month = match.group("bm")
    if month and match.group(0).endswith(".") and month.lower() in _FULL_MONTHS:
        return "[DATE]."  # "the 3rd of March.": the sentence's dot (an abbreviation's goes)
    return "[DATE]"


# --------------------------------------------------------------------------- name variants
#: each special letter and its plain spellings (the first is what :func:`fold` gives)
_TRANSLITERATIONS = {
    "ä": ("a", "ae"),
    "ö": ("o", "oe"),
    "ü": ("u", "ue"),
    "ø": ("o", "oe"),
    "å": ("a", "aa"),
    "æ": ("ae", "a"),
    "ß": ("ss", "s"),
    "ñ": ("n", "ny", "nh"),
    "œ": ("oe",),
    "ë": ("e",),
    "ï": ("i",),
}
_CJK = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\uac00-\ud7af]"
)
_PARTICLES = {"van", "von", "der", "den", "de", "del", "della", "di", "da", "du", "la", "le",
              "bin", "ibn", "al", "el", "dos", "das", "ten", "ter", "st", "mac", "mc", "y"}  # fmt: skip


def _spellings(word: str) -> set[str]:
    """``word``, its folded form and every transliteration mix (ü → u/ue, ø → o/oe, ...)."""
    lower = word.lower()
    options = [(c, *_TRANSLITERATIONS[c]) if c in _TRANSLITERATIONS else (c,) for c in lower]
    found = {word, fold(word)}
    count = 1
    for choice in options:
        count *= len(choice)
    if count <= 64:
        found.update("".join(p) for p in itertools.product(*options))
    else:
        found.add("".join(o[1] if len(o) > 1 else o[0] for o in options))
    found.update(script_latin_forms(word))  # Петрова → PETROVA, Παπαδοπούλου → PAPADOPOULOU
    found.update(lookalike_forms(word))  # Лучкина as OCR reads its shapes: LUYKUHA, JIYUKNHA
    return {f for f in found if f}


def _name_components(value: str) -> list[list[str]]:
    """Per ``=`` group, the name components of a DICOM PN (``LAST^FIRST^MIDDLE``)."""
    groups = []
    for group in value.split("="):
        parts = [p.strip() for p in group.split("^")]
        groups.append([p for p in parts if p])
    return groups


def identifier_variants(identifiers: Sequence[str | None]) -> list[str]:
    """The strings to look for: each identifier; for person names (``LAST^FIRST`` with optional
    ``=`` ideographic and phonetic groups, or plain "First Last") each component and each
    word of it, in every spelling (:func:`_spellings`), plus "FIRST LAST", "LAST, FIRST".
    Latin parts shorter than 2 characters are dropped (initials are matched separately);
    CJK and kana parts are kept whatever their length.

    >>> {"Odegard", "oedegaard", "Ødegård", "ase", "aase"} <= set(identifier_variants(["Ødegård^Åse"]))
    True
    """
    found: set[str] = set()
    for identifier in identifiers:
        if identifier is None:
            continue
        value = normalise_text(str(identifier)).strip()
        if not value:
            continue
        if "^" in value or "=" in value:
            for parts in _name_components(value):
                words = [w for p in parts for w in re.split(r"[\s\-]+", p) if w]
                for item in [*parts, *words]:
                    if item.lower() in _PARTICLES:
                        continue
                    found.update(_spellings(item))
                if len(parts) >= 2:
                    found.add(f"{parts[1]} {parts[0]}")
                    found.add(f"{parts[0]}, {parts[1]}")
                    found.add(" ".join(parts))
                    found.add("".join(parts[:2]))  # 山田太郎
        else:
            found.add(value)
            if not any(c.isdigit() for c in value):
                for word in re.split(r"[\s,\-]+", value):
                    if word and word.lower() not in _PARTICLES:
                        found.update(_spellings(word))
    return sorted((v for v in found if len(v) >= 2 or _CJK.search(v)), key=len, reverse=True)


def _initials(identifiers: Sequence[str | None]) -> set[str]:
    """Upper-case initials of the person names among ``identifiers`` (``ZM``, ``MZ``)."""
    found: set[str] = set()
    for identifier in identifiers:
        if not identifier or ("^" not in identifier and "=" not in identifier):
            continue
        parts = _name_components(identifier)[0]
        letters = [fold(p)[:1].upper() for p in parts[:3] if p and fold(p)[:1].isalpha()]
        if len(letters) >= 2:
            last, first, *middle = letters
            found.update({first + last, last + first, first + "".join(middle) + last})
    return {i for i in found if len(i) >= 2}


@functools.lru_cache(maxsize=1)
def _safe_words() -> frozenset[str]:
    return english_words() | medical_words()


@functools.lru_cache(maxsize=4096)
def _identifier_pattern(identifiers: tuple[str | None, ...]) -> re.Pattern[str] | None:
    variants = identifier_variants(identifiers)
    alternatives: list[str] = []
    safe = _safe_words()
    for variant in variants:
        escaped = re.escape(variant)
        if _CJK.search(variant):
            continue  # CJK names stand without spaces: matched as substrings below
        key = fold(variant).lower()
        if len(variant) <= 2 or key in safe:
            # a common word or a two-letter part: only when written as a name
            forms = {variant, variant.upper(), variant[:1].upper() + variant[1:].lower()}
            alternatives.append(
                "(?-i:" + "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)) + ")"
            )
        else:
            alternatives.append(escaped)
        # text written with combining accents (NFD) is normalised before matching
    for initials in sorted(_initials(identifiers), key=len, reverse=True):
        dotted = r"\.\s?".join(initials) + r"\."
        alternatives.append("(?-i:" + dotted + ")")
        if fold(initials).lower() not in medical_words():
            alternatives.append("(?-i:" + initials + ")")
    cjk = [re.escape(v) for v in variants if _CJK.search(v)]
    if not alternatives and not cjk:
        return None
    latin = r"(?<![^\W_])(?:" + "|".join(alternatives) + r")(?![^\W_])" if alternatives else ""
    return re.compile(r"(?i)(?:" + "|".join(p for p in (latin, *cjk) if p) + ")")


# --------------------------------------------------------------------------- names by safe list
_TITLES = {"dr", "doctor", "mr", "mrs", "ms", "miss", "mx", "prof", "professor", "sr", "sra",
           "herr", "frau", "mme", "mlle", "madame", "monsieur", "sir", "dame", "rev", "fr"}  # fmt: skip
_RELATIONS = {
    "sister", "brother", "mother", "father", "mom", "mum", "dad", "daughter", "son", "husband",
    "wife", "partner", "spouse", "fiance", "fiancee", "friend", "neighbor", "neighbour", "niece",
    "nephew", "aunt", "uncle", "cousin", "grandmother", "grandfather", "granddaughter",
    "grandson", "guardian", "caregiver", "carer", "interpreter", "translator", "chaperone",
    "sonographer", "technologist", "tech", "technician", "radiologist", "nurse", "physician",
    "surgeon", "pathologist", "resident", "fellow", "attending", "midwife", "pcp", "colleague",
    "patient", "pt", "mammographer", "oncologist", "gynecologist", "gynaecologist", "doctor",
    "provider", "named", "called", "by", "cc", "to", "contact", "contacts", "informed",
    "accompanied", "sibling", "stepmother", "stepfather", "stepdaughter", "stepson", "relative",
    "employer", "boss", "landlord", "roommate", "housemate", "girlfriend", "boyfriend", "twin",
    "sisters", "brothers", "children", "child", "kin", "manager",
    "coordinator", "navigator", "scribe", "assistant", "student", "trainee", "registrar",
    "consultant", "practitioner", "dentist", "pharmacist", "therapist", "counselor", "worker",
    "officer", "clerk", "receptionist", "secretary", "chaplain", "from", "of", "and", "with",
    "law", "operator", "referring", "reader", "performing", "scanned", "obtained",
    "aka", "nee", "alias",
    # staff roles in the plural ("sonographers zelda farthing and ...")
    "sonographers", "technologists", "techs", "technicians", "radiologists", "nurses",
    "physicians", "surgeons", "pathologists", "residents", "doctors", "mammographers",
    "oncologists", "midwives",
    # relatives in Spanish, French, German, Italian, Portuguese, Dutch and Polish (accents
    # folded; not those that are also names: Mari, Irma, Neto, Meza...)
    "hija", "hijo", "hijas", "hijos", "esposo", "esposa", "marido", "hermana", "hermano",
    "madre", "padre", "nieta", "sobrina", "fille", "fils", "epouse", "epoux", "soeur", "pere",
    "mere",
    "tante", "oncle", "tochter", "sohn", "ehemann", "ehemanns", "ehefrau", "schwester",
    "mutter", "vater", "nichte", "neffe", "onkel", "enkelin", "figlia", "figlio", "marito",
    "moglie", "sorella", "fratello", "nipote", "zia", "zio", "filha", "filho", "irmao",
    "dochter", "zoon", "echtgenoot", "echtgenote", "zus", "zuster", "broer", "moeder",
    "vader", "nicht", "neef", "corka", "corki", "syn", "syna", "maz", "zony",
    "siostra", "siostry", "brata", "matka", "ojciec", "wnuczka",
}  # fmt: skip
#: greetings of letters and e-mails ("Hi Ottoline,", "Sehr geehrte Frau Wiesinger"): a cue
#: when a space follows ("Hi-res" is no greeting)
_GREETINGS = {
    "dear", "hello", "hi", "bonjour", "hallo", "hola", "ciao", "gentile", "estimada",
    "estimado", "geehrte", "geehrter", "beste", "szanowna", "szanowny",
}  # fmt: skip
_RELATIONS |= _GREETINGS
#: frequent words that never continue a name even when a names list has them
_STOP = {"the", "and", "or", "in", "on", "at", "of", "with", "to", "for", "by", "from", "is",
         "was", "are", "were", "has", "had", "her", "his", "she", "he", "it", "this", "that",
         "as", "an", "a", "be", "no", "not", "left", "right", "will", "may", "can", "all", "but",
         "if", "so", "we", "you", "they", "who", "see", "per", "new", "one", "two", "also"}  # fmt: skip
_WEAK_CUES = {"by", "to", "and", "with", "from", "of"}
_CREDENTIALS = {"md", "do", "phd", "rn", "np", "pa", "rt", "rdms", "rvt", "frcr", "frcpc",
                "mbbs", "facr", "dds", "pharmd", "lpn", "cnm", "bsn", "msn", "aprn", "dnp",
                "crna", "mph", "mba", "jr", "sr", "ii", "iii", "arrt", "rtr", "cma", "lcsw"}  # fmt: skip
#: credentials that are also a side or a projection (RT right, PA posteroanterior, DO): a
#: credential only after a comma ("Jane Smith, RT")
_SIDE_CREDENTIALS = {"rt", "pa", "do"}
#: nursing and sonography credentials written before a name (``RN Faith``, ``NP Joy``,
#: ``PA-C Hope``: the ``c`` of PA-C is matched with its ``PA-``), in upper case only
_PREFIX_CREDENTIALS = frozenset({
    "rn", "np", "lpn", "cnm", "aprn", "crna", "rdms", "rvt", "dnp", "cna", "lvn", "rnp",
})  # fmt: skip
#: relations abbreviated with a slash in South Asian and British records: ``d/o`` daughter of,
#: ``s/o`` son of, ``w/o`` wife of (also "without"), ``c/o`` care of (also "complains of");
#: the last two only before a capitalised name-like word
_SLASH_RELATION = re.compile(r"(?<![^\W\d_])([dswcDSWC])/[oO](?![^\W\d_])")
#: a first name that is also a word in a compound after a relative's word: no name there
#: (``daughter grace period``)
_GIVEN_COMPOUNDS = frozenset({
    ("grace", "period"), ("grace", "periods"), ("grace", "note"), ("hope", "chest"),
    ("joy", "ride"), ("will", "power"), ("rose", "water"), ("rose", "hip"), ("rose", "hips"),
    ("iris", "lesion"), ("iris", "nevus"), ("ginger", "tea"), ("honey", "dressing"),
    ("ivy", "rash"), ("sage", "tea"), ("penny", "size"), ("cherry", "angioma"),
    ("cherry", "angiomas"), ("candy", "bar"), ("storm", "warning"),
})  # fmt: skip
#: words that name a role, a relation or a title: never themselves part of a name
#: relations and roles that a possessive name stands before ("Quarrington's daughter")
_KIN = _RELATIONS - _WEAK_CUES - _GREETINGS - {
    "named", "called", "cc", "contact", "contacts", "informed", "accompanied", "law",
    "referring", "reader", "performing", "scanned", "obtained", "patient", "pt", "aka", "nee",
    "alias",
}  # fmt: skip
_NOT_A_NAME_PART = (_RELATIONS - _WEAK_CUES) | _CREDENTIALS | _TITLES
#: a number just before a word (``10 cc``, ``2.5 cc``, ``two cc``): the word is a unit
_A_VOLUME = re.compile(
    r"(?:\d|\b(?i:a|one|two|three|four|five|six|seven|eight|nine|ten|half))[ \t]*\Z"
)
#: the relatives among :data:`_KIN` (no staff, no roles): after them a first name that is
#: also a word is a name even in lower case ("her daughter rose", "hija rosa")
_FAMILY = frozenset({
    "sister", "brother", "mother", "father", "mom", "mum", "dad", "daughter", "son", "husband",
    "wife", "partner", "spouse", "fiance", "fiancee", "niece", "nephew", "aunt", "uncle",
    "cousin", "grandmother", "grandfather", "granddaughter", "grandson", "sibling",
    "stepmother", "stepfather", "stepdaughter", "stepson", "girlfriend", "boyfriend", "twin",
    "hija", "hijo", "esposo", "esposa", "marido", "hermana", "hermano", "madre", "padre",
    "nieta", "sobrina", "fille", "fils", "epouse", "epoux", "soeur", "pere", "mere", "tante",
    "oncle", "tochter", "sohn", "ehemann", "ehefrau", "schwester", "mutter", "vater", "nichte",
    "neffe", "onkel", "enkelin", "figlia", "figlio", "marito", "moglie", "sorella", "fratello",
    "zia", "zio", "filha", "filho", "irmao", "dochter", "zoon", "echtgenoot", "echtgenote",
    "zus", "broer", "moeder", "vader", "corka", "syn", "maz", "siostra", "matka", "ojciec",
    "wnuczka",
})  # fmt: skip
#: an apposition naming a relation or role after a name ("Hope, her daughter,")
_APPOSITION = re.compile(
    r",?[ \t]+\(?(?:her|his|their|the\s+patient['’]s|the\s+pt['’]s|patient['’]s|pt['’]s|the)[ \t]+(?:"
    + "|".join(
        sorted(
            _RELATIONS
            - _WEAK_CUES
            - {
                "patient",
                "pt",
                "named",
                "called",
                "informed",
                "accompanied",
                "contact",
                "contacts",
                "cc",
            }
        )
    )
    + r")\b"
)

#: CJK / kana words that stay (clinical terms, honorifics); everything else in those scripts goes
_CJK_SAFE = tuple(
    sorted(
        [
            "乳腺",
            "乳房",
            "乳癌",
            "乳がん",
            "エコー",
            "超音波",
            "検査",
            "所見",
            "診断",
            "右",
            "左",
            "両側",
            "腫瘤",
            "嚢胞",
            "石灰化",
            "生検",
            "病理",
            "良性",
            "悪性",
            "線維腺腫",
            "浸潤性",
            "乳管癌",
            "非浸潤性",
            "リンパ節",
            "腋窩",
            "カテゴリー",
            "患者",
            "様",
            "さん",
            "先生",
            "氏",
            "殿",
            "君",
            "ちゃん",
            "歳",
            "才",
            "の",
            "と",
            "は",
            "が",
            "を",
            "に",
            "で",
            "へ",
            "や",
            "、",
            "。",
            "・",
            "時",
            "分",
            "性",
            "部",
            "位",
            "径",
            "大",
            "小",
            "不整形",
            "円形",
            "楕円形",
            "境界",
            "明瞭",
            "不明瞭",
            "内部",
            "低",
            "高",
            "等",
            "無",
            "エコー域",
            "後方",
            "増強",
            "減弱",
            "血流",
            "あり",
            "なし",
            "認め",
            "ます",
            "です",
            "した",
            "経過",
            "観察",
            "推奨",
            "精査",
            "要",
            "特記",
            "事項",
            "マンモグラフィ",
            "造影",
            "検診",
            "外来",
            "紹介",
            "報告",
            "書",
            "画像",
            # positions, sizes and findings (beside them a one-character word is not a name)
            "方向",
            "乳頭",
            "から",
            "距離",
            "大きさ",
            "小さな",
            "形状",
            "辺縁",
            "縦横比",
            "点状",
            "乳管",
            "拡張",
            "構築",
            "乱れ",
            "瘢痕",
            "術後",
            "女性",
            "男性",
            "外側",
            "内側",
            "上外側",
            "上内側",
            "下外側",
            "下内側",
            "対側",
            "領域",
        ],
        key=len,
        reverse=True,
    )
)
_MEDICAL_SUFFIX = re.compile(
    r"(?:echoic|ectomy|ectomies|ography|ographic|ogram|ograms|plasia|plastic|itis|osis|oses|omas?"
    r"|ocyte|ocytes|ectasia|ogenic|ometry|ology|ologic|ological|ologist|opathy|otomy|oscopy"
    r"|emia|algia|plasty|lytic|trophic|ation|ations|ular|aneous|itic|ized|ised)$"
)
_MEDICAL_PREFIX = re.compile(
    r"(?:retro|intra|inter|peri|sub|supra|infra|pre|post|para|trans|hypo|hyper|micro|macro"
    r"|multi|non|anti|pseudo|extra|contra|ipsi|re|un)-?"
)


def _mark_class() -> str:
    """A regex class of the combining marks (Devanagari, Thai, Arabic and Hebrew vowel signs
    are marks, not word characters: a word of those scripts is letters and marks)."""
    ranges: list[tuple[int, int]] = []
    for code in range(0x0300, 0x10000):
        if unicodedata.category(chr(code)) in ("Mn", "Mc", "Me"):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    return "[" + "".join(f"\\u{lo:04x}-\\u{hi:04x}" for lo, hi in ranges) + "]"


_MARKS = _mark_class()
_HAS_MARK = re.compile(_MARKS)
#: a word: letters and digits, with the combining marks of its script (the pattern for a
#: text that has none is the plain one: the marks cost a fifth of the tokenising)
_TOKEN = re.compile(r"[^\W_](?:[^\W_]+|" + _MARKS + r"+)*(?:['’][^\W\d_]+)*|\ue000.\ue001")
_PLAIN_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W\d_]+)*|\ue000.\ue001")
#: tokens that only a placeholder can be
_NAME_PLACEHOLDERS = {"[NAME]", "[REDACTED]", "[name]"}

_SAFE = 0  # known word, not a name
_AMBIGUOUS = 1  # a known word that is also a name (grant, rose)
_NAME = 2  # a person name, not a common word
_UNKNOWN = 3  # not in any list


@functools.lru_cache(maxsize=200_000)
def _fold_lower(word: str) -> str:
    return fold(word).lower()


def _stems(word: str) -> list[str]:
    out = []
    doubled = re.match(r"(.*?([bdgklmnprt])\2)(?:ed|ing|er|ers)$", word)
    if doubled and len(doubled.group(1)) >= 4:
        out.append(doubled.group(1)[:-1])  # scanned -> scan
    for suffix, repl in (("'s", ""), ("’s", ""), ("ies", "y"), ("es", ""), ("s", ""), ("ed", ""),
                         ("ed", "e"), ("ing", ""), ("ing", "e"), ("ly", ""), ("er", ""), ("er", "e"), ("est", "e"),
                         ("ers", ""), ("est", ""), ("al", ""), ("ally", ""), ("ness", ""),
                         ("ment", ""), ("ments", ""), ("ity", ""), ("ities", "y"),
                         ("ied", "y"), ("ation", "e"), ("ations", "e")):  # fmt: skip
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            out.append(word[: len(word) - len(suffix)] + repl)
    return out


@functools.lru_cache(maxsize=200_000)
def _word_class(key: str) -> int:
    """The class of a lower-case folded word (``_SAFE`` … ``_UNKNOWN``)."""
    english, medical, names, places = english_words(), medical_words(), name_words(), place_words()
    if key in medical or key in WEEKDAY_WORDS:  # weekdays: never names
        return _SAFE
    named = key in names or key in places
    if key in english:
        return _AMBIGUOUS if named else _SAFE
    if named:
        # "Lives" is in a names list, but it is "live" + s
        if any(stem in english or stem in medical for stem in _stems(key)):
            return _AMBIGUOUS
        return _NAME
    for stem in _stems(key):
        if stem in medical:
            return _SAFE
        if stem in english:
            return _AMBIGUOUS if stem in names or stem in places else _SAFE
    if len(key) >= 7 and _MEDICAL_SUFFIX.search(key):
        return _SAFE
    prefix = _MEDICAL_PREFIX.match(key)
    if prefix and len(key) - prefix.end() >= 5:
        rest = key[prefix.end() :]
        if rest in medical or (rest in english and rest not in names and rest not in places):
            return _SAFE  # retropectoral, intraductal, nonpalpable
    return _UNKNOWN


_HAS_DIGIT = re.compile(r"\d")
#: a word that starts with a Latin letter: product names of short descriptors ("Voluson") are
#: Latin; an unknown word of another script (Cyrillic, Greek...) there is a name
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
_YEAR = re.compile(r"(?<![\w\-./:])(?:19|20)\d{2}(?![\w\-/:]|\.\d)")
#: what follows a person's name used as a subject: a possessive or a lower-case word
#: what stands before a town: "lives in", "from", "Hospital, " (a capitalised word and a comma)
_PLACE_CUE = re.compile(
    r"(?:\b(?i:in|from|at|to|near|of|lives|moved|resides|outside|visiting|born)|[A-Z]\w*,)[ \t]+$"
)
_SENTENCE_END = re.compile(r"[.!?:;\n]")
#: verbs after a person's name ("Rose called"): someone who speaks, comes or decides
_PERSON_VERB = re.compile(
    r"[ \t]+(?:called|phoned|rang|telephoned|emailed|e-mailed|said|says|stated|states|asked"
    r"|visited|drove|brought|accompanied|arrived|translated|interpreted|requested|wants|wanted"
    r"|agreed|consented|signed|confirmed|reported|reports|mentioned|explained|insisted)\b"
)
_NAME_END = re.compile(r"[ \t]*(?:[.;:)(\n]|$)")
_VERB_AFTER = re.compile(r"['’]s\b| [a-z]")


#: Roman numerals up to 20, alone or with a sub-stage letter ("IIIC", "IIA"): stages, grades,
#: cranial nerves; never a name
_SMALL_ROMAN = frozenset(
    _roman(value) + suffix for value in range(1, 21) for suffix in ("", "A", "B", "C")
)


class _Token:
    __slots__ = ("cls", "end", "key", "kind", "redact", "start", "text")

    def __init__(self, match: re.Match[str], placeholders: list[str]) -> None:
        self.text = match.group(0)
        self.start, self.end = match.span()
        self.redact = False
        if self.text.startswith("\ue000"):
            value = placeholders[ord(self.text[1]) - 0xE100]
            self.kind = "name" if value in _NAME_PLACEHOLDERS else "placeholder"
            self.key = ""
            self.cls = _SAFE
            return
        text = self.text
        if text.isascii():
            self.kind = "word" if text.isalpha() or not _HAS_DIGIT.search(text) else "digit"
        elif _CJK.search(text):
            self.kind = "cjk"
        else:
            self.kind = "digit" if _HAS_DIGIT.search(text) else "word"
        word = text
        if word[-2:].lower() in ("'s", "’s"):
            word = word[:-2]
        self.key = _fold_lower(word)
        self.cls = _word_class(self.key) if self.kind == "word" else _SAFE
        if self.cls != _SAFE and text in _SMALL_ROMAN:
            self.cls = _SAFE  # a stage or grade: "Stage IIIC", "grade II of III"

    @property
    def capitalised(self) -> bool:
        """Upper-case first letter; a letter of a script without case (Arabic, Hebrew,
        Devanagari, Thai, Georgian...) counts as one: nothing marks a name there, so an
        unknown word of such a script is taken for a name like an unknown capitalised word.
        (Georgian Mkhedruli letters are lower case in Unicode, but Georgian is written
        without capitals.)"""
        first = self.text[:1]
        return first.isupper() or (
            first.isalpha() and (not first.islower() or "\u10d0" <= first <= "\u10ff")
        )

    @property
    def upper(self) -> bool:
        return self.text.isupper() and len(self.text) > 1

    @property
    def title(self) -> bool:
        return self.text[:1].isupper() and not self.upper


def _gap(text: str, left: _Token, right: _Token) -> str:
    return text[left.end : right.start]


_JOIN = re.compile(r"[ \t]*[-/_]?[ \t]*")
_JOIN_DOT = re.compile(r"\.?[ \t]*")
_JOIN_COMMA = re.compile(r"[ \t]*,[ \t]*")


def _joined(gap: str, comma: bool = True, left: str = "") -> bool:
    """Whether two tokens separated by ``gap`` can be parts of one name (a dot only after an
    initial: "M. Long")."""
    if not gap:
        return False
    if _JOIN.fullmatch(gap):
        return True
    if len(left) == 1 and _JOIN_DOT.fullmatch(gap):
        return True
    if gap == "." and left[:1].isupper() and len(left) > 1:
        return True  # "Eustace.Winterbottom": no space after the dot, so no sentence end
    return comma and _JOIN_COMMA.fullmatch(gap) is not None


#: between a relative's word and the name after it
_KIN_GAP = re.compile(r"[ \t]*:?[ \t]*")


@functools.cache
def _cjk_kin() -> frozenset[str]:
    """Relatives' words in Chinese, Japanese and Korean (:data:`deid.shapes.CJK_KIN`)."""
    from cadbusi_assets.deid.shapes import CJK_KIN

    return CJK_KIN


def _mark_names(
    text: str, placeholders: list[str], unknown_are_names: bool = True
) -> list[tuple[int, int]]:
    """Spans of ``text`` that are names (the safe-list decision, then name contexts).

    ``unknown_are_names=False`` (short descriptors full of product names) leaves a
    capitalised word in no vocabulary alone unless a context makes it a name (a title, a
    relation or role, a credential, a person name beside it)."""
    token = _TOKEN if _HAS_MARK.search(text) else _PLAIN_TOKEN
    tokens = [_Token(m, placeholders) for m in token.finditer(text)]
    core = core_words()
    n = len(tokens)
    spans: list[tuple[int, int]] = []
    places = place_words()
    medical = medical_words()
    eponyms = eponym_words()
    previous_end = 0
    for index, tok in enumerate(tokens):
        if tok.kind == "cjk":
            spans.extend(_cjk_names(tok))
            continue
        if tok.kind != "word":
            if tok.kind == "digit":
                spans.extend(_glued_name(tok))
            previous_end = tok.end
            continue
        sentence_start = (
            _SENTENCE_END.search(text, previous_end, tok.start) is not None or not previous_end
        )
        place_cue = _PLACE_CUE.search(text, max(0, tok.start - 24), tok.start) is not None
        previous_end = tok.end
        if (
            tok.cls == _NAME
            and not tok.capitalised
            and len(tok.text) >= 4
            and tok.key not in medical
        ):
            tok.redact = True  # a name written in lower case (OCR, descriptors)
            continue
        if (
            tok.cls == _AMBIGUOUS
            and tok.title
            and not sentence_start
            and place_cue
            and tok.key in places
            and tok.key not in core
            and tok.key not in medical
            and tok.key not in _STOP
        ):
            tok.redact = True  # a town that is also a word ("Boston", "Reading") mid-sentence
            continue
        if not unknown_are_names and tok.key in _PRODUCTS:
            continue  # a scanner's maker or model in a descriptor ("HITACHI ARIETTA")
        if tok.text[-2:].lower() in ("'s", "’s") and tok.key in eponyms:
            continue  # an eponym: "Montgomery's tubercles" (after a title still a name)
        if (
            not unknown_are_names
            and (tok.key in eponyms or tok.key in _DESCRIPTOR_EPONYMS)
            and _descriptor_eponym(text, tokens, index)
        ):
            continue  # a descriptor "Gleason Score", "Hodgkin Lymphoma", "BERGER" alone
        if (
            tok.cls == _NAME
            or (tok.cls == _UNKNOWN and (unknown_are_names or not _LATIN.match(tok.text)))
        ) and tok.capitalised:
            if tok.upper and len(tok.text) <= 3 and tok.cls == _UNKNOWN:
                continue  # an abbreviation unless the context says otherwise
            if tok.upper and len(tok.text) == 2:
                continue
            if tok.key in _KIN and (
                tok.cls == _UNKNOWN
                or (
                    index + 1 < n
                    and tokens[index + 1].kind == "word"
                    and tokens[index + 1].capitalised
                    and _KIN_GAP.fullmatch(text, tok.end, tokens[index + 1].start) is not None
                )
            ):
                continue  # "Hija Rosa", "TOCHTER ROSE", "Hija presente": a relative's word
            tok.redact = True

    _organisation_names(text, tokens, unknown_are_names)

    def is_name(t: _Token) -> bool:
        return t.redact or t.kind == "name"

    # per token, the nearest token before it that is not a determiner or an initial ("her",
    # "the", "J."), which a cue looks past: found once, not walked back for every token (a
    # text of thousands of "A A A" or "J. J. J." took seconds, quadratic in its length)
    cue_token = []
    last = -1
    for t in tokens:
        cue_token.append(last)
        if not (
            t.kind == "word"
            and (
                t.key in {"her", "his", "their", "the", "my", "a", "an", "our", "s"}
                or (len(t.text) == 1 and t.text.isupper() and text[t.end : t.end + 1] == ".")
            )
        ):
            last = len(cue_token) - 1

    def cue(i: int) -> tuple[bool, bool]:
        """(any cue, strong cue) before token ``i``."""
        j = cue_token[i]
        if j < 0:
            return False, False
        gap = text[tokens[j].end : tokens[j + 1].start]
        if "\n" in gap or len(gap) > 4:
            return False, False
        key = tokens[j].key
        if _abbreviated_cue(text, tokens[j], tokens[i]):
            return True, False  # "d/o Rose", "RN Faith", "PA-C Hope"
        if key in _TITLES:
            return True, True
        if key in {"name", "patient", "pt"} and ":" in gap:
            return True, True
        if "." in gap or ";" in gap:
            return False, False  # "... her sister. Contact the office"
        if key in _GREETINGS and gap.strip(" \t"):
            return False, False
        if not key.isascii():
            # "娘 (Rose)", "딸 (Grace)" (the key is decomposed: Hangul by its text)
            return key in _RELATIONS or tokens[j].text in _cjk_kin(), False
        if key == "cc" and _A_VOLUME.search(text, max(0, tokens[j].start - 12), tokens[j].start):
            return False, False  # "10 cc cephalexin": a volume, not a copy to somebody
        return key in _RELATIONS, False

    def credential_after(i: int) -> bool:
        j = i + 1
        if j >= n:
            return False
        gap = text[tokens[i].end : tokens[j].start]
        if tokens[j].key in _SIDE_CREDENTIALS and "," not in gap:
            return False  # "BREAST RT", "CHEST PA": a side or a projection
        return (
            tokens[j].key in _CREDENTIALS
            and tokens[j].text[:1].isupper()
            and bool(re.fullmatch(r",?[ \t]*", gap))
            and gap.strip() != ""
        ) or (
            tokens[j].key in _CREDENTIALS
            and tokens[j].text.isupper()
            and re.fullmatch(r",?[ \t]+|,", gap) is not None
        )

    # cues and credentials
    for i, tok in enumerate(tokens):
        if tok.kind != "word" or tok.redact:
            continue
        if not tok.capitalised:
            if _lower_case_name(text, tokens, i, cue):
                tok.redact = True
            continue
        any_cue, strong = cue(i)
        if (
            any_cue
            and tok.upper
            and tokens[i - 1].key in _FAMILY
            and text[tok.start - 1 : tok.start] == "("
            and text[tok.end : tok.end + 1] == ")"
        ):
            continue  # "mother (IDM)": an abbreviation defined after a relative's word
        if (
            any_cue
            and tok.upper
            and len(tok.text) <= 3
            and tok.key not in medical_words()
            and tok.key not in _CREDENTIALS
            and tok.key not in _STOP
            and tok.key not in core
        ):
            tok.redact = True  # staff initials: "scanned by sonographer KMR"
        elif strong and (tok.cls != _SAFE or tok.key not in core or tok.title):
            tok.redact = True
        elif (
            any_cue
            and tok.key in _STOP
            and tok.key in _KIN_GIVEN
            and (
                tokens[i - 1].key in _KIN
                or tokens[i - 1].text in _cjk_kin()
                or _abbreviated_cue(text, tokens[i - 1], tok)
            )
            and (tok.title or _CLOSES_NAME.match(text, tok.end) is not None)
        ):
            tok.redact = True  # "son Will", "daughter May": a first name that is a frequent word
        elif (
            any_cue
            and tok.key not in _STOP
            and (
                tok.cls != _SAFE
                or (tok.title and tok.key not in core and tok.key not in medical_words())
            )
            and not (
                # "US SON VALLEY": a place that is no person's name after a relative's word
                tok.cls == _AMBIGUOUS
                and tokens[i - 1].key in _KIN
                and tok.key in places
                and tok.key not in name_words()
            )
        ):
            prev = tokens[i - 1].key if i else ""
            if prev in _WEAK_CUES:
                # "by Grant", "with Rose": only when a name word follows or the word is not common
                nxt = tokens[i + 1] if i + 1 < n else None
                if tok.cls != _AMBIGUOUS or (
                    nxt is not None
                    and nxt.title
                    and (nxt.cls != _SAFE or _eponym_as_name(text, nxt, True))
                    and _joined(_gap(text, tok, nxt), False)
                ):
                    tok.redact = True
            else:
                tok.redact = True
        elif (
            credential_after(i)
            and tok.key not in medical  # "BREAST RT" is the right breast, not an RT
            and (tok.cls != _SAFE or (tok.title and tok.key not in core))
        ):
            tok.redact = True
    # credentials: up to three capitalised words before ", MD"
    for i, tok in enumerate(tokens):
        if tok.kind == "word" and tok.key in _CREDENTIALS and i and tokens[i].text[:1].isupper():
            gap = text[tokens[i - 1].end : tok.start]
            if not re.fullmatch(r",?[ \t]+|,", gap):
                continue
            if tok.key in _SIDE_CREDENTIALS and "," not in gap:
                continue  # "CHEST WALL RT": the right side, not a technologist
            j = i - 1
            count = 0
            while (
                j >= 0
                and count < 3
                and tokens[j].kind in ("word", "name")
                and tokens[j].capitalised
                and (
                    tokens[j].kind == "name"
                    or (tokens[j].key not in core and tokens[j].key not in medical)
                    or (len(tokens[j].text) == 1 and j > 0)  # an initial: "Marchbanks E, MD"
                )
            ):
                if tokens[j].kind == "word" and tokens[j].key in _CREDENTIALS | _TITLES:
                    break
                tokens[j].redact = tokens[j].kind == "word" or tokens[j].redact
                if j and not _joined(text[tokens[j - 1].end : tokens[j].start], False):
                    break
                j -= 1
                count += 1
    # title-case runs of name-like words ("Grant Hill"); at a sentence start or made of frequent
    # words ("Mark Long") only when both are person names and a verb or a possessive follows
    persons = name_words()
    for i in range(n - 1):
        a, b = tokens[i], tokens[i + 1]
        if not (
            a.kind == "word"
            and b.kind == "word"
            and a.title
            and b.title
            and a.cls in (_AMBIGUOUS, _NAME)
            and b.cls in (_AMBIGUOUS, _NAME)
            and a.key not in _STOP
            and b.key not in _STOP
            and _joined(_gap(text, a, b), False)
        ):
            continue
        mid_sentence = i > 0 and not re.search(r"[.:!?\n]\s*$", text[tokens[i - 1].end : a.start])
        if (mid_sentence and a.key not in core and b.key not in core) or (
            a.key in persons
            and b.key in persons
            and a.key not in medical_words()
            and b.key not in medical_words()
            and _VERB_AFTER.match(text, b.end)
        ):
            a.redact = b.redact = True
    # a first name and a capitalised word before a verb ("Joy Castle called")
    for i in range(n - 1):
        a, b = tokens[i], tokens[i + 1]
        if (
            a.kind == "word"
            and b.kind == "word"
            and a.title
            and b.title
            and not a.redact
            and a.key in persons
            and a.key not in core
            and b.key not in core
            and a.key not in medical_words()
            and b.key not in medical_words()
            and a.key not in _STOP
            and _joined(_gap(text, a, b), False)
            and _VERB_AFTER.match(text, b.end)
        ):
            a.redact = b.redact = True
    # a first name and a double-barrelled surname in title case, anywhere ("Rose
    # Plimsoll-Candlewick": each part may be an English word)
    for i in range(n - 2):
        a, b, c = tokens[i], tokens[i + 1], tokens[i + 2]
        if (
            a.kind == b.kind == c.kind == "word"
            and a.title
            and b.title
            and c.title
            and (a.key in _GIVEN_WORDS or (a.cls == _NAME and a.key in persons))
            and a.key not in _NOT_A_NAME_PART
            and _gap(text, a, b) in (" ", "\t")
            and _gap(text, b, c) == "-"
            and text[c.end : c.end + 1] != "-"
            and all(
                len(t.text) >= 3
                and t.key not in core
                and t.key not in medical
                and t.key not in eponyms
                and t.key not in _STOP
                and t.key not in _NOT_A_NAME_PART
                for t in (b, c)
            )
        ):
            a.redact = b.redact = c.redact = True
    # a lone first name that is also a word, before a verb of someone who speaks or comes
    # ("Rose called", "Bill phoned") or before an apposition ("Hope, her daughter")
    for tok in tokens:
        if (
            tok.kind == "word"
            and tok.title
            and not tok.redact
            and tok.key in persons
            and tok.key not in _STOP
            and tok.key not in medical
            and tok.key not in _NOT_A_NAME_PART
            and (_PERSON_VERB.match(text, tok.end) or _APPOSITION.match(text, tok.end))
        ):
            tok.redact = True
    # a name before a relative's or role word in parentheses ("Rose (daughter) called")
    for i in range(n - 1):
        tok, nxt = tokens[i], tokens[i + 1]
        if (
            tok.kind == "word"
            and tok.capitalised
            and not tok.redact
            and nxt.kind == "word"
            and nxt.key in _KIN
            and _OPEN_PAREN.fullmatch(text, tok.end, nxt.start) is not None
            and text[nxt.end : nxt.end + 1] == ")"
            and (tok.key not in _STOP or (tok.title and tok.key in _KIN_GIVEN))
            and tok.key not in medical
            and tok.key not in _NOT_A_NAME_PART
            and not (tok.upper and len(tok.text) <= 3)
            and (tok.cls in (_NAME, _UNKNOWN) or tok.key in _KIN_GIVEN or tok.key in persons)
        ):
            tok.redact = True
    # a possessive before a relation or role: "Quarrington's daughter", "Okafor's PA"
    for i in range(n - 1):
        tok, nxt = tokens[i], tokens[i + 1]
        if (
            tok.kind == "word"
            and tok.capitalised
            and not tok.redact
            and tok.text[-2:].lower() in ("'s", "’s")
            and tok.cls != _SAFE
            and tok.key not in core
            and tok.key not in medical
            and tok.key not in _NOT_A_NAME_PART
            and nxt.kind == "word"
            and nxt.key in _KIN
            and text[tok.end : nxt.start] in (" ", "\t")
        ):
            tok.redact = True
    if not unknown_are_names:
        _caps_names(text, tokens, persons, core, medical)
    # chains: neighbours of a name that look like name parts
    changed = True
    while changed:
        changed = False
        for i, tok in enumerate(tokens):
            if tok.redact or tok.kind != "word":
                continue
            for j in (i - 1, i + 1):
                if not 0 <= j < n or not is_name(tokens[j]):
                    continue
                left, right = (tokens[j], tok) if j < i else (tok, tokens[j])
                gap = _gap(text, left, right)
                if not _joined(
                    gap,
                    comma=tok.capitalised and tokens[j].kind == "word" and tokens[j].capitalised,
                    left=left.text,
                ):
                    continue
                if "," in gap and tok.cls == _SAFE and not _NAME_END.match(text, tok.end):
                    continue  # "Voss, Left" no; "Salloward, Noria." yes
                single = len(tok.text) == 1 and tok.text.isupper()
                particle = tok.key in _PARTICLES and j > i and i and is_name(tokens[i - 1])
                if (
                    single and (gap.startswith(".") or text[tok.end : tok.end + 1] == ".")
                ) or particle:
                    pass
                elif not tok.capitalised:
                    continue
                elif tok.upper:
                    if (
                        tok.key in core
                        or tok.key in medical_words()
                        or tok.key in _STOP
                        or tok.key in _NOT_A_NAME_PART
                    ):
                        continue
                    if len(tok.text) <= 2 and tok.key in medical_words():
                        continue
                elif (
                    (tok.key in medical_words() and not _eponym_as_name(text, tok, j < i))
                    or tok.key in _NOT_A_NAME_PART
                    or (tok.key in core and (tok.cls != _AMBIGUOUS or tok.key in _STOP))
                ):
                    continue
                tok.redact = True
                changed = True
                break
    _particle_names(text, tokens, is_name)
    _split_name_fragments(text, tokens, is_name)
    spans.extend((t.start, t.end) for t in tokens if t.redact and t.kind == "word")
    return spans


#: scanner makers and models that a names list holds or that no vocabulary knows: never a
#: name in an all-caps descriptor ("HITACHI ARIETTA", "ACUSON SEQUOIA")
_PRODUCTS = PRODUCT_NAMES
#: first names that are also words (class ambiguous): beside an unknown all-caps word in a
#: descriptor they make a name (``MARY QUIMBY``); a names list also holds surnames that are
#: words (``BRAIN``, ``LONG``), which do not
_GIVEN_WORDS = frozenset({
    "mary", "maria", "anna", "ann", "anne", "rose", "rosa", "grace", "hope", "joy", "faith",
    "june", "april", "iris", "daisy", "lily", "ruby", "pearl", "amber", "holly", "ivy", "dawn",
    "eve", "nancy", "carol", "jean", "joan", "sue", "kim", "patience", "prudence", "constance",
    "charity", "violet", "olive", "hazel", "heather", "jasmine", "crystal", "summer", "autumn",
    "sky", "angel", "precious", "destiny", "harmony", "melody", "sunny", "star", "gay", "rosie",
    "bill", "frank", "grant", "dean", "rob", "pat", "jack", "jim", "bob", "rick", "drew",
    "guy", "art", "lane", "chase", "hunter", "miles", "rex", "ray", "wade", "cliff", "glen",
    "dale", "earl", "norman", "victor", "homer", "august", "sterling", "carmen", "luz", "paz",
    "dolores", "mercedes", "consuelo", "amparo", "rosario", "pilar", "alan", "amy", "benjamin",
    "betty", "billy", "bobby", "carl", "donna", "emma", "eric", "henry", "james", "jane",
    "jerry", "joe", "jordan", "kelly", "kyle", "larry", "laura", "mason", "peter", "ralph",
    "randy", "roger", "ruth", "sophia", "steven", "terry", "timothy", "vincent", "walter",
    "willie",
})  # fmt: skip
#: first names that are also words, as a relative's or staff member's name: right after a
#: relative's or role word they are a name (``son Will``, ``daughter May``, ``tech Will``;
#: ``will`` and ``may`` only in title case or closing the value: ``SON WILL CALL`` stays)
_KIN_GIVEN = _GIVEN_WORDS | frozenset({
    "will", "may", "mark", "sandy", "gene", "bud", "chip", "rusty", "dusty", "ginger", "penny",
    "candy", "cherry", "misty", "robin", "reed", "rod", "don", "ken", "nick", "fay", "dot",
    "flora", "viola", "wren", "brook", "clay", "ernest", "earnest", "sonny", "opal", "jewel",
    "belle", "bella", "marina", "dolly", "noble", "sage", "river", "storm", "rain", "honey",
    "lavender", "marigold", "poppy", "willow", "blossom", "magnolia", "primrose", "tulip",
    "bernard", "stuart", "hugh", "miles", "warren", "wendy", "sue", "gale", "gay", "merry",
    "ivy", "lily", "clement", "constant", "felix", "fern", "jade", "jasper", "teddy", "sunny",
    # short first names that are also words ("son tom farthing")
    "tom", "ted", "sam", "ben", "dan",
})  # fmt: skip
#: endings of Latin and clinical words that no vocabulary lists (MUSCULUS PECTORALIS, DUCTUS
#: ARTERIOSUS, REGURGITANT): never taken for a name by the all-caps rule
_CLINICAL_ENDING = re.compile(
    r"(?:US|IS|UM|AE|II|IC|AL|OUS|ANT|ENT|ARY|ORY|OID|OSIS|ITIS|OMA|IA|ISM|ATE|IVE|ILE|ULA|ICA"
    r"|GEN|CYTE|PLASTY|GRAPHY|SCOPY|ECTOMY|OTOMY|PATHY|TROPHY|LYSIS|EAL|IAL|EUS|ES|ING)$"
)
_CAPS_GAP = re.compile(r"[ \t]")
_CAPS_JOIN = re.compile(r"[ \t]|-")
_CAPS_COMMA = re.compile(r",[ \t]?")


def _caps_names(
    text: str,
    tokens: list[_Token],
    persons: frozenset[str],
    core: frozenset[str],
    medical: frozenset[str],
) -> None:
    """Two all-caps words side by side in a short descriptor that make a name (``LEFT BREAST
    MARY QUIMBY BIOPSY``): a first name that is also a word (:data:`_GIVEN_WORDS`: ``MARY``,
    ``ROSE``) beside a word no vocabulary knows, or two or three such unknown words of 4+
    letters between known words (a known word on one side at least, nothing unknown on
    either; not with a Latin or clinical ending: ``MUSCULUS PECTORALIS``). Scanner makers and
    models (``SIEMENS ACUSON``) and words with digits are never taken."""

    def plain(t: _Token) -> bool:
        return (
            t.kind == "word"
            and t.upper
            and len(t.text) >= 3
            and t.text.isalpha()
            and t.key not in _PRODUCTS
            and t.key not in _VENDORS
            and t.key not in _STOP
            and t.key not in _NOT_A_NAME_PART
            and t.key not in medical
        )

    def known(t: _Token) -> bool:
        return t.kind == "word" and not t.redact and (t.cls == _SAFE or t.key in core)

    n = len(tokens)
    for i in range(n - 1):
        a, b = tokens[i], tokens[i + 1]
        if a.redact or b.redact or not (plain(a) and plain(b)):
            continue
        if not _CAPS_GAP.fullmatch(text[a.end : b.start]):
            continue
        given = [
            t for t in (a, b) if t.cls == _AMBIGUOUS and t.key in _GIVEN_WORDS and t.key in persons
        ]
        other = b if given and given[0] is a else a
        if given and other.cls == _UNKNOWN and len(other.text) >= 4:
            a.redact = b.redact = True
    # runs of two or three unknown words of 4+ letters (``OTTOLINE QUIMBY-FAIRBAIRN``)
    i = 0
    while i < n:
        j = i
        while (
            j < n
            and j - i < 3
            and plain(tokens[j])
            and not tokens[j].redact
            and tokens[j].cls == _UNKNOWN
            and len(tokens[j].text) >= 4
            and not _CLINICAL_ENDING.search(tokens[j].text)
            and (
                j == i
                or _CAPS_JOIN.fullmatch(text[tokens[j - 1].end : tokens[j].start])
                # "QUIMBRELL, OTTOLINE": a surname and a first name, the value's end
                or (
                    j == i + 1
                    and _CAPS_COMMA.fullmatch(text[tokens[i].end : tokens[j].start])
                    and j == n - 1
                )
            )
        ):
            j += 1
        if j - i >= 2:
            sides = [tokens[k] for k in (i - 1, j) if 0 <= k < n]
            if sides and all(known(t) for t in sides):
                for k in range(i, j):
                    tokens[k].redact = True
        i = max(j, i + 1)


#: words that end the name of an employer, a school or a shop ("Quillbrook Bakery",
#: "Thistlewood Logistics", "Quarrington Elementary")
_ORGANISATION_WORDS = {
    "bakery", "logistics", "elementary", "school", "academy", "college", "university", "inc",
    "ltd", "llc", "plc", "corp", "corporation", "company", "gmbh", "bank", "store", "stores",
    "shop", "market", "supermarket", "restaurant", "cafe", "café", "farm", "farms", "factory",
    "industries", "services", "solutions", "consulting", "construction", "motors", "garage",
    "salon", "hotel", "church", "library", "foods", "trucking", "transport", "plumbing",
    "insurance", "dairy", "brewery", "pharmacy", "kindergarten", "nursery", "bakeries",
    "enterprises", "holdings", "partners", "associates", "limited", "incorporated", "diner",
    "grocery", "groceries", "mill", "mills", "warehouse", "haulage", "builders", "cleaners",
}  # fmt: skip
#: what stands before an employer ("works at", "employed by", "teacher at")
_EMPLOYER_CUE = re.compile(
    r"(?i:\b(?:works?|working|worked|employed|employee|job|teaches|teacher|volunteers?"
    r"|retired|owns|owner|manages|cashier|clerk|driver)[ \t]+(?:at|for|by|with|from)"
    r"|\bemployer[ \t]*[:\-]?)[ \t]+$"
)
_EMPLOYER_WORDS = frozenset(
    [
        "work",
        "works",
        "working",
        "worked",
        "employed",
        "employee",
        "employer",
        "employs",
        "job",
        "teacher",
        "teaches",
        "teach",
        "volunteer",
        "volunteers",
        "retired",
        "owns",
        "owner",
        "manages",
        "cashier",
        "clerk",
        "driver",
    ]
)
#: makers of scanners and probes: after "per" (a name context in short descriptors) they are
#: a preset's origin ("per Siemens preset")
_VENDORS = {
    "siemens", "philips", "toshiba", "canon", "hitachi", "samsung", "mindray", "esaote",
    "hologic", "supersonic", "aixplorer", "fujifilm", "sonosite", "acuson", "voluson",
    "logiq", "aplio", "epiq", "affiniti", "invenia", "konica", "zonare", "ultrasonix", "aloka",
    "medison", "sonoscape", "butterfly", "clarius", "verasonics", "ge", "acr", "nccn",
}  # fmt: skip
_CLOSES_NAME = re.compile(r"[ \t]*(?:$|[,;:.()/\n])")
_COMMA_INITIAL = re.compile(r"[ \t]*,[ \t]*[A-Z]\.")
#: the line that quotes an e-mail ("On 4 Mar, Fenwick Marlowe wrote:")
_WROTE = re.compile(
    r"[ \t]+(?:wrote|writes|a\s+écrit|escribió|schrieb|ha\s+scritto|schreef|napisał|escreveu)\b"
)


def _organisation_names(text: str, tokens: list[_Token], unknown_are_names: bool) -> None:
    """Names that only their context marks in short descriptors (where an unknown
    capitalised word may be a product): an employer's name before "Bakery", "Logistics"...
    or after "works at" (in report text too, for words that are also common words), a word
    after "per" that ends there or before a bracket ("per Quimby", "per Kalinda (charge
    nurse)"; not a scanner maker), a word before ", P." ("Quimby,P.")."""
    keys = {t.key for t in tokens}
    if (
        unknown_are_names
        and _ORGANISATION_WORDS.isdisjoint(keys)
        and _EMPLOYER_WORDS.isdisjoint(keys)
    ):
        return  # report text: an unknown word is a name already; no employer here
    core = core_words()
    medical = medical_words()
    for i, tok in enumerate(tokens):
        if (
            tok.redact
            or tok.cls == _SAFE
            or tok.kind != "word"
            or not tok.capitalised
            or tok.key in medical
            or tok.key in _STOP
            or tok.key in _NOT_A_NAME_PART
            or tok.key in _ORGANISATION_WORDS
            or (tok.upper and len(tok.text) <= 3)
        ):
            continue
        unknown = tok.cls in (_UNKNOWN, _NAME) and _LATIN.match(tok.text) is not None
        if not unknown and tok.key in core:
            continue
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        joined_next = nxt is not None and text[tok.end : nxt.start] in (" ", "\t")
        if (
            joined_next and nxt is not None and nxt.key in _ORGANISATION_WORDS and nxt.capitalised
        ) or (
            i + 2 < len(tokens)
            and joined_next
            and nxt is not None
            and nxt.capitalised
            and tokens[i + 2].key in _ORGANISATION_WORDS
            and tokens[i + 2].capitalised
            and text[nxt.end : tokens[i + 2].start] in (" ", "\t")
        ):
            tok.redact = True  # "Quillbrook Bakery", "Quill Brook Bakery"
            continue
        if _EMPLOYER_CUE.search(text, max(0, tok.start - 30), tok.start):
            tok.redact = True  # "works at Thistlewood"
            continue
        if unknown_are_names or not unknown:
            continue
        prev = tokens[i - 1] if i else None
        if (
            prev is not None
            and prev.key == "per"
            and text[prev.end : tok.start] in (" ", "\t")
            and tok.key not in _VENDORS
            and _CLOSES_NAME.match(text, tok.end)
        ):
            tok.redact = True  # "per Quimby", "per Kalinda (charge nurse)"
        elif _COMMA_INITIAL.match(text, tok.end) or _WROTE.match(text, tok.end):
            tok.redact = True  # "Quimby,P.", "Fenwick Marlowe wrote:"
        elif (
            nxt is not None
            and text[tok.end : nxt.start] == ","
            and nxt.kind == "word"
            and nxt.title
            and nxt.cls != _SAFE
            and nxt.key not in core
            and _LATIN.match(nxt.text) is not None
        ):
            tok.redact = nxt.redact = True  # "Quimby,Ottoline": LAST,FIRST without a space


#: a lower-case word of at most this many letters after a name fragment is the name's rest
#: ("Siob han": a name split by a no-break or other odd space, which reads as a space)
_FRAGMENT_MAX = 5


def _split_name_fragments(
    text: str, tokens: list[_Token], is_name: Callable[[_Token], bool]
) -> None:
    """A short lower-case word that may be a name (not a frequent or clinical word) right
    after a name that is itself in no vocabulary (a fragment: "Siob" of "Siob han") is the
    rest of that name."""
    core = core_words()
    medical = medical_words()
    for i in range(1, len(tokens)):
        prev, tok = tokens[i - 1], tokens[i]
        if not (prev.redact or prev.kind == "name"):
            continue
        if (
            tok.kind == "word"
            and not tok.redact
            and tok.text.islower()
            and tok.text.isalpha()
            and 2 <= len(tok.text) <= _FRAGMENT_MAX
            and tok.cls != _SAFE
            and tok.key not in core
            and tok.key not in medical
            and tok.key not in _STOP
            and tok.key not in _NOT_A_NAME_PART
            and is_name(prev)
            and (prev.kind == "name" or prev.cls != _SAFE)
            and text[prev.end : tok.start] == " "
        ):
            tok.redact = True


_GLUED_NAME = re.compile(r"(?<!\d)([^\W\d_]{3,})\d+$|^\d+([^\W\d_]{3,})$")


#: digits written for the letters they look like ("K0walczyk", "5mith")
_LOOKALIKE_DIGITS = {"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b"}
_LOOKALIKE = re.compile(r"[^\W_]*[^\W\d_][^\W_]*")


def _glued_name(tok: _Token) -> list[tuple[int, int]]:
    """A person name glued to digits ("Philomena2", "2Quarrington"): the letters when they are
    a capitalised word of the person-name list and no common or clinical word; a name with
    digits for look-alike letters ("K0walczyk") whole."""
    match = _GLUED_NAME.search(tok.text)
    if match is None:
        text = tok.text
        if (
            _LOOKALIKE.fullmatch(text)
            and sum(c.isalpha() for c in text) >= 4
            and all(c in _LOOKALIKE_DIGITS for c in text if c.isdigit())
            and (text[:1].isupper() or (text[:1].isdigit() and text[1:2].islower()))
        ):
            for one in ("l", "i"):
                table = str.maketrans({**_LOOKALIKE_DIGITS, "1": one})
                if _word_class(_fold_lower(text.translate(table))) in (_NAME, _AMBIGUOUS):
                    return [(tok.start, tok.end)]
        return []
    group = 1 if match.group(1) else 2
    letters = match.group(group)
    if not letters[:1].isupper() or _word_class(_fold_lower(letters)) != _NAME:
        return []
    return [(tok.start + match.start(group), tok.start + match.end(group))]


_ABBREVIATION_GAP = re.compile(r"[ \t]*[:,]?[ \t]*")
_OPEN_PAREN = re.compile(r"[ \t]*\([ \t]*")


def _abbreviated_cue(text: str, prev: _Token, tok: _Token) -> bool:
    """Whether ``prev`` ends a relation abbreviated with a slash (the ``o`` of ``d/o``,
    ``s/o``, ``w/o``, ``c/o``) or is a credential written before a name (``RN``, ``NP``, the
    ``C`` of ``PA-C``) in front of ``tok``. ``w/o`` and ``c/o`` (also "without", "complains
    of") and the credentials only before a capitalised word that is no acronym."""
    if _ABBREVIATION_GAP.fullmatch(text, prev.end, tok.start) is None:
        return False  # "Scanned by Quimby RN. Lives at": a sentence ends between
    acronym = tok.upper and len(tok.text) <= 3
    given = tok.key in _KIN_GIVEN
    if tok.cls == _SAFE and not given:
        return False  # "c/o Tenderness", "s/o Fibroadenoma"
    if prev.key == "o" and prev.start >= 2:
        match = _SLASH_RELATION.match(text, prev.start - 2)
        if match is None or match.end() != prev.end:
            return False
        if match.group(1).lower() in "ds":
            return not acronym or given
        return tok.capitalised and not acronym  # "W/O ART": antiretroviral therapy
    if not prev.text.isupper() or (acronym and not given) or not tok.capitalised:
        return False
    return prev.key in _PREFIX_CREDENTIALS or (
        prev.key == "c" and text[max(prev.start - 3, 0) : prev.start].upper() == "PA-"
    )


#: what follows a first name that is also a verb used as one ("daughter rose to leave")
_VERB_PARTICLE = re.compile(r"[ \t]+(?:to|from|up|out|into|off|over|and\s+left)\b")
#: an adverb after a first name that is also a verb ("daughter rose slowly")
_ADVERB_AFTER = re.compile(r"[ \t]+([a-z]{3,}ly)\b")


def verb_follows(text: str, end: int) -> bool:
    """Whether a first name that is also a verb, ending at ``end``, is used as the verb: a
    particle (``rose to leave``) or an adverb that is no name (``rose slowly``) follows."""
    if _VERB_PARTICLE.match(text, end) is not None:
        return True
    adverb = _ADVERB_AFTER.match(text, end)
    return adverb is not None and _word_class(adverb.group(1)) == _SAFE


#: endings of verbs, adverbs, adjectives and abstract nouns (``hospitalised``, ``slowly``,
#: ``treated``): after a lower-case name only a word of a names list with one is a surname
_WORD_FORM_ENDING = re.compile(
    r"(?:ed|ly|ise|ize|ance|ence|ment|ness|tion|sion|ity|ism|ogy|egy|ics|ful|ous|ive|able)$"
)


def _after_lower_name(tokens: list[_Token], i: int, least: int) -> bool:
    """Token ``i`` may go on a lower-case name: a safe or ambiguous word of ``least`` or more
    letters, no stop, core, medical or relation word, after a word taken in small letters
    (``zelda plimsoll``, ``zelda plimsoll-smith``: the caller checks the gap and the cue)."""
    tok, before = tokens[i], tokens[i - 1]
    return (
        tok.cls in (_SAFE, _AMBIGUOUS)
        and len(tok.text) >= least
        and i >= 2
        and before.redact
        and before.kind == "word"
        and not before.capitalised
        and tok.key not in core_words()
        and tok.key not in medical_words()
        and tok.key not in _STOP
        and tok.key not in _NOT_A_NAME_PART
    )


def _strong_lower_cue(
    tokens: list[_Token], i: int, cue: Callable[[int], tuple[bool, bool]]
) -> bool:
    """A cue before token ``i`` that is a title, a relative's or role word or a slash
    relation, not a weak one (``and fallopian tubes``, ``of purkinje fibers``)."""
    if not cue(i)[0]:
        return False
    j = i - 1
    while j >= 0 and tokens[j].key in {"her", "his", "their", "the", "my", "a", "an", "our"}:
        j -= 1
    return j >= 0 and tokens[j].key not in _WEAK_CUES


def _lower_case_name(
    text: str, tokens: list[_Token], i: int, cue: Callable[[int], tuple[bool, bool]]
) -> bool:
    """Whether a lower-case word that is in no vocabulary is a name written in lower case:
    right after a title or a relation or role word ("Dr. mcallister", "her sister zelda"),
    or right after such a name ("her sister zelda plimsoll"). A weak cue ("by", "with")
    is not enough: after those an unknown word is more often a typo."""
    tok = tokens[i]
    if (
        tok.cls == _AMBIGUOUS
        and tok.key in _KIN_GIVEN
        and tok.key not in _STOP
        and i
        and tokens[i - 1].key in _FAMILY
        and text[tokens[i - 1].end : tok.start] in (" ", "\t")
        and not verb_follows(text, tok.end)
        and not (i + 1 < len(tokens) and (tok.key, tokens[i + 1].key) in _GIVEN_COMPOUNDS)
        # "son tom-tom drum": a word doubled with a dash is no name
        and text[tok.end : tok.end + 1 + len(tok.text)].lower() != "-" + tok.text.lower()
    ):
        return True  # "her daughter rose", "hija rosa": a first name right after a relative
    if (
        _after_lower_name(tokens, i, 4)
        and (tokens[i - 1].cls in (_NAME, _UNKNOWN) or tokens[i - 1].key in _KIN_GIVEN)
        and (tok.cls == _AMBIGUOUS or not _WORD_FORM_ENDING.search(tok.key))
        and text[tokens[i - 1].end : tok.start] == " "
        and _strong_lower_cue(tokens, i - 1, cue)
    ):
        return True  # "d/o zelda plimsoll": a rare word after a lower-case name after a cue
    if (
        _after_lower_name(tokens, i, 3)
        and text[tokens[i - 1].end : tok.start] == "-"
        and not _WORD_FORM_ENDING.search(tok.key)
        and not _CLINICAL_ENDING.search(tok.text.upper())  # "gastro-intestinal"
        and (
            _strong_lower_cue(tokens, i - 1, cue)
            or (
                tokens[i - 2].redact
                and not tokens[i - 2].capitalised
                and _strong_lower_cue(tokens, i - 2, cue)
            )
        )
    ):
        return True  # "s/o zelda plimsoll-smith": the second part of a dashed surname
    if (
        tok.cls not in (_NAME, _UNKNOWN)
        or len(tok.text) < 3
        or tok.key in _STOP
        or tok.key in medical_words()
        or tok.key in _NOT_A_NAME_PART
    ):
        return False
    if i and tokens[i - 1].redact and not tokens[i - 1].capitalised:
        return _JOIN.fullmatch(_gap(text, tokens[i - 1], tok)) is not None
    any_cue, strong = cue(i)
    if strong:
        return True
    j = i - 1
    while j >= 0 and tokens[j].key in {"her", "his", "their", "the", "my", "a", "an", "our"}:
        j -= 1
    return any_cue and j >= 0 and tokens[j].key not in _WEAK_CUES


#: surnames that name clinical things ("Cooper's ligaments", "Bloom-Richardson grade")
_EPONYMS = {"cooper", "paget", "bloom", "richardson", "ellis", "elston", "gail", "tyrer",
            "cuzick", "mondor", "poland", "cowden", "tanner", "scarff", "nottingham"}  # fmt: skip
_EPONYM_USE = re.compile(
    r"['’]s\b|-|\s+(?i:disease|grade|grading|model|score|ligaments?|classification|system"
    r"|modification|syndrome|index|criteria|risk|type|stage|method|scale)\b"
)


#: clinical words that an eponym names in a descriptor ("Gleason Score", "Bosniak Category")
_EPONYM_HEADS = re.compile(
    r"[ \t]+(?i:disease|grade|grading|score|classification|category|system|syndrome|index"
    r"|criteria|stage|staging|scale|lymphoma|sarcoma|tumou?r|sign|cyst|nephropathy|fracture"
    r"|view|projection|cells?|nodes?|ligaments?|lesion|type|stain|staining)(?![^\W\d_])"
)


#: eponyms of grades and classifications that are no eponyms.txt word (there a name beside
#: another in short text would no longer be a pair: ``Zelda Gleason``); a descriptor only
_DESCRIPTOR_EPONYMS = frozenset({"berger", "gleason", "bosniak"})
#: eponyms that name a disease or a grade alone ("BERGER": IgA nephropathy); a projection's
#: name alone ("Lawrence", "Pearson") is still read as a person's
_LONE_EPONYMS = frozenset({
    "berger", "hodgkin", "gleason", "bosniak", "crohn", "paget", "cushing", "addison",
    "graves", "hashimoto", "kaposi", "wilms", "burkitt", "ewing", "marfan", "raynaud",
    "mondor", "cowden", "sjogren", "wegener", "zenker", "kawasaki", "takayasu", "behcet",
    "buerger", "hirschsprung", "krukenberg", "dupuytren",
})  # fmt: skip


def _descriptor_eponym(text: str, tokens: list[_Token], index: int) -> bool:
    """Whether the eponym at ``index`` of a descriptor (short text with no other context)
    names a clinical thing: the whole value (``BERGER``), or a clinical head word right
    after it (``Gleason Score``, ``Hodgkin Lymphoma``); a title before it still makes it a
    name (``Dr Gleason``)."""
    if index and tokens[index - 1].key in _TITLES:
        return False
    if len(tokens) == 1:
        return tokens[index].key in _LONE_EPONYMS

    return _EPONYM_HEADS.match(text, tokens[index].end) is not None


def _eponym_as_name(text: str, tok: _Token, after_name: bool) -> bool:
    """Whether an eponym right after a first name is a surname ("Debbie Richardson") rather
    than a clinical term ("Bloom-Richardson grade", "Cooper's ligaments")."""
    if tok.key not in _EPONYMS or not after_name:
        return False
    if text[max(0, tok.start - 1) : tok.start] == "-":
        return False
    return _EPONYM_USE.match(text, tok.end) is None


def _particle_names(text: str, tokens: list[_Token], is_name: Callable[[_Token], bool]) -> None:
    """Name particles and the word on their far side: "Mercier de la Costa", "Jordán de
    Huerta", "van den Broek"."""
    core, medical = core_words(), medical_words()
    n = len(tokens)

    def name_like(t: _Token) -> bool:
        return (
            t.kind == "word"
            and t.capitalised
            and t.key not in core
            and t.key not in medical
            and t.key not in _NOT_A_NAME_PART
        )

    for i, tok in enumerate(tokens):
        if not is_name(tok):
            continue
        for step in (1, -1):
            j = i + step
            run: list[_Token] = []
            while (
                0 <= j < n
                and len(run) < 3
                and tokens[j].kind == "word"
                and tokens[j].key in _PARTICLES
            ):
                run.append(tokens[j])
                j += step
            if not run or not 0 <= j < n:
                continue
            chain = [tok, *run, tokens[j]]
            if all(
                _JOIN.fullmatch(_gap(text, a, b) if step > 0 else _gap(text, b, a))
                for a, b in itertools.pairwise(chain)
            ) and (name_like(tokens[j]) or is_name(tokens[j])):
                for t in (*run, tokens[j]):
                    t.redact = t.kind == "word" or t.redact


#: one-character clinical words that are also frequent characters of names (小林, 高橋,
#: 王小明, 陈左): beside an unknown CJK character they are taken as part of the name
_CJK_NAME_CHARACTERS = frozenset(
    w for w in _CJK_SAFE if len(w) == 1 and "\u4e00" <= w <= "\u9fff" and w not in "様氏殿君"
)


#: the clinical list's words by their first character, in the list's order (longest first)
_CJK_SAFE_BY_FIRST: dict[str, tuple[str, ...]] = {
    first: tuple(w for w in _CJK_SAFE if w[0] == first) for first in {w[0] for w in _CJK_SAFE}
}


def _cjk_safe_at(text: str, i: int) -> str | None:
    """The first word of the clinical list (longest first) that starts at ``text[i]``."""
    return next((w for w in _CJK_SAFE_BY_FIRST.get(text[i], ()) if text.startswith(w, i)), None)


def _cjk_unknown_at(text: str, i: int) -> bool:
    """Whether a CJK character outside the clinical list starts at ``text[i]``."""
    return i < len(text) and _CJK.match(text[i]) is not None and _cjk_safe_at(text, i) is None


def _cjk_names(tok: _Token) -> list[tuple[int, int]]:
    """Spans of a CJK / kana token outside the clinical list (whole unknown runs)."""
    text = tok.text
    spans: list[tuple[int, int]] = []
    i = 0
    start: int | None = None
    while i < len(text):
        if not _CJK.match(text[i]):
            if start is not None:
                spans.append((tok.start + start, tok.start + i))
                start = None
            i += 1
            continue
        safe = _cjk_safe_at(text, i)
        if safe in _CJK_NAME_CHARACTERS and (start is not None or _cjk_unknown_at(text, i + 1)):
            safe = None  # 小 in 王小明 or 小林, 高 in 高橋: part of the name
        if safe is not None:
            if start is not None:
                spans.append((tok.start + start, tok.start + i))
                start = None
            i += len(safe)
        else:
            if start is None:
                start = i
            i += 1
    if start is not None:
        spans.append((tok.start + start, tok.start + len(text)))
    return spans


# --------------------------------------------------------------------------- the scrubber
class _Text:
    """Text with protected placeholders: every replacement becomes a private-use token that
    later passes cannot match, resolved at the end."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.values: list[str] = []
        self.dates: set[int] = set()  # the placeholders of dates shifted or removed

    def token(self, value: str) -> str:
        self.values.append(value)
        return f"\ue000{chr(0xE100 + len(self.values) - 1)}\ue001"

    def date_token(self, value: str) -> str:
        self.dates.add(len(self.values))
        return self.token(value)

    def sub(self, pattern: re.Pattern[str], repl: str | Callable[[re.Match[str]], str]) -> None:
        if isinstance(repl, str):
            value = repl
            self.text = pattern.sub(lambda _: self.token(value), self.text)
        else:
            self.text = pattern.sub(lambda m: self.token(repl(m)), self.text)

    def replace_spans(self, spans: list[tuple[int, int]], value: str) -> None:
        if not spans:
            return
        out, last = [], 0
        for start, end in sorted(set(spans)):
            if start < last:
                continue
            out.append(self.text[last:start])
            out.append(self.token(value))
            last = end
        out.append(self.text[last:])
        self.text = "".join(out)

    def resolve(self) -> str:
        text = self.text
        # adjacent name placeholders become one
        values = self.values
        text = re.sub(
            "(\ue000.\ue001)(?:[ \t]*[,.\\-]?[ \t]*\ue000.\ue001)+",
            lambda m: (
                m.group(0)
                if not all(
                    values[ord(p) - 0xE100] == "[NAME]"
                    for p in re.findall("\ue000(.)\ue001", m.group(0))
                )
                else m.group(1)
            ),
            text,
        )
        for _ in range(3):  # placeholders inside placeholder values (labelled names)
            if "\ue000" not in text:
                break
            text = _PLACEHOLDER.sub(lambda m: values[ord(m.group(1)) - 0xE100], text)
        return text


def _labelled_id(work: _Text, pattern: re.Pattern[str], token: str) -> None:
    """Each id ``pattern`` (of :data:`_LABELLED_IDS`) finds, its label kept; digits it finds on
    the next line (:data:`_ID_NEXT_LINE`) go with it where the id and they hold six digits or
    more, and the id three or more (``Visit 12\n34 lesions`` keeps ``34``)."""

    def repl(match: re.Match[str]) -> str:
        kept = match.group(1) + match.group(2) + token
        rest = match.group("cont")
        if rest:
            value = match.string[match.end(2) : match.start("cont")]
            digits = sum(c.isdigit() for c in value)
            if digits < 3 or digits + sum(c.isdigit() for c in rest) < 6:
                return work.token(kept) + rest
        return work.token(kept)

    work.text = pattern.sub(repl, work.text)


def _phone(match: re.Match[str]) -> str:
    return "[PHONE]"


def _valid_phone(match: re.Match[str]) -> bool:
    return sum(c.isdigit() for c in match.group(0)) >= 7


def scrub_report_text(
    text: str | None,
    *,
    identifiers: Sequence[str | None],
    date_shift_days: int,
    replacements: Mapping[str, str] | None = None,
    remove_dates: bool = False,
    unknown_are_names: bool = True,
) -> str | None:
    """``text`` with identifiers removed and dates shifted (module doc); ``remove_dates=True``
    replaces dates by ``[DATE]`` instead of shifting them (for text that leaves the
    organisation, e.g. to an LLM service). ``unknown_are_names=False`` (short DICOM
    descriptors, full of product names such as "Voluson" or "Aplio") takes a capitalised
    word in no vocabulary for a name only in a name context (step 10's contexts, or a
    person name beside it).

    >>> scrub_report_text("MRN 12345678 seen 03/14/2021. Dictated by: Dr. Who",
    ...                   identifiers=["12345678"], date_shift_days=-10)
    'MRN [REDACTED] seen 03/04/2021. [SIGNATURE]'
    """
    if text is None:
        return None
    out = _scrub_report_text(
        text, identifiers, date_shift_days, replacements, remove_dates, unknown_are_names
    )
    return drop_odd_space_fragments(text, out) if not text.isascii() else out


_ODD_SPACED = re.compile(r"(?<=[^\W\d_]{2})(\s)([^\W\d_]+)")
_WORD_ENDS = r"(?![^\W\d_])"
_NAME_MARKS = r"\[(?:NAME|name|REDACTED)\]"


def drop_odd_space_fragments(raw: str, out: str) -> str:
    """``out`` (the scrub of ``raw``) without the rest of a removed name that an odd space
    (no-break, thin, figure space...) split off: a lower-case word in no vocabulary after
    such a space in ``raw`` that follows a name marker in ``out`` (``Sio<NBSP>bhanna`` ->
    ``[NAME] bhanna`` -> ``[NAME]``; ``Quimby<NBSP>called`` keeps ``called``).

    >>> drop_odd_space_fragments("Sio\u00a0bhanna called", "[NAME] bhanna called")
    '[NAME] called'
    """
    if raw.isascii() or "[" not in out:
        return out
    fragments = {
        m.group(2)
        for m in _ODD_SPACED.finditer(raw)
        if m.group(1) not in " \t\n\r\f\v"
        and unicodedata.category(m.group(1)) == "Zs"
        and m.group(2).islower()
        and _word_class(_fold_lower(m.group(2))) in (_NAME, _UNKNOWN)
    }
    for fragment in fragments:
        out = re.sub("(" + _NAME_MARKS + ")[ \t]" + re.escape(fragment) + _WORD_ENDS, r"\1", out)
    return out


def _shift_words(
    work: _Text,
    pattern: re.Pattern[str],
    shifted: Callable[[re.Match[str], int | None], str],
    shift: int | None,
) -> None:
    """Each date written in words that ``pattern`` finds, as ``shifted`` writes it (moved by
    ``shift`` days, in the same words; ``None``: removed), kept from later rules."""
    work.text = pattern.sub(
        lambda m: (
            m.group(0) if (found := shifted(m, shift)) == m.group(0) else work.date_token(found)
        ),
        work.text,
    )


def _scrub_report_text(
    text: str,
    identifiers: Sequence[str | None],
    date_shift_days: int,
    replacements: Mapping[str, str] | None,
    remove_dates: bool,
    unknown_are_names: bool,
) -> str:
    replacements = {k.strip().lower(): v for k, v in (replacements or {}).items() if k}
    work = _Text(normalise_text(text))  # as a reader sees it: no soft hyphens, no full-width
    if "\n" in work.text and ":" in work.text:
        work.sub(_SIGNATURE_LINES, _signature_lines)
    work.sub(_SIGNATURE, "[SIGNATURE]")
    if "[**" in work.text:  # a dictation system's marked identifier: "[** Known lastname 5678 **]"
        work.sub(_DICTATION_MARK, "[REDACTED]")
    if "[name]" in work.text:  # the header pre-pass's marker: its neighbours are name parts
        work.sub(_NAME_MARKER, "[name]")
    clean_ids = tuple(
        normalise_text(str(i)) for i in identifiers if i is not None and str(i).strip()
    )
    pattern = _identifier_pattern(clean_ids) if clean_ids else None
    if pattern is not None:
        work.sub(pattern, lambda m: replacements.get(m.group(0).lower(), "[REDACTED]"))
    if "/" in work.text or "\\" in work.text or "=" in work.text:
        # a user's or a patient's folder in a path, a person's name in a query string
        from cadbusi_assets.deid.shapes import person_folders_and_queries

        parts, last = [], 0
        for start, end, what in sorted(person_folders_and_queries(work.text)):
            if start >= last:
                parts += [work.text[last:start], work.token(f"[{what.upper()}]")]
                last = end
        if parts:
            work.text = "".join([*parts, work.text[last:]])
    if "_" in work.text:
        # "Quimbrell_19610303": a word in no vocabulary joined to a compact date by an
        # underscore is a name (the date goes as the other rules read it; glued with no
        # underscore, the whole run was already an id)
        from cadbusi_assets.deid.shapes import glued_word_dates

        text_now = work.text
        glued = [
            (a, b)
            for a, b, what in glued_word_dates(text_now)
            if what == "name" and text_now[b : b + 1] == "_"
        ]
        work.replace_spans(glued, "[NAME]")
    if "^" in work.text:
        work.sub(_CARET_NAME, "[NAME]")
    if "@" in work.text:
        work.sub(_EMAIL, "[EMAIL]")
        if " @" in work.text or "@ " in work.text or "\t@" in work.text or "@\t" in work.text:
            work.sub(_SPACED_EMAIL, "[EMAIL]")
    if "." in work.text:
        if _URL_HINT.search(work.text):
            work.sub(_URL, "[URL]")
        work.sub(
            _IPV4,
            lambda m: "[IP]" if all(int(p) <= 255 for p in m.group(0).split(".")) else m.group(0),
        )
    low = work.text.lower()
    words = set(_LETTER_RUN.findall(low))  # for the cheap checks of rarely used patterns
    if ("dot" in low or "at" in low) and _OBFUSCATION_HINT.search(work.text):
        work.sub(_OBFUSCATED_EMAIL, "[EMAIL]")
    if "::" in work.text or _MANY_COLONS.search(work.text):
        work.sub(_IPV6, lambda m: "[IP]" if _is_ipv6(m.group(0)) else m.group(0))
    digits = _DIGIT.search(work.text) is not None
    if digits:
        is_ssn = _spaced_ssns()
        work.text = _SSN.sub(lambda m: work.token("[SSN]") if is_ssn(m) else m.group(0), work.text)
        for labelled, token in _LABELLED_IDS[:-1]:
            _labelled_id(work, labelled, token)
        if not _EUROPEAN_ID_WORDS.isdisjoint(words):
            labelled, token = _LABELLED_IDS[-1]
            _labelled_id(work, labelled, token)
        # before the dates: a house number "10/12" is no month/day
        if any(w in low for w in _EUROPEAN_STREET_WORDS):
            work.sub(_EUROPEAN_STREET, "[ADDRESS]")
    if "ninet" in work.text.lower() or "hundred" in work.text.lower() or "enarian" in work.text:
        work.text = _OLD_AGE_WORDS.sub("90+", work.text)
    if not _ROMAN_AGES.isdisjoint(words) or ("c" in words and ("age" in words or "yo" in words)):
        work.text = _ROMAN_AGE.sub(_roman_age, work.text)
    if sum(low.count(w) for w in _DIGIT_WORDS) >= 7:
        work.sub(_SPELLED_NUMBER, "[PHONE]")
    shift = None if remove_dates else int(date_shift_days)
    if "of" in words and _OF_MONTH.search(work.text) is not None:
        _shift_words(work, _DAY_OF_MONTH, _day_of_month, shift)  # "the third of March"
    if "the" in words and not _MONTH_WORDS.isdisjoint(words):
        _shift_words(work, _MONTH_THE_DAY, _month_the_day, shift)  # "March the third"
    if not _WEEKDAY_HINTS.isdisjoint(words):
        _shift_words(work, _WEEKDAY_DAY, _weekday_day, shift)  # "Tuesday the 3rd"
    if "the" in words and not _CUE_WORDS.isdisjoint(words) and not _ORDINAL_ENDS.isdisjoint(words):
        _shift_words(work, _CUED_DAY, _weekday_day, shift)  # "on the 3rd."
    days = int(date_shift_days)
    work.text = _DATES.sub(
        lambda m: (
            work.date_token(found)
            if (found := _remove_match(m) if remove_dates else _shift_match(m, days)) != m.group(0)
            else work.token(found)
        ),
        work.text,
    )
    if not _FOREIGN_MONTH_WORDS.isdisjoint(words):
        work.text = _FOREIGN_DATES.sub(lambda _: work.date_token("[DATE]"), work.text)
    if work.dates and not (
        _WEEKDAY_HINTS.isdisjoint(words) and _FOREIGN_WEEKDAY_HINTS.isdisjoint(words)
    ):
        # "Tuesday 3 March 2024": the weekday of the date shifted no longer holds (and would
        # tell the shift), removed it tells the date's day: it goes (as in "Tuesday, March 3")
        work.text = _WEEKDAY_BEFORE_DATE.sub(
            lambda m: "" if ord(m.group(1)) - 0xE100 in work.dates else m.group(0), work.text
        )
        # "March 3, Tuesday", "3/3/2024 (Tue)": the same after the date
        work.text = _WEEKDAY_AFTER_DATE.sub(
            lambda m: m.group(0)[:3] if ord(m.group(1)) - 0xE100 in work.dates else m.group(0),
            work.text,
        )
    if not digits:
        _labelled_names(work, words)
        work.replace_spans(_names(work, unknown_are_names), "[NAME]")
        return work.resolve()
    work.text = _PHONES.sub(
        lambda m: work.token("[PHONE]") if _valid_phone(m) else m.group(0), work.text
    )
    work.text = re.sub(
        "(\ue000.\ue001)" + _EXTENSION,
        lambda m: (
            m.group(1) if work.values[ord(m.group(1)[1]) - 0xE100] == "[PHONE]" else m.group(0)
        ),
        work.text,
    )
    if not _PHONE_LABEL_WORDS.isdisjoint(words):
        work.text = _LABELLED_PHONE_MORE.sub(
            lambda m: work.token("[PHONE]") if _valid_phone(m) else m.group(0), work.text
        )
    if "ext" in work.text.lower():
        work.sub(_BARE_EXTENSION, "[PHONE]")
    if any(w in low for w in _PAGER_WORDS):
        work.sub(_PAGER, lambda m: m.group(1) + "[PHONE]")
    work.sub(_STREET, "[ADDRESS]")
    if not _PO_BOX_WORDS.isdisjoint(words):
        work.sub(_PO_BOX, "[ADDRESS]")
    if any(w in low for w in _LOWER_STREET_WORDS):
        work.text = _LOWER_STREET.sub(
            lambda m: work.token("[ADDRESS]") if _street_words(m.group(0)) else m.group(0),
            work.text,
        )
    work.text = _CUED_ADDRESS.sub(
        lambda m: m.group(0)[: m.start(1) - m.start()] + work.token("[ADDRESS]"), work.text
    )
    if not _ADDRESS_LABEL_WORDS.isdisjoint(words):
        work.text = _CUED_ADDRESS_MORE.sub(
            lambda m: m.group(0)[: m.start(1) - m.start()] + work.token("[ADDRESS]"), work.text
        )
    if _STATE_ZIP_HINT.search(work.text):
        work.sub(_CITY_STATE_ZIP, "[ADDRESS]")
    work.sub(_ZIP_LABEL, lambda m: m.group(1) + " [ADDRESS]")
    work.sub(_UK_POSTCODE, "[ADDRESS]")
    work.sub(_POSTCODE_TOWN, "[ADDRESS]")
    if "[ADDRESS]" in work.values:
        _address_lines(work)
    work.sub(_YEAR, "[YEAR]")  # after phones and addresses: "(029) 2018 0862" is a phone
    if _SIX_DIGITS.search(work.text):
        work.sub(_GLUED_DIGITS, "[ID]")
    work.text = _ID_RUN.sub(
        lambda m: work.token("[ID]") if _looks_like_id(m.group(0)) else m.group(0), work.text
    )
    if _NINETY.search(work.text):
        work.text = _OLD_AGE.sub("90+", work.text)
        if not _AGE_LABEL_WORDS.isdisjoint(words) or (
            "age" in words and any(h in low for h in _AGE_SEPARATORS)
        ):
            work.text = _LABELLED_OLD_AGE.sub(lambda m: m.group(1) + "90+", work.text)
    _labelled_names(work, words)
    work.replace_spans(_names(work, unknown_are_names), "[NAME]")
    return work.resolve()


#: a nickname in quotes or brackets between a first name and a surname (``Ottoline "Tilly"
#: Quimbrell``): group 1
_NICKNAME_GAP = re.compile(r"[ \t]+[\"'“‘(«]([^\W\d_]+)[\"'”’)»][ \t]+")


def _nicknames(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The nickname of :data:`_NICKNAME_GAP` between two name spans."""
    found: list[tuple[int, int]] = []
    ordered = sorted(spans)
    for (_, end), (start, _) in itertools.pairwise(ordered):
        if start - end > 40:
            continue
        gap = _NICKNAME_GAP.fullmatch(text, end, start)
        if gap is not None:
            found.append(gap.span(1))
    return found


def _names(work: _Text, unknown_are_names: bool) -> list[tuple[int, int]]:
    """The spans of names: :func:`_mark_names`, and in a tab-separated table the cells of a
    column whose header names a person (its header line itself kept)."""
    spans = _mark_names(work.text, work.values, unknown_are_names)
    if "-" in work.text:  # "rose plimsoll-candlewick": a double-barrelled name in small letters
        from cadbusi_assets.deid.shapes import lower_barrelled_names

        spans += lower_barrelled_names(work.text)
    if "." in work.text or "_" in work.text:  # "ottoline.quimbrell": a user name, no "@"
        from cadbusi_assets.deid.shapes import cued_initials, handle_names

        spans += handle_names(work.text)
        spans += cued_initials(work.text)  # "Reported: O.J.Q."
    # "copy to zfarthingale", "attn ojquimbrell": an initial glued to a surname after a cue
    from cadbusi_assets.deid.shapes import cued_user_names

    spans += cued_user_names(work.text)
    spans += _nicknames(work.text, spans)
    if "\n" not in work.text:
        return spans
    for separator in ("\t", ";"):
        if separator not in work.text:
            continue
        cells, headers = _table_names(work.text, separator)
        if headers:
            spans = [s for s in spans if not any(a <= s[0] < b for a, b in headers)]
        spans += cells
    return spans


#: header words of a table column that holds people's names
_NAME_COLUMN_WORDS = frozenset({
    "name", "names", "patient", "surname", "surnames", "forename", "forenames", "firstname",
    "lastname", "given", "first", "last", "family", "middle", "maiden", "contact", "contacts",
    "relative", "relatives", "kin", "nok", "radiologist", "physician", "doctor", "sonographer",
    "technologist", "tech", "nurse", "surgeon", "referrer", "referring", "consultant",
    "attending", "reader", "staff", "operator", "clinician", "provider", "gp", "pcp", "caller",
    "spouse", "partner", "mother", "father", "daughter", "son", "husband", "wife", "guardian",
    "carer", "caregiver", "signed", "signature", "performed", "reported", "dictated", "nombre",
    "nombres", "apellido", "apellidos", "nom", "prenom", "vorname", "nachname", "cognome",
    "nome", "naam", "achternaam", "voornaam", "imie", "nazwisko",
})  # fmt: skip
#: cell values of a name column that name no one
_NO_ONE = frozenset(
    ["n/a", "na", "none", "unknown", "self", "same", "nil", "patient", "pt", "not", "applicable"]
)


def _label_cell(cell: str, core: frozenset[str]) -> bool:
    words = _LETTER_RUN.findall(cell)
    if not words or len(words) > 4 or _DIGIT.search(cell) or "\ue000" in cell:
        return False
    return all(
        w.lower() in _NAME_COLUMN_WORDS or w.lower() in core or _word_class(_fold_lower(w)) == _SAFE
        for w in words
    )


def _table_names(
    text: str, separator: str = "\t"
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Tables (two lines or more with the same number of tabs, or of semicolons): when the
    first line is a header of labels (``Name<TAB>Relation<TAB>Phone``; with semicolons,
    every label capitalised: ``Name;Relation;Phone``), the capitalised
    words under a header that names a person (``Name``, ``Surname``, ``Radiologist``,
    ``Nombre``) are names, whatever they are as words (``Grace Hill``, ``Mark Long``).
    Returns (name spans, header line spans)."""
    core = core_words()
    lines = [(m.start(), m.group(0)) for m in re.finditer(r"[^\n]*", text)]
    lines = [(at, line) for at, line in lines if line or at == 0]
    names: list[tuple[int, int]] = []
    headers: list[tuple[int, int]] = []
    i = 0
    while i < len(lines):
        at, line = lines[i]
        count = line.count(separator)
        j = i + 1
        while j < len(lines) and count and lines[j][1].count(separator) == count:
            j += 1
        if not count or j - i < 2:
            i = max(j, i + 1)
            continue
        header = line.split(separator)
        labels = [c.strip() for c in header if c.strip()]
        if (
            labels
            and all(_label_cell(c, core) for c in labels)
            and (separator == "\t" or all(c[:1].isupper() for c in labels))
        ):
            headers.append((at, at + len(line)))
            columns = {
                k
                for k, c in enumerate(header)
                if any(w.lower() in _NAME_COLUMN_WORDS for w in _LETTER_RUN.findall(c))
            }
            for row_at, row in lines[i + 1 : j]:
                offset = row_at
                for k, cell in enumerate(row.split(separator)):
                    if k in columns and cell.strip().lower() not in _NO_ONE:
                        for w in _PLAIN_TOKEN.finditer(cell):
                            word = w.group(0)
                            if word[:1].isupper() and not _DIGIT.search(word):
                                names.append((offset + w.start(), offset + w.end()))
                    offset += len(cell) + 1
        i = j
    return names, headers


_TOWN_RUN = r"[^\W\d_a-z][\w'’\-]*\.?(?:[ \t]+[^\W\d_a-z][\w'’\-]*\.?){0,3}"
#: lines (or comma-separated parts) of capitalised words between two parts of an address
#: ("12 Rowan Close\nLittle Snoring\nNR21 0AB": the village between the street and the
#: postcode)
_ADDRESS_BETWEEN = re.compile(
    "\ue000(.)\ue001((?:[ \t]*[,\n][ \t]*"
    + _TOWN_RUN
    + "){1,3})(?=[ \t]*[,\n]?[ \t]*\ue000(.)\ue001)"
)
#: a line of capitalised words right after a street ("12 Rowan Close\nNorwich")
_ADDRESS_NEXT_LINE = re.compile(
    "\ue000(.)\ue001([ \t]*,?[ \t]*\n[ \t]*)(" + _TOWN_RUN + ")[ \t]*(?=\n|$)"
)
_TOWN_WORDS = re.compile(_TOWN_RUN)


def _address_lines(work: _Text) -> None:
    """The town lines of an address written over several lines or parts: capitalised words
    between two address parts, or a line after one with a word that is no common word."""
    medical = medical_words()

    def is_address(code: str) -> bool:
        return work.values[ord(code) - 0xE100] == "[ADDRESS]"

    def clinical(run: str) -> bool:
        return any(_fold_lower(w) in medical for w in _LETTER_RUN.findall(run))

    def between(m: re.Match[str]) -> str:
        if not (is_address(m.group(1)) and is_address(m.group(3))) or clinical(m.group(2)):
            return m.group(0)
        inner = _TOWN_WORDS.sub(lambda w: work.token("[ADDRESS]"), m.group(2))
        return m.group(0)[: m.start(2) - m.start()] + inner

    def next_line(m: re.Match[str]) -> str:
        run = m.group(3)
        words = _LETTER_RUN.findall(run)
        if (
            not is_address(m.group(1))
            or clinical(run)
            or all(_word_class(_fold_lower(w)) == _SAFE for w in words)
        ):
            return m.group(0)
        return m.group(0)[: m.start(3) - m.start()] + work.token("[ADDRESS]")

    work.text = _ADDRESS_BETWEEN.sub(between, work.text)
    if "\n" in work.text:
        work.text = _ADDRESS_NEXT_LINE.sub(next_line, work.text)


def _labelled_names(work: _Text, words: set[str]) -> None:
    work.sub(_LABELLED_NAME, lambda m: f"{m.group(1)}: [NAME]")
    if not _NAME_LABEL_WORDS.isdisjoint(words):
        work.sub(_LABELLED_NAME_MORE, lambda m: f"{m.group(1)}: [NAME]")


def _street_words(value: str) -> bool:
    """Whether the words between the number and the street type of a lower-case street are
    not all clinical or common ("1600 quillbrook avenue", not "2 masses near the road")."""
    words = _LETTER_RUN.findall(value)[:-1]
    return any(_word_class(_fold_lower(w)) != _SAFE for w in words)


def _is_ipv6(value: str) -> bool:
    """Not a time such as ``10:22:33``: a ``::``, five or more groups, or a hex letter."""
    return "::" in value or value.count(":") >= 4 or re.search(r"(?i)[a-f]", value) is not None


def _looks_like_id(value: str) -> bool:
    digits = sum(c.isdigit() for c in value)
    letters = sum(c.isalpha() for c in value)
    return digits >= 5 or (digits >= 4 and letters >= 1)


_STAFF_CREDENTIALS = {"MD", "DO", "PHD", "RN", "NP", "PA", "PA-C", "RT", "RDMS", "DR", "DR."}


def staff_name_parts(name: str | None) -> list[str]:
    """Name parts of a staff field such as ``"ADEBISI, MARCUS MD"`` or ``"ADEBISI^MARCUS"``
    (credentials and one-letter initials dropped).

    >>> staff_name_parts("ADEBISI, MARCUS MD")
    ['ADEBISI', 'MARCUS']
    """
    if not name:
        return []
    parts = [p.strip(".") for p in re.split(r"[\^,\s]+", name) if p.strip(".")]
    return [p for p in parts if len(p) >= 2 and p.upper() not in _STAFF_CREDENTIALS]


def scrub_reports(
    frame: pl.DataFrame,
    pseudonymizer: Any,
    patients: pl.DataFrame | None = None,
    *,
    columns: Sequence[str] = ("report_text",),
) -> pl.DataFrame:
    """``frame`` with each text column in ``columns`` scrubbed per row.

    Per row, the study's own identifiers are the row's ``patient_id`` (→ its pseudonym),
    ``accession_number`` (→ its pseudonym), ``specimen_accession`` / ``encounter_id`` and the
    name parts of ``radiologist`` (→ ``[REDACTED]``) and, when ``patients`` (``patient_id, patient_name``) is given, the parts
    of the patient's name; dates shift by the patient's ``date_shift_days``.

    The per-row work (identifier list and date arithmetic inside the text) needs Python, so
    this is one ``map_elements`` over a struct of the text and its row's identifiers; all
    table work around it stays in polars.
    """
    names = (
        patients.select("patient_id", pl.col("patient_name").alias("__name")).unique("patient_id")
        if patients is not None
        else pl.DataFrame(schema={"patient_id": pl.Utf8, "__name": pl.Utf8})
    )
    work = frame.with_row_index("__row").join(names, on="patient_id", how="left").sort("__row")
    id_columns = [c for c in ("radiologist",) if c in work.columns] + [
        c
        for c in ("patient_id", "accession_number", "specimen_accession", "encounter_id")
        if c in work.columns
    ]
    patient_ids = work.get_column("patient_id").drop_nulls().unique().to_list()
    shifts = {p: pseudonymizer.date_shift_days(p) for p in patient_ids}
    work = work.with_columns(
        pl.col("patient_id")
        .replace_strict(shifts, default=0, return_dtype=pl.Int64)
        .alias("__shift")
    )

    def scrub_row(row: dict[str, Any]) -> str | None:
        replacements: dict[str, str] = {}
        if row.get("patient_id"):
            replacements[row["patient_id"]] = pseudonymizer.patient_id(row["patient_id"])
        if row.get("accession_number"):
            replacements[row["accession_number"]] = pseudonymizer.accession_number(
                row["accession_number"]
            )
        identifiers = [row.get(c) for c in id_columns if c != "radiologist"] + [row.get("__name")]
        identifiers += staff_name_parts(row.get("radiologist"))
        return scrub_report_text(
            row["__text"],
            identifiers=identifiers,
            date_shift_days=row["__shift"],
            replacements=replacements,
        )

    scrubbed = []
    for column in columns:
        struct = pl.struct(pl.col(column).alias("__text"), *id_columns, "__name", "__shift")
        scrubbed.append(
            struct.map_elements(scrub_row, return_dtype=pl.Utf8, skip_nulls=False).alias(column)
        )
    return work.with_columns(scrubbed).select(frame.columns)
