"""Adversarial burned-in text inside the kept ultrasound region (pixel de-identification).

Text inside the region survives pixel cleaning on purpose (laterality, clock, distances), so
the OCR verification is the only guard there. Each case draws one of the canary study's
identifiers the way a hostile tester or an unusual scanner would, inside the speckle of the
fan, and checks the contract: the object is quarantined with a reason, or no identifier is
readable in what is released (tesseract on the research PNG, read upright and turned).
Every name is invented (:mod:`cadbusi_assets_tests.deid.canary`).
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cadbusi_assets.deid import deidentify_dataset
from cadbusi_assets.deid.ocr import find_identifiers_in_ocr_text
from cadbusi_assets.dicom import dataset_to_bytes
from cadbusi_assets.identity import generate_key_file
from cadbusi_assets_tests.adversarial_leaks import LEAKS, clean_fan
from cadbusi_assets_tests.adversarial_pixels import (
    IDS,
    assert_quarantined,
    frame_dataset,
    reader_kinds,
)
from cadbusi_assets_tests.support import require_tesseract_executable


@pytest.mark.parametrize("case", sorted(LEAKS))
def test_the_planted_identifier_is_readable_before(case):
    """Each case is a real leak: a reader finds the identifier in the frame as drawn."""
    require_tesseract_executable()
    assert reader_kinds(LEAKS[case]()), case


@pytest.mark.parametrize("case", sorted(LEAKS))
def test_text_the_upright_reading_does_not_see_is_quarantined(case, pseudonymizer):
    assert_quarantined(LEAKS[case](), pseudonymizer)


def test_the_screens_own_words_on_the_fan_pass(pseudonymizer):
    require_tesseract_executable()
    result = deidentify_dataset(frame_dataset(clean_fan()), pseudonymizer, verify_ocr=True)
    assert result.ocr_findings == []


def test_command_releases_no_readable_identifier(tmp_path):
    """``cadbusi deidentify`` in its own process: every adversarial input is quarantined with a
    reason, or tesseract reads no identifier in any research PNG it wrote."""
    require_tesseract_executable()
    source, out = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    cases = {**LEAKS, "clean_fan": clean_fan}
    for name, make in cases.items():
        ds = frame_dataset(make())
        uid = f"1.2.826.0.1.3680043.99999.7.{sorted(cases).index(name) + 1}"
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid
        (source / f"{name}.dcm").write_bytes(dataset_to_bytes(ds))
    key = generate_key_file(tmp_path / "secrets" / "pseudonym.key")
    env = {**os.environ, "CADBUSI_WORKERS": "1"}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "cadbusi_assets.cli",
            "deidentify",
            str(source),
            str(out),
            "--key-file",
            str(key),
            "--jobs",
            "1",
            "--layout",
            "flat",
        ],
        env=env,
        capture_output=True,
        timeout=240,
        check=False,
    )
    with (tmp_path / "out.report.csv").open() as handle:
        rows = {Path(r["input_path"]).stem: r for r in csv.DictReader(handle)}
    assert set(rows) == set(cases)
    for name, row in rows.items():
        if row["status"] == "quarantined":
            assert row["reason"] and name != "clean_fan"
            continue
        assert row["status"] == "ok", (name, row["status"])
        pngs = list(out.glob("*.png"))
        assert pngs
    for png in out.glob("*.png"):
        frame = np.asarray(Image.open(png).convert("L"))
        assert reader_kinds(frame) == [], png.name
    assert rows["clean_fan"]["status"] == "ok"


@pytest.mark.parametrize("text", ["DOB 02-03-61", "03.02.61", "3.2.61 -> 03/02/61", "61.02.03"])
def test_birth_dates_with_a_two_digit_year_are_matched(text):
    assert find_identifiers_in_ocr_text(text, IDS) == ["birth_date"]


@pytest.mark.parametrize("text", ["02-03-611", "102.03.61", "LT 10:00 3CM 02-04-61"])
def test_other_numbers_are_no_two_digit_birth_date(text):
    assert find_identifiers_in_ocr_text(text, IDS) == []
