"""Adversarial burned-in text on cine frames between the ones the OCR verification samples.

The verification samples a cine's first, last and every n-th frame
(:func:`~cadbusi_assets.deid.ocr.verification_frame_indices`). A name drawn on frames 3-7 of a
30-frame cine, on one middle frame, moving across a few frames, or on 2 frames of a 200-frame
cine is on none of them. Each cine here has a fan whose speckle changes on every frame (as a
probe's does) and the screen's own words on every frame; the identifier is drawn in the kept
region on middle frames only. The contract, checked the way a user runs it (``cadbusi
deidentify`` in its own process, plain and ``--analyze``, the assets' imaging stage, and
``cadbusi verify`` on an unverified output): such a cine is quarantined or flagged, and a
clean one is released after reading only the sampled frames. Every name is invented
(:mod:`cadbusi_assets_tests.deid.canary`).
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
from pydicom.uid import UID

from cadbusi_assets.deid import DeidentificationError, deidentify_dataset, ocr_identifiers
from cadbusi_assets.deid.identifiers import OriginalIdentifiers
from cadbusi_assets.deid.ocr import verification_frame_indices, verification_frames
from cadbusi_assets.dicom import dataset_to_bytes, read_dataset
from cadbusi_assets.identity import generate_key_file
from cadbusi_assets_tests.adversarial_pixels import speckle_fan
from cadbusi_assets_tests.deid import canary
from cadbusi_assets_tests.support import require_tesseract_executable

IDS = OriginalIdentifiers(
    patient_names=(canary.NAME,), patient_ids=(canary.MRN,), birth_dates=(canary.BIRTH,)
)
_TOP = canary.REGION[1]  # the kept region: rows _TOP.. of the whole width
_SCREEN_WORDS = "LT BREAST 10:00 3CM FN"


def _draw(frame: np.ndarray, text: str, xy: tuple[int, int], size: int = 16) -> np.ndarray:
    image = Image.fromarray(frame)
    ImageDraw.Draw(image).text(xy, text, fill=255, font=ImageFont.load_default(size=size))
    return np.asarray(image).copy()


def _vertical(frame: np.ndarray, text: str, top: int, left: int) -> np.ndarray:
    """``text`` written bottom to top (turned a quarter anticlockwise) at ``top, left``."""
    image = Image.new("L", (130, 26), 0)
    ImageDraw.Draw(image).text((2, 2), text, fill=255, font=ImageFont.load_default(size=18))
    ink = cv2.rotate(np.asarray(image), cv2.ROTATE_90_COUNTERCLOCKWISE)
    out = frame.copy()
    rows, cols = ink.shape
    out[top : top + rows, left : left + cols] = np.maximum(
        out[top : top + rows, left : left + cols], ink
    )
    return out


Drawing = Callable[[np.ndarray, int], np.ndarray]


def _cine(n_frames: int, leak: Drawing) -> np.ndarray:
    """``n_frames`` frames: fresh speckle, the screen's words, and ``leak(frame, k)``."""
    frames = []
    for k in range(n_frames):
        frame = _draw(speckle_fan(100 + k), _SCREEN_WORDS, (60, _TOP + 150), 14)
        frames.append(leak(frame, k))
    return np.stack(frames)


def _on(frames: set[int], text: str, xy: tuple[int, int]) -> Drawing:
    return lambda frame, k: _draw(frame, text, xy) if k in frames else frame


def _moving(frame: np.ndarray, k: int) -> np.ndarray:
    """The name moving right by 14 px a frame across frames 3-8."""
    if not 3 <= k <= 8:
        return frame
    return _draw(frame, "CANARYLAST", (40 + 14 * (k - 3), _TOP + 70))


def _vertical_beside_the_fan(frame: np.ndarray, k: int) -> np.ndarray:
    """The name written vertically at the left edge, off the fan, on frames 12 and 13."""
    return _vertical(frame, "CANARYLAST", _TOP + 40, 0) if k in (12, 13) else frame


