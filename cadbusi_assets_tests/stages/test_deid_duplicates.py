"""Inputs with one SOP Instance UID: the first (in input order) is de-identified, later ones are
duplicates (quarantine reason), and the files on disk are the first one's whatever order the
workers wrote them in (the stage behind ``deidentified_images`` and ``cadbusi deidentify``)."""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl

from cadbusi_assets.dicom import dataset_to_bytes
from cadbusi_assets.identity import Pseudonymizer
from cadbusi_assets.stages import deidentification as deid
from cadbusi_assets.storage import open_zone
from cadbusi_assets_tests.deid import canary
from cadbusi_assets_tests.support import TEST_KEY


def test_later_inputs_with_the_same_sop_uid_are_duplicates_and_the_first_ones_files_stay(
    tmp_path,
):
    raw = open_zone(tmp_path / "raw", "raw").ensure()
    research = open_zone(tmp_path / "research", "research").ensure()
    first = canary.canary_dataset()
    second = canary.canary_dataset()
    pixels = second.pixel_array.copy()
    pixels[100:140, 200:260] = 255 - pixels[100:140, 200:260]  # other pixels, same SOP UID
    second.PixelData = np.ascontiguousarray(pixels).tobytes()
    raw.write_bytes(("a.dcm",), dataset_to_bytes(first))
    raw.write_bytes(("b.dcm",), dataset_to_bytes(second))
    inputs = [deid.DeidInput("a.dcm", "k1"), deid.DeidInput("b.dcm", "k2")]

    # b is written last (in-process, in input order), so a must be written again
    done = deid.deidentify_files(
        raw, research, inputs, Pseudonymizer(TEST_KEY), verify_ocr=False, workers=1
    )
    assert [o.status for o in done.outcomes] == ["ok", "duplicate"]
    assert done.instances["raw_instance_key"].to_list() == ["k1"]
    assert done.quarantine.select("raw_instance_key", "reason").rows() == [
        ("k2", deid.DUPLICATE_REASON)
    ]
    instance = done.instances.row(0, named=True)
    on_disk = research.read_bytes(*instance["dicom_path"].split("/"))
    assert hashlib.sha256(on_disk).hexdigest() == instance["dicom_sha256"]
    for image in done.images.iter_rows(named=True):
        png = research.read_bytes(*image["png_path"].split("/"))
        assert hashlib.sha256(png).hexdigest() == image["png_sha256"]

    alone = open_zone(tmp_path / "alone", "research").ensure()
    solo = deid.deidentify_files(
        raw, alone, inputs[:1], Pseudonymizer(TEST_KEY), verify_ocr=False, workers=1
    )
    assert solo.instances.drop("dicom_path").equals(done.instances.drop("dicom_path"))
    assert solo.images.equals(done.images)
    other = deid.deidentify_files(  # b alone: other bytes under the same names
        raw,
        open_zone(tmp_path / "b", "research"),
        inputs[1:],
        Pseudonymizer(TEST_KEY),
        verify_ocr=False,
        workers=1,
    )
    assert other.instances["dicom_path"].equals(done.instances["dicom_path"])
    assert other.instances["dicom_sha256"][0] != instance["dicom_sha256"]
    assert done.quarantine.schema == pl.Schema(deid.QUARANTINE_SCHEMA)
