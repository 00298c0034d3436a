"""Adversarial PHI tests, sixth round: the fifth round's known gaps, then more inputs of their
shapes (three scripts, relatives, staff, phones, addresses mixed in).

1. a relative's or staff member's first name that is also a word (``daughter Rose``,
   ``son Will``, ``per sonographer Joy``, ``hija rosa`` in lower case) in short unlisted text,
   descriptors and reports;
2. a lone name or a user name in a station name or an AE title (``US QUIMBY``,
   ``JSMITH-WS``, ``QUIMBY_US2``, ``ottoline.q``, ``OTTOLINE QUIMBY``), decided by the shapes
   devices take (products, room and device words, digits, acronyms) against name shapes;
3. a possessive before a clinical word in short text (``L12-5 Maria's probe``) against
   eponyms (``Cooper's ligaments``, ``Raynaud's disease``: ``records/data/eponyms.txt``).

The earlier rounds are :mod:`test_adversarial_phi_5` and :mod:`test_adversarial_phi_4`. Each
leak test fails on the code before its fix; the "stays" tests guard the device, product and
clinical strings the new rules must not take. All names, numbers and dates are invented
(phones 555-01xx, Ofcom drama numbers); the first names are common words on purpose.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydicom.uid import UID

from cadbusi_assets.deid.shapes import scrub_identifier_shapes
from cadbusi_assets.deid.text import scrub_descriptor_text
from cadbusi_assets.records.scrub import scrub_report_text
from cadbusi_assets_tests.deid.canary import canary_dataset
from cadbusi_assets_tests.deid.phi_support import (
    code_meaning_sequence,
    deidentify_in_process,
)
from cadbusi_assets_tests.deid.phi_support import leaked as _leaked
from cadbusi_assets_tests.deid.phi_support import seen as _seen
from cadbusi_assets_tests.deid.phi_support import through_channel as _run

# ------------------------------------------- 1. relatives and staff whose name is a word
_KIN_PAIRS = [
    ("daughter", "Rose"), ("son", "Will"), ("husband", "Guy"), ("wife", "Joy"),
    ("mother", "Hope"), ("sister", "Faith"), ("brother", "Bill"), ("niece", "Grace"),
    ("aunt", "Iris"), ("father", "Frank"), ("granddaughter", "Holly"), ("son", "Mark"),
    ("daughter", "May"), ("nephew", "Art"), ("partner", "Dawn"), ("hija", "Rosa"),
    ("hijo", "Pilar"), ("esposa", "Paz"), ("Tochter", "Rose"), ("Ehemann", "Frank"),
    ("fille", "Rose"), ("mère", "Joy"), ("madre", "Luz"), ("sœur", "Grace"),
    ("Schwester", "Iris"),
]  # fmt: skip
_STAFF = [
    ("nurse", "Faith"), ("sonographer", "Joy"), ("tech", "Will"), ("interpreter", "Guy"),
    ("chaperone", "Hope"), ("radiologist", "Grant"), ("technologist", "Dawn"),
    ("midwife", "Rose"),
]  # fmt: skip
_LOWER_KIN = [
    ("daughter", "rose"), ("wife", "joy"), ("husband", "guy"), ("hija", "rosa"),
    ("mother", "hope"), ("sister", "grace"), ("brother", "frank"), ("niece", "holly"),
]  # fmt: skip

KIN_LEAKS: list[tuple[str, str, tuple[str, ...]]] = []
for _i, (_kin, _name) in enumerate(_KIN_PAIRS):
    KIN_LEAKS.append(("hdr:TransducerData", f"{_kin} {_name}", (_name,)))
    KIN_LEAKS.append(("cm", f"per {_kin} {_name}", (_name,)))
    if _i % 2:
        KIN_LEAKS.append(("desc", f"US BREAST {_kin} {_name}", (_name,)))
    else:
        KIN_LEAKS.append(
            ("report", f"Patient accompanied by her {_kin} {_name} who translated.", (_name,))
        )
for _role, _name in _STAFF:
    KIN_LEAKS.append(("hdr:ProcessingFunction", f"per {_role} {_name}", (_name,)))
    KIN_LEAKS.append(("report", f"Scanned by {_role} {_name}; images reviewed.", (_name,)))
for _kin, _name in _LOWER_KIN:
    KIN_LEAKS.append(("report", f"called her {_kin} {_name} re results", (_name,)))
    KIN_LEAKS.append(("hdr:TransducerData", f"L12-5 {_kin} {_name}", (_name,)))
KIN_LEAKS += [
    ("hdr:TransducerData", "hija Ágata", ("ágata",)),
    ("hdr:TransducerData", "fille Noémie", ("noémie",)),
    ("hdr:TransducerData", "Tochter Jürgen", ("jürgen",)),
    ("hdr:TransducerData", "дочь Вера", ("вера",)),
    ("hdr:TransducerData", "муж Лев", ("лев",)),
    ("hdr:TransducerData", "сестра Надежда", ("надежда",)),
    ("hdr:TransducerData", "ابنة وردة", ("وردة",)),
    ("hdr:TransducerData", "زوج أمل", ("أمل",)),
    ("cm", "per дочь Любовь", ("любовь",)),
    ("cm", "per ابن سعيد", ("سعيد",)),
    ("report", "Accompanied by daughter Вера Кузнецова.", ("вера", "кузнецова")),
    ("desc", "US BREAST дочь Вера", ("вера",)),
    ("hdr:TransducerData", "son Will 555-0142", ("will", "0142")),
    ("hdr:TransducerData", "wife Joy, 12 Elm St", ("joy", "elm")),
    ("hdr:ManufacturerModelName", "husband Guy tel 555-0177", ("guy", "0177")),
    ("cm", "per mother Hope +44 20 7946 0018", ("hope", "7946")),
    ("report", "Son Will (555-0142) will drive her home.", ("will (", "0142")),
    ("report", "Her husband Guy, 14 Quillbrook Avenue, called.", ("guy", "quillbrook")),
    ("desc", "BREAST US per nurse Faith", ("faith",)),
    ("desc", "US BREAST FOR SON WILL", ("son will",)),
    ("hdr:StudyDescription", "US BREAST daughter Rose", ("rose",)),
    ("hdr:StudyDescription", "BREAST US hija Rosa", ("rosa",)),
    ("hdr:SeriesDescription", "per sonographer Joy", ("joy",)),
    ("hdr:TransducerData", "épouse Joy", ("joy",)),
    ("hdr:TransducerData", "daughter-in-law Rose", ("rose",)),
    ("hdr:TransducerData", "sister-in-law Grace", ("grace",)),
    ("hdr:TransducerData", "HIJA ROSA", ("rosa",)),
    ("hdr:TransducerData", "grandson Will", ("will",)),
]


@pytest.mark.parametrize(("channel", "text", "secrets"), KIN_LEAKS)
def test_a_relative_or_staff_name_that_is_a_word_is_removed(channel, text, secrets, pseudonymizer):
    """After a relative's or a role word, a capitalised first name that is also a word is a
    name (``daughter Rose``, ``son Will``: ``will`` and ``may`` were stop words); after a
    relative's word also in lower case (``hija rosa``); relatives' words in Cyrillic, Arabic
    and Hebrew script mark a name in short text too."""
    assert _leaked(_run(channel, text, pseudonymizer), secrets) == []


@pytest.mark.parametrize(
    ("channel", "text"),
    [
        ("report", "Her son will bring prior films."),
        ("report", "Her mother may attend next visit."),
        ("report", "Daughter rose to leave."),
        ("report", "Mother had breast cancer at 45."),
        ("report", "Sister had a cyst."),
        ("desc", "BREAST US WILL FOLLOW"),
        ("desc", "SON WILL CALL BACK"),
        ("desc", "MOTHER CELL"),
        ("hdr:TransducerData", "Son Valley cattle breed"),
        ("hdr:TransducerData", "Sister Chromatid"),
        ("hdr:TransducerData", "mother cell"),
        ("hdr:TransducerData", "daughter cyst"),
        ("hdr:TransducerData", "Insulin dependent mother (IDM)"),
    ],
)
def test_a_modal_verb_or_a_clinical_word_after_a_relative_stays(channel, text, pseudonymizer):
    assert _run(channel, text, pseudonymizer) == text


# --------------------------------------------------------- 2. people in device fields
DEVICE_LEAKS = [
    ("StationName", "US QUIMBY", ("quimby",)),
    ("StationName", "JSMITH-WS", ("jsmith",)),
    ("StationName", "QUIMBY_US2", ("quimby",)),
    ("StationName", "ottoline.q", ("ottoline",)),
    ("StationName", "OTTOLINE QUIMBY", ("ottoline", "quimby")),
    ("PerformedStationAETitle", "OTTOLINE QUIMBY", ("ottoline", "quimby")),
    ("ScheduledStationAETitle", "PIMBROOK_US", ("pimbrook",)),
    ("StationName", "US3 MARCHBANKS", ("marchbanks",)),
    ("StationName", "KWALCZYK-US", ("kwalczyk",)),
    ("StationName", "AJONES_WS2", ("ajones",)),
    ("StationName", "mgarcia-ws", ("mgarcia",)),
    ("StationName", "j.quimby", ("quimby",)),
    ("StationName", "ottoline.quimby", ("ottoline", "quimby")),
    ("StationName", "US-THISTLEWAITE", ("thistlewaite",)),
    ("StationName", "WS_PIMBROOK", ("pimbrook",)),
    ("PerformedStationName", "ZELDANA RAVELSTOKE", ("zeldana", "ravelstoke")),
    ("PerformedStationName", "US ROOM QUIMBY", ("quimby",)),
    ("DeviceDescription", "US QUIMBY", ("quimby",)),
    ("DeviceDescription", "Loaner JSMITH-WS", ("jsmith",)),
    ("StationName", "SMITHJ_US", ("smithj",)),
    ("StationName", "BWILLIAMS PACS", ("bwilliams",)),
    ("StationName", "US ŁUCZAK", ("łuczak",)),
    ("StationName", "US_MÜLLERSON", ("müllerson",)),
    ("StationName", "PEÑALOZA US1", ("peñaloza",)),
    ("StationName", "US КУЗНЕЦОВА", ("кузнецова",)),
    ("StationName", "ИВАНОВА_US1", ("иванова",)),
    ("StationName", "US محمود", ("محمود",)),
    ("StationName", "US1 DR QUIMBY 555-0142", ("quimby", "0142")),
    ("StationName", "US_QUIMBY_20250304", ("quimby", "20250304")),
    ("StationName", "Quimby_US2", ("quimby",)),
    ("StationName", "US Quimby", ("quimby",)),
    ("StationName", "ottoline_q", ("ottoline",)),
    ("StationName", "OTTOLINE-Q", ("ottoline",)),
    ("StationName", "US2-RAVELSTOKE", ("ravelstoke",)),
    ("StationName", "MAMMO QUIMBY", ("quimby",)),
]


@pytest.mark.parametrize(("keyword", "text", "secrets"), DEVICE_LEAKS)
def test_a_lone_name_or_a_user_name_in_a_device_field_is_removed(
    keyword, text, secrets, pseudonymizer
):
    """A segment of a station name or AE title that is a user name (an initial and a
    surname, a dotted one) or an unknown word that reads like a name beside a room or device
    word or another such word; accents and other scripts too."""
    assert _leaked(_run(f"hdr:{keyword}", text, pseudonymizer), secrets) == []


_STATIONS = (
    "US-ROOM3", "LOGIQE10-01", "US_PACS01", "EPIQ7G", "SBBC-US1", "LWI-EPIQ2", "NMC-USR4",
    "THORAVISION", "Computer001", "DR ROOM 2", "CT01_OC0", "GRACE US ROOM", "ACC 2",
    "US ROOM 3", "MAMMO US1", "BREAST US2", "US_EAST", "WS_PACS", "CONSOLE1", "US-PORTABLE",
    "SIEMENS ACUSON", "ACUSON S2000", "VOLUSON E10", "US WEST WING", "MAIN US", "UCSF_US1",
    "BIDMC_US2", "NYU-WS3", "MGH_US", "AWS1", "XPORTE", "LOGIQ_E10", "US SCANNER 2",
    "ECHO LAB", "WOMENS US", "ARIETTA_850", "ULTRASOUND 4", "RADWS01", "PACSWS", "MWL_SCP",
    "SONO_2", "TARINA", "VOMER BONE",
)  # fmt: skip


@pytest.mark.parametrize(
    ("keyword", "text"),
    [("StationName", t) for t in _STATIONS]
    + [
        ("DeviceSerialNumber", "123456US3"),
        ("PerformedStationAETitle", "US_PACS01"),
        ("ScheduledStationAETitle", "LOGIQ_E10_2"),
        ("PerformedStationAETitle", "STORESCP"),
        ("PerformedStationAETitle", "ORTHANC"),
        ("PerformedStationAETitle", "DCM4CHEE"),
        ("PerformedStationAETitle", "ANY-SCP"),
        ("PerformedStationAETitle", "CONQUESTSRV1"),
    ],
)
def test_device_names_stay(keyword, text, pseudonymizer):
    """Products, rooms, acronyms (SBBC, UCSF), models glued to digits, PACS services and a
    lone unknown word (THORAVISION, ORTHANC) are a device's name."""
    assert _run(f"hdr:{keyword}", text, pseudonymizer) == text


