"""The folder PACS: one folder per US study, readable and decodable objects, consistent headers."""

from __future__ import annotations

import duckdb
import numpy as np
from pydicom.encaps import generate_fragments, parse_basic_offsets

from cadbusi_assets.dicom import number_of_frames, ultrasound_regions

US_IMAGE = "1.2.840.10008.5.1.4.1.1.6.1"
US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"


def exam_rows(cohort) -> list[dict]:
    with duckdb.connect(str(cohort.warehouse_path), read_only=True) as con:
        cursor = con.execute(
            "SELECT e.*, p.patient_name, p.birth_date, p.sex FROM radiology_exams e "
            "JOIN patients p USING (patient_id)"
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def test_one_folder_per_us_study_with_a_uid(demo_cohort):
    rows = exam_rows(demo_cohort)
    expected = {
        r["study_instance_uid"] for r in rows if r["modality"] == "US" and r["study_instance_uid"]
    }
    folders = {p.name for p in demo_cohort.pacs_root.iterdir() if p.is_dir()}
    assert folders == expected
    assert all(any(p.iterdir()) for p in demo_cohort.pacs_root.iterdir())
    assert any(r["modality"] == "US" and r["study_instance_uid"] is None for r in rows)


def test_files_are_named_by_uids_and_truth_exists(demo_cohort, datasets, truths):
    for path in demo_cohort.pacs_root.glob("*/*.dcm"):
        ds = datasets[path.stem]
        assert ds.SOPInstanceUID == path.stem == ds.file_meta.MediaStorageSOPInstanceUID
        assert ds.StudyInstanceUID == path.parent.name
        assert path.read_bytes()[128:132] == b"DICM"
    assert set(truths) == set(datasets)


def test_objects_decode_to_the_ground_truth_geometry(datasets, decoded, truths):
    for sop, ds in datasets.items():
        truth = truths[sop]
        assert ds.Modality == "US"
        assert ds.SOPClassUID == truth["sop_class_uid"]
        assert ds.SOPClassUID == (US_MULTIFRAME if truth["is_cine"] else US_IMAGE)
        assert str(ds.file_meta.TransferSyntaxUID) == truth["transfer_syntax"]
        assert ds.PhotometricInterpretation == truth["photometric"]
        assert number_of_frames(ds) == truth["number_of_frames"] == len(decoded[sop])
        for frame in decoded[sop]:
            assert frame.shape[:2] == (truth["rows"], truth["columns"])
            assert frame.ndim == (3 if truth["decoded_mode"] == "RGB" else 2)
        assert [list(r.box) for r in ultrasound_regions(ds)] == [r["box"] for r in truth["regions"]]
        for item, region in zip(ds.SequenceOfUltrasoundRegions, truth["regions"], strict=True):
            assert item.RegionSpatialFormat == 1
            assert item.RegionDataType == region["data_type"]
            assert item.PhysicalUnitsXDirection == item.PhysicalUnitsYDirection == 3
            assert abs(item.PhysicalDeltaX - region["physical_delta_cm"]) < 1e-9


def test_headers_match_the_warehouse(demo_cohort, datasets):
    by_uid = {r["study_instance_uid"]: r for r in exam_rows(demo_cohort) if r["study_instance_uid"]}
    for ds in datasets.values():
        row = by_uid[ds.StudyInstanceUID]
        assert str(ds.PatientName) == row["patient_name"]
        assert ds.PatientID == row["patient_id"]
        assert ds.PatientBirthDate == row["birth_date"].strftime("%Y%m%d")
        assert ds.PatientSex == row["sex"]
        assert ds.AccessionNumber == row["accession_number"]
        assert ds.StudyDate == row["exam_date"].strftime("%Y%m%d")
        assert ds.StudyTime == row["exam_datetime"].strftime("%H%M%S")
        assert ds.StudyDescription == row["exam_description"]
        assert ds.InstitutionName == row["site"]
        assert ds.BodyPartExamined == "BREAST"
        assert ds.ImageLaterality in {"L", "R"}
        assert row["patient_id"] in ds.ImageComments
        age = int(ds.PatientAge[:3])
        assert abs(age - (row["exam_date"] - row["birth_date"]).days / 365.25) < 1
        for keyword in (
            "SeriesDate",
            "SeriesTime",
            "ContentDate",
            "ContentTime",
            "AcquisitionDateTime",
            "InstanceCreationDate",
            "ReferringPhysicianName",
            "OperatorsName",
            "PerformingPhysicianName",
            "StationName",
            "DeviceSerialNumber",
            "Manufacturer",
            "ManufacturerModelName",
            "SoftwareVersions",
            "TransducerData",
            "StudyID",
            "InstitutionAddress",
            "SeriesDescription",
        ):
            assert ds.get(keyword) not in (None, ""), keyword


def test_feature_mix_is_present(datasets, truths):
    photometrics = {t["photometric"] for t in truths.values()}
    assert photometrics == {"RGB", "MONOCHROME2", "YBR_FULL_422"}
    layouts = {t["layout"] for t in truths.values()}
    assert len(layouts) >= 3
    sizes = {(t["rows"], t["columns"]) for t in truths.values()}
    assert len(sizes) >= 3
    assert {f["fov_shape"] for t in truths.values() for f in t["frames"]} == {"rectangle", "sector"}
    assert any(t["is_cine"] for t in truths.values())
    assert any(f["is_doppler"] for t in truths.values() for f in t["frames"])
    assert any(t["has_calipers"] for t in truths.values())
    assert any(t["twin_of"] for t in truths.values())
    tags = {ds.get("BurnedInAnnotation") for ds in datasets.values()}
    assert tags == {"YES", None}
    cine_jpeg = [
        ds
        for ds in datasets.values()
        if number_of_frames(ds) > 1 and ds.PhotometricInterpretation == "YBR_FULL_422"
    ]
    assert cine_jpeg


def test_jpeg_objects_are_baseline_ybr_422_one_fragment_per_frame(datasets):
    jpeg = [
        ds for ds in datasets.values() if ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.50"
    ]
    assert jpeg
    for ds in jpeg:
        assert ds.PhotometricInterpretation == "YBR_FULL_422"
        assert ds.PlanarConfiguration == 0 and ds.SamplesPerPixel == 3
        assert ds.LossyImageCompression == "01"
        offsets = parse_basic_offsets(ds.PixelData)
        fragments = list(generate_fragments(ds.PixelData[8 + 4 * len(offsets) :]))
        assert len(offsets) == len(fragments) == number_of_frames(ds)
        assert all(f[:2] == b"\xff\xd8" for f in fragments)


def test_cine_has_8_to_16_frames_and_frame_timing(datasets):
    cine = [ds for ds in datasets.values() if number_of_frames(ds) > 1]
    assert cine
    for ds in cine:
        assert 8 <= ds.NumberOfFrames <= 16
        assert float(ds.FrameTime) > 0
        assert ds.FrameIncrementPointer == 0x00181063


def test_studies_hold_three_to_eight_stills(truths):
    by_study: dict[str, int] = {}
    for t in truths.values():
        if not t["is_cine"] and not t["twin_of"]:
            by_study[t["study_instance_uid"]] = by_study.get(t["study_instance_uid"], 0) + 1
    assert all(3 <= n <= 8 for n in by_study.values())


def test_doppler_frames_hold_strong_red_and_blue_in_the_box(decoded, truths):
    found = 0
    for sop, truth in truths.items():
        for k, frame_truth in enumerate(truth["frames"]):
            if not frame_truth["is_doppler"]:
                continue
            found += 1
            x0, y0, x1, y1 = frame_truth["doppler_box"]
            box = decoded[sop][k][y0 : y1 + 1, x0 : x1 + 1].astype(int)
            r, g, b = box[..., 0], box[..., 1], box[..., 2]
            red = (r >= 200) & (r - np.maximum(g, b) >= 100)
            blue = (b >= 200) & (b - np.maximum(r, g) >= 100)
            assert red.any() or blue.any()
            assert truth["regions"][0]["data_type"] == 2
    assert found
