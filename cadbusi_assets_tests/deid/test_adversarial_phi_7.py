"""Adversarial PHI tests, seventh round: the sixth round's known gaps, then more inputs of their
shapes (Latin, Cyrillic, CJK and Hangul script; phones and addresses mixed in).

1. relations abbreviated with a slash (``d/o Rose``, ``s/o Will``, ``w/o Guy``, ``C/O``: daughter
   of, son of, wife of, care of) against "without" and "complains of" (``w/o contrast``,
   ``c/o pain``, ``C/O SOB``);
2. a name beside a relative's or role word in parentheses (``daughter (Rose)``,
   ``Rose (daughter) called``) against an abbreviation defined there (``mother (IDM)``);
3. a nursing or sonography credential before a name (``RN Faith``, ``NP Joy``, ``PA-C Hope``)
   against ``NP discharge``, ``RN note``, ``PA view``; in short text a name before one
   (``Jane Quimby, MD``, ``Faith RN``) against ``L12-5 Linear MD``, ``CT MD``;
4. in station names and AE titles: an initial as its own segment (``J_SMITH_WS``), an initial
   glued to a surname no list has (``KQUIMBY``), a Hangul or CJK name beside a device or room
   word (``US 김민준``, ``超声 王伟``, ``US 山田太郎``);
5. over-scrubbing of the sixth round: ``daughter grace period``, ``US SON VALLEY``, ``Insulin
   dependent mother (IDM)`` in a report.

Known gaps left (no test): a lone unknown word as an AE title (``RAVELSTOKE``, ``QUARRINGTON``:
that is how AE titles look, ``ORTHANC``, ``STORESCP``), an initial glued to a surname that is an
English word (``JPLIMSOLL``), a lower-case surname that is a word after a lower-case name
(``d/o zelda plimsoll``), a name in parentheses after a CJK relative's word (``娘 (Rose)``).
The earlier rounds are :mod:`test_adversarial_phi_6` and before. All names, numbers and dates
are invented (phones 555-01xx); the first names are common words on purpose.
"""

from __future__ import annotations

import pytest
from pydicom.dataset import Dataset

from cadbusi_assets.deid.shapes import scrub_identifier_shapes
from cadbusi_assets.records.scrub import scrub_report_text
from cadbusi_assets_tests.deid.phi_support import (
    code_meaning_sequence,
    command_attacks,
    dicom_code_meanings,
)
from cadbusi_assets_tests.deid.phi_support import leaked as _leaked
from cadbusi_assets_tests.deid.phi_support import through_channel as _run

# ------------------------------------------------------- the sixth round's known gaps
ROUND_6_GAPS: list[tuple[str, str, tuple[str, ...]]] = [
    ("report", "Seen with d/o Rose today.", ("rose",)),
    ("report", "s/o Will present.", ("will",)),
    ("report", "w/o Guy came.", ("guy",)),
    ("report", "Rose (daughter) called with questions.", ("rose",)),
    ("report", "Images reviewed with RN Faith.", ("faith",)),
    ("report", "NP Joy discussed results.", ("joy",)),
    ("report", "PA-C Hope present.", ("hope",)),
    ("hdr:TransducerData", "d/o Rose", ("rose",)),
    ("hdr:TransducerData", "s/o Will", ("will",)),
    ("hdr:TransducerData", "w/o Guy", ("guy",)),
    ("hdr:TransducerData", "D/O ROSE KUMAR", ("rose", "kumar")),
    ("hdr:TransducerData", "C/O Rose Kumar", ("rose", "kumar")),
    ("hdr:TransducerData", "daughter (Rose)", ("rose",)),
    ("hdr:TransducerData", "Rose (daughter)", ("rose",)),
    ("hdr:TransducerData", "RN Faith", ("faith",)),
    ("hdr:TransducerData", "NP Joy", ("joy",)),
    ("hdr:TransducerData", "PA-C Hope", ("hope",)),
    ("cm", "per d/o Rose", ("rose",)),
    ("desc", "US BREAST d/o Rose", ("rose",)),
    ("desc", "US BREAST RN Faith", ("faith",)),
    ("hdr:StationName", "KQUIMBY", ("kquimby",)),
    ("hdr:StationName", "J_SMITH_WS", ("smith",)),
    ("hdr:StationName", "US 김민준", ("김민준",)),
    ("hdr:StationName", "超声 王伟", ("王伟",)),
    ("hdr:StationName", "US 山田太郎", ("山田太郎",)),
]