@pytest.mark.parametrize(
    "text", ["Haigis-L", "Targestar-B", "Biosafety level 2", "FL, Hadlock 1984", "Toric"]
)
def test_formula_and_product_variants_stay_in_a_station_value(text):
    """A title-case word and a letter is a formula's or a product's variant; a title-case
    word beside a lower-case room word is a description."""
    assert scrub_identifier_shapes(text, "station") == text


def test_the_station_rules_leave_dicom_code_meanings_as_before():
    """pydicom's code meanings through the station-name rules: the new device-name shapes
    change none of them (680 were changed by the older rules, mostly dates and titles)."""
    from pydicom.sr import _concepts_dict

    concepts: dict[str, dict[str, Any]] = _concepts_dict.concepts
    meanings = sorted(
        {
            meaning
            for scheme in concepts.values()
            for codes in scheme.values()
            for meaning, _ in codes.values()
        }
    )
    from cadbusi_assets.deid import shapes

    new = [m for m in meanings if shapes._device_names(m)]
    assert new == []


# ------------------------------------------------- 3. possessives in short text, eponyms
POSSESSIVE_LEAKS = [
    ("hdr:TransducerData", "L12-5 Maria's probe", ("maria",)),
    ("hdr:TransducerData", "Ottoline's probe", ("ottoline",)),
    ("hdr:TransducerData", "Quimby's transducer L12-5", ("quimby",)),
    ("hdr:TransducerData", "Anna's preset breast", ("anna",)),
    ("hdr:TransducerData", "Gwendolyn's settings", ("gwendolyn",)),
    ("hdr:TransducerData", "Dr room, Siobhan's cart", ("siobhan",)),
    ("hdr:TransducerData", "Jürgen's Sonde", ("jürgen",)),
    ("hdr:TransducerData", "Noémie's preset", ("noémie",)),
    ("hdr:TransducerData", "Rose's probe", ("rose",)),
    ("hdr:TransducerData", "Priyanka's L12-5", ("priyanka",)),
    ("hdr:TransducerData", "Bronwen's preset 3", ("bronwen",)),
    ("hdr:TransducerData", "Marchbanks's probe", ("marchbanks",)),
    ("hdr:TransducerData", "Kowalski's ML6-15", ("kowalski",)),
    ("hdr:TransducerData", "Malgorzata’s preset", ("malgorzata",)),
    ("cm", "Maria's breast preset", ("maria",)),
    ("cm", "Siobhan's protocol", ("siobhan",)),
]


