"""Adversarial PHI tests, nineteenth round: channels, not phrasings. The patient
(``Quimbrell^Zelda``, id ``4815162``, born 1961-03-03), a relative (``Ottoline Vexworth``) and
a phone (``617-555-0143``) put where a messy hospital's or vendor's files put them, run
through ``cadbusi deidentify --analyze`` in its own process, and every byte of the output
scanned (the DICOM files as bytes and re-read at every depth with their file meta, the PNGs,
the tables' values, the report and what the command printed).

Closed (each asserted below, each failed before):

* a number holding more values than the data dictionary allows (``AcquisitionMatrix`` of 12
  values, ``SmallestImagePixelValue`` of 12): its bytes spelled the name; kept as numbers,
  written back as the same bytes, and no check reads numbers as bytes;
* a number whose bytes spell the study's identifiers (``TableOfPixelValues``, a ``1-n``
  number in the ultrasound region; one ``FD`` whose eight bytes are ``4815162 ``);
* palette colour data in an image that is no palette image (the output is never one):
  kept with whatever bytes it held, a relative and a phone;
* LUT Data longer than its LUT Descriptor says: the bytes past the last entry, which no
  reader uses, carried a relative and a phone;
* the accented name read in the wrong character set: UTF-8 bytes in an item that
  declares Latin-1 (``QuimbrÃ©ll``), Latin-1 bytes in a data set that declares UTF-8
  (``Quimbr\ufffdll``, also for an ASCII name spelled with an accent);
* a control character between two words (``BREAST\\x00QUIMBRELL`` in a code string):
  removing it glued the name to the word, and the glued word matched no identifier;
* a quarantine reason that quoted the header: ``cannot decode pixel data (<syntax>,
  <PhotometricInterpretation>)`` named an unregistered transfer syntax UID and any
  Photometric Interpretation text as they were, on screen, in the report and in the
  stage's quarantine reasons (the partition's metadata); ``declares N frames`` quoted
  Number of Frames.

Not leaking (asserted, so that a change that opens one fails): overlay planes (bits,
description, label), curves, sequences three levels deep (request, referenced patient,
original and modified attributes, SR content, code meanings), private elements with and
without a creator and the creators, the file meta and the preamble, an ICC profile, an
encapsulated JPEG's COM and APP segments, ISO 2022 IR 87 escapes, person-name component
groups, DICOMDIR records, an overlay in the unused high bits, the name in a second value,
a long value, a NUL before a name in a number, an encapsulated document, implicit-VR
private elements read as UN, coding scheme strings, repeating groups.

Left, asserted as it is (nothing says a person): a relative's name with no cue in a device
field or the occupation. (Round 20, ``test_adversarial_phi_20.py``, closes it where the
header's own text names the relative, and closes this round's other two gaps: a relative's
folder in a DICOMDIR record's file ID, and a LUT's entries or a number of unbounded
multiplicity whose bytes spell a third party.)

All names, numbers and dates are invented.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import polars as pl
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.uid import ImplicitVRLittleEndian, JPEGBaseline8Bit

from cadbusi_assets.deid import DEFAULT_PROFILE, OriginalIdentifiers
from cadbusi_assets.deid.deidentify import deidentify_dataset
from cadbusi_assets.deid.engine import clean_header
from cadbusi_assets.deid.scan import find_identifiers_in_dataset
from cadbusi_assets.dicom import DecodeError, dataset_to_bytes, iter_frames
from cadbusi_assets_tests.deid.phi_support import canary_patient, released_elements, run_deidentify
from cadbusi_assets_tests.deid.phi_support import dataset_item as _item

NAME = "Quimbrell^Zelda"
PATIENT_ID = "4815162"
BIRTH = "19610303"
RELATIVE = "Ottoline Vexworth"
PHONE = "617-555-0143"
#: the patient's own identifiers
OWN = ("QUIMBR", "ZELDA", PATIENT_ID, BIRTH, "1961-03-03")  # QUIMBR: in any spelling
#: a third party's
THIRD = ("OTTOLINE", "VEXWORTH", "555-0143")
SECRETS = OWN + THIRD


def _found(data: bytes, secrets: tuple[str, ...] = SECRETS) -> list[str]:
    """The ``secrets`` in ``data`` as ASCII/Latin-1 or UTF-16 (LE/BE), case-insensitive."""
    upper = data.upper()
    return [
        s
        for s in secrets
        if any(s.encode(c) in upper for c in ("latin-1", "utf-16-le", "utf-16-be"))
    ]


def _patient() -> Dataset:
    """The canary image of the patient (:func:`~cadbusi_assets_tests.deid.phi_support.canary_patient`)."""
    return canary_patient(NAME, PATIENT_ID, BIRTH)


def _packed(fmt: str, text: bytes) -> list:
    """``text`` as the numbers of struct format ``fmt`` (little endian) whose bytes it is."""
    return list(struct.unpack("<" + fmt * (len(text) // struct.calcsize(fmt)), text))


# ------------------------------------------------------------------------------ channels
def overlay(ds: Dataset) -> None:
    ds.add_new(0x60000010, "US", 240)
    ds.add_new(0x60000011, "US", 320)
    ds.add_new(0x60000040, "CS", "G")
    ds.add_new(0x60000050, "SS", [1, 1])
    ds.add_new(0x60000100, "US", 1)
    ds.add_new(0x60000102, "US", 0)
    ds.add_new(0x60003000, "OW", (b"QUIMBRELL ZELDA 4815162 " * 400)[: 240 * 320 // 8])
    ds.add_new(0x60000022, "LO", "QUIMBRELL ZELDA")
    ds.add_new(0x60001500, "LO", RELATIVE)


def curve(ds: Dataset) -> None:
    ds.add_new(0x50000005, "US", 1)
    ds.add_new(0x50003000, "OB", b"QUIMBRELL ZELDA 4815162 ")
    ds.add_new(0x50002500, "LO", RELATIVE)


def nested(ds: Dataset) -> None:
    deep = _item(
        PatientName=NAME,
        PatientID=PATIENT_ID,
        PatientBirthDate=BIRTH,
        CodeValue="X",
        CodingSchemeDesignator="99L",
        CodeMeaning="Breast of Zelda Quimbrell",
    )
    patient = _item(ReferencedPatientSequence=Sequence([deep]))
    ds.RequestAttributesSequence = Sequence([_item(ReferencedStudySequence=Sequence([patient]))])
    modified = _item(
        PatientName=NAME, OtherPatientNames="Vexworth^Ottoline", PatientTelephoneNumbers=PHONE
    )
    ds.OriginalAttributesSequence = Sequence(
        [
            _item(
                ModifiedAttributesSequence=Sequence([modified]),
                ModifyingSystem="QUIMBRELL",
                SourceOfPreviousValues=PATIENT_ID,
            )
        ]
    )
    modifier = _item(
        CodeValue="X", CodingSchemeDesignator="99L", CodeMeaning=f"sister {RELATIVE} {PHONE}"
    )
    ds.AnatomicRegionSequence = Sequence(
        [
            _item(
                CodeValue="T-04000",
                CodingSchemeDesignator="SRT",
                CodeMeaning="Breast Zelda Quimbrell 4815162",
                AnatomicRegionModifierSequence=Sequence([modifier]),
            )
        ]
    )
    text = f"Zelda Quimbrell DOB 1961-03-03, sister {RELATIVE} {PHONE}"
    ds.ContentSequence = Sequence(
        [_item(RelationshipType="CONTAINS", ValueType="TEXT", TextValue=text)]
    )
    concept = _item(
        CodeValue="3", CodingSchemeDesignator="99L", CodeMeaning=f"{RELATIVE}, sister, tel {PHONE}"
    )
    purpose = _item(
        CodeValue="2",
        CodingSchemeDesignator="99L",
        CodeMeaning="y",
        ConceptNameCodeSequence=Sequence([concept]),
    )
    ds.DerivationCodeSequence = Sequence(
        [
            _item(
                CodeValue="1",
                CodingSchemeDesignator="99L",
                CodeMeaning="x",
                PurposeOfReferenceCodeSequence=Sequence([purpose]),
            )
        ]
    )


def private(ds: Dataset) -> None:
    ds.add_new(0x00130010, "LO", "QUIMBRELL ZELDA 4815162")  # the creator itself
    ds.add_new(0x00131010, "LO", "x")
    ds.add_new(0x00151010, "LO", "QUIMBRELL ZELDA, no creator")
    ds.add_new(0x00170005, "LO", "QUIMBRELL below the creators")
    ds.add_new(0x00090010, "LO", "GEMS_IDEN_01")
    ds.add_new(0x00091001, "UN", b"QUIMBRELL^ZELDA\x00")


def file_meta(ds: Dataset) -> None:
    ds.file_meta.SourceApplicationEntityTitle = "QUIMBRELL"
    ds.file_meta.add_new(0x00020016, "AE", "ZELDA")
    ds.file_meta.add_new(0x00020017, "AE", "QUIMBRELL")
    ds.file_meta.add_new(0x00020018, "AE", PATIENT_ID)
    ds.file_meta.add_new(0x00020100, "UI", "1.2.4815162.19610303")
    ds.file_meta.add_new(0x00020102, "OB", b"QUIMBRELL ZELDA 4815162")
    ds.file_meta.ImplementationVersionName = "QUIMBRELL"
    ds.preamble = b"QUIMBRELL ZELDA 4815162".ljust(128, b"\0")


def icc_profile(ds: Dataset) -> None:
    ds.add_new(0x00282000, "OB", b"\0\0\0\0descQUIMBRELL ZELDA\0")
    ds.OpticalPathSequence = Sequence([Dataset()])
    ds.OpticalPathSequence[0].add_new(0x00282000, "OB", b"descQUIMBRELL ZELDA\0")


def jpeg_segments(ds: Dataset) -> None:
    buffer = io.BytesIO()
    exif = b"Exif\0\0MM\0*\0\0\0\x08\0\0QUIMBRELL ZELDA 4815162"
    Image.fromarray(ds.pixel_array).save(
        buffer, "JPEG", quality=95, comment=b"QUIMBRELL ZELDA 4815162", exif=exif
    )
    ds.PixelData = encapsulate([buffer.getvalue()])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.LossyImageCompression = "01"


def iso2022(ds: Dataset) -> None:
    ds.SpecificCharacterSet = ["", "ISO 2022 IR 87"]
    ds.PatientName = f"{NAME}=久石^是留田=くいむ^ぜるだ"
    ds.SeriesDescription = "久石是留田 様"
    ds.ImageComments = "くいむ ぜるだ 様"


def latin1_as_utf8(ds: Dataset) -> None:
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.add_new(0x0008103E, "LO", "Quimbr\xe9ll Zelda".encode("latin-1"))
    ds.add_new(0x00204000, "LT", "Pt QUIMBR\xc9LL ZELDA 4815162".encode("latin-1"))


def utf8_read_as_latin1(ds: Dataset) -> None:
    """A sequence item declares Latin-1 but holds the accented name's UTF-8 bytes: read as
    ``QuimbrÃ©ll ZÃ©lda``, which a reader still reads as the name."""
    ds.SpecificCharacterSet, ds.PatientName = "ISO_IR 192", "Quimbréll^Zélda"
    item = _item(CodeValue="1", CodingSchemeDesignator="99L", SpecificCharacterSet="ISO_IR 100")
    item.add_new(0x00080104, "LO", "Breast Quimbréll Zélda".encode())
    ds.AnatomicRegionSequence = Sequence([item])


def latin1_read_as_utf8(ds: Dataset) -> None:
    """Latin-1 bytes of the accented name in a UTF-8 data set: read as ``Quimbr\ufffdll``."""
    ds.SpecificCharacterSet, ds.PatientName = "ISO_IR 192", "Quimbréll^Zélda"
    ds.add_new(0x0008103E, "LO", "Breast Quimbr\xe9ll Z\xe9lda".encode("latin-1"))


def name_itself_misread(ds: Dataset) -> None:
    """The data set declares Latin-1 and its Patient's Name holds UTF-8 bytes (read as
    ``QuimbrÃ©ll``); an item declares UTF-8 and spells the name right."""
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName = "Quimbréll^Zélda".encode()
    item = _item(CodeValue="1", CodingSchemeDesignator="99L", SpecificCharacterSet="ISO_IR 192")
    item.add_new(0x00080104, "LO", "Breast Quimbréll Zélda".encode())
    ds.AnatomicRegionSequence = Sequence([item])


def name_groups(ds: Dataset) -> None:
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = f"{NAME}=久石^是留田=くいむ^ぜるだ"
    ds.PerformingPhysicianName = ["Okafor^Ada", "Vexworth^Ottoline=べくす"]
    ds.OtherPatientNames = ["Doe^Jane", NAME]


def second_value(ds: Dataset) -> None:
    ds.ImageType = ["ORIGINAL", "PRIMARY", "QUIMBRELL", PATIENT_ID]
    ds.SeriesDescription = ["Breast", "Zelda Quimbrell"]
    ds.ProtocolName = ["Breast", "Quimbrell"]
    ds.ScanOptions = ["X", "QUIMBRELL"]


def long_value(ds: Dataset) -> None:
    tail = f" Zelda Quimbrell 4815162 sister {RELATIVE} {PHONE}"
    ds.ImageComments = "RT BREAST 10:00 " * 4000 + tail
    ds.ProtocolName = "A" * 300 + " Quimbrell"


def encapsulated_document(ds: Dataset) -> None:
    ds.add_new(0x00420011, "OB", b"%PDF-1.4 (Zelda Quimbrell 4815162) (Ottoline Vexworth)")
    ds.add_new(0x00420010, "ST", "Zelda Quimbrell report")
    ds.add_new(0x00420012, "LO", "application/pdf")


def implicit_un(ds: Dataset) -> None:
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds.add_new(0x00290010, "LO", "SIEMENS MEDCOM HEADER")
    ds.add_new(0x00291010, "OB", b"QUIMBRELL ZELDA 4815162")
    ds.add_new(0x00291020, "LO", "QUIMBRELL")


def coding_strings(ds: Dataset) -> None:
    code = _item(
        CodeValue=PATIENT_ID,
        CodingSchemeDesignator="QUIMBRELL",
        CodeMeaning="Breast",
        CodingSchemeVersion="ZELDA",
        ContextIdentifier=PATIENT_ID,
        MappingResource="QUIMBRELL",
        LongCodeValue="QUIMBRELL ZELDA 4815162",
    )
    ds.add_new(0x00082218, "SQ", Sequence([code]))


def repeating_groups(ds: Dataset) -> None:
    ds.add_new(0x00203100, "CS", ["QUIMBRELL", PATIENT_ID])  # Source Image IDs (20xx)
    ds.add_new(0x10000010, "US", [1, 2, 3])


def directory_records(ds: Dataset) -> None:
    """A DICOMDIR's records inside an image: the patient's record, file IDs of her name."""
    record = _item(DirectoryRecordType="PATIENT", PatientName=NAME, PatientID=PATIENT_ID)
    record.ReferencedFileID = ["PATIENTS", "QUIMBRELL", PATIENT_ID]
    ds.DirectoryRecordSequence = Sequence([record])
    ds.FileSetID = "QUIMBRELL"
    ds.FileSetDescriptorFileID = ["QUIMBRELL", PATIENT_ID]


def numbers_over_their_multiplicity(ds: Dataset) -> None:
    """Numbers of a fixed multiplicity (AcquisitionMatrix: 4, SmallestImagePixelValue: 1)
    holding twelve: the bytes of the twelve spell the patient."""
    text = b"QUIMBRELL ZELDA 4815162 "
    ds.add_new(0x00181310, "US", _packed("H", text))
    ds.add_new(0x00280106, "US", _packed("H", text))
    ds.add_new(0x00189219, "FD", _packed("d", text))


def numbers_spelling_the_patient(ds: Dataset) -> None:
    """A ``1-n`` number and one ``FD`` whose bytes are the patient's."""
    region = ds.SequenceOfUltrasoundRegions[0]
    region.add_new(0x00186058, "UL", _packed("I", b"QUIMBRELL ZELDA 4815162 "))
    ds.add_new(0x00189219, "FD", _packed("d", b"4815162 ")[0])


