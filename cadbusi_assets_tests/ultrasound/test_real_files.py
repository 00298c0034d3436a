"""The detectors on real ultrasound files from pydicom-data and deid-data (known cases)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from cadbusi_assets.dicom import iter_frames, read_dataset, ultrasound_regions
from cadbusi_assets.ultrasound import analyze_frame, inpaint_calipers
from cadbusi_assets_tests.support import require_tool


def deid_file(name: str) -> Path:
    import deid_data

    return Path(deid_data.__file__).parent / "data" / "ultrasounds" / name


def first_frame(path):
    ds = read_dataset(path)
    _, frame = next(iter_frames(ds, indices=[0]))
    return frame, ultrasound_regions(ds)


@pytest.fixture(scope="module")
def terason_cine(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cine")
    with zipfile.ZipFile(deid_file("RGB_CINE.zip")) as archive:
        archive.extract("RGB_CINE.dcm", folder)
    return folder / "RGB_CINE.dcm"


def test_philips_calipers_are_found_and_removed():
    frame, regions = first_frame(get_testdata_file("OBXXXX1A.dcm", download=False))
    analysis = analyze_frame(frame, regions, ocr=False)
    assert sorted(analysis.calipers.points) == [(459, 291), (499, 301)]
    out, mask = inpaint_calipers(frame, analysis.calipers.points)
    assert np.array_equal(out[~mask], frame[~mask])
    grey = out[..., 1].astype(int)
    for x, y in analysis.calipers.points:  # the white crosses are gone
        assert grey[y - 4 : y + 5, x - 4 : x + 5].max() < 200


@pytest.mark.parametrize(
    "source",
    [
        "deid:RGB_IMAGE.dcm",
        "deid:GREYSCALE_IMAGE.dcm",
        "pydicom:US1_UNCR.dcm",
        "pydicom:gdcm-US-ALOKA-16.dcm",
    ],
)
def test_no_calipers_on_ui_icons_scales_and_text(source):
    package, name = source.split(":")
    path = deid_file(name) if package == "deid" else get_testdata_file(name, download=False)
    frame, regions = first_frame(path)
    assert analyze_frame(frame, regions, ocr=False).calipers.points == []


@pytest.mark.parametrize(
    ("source", "doppler"),
    [
        ("deid:ultrasound-multiframe.dcm", True),  # colour flow (Affiniti echo)
        ("pydicom:US1_UNCR.dcm", True),  # power Doppler (LOGIQ 700)
        ("deid:RGB_IMAGE.dcm", False),
        ("pydicom:OBXXXX1A.dcm", False),  # grey image with coloured UI
    ],
)
def test_doppler_on_real_files(source, doppler):
    package, name = source.split(":")
    path = deid_file(name) if package == "deid" else get_testdata_file(name, download=False)
    frame, regions = first_frame(path)
    assert analyze_frame(frame, regions, ocr=False).is_doppler is doppler


def test_terason_field_of_view_fills_its_region(terason_cine):
    frame, regions = first_frame(terason_cine)
    analysis = analyze_frame(frame, regions, ocr=False)
    region = regions[0]
    x0, y0, x1, y1 = analysis.fov.box
    assert analysis.fov.shape == "rectangle"
    assert abs(x0 - region.x0) <= 3 and abs(x1 - region.x1) <= 3 and abs(y0 - region.y0) <= 3
    assert region.y1 - 20 <= y1 <= region.y1


def test_terason_annotation_is_read(terason_cine):
    require_tool("tesseract", "apt-get install tesseract-ocr")
    frame, regions = first_frame(terason_cine)
    analysis = analyze_frame(frame, regions, ocr=True)
    row = analysis.as_row()
    assert "Supraspinatus" in (analysis.ocr.text or "")  # read, kept in memory only
    assert "ocr_text" not in row
    assert (row["ocr_laterality"], row["orientation"]) == ("RIGHT", "transverse")
