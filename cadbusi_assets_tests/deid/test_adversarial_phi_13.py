"""Adversarial PHI tests, fourteenth round: the thirteenth round's known gaps, then inputs of
shapes no earlier round sent (names in the less common header fields, with suffixes and
several values; protocol names with underscores; relatives in a list; phones split across a
line or written with letters; streets of Spain, Portugal and Germany; postcodes of the United
Kingdom, Canada and the Netherlands; MRNs in groups; ISO weeks, "the 10th day of March",
weekdays, a date before a time; names in Arabic, Hebrew and Devanagari; ``Dr.Quimbrell``;
e-mails in angle brackets; a URL with a name in its path; three initials; ``s/p`` with a
name).

1. a Greek given name of a short list before a Greek word written the same way in short
   text (``Ελένη Κουιμπρέλ``, ``ΕΛΕΝΗ ΚΟΥΙΜΠΡΕΛ``); a Greek word that is a given name and a
   word (``Ζωή`` life, ``Σοφία``) is in no list, a foreign name in Greek letters
   (``Ζέλντα``) neither (a known gap);
2. a three-letter first name of the names lists before a name-like surname in capitals
   (``ZOË QUIMBRELLÉ``; ``BOS TAURUS``, ``SUS SCROFA``, ``TAD HANSMANN`` stay);
3. ``VIA``, a town's or a person's name and a number in capitals (``VIA ROMA 12``; ``VIA
   PORT 2`` stays);
4. a day and its month before a sentence's dot in a report (``the 3rd of March.``): the dot
   stays (it went with the month); ``the 10th day of March`` is a date;
5. a Cyrillic department or room word before two initials in short text (``ОТДЕЛ А.Б.``)
   is no surname;
6. the new batch's finds: two words in capitals joined by an underscore in a descriptor or
   in short text (``QUIMBRELL_OTTOLINE_2``), a URL with a path, dotted initials after a role or a signing
   word (``tech O.J.Q.``, ``Reported: O.J.Q.``), postcodes and phones written with letters
   in short text, a month/day before a time of day (``03/03 14:22``).

All names, numbers and dates are invented (phones 555-01xx).
"""

from __future__ import annotations

import pytest

from cadbusi_assets.deid import shapes
from cadbusi_assets.deid.shapes import scrub_identifier_shapes
from cadbusi_assets.deid.text import scrub_descriptor_text
from cadbusi_assets.records.scrub import scrub_report_text
from cadbusi_assets_tests.deid.phi_support import command_attacks, dicom_code_meanings
from cadbusi_assets_tests.deid.phi_support import leaked as _leaked
from cadbusi_assets_tests.deid.phi_support import through_channel as _run

R, D, C = "report", "desc", "cm"
T, S, IC = "hdr:TransducerData", "hdr:StationName", "hdr:ImageComments"
PP, OP, RS = "hdr:PerformingPhysicianName", "hdr:OperatorsName", "hdr:RequestingService"
PR, SD = "hdr:ProtocolName", "hdr:SeriesDescription"


def _report(text: str, days: int = -17) -> str:
    return scrub_report_text(text, identifiers=("Kowalczyk^Agnieszka",), date_shift_days=days) or ""


def _removed(text: str) -> str:
    return scrub_report_text(text, identifiers=(), date_shift_days=0, remove_dates=True) or ""


# ---------------------------------------------------- the thirteenth round's known gaps
ROUND_13_GAPS: list[tuple[str, str, tuple[str, ...]]] = [
    (T, "Ελένη Κουιμπρέλ", ("κουιμπρέλ",)),
    (T, "ΕΛΕΝΗ ΚΟΥΙΜΠΡΕΛ", ("κουιμπρελ",)),
    (C, "Γιώργος Κουιμπρέλ", ("κουιμπρέλ",)),
    (T, "Δημήτρης  Φαρθινγκέιλ", ("φαρθινγκέιλ",)),
    (T, "ZOË QUIMBRELLÉ", ("quimbrellé",)),
    (T, "ANA QUINTAVERA", ("quintavera",)),
    (C, "ZOË  QUIMBRELLÉ", ("quimbrellé",)),
    (T, "VIA ROMA 12", ("roma",)),
    (T, "VIA GARIBALDI, 12", ("garibaldi",)),
    (C, "VIA ROMA 12", ("roma",)),
]


