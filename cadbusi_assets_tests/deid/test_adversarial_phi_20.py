"""Adversarial PHI tests, twentieth round: round 19's channels again in three scripts, and
round 19's gaps. Three patients, each with a relative and a phone: ``Ñúñez-Quimbrell^Zoë``
(Latin with accents), ``Квимбрелл^Зельда`` (Cyrillic) and ``久石^是留田`` with its kana
``くいむ^ぜるだ`` (Han and Japanese kana), planted where a messy hospital's or vendor's
files put them, run through ``cadbusi deidentify --analyze`` in its own process and through
the assets' one pass (``stages.imaging.process_partition``), and every output byte scanned:
the DICOM files as bytes (UTF-8, UTF-16, Latin-1 and the script's legacy character sets)
and re-read at every depth with their file meta (each value's text as it is, with its
spaces taken out and with its values joined), the PNGs, the tables, the report and what
the command printed.

Channels: the relative's name and phone in a report-like SR Content Sequence (Text Value)
and in Image Comments; an address in private tags (with and without a creator); the name
in an ICC profile (UTF-8 and UTF-16); person names with ``=`` groups where only the second
(ideographic) group holds the real name, in PN elements and in text; a name split across
two values (``QUIM\\BRELL``, also in a code string); a name with its letters spaced
(``Q U I M B R E L L``) or in reversed order; the name in a UID-like string's suffix.

Closed (each asserted below, each failed before):

* a name split across two values of one element (``Quim\\brell`` in Series Description,
  Protocol Name, Image Type): each value alone is no name, a reader reads them joined;
* a name with its letters spaced out (``Q U I M B R E L L``, ``Z E L D A``) in a kept
  descriptor or device field;
* (round 19's gap a, in part) a relative named with a relative's word in the header's free
  text (``sister Ottoline Vexworth`` in Image Comments or an SR Text Value) and the
  surname alone with no cue in a device field or the occupation (``Acme Vexworth``);
* (round 19's gap b) a relative's folder in a DICOMDIR record's file ID: file IDs (and the
  file set's IDs) go whatever they hold; no research use reads them;
* (round 19's gap c) a LUT's entries or a number of unbounded multiplicity whose bytes read
  as words or a phone: a display LUT and a calibration table hold numbers, not text.

Also closed on the way: a UID with letters (``2.16.840.1.113883.6.96.QUIMBRELL``: a coding
scheme's UID, never remapped, kept the name or got the image refused) is remapped; the
UTF-8 bytes of a name in a code string (read as Latin-1: ``ä¹\x85ç\x9f³``) are read as
UTF-8.

Not leaking (asserted through the command and the pass): the report-like SR content, the
private address tags, the ICC profiles, the ``=`` groups, the name in reversed order.

Left, each asserted as it is: a relative named nowhere else in the header (no PN element,
no relative's word in any text) whose surname alone stands in a device field: nothing says
a person (round 19's reason, still true); a CJK relative's name glued after the relative's
word (``姉 経駆須乙鈴``: where the family name ends is not known); a name's letters
written backwards (``LLERBMIUQ``). Round 21 closed the last two (their tests below now
assert it).

All names, numbers and dates are invented.
"""

from __future__ import annotations

import io
import logging
import struct

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from cadbusi_assets.deid import DEFAULT_PROFILE, OriginalIdentifiers
from cadbusi_assets.deid.deidentify import deidentify_dataset
from cadbusi_assets.deid.engine import clean_header
from cadbusi_assets.dicom import dataset_to_bytes
from cadbusi_assets_tests.deid.phi_support import (
    SecretScan,
    assert_assets_pass_wrote_none,
    assert_command_wrote_none,
    canary_patient,
    deidentify_channel_files,
)
from cadbusi_assets_tests.deid.phi_support import dataset_item as _item

PHONE = "617-555-0143"


class Person:
    """One patient (her DICOM name, id, birth date) and her relative, in one script."""

    def __init__(self, key, name, family, given, relative, relative_pn, patient_id, legacy):
        self.key, self.name, self.family, self.given = key, name, family, given
        self.relative, self.relative_pn, self.patient_id = relative, relative_pn, patient_id
        self.legacy = legacy  #: the script's legacy character sets (the bytes scanned)


