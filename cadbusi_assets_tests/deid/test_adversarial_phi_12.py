"""Adversarial PHI tests, thirteenth round: the twelfth round's known gaps, then inputs of
shapes no earlier round sent (names split across a line break, names in parentheses after a
role, names in capitals in prose, apostrophes and hyphens in Latin, Cyrillic and Greek,
phones and e-mails written in words, MRNs in parentheses, birth dates with two-digit years,
relatives after a possessive, Greek names in each place, a flat's number before the street).

1. an SSN with two spaces or a tab between its groups (``491  72  8154``; a valid number
   standing alone: no digit a space or two before or after it, and in a report no line
   beside it holding numbers in columns, so a spaced table of numbers stays);
2. two Cyrillic initials after a surname (``Квимбрелл О.И.``, ``Квимбрелл О. И.``) and Latin
   initials with a space between them (``Quimbrell O. J.``) in short text;
3. a nickname in quotes between the two parts of a name in short text (``Zelda 'Zee'
   Farthingale``);
4. a three-letter first name of a names list before a name-like surname (``Zoë
   Quimbrellé``), or after a role with particles (``tech Ana de la Quintavera``); not in a
   description (``San Clemente goat breed``), not a particle (``Van Rosen projection``);
5. French and Italian post office boxes and streets in short text (``Boîte postale 4815``,
   ``Casella postale``, ``Via Roma 12``, ``Via dei Mille 5``; ``BP`` only before a postcode
   and a town: alone it is a blood pressure);
6. a day word before "of" and its month in a report (``the third of March 2024``, ``third of
   March``): shifted with the month in the same words (the month alone moved before, the
   day stayed);
7. a user name of an initial glued to a surname after a cue (``copy to zfarthingale``,
   ``cc: ojquimbrell``, ``attn``, ``dictated by``, a role word).

All names, numbers and dates are invented (phones 555-01xx).
"""

from __future__ import annotations

import pytest

from cadbusi_assets.deid import shapes
from cadbusi_assets.deid.shapes import scrub_identifier_shapes
from cadbusi_assets.records.scrub import scrub_report_text
from cadbusi_assets_tests.deid.phi_support import command_attacks, dicom_code_meanings
from cadbusi_assets_tests.deid.phi_support import leaked as _leaked
from cadbusi_assets_tests.deid.phi_support import through_channel as _run

R, D, C = "report", "desc", "cm"
T, S, IC = "hdr:TransducerData", "hdr:StationName", "hdr:ImageComments"


def _report(text: str, days: int = -17) -> str:
    return scrub_report_text(text, identifiers=("Kowalczyk^Agnieszka",), date_shift_days=days) or ""


# ------------------------------------------------------ the twelfth round's known gaps
ROUND_12_GAPS: list[tuple[str, str, tuple[str, ...]]] = [
    (T, "491  72  8154", ("8154",)),
    (T, "491\t72\t8154", ("8154",)),
    (C, "491  72  8154", ("8154",)),
    (R, "Patient 491  72  8154 seen today.", ("8154",)),
    (R, "Number on file: 491\t72\t8154", ("8154",)),
    (IC, "491  72  8154", ("8154",)),
    (T, "Квимбрелл О.И.", ("квимбрелл",)),
    (T, "Квимбрелл О. И.", ("квимбрелл",)),
    (C, "врач Квимбрелл О.И.", ("квимбрелл",)),
    (T, "Quimbrell O. J.", ("quimbrell",)),
    (R, "Discussed with Quimbrell O.J. today.", ("quimbrell",)),
    (T, "Zelda 'Zee' Farthingale", ("zelda", "zee", "farthingale")),
    (T, 'Zelda "Zee" Farthingale', ("zelda", "zee", "farthingale")),
    (C, "Ottoline (Tilly) Quimbrell", ("ottoline", "tilly", "quimbrell")),
    (T, "Zoë Quimbrellé", ("zoë", "quimbrellé")),
    (T, "tech Ana de la Quintavera", ("ana", "quintavera")),
    (C, "sonographer Zoë Quimbrellé", ("zoë", "quimbrellé")),
    (T, "Boîte postale 4815", ("4815",)),
    (T, "BP 4815, 75001 Quimbrelle", ("4815", "quimbrelle")),
    (T, "Via Roma 12", ("roma 12",)),
    (T, "Via dei Mille 5", ("mille",)),
    (C, "Piazza Quimbrella 3", ("quimbrella",)),
    (T, "Rue Farthingale 12", ("farthingale",)),
    (T, "Casella postale 4815", ("4815",)),
    (R, "Seen on the third of March 2024.", ("third", "march")),
    (R, "Seen on the third of March.", ("third", "march")),
    (IC, "Biopsy the Twenty-First of June 2024", ("twenty-first", "june")),
    (T, "copy to zfarthingale", ("zfarthingale",)),
    (T, "cc: ojquimbrell", ("ojquimbrell",)),
    (R, "Copy to zfarthingale (internal mail).", ("zfarthingale",)),
    (R, "attn ojquimbrell", ("ojquimbrell",)),
    (IC, "dictated by zfarthingale", ("zfarthingale",)),
    (T, "sonographer zfarthingale", ("zfarthingale",)),
]


