"""DICOM-level attacks on de-identification that the canary matrix does not plant: a second
image in a sequence item, binary blobs, elements no dictionary knows, URLs, ages and class
UIDs at depth, a Specific Character Set holding text, an MRN in a number, a third party in
unlisted free text. Unit tests on the engine, and the same attacks through ``cadbusi
deidentify`` in its own process. Every name, number and date is synthetic.
"""

from __future__ import annotations

import io
import struct

import pydicom
import pytest
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import UID, ImplicitVRLittleEndian

from cadbusi_assets.deid import DEFAULT_PROFILE, OriginalIdentifiers
from cadbusi_assets.deid.deidentify import deidentify_dataset
from cadbusi_assets.deid.engine import clean_header
from cadbusi_assets.deid.scan import find_identifiers_in_dataset
from cadbusi_assets.dicom import dataset_to_bytes
from cadbusi_assets_tests.deid.canary import CANARIES, canary_dataset
from cadbusi_assets_tests.deid.phi_support import deidentify_in_process


def _out_bytes(ds: Dataset, pseudonymizer) -> tuple[Dataset, bytes]:
    """De-identify ``ds`` (after a write and read, as a file is): the cleaned data set and
    the bytes written."""
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    read = pydicom.dcmread(io.BytesIO(buffer.getvalue()))
    out = deidentify_dataset(read, pseudonymizer).dataset
    return out, dataset_to_bytes(out)


def _nested_image_and_blobs() -> Dataset:
    ds = canary_dataset(colour=False)
    item = Dataset()
    item.Rows, item.Columns, item.BitsAllocated, item.SamplesPerPixel = 8, 8, 8, 1
    item.PhotometricInterpretation = "MONOCHROME2"
    item.add_new(0x7FE00010, "OB", b"NESTPIXQ DR QUIGLEYMAN".ljust(64, b"\0"))
    ds.add_new(0x00081140, "SQ", Sequence([item]))  # Referenced Image Sequence (U*)
    ds.add_new(0x00282000, "OB", b"acspdesc DR HOLLOWBECK\0")  # ICC profile's text
    ds.add_new(0x00189219, "OB", b"DR HOLLOWBECKB\0\0")  # a float element written as OB
    ds.add_new(0x7F020010, "OW", b"VARPIXNAMEQ\0")  # retired Variable Pixel Data
    wave = Dataset()
    wave.WaveformBitsAllocated = 8
    wave.NumberOfWaveformChannels = 1
    wave.add_new(0x54001010, "OB", b"WAVEFORMNAMEQ\0\0\0")
    ds.WaveformSequence = Sequence([wave])
    return ds


def test_a_second_image_and_binary_blobs_do_not_survive(pseudonymizer):
    out, data = _out_bytes(_nested_image_and_blobs(), pseudonymizer)
    for word in (b"QUIGLEYMAN", b"NESTPIXQ", b"HOLLOWBECK", b"VARPIXNAMEQ", b"WAVEFORMNAMEQ"):
        assert word not in data, word
    assert "PixelData" in out and int(out.Rows) == 240  # the image itself is kept
    assert "PixelData" not in out.ReferencedImageSequence[0]


def test_palette_data_is_kept():
    ds = Dataset()
    ds.PatientID = "PAL123456"
    ds.add_new(0x00281201, "OW", b"\x00\x01" * 4)  # Red Palette Color Lookup Table Data
    clean_header(ds, _pseudo(), DEFAULT_PROFILE, OriginalIdentifiers.from_dataset(ds))
    assert ds[0x00281201].value == b"\x00\x01" * 4


def _pseudo():
    from cadbusi_assets.identity import Pseudonymizer
    from cadbusi_assets_tests.conftest import TEST_KEY

    return Pseudonymizer(TEST_KEY)


def test_leak_finder_reads_pixel_data_inside_a_sequence_item():
    ds = Dataset()
    item = Dataset()
    item.add_new(0x7FE00010, "OB", b"CANARYLAST CANARYFIRST\0\0")
    ds.add_new(0x00081140, "SQ", Sequence([item]))
    ids = OriginalIdentifiers(patient_names=("CANARYLAST^CANARYFIRST",))
    assert find_identifiers_in_dataset(ds, ids)