PEOPLE = {
    p.key: p
    for p in (
        Person(
            "latin",
            "Ñúñez-Quimbrell^Zoë",
            "Ñúñez-Quimbrell",
            "Zoë",
            "Ysolde Ñandúbarra",
            "Ñandúbarra^Ysolde",
            "4815162",
            ("latin-1", "cp1252"),
        ),
        Person(
            "cyrillic",
            "Квимбрелл^Зельда",
            "Квимбрелл",
            "Зельда",
            "Оттолина Вексворт",
            "Вексворт^Оттолина",
            "4815263",
            ("cp1251", "koi8_r", "iso8859_5"),
        ),
        Person(
            "han",
            "Kuimu^Zeruda=久石^是留田=くいむ^ぜるだ",
            "久石",
            "是留田",
            "経駆須 乙鈴",
            "Bekusu^Otorin=経駆須^乙鈴",
            "4815364",
            ("shift_jis", "euc_jp", "gb18030"),
        ),
    )
}
BIRTH = "19610303"


def _secrets() -> list[str]:
    """Every planted word (upper case): names, their parts, ids, the birth date, the phone."""
    words = {PHONE[4:], BIRTH}
    for p in PEOPLE.values():
        words.add(p.patient_id)
        for part in [p.family, p.given, *p.family.split("-"), *p.relative.split()]:
            words.add(part.upper())
        words |= {"NUNEZ", "QUIMBRELL", "YSOLDE", "NANDUBARRA", "くいむ", "ぜるだ", "KUIMU"}
    return sorted(
        w for w in words if len(w) >= 4 or (len(w) >= 2 and not SecretScan.folded(w).isascii())
    )


SECRETS = _secrets()


#: round 20's scan, shared with later rounds (:class:`~.phi_support.SecretScan`)
SCAN = SecretScan(SECRETS, {c for p in PEOPLE.values() for c in p.legacy})


# ------------------------------------------------------------------------------ the files
def _patient(person: Person) -> Dataset:
    ds = canary_patient("Quimbrell^Zelda", "4815162", BIRTH)
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = person.name, person.patient_id, BIRTH
    index = list(PEOPLE).index(person.key)
    ds.StudyInstanceUID = f"1.2.826.0.1.3680043.99999.20.{index + 1}"
    ds.AccessionNumber = f"ACC20{person.key.upper()}"
    return ds


#: raw bytes written in place of a placeholder (pydicom writes a code string or a UID as
#: ASCII only; files hold any bytes there)
def _raw(ds: Dataset, raw: dict[bytes, bytes], tag: int, vr: str, value: bytes, fill: str) -> None:
    placeholder = (fill * len(value)).encode()
    ds.add_new(tag, vr, placeholder.decode())
    raw[placeholder] = value


def report_text(ds: Dataset, p: Person, raw: dict) -> None:
    text = f"Findings benign. Contact: sister {p.relative}, tel {PHONE}."
    concept = _item(CodeValue="121071", CodingSchemeDesignator="DCM", CodeMeaning="Finding")
    leaf = _item(RelationshipType="CONTAINS", ValueType="TEXT", TextValue=text)
    leaf.ConceptNameCodeSequence = Sequence([concept])
    container = _item(RelationshipType="CONTAINS", ValueType="CONTAINER")
    container.ContentSequence = Sequence([leaf])
    ds.ContentSequence = Sequence([container, _item(ValueType="TEXT", TextValue=text)])
    ds.ImageComments = f"RT BREAST 10:00. Next of kin: sister {p.relative} {PHONE}"


def private_address(ds: Dataset, p: Person, raw: dict) -> None:
    family = p.relative.split()[-1]
    ds.add_new(0x00330010, "LO", "ACME_SITE_INFO")
    ds.add_new(0x00331010, "LO", f"12 {family} Street, Springfield")
    ds.add_new(0x00331011, "ST", f"{p.relative}, 12 Elm Street, tel {PHONE}")
    ds.add_new(0x00331012, "LO", p.relative)
    ds.add_new(0x00351010, "LO", f"{p.family} {p.given}, 3 {family} Road")  # no creator