@pytest.mark.parametrize(("channel", "text", "secrets"), ROUND_12_GAPS)
def test_the_round_12_gaps_are_closed(channel, text, secrets, pseudonymizer):
    assert _leaked(_run(channel, text, pseudonymizer), secrets) == []


def test_an_ssn_with_two_spaces_is_a_valid_one_standing_alone():
    """``491  72  8154`` and ``491<TAB>72<TAB>8154`` are taken; an invalid number, mixed gaps,
    a digit a space or two before or after it, and a row of a spaced table stay."""
    for text in ("491  72  8154", "491\t72\t8154"):
        assert scrub_identifier_shapes(text) == "[id]"
        assert scrub_identifier_shapes(text, "station") == "[id]"
        assert scrub_identifier_shapes(text, "serial") == text
        assert _report(f"Noted {text} today.") == "Noted [SSN] today."
    for text in ("000  12  3456", "666  12  3456", "912  34  5678", "491  00  8154",
                 "491  72  0000", "12  491  72  8154", "491  72  8154  12", "491  72 8154",
                 "491 72  8154", "491\t72  8154", "1\t491\t72\t8154", "491\t72\t8154\t3"):  # fmt: skip
        assert scrub_identifier_shapes(text) == text, text
        assert "[SSN]" not in _report(f"Values {text} noted."), text
    table = "Size  12  45  67\nSize  491  72  8154\nSize  10  20  30"
    assert _report(table) == table
    assert _report("Table:\nA\t1\t2\nB\t491\t72\t8154") == "Table:\nA\t1\t2\nB\t491\t72\t8154"
    assert _report("Note\n491  72  8154\nend") == "Note\n[SSN]\nend"


def test_initials_after_a_surname():
    assert scrub_identifier_shapes("Квимбрелл О.И.") == "[name]"
    assert scrub_identifier_shapes("Квимбрелл О. И.") == "[name]"
    assert scrub_identifier_shapes("Квимбрелл, О.И.") == "[name]"
    assert scrub_identifier_shapes("Quimbrell O. J.") == "[name]"
    # one Cyrillic initial, a small first letter, an English word with Latin initials stay
    for text in ("Квимбрелл О.", "квимбрелл О.И.", "Figure A. B.", "Table O. J.", "Grade A. B."):
        assert scrub_identifier_shapes(text) == text
    assert _report("Reviewed with Quimbrell O. J. today.") == "Reviewed with [NAME]. today."


def test_a_nickname_in_quotes_in_short_text():
    assert scrub_identifier_shapes("Zelda 'Zee' Farthingale") == "[name]"
    assert scrub_identifier_shapes("Zoë “Zee” Quimbrellé") == "[name]"
    for text in ("Doppler 'Color' Mode", "Left 'Upper' Quadrant", "Mass 'A' Biopsy",
                 "Zelda 'Zee' Breast"):  # fmt: skip
        assert scrub_identifier_shapes(text) == text


def test_a_three_letter_first_name():
    assert scrub_identifier_shapes("Zoë Quimbrellé") == "[name]"
    assert scrub_identifier_shapes("tech Ana de la Quintavera") == "tech [name]"
    assert scrub_identifier_shapes("tech Zoë Quimbrellé") == "tech [name]"
    for text in ("Van Rosen projection", "San Clemente goat breed", "Max Dose", "Tom Thumb",
                 "Ana Breast", "tech Ana present", "Eva Mode", "Zoë Quimbrellé goat breed"):  # fmt: skip
        assert scrub_identifier_shapes(text) == text, text


