"""Write synthetic frames as small ultrasound DICOM files (uncompressed or JPEG baseline)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import JPEGBaseline8Bit, UltrasoundImageStorage, generate_uid

from cadbusi_assets.dicom import set_frames


def write_us_dicom(
    path: Path,
    frames: np.ndarray | list[np.ndarray],
    *,
    study_uid: str,
    region: tuple[int, int, int, int] | None = None,
    jpeg: bool = False,
    laterality: str | None = None,
) -> Path:
    """A minimal US image file holding ``frames`` (one frame or a list for a cine)."""
    stack = np.stack(frames) if isinstance(frames, list) else frames
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.SOPClassUID = UltrasoundImageStorage
    ds.SOPInstanceUID = generate_uid(entropy_srcs=[str(path)])
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = study_uid + ".1"
    ds.Modality = "US"
    if laterality:
        ds.Laterality = laterality
    if region is not None:
        item = Dataset()
        item.RegionLocationMinX0, item.RegionLocationMinY0 = region[0], region[1]
        item.RegionLocationMaxX1, item.RegionLocationMaxY1 = region[2], region[3]
        item.RegionSpatialFormat, item.RegionDataType = 1, 1
        item.PhysicalDeltaX = item.PhysicalDeltaY = 0.01
        ds.SequenceOfUltrasoundRegions = [item]
    set_frames(ds, stack)
    if isinstance(frames, list):
        ds.NumberOfFrames = len(frames)
    if jpeg:
        many = stack if isinstance(frames, list) else stack[None]
        fragments = []
        for frame in many:
            buffer = io.BytesIO()
            Image.fromarray(frame).save(buffer, format="JPEG", quality=92, subsampling=1)
            fragments.append(buffer.getvalue())
        ds.PixelData = encapsulate(fragments)
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
        ds.PhotometricInterpretation = (
            "YBR_FULL_422"
            if stack.ndim == (4 if isinstance(frames, list) else 3)
            else "MONOCHROME2"
        )
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path