def icc_profile(ds: Dataset, p: Person, raw: dict) -> None:
    name = f"{p.family} {p.given}"
    blob = b"\0\0\0\0desc" + name.encode() + b"\0mluc" + name.encode("utf-16-be") + b"\0\0"
    ds.add_new(0x00282000, "OB", blob + (b"\0" if len(blob) % 2 else b""))
    ds.OpticalPathSequence = Sequence([Dataset()])
    ds.OpticalPathSequence[0].add_new(0x00282000, "OB", b"desc" + p.relative.encode() + b"\0\0")


def name_groups(ds: Dataset, p: Person, raw: dict) -> None:
    """Only the second (ideographic) group holds the real name; the first is a placeholder."""
    real = p.name.split("=")[-2] if p.name.count("=") == 2 else p.name
    ds.PatientName = f"ANON^PATIENT={real}"
    ds.OtherPatientNames = ["DOE^JANE", f"NONAME={real}"]
    ds.ResponsiblePerson = f"DOE^JOHN={p.relative_pn.split('=')[-1]}"
    ds.PerformingPhysicianName = f"ANON={p.relative_pn.split('=')[-1]}"
    ds.RequestAttributesSequence = Sequence([_item(RequestedProcedureDescription=f"ANON={real}")])
    ds.ImageComments = f"Pt ANON^PATIENT={real}"


def split_values(ds: Dataset, p: Person, raw: dict) -> None:
    family = p.family.split("-")[-1]
    half = len(family) // 2
    ds.SeriesDescription = [family[:half], family[half:]]
    ds.ProtocolName = ["Breast", family[:half], family[half:]]
    first, second = family[:half].upper().encode(), family[half:].upper().encode()
    ds.ImageType = ["ORIGINAL", "PRIMARY", "#" * len(first), "%" * len(second)]
    raw[b"#" * len(first)], raw[b"%" * len(second)] = first, second


def spaced_letters(ds: Dataset, p: Person, raw: dict) -> None:
    family = p.family.split("-")[-1]
    ds.SeriesDescription = " ".join(family.upper())
    ds.ProtocolName = "Breast " + " ".join(p.given.upper())
    ds.StationName = " ".join(family.upper())
    ds.ImageComments = f"{p.given} {p.family}".upper()  # the given name first


def uid_suffix(ds: Dataset, p: Person, raw: dict) -> None:
    family = p.family.split("-")[-1].upper().encode()
    code = _item(CodeValue="T-04000", CodingSchemeDesignator="SRT", CodeMeaning="Breast")
    code.add_new(0x0008010C, "UI", "2.16.840.1.113883.6.96." + "8" * len(family))
    raw[b"2.16.840.1.113883.6.96." + b"8" * len(family)] = b"2.16.840.1.113883.6.96." + family
    ds.AnatomicRegionSequence = Sequence([code])
    _raw(ds, raw, 0x00181002, "UI", b"1.2.840.99." + family, "7")  # Device UID
    ds.ManufacturerModelName = "Aplio i800 1.2.840.113619.2.55." + p.family.split("-")[-1]


CHANNELS = {
    f.__name__: f
    for f in (report_text, private_address, icc_profile, name_groups, split_values,
              spaced_letters, uid_suffix)
}  # fmt: skip
FILES = [(person, channel) for person in PEOPLE for channel in CHANNELS]


def _file(person_key: str, channel: str) -> bytes:
    person = PEOPLE[person_key]
    index = FILES.index((person_key, channel))
    ds = _patient(person)
    pixels = ds.pixel_array.copy()
    pixels[120, 100 + index] = 255  # each its own image (the same pixels twice are a resend)
    ds.PixelData = pixels.tobytes()
    raw: dict[bytes, bytes] = {}
    CHANNELS[channel](ds, person, raw)
    uid = f"1.2.826.0.1.3680043.99999.20.{100 + index}"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    data = buffer.getvalue()
    for placeholder, value in raw.items():
        assert len(placeholder) == len(value) and data.count(placeholder) == 1
        data = data.replace(placeholder, value)
    return data


