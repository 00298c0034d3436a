"""OCR verification of cleaned pixels: text anywhere in the kept regions, cine sampling,
OCR-tolerant matching, and the demo corpus (clean frames pass, a re-drawn name does not)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from cadbusi_assets.deid import DeidentificationError, deidentify_dataset, ocr_identifiers
from cadbusi_assets.deid.deidentify import decode_all_frames
from cadbusi_assets.deid.identifiers import OriginalIdentifiers
from cadbusi_assets.deid.ocr import (
    CINE_STEP,
    MAX_CINE_FRAMES,
    find_identifiers_in_ocr_text,
    find_lines,
    verification_frame_indices,
)
from cadbusi_assets.dicom import read_dataset
from cadbusi_assets_tests.deid import canary
from cadbusi_assets_tests.support import require_tesseract_executable

IDS = OriginalIdentifiers(
    patient_names=(canary.NAME,), patient_ids=(canary.MRN,), birth_dates=(canary.BIRTH,)
)


def _draw(pixels: np.ndarray, text: str, xy: tuple[int, int], size: int, fill) -> np.ndarray:
    image = Image.fromarray(pixels)
    ImageDraw.Draw(image).text(xy, text, fill=fill, font=ImageFont.load_default(size=size))
    return np.asarray(image)


def _with_pixels(ds, frames: np.ndarray):
    photometric = "RGB" if frames.shape[-1] == 3 and frames.ndim in (3, 4) else "MONOCHROME2"
    ds.set_pixel_data(frames, photometric, 8, generate_instance_uid=False)
    return ds


# -- text placed anywhere inside the kept region --------------------------------------------


@pytest.mark.parametrize(
    ("text", "xy", "size", "fill", "colour", "kind"),
    [
        ("CANARYLAST", (205, 52), 16, 255, False, "patient_name"),  # top-right corner
        ("MRN 00CANARY4242", (150, 214), 15, 200, False, "patient_id"),  # bottom-right, grey
        ("DOB 02/03/1961", (95, 118), 18, (255, 255, 0), True, "birth_date"),  # yellow, middle
        ("canaryfirst", (2, 186), 20, (0, 220, 255), True, "patient_name"),  # cyan, left edge
    ],
)
def test_text_anywhere_in_the_region_is_quarantined(
    pseudonymizer, text, xy, size, fill, colour, kind
):
    require_tesseract_executable()
    ds = canary.canary_dataset(colour=colour)
    _with_pixels(ds, _draw(canary.burned_in_pixels(colour=colour), text, xy, size, fill))
    with pytest.raises(DeidentificationError, match="readable after pixel cleaning") as info:
        deidentify_dataset(ds, pseudonymizer, verify_ocr=True)
    assert kind in str(info.value) and "CANARY" not in str(info.value).upper()


def test_large_and_stacked_text_is_read():
    """Lines taller than a text line (coarse pass) and lines set so tight that they touch
    (split between them) are read too."""
    require_tesseract_executable()
    frame = _draw(np.full((240, 640), 40, np.uint8), "CANARYLAST", (20, 20), 72, 255)
    assert "patient_name" in ocr_identifiers(frame, IDS)
    block = np.full((120, 320), 40, np.uint8)
    for row, line in enumerate(["Gain 52 jpg qy", "PATIENT CANARYLAST", "gjyq Wall 120 Hz"]):
        block = _draw(block, line, (20, 20 + 14 * row), 16, 255)  # descenders touch caps
    assert len(find_lines(block).lines) == 3
    assert "patient_name" in ocr_identifiers(block, IDS)


def test_letters_spaced_wider_than_a_word_gap_are_read_as_a_line():
    require_tesseract_executable()
    frame = np.full((120, 480), 40, np.uint8)
    for i, letter in enumerate("CANARYLAST"):
        frame = _draw(frame, letter, (20 + 34 * i, 40), 24, 255)
    assert len(find_lines(frame).lines) == 1
    assert "patient_name" in ocr_identifiers(frame, IDS)


def test_bright_areas_that_are_not_lines_are_read_in_strips():
    """A bright trace with text touching it does not come apart into lines: it is read in
    overlapping strips, and a clean one reports nothing."""
    require_tesseract_executable()
    image = Image.new("L", (480, 240), 30)
    draw = ImageDraw.Draw(image)
    for offset in (0, 40):
        draw.line(
            [(x, int(100 + offset + 50 * np.sin(x / 18.0))) for x in range(40, 440)],
            fill=255,
            width=3,
        )
    trace = np.asarray(image)
    assert find_lines(trace).unresolved
    assert ocr_identifiers(trace, IDS) == []


# -- cine -----------------------------------------------------------------------------------


def test_cine_frame_sampling_policy():
    """First and last frame always; every CINE_STEP-th frame while that stays within
    MAX_CINE_FRAMES; never more than MAX_CINE_FRAMES."""
    for n in range(1, 2000):
        indices = verification_frame_indices(n)
        assert indices[0] == 0 and indices[-1] == n - 1
        assert indices == sorted(set(indices)) and len(indices) <= MAX_CINE_FRAMES
        if n <= CINE_STEP * (MAX_CINE_FRAMES - 1):
            assert set(range(0, n, CINE_STEP)) <= set(indices)


@pytest.mark.parametrize("frame_with_name", [24, 10])
def test_cine_text_on_the_last_or_a_sampled_frame_is_quarantined(pseudonymizer, frame_with_name):
    require_tesseract_executable()
    ds = canary.canary_dataset(colour=False)
    frames = np.repeat(canary.burned_in_pixels(colour=False)[None], 25, axis=0)
    frames[frame_with_name] = _draw(frames[frame_with_name], "CANARYLAST", (60, 120), 20, 255)
    _with_pixels(ds, frames)
    with pytest.raises(DeidentificationError, match=f"frame {frame_with_name}: patient_name"):
        deidentify_dataset(ds, pseudonymizer, verify_ocr=True)


def test_clean_cine_reads_the_sampled_frames(pseudonymizer):
    require_tesseract_executable()
    ds = canary.canary_dataset(colour=False)
    _with_pixels(ds, np.repeat(canary.burned_in_pixels(colour=False)[None], 25, axis=0))
    result = deidentify_dataset(ds, pseudonymizer, verify_ocr=True)
    assert result.ocr_findings == []
    assert result.actions["ocr-frames-read"] == len(verification_frame_indices(25)) == 4


# -- matching OCR output --------------------------------------------------------------------

MATCH_IDS = OriginalIdentifiers(
    patient_names=("CARMICHAEL^MARGUERITE",),
    patient_ids=("03908483",),
    accession_numbers=("7918563067",),
    birth_dates=(dt.date(1952, 1, 28),),
)


@pytest.mark.parametrize(
    ("ocr", "kinds"),
    [
        ("Marguerite Carmichael", ["patient_name"]),
        ("CARMICHAEL,MARGUERITE", ["patient_name"]),
        ("GARMICHAEL", ["patient_name"]),  # one letter misread
        ("CARMI CHAEL", ["patient_name"]),  # a space inside the word
        ("ID: 3908483", ["patient_id"]),  # without the leading zero
        ("MRN.O39O8483", ["patient_id"]),  # look-alike letters, touching letters
        ("Acc 79185663067", ["accession_number"]),  # one digit too many
        ("DOB-01/28/1952", ["birth_date"]),
        ("DOB 28-JAN-1952", ["birth_date"]),
        ("LT BREAST 10:00 3.5 CM FN RAD", []),
        ("RT BREAST 2:00 2CMFN ARAD TRANS LONG 09/01/2026 MI 0.6 TIs 0.5", []),
        ("ID 039084831 01/28/1953", []),  # other numbers, another date
    ],
)
def test_ocr_tolerant_matching(ocr, kinds):
    assert find_identifiers_in_ocr_text(ocr, MATCH_IDS) == kinds


# -- the demo corpus ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_instances(tmp_path_factory) -> list[Path]:
    """A few instances of a tiny demo cohort: one per scanner layout, a cine, a Doppler."""
    from cadbusi_demo import DemoConfig, generate_demo_cohort

    cohort = generate_demo_cohort(
        tmp_path_factory.mktemp("demo") / "cohort",
        DemoConfig(days=1, studies_per_day=(1, 1), seed=3, workers=1),
    )
    chosen: dict[str, Path] = {}
    for path in sorted(cohort.pacs_root.rglob("*.dcm")):
        truth = json.loads((cohort.ground_truth_dir / f"{path.stem}.json").read_text())
        chosen.setdefault(truth["layout"], path)
        if truth["number_of_frames"] > 1:
            chosen.setdefault("cine", path)
        if truth["frames"][0]["is_doppler"]:
            chosen.setdefault("doppler", path)
    assert {"cine", "doppler"} <= set(chosen) and len(chosen) >= 5
    return list(chosen.values())


def test_demo_frames_pass_and_a_redrawn_name_is_quarantined(pseudonymizer, demo_instances):
    require_tesseract_executable()
    for path in demo_instances:
        ds = read_dataset(path)
        result = deidentify_dataset(ds, pseudonymizer, verify_ocr=True)
        assert result.ocr_findings == [], path.name
        assert result.actions["ocr-frames-read"] == len(
            verification_frame_indices(result.frames.shape[0])
        )

        last, first = ds.PatientName.family_name, ds.PatientName.given_name
        x0, y0, x1, y1 = result.kept_regions[0].box
        xy = (x0 + (x1 - x0) * 9 // 20, y0 + (y1 - y0) // 5)  # not where operators type
        frames = decode_all_frames(ds)
        fill = (255, 255, 255) if frames.ndim == 4 else 255
        frames = np.stack([_draw(f, f"{last}, {first}", xy, 20, fill) for f in frames])
        _with_pixels(ds, frames if frames.shape[0] > 1 else frames[0])
        with pytest.raises(DeidentificationError, match="patient_name"):
            deidentify_dataset(ds, pseudonymizer, verify_ocr=True)
