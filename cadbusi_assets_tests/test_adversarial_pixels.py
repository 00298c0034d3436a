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
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from cadbusi_assets.deid import DeidentificationError, deidentify_dataset
from cadbusi_assets.deid.identifiers import OriginalIdentifiers
from cadbusi_assets.deid.ocr import find_identifiers_in_ocr_text, ocr_identifiers
from cadbusi_assets.dicom import dataset_to_bytes
from cadbusi_assets.identity import Pseudonymizer, generate_key_file
from cadbusi_assets_tests.deid import canary
from cadbusi_assets_tests.support import require_tool

IDS = OriginalIdentifiers(
    patient_names=(canary.NAME,), patient_ids=(canary.MRN,), birth_dates=(canary.BIRTH,)
)
_TOP = canary.REGION[1]  # the kept region: rows _TOP.. of the whole width


def _require_tesseract() -> None:
    require_tool("tesseract", "apt-get install tesseract-ocr tesseract-ocr-eng")


def _fan(seed: int = 3) -> np.ndarray:
    """A grey frame of the canary's size: a speckled sector inside the kept region, its
    speckle drawn from ``seed`` (a cine draws it afresh for each frame)."""
    rng = np.random.default_rng(seed)
    speckle = cv2.GaussianBlur(
        rng.rayleigh(30, (canary.ROWS, canary.COLS)).astype(np.float32), (0, 0), 1.2
    )
    rows, cols = np.mgrid[: canary.ROWS, : canary.COLS]
    radius = np.hypot(cols - canary.COLS / 2, rows - _TOP + 20)
    angle = np.degrees(np.arctan2(cols - canary.COLS / 2, rows - _TOP + 20))
    inside = (radius > 30) & (radius < 260) & (np.abs(angle) < 40) & (rows >= _TOP)
    return np.where(inside, np.clip(speckle * (1.3 - radius / 400), 0, 255), 0).astype(np.uint8)


def _text(text: str, size: int, fill: int = 255, shape: tuple[int, int] = (30, 200)) -> np.ndarray:
    image = Image.new("L", (shape[1], shape[0]), 0)
    ImageDraw.Draw(image).text((2, 2), text, fill=fill, font=ImageFont.load_default(size=size))
    return np.asarray(image)


def _paste_brightest(frame: np.ndarray, ink: np.ndarray, top: int, left: int) -> np.ndarray:
    out = frame.copy()
    rows, cols = ink.shape
    out[top : top + rows, left : left + cols] = np.maximum(
        out[top : top + rows, left : left + cols], ink
    )
    return out


def vertical_down() -> np.ndarray:
    """The name written top to bottom (turned a quarter clockwise) inside the fan."""
    ink = cv2.rotate(_text("CANARYLAST", 18, shape=(26, 130)), cv2.ROTATE_90_CLOCKWISE)
    return _paste_brightest(_fan(), ink, _TOP + 50, 170)


def vertical_up() -> np.ndarray:
    """The name written bottom to top, at the left edge of the frame."""
    ink = cv2.rotate(_text("CANARYLAST", 18, shape=(26, 130)), cv2.ROTATE_90_COUNTERCLOCKWISE)
    return _paste_brightest(_fan(), ink, _TOP + 40, 0)


def dark_on_light_panel() -> np.ndarray:
    """Black text on a light label panel laid over the speckle."""
    frame = _fan()
    frame[_TOP + 60 : _TOP + 100, 40:290] = 215
    ink = _text("CANARYLAST 00CANARY4242", 16, shape=(30, 240))
    panel = frame[_TOP + 65 : _TOP + 95, 45:285]
    panel[ink > 128] = 20
    return frame


def tiny(size: int) -> Callable[[], np.ndarray]:
    """The name and ID in letters ``size`` px high (5-6 px glyphs), in the fan."""

    def make() -> np.ndarray:
        ink = _text("CANARYLAST 00CANARY4242", size, shape=(14, 140))
        return _paste_brightest(_fan(), ink, _TOP + 90, 100)

    make.__doc__ = tiny.__doc__
    return make


def short_year_birth_date() -> np.ndarray:
    """The birth date (1961-02-03) as a European scanner prints it, two-digit year."""
    return _paste_brightest(_fan(), _text("DOB 03.02.61", 16, shape=(26, 140)), _TOP + 80, 90)


def upside_down() -> np.ndarray:
    """The name written upside down (turned 180 degrees) inside the fan."""
    ink = cv2.rotate(_text("CANARYLAST CANARYFIRST", 16, shape=(26, 220)), cv2.ROTATE_180)
    return _paste_brightest(_fan(), ink, _TOP + 80, 50)