def _deidentified(data: bytes, pseudonymizer) -> tuple[Dataset, bytes]:
    out = deidentify_dataset(pydicom.dcmread(io.BytesIO(data)), pseudonymizer).dataset
    return out, dataset_to_bytes(out)


def test_the_files_hold_what_they_plant():
    """The scan sees every channel in its input (the test can fail)."""
    for person, channel in FILES:
        assert SCAN.in_dicom(_file(person, channel)), (person, channel)


# ------------------------------------------------------------------ the command, one run
@pytest.fixture(scope="module")
def command_run(tmp_path_factory):
    """Every file through ``cadbusi deidentify --analyze`` in its own process."""
    files = {f"{person}_{channel}": _file(person, channel) for person, channel in FILES}
    return deidentify_channel_files(tmp_path_factory.mktemp("round20"), files, timeout=400)


@pytest.mark.parametrize(("person", "channel"), FILES)
def test_no_channel_leaks_through_the_command(person, channel, command_run):
    out, rows, _, _ = command_run
    row = rows[f"{person}_{channel}"]
    assert row["status"] == "ok", row["reason"]
    assert SCAN.in_dicom((out / row["output_path"]).read_bytes()) == []


def test_nothing_else_the_command_writes_holds_them(command_run):
    out, _, printed, report = command_run
    assert_command_wrote_none(SCAN, out, printed, report)


# ------------------------------------------------------------------- the assets' one pass
def test_the_assets_pass_writes_none_of_them(tmp_path, pseudonymizer, caplog):
    """Every file through the pass behind the ``deidentified_images``, ``image_features``
    and ``inpainted_images`` assets: nothing in the research zone, nothing in what the
    partition reports (counts, tables and problems: the run's metadata) and nothing it logs
    holds a planted word."""
    caplog.set_level(logging.DEBUG)
    files = [_file(person, channel) for person, channel in FILES]
    assert_assets_pass_wrote_none(SCAN, tmp_path, files, pseudonymizer)
    assert SCAN.in_text(caplog.text) == []


# --------------------------------------------------------------------- each fix, as a unit
@pytest.mark.parametrize("person", list(PEOPLE))
def test_a_name_split_across_two_values_goes(person, pseudonymizer):
    out, data = _deidentified(_file(person, "split_values"), pseudonymizer)
    assert SCAN.in_dicom(data) == []
    assert list(out.ImageType)[:2] == ["ORIGINAL", "PRIMARY"] or "ImageType" not in out


@pytest.mark.parametrize("person", list(PEOPLE))
def test_a_name_in_a_uids_suffix_goes(person, pseudonymizer):
    """A UID with letters (``2.16.840.1.113883.6.96.QUIMBRELL``) is no UID: a coding
    scheme's UID, never remapped, kept the name (or, where the leak check saw it, the image
    was refused); such a value is remapped whatever the element."""
    out, data = _deidentified(_file(person, "uid_suffix"), pseudonymizer)
    assert SCAN.in_dicom(data) == []
    uid = str(out.AnatomicRegionSequence[0].CodingSchemeUID)
    assert uid.replace(".", "").isdigit()


def test_a_valid_scheme_uid_stays(pseudonymizer):
    ds = _patient(PEOPLE["latin"])
    code = _item(CodeValue="T-04000", CodingSchemeDesignator="SRT", CodeMeaning="Breast")
    code.CodingSchemeUID = "2.16.840.1.113883.6.96"
    ds.AnatomicRegionSequence = Sequence([code])
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    out, _ = _deidentified(buffer.getvalue(), pseudonymizer)
    assert out.AnatomicRegionSequence[0].CodingSchemeUID == "2.16.840.1.113883.6.96"