@pytest.mark.parametrize(("channel", "text", "secrets"), ROUND_13_GAPS)
def test_the_round_13_gaps_are_closed(channel, text, secrets, pseudonymizer):
    assert _leaked(_run(channel, text, pseudonymizer), secrets) == []


def test_a_greek_given_name_before_a_greek_word():
    for text in ("Ελένη Κουιμπρέλ", "ΕΛΕΝΗ ΚΟΥΙΜΠΡΕΛ", "Γιώργος Κουιμπρέλ", "Μαρία Κουιμπρέλ"):
        assert scrub_identifier_shapes(text) == "[name]", text
    assert scrub_identifier_shapes("US Ελένη Κουιμπρέλ L") == "US [name] L"
    # no given name first, two cases mixed, a weekday or saint after it, a word that is a
    # given name and a word, a description
    for text in ("Υπερηχογράφημα Μαστού", "ΥΠΕΡΗΧΟΣ ΜΑΣΤΟΥ", "Ελένη ΚΟΥΙΜΠΡΕΛ", "Μαρία Δευτέρα",
                 "Νοσοκομείο Αγίου Γεωργίου", "Ζωή Κουιμπρέλ", "Σοφία Κουιμπρέλ",
                 "Ελένη Κουιμπρέλ breed"):  # fmt: skip
        assert scrub_identifier_shapes(text) == text, text


def test_a_three_letter_first_name_in_capitals():
    assert scrub_identifier_shapes("ZOË QUIMBRELLÉ") == "[name]"
    assert scrub_identifier_shapes("ANA QUINTAVERA") == "[name]"
    for text in ("BOS TAURUS", "SUS SCROFA", "TAD HANSMANN, 1979", "MAX DOSE", "EVA MODE",
                 "SAN CLEMENTE GOAT BREED", "TOM THUMB", "ZOË Quimbrellé", "ZOË QUIMBRELLÉ BREED"):  # fmt: skip
        assert scrub_identifier_shapes(text) == text, text


def test_via_in_capitals():
    assert scrub_identifier_shapes("VIA ROMA 12") == "[address]"
    assert scrub_identifier_shapes("VIA GARIBALDI, 12") == "[address]"
    for text in ("VIA PORT 2", "VIA PICC 2", "VIA CATHETER 2", "VIA ROMA", "VIA ROMA 12.5",
                 "via roma 12"):  # fmt: skip
        assert scrub_identifier_shapes(text) == text, text


def test_a_day_and_month_keep_the_sentence_dot():
    assert _report("Seen on the 3rd of March.") == "Seen on the 14th of February."
    assert _report("the 3rd of June. Next") == "the 17th of May. Next"
    assert _report("Seen 3 Mar. then") == "Seen 14 Feb. then"
    assert _report("Seen 3-Mar.") == "Seen 14-Feb."
    assert _removed("the 3rd of March.") == "the [DATE]."
    assert _removed("the 3rd of May.") == "the [DATE]."
    assert _removed("on 3 Mar. at noon") == "on [DATE] at noon"  # an abbreviation's dot


def test_the_day_of_a_month():
    assert _report("Seen on the 10th day of March.") == "Seen on the 21st day of February."
    assert (
        _report("Seen on the 10th day of March, 2024.") == "Seen on the 22nd day of February 2024."
    )
    assert _removed("on the 10th day of March") == "on the [DATE]"
    for text in ("Seen on the 10th day of the treatment.", "the 2nd day of therapy"):
        assert _report(text) == text