#: case: (frames, the frames the identifier is drawn on)
LEAKS: dict[str, tuple[Callable[[], np.ndarray], set[int]]] = {
    "name_on_frames_3_to_7": (
        lambda: _cine(30, _on({3, 4, 5, 6, 7}, "CANARYLAST CANARYFIRST", (40, _TOP + 70))),
        {3, 4, 5, 6, 7},
    ),
    "name_on_one_middle_frame": (
        lambda: _cine(30, _on({14}, "CANARYLAST", (90, _TOP + 100))),
        {14},
    ),
    "moving_name": (lambda: _cine(30, _moving), {3, 4, 5, 6, 7, 8}),
    "id_on_2_of_200_frames": (
        lambda: _cine(200, _on({57, 58}, "MRN 00CANARY4242", (70, _TOP + 90))),
        {57, 58},
    ),
    "vertical_name_beside_the_fan": (lambda: _cine(30, _vertical_beside_the_fan), {12, 13}),
}


def clean_cine() -> np.ndarray:
    """Fresh speckle and the screen's own words on every frame: must be released."""
    return _cine(30, lambda frame, k: frame)


@pytest.fixture(scope="module")
def cines() -> dict[str, np.ndarray]:
    return {**{name: make() for name, (make, _) in LEAKS.items()}, "clean_cine": clean_cine()}


def _dataset(frames: np.ndarray, uid: str | None = None):
    ds = canary.canary_dataset(colour=False)
    ds.set_pixel_data(frames, "MONOCHROME2", 8, generate_instance_uid=False)
    if uid is not None:
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = UID(uid)
    return ds


def _write_inputs(folder: Path, cines: dict[str, np.ndarray]) -> None:
    folder.mkdir()
    for number, name in enumerate(sorted(cines), start=1):
        ds = _dataset(cines[name], f"1.2.826.0.1.3680043.99999.8.{number}")
        (folder / f"{name}.dcm").write_bytes(dataset_to_bytes(ds))