def test_french_and_italian_addresses_in_short_text():
    for text in ("Boîte postale 4815", "Casella postale 4815", "Via Roma 12", "Via dei Mille 5",
                 "BP 4815, 75001 Quimbrelle"):  # fmt: skip
        assert scrub_identifier_shapes(text) == "[address]", text
    # a blood pressure, a route, a small "via", a box of no number
    for text in ("BP 123", "BP 120/80", "via catheter 2", "Via catheter", "boîte postale",
                 "BP 4815 mmHg"):  # fmt: skip
        assert scrub_identifier_shapes(text) == text, text


def test_a_day_word_before_of_and_its_month_is_shifted_in_words():
    assert _report("Seen on the third of March 2024.", -17) == (
        "Seen on the fifteenth of February 2024."
    )
    assert _report("Seen on the third of March.", 10) == "Seen on the thirteenth of March."
    assert _report("the Twenty-First of June, 2024", -20) == "the First of June, 2024"
    assert _report("on the first of May.", -17) == "on the fourteenth of April."
    removed = scrub_report_text(
        "on the third of March 2024", identifiers=(), date_shift_days=0, remove_dates=True
    )
    assert removed == "on the [DATE]"
    # May with no year before a small word, a lower-case month, no day word
    for text in ("the first of May be given", "the third of march", "a second of thought",
                 "one of March's reports"):  # fmt: skip
        assert _report(text) == text


def test_a_glued_initial_after_a_cue():
    for text in ("copy to zfarthingale", "cc zfarthingale", "cc: ojquimbrell", "attn ojquimbrell",
                 "dictated by zfarthingale", "read by zfarthingale", "tech ojquimbrell"):  # fmt: skip
        cue = text.rsplit(" ", 1)[0]
        assert scrub_identifier_shapes(text) == f"{cue} [name]", text
    for text in ("copy to radiology", "cc saline", "5 cc heparin", "attn reception",
                 "read by technologist", "copy to patient", "tech ultrasound"):  # fmt: skip
        assert scrub_identifier_shapes(text) == text, text


def test_the_new_rules_take_no_dicom_code_meaning():
    """pydicom's 18,495 code meanings (as written and in capitals): none holds an SSN with
    two spaces, Cyrillic or spaced initials after a surname, a quoted nickname, a short first
    name's pair, a post office box or street type first, or a cued user name."""
    meanings = dicom_code_meanings()
    for m in meanings:
        for text in (m, m.upper()):
            assert not shapes._SSN.search(text), text
            assert not shapes._CYRILLIC_INITIALLED.search(text), text
            assert not shapes._nicknamed_names(text), text
            assert not shapes._short_first_pairs(text), text
            assert not shapes._PO_BOX_MORE.search(text), text
            assert not shapes.cued_user_names(text), text