@pytest.mark.parametrize(("channel", "text", "secrets"), POSSESSIVE_LEAKS)
def test_a_person_s_possessive_in_short_text_is_removed(channel, text, secrets, pseudonymizer):
    """A names-list word + 's unless an eponym or before what an eponym names; an unknown
    word + 's before a probe, a preset or a model code."""
    assert _leaked(_run(channel, text, pseudonymizer), secrets) == []


EPONYMS = [
    "Cooper's ligaments", "Paget's disease", "Montgomery's tubercles", "Hodgkin's lymphoma",
    "Towne's projection", "Mondor's disease", "Poland's syndrome", "Cowden's syndrome",
    "Waters's view", "Morgagni's tubercles", "Bloom's grade", "Down's syndrome",
    "Crohn's disease", "Graves' disease", "Bartholin's gland", "Stensen's duct",
    "Wharton's jelly", "Cushing's syndrome", "Addison's disease", "Hashimoto's thyroiditis",
    "Kaposi's sarcoma", "Ewing's sarcoma", "Wilms' tumor", "Meckel's diverticulum",
    "Baker's cyst", "Morton's neuroma", "Paget's disease of the nipple", "Rotter's nodes",
    "Halsted's mastectomy", "Patey's mastectomy", "Langer's lines", "Tanner's stage",
    "Virchow's node", "Raynaud's disease", "Boyd's perforating vein", "Moran's I Index",
]  # fmt: skip