def test_a_month_and_day_before_a_time():
    assert _report("Biopsy 03/03 14:22 by tech.") == "Biopsy 02/14 14:22 by tech."
    assert _removed("03/03 14:22 left breast") == "[DATE] 14:22 left breast"
    for text in ("Ratio 3/4 of lesion", "Dose 1/2 tablet", "1/2 12.30 mm", "3/4 12:305"):
        assert _report(text) == text, text


def test_a_department_word_before_cyrillic_initials():
    """``ОТДЕЛ А.Б.`` (department A.B.) stays in short text; a surname still goes. In a report
    every capitalised Cyrillic word that no vocabulary knows is a name (reports are English;
    ``ОТДЕЛ УЗИ`` goes there too), so the report keeps its reading."""
    for text in ("ОТДЕЛ А.Б.", "Отдел А.Б.", "КАБИНЕТ А.Б.", "Палата А. Б."):
        assert scrub_identifier_shapes(text) == text, text
    assert scrub_identifier_shapes("КВИМБРЕЛЛ А.Б.") == "[name]"
    assert scrub_identifier_shapes("Квимбрелл О.И.") == "[name]"
    assert _report("ОТДЕЛ А.Б.") == "[NAME]."


def test_the_new_rules_take_no_dicom_code_meaning():
    """pydicom's 18,495 code meanings (as written and in capitals): none holds a Greek given
    name's pair, a short first name's pair in capitals, ``VIA`` and a town, a URL with a
    path, cued initials, a postcode or a phone with letters; with underscores for spaces
    (``MUSCULI_BULBI``) two of them read as an underscored pair (measured:
    ``ENGLISH_SHEEPDOG``, ``MERCAPTOACETYL_TRIGLYCINE``; no meaning is written so)."""
    meanings = dicom_code_meanings()
    underscored = []
    for m in meanings:
        for text in (m, m.upper()):
            assert not shapes._greek_given_pairs(text), text
            assert not shapes._short_first_caps_pairs(text), text
            assert not shapes._via_caps(text), text
            assert not shapes._URL_PATH.search(text), text
            assert not shapes.cued_initials(text), text
            assert not shapes._postcodes(text), text
            assert not shapes._VANITY_PHONE.search(text), text
            assert not shapes.underscored_name_pairs(text), text
        if shapes.underscored_name_pairs(m.upper().replace(" ", "_")):
            underscored.append(m.upper())
    assert len(underscored) <= 2, underscored


