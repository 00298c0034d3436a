"""Decoding with correct colour and grey levels, on real files from pydicom-data and deid-data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom import pixels as dicom_pixels
from pydicom.data import get_testdata_file

from cadbusi_assets.dicom import decode_frame, iter_frames, read_dataset


def load(name: str):
    path = get_testdata_file(name, download=False)
    assert path is not None, f"{name} missing: install pydicom-data"
    return read_dataset(path)


def deid_ultrasound(name: str) -> Path:
    import deid_data

    return Path(deid_data.__file__).parent / "data" / "ultrasounds" / name


def diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(np.int32) - b.astype(np.int32))


REFERENCE_RGB = "SC_rgb.dcm"


@pytest.mark.parametrize(
    ("name", "max_mean_error"),
    [
        ("SC_rgb_rle.dcm", 0.0),  # RLE lossless
        ("SC_rgb_16bit.dcm", 0.0),  # 16-bit samples
        ("SC_rgb_jpeg_gdcm.dcm", 0.0),  # JPEG lossless
        ("SC_rgb_dcmtk_+eb+cr.dcm", 0.5),  # JPEG baseline, RGB
        ("SC_rgb_dcmtk_+eb+cy+s2.dcm", 1.0),  # JPEG baseline, YBR_FULL_422
        ("SC_ybr_full_uncompressed.dcm", 1.0),  # uncompressed YBR_FULL
        ("SC_ybr_full_422_uncompressed.dcm", 1.0),  # uncompressed YBR_FULL_422
    ],
)
def test_every_encoding_of_the_same_rgb_image_decodes_to_it(name, max_mean_error):
    reference = decode_frame(load(REFERENCE_RGB))
    frame = decode_frame(load(name))
    assert frame.dtype == np.uint8 and frame.shape == reference.shape == (100, 100, 3)
    assert diff(frame, reference).mean() <= max_mean_error


def test_planar_configuration_one_equals_zero():
    assert np.array_equal(decode_frame(load("color-pl.dcm")), decode_frame(load("color-px.dcm")))


def test_jpeg2000_lossless_and_lossy_match_the_uncompressed_us_image():
    raw = decode_frame(load("US1_UNCR.dcm"))
    assert np.array_equal(decode_frame(load("US1_J2KR.dcm")), raw)
    assert diff(decode_frame(load("US1_J2KI.dcm")), raw).mean() < 3.0


@pytest.mark.parametrize(
    "name",
    [
        "SC_rgb_dcmtk_+eb+cy+s2.dcm",
        "SC_jpeg_no_color_transform.dcm",
        "SC_jpeg_no_color_transform_2.dcm",
    ],
)
def test_direct_jpeg_path_is_bit_identical_to_pydicom_pillow(name):
    ds = load(name)
    expected = dicom_pixels.pixel_array(ds, decoding_plugin="pillow")
    assert np.array_equal(decode_frame(ds), expected)


def test_palette_colour_is_scaled_to_8_bits_in_every_byte_order_and_encoding():
    little = decode_frame(load("OBXXXX1A.dcm"))
    assert little.shape == (600, 800, 3)
    # A 16-bit LUT taken as 8-bit values saturates the image (a white fan).
    assert little.mean() < 60 and (little == 255).mean() < 0.05
    assert np.array_equal(decode_frame(load("OBXXXX1A_expb.dcm")), little)
    assert np.array_equal(decode_frame(load("OBXXXX1A_rle.dcm")), little)
    aloka = decode_frame(load("gdcm-US-ALOKA-16.dcm"))
    assert np.array_equal(decode_frame(load("gdcm-US-ALOKA-16_big.dcm")), aloka)
    assert 10 < aloka.mean() < 80


def test_window_is_applied_to_16_bit_grey():
    ds = load("MR_small.dcm")
    frame = decode_frame(ds)
    raw = ds.pixel_array.astype(np.float64) * float(ds.get("RescaleSlope", 1)) + float(
        ds.get("RescaleIntercept", 0)
    )
    center, width = float(ds.WindowCenter), float(ds.WindowWidth)
    expected = np.clip(((raw - (center - 0.5)) / (width - 1) + 0.5), 0, 1) * 255
    assert diff(frame, np.rint(expected)).max() <= 1
    assert frame.max() == 255 and frame.min() < 100


@pytest.mark.parametrize("name", ["mlut_18.dcm", "vlut_04.dcm", "CT_small.dcm"])
def test_lut_outputs_span_8_bits_and_keep_the_order_of_the_stored_values(name):
    ds = load(name)
    frame = decode_frame(ds).astype(np.int32)
    raw = ds.pixel_array.astype(np.int64)
    assert frame.max() - frame.min() >= 200
    order = np.argsort(raw, axis=None, kind="stable")
    assert (np.diff(frame.ravel()[order]) >= 0).all()


def test_monochrome1_is_inverted():
    ds = load("RG1_J2KR.dcm")
    frame = decode_frame(ds).astype(np.int32)
    raw = ds.pixel_array.astype(np.int64)
    order = np.argsort(raw, axis=None, kind="stable")
    assert (np.diff(frame.ravel()[order]) <= 0).all()


def test_8_bit_grey_is_untouched():
    ds = load("JPGLosslessP14SV1_1s_1f_8b.dcm")
    assert np.array_equal(decode_frame(ds), ds.pixel_array)


def test_cine_sampling_decodes_only_every_nth_frame():
    ds = load("color3d_jpeg_baseline.dcm")
    frames = list(iter_frames(ds, step=25))
    assert [index for index, _ in frames] == [0, 25, 50, 75, 100]
    assert all(f.shape == (480, 640, 3) for _, f in frames)
    chosen = dict(iter_frames(ds, indices=[50, 3]))
    assert sorted(chosen) == [3, 50]
    assert np.array_equal(chosen[50], frames[2][1])
    expected = dicom_pixels.pixel_array(ds, index=50, decoding_plugin="pillow")
    assert np.array_equal(chosen[50], expected)


def grey_share(frame: np.ndarray) -> float:
    return float(((frame[..., 0] == frame[..., 1]) & (frame[..., 1] == frame[..., 2])).mean())


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("GREYSCALE_IMAGE.dcm", (768, 1024)),
        ("RGB_IMAGE.dcm", (768, 1024, 3)),
        ("ultrasound-multiframe.dcm", (600, 800, 3)),  # RGB, planar configuration 1
    ],
)
def test_real_ultrasound_files_decode_with_sane_colour(name, shape):
    ds = read_dataset(deid_ultrasound(name))
    frame = decode_frame(ds, 0)
    assert frame.shape == shape and frame.dtype == np.uint8
    if frame.ndim == 3:
        # Grey-scale ultrasound with colour overlays: mostly R=G=B unless channels are scrambled.
        assert grey_share(frame) > 0.5
