"""Adversarial PHI tests, eleventh round: the tenth round's known gaps, then more inputs of
new shapes (staff with roles in several languages; relatives in Spanish, Portuguese, Polish,
Turkish, Vietnamese, Korean and Hindi; phones with country codes and odd separators;
addresses with unit numbers; names split across DICOM components or lines; initials with
surnames; names in bracketed comments).

1. a lower-case name after a role word when a lower-case surname follows it (``sonographer
   zelda farthing``, ``scanned by tech ottoline plimsoll``; ``sonographer present`` stays);
2. two title-case words that both read like a person's name in short text and descriptors
   (``Ottoline Quimbrell L breast``; no eponym, product, Latin or clinical word, no
   description: ``Globus Pallidus``, ``Acuson Sequoia``, breeds stay);
3. an unlabelled SSN shape (``491-72-8154``) in short text and station values (no serial
   number);
4. ``son tom-tom drum`` is no longer taken for a name (a word doubled with a dash);
5. DICOM person names written into short text (``QUIMBRELL^OTTOLINE^^DR``; an isotope's
   ``Tc^99m^`` stays), initials with a surname, staff roles and relatives in more languages
   and scripts (Devanagari, Hangul), streets written type first (``Rua das Flores 123``),
   phones with slashes or middle dots.

Known gaps left (no test): a lone station word with no surname's shape (``PENHALIGON``), a
place that is a surname (``BUTTERWORTH``), an initial glued or spaced in a station name
(``O QUIMBRELL``, ``OJ_QUIMBRELL``), a name split over lines after a signature label, an SSN
written with spaces (``491 72 8154``), two lower-case words with no cue (``ottoline
quimbrell``), a caret with spaces around it, a plural role word (``sonographers zelda
farthing``), an initial without a dot after ``by`` (``read by O Quimbrell``), the names-list
words a descriptor takes beside a clinical word (``Gleason Score``, ``Hodgkin Lymphoma``:
over-scrubbed, as before this round). The earlier rounds are ``test_adversarial_phi_9`` and
before. All names, numbers and dates are invented (phones 555-01xx).
"""

from __future__ import annotations

import pytest

from cadbusi_assets.deid import shapes
from cadbusi_assets.deid.shapes import scrub_identifier_shapes
from cadbusi_assets.deid.text import scrub_descriptor_text
from cadbusi_assets_tests.deid.phi_support import command_attacks, dicom_code_meanings
from cadbusi_assets_tests.deid.phi_support import leaked as _leaked
from cadbusi_assets_tests.deid.phi_support import through_channel as _run

R, D, C = "report", "desc", "cm"
T, P = "hdr:TransducerData", "hdr:ProcessingFunction"
S, A = "hdr:StationName", "hdr:PerformedStationAETitle"
DD, IC = "hdr:DeviceDescription", "hdr:ImageComments"
SD, SER = "hdr:StudyDescription", "hdr:SeriesDescription"

# ------------------------------------------------------ the tenth round's known gaps
ROUND_10_GAPS: list[tuple[str, str, tuple[str, ...]]] = [
    (T, "sonographer zelda farthing", ("zelda", "farthing")),
    (C, "sonographer zelda farthing", ("zelda", "farthing")),
    (T, "scanned by tech ottoline plimsoll", ("ottoline", "plimsoll")),
    (S, "tech ottoline plimsoll", ("ottoline", "plimsoll")),
    (D, "Ottoline Quimbrell L breast", ("ottoline", "quimbrell")),
    (T, "Ottoline Quimbrell L breast", ("ottoline", "quimbrell")),
    (T, "491-72-8154", ("8154",)),
    (C, "491-72-8154", ("8154",)),
    (S, "491-72-8154", ("8154",)),
]


@pytest.mark.parametrize(("channel", "text", "secrets"), ROUND_10_GAPS)
def test_the_round_10_gaps_are_closed(channel, text, secrets, pseudonymizer):
    assert _leaked(_run(channel, text, pseudonymizer), secrets) == []