# -------------------------------------------------------------- the round-14 adversary
#: (kind, channel, text, secrets): the kind names what the input tries
# fmt: off
ADVERSARY: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("pn suffix", PP, "Quimbrell^Ottoline^^Dr^Jr.", ("quimbrell", "ottoline")),
    ("pn suffix", PP, "Farthingale^Zelda^^^III", ("farthingale", "zelda")),
    ("pn suffix", PP, "Quimbrell, Ottoline PhD", ("quimbrell", "ottoline")),
    ("pn suffix", R, "Performing physician: Quimbrell, Ottoline, MD, PhD.", ("quimbrell", "ottoline")),
    ("pn suffix", R, "Signed: Ottoline Quimbrell Jr.", ("ottoline", "quimbrell")),
    ("pn suffix", T, "Ottoline Quimbrell III", ("ottoline", "quimbrell")),
    ("pn suffix", T, "Zelda Farthingale Jr.", ("zelda", "farthingale")),
    ("operators", OP, "Quimbrell^Zelda\\Farthingale^Ottoline", ("quimbrell", "farthingale")),
    ("operators", OP, "ZQ\\Farthingale O", ("farthingale",)),
    ("requesting", RS, "Breast clinic (Dr Quimbrell)", ("quimbrell",)),
    ("requesting", RS, "Dr.Farthingale breast service", ("farthingale",)),
    ("requesting", RS, "Surgery - O. Quimbrell", ("quimbrell",)),
    ("protocol", PR, "QUIMBRELL_OTTOLINE_2", ("quimbrell", "ottoline")),
    ("protocol", PR, "Breast_Quimbrell_Zelda_03", ("quimbrell",)),
    ("protocol", SD, "US BREAST QUIMBRELL_OTTOLINE", ("quimbrell", "ottoline")),
    ("protocol", D, "QUIMBRELL_OTTOLINE_2", ("quimbrell", "ottoline")),
    ("protocol", SD, "L BREAST 2 Farthingale Zelda", ("farthingale",)),
    ("relatives list", R, "Family present: mother Zelda, aunt Ottoline.", ("zelda", "ottoline")),
    ("relatives list", R, "Accompanied by husband Bartholomew; daughters Zelda and Ottoline.",
     ("bartholomew", "zelda", "ottoline")),
    ("relatives list", IC, "family present: mother Zelda, aunt Ottoline", ("zelda", "ottoline")),
    ("relatives list", T, "mother Zelda, aunt Ottoline", ("zelda", "ottoline")),
    ("phone break", R, "Call (617) 555-\n0142 with results.", ("0142",)),
    ("phone break", R, "Phone 617-555-\n0142.", ("0142",)),
    ("phone break", IC, "tel 555-\n0142", ("0142",)),
    ("phone letters", R, "Call 555-QUIM for results.", ("quim",)),
    ("phone letters", T, "tel 1-800-QUIMBRL", ("quimbrl",)),
    ("phone letters", R, "Reach her at 617-555-ZELD.", ("zeld",)),
    ("street", R, "Lives at Calle Quimbrella 12, Madrid.", ("quimbrella",)),
    ("street", T, "Calle Quimbrella 12", ("quimbrella",)),
    ("street", T, "Rua Farthingale 45", ("farthingale",)),
    ("street", T, "Quimbrellstraße 7", ("quimbrellstraße",)),
    ("street", IC, "Farthingweg 12, Quimbrellhausen", ("farthingweg",)),
    ("street", T, "Avenida Quimbrella 200", ("quimbrella",)),
    ("postcode", R, "Address: Quimbrellweg 12, 1234 AB Farthingdam", ("1234 ab",)),
    ("postcode", R, "Lives in Farthingville, SW1A 2QQ.", ("sw1a 2qq",)),
    ("postcode", T, "SW1A 2QQ", ("sw1a 2qq",)),
    ("postcode", R, "Postal code K1A 0B7, Quimbrelton.", ("k1a 0b7",)),
    ("postcode", IC, "K1A 0B7", ("k1a 0b7",)),
    ("postcode", T, "1234 AB Farthingdam", ("1234 ab",)),
    ("mrn groups", R, "MRN 4815 1623 on file.", ("4815 1623",)),
    ("mrn groups", R, "MRN: 48-15-16-23", ("48-15-16-23",)),
    ("mrn groups", T, "MRN 4815-1623", ("4815-1623",)),
    ("mrn groups", IC, "Hosp no. 481 516 23", ("481 516 23",)),
    ("date forms", R, "Seen in week 2024-W10.", ("2024-w10",)),
    ("date forms", R, "Seen on the 10th day of March, 2024.", ("10th day",)),
    ("date forms", R, "Seen on the 10th day of March.", ("10th day of march",)),
    ("date forms", R, "Seen Tue 3 Mar for follow-up.", ("3 mar",)),
    ("date forms", R, "Biopsy 03/03 14:22 by tech.", ("03/03",)),
    ("date forms", IC, "03/03 14:22 left breast", ("03/03",)),
    ("arabic", R, "Seen with her daughter زيلدا كويمبرل today.", ("زيلدا", "كويمبرل")),
    ("arabic", T, "زيلدا كويمبرل", ("زيلدا", "كويمبرل")),
    ("arabic", IC, "الطبيب: زيلدا كويمبرل", ("زيلدا", "كويمبرل")),
    ("hebrew", R, "Her daughter זלדה קווימברל attended.", ("זלדה", "קווימברל")),
    ("hebrew", T, "זלדה קווימברל", ("זלדה", "קווימברל")),
    ("devanagari", R, "Her daughter ज़ेल्डा क्विम्ब्रेल attended.", ("क्विम्ब्रेल",)),
    ("devanagari", T, "ज़ेल्डा क्विम्ब्रेल", ("क्विम्ब्रेल",)),
    ("dr no space", R, "Reviewed by Dr.Quimbrell today.", ("quimbrell",)),
    ("dr no space", T, "Dr.Quimbrell", ("quimbrell",)),
    ("dr no space", IC, "ref Dr.Farthingale", ("farthingale",)),
    ("email angle", R, "Email <zelda.farthingale@example.org> for copies.", ("farthingale",)),
    ("email angle", T, "<ottoline.quimbrell@example.com>", ("quimbrell",)),
    ("email angle", R, "From: Zelda F <zf@quimbrell.org>", ("quimbrell",)),
    ("url path", R, "Images at https://pacs.example.org/patients/ottoline-quimbrell/study1 today.",
     ("quimbrell",)),
    ("url path", T, "http://example.org/quimbrell_zelda/img", ("quimbrell",)),
    ("url path", IC, "see www.example.org/~zfarthingale/notes", ("zfarthingale",)),
    ("three initials", R, "Seen by O.J.Q. today.", ("o.j.q",)),
    ("three initials", T, "tech O.J.Q.", ("o.j.q",)),
    ("three initials", IC, "Reported: O.J.Q.", ("o.j.q",)),
    ("s/p name", R, "s/p lumpectomy by Dr Quimbrell 2019.", ("quimbrell",)),
    ("s/p name", R, "S/p excision (Farthingale) 2020.", ("farthingale",)),
    ("s/p name", IC, "s/p bx Quimbrell", ("quimbrell",)),
]
# fmt: on