def test_values_that_join_into_no_name_stay(pseudonymizer):
    ds = _patient(PEOPLE["latin"])
    ds.ImageType = ["ORIGINAL", "PRIMARY", "ABDOMINAL"]
    ds.ProtocolName = ["Breast", "L12-5", "Quim"]  # a part of the name alone: no name
    ds.SeriesDescription = ["Adv Breast", "Doppler"]
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    out, _ = _deidentified(buffer.getvalue(), pseudonymizer)
    assert list(out.ImageType) == ["ORIGINAL", "PRIMARY", "ABDOMINAL"]
    assert list(out.ProtocolName) == ["Breast", "L12-5", "Quim"]
    assert list(out.SeriesDescription) == ["Adv Breast", "Doppler"]


@pytest.mark.parametrize("person", list(PEOPLE))
def test_a_name_with_its_letters_spaced_goes(person, pseudonymizer):
    out, data = _deidentified(_file(person, "spaced_letters"), pseudonymizer)
    assert SCAN.in_dicom(data) == []
    assert str(out.get("ProtocolName", "Breast")).startswith("Breast")


def test_spaced_letters_that_spell_no_name_stay(pseudonymizer):
    ds = _patient(PEOPLE["latin"])
    ds.SeriesDescription = "B R E A S T  L 1 2"
    ds.StationName = "U S 3"
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    out, _ = _deidentified(buffer.getvalue(), pseudonymizer)
    assert str(out.SeriesDescription) == "B R E A S T  L 1 2"
    assert str(out.StationName) == "U S 3"


RELATIVE, SURNAME = "Ottoline Vexworth", "Vexworth"


def _header_naming(text_keyword: str, text: str) -> Dataset:
    ds = Dataset()
    ds.PatientID, ds.PatientName = "4815162", "Quimbrell^Zelda"
    if text_keyword == "ContentSequence":
        ds.ContentSequence = Sequence([_item(ValueType="TEXT", TextValue=text)])
    else:
        setattr(ds, text_keyword, text)
    ds.Manufacturer = f"Acme {SURNAME}"
    ds.Occupation = SURNAME
    ds.DeviceSerialNumber = f"{RELATIVE} {PHONE}"
    ds.StationName = "US-ROOM-3"
    return ds


@pytest.mark.parametrize(
    "keyword", ["ImageComments", "ContentSequence", "AdditionalPatientHistory"]
)
def test_a_relative_named_in_the_headers_text_goes_from_device_fields(keyword, pseudonymizer):
    """Gap a of round 19, closed where the header itself says who the relative is: named
    after a relative's word in its free text (a report's Text Value, Image Comments)."""
    from cadbusi_assets.deid.deidentify import header_identifiers

    ds = _header_naming(keyword, f"Seen with her sister {RELATIVE}, tel {PHONE}.")
    clean_header(ds, pseudonymizer, DEFAULT_PROFILE, header_identifiers(ds))
    kept = [str(ds.get(k, "")) for k in ("Manufacturer", "Occupation", "DeviceSerialNumber")]
    assert not any(SURNAME.upper() in k.upper() or "OTTOLINE" in k.upper() for k in kept), kept
    assert str(ds.StationName) == "US-ROOM-3"
    assert str(ds.get("Manufacturer", "")).startswith("Acme")


@pytest.mark.parametrize("person", list(PEOPLE))
def test_a_relative_named_in_a_report_in_each_script_goes_from_device_fields(person, pseudonymizer):
    """The same in each script: ``сестра Оттолина Вексворт``, ``姉 経駆須 乙鈴``,
    ``sœur Ysolde Ñandúbarra``; the relative's word picks the name, not its script."""
    from cadbusi_assets.deid.deidentify import header_identifiers

    p = PEOPLE[person]
    kin = {"latin": "sa sœur", "cyrillic": "сестра", "han": "姉"}[person]
    surname = p.relative.split()[0 if person == "han" else -1]
    ds = _patient(p)
    ds.ContentSequence = Sequence([_item(ValueType="TEXT", TextValue=f"{kin} {p.relative}")])
    ds.Manufacturer, ds.Occupation = f"Acme {surname}", surname
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    out, data = _deidentified(buffer.getvalue(), pseudonymizer)
    assert surname not in str(out.get("Manufacturer", "")) + str(out.get("Occupation", ""))
    assert SCAN.in_dicom(data) == []
    assert header_identifiers(ds) != OriginalIdentifiers.from_dataset(ds)