# ------------------------------------------------------------- the round-13 adversary
#: (kind, channel, text, secrets): the kind names what the input tries
# fmt: off
ADVERSARY: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("line break", R, "Seen with her daughter Ottoline\nQuimbrell today.", ("ottoline", "quimbrell")),
    ("line break", R, "Reported by Dr Zelda\nFarthingale, consultant.", ("farthingale",)),
    ("line break", IC, "sonographer Zelda\nFarthingale", ("zelda", "farthingale")),
    ("line break", R, "Seen by Dr\nQuimbrell", ("quimbrell",)),
    ("parentheses", T, "(tech: Zelda F.)", ("zelda",)),
    ("parentheses", R, "Images reviewed (tech: Zelda F.) and reported.", ("zelda",)),
    ("parentheses", IC, "(sonographer: Ottoline Quimbrell)", ("ottoline", "quimbrell")),
    ("parentheses", T, "(nurse Ottoline Quimbrell)", ("ottoline", "quimbrell")),
    ("capitals", R, "Discussed with OTTOLINE QUIMBRELL at the clinic.", ("ottoline", "quimbrell")),
    ("capitals", R, "HER SISTER ZELDA FARTHINGALE ACCOMPANIED HER.", ("zelda", "farthingale")),
    ("capitals", T, "SONOGRAPHER ZELDA FARTHINGALE", ("zelda", "farthingale")),
    ("capitals", IC, "REFERRED BY DR OTTOLINE QUIMBRELL", ("ottoline", "quimbrell")),
    ("capitals", D, "US BREAST ZELDA FARTHINGALE", ("zelda", "farthingale")),
    ("apostrophe", R, "Her husband Seamus O'Quimbrell-Farthing attended.", ("quimbrell", "farthing")),
    ("apostrophe", T, "tech D'Arcy Quimbrell-Plimsoll", ("quimbrell", "plimsoll")),
    ("apostrophe", R, "Врач: Анна-Мария Квимбрелл-Фартинг.", ("квимбрелл", "фартинг")),
    ("apostrophe", IC, "дочь Д'Арси Квимбрелл", ("квимбрелл",)),
    ("apostrophe", R, "Ιατρός: Ζέλντα Κουιμπρέλ-Φαρθινγκ", ("κουιμπρέλ", "φαρθινγκ")),
    ("phone words", R, "Call plus forty-four, seven seven zero zero, nine zero zero one two three.",
     ("nine zero zero",)),
    ("phone words", IC, "phone plus one five five five zero one four two", ("five five five",)),
    ("phone words", T, "tel +44 (0) 7700 900123", ("900123",)),
    ("phone words", R, "Mobile: +33 6 12 34 56 78.", ("12 34 56 78",)),
    ("email words", R, "Email zelda at farthingale dot org for results.", ("farthingale",)),
    ("email words", T, "zelda @ farthingale.org", ("farthingale",)),
    ("email words", IC, "contact: ottoline . quimbrell @ example . com", ("quimbrell",)),
    ("email words", R, "Send to zelda(at)farthingale(dot)org.", ("farthingale",)),
    ("mrn", R, "Seen today (MRN 48151623).", ("48151623",)),
    ("mrn", T, "(MRN: 48151623)", ("48151623",)),
    ("mrn", IC, "Prior study (hosp no 4815162) reviewed.", ("4815162",)),
    ("mrn", T, "Pt (ID 48151623)", ("48151623",)),
    ("birth date", R, "She was born on 3/4/61 in the city.", ("3/4/61",)),
    ("birth date", T, "DOB 03-04-61", ("03-04-61",)),
    ("birth date", IC, "born 3 Mar 61", ("3 mar 61",)),
    ("birth date", R, "Date of birth 04.03.61.", ("04.03.61",)),
    ("birth date", T, "born March 3, '61", ("march 3",)),
    ("possessive", R, "Her sister's friend Ottoline drove her.", ("ottoline",)),
    ("possessive", R, "Accompanied by her mother's neighbour Zelda Farthingale.",
     ("zelda", "farthingale")),
    ("possessive", T, "daughter's partner Ottoline Quimbrell", ("ottoline", "quimbrell")),
    ("possessive", IC, "her husband's cousin Bartholomew", ("bartholomew",)),
    ("greek", R, "Η ασθενής συνοδευόταν από την κόρη της Ζέλντα Κουιμπρέλ.", ("ζέλντα", "κουιμπρέλ")),
    ("greek", T, "Ζέλντα Κουιμπρέλ", ("ζέλντα", "κουιμπρέλ")),
    ("greek", S, "ΚΟΥΙΜΠΡΕΛ", ("κουιμπρελ",)),
    ("greek", D, "ΥΠΕΡΗΧΟΣ ΜΑΣΤΟΥ Ζέλντα Κουιμπρέλ", ("ζέλντα", "κουιμπρέλ")),
    ("greek", IC, "Ιατρός: Ζ. Κουιμπρέλ", ("κουιμπρέλ",)),
    ("flat first", R, "Lives at Apt 4B, 12 Quimbrell Lane, Farthingville.", ("quimbrell lane",)),
    ("flat first", T, "Apt 4B, 12 Quimbrell Lane", ("quimbrell lane",)),
    ("flat first", IC, "Flat 3, 27 Plimsoll Road", ("plimsoll road",)),
    ("flat first", T, "Unit 7/15 Farthing Street", ("farthing street",)),
    ("flat first", R, "Address: Suite 200, 48 Quimbrell Avenue", ("quimbrell avenue",)),
    ("glued initial", T, "cc ozquimbrell, zfarthingale", ("ozquimbrell", "zfarthingale")),
    ("glued initial", R, "Dictated by zfarthingale, typed by ojquimbrell.",
     ("zfarthingale", "ojquimbrell")),
    ("ssn", R, "SSN-like 491\t72\t8154 on the form.", ("8154",)),
    ("ssn", IC, "Social  491  72  8154", ("8154",)),
    ("initials", R, "Консультация: Квимбрелл О. И., Фартинг З. А.", ("квимбрелл", "фартинг")),
    ("date words", R, "Biopsy on the twenty-first of June.", ("twenty-first",)),
    ("date words", IC, "the Fifth of November 2024", ("fifth of november",)),
    ("nickname", T, "Ottoline (Tilly) Quimbrell", ("ottoline", "tilly", "quimbrell")),
    ("nickname", C, "Zelda “Zee” Farthingale", ("zelda", "zee", "farthingale")),
    ("address", T, "Via Garibaldi 12, scala B", ("garibaldi",)),
    ("address", T, "Boîte postale 4815, 75001 Quimbrelle", ("4815",)),
]
# fmt: on

