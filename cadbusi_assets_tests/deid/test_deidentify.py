"""End-to-end de-identification of single objects: the canary, real files, fail-closed cases."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pydicom
import pytest
from pydicom.uid import ExplicitVRLittleEndian

from cadbusi_assets.deid import (
    DEFAULT_PROFILE,
    DeidentificationError,
    OriginalIdentifiers,
    deidentify_dataset,
    find_identifiers_in_bytes,
    find_identifiers_in_dataset,
    get_profile,
)
from cadbusi_assets.deid.scan import find_identifiers_in_file_bytes, iter_elements
from cadbusi_assets.dicom import dataset_to_bytes, decode_frame, iter_frames, read_dataset
from cadbusi_assets_tests.deid import canary
from cadbusi_assets_tests.deid.conftest import pydicom_file


def _all_text(ds) -> str:
    parts = []
    for path, elem in iter_elements(ds):
        if elem.tag == 0x7FE00010:
            continue
        parts.append(path)
        value = elem.value
        if isinstance(value, bytes):
            parts.append(value.decode("latin-1"))
        elif elem.VR != "SQ":
            parts.append(str(value))
    return "\n".join(parts).upper()


def _canary_identifiers() -> OriginalIdentifiers:
    return OriginalIdentifiers(
        patient_names=(canary.NAME, canary.STAFF, canary.NESTED_NAME),
        patient_ids=(canary.MRN,),
        accession_numbers=(canary.ACCESSION,),
        birth_dates=(canary.BIRTH,),
        other=tuple(canary.CANARIES),
    )


# -- the canary ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def canary_result(pseudonymizer):
    return deidentify_dataset(canary.canary_dataset(), pseudonymizer)


def test_no_canary_survives_in_bytes_or_elements(canary_result):
    data = dataset_to_bytes(canary_result.dataset)
    text = _all_text(read_dataset(data))
    header_bytes = data[: data.rfind(b"\xe0\x7f\x10\x00")].upper()
    for value in canary.CANARIES:
        assert value not in text, f"canary {value} survived in an element"
        assert value.encode() not in header_bytes, f"canary {value} survived in the bytes"
        assert value.encode("utf-16-le") not in header_bytes
    assert find_identifiers_in_dataset(read_dataset(data), _canary_identifiers()) == []
    assert find_identifiers_in_file_bytes(data, _canary_identifiers()) == []


def test_canary_places_are_handled(canary_result):
    out = canary_result.dataset
    assert not [e for e in out if e.tag.is_private]
    assert not [e for e in out if 0x5000 <= e.tag.group <= 0x60FF]
    assert "SourceApplicationEntityTitle" not in out.file_meta
    assert 0x00020102 not in out.file_meta
    assert out.PatientName in ("", None)
    assert out.PatientBirthDate in ("", None)
    assert "InstitutionName" not in out
    assert "OtherPatientIDs" not in out
    inner = out.DerivationCodeSequence[0].PurposeOfReferenceCodeSequence[0]
    assert "OperatorsName" not in inner
    assert "PatientBirthDate" not in inner or not inner.PatientBirthDate
    assert canary_result.actions["private-removed"] >= 3
    assert canary_result.actions["overlay-removed"] >= 4
    assert canary_result.actions["curve-removed"] == 1


def test_canary_pseudonyms_use_the_pipeline_functions(canary_result, pseudonymizer):
    out = canary_result.dataset
    assert out.PatientID == pseudonymizer.patient_id(canary.MRN) == canary_result.pseudo_patient_id
    assert out.AccessionNumber == pseudonymizer.accession_number(canary.ACCESSION)
    assert out.RequestAttributesSequence[0].AccessionNumber == out.AccessionNumber
    inner = out.DerivationCodeSequence[0].PurposeOfReferenceCodeSequence[0]
    assert inner.AccessionNumber == out.AccessionNumber
    assert (
        out.StudyInstanceUID
        == pseudonymizer.uid(canary.STUDY_UID)
        == canary_result.pseudo_study_uid
    )
    assert out.SeriesInstanceUID == pseudonymizer.uid(canary.SERIES_UID)
    assert out.SOPInstanceUID == pseudonymizer.uid(canary.SOP_UID) == canary_result.pseudo_sop_uid
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
    assert inner.ReferencedSOPInstanceUID == pseudonymizer.uid(canary.REFERENCED_UID)
    assert inner.ReferencedSOPClassUID == "1.2.840.10008.5.1.4.1.1.6.1"
    assert out.SOPClassUID == "1.2.840.10008.5.1.4.1.1.6.1"


def test_canary_dates_are_shifted_per_patient(canary_result, pseudonymizer):
    out = canary_result.dataset
    shift = pseudonymizer.date_shift_days(canary.MRN)
    expected = dt.date(2017, 3, 2) + dt.timedelta(days=shift)
    assert canary_result.date_shift_days == shift < 0
    assert out.StudyDate == expected.strftime("%Y%m%d")
    assert canary_result.study_date_shifted == expected
    assert out.SeriesDate == out.StudyDate == out.ContentDate
    assert out.AcquisitionDateTime == expected.strftime("%Y%m%d") + "172457.000000+0100"
    assert out.StudyTime == "172457"
    assert out.PatientAge == "056Y"
    assert out.PatientSex == "F"


def test_canary_descriptors_are_scrubbed_not_dropped(canary_result):
    out = canary_result.dataset
    assert out.SeriesDescription == "Adv Breast L12-5"
    assert out.StudyDescription.startswith("US BREAST LT")
    assert out.ImageComments.startswith("RT 10:00 3CM FN")
    assert out.StationName == "US-ROOM-3"  # Retain Device Identity
    assert out.ManufacturerModelName.startswith("Model 7")


def test_bookkeeping_attributes(canary_result):
    out = canary_result.dataset
    assert out.PatientIdentityRemoved == "YES"
    assert out.BurnedInAnnotation == "NO"
    assert out.LongitudinalTemporalInformationModified == "MODIFIED"
    codes = [item.CodeValue for item in out.DeidentificationMethodCodeSequence]
    assert codes[0] == "113100"
    assert {"113101", "113105", "113107", "113108", "113109"} <= set(codes)
    assert "113106" not in codes
    assert all(len(v) <= 64 for v in out.DeidentificationMethod)


def test_canary_pixels_blanked_outside_region_and_kept_inside(canary_result):
    original = canary.burned_in_pixels()
    frames = canary_result.frames
    x0, y0, x1, y1 = canary.REGION
    assert frames.shape == (1, canary.ROWS, canary.COLS, 3)
    assert original[:y0].max() == 255  # the band had text
    assert frames[0, :y0].max() == 0
    assert np.array_equal(frames[0, y0 : y1 + 1, x0 : x1 + 1], original[y0 : y1 + 1, x0 : x1 + 1])
    assert canary_result.blanked_mask[:y0].all() and not canary_result.blanked_mask[y0:].any()
    written = decode_frame(read_dataset(dataset_to_bytes(canary_result.dataset)))
    assert np.array_equal(written, frames[0])
    assert "kept 1 ultrasound region" in canary_result.pixel_cleaning


def test_output_is_deterministic(pseudonymizer):
    first = dataset_to_bytes(deidentify_dataset(canary.canary_dataset(), pseudonymizer).dataset)
    second = dataset_to_bytes(deidentify_dataset(canary.canary_dataset(), pseudonymizer).dataset)
    assert first == second


def test_input_dataset_is_not_modified(pseudonymizer):
    ds = canary.canary_dataset()
    before = dataset_to_bytes(ds)
    deidentify_dataset(ds, pseudonymizer)
    assert dataset_to_bytes(ds) == before


def test_repr_holds_no_phi(canary_result):
    assert "CANARY" not in repr(canary_result).upper()
    assert "CANARY" not in repr(canary_result.identifiers).upper()


# -- fail closed --------------------------------------------------------------------------


def test_no_region_and_no_device_rule_fails_closed(pseudonymizer):
    ds = read_dataset(pydicom_file("color-pl.dcm"))
    with pytest.raises(DeidentificationError, match="no usable ultrasound region"):
        deidentify_dataset(ds, pseudonymizer)


def test_region_outside_the_image_is_rejected(pseudonymizer):
    ds = read_dataset(pydicom_file("examples_ybr_color.dcm"))
    with pytest.raises(DeidentificationError, match="outside the image"):
        deidentify_dataset(ds, pseudonymizer)


def test_whole_image_region_is_rejected(pseudonymizer):
    ds = canary.canary_dataset()
    region = ds.SequenceOfUltrasoundRegions[0]
    region.RegionLocationMinY0 = 0
    with pytest.raises(DeidentificationError, match="whole image"):
        deidentify_dataset(ds, pseudonymizer)


def test_unsupported_sop_class_fails_closed(pseudonymizer):
    ds = read_dataset(pydicom_file("CT_small.dcm"))
    with pytest.raises(DeidentificationError, match="unsupported SOP class"):
        deidentify_dataset(ds, pseudonymizer)


def test_undecodable_pixels_fail_closed(pseudonymizer):
    ds = canary.canary_dataset()
    ds.PixelData = ds.PixelData[:1000]
    with pytest.raises(DeidentificationError, match="pixel"):
        deidentify_dataset(ds, pseudonymizer)


def test_error_messages_hold_no_phi(pseudonymizer):
    ds = canary.canary_dataset()
    del ds.SequenceOfUltrasoundRegions
    with pytest.raises(DeidentificationError) as info:
        deidentify_dataset(ds, pseudonymizer)
    assert "CANARY" not in str(info.value).upper()


def test_profile_without_clean_pixel_data_is_refused(pseudonymizer):
    from cadbusi_assets.deid.profile import DeidProfile

    profile = DeidProfile(name="no-pixels", options=frozenset({"retain_device_identity"}))
    with pytest.raises(DeidentificationError, match="Clean Pixel Data"):
        deidentify_dataset(canary.canary_dataset(), pseudonymizer, profile)


# -- real files ---------------------------------------------------------------------------


def test_philips_epiq_breast_image(greyscale_image, pseudonymizer):
    result = deidentify_dataset(greyscale_image, pseudonymizer)
    data = dataset_to_bytes(result.dataset)
    back = pydicom.dcmread(__import__("io").BytesIO(data))
    assert find_identifiers_in_dataset(back, result.identifiers) == []
    assert find_identifiers_in_file_bytes(data, result.identifiers) == []
    assert not result.identifiers.is_empty()
    assert back.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    original = pydicom.pixels.pixel_array(greyscale_image)  # stored values
    x0, y0, x1, y1 = result.kept_regions[0].box
    cleaned = pydicom.pixels.pixel_array(back)
    assert np.array_equal(cleaned[y0 : y1 + 1, x0 : x1 + 1], original[y0 : y1 + 1, x0 : x1 + 1])
    assert cleaned[:y0].max() == 0 and original[:y0].max() > 0
    assert back.PatientID == pseudonymizer.patient_id(str(greyscale_image.PatientID))


def test_planar_configuration_1_cine_is_written_interleaved(ultrasounds, pseudonymizer):
    ds = read_dataset(ultrasounds / "ultrasound-multiframe.dcm")
    assert ds.PlanarConfiguration == 1
    result = deidentify_dataset(ds, pseudonymizer)
    out = read_dataset(dataset_to_bytes(result.dataset))
    assert out.PlanarConfiguration == 0 and out.NumberOfFrames == 30
    x0, y0, x1, y1 = result.kept_regions[0].box
    for index, frame in iter_frames(out, indices=[0, 29]):
        original = decode_frame(ds, index)
        assert np.array_equal(frame[y0 : y1 + 1, x0 : x1 + 1], original[y0 : y1 + 1, x0 : x1 + 1])
        assert frame[:y0].max() == 0


def test_greyscale_cine_every_frame_cleaned(cines, pseudonymizer):
    ds = read_dataset(cines["GREYSCALE_CINE"])
    result = deidentify_dataset(ds, pseudonymizer)
    assert result.frames.shape[0] == 27
    assert result.actions["pixel-frames-cleaned"] == 27
    assert not result.frames[:, result.blanked_mask].any()


def test_rgb_cine_terason(cines, pseudonymizer):
    ds = read_dataset(cines["RGB_CINE"])
    result = deidentify_dataset(ds, pseudonymizer)
    assert result.frames.shape == (51, 672, 1016, 3)
    assert not result.frames[:, result.blanked_mask].any()
    assert find_identifiers_in_dataset(result.dataset, result.identifiers) == []


def test_same_study_gets_same_study_uid(ultrasounds, cines, pseudonymizer):
    image_ds = read_dataset(ultrasounds / "GREYSCALE_IMAGE.dcm")
    cine_ds = read_dataset(cines["GREYSCALE_CINE"])
    assert image_ds.StudyInstanceUID == cine_ds.StudyInstanceUID
    image = deidentify_dataset(image_ds, pseudonymizer)
    cine = deidentify_dataset(cine_ds, pseudonymizer)
    assert image.pseudo_study_uid == cine.pseudo_study_uid
    assert image.pseudo_sop_uid != cine.pseudo_sop_uid
    for original, result in ((image_ds, image), (cine_ds, cine)):
        assert result.pseudo_patient_id == pseudonymizer.patient_id(str(original.PatientID))
        assert result.date_shift_days == pseudonymizer.date_shift_days(str(original.PatientID))


def test_same_patient_objects_share_pseudonyms_and_shift(pseudonymizer):
    first = canary.canary_dataset()
    second = canary.canary_dataset()
    second.SOPInstanceUID = "1.2.826.0.1.3680043.99999.1.5"
    second.StudyDate = "20170310"
    a = deidentify_dataset(first, pseudonymizer)
    b = deidentify_dataset(second, pseudonymizer)
    assert a.pseudo_patient_id == b.pseudo_patient_id
    assert a.date_shift_days == b.date_shift_days
    assert (b.study_date_shifted - a.study_date_shifted).days == 8  # interval kept
    assert a.pseudo_series_uid == b.pseudo_series_uid and a.pseudo_sop_uid != b.pseudo_sop_uid


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("US1_UNCR.dcm", "device rule ge-logiq700-480x640"),
        ("US1_J2KR.dcm", "device rule ge-logiq700-480x640"),
        ("OBXXXX1A.dcm", "ultrasound regions"),
        ("examples_palette.dcm", "device rule philips-cx50"),
        ("gdcm-US-ALOKA-16.dcm", "ultrasound regions"),
    ],
)
def test_pydicom_ultrasound_files(name, source, pseudonymizer):
    ds = read_dataset(pydicom_file(name))
    result = deidentify_dataset(ds, pseudonymizer)
    out = read_dataset(dataset_to_bytes(result.dataset))
    assert out.PhotometricInterpretation in ("RGB", "MONOCHROME2")
    assert "RedPaletteColorLookupTableData" not in out
    frame = decode_frame(out)
    assert frame.shape[:2] == (ds.Rows, ds.Columns)
    assert not frame[result.blanked_mask].any()
    assert find_identifiers_in_dataset(out, result.identifiers) == []
    assert (source in result.pixel_cleaning) or (
        source == "ultrasound regions" and "ultrasound region" in result.pixel_cleaning
    )


def test_basic_profile_removes_dates_and_device(pseudonymizer):
    result = deidentify_dataset(canary.canary_dataset(), pseudonymizer, get_profile("basic"))
    out = result.dataset
    assert "StationName" not in out and "SeriesDate" not in out
    assert out.StudyDate in ("", None)
    assert out.LongitudinalTemporalInformationModified == "REMOVED"
    assert result.study_date_shifted is None
    assert "SeriesDescription" not in out


def test_full_dates_profile_keeps_dates(pseudonymizer):
    result = deidentify_dataset(
        canary.canary_dataset(), pseudonymizer, get_profile("research-breast-us-full-dates")
    )
    assert result.dataset.StudyDate == canary.STUDY_DATE
    assert result.dataset.LongitudinalTemporalInformationModified == "UNMODIFIED"


def test_extra_identifiers_are_scrubbed(pseudonymizer):
    ds = canary.canary_dataset()
    ds.SeriesDescription = "Adv Breast WARDXYZ"
    extra = OriginalIdentifiers(other=("WARDXYZ",))
    result = deidentify_dataset(ds, pseudonymizer, extra_identifiers=extra)
    assert "WARDXYZ" not in result.dataset.SeriesDescription
    assert find_identifiers_in_bytes(dataset_to_bytes(result.dataset), extra) == []


def test_default_profile_is_the_research_profile():
    assert DEFAULT_PROFILE.name == "research-breast-us"