@pytest.mark.parametrize(
    "text",
    [
        "Pt Quimbrell; sister Zelda Plimsoll 555-0142",
        "sister Zelda Plimsoll-Brown",
        "sister Zelda Plimsoll and mother Rose Brown",
    ],
)
def test_a_relative_whose_surname_is_a_word_goes_whole_from_the_text(text, pseudonymizer):
    """The free text naming the relative is scrubbed first without the relatives it names:
    replacing the given name alone (``sister [id] Plimsoll``, found by the full suite's
    adversarial cohort after this round's first fix) hid the surname, a vocabulary word, from
    the rule that takes the whole name."""
    ds = _patient(PEOPLE["latin"])
    ds.ImageComments = text
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    out, _ = _deidentified(buffer.getvalue(), pseudonymizer)
    comments = str(out.get("ImageComments", "")).upper()
    assert "PLIMSOLL" not in comments and "ZELDA" not in comments, comments
    assert "BROWN" not in comments and "ROSE" not in comments, comments


def test_a_name_the_text_does_not_call_a_relative_is_no_identifier():
    """Words of the text that no relative's word introduces are not taken for names."""
    from cadbusi_assets.deid.deidentify import header_identifiers

    ds = _header_naming("ImageComments", "Voluson E10 Quantum preset, Acme Vexworth probe")
    assert header_identifiers(ds) == OriginalIdentifiers.from_dataset(ds)


def test_a_relatives_folder_in_a_file_id_goes(pseudonymizer):
    """Gap b of round 19: a DICOMDIR record's file ID (``DATA\\VEXWORTH_O\\IMG1``) kept a
    relative's folder. No research use reads a file ID: file IDs go whatever they hold."""
    ds = canary_patient("Quimbrell^Zelda", "4815162", BIRTH)
    own = _item(DirectoryRecordType="IMAGE", ReferencedFileID=["DATA", "QUIMBRELL", "IMG1"])
    other = _item(DirectoryRecordType="IMAGE", ReferencedFileID=["DATA", "VEXWORTH_O", "IMG1"])
    ds.DirectoryRecordSequence = Sequence([own, other])
    ds.FileSetDescriptorFileID = ["README", "VEXWORTH_O"]
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    out, data = _deidentified(buffer.getvalue(), pseudonymizer)
    assert b"VEXWORTH" not in data.upper()
    for element in out.iterall():
        assert element.keyword not in ("ReferencedFileID", "FileSetDescriptorFileID"), element