@pytest.mark.parametrize(("channel", "text", "secrets"), ROUND_6_GAPS)
def test_the_round_6_gaps_are_closed(channel, text, secrets, pseudonymizer):
    assert _leaked(_run(channel, text, pseudonymizer), secrets) == []


@pytest.mark.parametrize(
    ("channel", "text"),
    [
        ("report", "The patient's daughter grace period noted."),
        ("report", "Son Valley was the cattle breed."),
        ("report", "Insulin dependent mother (IDM) noted."),
        ("desc", "US SON VALLEY"),
        ("desc", "daughter grace period"),
        ("hdr:TransducerData", "daughter grace period"),
    ],
)
def test_the_round_6_over_scrubbing_is_gone(channel, text, pseudonymizer):
    """A first name that is also a word in a compound (``grace period``), a place that is no
    person's name after a relative's word (``SON VALLEY``) and an abbreviation defined in
    parentheses after a relative's word (``mother (IDM)``) stay."""
    assert _run(channel, text, pseudonymizer) == text


# ------------------------------------------------------------- the round-7 adversary
SLASH_LEAKS: list[tuple[str, str, tuple[str, ...]]] = [
    ("report", "Informant: s/o Will, phone 555-0148.", ("will", "0148")),
    ("report", "Accompanied by w/o Frank today.", ("frank",)),
    ("report", "Address c/o Joy Abernathy, 22 Lantern Lane.", ("joy", "abernathy", "lantern")),
    ("report", "Consent signed by D/o Iris Fernandes.", ("iris", "fernandes")),
    ("report", "History given by S/O BILL.", ("bill",)),
    ("report", "Seen with her d/o Holly.", ("holly",)),
    ("report", "Pt is w/o Guy Pereira (husband).", ("guy", "pereira")),
    (
        "report",
        "Mrs. Kumari d/o Dawn Sharma, resident of 4 Tamarind Road.",
        ("dawn", "sharma", "tamarind"),
    ),
    ("report", "Translated by s/o Mark, tel 555-0163.", ("mark", "0163")),
    ("report", "Reports sent c/o Hope Quarrington.", ("hope", "quarrington")),
    ("hdr:TransducerData", "d/o Dawn", ("dawn",)),
    ("hdr:TransducerData", "S/O Mark 555-0173", ("mark", "0173")),
    ("hdr:TransducerData", "w/o Grant", ("grant",)),
    ("hdr:TransducerData", "C/O Faith, 9 Orchard Row", ("faith", "orchard")),
    ("hdr:TransducerData", "s/o Quimbrell", ("quimbrell",)),
    ("hdr:ManufacturerModelName", "L12-5 d/o Holly", ("holly",)),
    ("cm", "per w/o Faith", ("faith",)),
    ("cm", "per s/o Art", ("art",)),
    ("desc", "US BREAST C/O Hope", ("hope",)),
    ("desc", "BREAST US S/O FRANK", ("frank",)),
    ("desc", "US BREAST d/o Grace", ("grace",)),
    ("hdr:StudyDescription", "US BREAST w/o Guy", ("guy",)),
]