def palette_in_a_grey_image(ds: Dataset) -> None:
    ds.add_new(0x00281101, "US", [16, 0, 16])
    ds.add_new(0x00281201, "OW", f"{RELATIVE} {PHONE} ".encode())


def lut_past_its_entries(ds: Dataset) -> None:
    lut = _item(LUTDescriptor=[256, 0, 8], LUTExplanation="linear")
    lut.add_new(0x00283006, "OW", bytes(range(256)) * 2 + f"{RELATIVE} {PHONE} ".encode())
    ds.VOILUTSequence = Sequence([lut])


def control_between_words(ds: Dataset) -> None:
    ds.BodyPartExamined = "BREAST~QUIMBRELL"  # ~ becomes NUL in the file
    ds.SeriesDescription = "Breast~Zelda~Quimbrell"
    ds.Manufacturer = f"Acme~~{RELATIVE}"  # a relative glued to a word is no name


#: the NUL a file holds, written in place of ``~`` (pydicom cannot set one)
NUL_CHANNELS = {"control_between_words"}

CHANNELS = {
    f.__name__: f
    for f in (
        overlay,
        curve,
        nested,
        private,
        file_meta,
        icc_profile,
        jpeg_segments,
        iso2022,
        latin1_as_utf8,
        utf8_read_as_latin1,
        latin1_read_as_utf8,
        name_itself_misread,
        name_groups,
        second_value,
        long_value,
        encapsulated_document,
        implicit_un,
        coding_strings,
        repeating_groups,
        directory_records,
        numbers_over_their_multiplicity,
        numbers_spelling_the_patient,
        palette_in_a_grey_image,
        lut_past_its_entries,
        control_between_words,
    )
}


