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
from collections.abc import Iterator, Sequence

import numpy as np
from PIL import Image, ImageFile
from pydicom import pixels as dicom_pixels
from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames
from pydicom.uid import UID, ExplicitVRLittleEndian, JPEGBaseline8Bit, JPEGExtended12Bit
from pydicom.valuerep import VR

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
        return _stretch(arr)
    arr = arr.astype(np.int64)
    if arr.min() < 0:
        arr = arr - arr.min()
    shift = max(0, bits - 8)
    return np.clip(arr >> shift, 0, 255).astype(np.uint8)


def _stretch(arr: np.ndarray, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """Linear map of ``[lo, hi]`` (default: the data range) onto 0..255."""
    arr = np.asarray(arr, dtype=np.float64)
    lo = float(np.nanmin(arr)) if lo is None else lo
    hi = float(np.nanmax(arr)) if hi is None else hi
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    return np.clip(np.rint((arr - lo) * scale), 0, 255).astype(np.uint8)


def _float(value: object, default: float) -> float:
    """First value of a DS/IS element (VM 1 or more) as float; ``default`` when unusable."""
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        value = value[0] if len(value) else None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default


def _window(values: np.ndarray, center: float, width: float, function: str) -> np.ndarray:
    """DICOM VOI windowing (PS3.3 C.11.2.1.2) straight to 0..255."""
    values = values.astype(np.float64)
    if function == "SIGMOID":
        out = 1.0 / (1.0 + np.exp(-4.0 * (values - center) / max(width, 1e-6)))
    elif function == "LINEAR_EXACT":
        out = (values - center) / max(width, 1e-6) + 0.5
    else:
        out = (values - (center - 0.5)) / max(width - 1.0, 1e-6) + 0.5
    return np.clip(np.rint(np.clip(out, 0.0, 1.0) * 255.0), 0, 255).astype(np.uint8)


def _grey_to_uint8(arr: np.ndarray, ds: Dataset) -> np.ndarray:
    """Modality LUT / rescale, then VOI LUT or window (or the data range) to 8 bits.

    8-bit data without a modality LUT and with no or a full-range window is returned as is.
    """
    slope = _float(ds.get("RescaleSlope", 1), 1.0)
    intercept = _float(ds.get("RescaleIntercept", 0), 0.0)
    modality = "ModalityLUTSequence" in ds or slope != 1.0 or intercept != 0.0
    voi_lut = bool(ds.get("VOILUTSequence"))
    has_window = "WindowCenter" in ds and "WindowWidth" in ds
    center = _float(ds.get("WindowCenter"), 0.0) if has_window else 0.0
    width = _float(ds.get("WindowWidth"), 0.0) if has_window else 0.0
    if arr.dtype == np.uint8 and not modality and not voi_lut:
        # Scanners write e.g. 127/254 for "the whole 8-bit range": keep those pixels exact.
        full_range = center - width / 2 <= 1 and center + width / 2 >= 253
        if not has_window or width <= 0 or full_range:
            return arr
    values = dicom_pixels.apply_modality_lut(arr, ds) if modality else arr
    if voi_lut:
        item = ds.VOILUTSequence[0]
        lut = np.asarray(item.LUTData if isinstance(item.LUTData, list) else [item.LUTData])
        out = dicom_pixels.apply_voi_lut(values, ds, prefer_lut=True)
        return _stretch(out, 0.0, float(max(1, lut.max())))
    if has_window and width > 0:
        function = str(ds.get("VOILUTFunction", "LINEAR")).strip().upper()
        return _window(values, center, width, function)
    if arr.dtype == np.uint8 and not modality:
        return arr
    return _stretch(values)


def _palette_to_uint8(arr: np.ndarray, ds: Dataset) -> np.ndarray:
    """Apply the palette; 16-bit LUT entries are scaled to 8 bits (8-bit values kept)."""
    rgb = dicom_pixels.apply_color_lut(arr, ds)
    if rgb.dtype == np.uint8:
        return rgb
    descriptor = ds.get("RedPaletteColorLookupTableDescriptor", [0, 0, 16])
    entries = int(descriptor[0]) or 65536
    first = int(descriptor[1])
    ramp = np.arange(first, first + entries, dtype=np.uint16 if entries > 256 else np.uint8)
    lut_max = int(dicom_pixels.apply_color_lut(ramp, ds).max())
    if lut_max > 255:
        return (rgb >> 8).astype(np.uint8)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def _postprocess(arr: np.ndarray, ds: Dataset) -> np.ndarray:
    photometric = str(ds.get("PhotometricInterpretation", "")).strip()
    if photometric == "PALETTE COLOR":
        arr = _palette_to_uint8(arr, ds)
    elif photometric in ("MONOCHROME1", "MONOCHROME2") and (arr.ndim == 2 or arr.shape[-1] == 1):
        arr = _grey_to_uint8(arr[..., 0] if arr.ndim == 3 else arr, ds)
    else:
        arr = _to_uint8(arr, ds)
    if photometric == "MONOCHROME1":
        arr = 255 - arr
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    return np.ascontiguousarray(arr)


#: Image modes :func:`image_array` copies itself (8-bit samples: the array of the mode's bytes).
_PACKED_MODES = {"L": 1, "RGB": 3}


def image_array(image: Image.Image) -> np.ndarray:
    """``np.asarray(image)``: the same values, shape and dtype, but a writable array of its
    own, filled straight from Pillow's raw packer (what ``Image.tobytes`` runs) for an
    ``L`` or ``RGB`` image. ``np.asarray`` joins the packer's chunks into one ``bytes`` (a
    copy) and wraps it read-only, so the de-identification copied the frame again to blank
    it (:func:`~cadbusi_assets.deid.deidentify.decode_all_frames`): one copy of the frame
    instead of two (a 960x720 RGB frame: ~0.3 ms of ~4). Other modes: ``np.asarray(image)``.

    >>> rgb = Image.new("RGB", (5, 3), (1, 2, 3))
    >>> array = image_array(rgb)
    >>> np.array_equal(array, np.asarray(rgb)), array.flags.writeable, array.shape
    (True, True, (3, 5, 3))
    """
    channels = _PACKED_MODES.get(image.mode)
    encoder_of = getattr(Image, "_getencoder", None)
    if channels is None or encoder_of is None:
        return np.asarray(image)
    image.load()
    width, height = image.size
    shape = (height, width) if channels == 1 else (height, width, channels)
    out = np.empty(shape, np.uint8)
    if out.size == 0:
        return np.asarray(image)
    flat = out.reshape(-1)
    encoder = encoder_of(image.mode, "raw", image.mode)
    filled, errcode = 0, 0
    try:
        encoder.setimage(image.im, (0, 0, width, height))
        bufsize = max(ImageFile.MAXBLOCK, width * 4)  # as Image.tobytes (RawEncode.c)
        while not errcode:
            _, errcode, data = encoder.encode(bufsize)
            if filled + len(data) > flat.size:
                errcode = -1
                break
            flat[filled : filled + len(data)] = np.frombuffer(data, np.uint8)
            filled += len(data)
    finally:
        encoder.cleanup()
    if errcode < 0 or filled != flat.size:
        return np.asarray(image)  # whatever went wrong, np.asarray's own outcome
    return out


def _direct_jpeg_frames(ds: Dataset, indices: list[int]) -> Iterator[tuple[int, np.ndarray]] | None:
    if _transfer_syntax(ds) not in _DIRECT_JPEG or int(ds.get("BitsAllocated", 8)) != 8:
        return None
    n_frames = number_of_frames(ds)
    rows, cols = int(ds.Rows), int(ds.Columns)
    wanted = set(indices)
    raw_rgb = str(ds.get("PhotometricInterpretation", "")).strip() == "RGB"

    def generate() -> Iterator[tuple[int, np.ndarray]]:
        for index, fragment in enumerate(generate_frames(ds.PixelData, number_of_frames=n_frames)):
            if index not in wanted:
                continue
            with Image.open(io.BytesIO(fragment)) as image:
                if raw_rgb and "adobe_transform" not in image.info:
                    # RGB compressed without the YCbCr transform: keep the samples as stored.
                    image.draft("YCbCr", (cols, rows))
                else:
                    image.draft(image.mode, (cols, rows))
                arr = image_array(image)
            if arr.shape[0] != rows or arr.shape[1] != cols:
                raise DecodeError("JPEG frame size does not match Rows/Columns")
            yield index, np.ascontiguousarray(arr)

    return generate()


def iter_frames(
    ds: Dataset, step: int = 1, indices: list[int] | None = None
) -> Iterator[tuple[int, np.ndarray]]:
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
        raise DecodeError(
            f"cannot decode pixel data ({_syntax_label(ds)}, {_photometric_label(ds)}): "
            f"{type(exc).__name__}"
        ) from None


#: Defined terms of Photometric Interpretation (PS3.3 C.7.6.3.1.2), retired ones included.
_PHOTOMETRIC_TERMS = frozenset(
    {
        "MONOCHROME1", "MONOCHROME2", "PALETTE COLOR", "RGB", "HSV", "ARGB", "CMYK",
        "YBR_FULL", "YBR_FULL_422", "YBR_PARTIAL_422", "YBR_PARTIAL_420", "YBR_ICT", "YBR_RCT",
        "XYB",
    }
)  # fmt: skip


def _syntax_label(ds: Dataset) -> str:
    """A registered transfer syntax's name; never an unregistered UID (a header value: it
    reaches quarantine reasons, the screen and the partition's metadata, and can embed an
    MRN or a date)."""
    syntax = _transfer_syntax(ds)
    if syntax is None:
        return "no transfer syntax"
    name = UID(str(syntax)).name
    return name if name != str(syntax) else "unregistered transfer syntax"


def _photometric_label(ds: Dataset) -> str:
    """A defined Photometric Interpretation as it is; any other text is not quoted."""
    photometric = str(ds.get("PhotometricInterpretation", "") or "").strip()
    if not photometric:
        return "no photometric interpretation"
    return (
        photometric if photometric in _PHOTOMETRIC_TERMS else "unknown photometric interpretation"
    )


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
    if not _set_uint8_pixels(ds, frames, colour):
        ds.set_pixel_data(frames, "RGB" if colour else "MONOCHROME2", 8)


def _set_uint8_pixels(ds: Dataset, frames: np.ndarray, colour: bool) -> bool:
    """What ``Dataset.set_pixel_data(frames, RGB or MONOCHROME2, 8)`` does to ``ds`` (the
    same elements, values and order; a test compares the bytes) without its passes over the
    pixels for the value range (every uint8 value fits 8 bits) and without drawing a new SOP
    Instance UID. False (nothing changed) where pydicom's checks or errors could apply."""
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    single = frames.ndim == (3 if colour else 2)
    if (
        frames.ndim not in ((3, 4) if colour else (2, 3))
        or (syntax and not syntax.is_little_endian)
        or 0x7FE00008 in ds
        or 0x7FE00009 in ds
        or not hasattr(ds, "file_meta")
    ):
        return False
    shape = frames.shape if single else frames.shape[1:]
    if single:
        if "NumberOfFrames" in ds:
            del ds["NumberOfFrames"]
    else:
        ds.NumberOfFrames = frames.shape[0]
    ds.Rows, ds.Columns = shape[0], shape[1]
    ds.SamplesPerPixel = 3 if colour else 1
    if colour:
        ds.PlanarConfiguration = 0
    elif "PlanarConfiguration" in ds:
        del ds["PlanarConfiguration"]
    ds.PhotometricInterpretation = "RGB" if colour else "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    data = frames.tobytes()
    ds.PixelData = data if len(data) % 2 == 0 else b"".join((data, b"\x00"))
    elem = ds["PixelData"]
    elem.VR = VR.OB
    elem.is_undefined_length = False
    ds._pixel_array = None
    ds._pixel_id = {}
    if not syntax or syntax.is_compressed:
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return True