PAREN_LEAKS: list[tuple[str, str, tuple[str, ...]]] = [
    ("report", "Her daughter (Grace) was present.", ("grace",)),
    ("report", "Grace (daughter) asked about results.", ("grace",)),
    ("report", "Faith (niece) drove her home.", ("faith",)),
    ("report", "Hope (sister) will call 555-0129.", ("hope", "0129")),
    ("report", "Joy (interpreter) was present.", ("joy",)),
    ("report", "Dawn (sonographer) obtained images.", ("dawn",)),
    ("report", "Accompanied by husband ( Guy ).", ("guy",)),
    ("report", "Will (son) requested a copy.", ("will (",)),
    ("hdr:TransducerData", "Holly (granddaughter)", ("holly",)),
    ("hdr:TransducerData", "sister (Iris)", ("iris",)),
    ("hdr:TransducerData", "son (Will)", ("will",)),
    ("hdr:TransducerData", "Grant (radiologist)", ("grant",)),
    ("hdr:TransducerData", "wife (Joy) 555-0111", ("joy", "0111")),
    ("hdr:TransducerData", "DAUGHTER (ROSE)", ("rose",)),
    ("hdr:TransducerData", "Quimbrell (husband)", ("quimbrell",)),
    ("cm", "per nurse (Faith)", ("faith",)),
    ("cm", "Mark (brother) consented", ("mark",)),
    ("hdr:ProcessingFunction", "Dawn (technologist)", ("dawn",)),
    ("desc", "US BREAST daughter (Grace)", ("grace",)),
    ("desc", "US BREAST Hope (sister)", ("hope",)),
    ("hdr:StudyDescription", "BREAST US niece (Holly)", ("holly",)),
    ("hdr:TransducerData", "дочь (Вера)", ("вера",)),
    ("hdr:TransducerData", "Вера (дочь)", ("вера",)),
]

CRED_LEAKS: list[tuple[str, str, tuple[str, ...]]] = [
    ("report", "RN Holly reviewed history.", ("holly",)),
    ("report", "LPN Dawn took vitals.", ("dawn",)),
    ("report", "Discussed with NP Faith Okonkwo.", ("faith", "okonkwo")),
    ("report", "PA-C Grant reviewed the images.", ("grant",)),
    ("report", "RDMS Joy scanned the left breast.", ("joy",)),
    ("report", "CNM Iris referred the patient.", ("iris",)),
    ("report", "APRN Hope, pager 555-0139, notified.", ("hope", "0139")),
    ("report", "Results called to RN Faith at 555-0155.", ("faith", "0155")),
    ("report", "Chaperone: RN Grace.", ("grace",)),
    ("report", "RN Will called the patient.", ("will called",)),
    ("report", "Per NP Quimbrell, follow up in 6 months.", ("quimbrell",)),
    ("hdr:TransducerData", "RN Holly", ("holly",)),
    ("hdr:TransducerData", "LPN Dawn 555-0144", ("dawn", "0144")),
    ("hdr:TransducerData", "RDMS Joy", ("joy",)),
    ("hdr:TransducerData", "PA-C Grant", ("grant",)),
    ("hdr:TransducerData", "NP Faith Okonkwo", ("faith", "okonkwo")),
    ("hdr:TransducerData", "RN Mark", ("mark",)),
    ("hdr:ProcessingFunction", "per RN Hope", ("hope",)),
    ("cm", "per RDMS Iris", ("iris",)),
    ("cm", "APRN Joy", ("joy",)),
    ("desc", "US BREAST NP JOY", ("joy",)),
    ("desc", "BREAST US per RN Faith", ("faith",)),
    ("desc", "US BREAST RDMS Dawn", ("dawn",)),
    ("hdr:StudyDescription", "US BREAST PA-C Grant", ("grant",)),
    ("hdr:ManufacturerModelName", "L12-5 RN Holly", ("holly",)),
]

DEVICE_LEAKS: list[tuple[str, str, tuple[str, ...]]] = [
    ("hdr:StationName", "J_BAKER_WS", ("baker",)),
    ("hdr:StationName", "M.JONES.US", ("jones",)),
    ("hdr:StationName", "US_R_TURNER", ("turner",)),
    ("hdr:StationName", "HOLLAND_T_US1", ("holland",)),
    ("hdr:StationName", "T_FLETCHER", ("fletcher",)),
    ("hdr:PerformedStationAETitle", "K_MORRIS_PACS", ("morris",)),
    ("hdr:StationName", "BQUARRINGTON", ("quarrington",)),
    ("hdr:StationName", "TQUIMBRELL-WS", ("quimbrell",)),
    ("hdr:StationName", "kquillfeather", ("quillfeather",)),
    ("hdr:PerformedStationAETitle", "DMARCHBANK", ("marchbank",)),
    ("hdr:StationName", "US 이서연", ("이서연",)),
    ("hdr:StationName", "US_박지훈", ("박지훈",)),
    ("hdr:StationName", "초음파 정민수", ("정민수",)),
    ("hdr:StationName", "WS 최유나", ("최유나",)),
    ("hdr:StationName", "超声科 李娜", ("李娜",)),
    ("hdr:StationName", "ROOM3 佐藤花子", ("佐藤花子",)),
    ("hdr:StationName", "乳腺 张伟", ("张伟",)),
    ("hdr:StationName", "超音波 鈴木一郎", ("鈴木一郎",)),
    ("hdr:StationName", "US-高橋", ("高橋",)),
    ("hdr:PerformedStationAETitle", "US 김하늘", ("김하늘",)),
    ("hdr:StationName", "US QUIMBRELL 555-0122", ("quimbrell", "0122")),
    ("hdr:StationName", "J_SMITH_WS 555-0190", ("smith", "0190")),
]