def _file_bytes(name: str, ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    data = buffer.getvalue()
    return data.replace(b"~", b"\0") if name in NUL_CHANNELS else data


def _channel(name: str, index: int = 0) -> bytes:
    ds = _patient()
    pixels = ds.pixel_array.copy()
    pixels[120, 100 + index] = 255  # each its own image (the same pixels twice are a resend)
    ds.PixelData = pixels.tobytes()
    CHANNELS[name](ds)
    uid = f"1.2.826.0.1.3680043.99999.19.{index + 1}"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid
    return _file_bytes(name, ds)


def _deidentified(data: bytes, pseudonymizer) -> tuple[Dataset, bytes]:
    out = deidentify_dataset(pydicom.dcmread(io.BytesIO(data)), pseudonymizer).dataset
    return out, dataset_to_bytes(out)


# ------------------------------------------------------------------ the command, one run
@pytest.fixture(scope="module")
def command_run(tmp_path_factory):
    """Every channel (and two quarantined ones) through ``cadbusi deidentify --analyze`` in
    its own process: the output folder, the report's rows by name, what it printed."""

    root = tmp_path_factory.mktemp("round19")
    source, out = root / "in", root / "out"
    source.mkdir()
    for index, name in enumerate(CHANNELS):
        (source / f"{name}.dcm").write_bytes(_channel(name, index))
    for name, data in _quarantined_inputs().items():
        (source / f"{name}.dcm").write_bytes(data)
    done, rows, report = run_deidentify(root, source, out, "--analyze", timeout=400)
    return out, rows, done.stdout + done.stderr, report.read_text()


def _quarantined_inputs() -> dict[str, bytes]:
    """Inputs that cannot be decoded, whose header words must not reach the reasons."""
    ds = _patient()
    ds.PhotometricInterpretation = "QUIMBRELL ZELDA"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.99999.19.91"
    photometric = _file_bytes("", ds)
    ds = _patient()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.99999.19.92"
    syntax = _file_bytes("", ds).replace(b"1.2.840.10008.1.2.1\0", b"1.2.4815162.19610303")
    return {"photometric_text": photometric, "unregistered_syntax": syntax}


def _dicom_text(path: Path) -> str:
    """Every value of the file meta and the data set at any depth (but Pixel Data), as
    text; bytes decoded as Latin-1."""
    values: list[str] = []
    for element in released_elements(pydicom.dcmread(path)):
        value = element.value
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        values.append(f"{element.keyword} {value}")
    return "\n".join(values)


@pytest.mark.parametrize("name", list(CHANNELS))
def test_no_channel_leaks_through_the_command(name, command_run):
    out, rows, _, _ = command_run
    row = rows[name]
    assert row["status"] == "ok", row["reason"]
    path = out / row["output_path"]
    assert _found(path.read_bytes()) == []
    assert _found(_dicom_text(path).encode("utf-8")) == []


def test_nothing_else_the_command_writes_holds_them(command_run):
    out, rows, printed, _ = command_run
    assert {rows[n]["status"] for n in _quarantined_inputs()} == {"quarantined"}
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            text = str(pl.read_parquet(path).rows())
            assert _found(text.encode("utf-8")) == [], path.name
        elif path.suffix != ".dcm":  # PNGs (their chunks), anything else
            assert _found(path.read_bytes()) == [], path.name
    assert _found(printed.encode("utf-8")) == []


def test_quarantine_reasons_quote_no_header_value(command_run):
    """The report's reasons (and what the command printed) named the Photometric
    Interpretation's text and an unregistered transfer syntax UID as they were."""
    _, rows, printed, report = command_run
    assert _found(report.encode("utf-8")) == []
    assert _found(printed.encode("utf-8")) == []
    assert "pixel data" in rows["photometric_text"]["reason"]
    assert "unregistered transfer syntax" in rows["unregistered_syntax"]["reason"]


def test_a_decode_error_names_no_header_text():
    ds = pydicom.dcmread(io.BytesIO(_quarantined_inputs()["photometric_text"]))
    with pytest.raises(DecodeError) as raised:
        list(iter_frames(ds))
    assert "QUIMBRELL" not in str(raised.value).upper()
    assert "(Explicit VR Little Endian, unknown photometric interpretation)" in str(raised.value)
    ds = pydicom.dcmread(io.BytesIO(_quarantined_inputs()["unregistered_syntax"]))
    with pytest.raises(DecodeError) as raised:
        list(iter_frames(ds))
    assert _found(str(raised.value).encode()) == []
    assert "(unregistered transfer syntax, MONOCHROME2)" in str(raised.value)


def test_a_frame_count_over_the_limit_is_not_quoted():
    from cadbusi_assets.dicom.io import DicomLimitError, declared_pixel_bytes

    ds = _patient()
    ds.NumberOfFrames = PATIENT_ID
    with pytest.raises(DicomLimitError) as raised:
        declared_pixel_bytes(ds)
    assert PATIENT_ID not in str(raised.value)


# --------------------------------------------------------------------- each fix, as a unit
def test_numbers_over_their_multiplicity_are_removed(pseudonymizer):
    out, data = _deidentified(_channel("numbers_over_their_multiplicity"), pseudonymizer)
    assert _found(data) == []
    for keyword in ("AcquisitionMatrix", "SmallestImagePixelValue", "TagAngleSecondAxis"):
        assert keyword not in out, keyword


def test_numbers_within_their_multiplicity_are_kept(pseudonymizer):
    ds = _patient()
    ds.AcquisitionMatrix = [0, 256, 256, 0]
    ds.SmallestImagePixelValue = 0
    ds.SequenceOfUltrasoundRegions[0].TableOfPixelValues = [0, 10, 20, 30000]
    ds.SequenceOfUltrasoundRegions[0].TableOfXBreakPoints = [0, 5, 12]
    out, _ = _deidentified(_file_bytes("", ds), pseudonymizer)
    assert out.AcquisitionMatrix == [0, 256, 256, 0]
    assert out.SmallestImagePixelValue == 0
    assert out.SequenceOfUltrasoundRegions[0].TableOfPixelValues == [0, 10, 20, 30000]
    assert out.SequenceOfUltrasoundRegions[0].TableOfXBreakPoints == [0, 5, 12]


def test_numbers_whose_bytes_spell_the_patient_are_removed(pseudonymizer):
    out, data = _deidentified(_channel("numbers_spelling_the_patient"), pseudonymizer)
    assert _found(data) == []
    assert "TableOfPixelValues" not in out.SequenceOfUltrasoundRegions[0]
    assert "TagAngleSecondAxis" not in out
    assert out.SequenceOfUltrasoundRegions[0].RegionLocationMaxX1 == 319  # the region stays


def test_the_leak_check_reads_numbers_as_bytes():
    ds = Dataset()
    ds.add_new(0x00186058, "UL", _packed("I", b"QUIMBRELL ZELDA 4815162 "))
    ds.add_new(0x00189219, "FD", _packed("d", b"4815162 ")[0])
    ids = OriginalIdentifiers(patient_names=(NAME,), patient_ids=(PATIENT_ID,))
    assert find_identifiers_in_dataset(ds, ids) == [
        "TableOfPixelValues: patient_id",
        "TableOfPixelValues: patient_name",
        "TagAngleSecondAxis: patient_id",
    ]
    ds = Dataset()
    ds.AcquisitionMatrix = [0, 256, 256, 0]
    ds.TagAngleSecondAxis = 12.5
    assert find_identifiers_in_dataset(ds, ids) == []


def test_palette_data_of_an_image_that_is_no_palette_image_goes(pseudonymizer):
    out, data = _deidentified(_channel("palette_in_a_grey_image"), pseudonymizer)
    assert _found(data) == []
    assert "RedPaletteColorLookupTableData" not in out
    assert "RedPaletteColorLookupTableDescriptor" not in out


def test_lut_data_past_its_last_entry_goes(pseudonymizer):
    out, data = _deidentified(_channel("lut_past_its_entries"), pseudonymizer)
    assert _found(data) == []
    assert out.VOILUTSequence[0].LUTData == bytes(range(256)) * 2  # the 256 entries stay


def test_a_control_character_between_words_does_not_glue_a_name(pseudonymizer):
    out, data = _deidentified(_channel("control_between_words"), pseudonymizer)
    assert _found(data) == []
    assert str(out.SeriesDescription).startswith("Breast")


def test_a_name_split_by_a_control_character_is_still_found(pseudonymizer):
    """The old case (round 7): the control inside the name, removed, joins it again."""
    ds = _patient()
    ds.SeriesDescription = "Pt QUIM~BRELL seen"
    _, data = _deidentified(_file_bytes("control_between_words", ds), pseudonymizer)
    assert _found(data) == []


@pytest.mark.parametrize(
    "name", ["utf8_read_as_latin1", "latin1_read_as_utf8", "name_itself_misread"]
)
def test_a_name_read_with_the_wrong_character_set_is_found(name, pseudonymizer):
    """A reading of the accented name in the wrong character set (``QuimbrÃ©ll``,
    ``Quimbr\ufffdll``) was kept: the matcher looked for ``QUIMBRÉLL`` and ``QUIMBRELL``
    only. (The name itself so read, spelled right beside it, was found already.)"""
    out, data = _deidentified(_channel(name), pseudonymizer)
    assert b"QUIMBR" not in data.upper()
    for element in out.iterall():
        if element.keyword in ("CodeMeaning", "SeriesDescription"):
            assert "LDA" not in str(element.value).upper(), element
    assert "Breast" in str(out.get("SeriesDescription", "Breast"))


def test_an_overlay_in_the_unused_high_bits_does_not_reach_the_pixels(pseudonymizer):
    """An embedded overlay (retired: bit 12 of 16-bit pixels of 8 bits stored) is masked
    off by the decoder: the written pixels are the stored 8 bits."""
    ds = _patient()
    stored = ds.pixel_array.astype(np.uint16)
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 8, 7
    ds.PixelData = (stored | (1 << 12)).tobytes()
    result = deidentify_dataset(pydicom.dcmread(io.BytesIO(_file_bytes("", ds))), pseudonymizer)
    kept = result.blanked_mask == 0
    assert np.array_equal(result.frames[0][kept], stored[kept].astype(np.uint8))


# ------------------------------------------------------------------------ left, as it is
def test_a_relative_without_a_cue_in_a_device_field_stays(pseudonymizer):
    """Gap: a surname alone in no vocabulary (nothing beside it saying a person: no title,
    no relative's word, no given name) in a kept device field or the occupation, and a full
    name in a serial number or a station's field (where codes of two capitalised words are
    common), read like a product's, a trade's or a station's name and stay. The phone goes."""
    ids = OriginalIdentifiers(patient_names=(NAME,), patient_ids=(PATIENT_ID,))
    ds = Dataset()
    ds.PatientID, ds.PatientName = PATIENT_ID, NAME
    ds.Manufacturer = "Acme Vexworth"
    ds.Occupation = "Vexworth"
    ds.DeviceSerialNumber = f"{RELATIVE} {PHONE}"
    clean_header(ds, pseudonymizer, DEFAULT_PROFILE, ids)
    assert str(ds.Manufacturer) == "Acme Vexworth"
    assert str(ds.Occupation) == "Vexworth"
    assert str(ds.DeviceSerialNumber) == f"{RELATIVE} [phone]"


def test_the_patients_own_bytes_in_a_number_of_any_multiplicity_go(pseudonymizer):
    ds = _patient()
    ds.SequenceOfUltrasoundRegions[0].add_new(0x00186052, "FD", _packed("d", b"QUIMBRELL ZELDA "))
    out, data = _deidentified(_file_bytes("", ds), pseudonymizer)
    assert _found(data) == []
    assert all("TableOfXBreakPoints" not in item for item in out.SequenceOfUltrasoundRegions)


# ------------------------------------------------------------------- the assets' one pass
def test_the_assets_pass_writes_none_of_them(tmp_path, pseudonymizer):
    """Every channel and the two undecodable inputs through the pass behind the
    ``deidentified_images``, ``image_features`` and ``inpainted_images`` assets: nothing in
    the research zone, and nothing in what the partition reports (its counts, tables and
    problems: the run's metadata) holds a planted word."""
    from cadbusi_assets.stages import imaging
    from cadbusi_assets.storage import open_zone
    from cadbusi_assets_tests.builders import DEMO_DAY, raw_zone_like_raw_dicom

    pacs = tmp_path / "pacs"
    pacs.mkdir()
    for index, name in enumerate(CHANNELS):
        (pacs / f"{index:02d}.dcm").write_bytes(_channel(name, index))
    for index, data in enumerate(_quarantined_inputs().values()):
        (pacs / f"9{index}.dcm").write_bytes(data)
    raw = raw_zone_like_raw_dicom(tmp_path, pacs)
    research = open_zone(tmp_path / "research", "research").ensure()
    result = imaging.process_partition(raw, research, pseudonymizer, DEMO_DAY, ocr=False, workers=1)
    report = result.deidentification.report
    assert report.counts["instances_deidentified"] == len(CHANNELS)
    assert report.counts["instances_quarantined"] == 2
    for path in sorted(p for p in (tmp_path / "research").rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            assert _found(str(pl.read_parquet(path).rows()).encode()) == [], path.name
        else:
            assert _found(path.read_bytes()) == [], path.name
    for part in (report, result.features, result.inpainting):
        shown = [*part.counts, *part.problems]
        shown += [str(table.rows()) for table in part.tables.values()]
        assert _found("\n".join(shown).encode()) == []