#: inputs of the batch that leaked here, asserted as they come out: two title-case Greek words
#: in short text were kept (no Greek vocabulary tells a name from a clinical pair in title case:
#: ``Υπερηχογράφημα Μαστού``, "breast ultrasound"); since round 16
#: (``test_adversarial_phi_15.py``) a foreign given name in Greek spelling marks the pair
KNOWN_LEAKS: dict[str, str] = {
    "Ζέλντα Κουιμπρέλ": "[name]",
}


@pytest.mark.parametrize(
    ("kind", "channel", "text", "secrets"),
    [a for a in ADVERSARY if a[2] not in KNOWN_LEAKS],
    ids=[f"{a[0]}-{a[1]}-{i}" for i, a in enumerate(ADVERSARY) if a[2] not in KNOWN_LEAKS],
)
def test_no_round_13_input_leaks(kind, channel, text, secrets, pseudonymizer):
    assert _leaked(_run(channel, text, pseudonymizer), secrets) == []


@pytest.mark.parametrize(
    ("channel", "text"), [(a[1], a[2]) for a in ADVERSARY if a[2] in KNOWN_LEAKS]
)
def test_the_known_leaks_are_as_measured(channel, text, pseudonymizer):
    assert _run(channel, text, pseudonymizer) == KNOWN_LEAKS[text]


#: a second batch aimed at the new rules (capitals, a dash in the surname, particles in title
#: case, "n." before a box number, "c.c.", a semicolon between user names)
SECOND_BATCH: list[tuple[str, str, tuple[str, ...]]] = [
    (T, "КВИМБРЕЛЛ О.И.", ("квимбрелл",)),
    (T, "Квимбрелл-Фартинг О.И.", ("квимбрелл", "фартинг")),
    (T, "QUIMBRELL O. J.", ("quimbrell",)),
    (T, "Zelda 'Zee' Farthingale-Quimbrell", ("zelda", "farthingale", "quimbrell")),
    (T, "ZELDA 'ZEE' FARTHINGALE", ("zelda", "farthingale")),
    (T, "Zelda ‘Zee’ Farthingale", ("zelda", "farthingale")),
    (T, "Zoë  Quimbrellé", ("zoë", "quimbrellé")),
    (T, "Zoë Quimbrellé-Farthing", ("zoë", "quimbrellé", "farthing")),
    (T, "tech: Ana de la Quintavera", ("ana", "quintavera")),
    (T, "tech Ana De La Quintavera", ("quintavera",)),
    (T, "BOÎTE POSTALE 4815", ("4815",)),
    (T, "Boite postale 4815", ("4815",)),
    (T, "Casella Postale n. 4815", ("4815",)),
    (R, "Casella Postale n. 4815", ("4815",)),
    (T, "Via Roma, 12", ("roma",)),
    (R, "Third of March", ("third",)),
    (R, "the thirty-first of December 2023", ("thirty-first",)),
    (T, "cc:zfarthingale", ("zfarthingale",)),
    (T, "Cc: zfarthingale; ojquimbrell", ("zfarthingale", "ojquimbrell")),
    (T, "attn: zfarthingale", ("zfarthingale",)),
    (T, "c.c. zfarthingale", ("zfarthingale",)),
    (T, "SSN 491  72  8154", ("8154",)),
    # left by this round, closed in round 14 (``test_adversarial_phi_13``)
    (T, "ZOË QUIMBRELLÉ", ("quimbrellé",)),
    (T, "VIA ROMA 12", ("roma",)),
]