@pytest.mark.parametrize("text", EPONYMS)
def test_eponyms_in_short_text_stay(text, pseudonymizer):
    assert _run("hdr:TransducerData", text, pseudonymizer) == text


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Montgomery's tubercles are prominent.", "Montgomery's tubercles are prominent."),
        ("US BREAST MONTGOMERY'S TUBERCLES", "US BREAST MONTGOMERY'S TUBERCLES"),
        ("Raynaud's disease", "Raynaud's disease"),
        ("superior optic radiation (Baum's loop)", "superior optic radiation (Baum's loop)"),
    ],
)
def test_an_eponym_s_possessive_stays_in_reports_and_descriptors(text, kept):
    """The report scrubber took a names-list eponym's possessive for a name."""
    assert scrub_report_text(text, identifiers=(), date_shift_days=0) == kept
    assert scrub_descriptor_text(text) == kept


def test_an_eponym_after_a_title_or_before_a_relative_is_still_a_name():
    for text in ("Mrs Montgomery's daughter called", "Montgomery's daughter called"):
        out = scrub_report_text(text, identifiers=(), date_shift_days=0)
        assert "montgomery" not in _seen(out), out
        assert "montgomery" not in _seen(scrub_identifier_shapes(text)), text


def test_the_eponym_list_is_lower_case_ascii():
    from cadbusi_assets.records.vocabulary import eponym_words

    words = eponym_words()
    assert {"cooper", "paget", "montgomery", "raynaud"} <= words
    assert all(w.isascii() and w.islower() and w.isalpha() for w in words)
    assert not {"mary", "smith", "maria", "anna"} & words  # first names and frequent surnames