@pytest.mark.parametrize("implicit", [False, True], ids=["explicit", "implicit"])
def test_public_elements_no_dictionary_knows_are_removed(pseudonymizer, implicit):
    ds = canary_dataset(colour=False)
    ds.add_new(0x00109999, "LO", "UNKPUBNAMEA")
    ds.add_new(0x00089999, "UT", "seen by UNKPUBNAMEB")
    ds.add_new(0x00189999, "OB", b"UNKPUBNAMEC\0")
    ds.add_new(0x00209999, "PN", "UNKPUBNAMED^X")
    if implicit:
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    out, data = _out_bytes(ds, pseudonymizer)
    assert b"UNKPUBNAME" not in data
    assert not [e for e in out.iterall() if not e.tag.is_private and not e.keyword]


def test_urls_are_removed(pseudonymizer):
    ds = canary_dataset(colour=False)
    ds.add_new(0x00081190, "UR", "http://pacs.example/patients/URLNAMEQ")  # Retrieve URL
    ds.add_new(0x00287FE0, "UR", "http://pacs.example/pixels/URLPROVNAME")
    _, data = _out_bytes(ds, pseudonymizer)
    assert b"URLNAMEQ" not in data and b"URLPROVNAME" not in data


def test_ages_over_89_are_capped_at_every_depth(pseudonymizer):
    ds = canary_dataset(colour=False)
    ds.PatientAge = "095Y"
    inner = Dataset()
    inner.PatientAge = "097Y"
    odd = Dataset()
    odd.PatientAge = "97 years"
    ds.add_new(0x00081115, "SQ", Sequence([inner, odd]))  # Referenced Series Sequence
    out, _ = _out_bytes(ds, pseudonymizer)
    ages = [str(e.value) for e in out.iterall() if e.keyword == "PatientAge"]
    assert ages and set(ages) == {"090Y"}, ages


def test_unregistered_class_uids_are_remapped_registered_ones_kept(pseudonymizer):
    ds = canary_dataset(colour=False)
    item = Dataset()
    item.ReferencedSOPClassUID = "1.2.840.99.20170302.4242"  # made up: a date and a number
    item.ReferencedSOPInstanceUID = "1.2.840.99.20170302.4243"
    registered = Dataset()
    registered.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.6.1"
    registered.ReferencedSOPInstanceUID = "1.2.840.99.20170302.4244"
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "1", "SCT", "x"
    code.CodingSchemeUID = "2.16.840.1.113883.6.96"  # SNOMED CT's OID: not a DICOM UID
    ds.ReferencedImageSequence = Sequence([item, registered])
    ds.add_new(0x00081032, "SQ", Sequence([code]))  # Procedure Code Sequence
    out, data = _out_bytes(ds, pseudonymizer)
    assert b"20170302" not in data
    assert out.ReferencedImageSequence[1].ReferencedSOPClassUID == "1.2.840.10008.5.1.4.1.1.6.1"
    assert out.ProcedureCodeSequence[0].CodingSchemeUID == "2.16.840.1.113883.6.96"


def test_specific_character_set_keeps_only_defined_terms(pseudonymizer):
    ds = canary_dataset(colour=False)
    ds.SpecificCharacterSet = ["ISO_IR 100", "SPECCHARNAME"]
    item = Dataset()
    item.SpecificCharacterSet = "NESTEDCHARSETNAME"
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = "1", "99X", "Zoë"
    ds.add_new(0x00081032, "SQ", Sequence([item]))
    _, data = _out_bytes(ds, pseudonymizer)
    assert b"CHARSETNAME" not in data and b"SPECCHARNAME" not in data
    back = pydicom.dcmread(io.BytesIO(data))
    assert back.ProcedureCodeSequence[0].CodeMeaning == "Zoë"  # still readable
    kept = Dataset()
    kept.SpecificCharacterSet = ["", "ISO 2022 IR 87"]
    clean_header(kept, _pseudo(), DEFAULT_PROFILE, OriginalIdentifiers())
    assert list(kept.SpecificCharacterSet) == ["", "ISO 2022 IR 87"]