@pytest.mark.parametrize(("channel", "text", "secrets"), SECOND_BATCH)
def test_no_input_of_the_second_batch_leaks(channel, text, secrets, pseudonymizer):
    assert _leaked(_run(channel, text, pseudonymizer), secrets) == []


#: inputs of the second batch left as they are (each would take clinical text with it)
SECOND_BATCH_LEFT: list[tuple[str, str]] = [
    # (``ZOË QUIMBRELLÉ`` and ``VIA ROMA 12`` in capitals: closed in round 14, below)
    # the French "BP" alone is a blood pressure
    (T, "BP 4815"),
    # dates in words in short text: only after a birth-date label (the study's own dates
    # are removed elsewhere)
    (T, "the 3rd of March 2024"),
]


@pytest.mark.parametrize(("channel", "text"), SECOND_BATCH_LEFT)
def test_the_second_batch_left_as_measured(channel, text, pseudonymizer):
    assert _run(channel, text, pseudonymizer) == text


#: what the new rules must leave as it is
STAYS: list[tuple[str, str]] = [
    (T, "BP 123"),
    (T, "BP 120/80"),
    (T, "via catheter 2"),
    (T, "Van Rosen projection"),
    (T, "VAN ROSEN PROJECTION"),
    (T, "San Clemente goat breed"),
    (T, "Max Dose"),
    (T, "cc saline"),
    (R, "Gave 10 mL via catheter 2."),
    (R, "the first of May be given"),
    (R, "Size  12  45  67\nSize  491  72  8154\nSize  10  20  30"),
    (T, "Doppler 'Color' Mode"),
    (C, "Figure A. B."),
    (IC, "copy to radiology"),
    (R, "Weight 5 @ 3.5 kg"),
    (R, "seen @ st. marys"),
    (T, "Pt (no change)"),
    (T, "LEFT 'UPPER' QUADRANT"),
    (T, "FIGURE A. B."),
    (T, "born March 2024 cohort"),
]


@pytest.mark.parametrize(("channel", "text"), STAYS)
def test_the_new_rules_leave_clinical_text(channel, text, pseudonymizer):
    assert _run(channel, text, pseudonymizer) == text


# ------------------------------------------------------ through the command, in a process
_COMMAND_ATTACKS: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {
    "ssn": ({"TransducerData": "491  72  8154", "ImageComments": "SSN 491\t72\t8154"}, ("8154",)),
    "cyrillic": ({"TransducerData": "Квимбрелл О.И."}, ("КВИМБРЕЛЛ",)),
    "nickname": ({"TransducerData": "Zelda 'Zee' Farthingale"}, ("ZELDA", "FARTHINGALE")),
    "short": ({"TransducerData": "tech Ana de la Quintavera"}, ("QUINTAVERA",)),
    "box": ({"TransducerData": "Boîte postale 4815"}, ("4815",)),
    "via": ({"TransducerData": "Via Quimbrella 12"}, ("QUIMBRELLA",)),
    "date": ({"ImageComments": "Seen on the third of March 2024."}, ("THIRD OF MARCH",)),
    "cc": ({"TransducerData": "copy to zfarthingale"}, ("ZFARTHINGALE",)),
    "bp": ({"TransducerData": "BP 123"}, ()),
}


def test_command_writes_none_of_the_round_13_attacks(tmp_path):
    """``cadbusi deidentify`` in its own process, the files in UTF-8 (ISO_IR 192): every file
    is written, no planted word is in what it holds, and a blood pressure stays."""
    found, out, rows = command_attacks(tmp_path, _COMMAND_ATTACKS)
    assert found == {}
    assert b"BP 123" in (out / rows["bp"]["output_path"]).read_bytes()