# ------------------------------------------------------ through the command, in a process
_COMMAND_ATTACKS: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {
    "kin": (
        {
            "TransducerData": "daughter Rose",
            "ProcessingFunction": "per tech Will",
            "ManufacturerModelName": "L12-5 hija rosa",
        },
        ("ROSE", "WILL", "ROSA"),
    ),
    "descriptors": (
        {"StudyDescription": "US BREAST son Will", "SeriesDescription": "per sonographer Joy"},
        ("WILL", "JOY"),
    ),
    "station": ({"StationName": "US QUIMBRELL"}, ("QUIMBRELL",)),
    "user": ({"StationName": "JPIMBROOK-WS"}, ("PIMBROOK",)),
    "ae": (
        {"StationName": "QUIMBRELL_US2", "DeviceDescription": "OTTOLINDA QUIMBRELL"},
        ("QUIMBRELL", "OTTOLINDA"),
    ),
    "dotted": ({"StationName": "ottolinda.q"}, ("OTTOLINDA",)),
    "possessive": (
        {
            "TransducerData": "L12-5 Maria's probe",
            "ManufacturerModelName": "Quimbrell's transducer",
        },
        ("MARIA", "QUIMBRELL"),
    ),
    "code": ({}, ("ROSE", "GRACE")),
}


def test_command_writes_none_of_the_round_6_attacks(tmp_path):
    """``cadbusi deidentify`` in its own process: a relative's or staff member's name that is
    a word in short text and descriptors, people in station names, a possessive in short text
    and in a code meaning; every file is written and no planted word is in its bytes."""
    source, out = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    for name, (values, _) in _COMMAND_ATTACKS.items():
        ds = canary_dataset(colour=False)
        for keyword, value in values.items():
            setattr(ds, keyword, value)
        if name == "code":
            ds.ProcedureCodeSequence = code_meaning_sequence("per daughter Rose, niece Grace")
        uid = UID(f"{ds.SOPInstanceUID}.{len(name)}{sum(map(ord, name))}")
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid
        ds.save_as(source / f"{name}.dcm", enforce_file_format=True)
    _, rows, _ = deidentify_in_process(tmp_path, source, out, set(_COMMAND_ATTACKS))
    for name, row in rows.items():
        data = (out / row["output_path"]).read_bytes().upper()
        words = _COMMAND_ATTACKS[name][1]
        assert not [w for w in words if w.encode() in data], name