MIXED_LEAKS: list[tuple[str, str, tuple[str, ...]]] = [
    ("report", "Kontakt: d/o Вера Кузнецова, тел. 555-0187.", ("вера", "кузнецова", "0187")),
    ("hdr:TransducerData", "RN 김민지", ("김민지",)),
    ("hdr:TransducerData", "NP Вера", ("вера",)),
    ("report", "Mother (Hope) lives at 31 Heron Close.", ("hope", "heron")),
    ("hdr:TransducerData", "c/o Iris, 17 Wren Street", ("iris", "wren street")),
]

ADVERSARY = SLASH_LEAKS + PAREN_LEAKS + CRED_LEAKS + DEVICE_LEAKS + MIXED_LEAKS


@pytest.mark.parametrize(("channel", "text", "secrets"), ADVERSARY)
def test_no_round_7_input_leaks(channel, text, secrets, pseudonymizer):
    """103 inputs, 87 leaking on the code before this round, 6 now (the known gaps of the
    module doc, left out here)."""
    assert _leaked(_run(channel, text, pseudonymizer), secrets) == []


STAYS = [
    ("report", "Biopsy w/o complications."),
    ("report", "Pt c/o pain in the left breast."),
    ("report", "C/O LUMP LEFT BREAST."),
    ("report", "US W/O CONTRAST."),
    ("report", "Findings s/o malignancy."),
    ("report", "Appearance S/O DCIS."),
    ("report", "NP discharge noted."),
    ("report", "RN note reviewed."),
    ("report", "PA view obtained."),
    ("report", "Insulin dependent mother (IDM) noted."),
    ("report", "The patient's daughter grace period noted."),
    ("report", "Daughter cells (mitosis) seen."),
    ("report", "w/o Doppler flow."),
    ("report", "c/o Tenderness."),
    ("report", "s/o Fibroadenoma."),
    ("report", "RN Note: none."),
    ("report", "Son Valley was the cattle breed."),
    ("desc", "US BREAST W/O CONTRAST"),
    ("desc", "BREAST US NP DISCHARGE"),
    ("desc", "US SON VALLEY"),
    ("desc", "daughter grace period"),
    ("desc", "US BREAST C/O LUMP"),
    ("desc", "MAMMO W/O CAD"),
    ("desc", "US BREAST S/O FA"),
    ("desc", "US BREAST RN REVIEW"),
    ("hdr:TransducerData", "W/O CONTRAST"),
    ("hdr:TransducerData", "c/o pain"),
    ("hdr:TransducerData", "C/O SOB"),
    ("hdr:TransducerData", "mother (IDM)"),
    ("hdr:TransducerData", "daughter cell (Mitosis)"),
    ("hdr:TransducerData", "RN note"),
    ("hdr:TransducerData", "w/o Doppler"),
    ("hdr:TransducerData", "s/o Malignancy"),
    ("hdr:TransducerData", "NP discharge"),
    ("hdr:TransducerData", "PA view"),
    ("hdr:TransducerData", "daughter grace period"),
    ("hdr:TransducerData", "RN (Staff)"),
    ("hdr:StationName", "X_RAY_1"),
    ("hdr:StationName", "C_ARM_2"),
    ("hdr:StationName", "E_WING_US"),
    ("hdr:StationName", "T_SPINE_CR"),
    ("hdr:StationName", "초음파 검사실"),
    ("hdr:StationName", "超声室 1"),
    ("hdr:StationName", "乳腺 超音波"),
    ("hdr:StationName", "US 초음파실"),
    ("hdr:StationName", "XELERIS"),
    ("hdr:StationName", "JDICOM"),
    ("hdr:StationName", "ORTHANC"),
    ("hdr:StationName", "STORESCP"),
    ("hdr:StationName", "THORAVISION"),
    ("hdr:StationName", "DCM4CHEE"),
    ("hdr:StationName", "エコー 3号室"),
    ("hdr:StationName", "超声 2"),
    ("hdr:StationName", "B_MODE_US"),
    ("hdr:StationName", "A_LINE"),
    ("hdr:StationName", "US-ROOM3"),
    ("hdr:StationName", "LOGIQE10-01"),
    ("hdr:StationName", "US_PACS01"),
    ("hdr:StationName", "L_BREAST_US"),
    ("hdr:StationName", "US 유방"),
    ("hdr:StationName", "MAMMO_2F"),
    ("hdr:StationName", "超声 彩超"),
    ("hdr:StationName", "R_HAND_XR"),
    ("hdr:StationName", "US_E10_3"),
    ("hdr:PerformedStationAETitle", "ORTHANC"),
    ("hdr:PerformedStationAETitle", "STORESCP"),
    ("hdr:PerformedStationAETitle", "DCM4CHEE"),
    ("hdr:PerformedStationAETitle", "CONQUESTSRV1"),
    ("hdr:PerformedStationAETitle", "OSIRIX"),
    ("hdr:PerformedStationAETitle", "HOROS"),
    ("hdr:PerformedStationAETitle", "WEASIS"),
    ("hdr:PerformedStationAETitle", "KPACS"),
    ("hdr:PerformedStationAETitle", "EFILM"),
    ("hdr:PerformedStationAETitle", "ISITE"),
    ("hdr:PerformedStationAETitle", "IMPAX"),
    ("hdr:PerformedStationAETitle", "SYNAPSE"),
    ("hdr:PerformedStationAETitle", "XELERIS"),
    ("hdr:PerformedStationAETitle", "ANY-SCP"),
    ("hdr:PerformedStationAETitle", "MWL_SCP"),
]