def test_an_mrn_in_a_number_is_removed_and_found(pseudonymizer):
    ds = canary_dataset(colour=False)
    ds.PatientID = "48213377"
    ds.InstanceNumber = 48213377
    ds.SeriesNumber = "48213377"
    ds.add_new(0x00181063, "DS", "48213377")  # Frame Time
    ds.AcquisitionNumber = 3  # a small number is kept
    out, data = _out_bytes(ds, pseudonymizer)
    assert b"48213377" not in data
    assert int(out.AcquisitionNumber) == 3
    found = Dataset()
    found.InstanceNumber = "48213377"
    ids = OriginalIdentifiers(patient_ids=("48213377",))
    assert find_identifiers_in_dataset(found, ids) == ["InstanceNumber: patient_id"]


def test_a_third_party_in_unlisted_free_text_is_scrubbed(pseudonymizer):
    ds = canary_dataset(colour=False)
    ds.add_new(0x0040A160, "UT", "Dictated by Dr Hargreavesson for Mrs Fairweatherby")
    item = Dataset()
    item.TextValue = "called Mrs Fairweatherby's husband"
    ds.add_new(0x00081250, "SQ", Sequence([item]))  # Related Series Sequence (unlisted)
    _, data = _out_bytes(ds, pseudonymizer)
    assert b"HARGREAVESSON" not in data.upper() and b"FAIRWEATHERBY" not in data.upper()


# -- the command in its own process ---------------------------------------------------------


def _png_chunks(png: bytes) -> set[str]:
    chunks, at = set(), 8
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        chunks.add(png[at + 4 : at + 8].decode("latin-1"))
        at += 12 + length
    return chunks - {"IHDR", "IDAT", "IEND"}


def _attack(name: str) -> tuple[Dataset, tuple[str, ...]]:
    ds = canary_dataset(colour=False)
    if name == "nested_image":
        ds = _nested_image_and_blobs()
        words: tuple[str, ...] = ("QUIGLEYMAN", "HOLLOWBECK", "VARPIXNAMEQ", "WAVEFORMNAMEQ")
    elif name == "unknown_and_url":
        ds.add_new(0x00109999, "LO", "UNKPUBNAMEA")
        ds.add_new(0x00081190, "UR", "http://pacs.example/URLNAMEQ")
        words = ("UNKPUBNAMEA", "URLNAMEQ")
    elif name == "charset_age_uid":
        ds.SpecificCharacterSet = ["ISO_IR 100", "SPECCHARNAME"]
        inner = Dataset()
        inner.PatientAge = "097Y"
        inner.ReferencedSOPClassUID = "1.2.840.99.20170302.4242"
        ds.add_new(0x00081115, "SQ", Sequence([inner]))
        words = ("SPECCHARNAME", "097Y", "20170302")
    else:  # mrn_in_numbers
        ds.OtherPatientIDs = [ds.PatientID]  # the canary MRN stays an identifier
        ds.PatientID = "48213377"
        ds.InstanceNumber = 48213377
        words = ("48213377",)
    uid = UID(f"{ds.SOPInstanceUID}.{len(name)}{sum(map(ord, name))}")
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid
    return ds, words