#: inputs of the batch that leaked here, asserted as they come out: two words of a script with
#: no letter case (Arabic, Hebrew) or of Devanagari, alone in short text, were kept (no case
#: and no vocabulary of the script); since round 16 (``test_adversarial_phi_15.py``) a value of
#: two to four such words of which none is a clinical word of the script's small vocabulary
#: goes whole (``الموجات الصوتية``, "ultrasound waves", stays)
KNOWN_LEAKS: dict[str, str] = {
    "زيلدا كويمبرل": "[name]",
    "זלדה קווימברל": "[name]",
    "ज़ेल्डा क्विम्ब्रेल": "[name]",
}


@pytest.mark.parametrize(
    ("kind", "channel", "text", "secrets"),
    [a for a in ADVERSARY if a[2] not in KNOWN_LEAKS],
    ids=[f"{a[0]}-{a[1]}-{i}" for i, a in enumerate(ADVERSARY) if a[2] not in KNOWN_LEAKS],
)
def test_no_round_14_input_leaks(kind, channel, text, secrets, pseudonymizer):
    assert _leaked(_run(channel, text, pseudonymizer), secrets) == []


@pytest.mark.parametrize(
    ("channel", "text"), [(a[1], a[2]) for a in ADVERSARY if a[2] in KNOWN_LEAKS]
)
def test_the_known_leaks_are_as_measured(channel, text, pseudonymizer):
    assert _run(channel, text, pseudonymizer) == KNOWN_LEAKS[text]


#: the gaps left on purpose, asserted as they come out
GAPS_LEFT: list[tuple[str, str, str]] = [
    # a foreign name in Greek letters: a transliteration of the 43,004 words of the names
    # lists takes Greek clinical words (``Μάζα`` mass, ``Μήτρα`` uterus, ``Νέα``, ``Ώρα``,
    # ``Κάτω``: measured); since round 16 a short list of foreign given names in Greek
    # spelling marks it (``Ζέλντα``, ``Τζον``, ``Μαίρη``), as the Greek given names do
    (T, "Ζέλντα Κουιμπρέλ", "[name]"),
    # an initial glued to a surname with no cue: a lone lower-case word of a device or a
    # product (``sonoline``, ``voluson``, ``qlab``) reads the same
    (T, "zfarthingale", "zfarthingale"),
    # the French "BP" alone is a blood pressure
    (T, "BP 4815", "BP 4815"),
]