@pytest.mark.parametrize("channel", [T, C, R, IC, D])
def test_a_word_doubled_with_a_dash_is_no_name_after_a_relative(channel, pseudonymizer):
    """``son tom-tom drum``: ``tom`` after ``son`` is a first name, but not doubled."""
    assert _run(channel, "son tom-tom drum", pseudonymizer) == "son tom-tom drum"
    assert _leaked(_run(channel, "son tom farthing", pseudonymizer), ("farthing",)) == []


def test_a_role_word_needs_two_lower_case_words():
    """After a role word (no relative) a lower-case word is a name only with a lower-case
    surname after it; one word, a verb or a clinical word stays."""
    assert scrub_identifier_shapes("sonographer zelda farthing") == "sonographer [name] [name]"
    for text in ("sonographer present", "sonographer zelda", "tech note", "nurse present"):
        assert scrub_identifier_shapes(text) == text
    for text in ("radiologist review pending", "technologist performed exam"):
        assert scrub_identifier_shapes(text) == text


def test_an_ssn_shape_is_taken_whole_and_not_from_a_serial_number():
    assert scrub_identifier_shapes("491-72-8154") == "[id]"
    assert scrub_identifier_shapes("US1 491-72-8154", "station") == "US1 [id]"
    assert scrub_identifier_shapes("491-72-8154", "serial") == "491-72-8154"
    for text in ("123-45-678", "2019-05-1234", "123-45-6789012", "1-2-3-4"):
        assert scrub_identifier_shapes(text) == text


def test_title_case_name_pairs_in_a_descriptor():
    assert scrub_descriptor_text("Ottoline Quimbrell L breast") == "[NAME] L breast"
    assert scrub_descriptor_text("L breast Ottoline Zelda Quimbrell") == "L breast [NAME]"
    for text in ("Acuson Sequoia", "Toshiba Aplio", "Samsung Medison", "Globus Pallidus"):
        assert scrub_descriptor_text(text) == text
        assert scrub_identifier_shapes(text) == text
    assert scrub_descriptor_text("OTTOLINE QUIMBRELL") == "OTTOLINE QUIMBRELL"  # capitals


