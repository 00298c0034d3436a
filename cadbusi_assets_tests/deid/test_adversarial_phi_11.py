"""Adversarial PHI tests, twelfth round: the eleventh round's known gaps, then inputs of
shapes no earlier round sent (greetings and closings, surname particles, nicknames in quotes,
hyphenated first names, user names with no ``@``, MRNs with unusual labels, dates and phones
in words, PO boxes and flats in other languages, names in Latin with accents, Cyrillic and
CJK in a report, short header text, a station name and a description).

1. an SSN written with spaces (``491 72 8154``; a valid number only, no longer run of spaced
   digits: phones and spaced hospital numbers stay as their own rules read them);
2. a caret with one space on each side between two name-like words (``QUIMBRELL ^
   OTTOLINE``; ``Wt / Ht ^ 2`` stays);
3. staff roles in the plural (``sonographers zelda farthing``, ``nurses ...``);
4. one initial with no dot after ``by``, a title or a role (``read by O Quimbrell``, ``Dr O
   Quimbrell``; ``J Wire``, ``E Coli``, ``by A Breast`` stay);
5. one-word lines under a signature label alone on its line (``Sonographer:`` then ``Zelda``,
   ``Farthing``; a heading or a clinical line stays);
6. one or two initials as their own word beside a surname in a station name (``O
   QUIMBRELL``, ``OJ_QUIMBRELL``; modalities, roman numerals, ``HOFFER Q`` stay);
7. a double-barrelled name all in small letters after a first name (``rose
   plimsoll-candlewick``; ``grace well-being``, ``mark left-sided`` stay);
8. no longer over-scrubbed in a descriptor: an eponym before a clinical head word
   (``Gleason Score``, ``Hodgkin Lymphoma``, ``Bosniak Category``, ``Alexander projection``)
   and a disease's eponym alone (``BERGER``); a surname after a description is still taken
   (``US BREAST BERGER``), as is an eponym after a title (``Dr Gleason``).

Known gaps left then (:data:`KNOWN_LEAKS`, closed by round 13): a three-letter first name
(``Zoë Quimbrellé``, ``tech Ana de la Quintavera``), a nickname in quotes in short text, an
initial glued to a surname in prose (``Copy to zfarthingale``), a date written ``March the
third, 2024`` in a report, ``Boîte postale`` and ``Via ...`` in short text (``via`` as a street
word takes ``via catheter``), initials in Cyrillic after a surname, an SSN with two spaces
between its groups. All names, numbers and dates are invented (phones 555-01xx).
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
SD, SER = "hdr:StudyDescription", "hdr:SeriesDescription"


def _report(text: str) -> str:
    return scrub_report_text(text, identifiers=("Kowalczyk^Agnieszka",), date_shift_days=-17) or ""


# ------------------------------------------------------ the eleventh round's known gaps
ROUND_11_GAPS: list[tuple[str, str, tuple[str, ...]]] = [
    (T, "491 72 8154", ("8154",)),
    (C, "491 72 8154", ("8154",)),
    (IC, "491 72 8154", ("8154",)),
    (R, "Patient 491 72 8154 seen today.", ("8154",)),
    (D, "US BREAST 491 72 8154", ("8154",)),
    (S, "US1 491 72 8154", ("8154",)),
    (T, "QUIMBRELL ^ OTTOLINE", ("quimbrell", "ottoline")),
    (C, "Quimbrell ^ Ottoline", ("quimbrell", "ottoline")),
    (D, "QUIMBRELL ^ OTTOLINE", ("quimbrell", "ottoline")),
    (T, "sonographers zelda farthing", ("zelda", "farthing")),
    (C, "nurses ottoline plimsoll", ("ottoline", "plimsoll")),
    (R, "Seen with nurses ottoline plimsoll.", ("ottoline", "plimsoll")),
    (IC, "sonographers zelda farthing", ("zelda", "farthing")),
    (T, "radiologists ignatius quimbrell", ("ignatius", "quimbrell")),
    (R, "Radiologists Ignatius Quimbrell and Zelda Farthing.", ("ignatius", "quimbrell")),
    (T, "read by O Quimbrell", ("quimbrell",)),
    (C, "read by O Quimbrell", ("quimbrell",)),
    (T, "scanned by Z Farthing", ("farthing",)),
    (R, "Discussed with and confirmed by O Quimbrell today.", ("quimbrell",)),
    (R, "Sonographer:\nZelda\nFarthing", ("zelda", "farthing")),
    (IC, "Sonographer:\nZelda\nFarthing", ("zelda", "farthing")),
    (R, "Findings benign.\n\nRadiologist:\nIgnatius\nQuimbrell\n", ("ignatius", "quimbrell")),
    (S, "O QUIMBRELL", ("quimbrell",)),
    (S, "OJ_QUIMBRELL", ("quimbrell",)),
    (S, "US1 Z FARTHINGTON", ("farthington",)),
    (T, "rose plimsoll-candlewick", ("plimsoll", "candlewick")),
    (R, "us breast for rose plimsoll-candlewick", ("plimsoll", "candlewick")),
]


@pytest.mark.parametrize(("channel", "text", "secrets"), ROUND_11_GAPS)
def test_the_round_11_gaps_are_closed(channel, text, secrets, pseudonymizer):
    assert _leaked(_run(channel, text, pseudonymizer), secrets) == []


def test_an_ssn_with_spaces_is_a_valid_one_standing_alone():
    """``491 72 8154`` is taken; no area 000, 666 or 9xx, no group 00 or serial 0000, and no
    longer run of spaced digits (a phone, a spaced hospital number) is an SSN."""
    assert scrub_identifier_shapes("491 72 8154") == "[id]"
    assert scrub_identifier_shapes("491 72 8154", "station") == "[id]"
    assert scrub_identifier_shapes("491 72 8154", "serial") == "491 72 8154"
    assert "8154" not in _report("SSN on file 491 72 8154.")
    for text in ("000 12 3456", "666 12 3456", "912 34 5678", "491 00 8154", "491 72 0000",
                 "12 491 72 8154", "491 72 8154 12", "2.491 72 8154", "1 2 3", "12 34 5678",
                 "123 45 67890"):  # fmt: skip
        assert scrub_identifier_shapes(text) == text, text
        assert "[SSN]" not in _report(f"Values {text} noted."), text


def test_a_spaced_caret_needs_two_name_like_words():
    assert scrub_identifier_shapes("QUIMBRELL ^ OTTOLINE") == "[name] ^ [name]"
    assert scrub_identifier_shapes("van der Quimbrell ^ Ottoline") == "[name] ^ [name]"
    assert scrub_identifier_shapes("QUIMBRELL ^OTTOLINE") == "[name] ^[name]"
    for text in ("BMI = Wt / Ht ^ 2", "a ^ b", "Tc ^ 99m", "x ^ Quimbrell", "L breast ^ mass",
                 "Tc ^99m", "Ht ^2"):  # fmt: skip
        assert scrub_identifier_shapes(text) == text
        assert scrub_descriptor_text(text) == text


def test_plural_roles_cue_a_name_and_only_a_name():
    assert scrub_identifier_shapes("nurses ottoline plimsoll") == "nurses [name] [name]"
    for text in ("nurses present", "radiologists review pending", "sonographers reviewed images",
                 "technologists performed exam", "nurses station"):  # fmt: skip
        assert scrub_identifier_shapes(text) == text
        assert _report(text) == text


def test_one_initial_without_a_dot():
    assert scrub_identifier_shapes("read by O Quimbrell") == "read by [name]"
    assert scrub_identifier_shapes("Dr O Quimbrell") == "Dr [name]"
    assert scrub_identifier_shapes("sonographer O Quimbrell") == "sonographer [name]"
    assert scrub_identifier_shapes("by O. Quimbrell") == "by [name]"  # "by O." hid it
    for text in ("caused by E Coli", "infected by H Pylori", "by S Aureus", "by A Breast",
                 "reviewed by A Radiologist", "Dr A Present", "son J Wire", "Dr S Phase",
                 "by X Ray"):  # fmt: skip
        assert scrub_identifier_shapes(text) == text


def test_names_on_the_lines_under_a_signature_label():
    assert _report("Sonographer:\nZelda\nFarthing") == "[SIGNATURE]\n[NAME]\n[NAME]"
    assert _report("Radiologist:\nImpression\nBenign mass.") == (
        "[SIGNATURE]\nImpression\nBenign mass."
    )
    assert _report("Radiologist:\nIgnatius\nFindings\nBenign") == (
        "[SIGNATURE]\n[NAME]\nFindings\nBenign"
    )


def test_initials_beside_a_surname_in_a_station_name():
    for text, out in (("O QUIMBRELL", "[name]"), ("OJ_QUIMBRELL", "[name]"),
                      ("QUIMBRELL_O", "[name]"), ("US1-O-QUIMBRELL", "US1-[name]")):  # fmt: skip
        assert scrub_identifier_shapes(text, "station name") == out
    for text in ("US BREAST", "L BREAST", "CT SCANNER", "OB ULTRASOUND", "X RADIANCE",
                 "HOFFER Q", "FLORBETABEN F^18^", "ANGIOTENSIN II RECEPTOR ANTAGONIST",
                 "BRAFORD X ZEBU CATTLE BREED", "BAZETT QT CORRECTION ALGORITHM", "E CUBE"):  # fmt: skip
        assert scrub_identifier_shapes(text, "station name") == text


def test_a_lower_case_double_barrelled_name():
    assert scrub_identifier_shapes("rose plimsoll-candlewick") == "[name] [name]-[name]"
    for text in ("grace well-being", "mark left-sided", "will follow-up", "frank blood-stained",
                 "iris ciliary-body", "son tom-tom drum"):  # fmt: skip
        assert scrub_identifier_shapes(text) == text
        assert _report(text) == text
    assert scrub_identifier_shapes("rose gastro-intestinal") == "rose gastro-intestinal"


def test_eponyms_in_a_descriptor_stay_beside_a_clinical_word():
    for text in ("BERGER", "Gleason Score", "Hodgkin Lymphoma", "Bosniak Category",
                 "Gleason Score 7", "Alexander projection", "Ewing sarcoma"):  # fmt: skip
        assert scrub_descriptor_text(text) == text
    # a surname after a description, an eponym after a title, a projection's name alone
    assert scrub_descriptor_text("US BREAST BERGER") == "US BREAST [NAME]"
    assert scrub_descriptor_text("Dr Gleason") == "[name]"
    assert scrub_descriptor_text("Lawrence") == "[NAME]"
    # those eponyms beside a first name in short text are still a name pair
    for text in ("Ottoline Berger", "Zelda Gleason", "Ottoline Rosen"):
        assert scrub_identifier_shapes(text) == "[name]"


# ------------------------------------------------------------- the round-12 adversary
ADVERSARY: list[tuple[str, str, tuple[str, ...]]] = [
    (R, "Thanks, Bea", ("bea",)),
    (R, "Many thanks,\nOttoline", ("ottoline",)),
    (IC, "Regards, Zelda Farthing", ("zelda", "farthing")),
    (R, "Kind regards,\nDr Quimbrell", ("quimbrell",)),
    (T, "Hi Ottoline, images attached", ("ottoline",)),
    (R, "Cheers, Ignatius", ("ignatius",)),
    (IC, "Best wishes - Philippa", ("philippa",)),
    (T, "thanks zelda", ("zelda",)),
    (R, "Seen with her sister Maria van der Quellenberg.", ("quellenberg",)),
    (R, "Referred by Dr. Yusuf bin Abdulquarim.", ("abdulquarim",)),
    (IC, "Partner: Siobhan O'Quarrel-Bynnock", ("quarrel", "bynnock")),
    (D, "US BREAST van der Quellenberg", ("quellenberg",)),
    (T, "Ottoline van der Quellenberg", ("ottoline", "quellenberg")),
    (R, 'Her daughter Ottoline "Tilly" Quimbrell called.', ("ottoline", "tilly", "quimbrell")),
    (IC, "sonographer Bartholomew (Barty) Quimbrell", ("bartholomew", "barty", "quimbrell")),
    (R, "Her daughter Anne-Ottoline Quimbrell was present.", ("ottoline", "quimbrell")),
    (T, "Dr Jean-Ignatius Farthingale", ("ignatius", "farthingale")),
    (IC, "Mary-Zelda Plimsoll RN", ("zelda", "plimsoll")),
    (T, "ottoline.quimbrell", ("quimbrell",)),
    (IC, "Sent to ottoline.quimbrell via secure mail", ("quimbrell",)),
    (T, "user: oquimbrell", ("oquimbrell",)),
    (C, "ottoline_quimbrell", ("quimbrell",)),
    (T, "Pt# 48151623", ("48151623",)),
    (R, "Hosp No. 4815162", ("4815162",)),
    (IC, "UR 481516", ("481516",)),
    (T, "UR: 00481516", ("00481516",)),
    (T, "Unit No 4815162", ("4815162",)),
    (D, "Pt# 48151623", ("48151623",)),
    (T, "Chart # A-481516", ("481516",)),
    (R, "UR number 481516 confirmed.", ("481516",)),
    (R, "Seen on the third of March 2024.", ("third of march",)),
    # the day after the month and "the": the real month and day stayed ("[YEAR]" only)
    (R, "Biopsy on March the third, 2024.", ("march the third",)),
    (R, "Seen March the 3rd 2024 in clinic.", ("march the 3rd",)),
    (R, "Follow-up on Dec the 31st.", ("dec the 31st",)),
    (T, "DOB the third of March 1961", ("1961",)),
    (IC, "born 3rd of March, 1961", ("1961",)),
    (IC, "seen on the twenty-first of June 2024", ("twenty-first of june",)),
    (R, "Call five five five, oh one four two.", ("five five five",)),
    (IC, "phone 555-0142 ext.12", ("0142",)),
    (T, "tel 555 0142 extn 34", ("0142",)),
    (R, "Reach her on 555-0142 x 221.", ("0142",)),
    (T, "ph. 555-0142 int. 12", ("0142",)),
    (IC, "mobile: 07700 900 123", ("900 123",)),
    (T, "Tel 0161 496 0142 ext 4", ("496 0142",)),
    (R, "Phone five five five zero one four two, extension twelve.", ("five five five",)),
    (R, "Mailing address PO Box 4815, Quimbrellton.", ("4815",)),
    (T, "P.O. Box 4815", ("4815",)),
    (IC, "Apartado 4815, Quimbrella", ("4815",)),
    (IC, "Postfach 4815", ("4815",)),
    (R, "Lives at Calle Quimbrell 12, piso 3, puerta B.", ("quimbrell",)),
    (T, "Rue Farthingale 12, appartement 4", ("farthingale",)),
    (IC, "Quimbrellstraße 12, Wohnung 4", ("quimbrellstraße",)),
    (R, "Address: ul. Kwiatowa 7, mieszkanie 12", ("kwiatowa",)),
    (T, "Apt. 4B 17 Plimsoll Lane", ("plimsoll lane",)),
    (R, "Hija: Ximena Ñúñez presente.", ("ximena", "ñúñez")),
    (S, "US1 Dr Ñúñez", ("ñúñez",)),
    (D, "US mama Ximena Ñúñez", ("ximena", "ñúñez")),
    (C, "técnica Jördis Quimbrell", ("jördis", "quimbrell")),
    (R, "Врач: Ольга Квимби.", ("ольга", "квимби")),
    (S, "КВИМБРЕЛЛ", ("квимбрелл",)),
    (D, "УЗИ молочной железы Ольга Квимби", ("ольга", "квимби")),
    (IC, "дочь Ольга Квимби присутствует", ("ольга", "квимби")),
    (R, "患者の娘 山田花子 が同伴。", ("山田花子",)),
    (T, "担当 佐藤一郎", ("佐藤一郎",)),
    (S, "山田_US1", ("山田",)),
    (D, "乳腺超音波 山田花子", ("山田花子",)),
    (IC, "技師: 佐藤一郎", ("佐藤一郎",)),
    (C, "간호사 김민지", ("김민지",)),
]


@pytest.mark.parametrize(("channel", "text", "secrets"), ADVERSARY)
def test_no_round_12_input_leaks(channel, text, secrets, pseudonymizer):
    assert _leaked(_run(channel, text, pseudonymizer), secrets) == []


#: a second batch aimed at the new rules (two spaces, capitals, a caret glued on one side,
#: a colon after a plural role, indented signature lines, other separators in a station
#: name, a comma after a greeting, digits after a user name)
SECOND_BATCH: list[tuple[str, str, tuple[str, ...]]] = [
    (T, "SSN: 491 72 8154", ("8154",)),
    (R, "Social 491 72 8154.", ("8154",)),
    (T, "QUIMBRELL  ^  OTTOLINE", ("quimbrell", "ottoline")),
    (T, "Quimbrell ^ Ottoline ^ ^ Dr", ("quimbrell", "ottoline")),
    (C, "QUIMBRELL ^OTTOLINE", ("quimbrell", "ottoline")),
    (T, "nurses: ottoline plimsoll", ("ottoline", "plimsoll")),
    (T, "Sonographers Zelda Farthing", ("zelda", "farthing")),
    (T, "techs zelda farthing", ("zelda", "farthing")),
    (T, "read by O  Quimbrell", ("quimbrell",)),
    (T, "READ BY O QUIMBRELL", ("quimbrell",)),
    (T, "by O Quimbrell, MD", ("quimbrell",)),
    (R, "Radiologist :\nZelda\nFarthing", ("zelda", "farthing")),
    (R, "Sonographer:\n  Zelda\n  Farthing\n", ("zelda", "farthing")),
    (R, "Sonographers:\nZelda\nFarthing", ("zelda", "farthing")),
    (S, "O-QUIMBRELL", ("quimbrell",)),
    (S, "US2 OJ QUIMBRELL", ("quimbrell",)),
    (S, "QUIMBRELL.O", ("quimbrell",)),
    (T, "Hi, Ottoline", ("ottoline",)),
    (T, "Thanks Ottoline Quimbrell", ("ottoline", "quimbrell")),
    (T, "Dear Ottoline", ("ottoline",)),
    (T, "VAN DER QUELLENBERG", ("quellenberg",)),
    (T, "Yusuf bin Abdulquarim", ("abdulquarim",)),
    (T, "ottoline.quimbrell2", ("quimbrell",)),
    (T, "login=oquimbrell", ("oquimbrell",)),
    (T, "UR# 481516", ("481516",)),
    (T, "Unit number: 4815162", ("4815162",)),
    (T, "DOB: the 3rd of March, 1961", ("1961",)),
    (T, "born on the third of March 1961", ("1961",)),
    (T, "zelda plimsoll-candlewick", ("plimsoll", "candlewick")),
    (D, "Gleason Quimbrell", ("quimbrell",)),
]


@pytest.mark.parametrize(("channel", "text", "secrets"), SECOND_BATCH)
def test_no_input_of_the_second_batch_leaks(channel, text, secrets, pseudonymizer):
    assert _leaked(_run(channel, text, pseudonymizer), secrets) == []


#: inputs of the batch that leaked after round 12 (asserted as they came out then); round 13
#: (``test_adversarial_phi_12.py``) closed each: the identifier goes
KNOWN_LEAKS: list[tuple[str, str, tuple[str, ...]]] = [
    # a three-letter first name: title pairs and particles needed 4+ letters ("Zoë", "Ana")
    (T, "Zoë Quimbrellé", ("zoë", "quimbrellé")),
    (T, "tech Ana de la Quintavera", ("ana", "quintavera")),
    # a nickname in quotes between the two parts of a name in short text
    (T, "Zelda 'Zee' Farthingale", ("zelda", "zee", "farthingale")),
    # an initial glued to a surname in prose, after "copy to"
    (R, "Copy to zfarthingale (internal mail).", ("zfarthingale",)),
    # a French PO box and an Italian "Via" in short text ("via catheter" is still no street)
    (T, "Boîte postale 4815", ("4815",)),
    (T, "Via Quimbrella 12, interno 4", ("quimbrella",)),
    # Cyrillic initials after a surname
    (T, "Квимбрелл О.И.", ("квимбрелл",)),
    # an SSN with two spaces between its groups
    (T, "491  72  8154", ("8154",)),
]


@pytest.mark.parametrize(("channel", "text", "secrets"), KNOWN_LEAKS)
def test_the_known_leaks_of_round_12_are_closed(channel, text, secrets, pseudonymizer):
    assert _leaked(_run(channel, text, pseudonymizer), secrets) == []


#: what the new rules must leave as it is
STAYS: list[tuple[str, str]] = [
    (T, "Hi Res"),
    (T, "HI RES"),
    (T, "Hi Freq"),
    (T, "thank you"),
    (T, "Thanks Breast"),
    (T, "caused by E Coli"),
    (T, "van Gogh"),
    (T, "VAN GIESON STAIN"),
    (T, "VAN ROSEN PROJECTION"),
    (T, "Perdiguero de Burgos"),
    (T, "Ecografia de la Mama"),
    (D, "Biopsia de la Axila"),
    (T, "report.final"),
    (T, "breast_us"),
    (T, "user: admin"),
    (T, "UR quadrant"),
    (T, "DOB unknown"),
    (C, "Unit No 3"),
    (R, "Nurses present throughout."),
    (D, "Gleason Score"),
    (SD, "Hodgkin Lymphoma"),
    (SER, "Bosniak Category"),
    (D, "BERGER"),
    (S, "HOFFER Q"),
    (S, "CT SCANNER"),
    (S, "MR_ROOM2"),
    (T, "BMI = Wt / Ht ^ 2"),
    (T, "grace well-being"),
    (R, "May the first dose be given early."),
]


@pytest.mark.parametrize(("channel", "text"), STAYS)
def test_the_new_rules_leave_clinical_text(channel, text, pseudonymizer):
    assert _run(channel, text, pseudonymizer) == text


def test_the_new_rules_take_no_dicom_code_meaning():
    """pydicom's 18,495 code meanings (as written, in capitals, in small letters): none is
    an SSN with spaces, a spaced caret name, a name after ``by`` and one initial, a user
    name, a surname with particles, a greeted name, a small-letter double-barrelled name or
    initials beside a surname in a station name."""
    meanings = dicom_code_meanings()
    assert [m for m in meanings if " " in m and shapes._SSN.search(m)] == []
    assert [m for m in meanings if " ^ " in m and shapes.caret_names(m)] == []
    assert [m for m in meanings if shapes.by_initial_names(m)] == []
    assert [m for m in meanings if shapes.handle_names(m) or shapes.handle_names(m.lower())] == []
    assert [m for m in meanings if shapes.particle_names(m)] == []
    assert [m for m in meanings if shapes._greeted_names(m)] == []
    assert [m for m in meanings if shapes.lower_barrelled_names(m.lower())] == []
    assert [
        m
        for m in meanings
        if shapes._initialled_station_names(m) or shapes._initialled_station_names(m.upper())
    ] == []


# ------------------------------------------------------ through the command, in a process
_COMMAND_ATTACKS: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {
    "ssn": ({"TransducerData": "491 72 8154", "ImageComments": "SSN 491 72 8154"}, ("8154",)),
    "caret": ({"TransducerData": "QUIMBRELL ^ OTTOLINE"}, ("QUIMBRELL", "OTTOLINE")),
    "plural": ({"TransducerData": "sonographers zelda farthing"}, ("ZELDA", "FARTHING")),
    "by": ({"ProcessingFunction": "read by O Quimbrell"}, ("QUIMBRELL",)),
    "lines": ({"ImageComments": "Sonographer:\nZelda\nFarthing"}, ("ZELDA", "FARTHING")),
    "station": ({"StationName": "OJ_QUIMBRELL"}, ("QUIMBRELL",)),
    "greeting": ({"TransducerData": "Hi Ottoline, images attached"}, ("OTTOLINE",)),
    "handle": ({"TransducerData": "ottoline.quimbrell"}, ("QUIMBRELL",)),
    "ur": ({"TransducerData": "UR: 00481516"}, ("00481516",)),
    "cjk": ({"TransducerData": "担当 佐藤一郎"}, ("佐藤一郎",)),
    "eponym": ({"StudyDescription": "Gleason Score"}, ()),
}


def test_command_writes_none_of_the_round_12_attacks(tmp_path):
    """``cadbusi deidentify`` in its own process, the files in UTF-8 (ISO_IR 192): every file
    is written, no planted word is in what it holds, and an eponym's description stays."""
    found, out, rows = command_attacks(tmp_path, _COMMAND_ATTACKS)
    assert found == {}
    eponym = (out / rows["eponym"]["output_path"]).read_bytes()
    assert b"Gleason Score" in eponym