@pytest.mark.parametrize(("channel", "text", "out"), GAPS_LEFT)
def test_the_gaps_left_are_as_measured(channel, text, out, pseudonymizer):
    assert _run(channel, text, pseudonymizer) == out


def test_underscored_names_in_a_descriptor():
    assert scrub_descriptor_text("QUIMBRELL_OTTOLINE_2") == "[NAME]_2"
    assert scrub_descriptor_text("US BREAST QUIMBRELL_OTTOLINE") == "US BREAST [NAME]"
    for text in ("BRST_SCRN_2", "US_BREAST_LEFT", "LOGIQ_E9_BREAST", "MUSCULI_BULBI",
                 "DRENTSE_PATRIJSHOND_DOG_BREED", "COLOURPOINT_SHORTHAIRED", "ABUS_AUTO_3D",
                 "Quimbrell_Ottoline"):  # fmt: skip
        assert scrub_descriptor_text(text) == text, text


def test_urls_initials_postcodes_and_lettered_phones_in_short_text():
    assert scrub_identifier_shapes("http://example.org/quimbrell_zelda/img") == "[url]"
    assert scrub_identifier_shapes("see www.example.org/~zf") == "see [url]"
    assert scrub_identifier_shapes("tech O.J.Q.") == "tech [name]."
    assert scrub_identifier_shapes("Reported by: O. J.") == "Reported by: [name]."
    assert scrub_identifier_shapes("SW1A 2QQ") == "[address]"
    assert scrub_identifier_shapes("K1A 0B7") == "[address]"
    assert scrub_identifier_shapes("1234 AB Farthingdam") == "[address]"
    assert scrub_identifier_shapes("tel 1-800-QUIMBRL") == "tel [phone]"
    assert scrub_identifier_shapes("617-555-ZELD") == "[phone]"
    # a maker's site, a URL with no path, initials with no cue, an abbreviation, a volume
    # and its drug, a model number, a toll-free number of digits only (the phone rules')
    for text in ("www.siemens.com", "http://example.org", "O.J.Q.", "N.O.S.", "U.S.A. made",
                 "1000 ML Saline", "2000 IU Heparin", "EPIQ 7G", "L12-5 probe", "800-PROBE",
                 "read N.O.", "read as N.O.", "TR 1A 2BB"):  # fmt: skip
        assert scrub_identifier_shapes(text) == text, text


#: a second batch aimed at the new rules (other cases, gaps, suffixes, lists)
SECOND_BATCH: list[tuple[str, str, tuple[str, ...]]] = [
    (T, "Ελένη\tΚουιμπρέλ", ("κουιμπρέλ",)),
    (T, "sonographer Ελένη Κουιμπρέλ", ("κουιμπρέλ",)),
    (T, "Ελένη Κουιμπρέλ-Φαρθινγκ", ("κουιμπρέλ",)),
    (T, "ZOË\tQUIMBRELLÉ", ("quimbrellé",)),
    (T, "US ZOË QUIMBRELLÉ L", ("quimbrellé",)),
    (T, "VIA ROMA 12/B", ("roma",)),
    (D, "OTTOLINE_QUIMBRELL", ("ottoline", "quimbrell")),
    (T, "QUIMBRELL_OTTOLINE_2", ("quimbrell", "ottoline")),
    (C, "US_QUIMBRELL_OTTOLINE", ("quimbrell", "ottoline")),
    (PR, "L_BREAST_QUIMBRELL_OTTOLINE", ("quimbrell", "ottoline")),
    (T, "https://example.org/patients/Quimbrell", ("quimbrell",)),
    (T, "sonographer: O.J.Q.", ("o.j.q",)),
    (T, "Signed O. J. Q.", ("o. j. q",)),
    (IC, "Dictated by O.J.Q.", ("o.j.q",)),
    (T, "SW1A 2QQ London", ("sw1a 2qq",)),
    (T, "1234AB Farthingdam", ("1234ab",)),
    (T, "1 (800) QUIMBRL", ("quimbrl",)),
    (R, "Seen on the 10th day of June", ("10th day of june",)),
    (IC, "Seen 03/03 09:05", ("03/03",)),
]