@pytest.mark.parametrize(("channel", "text"), STAYS)
def test_clinical_abbreviations_devices_and_rooms_stay(channel, text, pseudonymizer):
    """``w/o`` without, ``c/o`` complains of, ``s/o`` suggestive of, ``NP`` nipple, ``PA``
    posteroanterior, an abbreviation in parentheses, a one-letter segment beside a word
    (``X_RAY_1``, ``C_ARM_2``), CJK and Hangul device and room words (``초음파 검사실``,
    ``超声室 1``), and AE titles of archives and viewers stay byte for byte."""
    assert _run(channel, text, pseudonymizer) == text


#: a second batch, after the first fixes: a name before a credential in short text (``Jane
#: Quimby, MD``, ``Faith RN``; the report scrubber took those already), spacing variants
SECOND_BATCH: list[tuple[str, str, tuple[str, ...]]] = [
    ("hdr:TransducerData", "Jane Quimby, MD", ("jane", "quimby")),
    ("hdr:TransducerData", "Faith RN", ("faith",)),
    ("hdr:TransducerData", "Grace, RN", ("grace",)),
    ("hdr:ProcessingFunction", "Marchbanks E, MD", ("marchbanks",)),
    ("cm", "read by Ottoline Quimby, MD", ("ottoline", "quimby")),
    ("hdr:ManufacturerModelName", "L12-5 Holly Plimbrook RDMS", ("holly", "plimbrook")),
    ("hdr:TransducerData", "Hope Okonkwo, NP; 555-0171", ("hope", "okonkwo", "0171")),
    ("hdr:TransducerData", "QUIMBRELL MD", ("quimbrell",)),
    ("hdr:TransducerData", "Rose(daughter)", ("rose",)),
    ("hdr:TransducerData", "daughter(Rose)", ("rose",)),
    ("hdr:TransducerData", "D/O: Rose", ("rose",)),
    ("hdr:TransducerData", "RN: Faith", ("faith",)),
    ("report", "Rose(daughter) called.", ("rose",)),
    ("report", "D/O: Rose Kumar", ("rose", "kumar")),
    ("report", "Results to W/O Rose.", ("rose",)),
    ("hdr:StationName", "K.QUIMBY_US", ("quimby",)),
    ("hdr:StationName", "QUIMBY.K", ("quimby",)),
    ("hdr:TransducerData", "c/o Dr. Quimby", ("quimby",)),
    ("hdr:TransducerData", "Вера Кузнецова, MD", ("вера", "кузнецова")),
    ("hdr:TransducerData", "김민지 RN", ("김민지",)),
]