# ------------------------------------------------------------- the round-11 adversary
ADVERSARY: list[tuple[str, str, tuple[str, ...]]] = [
    (T, "radiologist ignatius quimbrell", ("ignatius", "quimbrell")),
    (C, "performed by technologist philippa quarrington", ("philippa", "quarrington")),
    (T, "sonographer: zelda farthing", ("zelda", "farthing")),
    (T, "nurse ottoline plimsoll", ("ottoline", "plimsoll")),
    (T, "resident bartholomew quimbrell", ("bartholomew", "quimbrell")),
    (IC, "técnico Joaquín Quimbrell", ("joaquín", "quimbrell")),
    (IC, "médico: Dra. Ximena Ñúñez", ("ximena", "ñúñez")),
    (T, "enfermera Ximena Quimbrell", ("ximena", "quimbrell")),
    (T, "Radiologe Dr. Jördis Quimbrell", ("jördis", "quimbrell")),
    (T, "MTRA Jördis Quimbrell", ("jördis", "quimbrell")),
    (T, "technik Zbigniew Quimbrell", ("zbigniew", "quimbrell")),
    (T, "lekarz Zbigniew Kwiatkowski", ("zbigniew", "kwiatkowski")),
    (T, "échographiste Amélie Quimbrell", ("amélie", "quimbrell")),
    (T, "manipulatrice Amélie Quimbrell", ("amélie", "quimbrell")),
    (T, "ecografista Giulietta Quimbrell", ("giulietta", "quimbrell")),
    (T, "hemşire Ayşegül Yılmazer", ("ayşegül", "yılmazer")),
    (T, "doktor Mehmet Öztürkoğlu", ("mehmet", "öztürkoğlu")),
    (T, "bác sĩ Nguyễn Thị Hoa", ("nguyễn", "hoa")),
    (T, "kỹ thuật viên Trần Văn Bình", ("trần", "bình")),
    (T, "의사 박지훈", ("박지훈",)),
    (T, "간호사 최유리", ("최유리",)),
    (T, "डॉ. राजेश कुमार", ("राजेश", "कुमार")),
    (T, "डॉक्टर सुनीता शर्मा", ("सुनीता", "शर्मा")),
    (T, "Врач Ольга Квимби", ("ольга", "квимби")),
    (T, "медсестра Ольга Квимби", ("ольга", "квимби")),
    (T, "hija: Ximena Quimbrell", ("ximena", "quimbrell")),
    (T, "esposo joaquín quimbrell", ("joaquín", "quimbrell")),
    (R, "Acompañada por su hija Ximena Quimbrell.", ("ximena", "quimbrell")),
    (T, "madre Ximena Ñúñez", ("ximena", "ñúñez")),
    (T, "filha Conceição Quimbrell", ("conceição", "quimbrell")),
    (T, "marido João Quimbrell", ("joão", "quimbrell")),
    (IC, "mãe: Conceição Quimbrell", ("conceição", "quimbrell")),
    (T, "córka Małgorzata Kwiatkowska", ("małgorzata", "kwiatkowska")),
    (T, "mąż Grzegorz Kwiatkowski", ("grzegorz", "kwiatkowski")),
    (T, "siostra Małgorzata Quimbrell", ("małgorzata", "quimbrell")),
    (T, "kızı Ayşegül Yılmazer", ("ayşegül", "yılmazer")),
    (T, "eşi Mehmet Öztürkoğlu", ("mehmet", "öztürkoğlu")),
    (T, "annesi Fatma Yılmazer", ("fatma", "yılmazer")),
    (T, "con gái Nguyễn Thị Hoa", ("nguyễn", "hoa")),
    (T, "chồng Trần Văn Bình", ("trần", "bình")),
    (T, "딸 박지은", ("박지은",)),
    (T, "남편: 최민수", ("최민수",)),
    (T, "어머니 김순자", ("김순자",)),
    (T, "बेटी प्रिया शर्मा", ("प्रिया", "शर्मा")),
    (T, "पति राजेश कुमार", ("राजेश", "कुमार")),
    (T, "माँ सुनीता देवी", ("सुनीता",)),
    (T, "+44 (0)20 7946 0958", ("7946", "0958")),
    (T, "tel +48-22-555-01-42", ("555-01-42",)),
    (T, "+90 212 555 01 42", ("555 01 42",)),
    (T, "+84 28 3555 0142", ("3555 0142",)),
    (T, "+82-2-555-0142", ("555-0142",)),
    (T, "+91 98765 43210", ("98765", "43210")),
    (T, "(+351) 912 345 678", ("912 345 678",)),
    (IC, "call 555.0142 ext. 12", ("555.0142",)),
    (T, "+1/555/0142/987", ("0142",)),
    (T, "tel 555 / 0142", ("0142",)),
    (IC, "Tel.: 0048 22 555 01 42", ("555 01 42",)),
    (T, "+44 7700·900123", ("900123",)),
    (T, "+49 (0) 30 555 01 42", ("555 01 42",)),
    (T, "Apt 4B, 221 Quimbrell Street", ("quimbrell street",)),
    (IC, "Unit 12/45 Farthing Road, Leeds LS1 4AB", ("farthing road", "ls1 4ab")),
    (R, "Lives at Flat 3, 17 Plimsoll Lane.", ("plimsoll lane",)),
    (T, "#4-12 Quimbrell Ave", ("quimbrell ave",)),
    (IC, "Suite 200, 45 Farthing Blvd", ("farthing blvd",)),
    (T, "Calle Ñúñez 12, 3º B", ("ñúñez",)),
    (T, "ul. Kwiatowa 7 m. 12", ("kwiatowa",)),
    (T, "Rua das Flores 123, apto 45", ("rua das flores",)),
    (IC, "QUIMBRELL^\nOTTOLINE", ("quimbrell", "ottoline")),
    (T, "QUIMBRELL^OTTOLINE^^DR", ("quimbrell", "ottoline")),
    (T, "Quimbrell^Ottoline=クィンブレル^オットリン", ("quimbrell", "ottoline", "クィンブレル")),
    (C, "Quimbrell^Ottoline", ("quimbrell", "ottoline")),
    (IC, "Dr.\r\nQuimbrell", ("quimbrell",)),
    (R, "Dr. Ottoline\nQuimbrell reviewed.", ("ottoline", "quimbrell")),
    (T, "^OTTOLINE QUIMBRELL", ("ottoline", "quimbrell")),
    (T, "O. Quimbrell", ("quimbrell",)),
    (T, "O.Q. Quimbrell", ("quimbrell",)),
    (T, "Quimbrell O.", ("quimbrell",)),
    (T, "Quimbrell, O.J.", ("quimbrell",)),
    (T, "Dr O.J. Quimbrell", ("quimbrell",)),
    (T, "sonographer O. Farthing", ("farthing",)),
    (IC, "Scanned by Z. Farthing RDMS", ("farthing",)),
    (T, "[sonographer: Zelda Farthing]", ("zelda", "farthing")),
    (T, "{tech Ottoline Quimbrell}", ("ottoline", "quimbrell")),
    (C, "L breast <Ottoline Quimbrell>", ("ottoline", "quimbrell")),
    (T, "L breast [per Dr Quimbrell]", ("quimbrell",)),
    (IC, "US BREAST (daughter Zelda present)", ("zelda",)),
    (T, "(Ottoline Quimbrell)", ("ottoline", "quimbrell")),
    (T, "[[Ottoline Quimbrell]]", ("ottoline", "quimbrell")),
    (R, "Findings [called to Dr. Quimbrell 3pm].", ("quimbrell",)),
    (T, "«Ottoline Quimbrell»", ("ottoline", "quimbrell")),
    (T, "pt 491-72-8154", ("8154",)),
    (C, "US BREAST 491-72-8154", ("8154",)),
    (S, "US1 491-72-8154", ("8154",)),
    (T, "SSN# 491728154", ("491728154",)),
    (D, "Ottoline Quimbrell", ("ottoline", "quimbrell")),
    (SD, "US Breast Ottoline Quimbrell", ("ottoline", "quimbrell")),
    (T, "Bartholomew Quimbrell", ("bartholomew", "quimbrell")),
]