def test_command_writes_none_of_the_attacks(tmp_path):
    """``cadbusi deidentify`` in its own process: each attack is written (nothing to
    quarantine: the engine removes what it cannot judge) and no planted word is anywhere:
    the DICOM bytes, the PNGs (and no metadata chunk), file names, the report, the output."""
    source, out = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    planted: dict[str, tuple[str, ...]] = {}
    for name in ("nested_image", "unknown_and_url", "charset_age_uid", "mrn_in_numbers"):
        ds, words = _attack(name)
        ds.save_as(source / f"{name}.dcm", enforce_file_format=True)
        planted[name] = words
    done, rows, report = deidentify_in_process(tmp_path, source, out, set(planted))
    every = {w for words in planted.values() for w in words if len(w) > 4} | set(CANARIES)
    texts = [done.stdout, done.stderr, report.read_text()]
    texts += [str(p.relative_to(out)) for p in out.rglob("*")]
    for text in texts:
        assert not [w for w in every if w in text.upper()]
    for name, row in rows.items():
        data = (out / row["output_path"]).read_bytes()
        assert not [w for w in planted[name] + CANARIES if w.encode() in data.upper()], name
    pngs = list(out.rglob("*.png"))
    assert pngs and not set().union(*(_png_chunks(p.read_bytes()) for p in pngs))
    for png in pngs:
        assert not [w for w in every if w.encode() in png.read_bytes()]


def test_a_name_split_by_a_control_character_is_found(pseudonymizer):
    ds = canary_dataset(colour=False)
    ds.ImageComments = "Pt CANARY\x00LAST seen"
    ds.ManufacturerModelName = ["Model 7", "CANARY\x01LAST"]
    out, data = _out_bytes(ds, pseudonymizer)
    assert b"CANARY\x00LAST" not in data and b"CANARY\x01LAST" not in data
    assert not [e for e in out.iterall() if isinstance(e.value, str) and "\x00" in e.value]


def test_the_original_study_date_in_a_kept_text_value_is_removed(pseudonymizer):
    """Under modified dates every DA/DT is shifted; a kept descriptor that spells the true
    date out would undo the shift (a product name's digits that are no date stay)."""
    ds = canary_dataset(colour=False)
    ds.ManufacturerModelName = "Model 7 scanned 20170302"
    ds.SoftwareVersions = ["7.0.5.189", "build 2017-03-02"]
    ds.add_new(0x00181200, "DA", "2016.11.04")  # an old-style date, read all the same
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator = "1", "99X"
    item.CodeMeaning = "prior 04/11/2016"
    ds.add_new(0x00081032, "SQ", Sequence([item]))
    out, data = _out_bytes(ds, pseudonymizer)
    for text in (b"20170302", b"2017-03-02", b"04/11/2016"):
        assert text not in data, text
    assert out.SoftwareVersions[0] == "7.0.5.189"
    assert str(out.ManufacturerModelName).startswith("Model 7 scanned")


def test_uids_names_and_dates_written_as_plain_text_are_handled_as_such(pseudonymizer):
    """A UID written as LO kept the original UID (it links back to the source archive), a
    person name as LO in an unlisted attribute kept the name, a date as SH kept the date."""
    ds = canary_dataset(colour=False)
    ds.add(DataElement(0x0020000E, "LO", "1.2.826.0.1.3680043.99999.7.7"))  # Series UID
    ds.add(DataElement(0x00200052, "SH", "1.2.826.0.1.3680043.99999.7.8"))  # Frame of Ref.
    ds.add(DataElement(0x00080018, "LO", "1.2.826.0.1.3680043.99999.7.10"))  # SOP Instance
    item = Dataset()
    item.add(DataElement(0x00081155, "LO", "1.2.826.0.1.3680043.99999.7.9"))
    item.add(DataElement(0x00081150, "LO", "1.2.840.10008.5.1.4.1.1.6.1"))
    ds.SourceImageSequence = Sequence([item])
    ds.add(DataElement(0x00142006, "LO", "WRONGVRNAME^ANN"))  # Evaluator Name: unlisted PN
    ds.add(DataElement(0x00080012, "SH", "20170302"))  # Instance Creation Date
    out, data = _out_bytes(ds, pseudonymizer)
    for text in (b"99999.7.", b"WRONGVRNAME", b"20170302"):
        assert text not in data, text
    assert out.SeriesInstanceUID.startswith("2.25.") and out[0x00080018].VR == "UI"
    assert out.SourceImageSequence[0].ReferencedSOPClassUID == "1.2.840.10008.5.1.4.1.1.6.1"