@pytest.mark.parametrize(("channel", "text", "secrets"), SECOND_BATCH)
def test_no_input_of_the_second_batch_leaks(channel, text, secrets, pseudonymizer):
    """20 inputs, 16 leaking on the code before this round, none now."""
    assert _leaked(_run(channel, text, pseudonymizer), secrets) == []


@pytest.mark.parametrize(
    ("channel", "text"),
    [
        ("hdr:TransducerData", "L12-5 Linear MD"),
        ("hdr:TransducerData", "CT MD"),
        ("hdr:TransducerData", "Breast MD"),
        ("hdr:TransducerData", "Rate of change, DO"),
        ("hdr:TransducerData", "ABC MD"),
        ("hdr:TransducerData", "MD Anderson protocol"),
        ("hdr:TransducerData", "Left breast, MD review"),
        ("hdr:TransducerData", "Linear, RN"),
    ],
)
def test_a_credential_after_a_clinical_word_or_an_acronym_stays(channel, text, pseudonymizer):
    assert _run(channel, text, pseudonymizer) == text


def test_the_new_rules_leave_dicom_code_meanings_as_before():
    """pydicom's 18,495 code meanings: the short-text rules change none; the device-name
    rules, CJK and Hangul names and initials, take none of them as they are written."""
    from cadbusi_assets.deid import shapes

    meanings = dicom_code_meanings()
    assert [m for m in meanings if scrub_identifier_shapes(m, "text") != m] == []
    assert [m for m in meanings if shapes._device_names(m) or shapes._cjk_device_names(m)] == []


# ------------------------------------------------------ through the command, in a process
_COMMAND_ATTACKS: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {
    "slash": (
        {"TransducerData": "d/o Rose", "ProcessingFunction": "S/O Mark 555-0173"},
        ("ROSE", "MARK", "0173"),
    ),
    "paren": (
        {"TransducerData": "Rose (daughter)", "ManufacturerModelName": "sister (Iris)"},
        ("ROSE", "IRIS"),
    ),
    "credential": (
        {"StudyDescription": "US BREAST RN Faith", "SeriesDescription": "per NP Joy"},
        ("FAITH", "JOY"),
    ),
    "hangul": ({"StationName": "US 김민준"}, ("김민준",)),
    "han": ({"StationName": "超声 王伟", "DeviceDescription": "US 山田太郎"}, ("王伟", "山田太郎")),
    "cyrillic": ({"TransducerData": "NP Вера", "ProcessingFunction": "дочь (Вера)"}, ("ВЕРА",)),
    "initials": ({"StationName": "J_SMITH_WS"}, ("SMITH",)),
    "user": ({"StationName": "KQUIMBRELL"}, ("QUIMBRELL",)),
    "code": ({}, ("ROSE", "GRACE")),
}


def test_command_writes_none_of_the_round_7_attacks(tmp_path):
    """``cadbusi deidentify`` in its own process, the files in UTF-8 (ISO_IR 192) so that the
    Hangul, Han and Cyrillic names are carried: every file is written and no planted word is
    in what it holds (its UIDs, new random pseudonyms, aside)."""

    def add_code(name: str, ds: Dataset) -> None:
        if name == "code":
            ds.ProcedureCodeSequence = code_meaning_sequence("per d/o Rose, Grace (niece)")

    found, _, _ = command_attacks(tmp_path, _COMMAND_ATTACKS, add_code)
    assert found == {}


def test_a_credential_that_ends_a_sentence_marks_no_name_after_it():
    """``RN.`` ends the sentence: the next capitalised word is no staff member's name (found on
    the held-out generated reports: ``Scanned by Quimby RN. Lives at ...``)."""
    out = scrub_report_text(
        "Scanned by Ottoline Quimby RN. Lives alone. Discussed with NP Joy.",
        identifiers=(),
        date_shift_days=0,
    )
    assert "Lives alone." in out
    assert _leaked(out, ("ottoline", "quimby", "joy")) == []