@pytest.mark.parametrize(("channel", "text", "secrets"), ADVERSARY)
def test_no_round_11_input_leaks(channel, text, secrets, pseudonymizer):
    assert _leaked(_run(channel, text, pseudonymizer), secrets) == []


#: a second batch aimed at the new rules (a colon after the role, two spaces, a possessive,
#: carets at the end, an en dash, initials glued, Hindi and Korean with a colon)
SECOND_BATCH: list[tuple[str, str, tuple[str, ...]]] = [
    (T, "sonographer: zelda farthing", ("zelda", "farthing")),
    (C, "radiologist ottoline quimbrell", ("ottoline", "quimbrell")),
    (T, "Ottoline  Quimbrell", ("ottoline", "quimbrell")),
    (T, "Ottoline Quimbrell's probe", ("ottoline", "quimbrell")),
    (SER, "Ottoline Quimbrell R breast", ("ottoline", "quimbrell")),
    (D, "L breast Ottoline Zelda Quimbrell", ("ottoline", "quimbrell")),
    (T, "Quimbrell^O", ("quimbrell",)),
    (T, "QUIMBRELL^OTTOLINE^^^", ("quimbrell", "ottoline")),
    (T, "van der Quimbrell^Ottoline", ("quimbrell", "ottoline")),
    (T, "491–72–8154", ("8154",)),
    (T, "SSN 491-72-8154", ("8154",)),
    (S, "491-72-8154_US", ("8154",)),
    (T, "O.J.Quimbrell", ("quimbrell",)),
    (T, "Dr. O. J. Quimbrell", ("quimbrell",)),
    (T, "tech O.J. Farthing", ("farthing",)),
    (T, "पुत्री: प्रिया", ("प्रिया",)),
    (T, "श्रीमती सुनीता शर्मा", ("सुनीता", "शर्मा")),
    (T, "Avda. de la Paz 23", ("la paz",)),
    (T, "Rua Augusta, 45", ("augusta",)),
    (T, "ul. Długa 12", ("długa",)),
    (T, "tel. +48 22/555 01 42", ("555 01 42",)),
    (T, "+7 (495) 555-01-42", ("555-01-42",)),
    (T, "enfermera: Ximena", ("ximena",)),
    (T, "Врач: Ольга Квимби", ("ольга", "квимби")),
    (T, "간호사: 최유리", ("최유리",)),
    (T, "hemşire Ayşe", ("ayşe",)),
    (T, "con trai Lê Minh", ("minh",)),
    (IC, "[tech: Zelda Farthing]", ("zelda", "farthing")),
    (T, "(sonographer zelda farthing)", ("zelda", "farthing")),
]


