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
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from cadbusi_assets.deid import deidentify_dataset
from cadbusi_assets.deid.ocr import find_identifiers_in_ocr_text
from cadbusi_assets.dicom import dataset_to_bytes
from cadbusi_assets.identity import generate_key_file
from cadbusi_assets_tests.adversarial_pixels import (
    IDS,
    KEPT_TOP,
    assert_quarantined,
    draw_text,
    frame_dataset,
    paste_brightest,
    reader_kinds,
    speckle_fan,
)
from cadbusi_assets_tests.support import require_tesseract_executable

# deid/ (out of the test-hygiene change's scope) still imports these three names from here
_fan = speckle_fan
_paste_brightest = paste_brightest
_require_tesseract = require_tesseract_executable


def vertical_down() -> np.ndarray:
    """The name written top to bottom (turned a quarter clockwise) inside the fan."""
    ink = cv2.rotate(draw_text("CANARYLAST", 18, shape=(26, 130)), cv2.ROTATE_90_CLOCKWISE)
    return paste_brightest(speckle_fan(), ink, KEPT_TOP + 50, 170)


def vertical_up() -> np.ndarray:
    """The name written bottom to top, at the left edge of the frame."""
    ink = cv2.rotate(draw_text("CANARYLAST", 18, shape=(26, 130)), cv2.ROTATE_90_COUNTERCLOCKWISE)
    return paste_brightest(speckle_fan(), ink, KEPT_TOP + 40, 0)


def dark_on_light_panel() -> np.ndarray:
    """Black text on a light label panel laid over the speckle."""
    frame = speckle_fan()
    frame[KEPT_TOP + 60 : KEPT_TOP + 100, 40:290] = 215
    ink = draw_text("CANARYLAST 00CANARY4242", 16, shape=(30, 240))
    panel = frame[KEPT_TOP + 65 : KEPT_TOP + 95, 45:285]
    panel[ink > 128] = 20
    return frame


def tiny(size: int) -> Callable[[], np.ndarray]:
    """The name and ID in letters ``size`` px high (5-6 px glyphs), in the fan."""

    def make() -> np.ndarray:
        ink = draw_text("CANARYLAST 00CANARY4242", size, shape=(14, 140))
        return paste_brightest(speckle_fan(), ink, KEPT_TOP + 90, 100)

    make.__doc__ = tiny.__doc__
    return make


def short_year_birth_date() -> np.ndarray:
    """The birth date (1961-02-03) as a European scanner prints it, two-digit year."""
    return paste_brightest(
        speckle_fan(), draw_text("DOB 03.02.61", 16, shape=(26, 140)), KEPT_TOP + 80, 90
    )


def upside_down() -> np.ndarray:
    """The name written upside down (turned 180 degrees) inside the fan."""
    ink = cv2.rotate(draw_text("CANARYLAST CANARYFIRST", 16, shape=(26, 220)), cv2.ROTATE_180)
    return paste_brightest(speckle_fan(), ink, KEPT_TOP + 80, 50)


def _on_white_label(ink: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """An RGB fan with a white label; ``ink`` (a mask of the label's size) in ``colour``."""
    frame = np.repeat(speckle_fan()[..., None], 3, axis=2)
    label = frame[KEPT_TOP + 60 : KEPT_TOP + 60 + ink.shape[0], 40 : 40 + ink.shape[1]]
    label[:] = 240
    label[ink > 128] = colour
    return frame


def blue_on_white() -> np.ndarray:
    """Blue text on a white label (its brightest channel hides it)."""
    return _on_white_label(draw_text("CANARYLAST 00CANARY4242", 16, shape=(30, 240)), (0, 0, 200))


def vertical_dark_on_white() -> np.ndarray:
    """Black text written top to bottom on a white label."""
    ink = cv2.rotate(draw_text("CANARYLAST", 18, shape=(26, 130)), cv2.ROTATE_90_CLOCKWISE)
    return _on_white_label(ink, (10, 10, 10))


def tiny_red_on_white() -> np.ndarray:
    """Red text in 8 px letters on a white label."""
    return _on_white_label(draw_text("CANARYLAST 00CANARY4242", 8, shape=(16, 150)), (200, 0, 0))


def bold_on_tight_label() -> np.ndarray:
    """Bold black text filling a light label only a little taller than the letters."""
    frame = speckle_fan()
    frame[KEPT_TOP + 60 : KEPT_TOP + 86, 20:300] = 230
    image = Image.fromarray(frame)
    ImageDraw.Draw(image).text(
        (22, KEPT_TOP + 60),
        "CANARYLAST",
        fill=0,
        font=ImageFont.load_default(size=22),
        stroke_width=1,
        stroke_fill=0,
    )
    return np.asarray(image).copy()


def clean_fan() -> np.ndarray:
    """The same fan with the screen's own words only (must be released)."""
    return paste_brightest(
        speckle_fan(), draw_text("LT BREAST 10:00 3CM FN", 14, shape=(24, 220)), KEPT_TOP + 120, 60
    )


LEAKS: dict[str, Callable[[], np.ndarray]] = {
    "vertical_down": vertical_down,
    "vertical_up": vertical_up,
    "dark_on_light_panel": dark_on_light_panel,
    "tiny_7px": tiny(7),
    "tiny_8px": tiny(8),
    "short_year_birth_date": short_year_birth_date,
    "upside_down": upside_down,
    "blue_on_white": blue_on_white,
    "vertical_dark_on_white": vertical_dark_on_white,
    "tiny_red_on_white": tiny_red_on_white,
    "bold_on_tight_label": bold_on_tight_label,
}


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
