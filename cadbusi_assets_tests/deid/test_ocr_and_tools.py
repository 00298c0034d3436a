"""OCR verification (tesseract) and round trips through DCMTK (more OCR cases in
test_ocr_verification.py)."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from cadbusi_assets.deid import DeidentificationError, deidentify_dataset, ocr_identifiers
from cadbusi_assets.deid.command import verify_command
from cadbusi_assets.deid.identifiers import OriginalIdentifiers
from cadbusi_assets.dicom import dataset_to_bytes
from cadbusi_assets_tests.deid import canary
from cadbusi_assets_tests.support import require_tool

IDS = OriginalIdentifiers(patient_names=(canary.NAME,), birth_dates=(canary.BIRTH,))


def test_ocr_reads_the_burned_in_band_and_nothing_after_cleaning(pseudonymizer):
    require_tool("tesseract", "apt-get install tesseract-ocr tesseract-ocr-eng")
    raw = canary.burned_in_pixels()
    assert "patient_name" in ocr_identifiers(raw[:48], IDS)  # OCR works on this text
    result = deidentify_dataset(canary.canary_dataset(), pseudonymizer, verify_ocr=True)
    assert result.ocr_findings == []
    assert result.actions["ocr-frames-read"] == 1


def test_identifiers_inside_the_region_are_quarantined(pseudonymizer):
    require_tool("tesseract", "apt-get install tesseract-ocr tesseract-ocr-eng")
    ds = canary.canary_dataset(colour=False)
    pixels = canary.burned_in_pixels(colour=False)
    image = Image.fromarray(pixels)
    ImageDraw.Draw(image).text(
        (20, 150), "CANARYLAST", fill=255, font=ImageFont.load_default(size=22)
    )
    ds.set_pixel_data(np.asarray(image), "MONOCHROME2", 8, generate_instance_uid=False)
    with pytest.raises(DeidentificationError, match="readable after pixel cleaning") as info:
        deidentify_dataset(ds, pseudonymizer, verify_ocr=True)
    assert "patient_name" in str(info.value) and "CANARY" not in str(info.value)


def test_dcmtk_reads_the_output(tmp_path, pseudonymizer):
    dcmdump = require_tool("dcmdump", "apt-get install dcmtk")
    dcmj2pnm = require_tool("dcmj2pnm", "apt-get install dcmtk")
    path = tmp_path / "out.dcm"
    path.write_bytes(
        dataset_to_bytes(deidentify_dataset(canary.canary_dataset(), pseudonymizer).dataset)
    )
    dump = subprocess.run([dcmdump, str(path)], capture_output=True, text=True, check=True).stdout
    assert "PatientIdentityRemoved" in dump and "CANARY" not in dump.upper()
    png = tmp_path / "out.png"
    subprocess.run([dcmj2pnm, "--write-png", str(path), str(png)], check=True, capture_output=True)
    assert Image.open(png).size == (canary.COLS, canary.ROWS)


def test_verify_ocr_flags_burned_in_identifiers(tmp_path):
    require_tool("tesseract", "apt-get install tesseract-ocr tesseract-ocr-eng")
    originals = tmp_path / "in"
    originals.mkdir()
    (originals / "a.dcm").write_bytes(dataset_to_bytes(canary.canary_dataset(colour=False)))
    outputs = tmp_path / "out"
    outputs.mkdir()
    (outputs / "raw.dcm").write_bytes((originals / "a.dcm").read_bytes())
    lines: list[str] = []
    code = verify_command(outputs, report=None, identifiers_from=originals, echo=lines.append)
    assert code == 1
    assert any("pixels frame 0: patient_name" in line for line in lines)