@pytest.mark.parametrize(("channel", "text", "secrets"), SECOND_BATCH)
def test_no_input_of_the_second_batch_leaks(channel, text, secrets, pseudonymizer):
    assert _leaked(_run(channel, text, pseudonymizer), secrets) == []


#: what the new rules must leave as it is: role words before clinical words, products,
#: probes, eponyms, organisms, isotopes, scores, numbers near an SSN's shape, "via"
STAYS: list[tuple[str, str]] = [
    (T, "son tom-tom drum"),
    (T, "sonographer present"),
    (T, "tech note"),
    (C, "Physician assistant"),
    (T, "radiologist review pending"),
    (T, "sonographer reviewed images"),
    (T, "technologist performed exam"),
    (C, "Nurse practitioner"),
    (T, "L12-5 linear"),
    (T, "ML6-15 breast"),
    (C, "Voluson E10"),
    (T, "Acuson Sequoia"),
    (T, "Aplio i800"),
    (T, "Logiq E9"),
    (T, "US Breast Left"),
    (T, "123-45-678"),
    (T, "1-2-3"),
    (T, "2019-05-1234"),
    (S, "US1-123-45"),
    (T, "tom-tom"),
    (T, "so-so"),
    (T, "pom-pom"),
    (R, "Son plays a tom-tom drum."),
    (T, "Candida albicans"),
    (T, "Staphylococcus aureus"),
    (D, "Hounsfield unit"),
    (D, "Agatston score"),
    (T, "Tc^99m^ sestamibi"),
    (C, "^99m^Technetium"),
    (T, "Broselow tape"),
    (D, "Kaposi Sarcoma"),
    (T, "Acuson Sequoia"),
    (T, "Logiq Book"),
    (T, "Voluson Swift"),
    (D, "Apgar Score"),
    (D, "Breslow Thickness"),
    (D, "Nottingham Grade"),
    (D, "Tanner Stage"),
    (D, "Fleischner Society"),
    (D, "Pulsed Wave Doppler"),
    (T, "Aixplorer Mach 30"),
    (T, "Resona 7"),
    (T, "Hitachi Arietta"),
    (T, "Canon Aplio i800"),
    (D, "Breast Elastography"),
    (T, "sonographer review"),
    (T, "technologist notified radiologist"),
    (C, "tech support"),
    (T, "nurse present"),
    (T, "T.I.R.A.D.S. score"),
    (T, "B. henselae"),
    (T, "E. coli"),
    (T, "S. aureus infection"),
    (T, "U.S. Breast"),
    (T, "1-2-3-4"),
    (T, "123-45-6789012"),
    (S, "US-123-45-6789"),
    (T, "calle 3"),
    (T, "via catheter 12"),
    (D, "Mammary Duct Ectasia"),
    (D, "Fibroadenoma Left Breast"),
    (D, "Cooper Ligaments"),
    (D, "Paget Disease"),
    (D, "Mondor Disease"),
]


