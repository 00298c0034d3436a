"""DICOM Part-10 objects for the folder PACS: a realistic US header, PHI where anonymizers
miss it, ultrasound regions, and pixel data as RGB, MONOCHROME2 or JPEG baseline YBR_FULL_422.

PHI is planted on purpose (so de-identification has something to find): top-level patient and
study attributes, ``ImageComments`` with the MRN, ``OtherPatientIDsSequence``,
``RequestAttributesSequence``, a two-level nested ``ReferencedPerformedProcedureStepSequence``
> ``ProcedureCodeSequence`` item naming the patient and holding the birth date, a private block
(group 0x0009, creator ``SYNTHUS 1.0``) with ``NAME MRN`` and a private sequence with the birth
date, and overlay comments ``(6000,4000)`` with the name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.tag import Tag
from pydicom.uid import ExplicitVRLittleEndian, JPEGBaseline8Bit

from cadbusi_assets.dicom import dataset_to_bytes
from cadbusi_demo.acquisition import StudyPlan, ViewPlan
from cadbusi_demo.ids import derive_uid
from cadbusi_demo.layouts import LAYOUTS

US_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.6.1"
US_MULTIFRAME_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.3.1"
PRIVATE_CREATOR = "SYNTHUS 1.0"
JPEG_QUALITY = 90
FRAME_TIME_MS = 33.3


def encode_jpeg(frame: np.ndarray) -> bytes:
    """Baseline JPEG, 4:2:2 chroma subsampling (YCbCr), quality 90."""
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="JPEG", quality=JPEG_QUALITY, subsampling="4:2:2")
    return buffer.getvalue()


def _da(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def _tm(moment: dt.datetime) -> str:
    return moment.strftime("%H%M%S")


def device_serial(station: str) -> str:
    digest = hashlib.sha256(station.encode()).hexdigest()
    return f"{station.split('-')[0]}{int(digest, 16) % 1_000_000:06d}"


def _region_item(region: dict, layout_name: str, dual_index: int | None) -> Dataset:
    from cadbusi_demo.render import geometries

    x0, y0, x1, y1 = region["box"]
    geo = geometries(layout_name, dual_index is not None)[dual_index or 0]
    fov = geo.fov
    if fov.shape == "sector":
        ref_x, ref_y = round(fov.apex[0]) - x0, round(fov.apex[1]) - y0
    else:
        ref_x, ref_y = (fov.box[0] + fov.box[2]) // 2 - x0, fov.box[1] - y0
    item = Dataset()
    item.RegionSpatialFormat = 1
    item.RegionDataType = region["data_type"]
    item.RegionFlags = 0
    item.RegionLocationMinX0, item.RegionLocationMinY0 = x0, y0
    item.RegionLocationMaxX1, item.RegionLocationMaxY1 = x1, y1
    item.ReferencePixelX0, item.ReferencePixelY0 = int(ref_x), int(ref_y)
    item.PhysicalUnitsXDirection = 3
    item.PhysicalUnitsYDirection = 3
    item.ReferencePixelPhysicalValueX = 0.0
    item.ReferencePixelPhysicalValueY = 0.0
    item.PhysicalDeltaX = float(region["physical_delta_cm"])
    item.PhysicalDeltaY = float(region["physical_delta_cm"])
    item.TransducerFrequency = int(LAYOUTS[layout_name].frequency_mhz * 1000)
    return item


def _phi_traps(ds: Dataset, study: StudyPlan, view: ViewPlan) -> None:
    patient = study.patient
    other = Dataset()
    other.PatientID = patient.patient_id
    other.IssuerOfPatientID = study.site.station.split("-")[0]
    other.TypeOfPatientID = "TEXT"
    ds.OtherPatientIDsSequence = Sequence([other])

    request = Dataset()
    request.AccessionNumber = study.accession
    request.RequestedProcedureID = study.accession
    request.ScheduledProcedureStepID = f"SPS{study.accession}"
    request.RequestedProcedureDescription = study.description[:64]
    ds.RequestAttributesSequence = Sequence([request])

    code = Dataset()
    code.CodeValue = "USBREAST"
    code.CodingSchemeDesignator = "99SYNTH"
    code.CodeMeaning = f"BREAST US {patient.pn} {_da(patient.birth_date)}"[:64]
    code.PatientBirthDate = _da(patient.birth_date)
    step = Dataset()
    step.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.3"
    step.ReferencedSOPInstanceUID = derive_uid(study.seed, "mpps", study.accession)
    step.ProcedureCodeSequence = Sequence([code])
    ds.ReferencedPerformedProcedureStepSequence = Sequence([step])

    block = ds.private_block(0x0009, PRIVATE_CREATOR, create=True)
    block.add_new(0x01, "LO", f"{patient.pn} {patient.patient_id}")
    block.add_new(0x02, "DS", f"{50 + view.index % 7}")
    block.add_new(0x03, "SH", LAYOUTS[study.layout].preset.upper())
    block.add_new(0x04, "UL", int(study.depth_cm * 10))
    inner = Dataset()
    inner_block = inner.private_block(0x0009, PRIVATE_CREATOR, create=True)
    inner_block.add_new(0x11, "DA", _da(patient.birth_date))
    inner_block.add_new(0x12, "LO", f"DOB {patient.birth_date:%m/%d/%Y}")
    block.add_new(0x10, "SQ", Sequence([inner]))

    ds.add_new(Tag(0x6000, 0x0022), "LO", "ANNOTATION LAYER")
    ds.add_new(Tag(0x6000, 0x4000), "LT", f"REVIEWED FOR {patient.pn}")


def build_dataset(
    study: StudyPlan,
    view: ViewPlan,
    *,
    sop_instance_uid: str,
    instance_number: int,
    frames: list[np.ndarray],
    regions: list[dict],
    colour: bool,
) -> Dataset:
    """The full data set for one instance (pixel data encoded per ``view.encoding``)."""
    layout = LAYOUTS[study.layout]
    patient = study.patient
    cine = view.frames > 1
    content = study.exam_datetime + dt.timedelta(
        seconds=60 + 20 * instance_number + 300 * (view.series_number - 1)
    )
    series_time = study.exam_datetime + dt.timedelta(seconds=30 + 300 * (view.series_number - 1))

    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.InstanceCreationDate, ds.InstanceCreationTime = _da(content.date()), _tm(content)
    ds.SOPClassUID = US_MULTIFRAME_IMAGE_STORAGE if cine else US_IMAGE_STORAGE
    ds.SOPInstanceUID = sop_instance_uid
    ds.StudyDate, ds.StudyTime = _da(study.exam_datetime.date()), _tm(study.exam_datetime)
    ds.SeriesDate, ds.SeriesTime = _da(series_time.date()), _tm(series_time)
    ds.ContentDate, ds.ContentTime = _da(content.date()), _tm(content)
    ds.AcquisitionDateTime = content.strftime("%Y%m%d%H%M%S")
    ds.AccessionNumber = study.accession
    ds.Modality = "US"
    ds.Manufacturer = layout.manufacturer
    ds.InstitutionName = study.site.name
    ds.InstitutionAddress = study.site.address
    ds.ReferringPhysicianName = study.referring_pn
    ds.StationName = study.site.station
    ds.StudyDescription = study.description
    ds.SeriesDescription = "BREAST CINE" if cine else "BREAST 2D"
    ds.PerformingPhysicianName = study.radiologist_pn
    ds.OperatorsName = study.operator
    ds.ManufacturerModelName = layout.model
    ds.PatientName = patient.pn
    ds.PatientID = patient.patient_id
    ds.IssuerOfPatientID = study.site.station.split("-")[0]
    ds.PatientBirthDate = _da(patient.birth_date)
    ds.PatientSex = patient.sex
    ds.PatientAge = f"{patient.age_on(study.exam_datetime.date()):03d}Y"
    ds.BodyPartExamined = "BREAST"
    ds.DeviceSerialNumber = device_serial(study.site.station)
    ds.SoftwareVersions = layout.software_versions
    ds.TransducerData = [layout.probe, layout.probe_type, f"{layout.frequency_mhz:g}"]
    ds.StudyInstanceUID = study.study_instance_uid
    ds.SeriesInstanceUID = study.series_uids[view.series_number - 1]
    ds.StudyID = study.accession
    ds.SeriesNumber = view.series_number
    ds.InstanceNumber = instance_number
    ds.ImageLaterality = view.laterality[0]
    ds.ImageComments = f"MRN {patient.patient_id} {view.laterality_text}"
    _phi_traps(ds, study, view)

    ds.Rows, ds.Columns = layout.rows, layout.columns
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    if colour:
        ds.SamplesPerPixel = 3
        ds.PlanarConfiguration = 0
    else:
        ds.SamplesPerPixel = 1
    if view.burned_in_tag:
        ds.BurnedInAnnotation = "YES"
    dual = len(regions) > 1
    ds.SequenceOfUltrasoundRegions = Sequence(
        [_region_item(r, study.layout, i if dual else None) for i, r in enumerate(regions)]
    )
    if cine:
        ds.NumberOfFrames = len(frames)
        ds.FrameTime = FRAME_TIME_MS
        ds.FrameIncrementPointer = Tag(0x0018, 0x1063)
        ds.CineRate = 30
        ds.RecommendedDisplayFrameRate = 30

    meta = FileMetaDataset()
    if view.encoding == "jpeg":
        fragments = [encode_jpeg(f) for f in frames]
        ds.PhotometricInterpretation = "YBR_FULL_422"
        ds.LossyImageCompression = "01"
        raw = sum(f.nbytes for f in frames)
        ds.LossyImageCompressionRatio = f"{raw / sum(len(b) for b in fragments):.2f}"
        ds.LossyImageCompressionMethod = "ISO_10918_1"
        ds.add_new(Tag(0x7FE0, 0x0010), "OB", encapsulate(fragments))
        meta.TransferSyntaxUID = JPEGBaseline8Bit
    else:
        ds.PhotometricInterpretation = "RGB" if colour else "MONOCHROME2"
        ds.LossyImageCompression = "00"
        ds.add_new(Tag(0x7FE0, 0x0010), "OB", np.ascontiguousarray(np.stack(frames)).tobytes())
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    return ds


def instance_bytes(study: StudyPlan, view: ViewPlan, **kwargs) -> bytes:
    return dataset_to_bytes(build_dataset(study, view, **kwargs))