def _cli(*argv: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "CADBUSI_WORKERS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "cadbusi_assets.cli", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize("case", sorted(LEAKS))
def test_the_identifier_is_readable_on_its_frames_and_on_no_sampled_one(case, cines):
    """Each case is a real leak, missed by sampling alone: the identifier is readable on the
    frames it is drawn on, and none of them is a sampled frame."""
    require_tesseract_executable()
    frames = cines[case]
    drawn = LEAKS[case][1]
    assert not drawn & set(verification_frame_indices(len(frames)))
    assert ocr_identifiers(frames[min(drawn)], IDS), case


@pytest.mark.parametrize("case", sorted(LEAKS))
def test_a_cine_with_text_between_the_sampled_frames_is_quarantined(case, cines, pseudonymizer):
    require_tesseract_executable()
    with pytest.raises(DeidentificationError, match="readable after pixel cleaning") as info:
        deidentify_dataset(_dataset(cines[case]), pseudonymizer, verify_ocr=True)
    assert "CANARY" not in str(info.value).upper()


def test_a_clean_cine_is_released_reading_only_the_sampled_frames(cines, pseudonymizer):
    require_tesseract_executable()
    result = deidentify_dataset(_dataset(cines["clean_cine"]), pseudonymizer, verify_ocr=True)
    assert result.ocr_findings == []
    assert result.actions["ocr-frames-read"] == len(verification_frame_indices(30))


def test_text_that_stays_on_middle_frames_is_read_once(cines):
    """The added frames are the ones whose text differs from the frames read before: the
    name on frames 3-7 once, the ID on frames 57 and 58 of the long cine once."""
    for case in ("name_on_frames_3_to_7", "id_on_2_of_200_frames"):
        frames = cines[case]
        chosen = verification_frames(frames)
        added = set(chosen) - set(verification_frame_indices(len(frames)))
        assert len(added) == 1 and added <= LEAKS[case][1], (case, added)


@pytest.mark.parametrize("analyze", [False, True], ids=["deidentify", "deidentify_analyze"])
def test_command_quarantines_every_cine_with_hidden_text(tmp_path, cines, analyze):
    """``cadbusi deidentify`` (and ``--analyze``, the assets' imaging stage) in its own
    process: every leaking cine is quarantined with a reason, the clean one is written."""
    require_tesseract_executable()
    source, out = tmp_path / "in", tmp_path / "out"
    _write_inputs(source, cines)
    key = generate_key_file(tmp_path / "secrets" / "pseudonym.key")
    argv = ["deidentify", str(source), str(out), "--key-file", str(key), "--jobs", "1"]
    argv += ["--layout", "flat", *(["--analyze"] if analyze else [])]
    done = _cli(*argv)
    with (tmp_path / "out.report.csv").open() as handle:
        rows = {Path(r["input_path"]).stem: r for r in csv.DictReader(handle)}
    assert set(rows) == set(cines), done.stderr[-2000:]
    for name in LEAKS:
        assert rows[name]["status"] == "quarantined", (name, rows[name]["status"])
        assert "readable after pixel cleaning" in rows[name]["reason"]
        assert "CANARY" not in rows[name]["reason"].upper()
    assert rows["clean_cine"]["status"] == "ok"


def test_verify_flags_every_cine_with_hidden_text(tmp_path, cines, pseudonymizer):
    """``cadbusi verify`` on outputs written without the OCR verification: every cine with
    hidden text is flagged on a frame it is drawn on, the clean one is not."""
    require_tesseract_executable()
    source, out = tmp_path / "in", tmp_path / "out"
    _write_inputs(source, cines)
    out.mkdir()
    for path in source.glob("*.dcm"):
        result = deidentify_dataset(read_dataset(path), pseudonymizer)
        (out / path.name).write_bytes(dataset_to_bytes(result.dataset))
    report = tmp_path / "verify.csv"
    done = _cli("verify", str(out), "--identifiers-from", str(source), "--report", str(report))
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    with report.open() as handle:
        rows = {Path(r["output_path"]).stem: r for r in csv.DictReader(handle)}
    assert set(rows) == set(cines)
    for name, (_, drawn) in LEAKS.items():
        assert rows[name]["status"] == "flagged", name
        findings = rows[name]["findings"].split("; ")
        flagged = {int(f.split()[2].rstrip(":")) for f in findings if f.startswith("pixels frame")}
        assert flagged & drawn, (name, rows[name]["findings"])
    assert rows["clean_cine"]["status"] == "clean", rows["clean_cine"]["findings"]


# -- a generator cine (the demo cohort's: JPEG-compressed, colour or grey) -------------------


@pytest.fixture(scope="module")
def demo_cines(tmp_path_factory) -> list[Path]:
    """The cines of a tiny demo cohort."""
    import json

    from cadbusi_demo import DemoConfig, generate_demo_cohort

    cohort = generate_demo_cohort(
        tmp_path_factory.mktemp("demo") / "cohort",
        DemoConfig(days=2, studies_per_day=(2, 2), seed=5, workers=1),
    )
    found = []
    for path in sorted(cohort.pacs_root.rglob("*.dcm")):
        truth = json.loads((cohort.ground_truth_dir / f"{path.stem}.json").read_text())
        if truth["number_of_frames"] > 3:
            found.append(path)
    assert found
    return found


def test_a_demo_cine_reads_only_the_sampled_frames_and_not_a_name_on_one_frame(
    pseudonymizer, demo_cines
):
    """A generator cine as written (static screen text, moving speckle) reads its sampled
    frames only; the same cine with the patient's name drawn in the fan on one frame
    between them is quarantined, on that frame."""
    from cadbusi_assets.deid.deidentify import decode_all_frames

    require_tesseract_executable()
    for path in demo_cines:
        ds = read_dataset(path)
        result = deidentify_dataset(ds, pseudonymizer, verify_ocr=True)
        n_frames = int(result.frames.shape[0])
        assert result.ocr_findings == [], path.name
        assert result.actions["ocr-frames-read"] == len(verification_frame_indices(n_frames))

        frames = decode_all_frames(ds)
        middle = next(
            k for k in range(1, n_frames) if k not in verification_frame_indices(n_frames)
        )
        x0, y0, x1, y1 = result.kept_regions[0].box
        xy = (x0 + (x1 - x0) * 9 // 20, y0 + (y1 - y0) // 5)  # in the fan
        fill = (255, 255, 255) if frames.ndim == 4 else 255
        image = Image.fromarray(frames[middle])
        name = f"{ds.PatientName.family_name}, {ds.PatientName.given_name}"
        ImageDraw.Draw(image).text(xy, name, fill=fill, font=ImageFont.load_default(size=20))
        frames[middle] = np.asarray(image)
        ds.set_pixel_data(frames, "RGB" if frames.ndim == 4 else "MONOCHROME2", 8)
        with pytest.raises(DeidentificationError, match=f"frame {middle}: patient_name"):
            deidentify_dataset(ds, pseudonymizer, verify_ocr=True)
