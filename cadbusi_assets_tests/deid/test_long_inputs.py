"""Long adversarial inputs scrub in time linear in their length. A report, a DICOM text
element (LT holds 10 KB, UT any size) or a device field of 64 KB made of one repeated
piece took minutes: the time grew with the square of the length (a regular expression
tried from every character of a long run and read the run to its end each time, or a name
cue walked back over every "A" before it). One such value held up its file, its date or
the whole report query. Each case here took 60 s to several minutes before the fix; each
now has 30 s (about a second of work) and must still scrub what follows the long run.
Later rules' triggers join the same test (PHI round 11: ``ROUND_11``, round 12:
``ROUND_12``, round 13: ``ROUND_13``, round 14: ``ROUND_14``, round 15: ``ROUND_15``, round
16: ``ROUND_16``, round 17: ``ROUND_17``, round 18: ``ROUND_18``, round 21: ``ROUND_21``), so
that no new pattern brings the square back."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from cadbusi_assets.deid.engine import date_text_regex
from cadbusi_assets.deid.shapes import scrub_identifier_shapes
from cadbusi_assets.deid.text import (
    _PERSON_NAME,
    _person_names,
    scrub_descriptor_text,
    scrub_free_text,
)
from cadbusi_assets.records.scrub import scrub_report_text
from cadbusi_assets_tests.support import time_limit

LENGTH = 64_000
TAIL = "\nHer sister Zelda Plimsoll called from 555-0142."


def _report(text: str) -> str:
    return scrub_report_text(text, identifiers=["Jane Smith"], date_shift_days=-10) or ""


SCRUBBERS = {
    "report": _report,
    "free text": scrub_free_text,
    "descriptor": scrub_descriptor_text,
    "short text": lambda text: scrub_identifier_shapes(text, "text"),
    "station": lambda text: scrub_identifier_shapes(text, "station"),
    "station name": lambda text: scrub_identifier_shapes(text, "station name"),
}

#: (repeated piece, scrubber): each was quadratic before the fix
QUADRATIC = [
    ("1", "report"),  # digits glued to an underscore (_GLUED_DIGITS)
    ("A ", "report"),  # a name cue walking back over initials and articles
    ("A.", "report"),
    ("A, ", "report"),
    ("A1-", "report"),  # a street word ending "-ring" or "straße" (_STREET)
    ("A1-", "short text"),
    ("A1-", "station"),
    ("-", "free text"),  # a DICOM person name "SMITH^JANE" (deid.text)
    ("'", "descriptor"),
    ("_", "free text"),  # an e-mail address (deid.text)
    ("1", "descriptor"),
]
#: PHI round 11's rules (test_adversarial_phi_10): runs of their trigger characters, carets
#: (a word looked up per caret; a run of "a^" took 30 s in a first version), an SSN's digits
#: and dashes, a street's type word, initials, Devanagari cues, phone separators, name-like
#: words, role words and doubled words; followed by what those rules must still take
ROUND_11_TAIL = " sonographer zelda farthing 491-72-8154"
ROUND_11 = [
    "^", "a^", "a ^", "A^1 ", "^a ", "1-", "123-45-", "1–", "calle ", "calle a ", "ul. ",
    "A.", "A. ", "Abc, ", "Dr O. ", "O.J. ", "बेटी ", "पति  ", "+1/", "tel 1/ ", "1·",
    "Ottoline ", "sonographer zelda ", "tom-",
]  # fmt: skip
#: PHI round 12's rules (test_adversarial_phi_11): spaced digits and an SSN's groups, spaced
#: carets (a list looked up per caret made a run of "Ab ^ " take 6 s), one initial after "by"
#: or a title, station initials, greetings, particles, user names, labels, birth dates in
#: words, plural roles, small-letter dashed names, CJK staff words, signature lines, quoted
#: nicknames
ROUND_12_TAIL = " sonographers zelda farthing 491 72 8154"
ROUND_12 = [
    "491 72 ", "1 2 ", "Ab ^ ", "a ^ ", "by O ", "Dr O ", "O ", "OJ_", "Abcde_O ", "Hi Abcde ",
    "thanks ", "van der ", "a.b_", "user: ", "UR ", "DOB the third of ", "sonographers zelda ",
    "rose a-", "担当 ", "Ab ^a ", "Ab  ^  ", "VAN DER ", "BY O ",
]  # fmt: skip
ROUND_12_PROSE = [
    "March the ", "May the first ", "Dec the 3", "491 72 ", "Ab ^ ", "van der ", "a.b_",
    "Radiologist:\nAbc\n", 'Abc "Abc" ', "rose a-",
    "sonographers zelda ",
]  # fmt: skip
#: PHI round 13's rules (test_adversarial_phi_12): an SSN with two spaces or tabs, initials
#: after a surname (Cyrillic, spaced), quoted nicknames, three-letter first names (a role and
#: particles: "tech Ana de" took 42 s in a first version, a description looked for per word),
#: post office boxes and streets type first, day words before "of", cued user names, e-mails
#: with spaces around the "@", birth dates with the month first
ROUND_13_TAIL = " sonographers zelda farthing 491  72  8154"
ROUND_13 = [
    "491  72  ", "1  2  ", "1\t2\t", "491\t72\t", "Квимбрелл О. ", "Abc О.И. ", "Abcd O. J. ",
    "Zoë ", "Ana ", "Abc 'Abc' ", "Zelda 'Zee' ", "tech Ana de ", "tech Ana Quintavera ",
    "de la ", "BP 1 ", "BP 1, 12345 ", "Boîte postale ", "Via ", "Via dei ", "Via Abc ", "cc ",
    "copy to ", "cc abcdefg, ", "copy to zfarthingale ", "attn ", "a @ ", "a . a @ a . ",
    "a.a.", "born March 3, ", "Pt (ID ", "КВИМБРЕЛЛ ", "Абвг-Абвг О. ", "ZELDA 'ZEE' ",
    "Abc 'A' Abcd-", "tech Ana De ", "Casella postale n. ", "c.c. ", "c.c. abcdefg; ",
    "QUIMBRELL O. ",
]  # fmt: skip
ROUND_13_PROSE = [
    "491  72  ", "1\t2\t", "491  72  1234 a\n", "third of ", "the third of March ",
    "twenty-first of ", "copy to ", "attn ", "a @ ", "a . a @ a . ", "Квимбрелл О. ",
]  # fmt: skip
#: PHI round 14's rules (test_adversarial_phi_13): Greek given names' pairs, three-letter
#: first names in capitals, "VIA" in capitals, URLs with a path, cued dotted initials,
#: postcodes, phones with letters, underscored capitals in descriptors, "the Nth day of",
#: a month/day before a time, a month's dot
ROUND_14 = [
    "Ελένη ", "Ελένη Κουιμπρέλ ", "ΕΛΕΝΗ ", "Μαρία Αβγδ ", "ZOË ", "ANA ", "ZOË QUIMBRELLÉ ",
    "ABC ", "VIA ", "VIA ROMA ", "VIA ROMA 1 ", "VIA ROMA, ", "http://a.b/", "www.a/",
    "http://a.b/c ", "http://", "tech O.", "tech O.J.", "tech ", "Reported: ", "read by ",
    "SW1A ", "SW1A 2QQ ", "1234 AB ", "1234 AB Abcd ", "1-800-", "1-800-ABC ", "617-555-",
    "(800) ", "ОТДЕЛ А.", "A_", "ABCD_", "ABCD_EFGH_", "QUIMBRELL_OTTOLINE_", "A1A ", "A1A 1",
    "O.J.",
]  # fmt: skip
ROUND_14_PROSE = [
    "QUIMBRELL_", "ABCD_", "ABCD_EFGH_", "the 3rd of March. ", "10th day of ",
    "10th day of March ", "3rd day ", "03/03 ", "3/3 1", "03/03 14:22 ", "tech O.J.",
    "Reported: ", "http://a.b/", "1 day of ", "A.B.",
]  # fmt: skip
#: PHI round 15's rules (test_adversarial_phi_14): an id's digits on the next line, a weekday
#: before an ordinal day, "on the 3rd", a weekday before or after a shifted date
ROUND_15 = [
    "MRN 4815\n", "MRN 4815-\n", "MRN 1\n1", "MRN 4815 123 ", "MRN 4815 123\n", "4815\n",
    "MRN 48-\n1-", "\u2028",
]  # fmt: skip
ROUND_15_PROSE = [
    "MRN 1\n", "MRN 4815\n", "MRN 4815 12 ", "MRN 4815 12 \n", "MRN 4815-\n", "MRN 1 1 1\n",
    "MRN 4815 -\n1-", "Acc 12 12 12 12\n", "4815\n", "Tuesday ", "Tuesday the ",
    "Tuesday the 3rd ", "Tue, ", "on the ", "on the 3rd ", "scheduled for the ",
    "the 3rd of this ", "Monday 3 March 2024 ", "Tuesday, ", "Mon. ", "the 3rd of this month ",
    "March 3, Tuesday ", "3/3/2024 (Tue) ", "3/3/2024, ",
]  # fmt: skip
#: PHI round 16 (test_adversarial_phi_15): caseless scripts' names, Greek and Cyrillic given
#: names, mixed scripts, elided particles, a reader's form of short text, national phones
ROUND_16 = [
    "محمد ", "محمد كويمبرل ", "زيلدا ", "كويمبرل ", "דוד ", "דוד קווימברל ", "प्रिया ",
    "प्रिया क्विम्ब्रेल ", "Τζον ", "Τζον Κουιμπρέλ ", "Елена ", "Елена Квимбрелл ", "ЕЛЕНА ",
    "Zelda Κουιμπρέλ ", "Κουιμπρέλ Zelda ", "Abcd Абвг ", "Елена Abcd-", "Елена Abcd-Abcd ",
    "Ольга Абвг-", "مُحَمَّد ", "(030) 12 ", "06-12-", "\u05d0", "\u05d0 \u05d0 1 ", "US \u05d0",
    "\u05d0-", "Abcd d'", "Abcd d'Abcd ", "O'",
    "Ｚｅｌｄａ ", "\u200b", "e\u0308", "Z\u0435lda ", "\u0435", "06 12 ", "06 12 34 56 ",
    "(030) ", "(0", "01.23.", "Abcd \u05d0", "\u05d0 ",
]  # fmt: skip
ROUND_16_PROSE = [
    "Dienstag ", "Dienstag, 03.03.2024 ", "03.03.2024 (Dienstag) ", "3 марта ", "3 марта 2024 ",
    "вторник ", "Τρίτη 3/3/2024 ", "terça-feira, ", "Seen Tuesday, 03/03/2024 ", "3/3/2024 (Tue) ",
    "Dienstag, ", "3 Μαρτίου ",
]  # fmt: skip
#: PHI round 17 (test_adversarial_phi_16): records in short text (HL7 segments, a key's quotes
#: or ``>``, carets between delimiters, a DICOM dump's line: a run of "(0010,0020) LO [" read
#: to the end from every bracket took 2.5 s in a first version), an id's digits after a blank
#: line
ROUND_17 = [
    "PID|", "PID|1|", "|", "NK1|PID|", '"mrn": "', '"mrn":', 'mrn"', "mrn'", "<PatientID>",
    "<PatientID>1", "a^b;", "a^", ";a^", "=A^B", "A^B|", "(0010,0020) ", "(0010,0020) LO ",
    "(0010,0020) LO [", "(0010,0020) Patient ID ", "(0010,0020) Patient ID LO: '",
    "(0010,0020) a ", "(0010,", "MRN 4815\n\n", "MRN 4815\n\n\n", "\n\n", "MRN 1\n\n1", " \n",
    "MRN 4815\n \n", "4815\n\n",
]  # fmt: skip
ROUND_17_PROSE = [
    "MRN 4815\n\n", "MRN 4815\n \n", "MRN 4815-\n\n", "MRN 1\n\n1\n\n", "\n\n1623",
    "MRN 4815\r\n\r\n", "Acc 12 12 12 12\n\n", "4815\n\n", "MRN 4815 12 \n\n",
]  # fmt: skip
#: PHI round 18 (test_adversarial_phi_17): a word glued to a date, a DT's date, a range, an
#: ISO week, a CSV row, a query string's name or id, a person's folder in a path, a number
#: after "#" beside a name
ROUND_18 = [
    "QUIMBRELL", "Quimbrell_", "a19610303", "QUIMBRELL19610303", "A_19610303", "20240301101010",
    "20240301101010.", "20240301101010.1", "20240301-", "20240301-20240305", "2024-W09-",
    "2024-W", "2024W09", ",", "a,", "4815162,", "4815162,Abcd,", "1961-03-03,", ", ",
    "Abcd,Abcd,4815162,1961-03-03\n", "?name=", "?name=a", "?name=a+", "?name=%20", "&name=",
    "=", "?id=", "?id=1234567", "&", "/home/", "/users/", "/patients/", "\\Users\\", "/home/a",
    "/patients/a/", "/patients/a/1234567", "/", "\\", "ABCD_EFGH_", "ABCD_EFGH_1234567",
    "_1234567", "#", "#1234567", "Abcd #1234567 ", "Dr Abcd #",
]  # fmt: skip
#: round 21: a CJK relative glued to the relative's word, names written backwards
ROUND_21 = [
    "姉",
    "姉経",
    "姉経駆須乙鈴",
    "妹妹",
    "父亲李大明陪同",
    "언니",
    "언니김영희",
    "adleZ ",
    "石久",
]
#: (piece, scrubber, tail, what must be gone after the run)
CASES = (
    [(p, k, TAIL, "0142") for p, k in QUADRATIC]
    + [
        (p, k, ROUND_11_TAIL, "8154")
        for p in ROUND_11
        for k in ("short text", "station", "station name")
    ]
    + [
        (p, k, ROUND_11_TAIL, "8154")
        for p in ("^", "1-", "Ottoline ", "A. ", "sonographer zelda ")
        for k in ("descriptor", "report")
    ]
    + [
        (p, k, ROUND_12_TAIL, "8154")
        for p in ROUND_12
        for k in ("short text", "station", "station name")
    ]
    + [(p, k, ROUND_12_TAIL, "8154") for p in ROUND_12_PROSE for k in ("descriptor", "report")]
    + [
        (p, k, ROUND_13_TAIL, "8154")
        for p in ROUND_13
        for k in ("short text", "station", "station name")
    ]
    # (a blank line first: an SSN with two spaces on a line beside a table's row stays)
    + [
        (p, k, "\n\n" + ROUND_13_TAIL, "8154")
        for p in ROUND_13_PROSE
        for k in ("descriptor", "report")
    ]
    + [
        (p, k, ROUND_13_TAIL, "8154")
        for p in ROUND_14
        for k in ("short text", "station", "station name")
    ]
    + [
        (p, k, "\n\n" + ROUND_13_TAIL, "8154")
        for p in ROUND_14_PROSE
        for k in ("descriptor", "report")
    ]
    + [
        (p, k, ROUND_13_TAIL, "8154")
        for p in ROUND_15
        for k in ("short text", "station", "station name")
    ]
    + [
        (p, k, "\n\n" + ROUND_13_TAIL, "8154")
        for p in ROUND_15_PROSE
        for k in ("descriptor", "report")
    ]
    + [
        (p, k, ROUND_13_TAIL, "8154")
        for p in ROUND_16
        for k in ("short text", "station", "station name")
    ]
    + [
        (p, k, "\n\n" + ROUND_13_TAIL, "8154")
        for p in ROUND_16_PROSE
        for k in ("descriptor", "report", "free text")
    ]
    + [
        (p, k, ROUND_13_TAIL, "8154")
        for p in ROUND_17
        for k in ("short text", "station", "station name")
    ]
    + [
        (p, k, "\n\n" + ROUND_13_TAIL, "8154")
        for p in ROUND_17_PROSE
        for k in ("descriptor", "report", "free text")
    ]
    + [
        (p, k, ROUND_13_TAIL, "8154")
        for p in ROUND_18
        for k in ("short text", "station", "station name")
    ]
    + [(p, k, "\n\n" + ROUND_13_TAIL, "8154") for p in ROUND_18 for k in ("descriptor", "report")]
    + [
        (p, k, ROUND_13_TAIL, "8154")
        for p in ROUND_21
        for k in ("short text", "station", "station name")
    ]
)


@pytest.mark.parametrize("piece", ROUND_21)
def test_round_21s_relatives_and_backwards_names_are_found_in_linear_time(piece):
    """:func:`~cadbusi_assets.deid.shapes.relatives_named` (a header's free text) and the
    reading of every word backwards (:func:`~cadbusi_assets.deid.scan.
    backwards_identifiers_turned`) on a long run."""
    from cadbusi_assets.deid.identifiers import OriginalIdentifiers
    from cadbusi_assets.deid.scan import backwards_identifiers_turned
    from cadbusi_assets.deid.shapes import relatives_named

    ids = OriginalIdentifiers(patient_names=("Plimsoll^Zelda=久石^是留田",))
    text = piece * (LENGTH // len(piece)) + " 姉経駆須乙鈴 llosmilP"
    with time_limit(30, f"reading {LENGTH} characters of {piece!r}"):
        named = relatives_named(text)
        turned = backwards_identifiers_turned(text, ids)
    assert "経駆須" in named
    assert turned.endswith("Plimsoll")


@pytest.mark.parametrize(
    ("piece", "kind", "tail", "gone"), CASES, ids=[f"{k}-{p!r}" for p, k, _, _ in CASES]
)
def test_a_long_repeated_input_is_scrubbed_in_linear_time(piece, kind, tail, gone):
    text = piece * (LENGTH // len(piece)) + tail
    with time_limit(30, f"scrubbing {LENGTH} characters of {piece!r} ({kind})"):
        out = SCRUBBERS[kind](text)
    assert gone not in out
    if tail == TAIL and kind not in ("short text", "station"):  # shapes: names are another pass's
        assert "Plimsoll" not in out and "Zelda" not in out


def test_the_linear_person_name_pass_matches_the_pattern_everywhere():
    """:func:`_person_names` replaces ``_PERSON_NAME.sub``: the same output on 200,000
    random strings of letters, apostrophes, hyphens, carets and their neighbours."""
    rng = random.Random(0)
    alphabet = list("aZ'-^^ 1_é.")
    for _ in range(200_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
        assert _person_names(text, "[name]") == _PERSON_NAME.sub("[name]", text), text


@pytest.mark.parametrize("piece", ["20170302", "2017030210", "201703021", "20170302172457.", "1"])
def test_the_headers_own_dates_are_found_in_linear_time(piece):
    """The header's own dates in a kept text value (PHI round 17: also before a DT's time)."""
    regex = date_text_regex(frozenset({dt.date(2017, 3, 2)}))
    assert regex is not None
    text = piece * (LENGTH // len(piece)) + " scanned 20170302101010"
    with time_limit(30, f"finding dates in {LENGTH} characters of {piece!r}"):
        out = regex.sub("[date]", text)
    assert out.endswith(" scanned [date]101010")
