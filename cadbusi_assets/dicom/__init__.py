"""Reading, decoding and writing DICOM objects (pydicom), independent of any pipeline.

One shared decoder (:func:`iter_frames`) gives every frame as 8-bit grey ``(H, W)`` or RGB
``(H, W, 3)`` with correct colour, using a direct JPEG path for YBR baseline frames.
"""

from cadbusi_assets.dicom.io import (
    DicomLimitError,
    DicomReadError,
    check_declared_size,
    dataset_to_bytes,
    dataset_to_parts,
    is_multiframe,
    number_of_frames,
    quiet_pydicom,
    read_dataset,
)
from cadbusi_assets.dicom.pixels import (
    DecodeError,
    decode_frame,
    frame_indices,
    iter_frames,
    set_frames,
    to_grey_if_neutral,
)
from cadbusi_assets.dicom.regions import UltrasoundRegion, ultrasound_regions

__all__ = [
    "DecodeError",
    "DicomLimitError",
    "DicomReadError",
    "UltrasoundRegion",
    "check_declared_size",
    "dataset_to_bytes",
    "dataset_to_parts",
    "decode_frame",
    "frame_indices",
    "is_multiframe",
    "iter_frames",
    "number_of_frames",
    "quiet_pydicom",
    "read_dataset",
    "set_frames",
    "to_grey_if_neutral",
    "ultrasound_regions",
]
