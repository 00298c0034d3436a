"""Identifier collection and the leak finders (text, bytes, data sets)."""

from __future__ import annotations

import datetime as dt

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence

from cadbusi_assets.deid import (
    OriginalIdentifiers,
    find_identifiers_in_bytes,
    find_identifiers_in_dataset,
    find_identifiers_in_text,
)
from cadbusi_assets.deid.scan import find_identifiers_in_file_bytes, pixel_data_span
from cadbusi_assets.dicom import dataset_to_bytes
from cadbusi_assets_tests.deid import canary

IDS = OriginalIdentifiers(
    patient_names=("O'BRIEN^MARY ANN",),
    patient_ids=("000123456",),
    accession_numbers=("ACC9876",),
    birth_dates=(dt.date(1951, 8, 29),),
    other=("RP-5544",),
)


def test_from_dataset_collects_nested_and_other_ids():
    ds = canary.canary_dataset()
    ids = OriginalIdentifiers.from_dataset(ds)
    assert ids.patient_names == (canary.NAME,)
    assert canary.MRN in ids.patient_ids and "CANARY4242-B" in ids.patient_ids
    assert ids.accession_numbers == (canary.ACCESSION,)
    assert ids.birth_dates == (canary.BIRTH,)
    assert canary.NESTED_NAME in ids.other and canary.STAFF in ids.other
    assert "CANARY4242-RP" in ids.other  # RequestedProcedureID inside a sequence


def test_from_dataset_reads_other_patient_ids_sequence():
    ds = Dataset()
    item = Dataset()
    item.PatientID = "ALT-778899"
    ds.OtherPatientIDsSequence = Sequence([item])
    assert OriginalIdentifiers.from_dataset(ds).patient_ids == ("ALT-778899",)


def test_merge_and_repr():
    merged = IDS.merge(OriginalIdentifiers(patient_ids=("000123456", "X77")))
    assert merged.patient_ids == ("000123456", "X77")
    assert "123456" not in repr(merged) and "BRIEN" not in str(merged).upper()


def test_search_terms_variants():
    terms = set(IDS.search_terms())
    assert ("patient_name", "O'BRIEN, MARY ANN") in terms
    assert ("patient_name", "MARY ANN O'BRIEN") in terms
    assert ("patient_name", "MARY") in terms
    assert ("patient_id", "123456") in terms and ("patient_id", "000123456") in terms
    assert ("birth_date", "08/29/1951") in terms
    assert ("birth_date", "29-AUG-1951") in terms
    assert ("birth_date", "1951-08-29") in terms
    assert all(len(text) >= 3 for _, text in terms)


def test_text_finder_is_case_insensitive_and_bounded():
    assert find_identifiers_in_text("pt mary ann o'brien", IDS) == ["patient_name"]
    assert find_identifiers_in_text("DOB 29-Aug-1951", IDS) == ["birth_date"]
    assert find_identifiers_in_text("MRN 123456", IDS) == ["patient_id"]
    assert find_identifiers_in_text("uid 2.25.91234567", IDS) == []
    assert find_identifiers_in_text("SUMMARY", IDS) == []
    assert find_identifiers_in_text("acc9876 / rp-5544", IDS) == [
        "accession_number",
        "other_identifier",
    ]
    assert find_identifiers_in_text("anything", OriginalIdentifiers()) == []


def test_bytes_finder_ascii_and_utf16():
    assert find_identifiers_in_bytes(b"\x00\x01ACC9876\x00", IDS) == ["accession_number"]
    assert find_identifiers_in_bytes("..o'brien..".encode("utf-16-le"), IDS) == ["patient_name"]
    assert find_identifiers_in_bytes("19510829".encode("utf-16-be"), IDS) == ["birth_date"]
    assert find_identifiers_in_bytes(b"XACC9876X", IDS) == []


def test_pixel_data_span_excludes_pixels_from_the_byte_scan():
    ds = canary.canary_dataset(colour=False)
    for elem in list(ds):
        if elem.tag != 0x7FE00010 and elem.tag.group > 0x0008:
            del ds[elem.tag]
    pixels = bytearray(ds.PixelData)
    pixels[100:108] = b" ACC9876"
    ds.PixelData = bytes(pixels)
    data = dataset_to_bytes(ds)
    start, end = pixel_data_span(data)
    assert data[start:end] == ds.PixelData
    assert find_identifiers_in_bytes(data, IDS) == ["accession_number"]
    assert find_identifiers_in_file_bytes(data, IDS) == []


def test_dataset_finder_walks_meta_sequences_and_private():
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.SourceApplicationEntityTitle = "ACC9876"
    ds.PatientComments = "born 08/29/1951"
    inner = Dataset()
    inner.AccessionNumber = "ACC9876"
    outer = Dataset()
    outer.ReferencedStudySequence = Sequence([inner])
    ds.DerivationCodeSequence = Sequence([outer])
    block = ds.private_block(0x0033, "SOME CREATOR", create=True)
    block.add_new(0x13, "UN", b"Mary Ann O'Brien")
    found = find_identifiers_in_dataset(ds, IDS)
    assert "file_meta.SourceApplicationEntityTitle: accession_number" in found
    assert "PatientComments: birth_date" in found
    assert (
        "DerivationCodeSequence[0].ReferencedStudySequence[0].AccessionNumber: accession_number"
        in found
    )
    assert "(0033,1013): patient_name" in found
    assert all("BRIEN" not in f.upper() and "9876" not in f for f in found)