def _packed(fmt: str, text: bytes) -> list:
    return list(struct.unpack("<" + fmt * (len(text) // struct.calcsize(fmt)), text))


def test_a_lut_or_table_that_reads_as_words_goes(pseudonymizer):
    """Gap c of round 19: the entries of a LUT and a calibration table of unbounded
    multiplicity that spell a relative and a phone. A display LUT and a table hold numbers:
    bytes that read as words or a phone are no LUT and no table."""
    ds = canary_patient("Quimbrell^Zelda", "4815162", BIRTH)
    lut = _item(LUTDescriptor=[16, 0, 8], LUTExplanation="linear")
    lut.add_new(0x00283006, "OW", b"Ottoline Vexworth 617-555-0143 x")
    ds.VOILUTSequence = Sequence([lut])
    region = ds.SequenceOfUltrasoundRegions[0]
    region.add_new(0x00186052, "UL", _packed("I", b"Vexworth"))  # Table of X Break Points
    region.add_new(0x00186054, "FD", _packed("d", b"617-555-0143    "))  # ... Y Break Points
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    out, data = _deidentified(buffer.getvalue(), pseudonymizer)
    for word in (b"OTTOLINE", b"VEXWORTH", b"555-0143"):
        assert word not in data.upper(), word
    assert "VOILUTSequence" not in out or "LUTData" not in out.VOILUTSequence[0]
    assert out.SequenceOfUltrasoundRegions[0].RegionLocationMaxX1 == 319  # the region stays
    lut.LUTData = b"Zelda Quimbrell 617-555-0143 xyz"  # the patient's own: refused before
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    out, data = _deidentified(buffer.getvalue(), pseudonymizer)
    assert b"QUIMBRELL" not in data.upper() and "VOILUTSequence" not in out


def test_a_lut_and_tables_of_numbers_stay(pseudonymizer):
    ds = canary_patient("Quimbrell^Zelda", "4815162", BIRTH)
    lut = _item(LUTDescriptor=[256, 0, 8], LUTExplanation="linear")
    lut.add_new(0x00283006, "OW", struct.pack("<256H", *range(256)))
    ds.VOILUTSequence = Sequence([lut])
    region = ds.SequenceOfUltrasoundRegions[0]
    breaks = [0.0, 1 / 3, 0.5, 2.75, 12.0, -3.2, 1 / 7, 100.125]
    region.TableOfXBreakPoints = list(range(0, 640, 37))
    region.TableOfYBreakPoints = breaks
    region.TableOfParameterValues = [float(i) * 0.1 for i in range(64)]
    region.TableOfPixelValues = list(range(0, 60000, 997))
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    out, _ = _deidentified(buffer.getvalue(), pseudonymizer)
    assert out.VOILUTSequence[0].LUTData == struct.pack("<256H", *range(256))
    kept = out.SequenceOfUltrasoundRegions[0]
    assert list(kept.TableOfXBreakPoints) == list(range(0, 640, 37))
    assert list(kept.TableOfYBreakPoints) == breaks
    assert len(kept.TableOfParameterValues) == 64
    assert list(kept.TableOfPixelValues) == list(range(0, 60000, 997))


# ------------------------------------------------------------------------ left, as it is
def test_a_relative_named_nowhere_else_stays_in_a_device_field(pseudonymizer):
    """Gap: a surname alone in a kept device field or the occupation, the relative named in
    no PN element and after no relative's word anywhere in the header: nothing says a
    person (a product's, a trade's or a station's name reads the same). The phone goes."""
    from cadbusi_assets.deid.deidentify import header_identifiers

    ds = _header_naming("ImageComments", "RT BREAST 10:00")
    clean_header(ds, pseudonymizer, DEFAULT_PROFILE, header_identifiers(ds))
    assert str(ds.Manufacturer) == f"Acme {SURNAME}"
    assert str(ds.Occupation) == SURNAME
    assert str(ds.DeviceSerialNumber) == f"{RELATIVE} [phone]"


def test_a_name_with_its_letters_reversed_goes(pseudonymizer):
    """Gap of this round, closed in round 21 (``test_adversarial_phi_21``): the family
    name's letters written backwards (``LLERBMIUQ``) in a descriptor are turned forwards
    and removed; the name in reversed order (given name first) goes too."""
    ds = _patient(PEOPLE["latin"])
    ds.SeriesDescription = "Breast LLERBMIUQ"
    ds.ProtocolName = "Breast Zoë Ñúñez-Quimbrell"
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    out, _ = _deidentified(buffer.getvalue(), pseudonymizer)
    assert str(out.SeriesDescription) == "Breast [name]"
    assert str(out.ProtocolName) == "Breast [name]"


def test_a_cjk_relative_written_without_a_space_goes_from_a_device_field(pseudonymizer):
    """Gap of this round, closed in round 21: ``姉 経駆須乙鈴`` (family and given name
    glued) names the relative; where the family name ends is not written, so its likely
    words (the first and last two or three characters) are searched for alone, and
    ``Acme 経駆須`` in a device field goes."""
    ds = _patient(PEOPLE["han"])
    ds.ContentSequence = Sequence([_item(ValueType="TEXT", TextValue="姉 経駆須乙鈴")])
    ds.Manufacturer = "Acme 経駆須"
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    out, _ = _deidentified(buffer.getvalue(), pseudonymizer)
    assert "経駆須" not in str(out.get("Manufacturer", ""))
