"""Fixtures for the de-identification tests: real ultrasound files and the pseudonymizer."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from cadbusi_assets.dicom import read_dataset


def deid_data_ultrasounds() -> Path:
    import deid_data

    return Path(deid_data.__file__).parent / "data" / "ultrasounds"


def pydicom_file(name: str) -> Path:
    found = get_testdata_file(name, download=False)
    assert found is not None, f"{name} missing: install pydicom-data"
    return Path(found)


@pytest.fixture(scope="session")
def ultrasounds() -> Path:
    return deid_data_ultrasounds()


@pytest.fixture(scope="session")
def cines(tmp_path_factory) -> dict[str, Path]:
    """The two deid-data cines, unzipped once per session."""
    out = tmp_path_factory.mktemp("cines")
    found = {}
    for name in ("GREYSCALE_CINE", "RGB_CINE"):
        with zipfile.ZipFile(deid_data_ultrasounds() / f"{name}.zip") as archive:
            member = next(m for m in archive.namelist() if m.endswith(".dcm"))
            target = out / f"{name}.dcm"
            target.write_bytes(archive.read(member))
        found[name] = target
    return found


@pytest.fixture
def greyscale_image(ultrasounds):
    return read_dataset(ultrasounds / "GREYSCALE_IMAGE.dcm")
