"""Small synthetic ultrasound instances for tests and the retrieval benchmark (no real data).

>>> from cadbusi_assets.dicom import read_dataset
>>> data = synthetic_us_instance("1.2.826.0.1.3680043.10.1", "1.2.826.0.1.3680043.10.2",
...                              "1.2.826.0.1.3680043.10.3", rows=8, columns=8)
>>> read_dataset(data).Modality
'US'
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, UltrasoundImageStorage

from cadbusi_assets.dicom import dataset_to_bytes

#: Root for synthetic UIDs (pydicom's documented example root, never used by real devices).
SYNTHETIC_UID_ROOT = "1.2.826.0.1.3680043.8.498."


def synthetic_uid(*parts: int) -> str:
    """A deterministic synthetic UID: ``synthetic_uid(1, 2) == '1.2.826.0.1.3680043.8.498.1.2'``."""
    return SYNTHETIC_UID_ROOT + ".".join(str(int(p)) for p in parts)


def synthetic_us_instance(
    study_instance_uid: str,
    series_instance_uid: str,
    sop_instance_uid: str,
    *,
    rows: int = 48,
    columns: int = 64,
    accession_number: str = "SYNTH0001",
    patient_id: str = "SYNTH-PATIENT",
    patient_name: str = "SYNTHETIC^PATIENT",
    study_date: dt.date = dt.date(2024, 3, 5),
    study_time: str = "101500",
    instance_number: int = 1,
    seed: int = 0,
) -> bytes:
    """A single-frame RGB ultrasound image as Part-10 bytes (explicit VR little endian).

    Same arguments, same bytes. ``rows`` × ``columns`` × 3 bytes of noise-like pixels.
    """
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(rows, columns, 3), dtype=np.uint8)

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = UltrasoundImageStorage
    ds.SOPInstanceUID = sop_instance_uid
    ds.StudyInstanceUID = study_instance_uid
    ds.SeriesInstanceUID = series_instance_uid
    ds.Modality = "US"
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.AccessionNumber = accession_number
    ds.StudyDate = study_date.strftime("%Y%m%d")
    ds.StudyTime = study_time
    ds.SeriesNumber = 1
    ds.InstanceNumber = instance_number
    ds.StudyDescription = "SYNTHETIC US BREAST"
    ds.Manufacturer = "SYNTHETIC"
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"
    ds.PlanarConfiguration = 0
    ds.Rows = rows
    ds.Columns = columns
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = pixels.tobytes()
    return dataset_to_bytes(ds)
