"""Reading and writing DICOM files with clear errors.

>>> from pydicom.data import get_testdata_file
>>> ds = read_dataset(get_testdata_file("examples_rgb_color.dcm", download=False))
>>> number_of_frames(ds)
1
"""

from __future__ import annotations

import io
import os
from typing import BinaryIO

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import ExplicitVRLittleEndian


class DicomReadError(ValueError):
    """A file is not readable DICOM. The message says why, without any header value."""


def read_dataset(
    source: str | os.PathLike[str] | bytes | BinaryIO, stop_before_pixels: bool = False
) -> Dataset:
    """Read a DICOM file (path, bytes or binary file object).

    Raises :class:`DicomReadError` for empty, truncated, non-DICOM or pixel-less image files.
    """
    stream: BinaryIO | str | os.PathLike[str]
    stream = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    try:
        ds = pydicom.dcmread(stream, stop_before_pixels=stop_before_pixels, force=False)
    except InvalidDicomError:
        raise DicomReadError(
            "not a DICOM file (no 'DICM' preamble and no recognisable data set)"
        ) from None
    except (EOFError, OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        kind = type(exc).__name__
        raise DicomReadError(f"unreadable or truncated DICOM ({kind})") from None
    except Exception as exc:  # pydicom raises a variety of errors on corrupt input
        raise DicomReadError(f"unreadable DICOM ({type(exc).__name__})") from None
    if len(ds) == 0:
        raise DicomReadError("empty DICOM data set")
    if not stop_before_pixels and "PixelData" not in ds and "Rows" in ds:
        raise DicomReadError("image object without PixelData (truncated file?)")
    return ds


def number_of_frames(ds: Dataset) -> int:
    try:
        return max(1, int(ds.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        return 1


def is_multiframe(ds: Dataset) -> bool:
    return number_of_frames(ds) > 1


def dataset_to_bytes(ds: Dataset) -> bytes:
    """Serialize as a DICOM Part-10 file; identical data sets give identical bytes."""
    if not hasattr(ds, "file_meta") or ds.file_meta is None:
        ds.file_meta = FileMetaDataset()
    meta = ds.file_meta
    if "TransferSyntaxUID" not in meta:
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
    if "SOPClassUID" in ds:
        meta.MediaStorageSOPClassUID = ds.SOPClassUID
    if "SOPInstanceUID" in ds:
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