def _on_white_label(ink: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """An RGB fan with a white label; ``ink`` (a mask of the label's size) in ``colour``."""
    frame = np.repeat(_fan()[..., None], 3, axis=2)
    label = frame[_TOP + 60 : _TOP + 60 + ink.shape[0], 40 : 40 + ink.shape[1]]
    label[:] = 240
    label[ink > 128] = colour
    return frame


def blue_on_white() -> np.ndarray:
    """Blue text on a white label (its brightest channel hides it)."""
    return _on_white_label(_text("CANARYLAST 00CANARY4242", 16, shape=(30, 240)), (0, 0, 200))


def vertical_dark_on_white() -> np.ndarray:
    """Black text written top to bottom on a white label."""
    ink = cv2.rotate(_text("CANARYLAST", 18, shape=(26, 130)), cv2.ROTATE_90_CLOCKWISE)
    return _on_white_label(ink, (10, 10, 10))


def tiny_red_on_white() -> np.ndarray:
    """Red text in 8 px letters on a white label."""
    return _on_white_label(_text("CANARYLAST 00CANARY4242", 8, shape=(16, 150)), (200, 0, 0))


def bold_on_tight_label() -> np.ndarray:
    """Bold black text filling a light label only a little taller than the letters."""
    frame = _fan()
    frame[_TOP + 60 : _TOP + 86, 20:300] = 230
    image = Image.fromarray(frame)
    ImageDraw.Draw(image).text(
        (22, _TOP + 60),
        "CANARYLAST",
        fill=0,
        font=ImageFont.load_default(size=22),
        stroke_width=1,
        stroke_fill=0,
    )
    return np.asarray(image).copy()


def clean_fan() -> np.ndarray:
    """The same fan with the screen's own words only (must be released)."""
    return _paste_brightest(
        _fan(), _text("LT BREAST 10:00 3CM FN", 14, shape=(24, 220)), _TOP + 120, 60
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


def _dataset(frame: np.ndarray):
    colour = frame.ndim == 3
    ds = canary.canary_dataset(colour=colour)
    ds.set_pixel_data(frame, "RGB" if colour else "MONOCHROME2", 8, generate_instance_uid=False)
    return ds


def _reader_kinds(frame: np.ndarray) -> list[str]:
    """What a person with tesseract reads in ``frame``: the page upright and turned 90, 270
    and 180 degrees, dark-on-light and as drawn, scaled 2x."""
    import pytesseract

    if frame.ndim == 3:
        frame = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    texts = []
    for turn in (None, cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_90_COUNTERCLOCKWISE, cv2.ROTATE_180):
        view = frame if turn is None else cv2.rotate(frame, turn)
        big = cv2.resize(view, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
        bright = np.where(big >= 180, 0, 255).astype(np.uint8)  # the brightest ink only
        dark = np.where(big <= 60, 0, 255).astype(np.uint8)  # the darkest ink only
        for image in (big, cv2.bitwise_not(big), bright, dark):
            for mode in ("--psm 11", "--psm 6"):
                texts.append(pytesseract.image_to_string(image, config=mode))
    text = "\n".join(texts)
    # the matcher under test, and the planted strings themselves (letters and digits only)
    compact = re.sub(r"[^0-9A-Z]", "", text.upper())
    literal = {kind for kind, planted in _PLANTED.items() if planted in compact}
    return sorted(set(find_identifiers_in_ocr_text(text, IDS)) | literal)


_PLANTED = {"patient_name": "CANARYLAST", "patient_id": "CANARY4242", "birth_date": "030261"}


@pytest.mark.parametrize("case", sorted(LEAKS))
def test_the_planted_identifier_is_readable_before(case):
    """Each case is a real leak: a reader finds the identifier in the frame as drawn."""
    _require_tesseract()
    assert _reader_kinds(LEAKS[case]()), case


def assert_read(frame: np.ndarray, expected: str | None = None) -> None:
    """The OCR verification finds ``expected`` in ``frame`` (else any kind of the study's)."""
    _require_tesseract()
    kinds = ocr_identifiers(frame, IDS)
    assert (expected in kinds) if expected else kinds


def assert_quarantined(frame: np.ndarray, pseudonymizer: Pseudonymizer) -> None:
    """``deidentify_dataset`` with the OCR verification quarantines ``frame``'s file, with a
    reason that quotes nothing of it."""
    _require_tesseract()
    with pytest.raises(DeidentificationError, match="readable after pixel cleaning") as info:
        deidentify_dataset(_dataset(frame), pseudonymizer, verify_ocr=True)
    assert "CANARY" not in str(info.value).upper()


@pytest.mark.parametrize("case", sorted(LEAKS))
def test_text_the_upright_reading_does_not_see_is_quarantined(case, pseudonymizer):
    assert_quarantined(LEAKS[case](), pseudonymizer)


def test_the_screens_own_words_on_the_fan_pass(pseudonymizer):
    _require_tesseract()
    result = deidentify_dataset(_dataset(clean_fan()), pseudonymizer, verify_ocr=True)
    assert result.ocr_findings == []


def test_command_releases_no_readable_identifier(tmp_path):
    """``cadbusi deidentify`` in its own process: every adversarial input is quarantined with a
    reason, or tesseract reads no identifier in any research PNG it wrote."""
    _require_tesseract()
    source, out = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    cases = {**LEAKS, "clean_fan": clean_fan}
    for name, make in cases.items():
        ds = _dataset(make())
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
        assert _reader_kinds(frame) == [], png.name
    assert rows["clean_fan"]["status"] == "ok"


@pytest.mark.parametrize("text", ["DOB 02-03-61", "03.02.61", "3.2.61 -> 03/02/61", "61.02.03"])
def test_birth_dates_with_a_two_digit_year_are_matched(text):
    assert find_identifiers_in_ocr_text(text, IDS) == ["birth_date"]


@pytest.mark.parametrize("text", ["02-03-611", "102.03.61", "LT 10:00 3CM 02-04-61"])
def test_other_numbers_are_no_two_digit_birth_date(text):
    assert find_identifiers_in_ocr_text(text, IDS) == []