@pytest.mark.parametrize(("channel", "text", "secrets"), SECOND_BATCH)
def test_no_input_of_the_second_batch_leaks(channel, text, secrets, pseudonymizer):
    assert _leaked(_run(channel, text, pseudonymizer), secrets) == []


#: what the new rules must leave as it is
STAYS: list[tuple[str, str]] = [
    (T, "ОТДЕЛ А.Б."),
    (T, "Υπερηχογράφημα Μαστού"),
    (T, "BOS TAURUS"),
    (T, "VIA PORT 2"),
    (T, "www.siemens.com"),
    (T, "N.O.S."),
    (T, "1000 ML Saline"),
    (D, "BRST_SCRN_2"),
    (D, "US_BREAST_LEFT"),
    (T, "BRST_SCRN_2"),
    (T, "US_BREAST_LEFT"),
    (C, "L12_5_PROBE"),
    (R, "Seen on the 10th day of the treatment."),
    (R, "Dose 1/2 tablet"),
    (C, "TAD HANSMANN, 1979"),
    (IC, "Ratio 3/4 of lesion"),
    # dotted letters after a role that spell an abbreviation or a unit (a code meaning after
    # "sonographer" and "Dr" in the measured sets: P.R.U., peripheral resistance units)
    (T, "sonographer P.R.U."),
    (T, "Dr P.R.U./m2"),
    (T, "Dr N.O.S."),
]


@pytest.mark.parametrize(("channel", "text"), STAYS)
def test_the_new_rules_leave_clinical_text(channel, text, pseudonymizer):
    assert _run(channel, text, pseudonymizer) == text


# ------------------------------------------------------ through the command, in a process
_COMMAND_ATTACKS: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {
    "greek": ({"TransducerData": "Ελένη Κουιμπρέλ"}, ("ΚΟΥΙΜΠΡΈΛ", "ΚΟΥΙΜΠΡΕΛ")),
    "caps": ({"TransducerData": "ZOË QUIMBRELLÉ"}, ("QUIMBRELLÉ",)),
    "via": ({"TransducerData": "VIA ROMA 12"}, ("ROMA",)),
    "protocol": ({"ProtocolName": "QUIMBRELL_OTTOLINE_2"}, ("QUIMBRELL", "OTTOLINE")),
    "url": ({"TransducerData": "http://example.org/quimbrell_zelda/img"}, ("QUIMBRELL",)),
    "initials": ({"TransducerData": "tech O.J.Q."}, ("O.J.Q",)),
    "postcode": ({"TransducerData": "SW1A 2QQ"}, ("SW1A",)),
    "phone": ({"TransducerData": "tel 1-800-QUIMBRL"}, ("QUIMBRL",)),
    "date": ({"ImageComments": "03/03 14:22 left breast"}, ("03/03",)),
    "department": ({"TransducerData": "ОТДЕЛ А.Б."}, ()),
}


def test_command_writes_none_of_the_round_14_attacks(tmp_path):
    """``cadbusi deidentify`` in its own process, the files in UTF-8 (ISO_IR 192): every file
    is written, no planted word is in what it holds, and a department's letters stay."""
    found, out, rows = command_attacks(tmp_path, _COMMAND_ATTACKS)
    assert found == {}
    assert "ОТДЕЛ А.Б.".encode() in (out / rows["department"]["output_path"]).read_bytes()
