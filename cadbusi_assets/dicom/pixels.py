"""Frame decoding and write-back with correct colour.

:func:`iter_frames` yields ``(index, array)`` with ``array`` 8-bit, grey ``(H, W)`` or RGB
``(H, W, 3)``. JPEG baseline frames are decoded directly with Pillow (libjpeg-turbo does the
YCbCr->RGB conversion: bit-identical to pydicom's Pillow path and about 5x faster, see
performance.md section 3b); everything else goes through ``pydicom.pixels``.

>>> from pydicom.data import get_testdata_file
>>> from cadbusi_assets.dicom.io import read_dataset
>>> ds = read_dataset(get_testdata_file("SC_rgb_dcmtk_+eb+cy+s2.dcm", download=False))
>>> index, frame = next(iter_frames(ds))
>>> frame.shape, frame.dtype.name
((100, 100, 3), 'uint8')
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
from PIL import Image
from pydicom import pixels as dicom_pixels
from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames
from pydicom.uid import JPEGBaseline8Bit, JPEGExtended12Bit

from cadbusi_assets.dicom.io import number_of_frames

_DIRECT_JPEG = {JPEGBaseline8Bit, JPEGExtended12Bit}
_COLOUR = {"RGB", "YBR_FULL", "YBR_FULL_422", "YBR_PARTIAL_420", "YBR_ICT", "YBR_RCT"}


class DecodeError(ValueError):
    """Pixel data cannot be decoded; the message names the transfer syntax and photometric."""


def frame_indices(n_frames: int, step: int = 1) -> list[int]:
    """Frames kept when sampling every ``step``-th frame (always at least frame 0).

    >>> frame_indices(10, 4)
    [0, 4, 8]
    """
    step = max(1, int(step))
    return list(range(0, max(1, n_frames), step))


def _transfer_syntax(ds: Dataset):
    meta = getattr(ds, "file_meta", None)
    return getattr(meta, "TransferSyntaxUID", None) if meta is not None else None


def _to_uint8(arr: np.ndarray, ds: Dataset) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    bits = int(ds.get("BitsStored", 8) or 8)
    if np.issubdtype(arr.dtype, np.floating):
        lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        return np.clip((arr - lo) * scale, 0, 255).astype(np.uint8)
    arr = arr.astype(np.int64)
    if arr.min() < 0:
        arr = arr - arr.min()
    shift = max(0, bits - 8)
    return np.clip(arr >> shift, 0, 255).astype(np.uint8)


def _postprocess(arr: np.ndarray, ds: Dataset) -> np.ndarray:
    photometric = str(ds.get("PhotometricInterpretation", "")).strip()
    if photometric == "PALETTE COLOR":
        arr = dicom_pixels.apply_color_lut(arr, ds)
    arr = _to_uint8(arr, ds)
    if photometric == "MONOCHROME1":
        arr = 255 - arr
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    return np.ascontiguousarray(arr)


def _direct_jpeg_frames(ds: Dataset, indices: list[int]) -> Iterator[tuple[int, np.ndarray]] | None:
    if _transfer_syntax(ds) not in _DIRECT_JPEG or int(ds.get("BitsAllocated", 8)) != 8:
        return None
    n_frames = number_of_frames(ds)
    rows, cols = int(ds.Rows), int(ds.Columns)
    wanted = set(indices)

    def generate() -> Iterator[tuple[int, np.ndarray]]:
        for index, fragment in enumerate(generate_frames(ds.PixelData, number_of_frames=n_frames)):
            if index not in wanted:
                continue
            with Image.open(io.BytesIO(fragment)) as image:
                image.draft(image.mode, (cols, rows))
                arr = np.asarray(image)
            if arr.shape[0] != rows or arr.shape[1] != cols:
                raise DecodeError("JPEG frame size does not match Rows/Columns")
            yield index, np.ascontiguousarray(arr)

    return generate()


def iter_frames(ds: Dataset, step: int = 1, indices: list[int] | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """Decode the frames of ``ds`` (every ``step``-th, or the given ``indices``)."""
    if "PixelData" not in ds:
        raise DecodeError("the object has no PixelData")
    n_frames = number_of_frames(ds)
    wanted = sorted(set(indices)) if indices is not None else frame_indices(n_frames, step)
    wanted = [i for i in wanted if 0 <= i < n_frames]
    try:
        direct = _direct_jpeg_frames(ds, wanted)
        if direct is not None:
            yield from direct
            return
        for index in wanted:
            arr = dicom_pixels.pixel_array(ds, index=index if n_frames > 1 else None)
            if n_frames > 1 and arr.ndim >= 3 and arr.shape[0] == 1 and "SamplesPerPixel" in ds:
                arr = arr[0]
            yield index, _postprocess(arr, ds)
    except DecodeError:
        raise
    except Exception as exc:
        syntax = _transfer_syntax(ds)
        name = getattr(syntax, "name", str(syntax))
        photometric = ds.get("PhotometricInterpretation", "?")
        raise DecodeError(
            f"cannot decode pixel data ({name}, {photometric}): {type(exc).__name__}"
        ) from None


def decode_frame(ds: Dataset, index: int = 0) -> np.ndarray:
    for _, frame in iter_frames(ds, indices=[index]):
        return frame
    raise DecodeError(f"frame {index} does not exist")


def to_grey_if_neutral(frame: np.ndarray, tolerance: int = 0) -> np.ndarray:
    """Return a 2-D grey frame when every pixel of an RGB frame has R=G=B (within tolerance)."""
    if frame.ndim != 3:
        return frame
    r, g, b = frame[..., 0], frame[..., 1], frame[..., 2]
    if tolerance == 0:
        neutral = np.array_equal(r, g) and np.array_equal(g, b)
    else:
        neutral = bool(
            (np.abs(r.astype(np.int16) - g).max() <= tolerance)
            and (np.abs(g.astype(np.int16) - b).max() <= tolerance)
        )
    return np.ascontiguousarray(g) if neutral else frame


def set_frames(ds: Dataset, frames: np.ndarray) -> None:
    """Replace the pixel data with uncompressed 8-bit ``frames`` (lossless write-back).

    ``frames`` is ``(H, W)`` / ``(H, W, 3)`` for one frame or ``(N, H, W[, 3])`` for cine.
    Sets PhotometricInterpretation (MONOCHROME2 or RGB), PlanarConfiguration 0, and an
    uncompressed transfer syntax (``Dataset.set_pixel_data``).
    """
    frames = np.ascontiguousarray(frames, dtype=np.uint8)
    colour = frames.ndim >= 3 and frames.shape[-1] == 3
    ds.set_pixel_data(frames, "RGB" if colour else "MONOCHROME2", 8)
