"""Burned-in text the search for what the upright reading cannot see
(:func:`cadbusi_assets.deid.ocr.unseen_text`) missed: tiny text a few px from caliper marks,
tiny text dimmer than white blended into the speckle, IDs in a thin Hershey font
(``cv2.putText``) written vertically, dates written vertically or upside down in a small
font (a thin slash read as a colon), and a tiny phone number upside down.

Same contract and style as :mod:`cadbusi_assets_tests.test_adversarial_pixels`: each case is
planted in the kept region of a generator frame, the verification (:func:`ocr_identifiers`)
finds the kind, ``deidentify_dataset`` quarantines it, and ``cadbusi deidentify`` in its own
process quarantines every case. Every name is invented.
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

from cadbusi_assets.dicom import dataset_to_bytes
from cadbusi_assets.identity import generate_key_file
from cadbusi_assets_tests.adversarial_pixels import (
    IDS,
    KEPT_TOP,
    assert_quarantined,
    assert_read,
    draw_calipers,
    draw_text,
    frame_dataset,
    grey_to_rgb,
    paste_brightest,
    speckle_fan,
)
from cadbusi_assets_tests.support import require_tesseract_executable

_TINY = "CANARYLAST 00CANARY4242"


def tiny_between_close_calipers(gap: int) -> Callable[[], np.ndarray]:
    """The name and ID in 7 px letters with a caliper mark ``gap`` px from each end."""

    def make() -> np.ndarray:
        ink = draw_text(_TINY, 7, shape=(14, 140))
        cols = np.flatnonzero(ink.max(axis=0) > 60)
        left, right = 100 + int(cols[0]), 100 + int(cols[-1])
        marks = [(left - gap - 5, KEPT_TOP + 95), (right + gap + 5, KEPT_TOP + 95)]  # 9 px crosses
        return paste_brightest(draw_calipers(speckle_fan(), marks), ink, KEPT_TOP + 90, 100)

    make.__doc__ = tiny_between_close_calipers.__doc__
    return make


def tiny_dim(colour: tuple[int, int, int], size: int) -> Callable[[], np.ndarray]:
    """The name and ID in ``size`` px letters of a colour dimmer than white, anti-aliased
    into the speckle of an RGB fan."""

    def make() -> np.ndarray:
        frame = grey_to_rgb(speckle_fan())
        ink = draw_text(_TINY, size, shape=(14, 140))
        region = frame[KEPT_TOP + 90 : KEPT_TOP + 104, 100:240]
        alpha = ink[..., None].astype(np.float32) / 255
        region[:] = (region * (1 - alpha) + np.array(colour) * alpha).astype(np.uint8)
        return frame

    make.__doc__ = tiny_dim.__doc__
    return make


def _hershey(text: str, font: int, scale: float, thickness: int) -> np.ndarray:
    size = cv2.getTextSize(text, font, scale, thickness)[0]
    ink = np.zeros((size[1] + 12, size[0] + 8), np.uint8)
    cv2.putText(ink, text, (3, size[1] + 5), font, scale, 255, thickness, cv2.LINE_AA)
    return ink


def hershey_id_top_to_bottom() -> np.ndarray:
    """The ID in Hershey's plain font 7 px high (1 px anti-aliased strokes), written top to
    bottom (the detector finds it in pieces)."""
    ink = _hershey(f"ID {IDS.patient_ids[0]}", cv2.FONT_HERSHEY_PLAIN, 14 / 24, 1)
    return paste_brightest(
        speckle_fan(), cv2.rotate(ink, cv2.ROTATE_90_CLOCKWISE), KEPT_TOP + 20, 190
    )


def _small_date() -> np.ndarray:
    return draw_text("DOB 02/03/1961", 12, shape=(22, 136))


def date_bottom_to_top() -> np.ndarray:
    """The birth date in 12 px letters written bottom to top (its slashes 1 px thin)."""
    ink = cv2.rotate(_small_date(), cv2.ROTATE_90_COUNTERCLOCKWISE)
    return paste_brightest(speckle_fan(), ink, KEPT_TOP + 20, 190)


def date_upside_down() -> np.ndarray:
    """The birth date in 12 px letters upside down."""
    return paste_brightest(
        speckle_fan(), cv2.rotate(_small_date(), cv2.ROTATE_180), KEPT_TOP + 70, 120
    )


def tiny_phone_upside_down() -> np.ndarray:
    """A relative's phone number upside down in Hershey's plain font 7 px high."""
    ink = np.zeros((26, 197), np.uint8)
    cv2.putText(
        ink, "(800) 555-5579", (2, 18), cv2.FONT_HERSHEY_PLAIN, 14 / 24, 255, 1, cv2.LINE_AA
    )
    return paste_brightest(speckle_fan(), cv2.rotate(ink, cv2.ROTATE_180), 74, 49)


def tiny_top_to_bottom() -> np.ndarray:
    """The name and ID in 7 px letters written top to bottom."""
    ink = cv2.rotate(draw_text(_TINY, 7, shape=(14, 140)), cv2.ROTATE_90_CLOCKWISE)
    return paste_brightest(speckle_fan(), ink, KEPT_TOP + 20, 160)


LEAKS: dict[str, Callable[[], np.ndarray]] = {
    "tiny_4px_from_calipers": tiny_between_close_calipers(4),
    "tiny_2px_from_calipers": tiny_between_close_calipers(2),
    "tiny_yellow_230": tiny_dim((230, 230, 0), 7),
    "tiny_grey_200": tiny_dim((200, 200, 200), 8),
    "hershey_id_top_to_bottom": hershey_id_top_to_bottom,
    "date_bottom_to_top": date_bottom_to_top,
    "date_upside_down": date_upside_down,
    "tiny_phone_upside_down": tiny_phone_upside_down,
    "tiny_top_to_bottom": tiny_top_to_bottom,
}

#: What the verification must find in each case (else any kind of the study's).
EXPECTED = {"tiny_phone_upside_down": "third_party_contact"}


@pytest.mark.parametrize("case", sorted(LEAKS))
def test_the_verification_reads_it(case):
    assert_read(LEAKS[case](), EXPECTED.get(case))


@pytest.mark.parametrize("case", sorted(LEAKS))
def test_it_is_quarantined(case, pseudonymizer):
    assert_quarantined(LEAKS[case](), pseudonymizer)


def test_command_quarantines_every_case(tmp_path):
    """``cadbusi deidentify`` in its own process (with a timeout) quarantines each case."""
    require_tesseract_executable()
    source, out = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    for k, (name, make) in enumerate(sorted(LEAKS.items())):
        ds = frame_dataset(make())
        uid = f"1.2.826.0.1.3680043.99999.9.{k + 1}"
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid
        (source / f"{name}.dcm").write_bytes(dataset_to_bytes(ds))
    key = generate_key_file(tmp_path / "secrets" / "pseudonym.key")
    command = [sys.executable, "-m", "cadbusi_assets.cli", "deidentify", str(source), str(out)]
    command += ["--key-file", str(key), "--jobs", "1", "--layout", "flat"]
    env = {**os.environ, "CADBUSI_WORKERS": "1"}
    subprocess.run(command, env=env, capture_output=True, timeout=240, check=False)
    with (tmp_path / "out.report.csv").open() as handle:
        rows = {Path(r["input_path"]).stem: r for r in csv.DictReader(handle)}
    assert set(rows) == set(LEAKS)
    for name, row in rows.items():
        assert row["status"] == "quarantined" and row["reason"], name
    assert not list(out.glob("*.png"))