@pytest.mark.parametrize(("channel", "text"), STAYS)
def test_products_eponyms_isotopes_and_clinical_words_stay(channel, text, pseudonymizer):
    assert _run(channel, text, pseudonymizer) == text


def test_the_new_rules_take_no_dicom_code_meaning():
    """pydicom's 18,495 code meanings: no title-case name pair (breeds, Latin structures,
    isotopes and tapes are no names), no initialled name, no caret name (``Tc^99m^``), no
    SSN's shape and no street; through the short-text rules none changes."""
    meanings = dicom_code_meanings()
    assert [m for m in meanings if shapes.title_name_pairs(m)] == []
    assert [m for m in meanings if shapes.initialled_names(m)] == []
    assert [m for m in meanings if "^" in m and shapes._caret_names(m)] == []
    assert [m for m in meanings if shapes._SSN.search(m)] == []
    assert [m for m in meanings if shapes._STREET_TYPE_FIRST.search(m)] == []
    assert [m for m in meanings if scrub_identifier_shapes(m, "text") != m] == []


# ------------------------------------------------------ through the command, in a process
_COMMAND_ATTACKS: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {
    "role": ({"TransducerData": "sonographer zelda farthing"}, ("ZELDA", "FARTHING")),
    "pair": (
        {
            "SeriesDescription": "Ottoline Quimbrell L breast",
            "ProcessingFunction": "Ottoline Quimbrell",
        },
        ("OTTOLINE", "QUIMBRELL"),
    ),
    "ssn": ({"TransducerData": "491-72-8154", "StationName": "US1 491-72-8154"}, ("8154",)),
    "caret": ({"TransducerData": "QUIMBRELL^OTTOLINE^^DR"}, ("QUIMBRELL", "OTTOLINE")),
    "initials": (
        {"ProcessingFunction": "Dr O.J. Quimbrell", "TransducerData": "Quimbrell, O.J."},
        ("QUIMBRELL",),
    ),
    "turkish": ({"TransducerData": "kızı Ayşegül Yılmazer"}, ("AYŞEGÜL", "YILMAZER")),
    "vietnamese": ({"TransducerData": "con gái Nguyễn Thị Hoa"}, ("NGUYỄN",)),
    "hindi": ({"TransducerData": "बेटी प्रिया शर्मा"}, ("प्रिया", "शर्मा")),
    "korean": ({"TransducerData": "간호사 최유리"}, ("최유리",)),
    "street": ({"TransducerData": "Rua das Flores 123, apto 45"}, ("FLORES",)),
    "phone": ({"TransducerData": "+44 7700·900123"}, ("900123",)),
    "bracket": ({"TransducerData": "[sonographer: Zelda Farthing]"}, ("ZELDA", "FARTHING")),
    "isotope": ({"TransducerData": "Tc^99m^ sestamibi"}, ()),
}


def test_command_writes_none_of_the_round_11_attacks(tmp_path):
    """``cadbusi deidentify`` in its own process, the files in UTF-8 (ISO_IR 192): every file
    is written, no planted word is in what it holds, and an isotope keeps its carets."""
    found, out, rows = command_attacks(tmp_path, _COMMAND_ATTACKS)
    assert found == {}
    isotope = (out / rows["isotope"]["output_path"]).read_bytes()
    assert b"Tc^99m^ sestamibi" in isotope
