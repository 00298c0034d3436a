from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import polars as pl
import pytest
from PIL import Image, ImageDraw, ImageFont

from cadbusi_assets.dicom import UltrasoundRegion
from cadbusi_assets.ultrasound import analyze_frame
from cadbusi_assets.ultrasound.ocr import find_text_lines, read_text_lines
from cadbusi_assets.ultrasound.overlay import to_grey
from cadbusi_assets_tests.support import require_tesseract, require_tool
from cadbusi_assets_tests.ultrasound.synthetic import WHITE, YELLOW, make_frame

BOX = (120, 40, 519, 359)
REGION = UltrasoundRegion(60, 30, 600, 470, spatial_format=1, data_type=1)


def annotated(lines, origin=(130, 375), size=18, seed=0, calipers=None, extra=()):
    frame = make_frame(seed=seed, box=BOX, calipers=calipers)
    image = Image.fromarray(frame.rgb)
    draw = ImageDraw.Draw(image)
    x, y = origin
    for line in lines:
        draw.text((x, y), line, font=ImageFont.load_default(size=size), fill=(255, 255, 255))
        y += size + 8
    for text, (tx, ty), fill in extra:
        draw.text((tx, ty), text, font=ImageFont.load_default(size=15), fill=fill)
    return frame, np.asarray(image).copy()


def test_text_lines_found_below_and_beside_the_image_not_in_speckle_or_calipers():
    frame, rgb = annotated(
        ["LT BREAST", "2:00  3 CM FN", "TRANS"],
        calipers=[(200, 200, "+", YELLOW), (300, 250, "x", WHITE)],
        extra=[("Gn 52", (540, 100), (190, 190, 190))],
    )
    boxes = find_text_lines(rgb, frame.fov_mask)
    assert len(boxes) == 4
    bottoms = [b for b in boxes if b[1] > BOX[3]]
    assert len(bottoms) == 3
    assert [b[1] for b in bottoms] == sorted(b[1] for b in bottoms)  # top to bottom
    assert all(b[0] >= 125 for b in bottoms)
    assert not any(b[0] <= 200 <= b[2] and b[1] <= 200 <= b[3] for b in boxes)
    inside_region = find_text_lines(rgb, frame.fov_mask, area=(60, 30, 530, 470))
    assert len(inside_region) == 3


def test_no_text_in_plain_speckle():
    frame = make_frame(seed=4, box=BOX, brightness=140.0)
    assert find_text_lines(frame.rgb, frame.fov_mask) == []


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["LT BREAST", "2:00  3 CM FN", "TRANS"], ("LEFT", "2:00", 3.0, "transverse", "breast")),
        (["RIGHT", "10:30  4.5CMFN", "ARAD"], ("RIGHT", "10:30", 4.5, "antiradial", "breast")),
        (["RT", "AXILLA", "OBL"], ("RIGHT", None, None, "oblique", "axilla")),
    ],
)
def test_annotation_fields_read_with_tesseract(lines, expected):
    require_tool("tesseract", "apt-get install tesseract-ocr")
    _, rgb = annotated(lines)
    row = analyze_frame(rgb, [REGION], ocr=True).as_row()
    got = (
        row["ocr_laterality"],
        row["clock_position"],
        row["nipple_distance_cm"],
        row["orientation"],
        row["body_area"],
    )
    assert got == expected
    assert row["laterality"] == expected[0]
    assert "ocr_text" not in row  # only parsed fields reach the features table


def test_study_laterality_overrides_ocr_and_text_is_kept():
    require_tool("tesseract", "apt-get install tesseract-ocr")
    _, rgb = annotated(["LT BREAST", "2:00  3 CM FN", "LONG"])
    row = analyze_frame(rgb, [REGION], study_laterality="RIGHT").as_row()
    assert row["ocr_laterality"] == "LEFT" and row["laterality"] == "RIGHT"
    bilateral = analyze_frame(rgb, [REGION], study_laterality="BILATERAL").as_row()
    assert bilateral["laterality"] == "LEFT"


def test_same_line_image_same_text_and_ocr_off_reads_nothing():
    require_tool("tesseract", "apt-get install tesseract-ocr")
    frame, rgb = annotated(["RT BREAST", "9:00  2 CM FN"])
    grey = to_grey(rgb)
    boxes = find_text_lines(rgb, frame.fov_mask)
    assert read_text_lines(grey, boxes) == read_text_lines(grey.copy(), boxes)
    row = analyze_frame(rgb, [REGION], ocr=False).as_row()
    assert row["clock_position"] is None and row["nipple_distance_cm"] is None


def test_burned_in_third_party_text_never_reaches_the_features_table():
    """Issue: a relative's name and phone number burned into the image region were read by
    OCR into image_features.ocr_text verbatim. Only parsed fields may be stored."""
    require_tool("tesseract", "apt-get install tesseract-ocr")
    from cadbusi_assets.ultrasound.analysis import features_frame

    _, rgb = annotated(
        ["LT BREAST", "2:00  3 CM FN"],
        extra=[("SISTER ZELDA PLIMSOLL 555-0142", (140, 60), (255, 255, 255))],
    )
    analysis = analyze_frame(rgb, [REGION], ocr=True)
    assert "PLIMSOLL" in (analysis.ocr.text or "").upper()  # read (in memory only) ...
    table = features_frame([analysis.as_row()])
    stored = " ".join(
        str(value)
        for column in table.columns
        if table[column].dtype == pl.String
        for value in table[column].to_list()
    ).upper()
    for secret in ("ZELDA", "PLIMSOLL", "SISTER", "0142", "555"):
        assert secret not in stored  # ... but never stored
    assert "ocr_text" not in table.columns
    row = table.row(0, named=True)
    assert (row["ocr_laterality"], row["clock_position"], row["nipple_distance_cm"]) == (
        "LEFT",
        "2:00",
        3.0,
    )


def test_one_reading_serves_the_verification_and_the_annotation():
    """The frame is read once; de-identification verification and the annotation reading
    both use that reading (no line is read again)."""
    require_tool("tesseract", "apt-get install tesseract-ocr")
    from cadbusi_assets.deid.identifiers import OriginalIdentifiers
    from cadbusi_assets.deid.ocr import ocr_identifiers, read_frame
    from cadbusi_assets.ultrasound.ocr import engine

    _, rgb = annotated(
        ["RT BREAST", "9:00  2 CM FN"],
        extra=[("QUENTINA ALDERGROVE", (140, 60), (255, 255, 255))],
    )
    reading = read_frame(rgb)
    reader = engine()
    misses = reader.misses
    ids = OriginalIdentifiers(patient_names=("ALDERGROVE^QUENTINA",))
    assert ocr_identifiers(rgb, ids, reading) == ["patient_name"]
    row = analyze_frame(rgb, [REGION], reading=reading).as_row()
    assert reader.misses == misses  # nothing read a second time
    assert (row["ocr_laterality"], row["clock_position"], row["nipple_distance_cm"]) == (
        "RIGHT",
        "9:00",
        2.0,
    )


def test_tesseract_runs_one_openmp_thread_even_after_torch():
    """torch brings its own ``libgomp.so.1`` and tesseract binds to it; its thread limit is
    read when torch is imported. Importing the package first caps it at one thread per
    process (four spin-waiting threads per line cost 4-5x tesseract's CPU time)."""
    require_tesseract()
    probe = (
        "import ctypes, os\n"
        "import cadbusi_assets.ultrasound.ocr as ocr\n"
        "import torch\n"
        "ocr.engine().read_line(__import__('numpy').full((30, 60), 255, 'uint8'))\n"
        "gomp = ctypes.CDLL('libgomp.so.1')\n"
        "print(gomp.omp_get_thread_limit(), os.environ['OMP_THREAD_LIMIT'])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMP_")}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["1", "1"]
    # a user's own setting is kept
    env["OMP_THREAD_LIMIT"] = "3"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.stdout.split() == ["3", "3"], done.stderr[-2000:]


def test_tesseract_warns_when_openmp_started_before_the_thread_limit():
    """torch imported before the package: its OpenMP runtime started with no thread limit
    and the package's OMP_THREAD_LIMIT=1 comes too late; the engine says so (a warning that
    names the fix) instead of silently costing ~5x the CPU per line. Imported after the
    package, or with the limit set by the user before Python starts, there is no warning."""
    require_tesseract()
    read = "ocr.engine().read_line(__import__('numpy').full((30, 60), 255, 'uint8'))\n"
    torch_first = "import torch\nimport cadbusi_assets.ultrasound.ocr as ocr\n" + read
    package_first = "import cadbusi_assets.ultrasound.ocr as ocr\nimport torch\n" + read
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMP_")}

    def warnings_of(probe: str, extra: dict[str, str]) -> str:
        done = subprocess.run(
            [sys.executable, "-W", "always::RuntimeWarning", "-c", probe],
            capture_output=True,
            text=True,
            env={**env, **extra},
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stderr

    assert "OMP_THREAD_LIMIT=1" in warnings_of(torch_first, {})
    assert "several OpenMP threads" not in warnings_of(package_first, {})
    assert "several OpenMP threads" not in warnings_of(torch_first, {"OMP_THREAD_LIMIT": "1"})


def _drawn_line(text: str) -> np.ndarray:
    """Dark text on light, as every line image reaches tesseract."""
    import cv2

    image = np.full((40, 300), 255, np.uint8)
    cv2.putText(image, text, (5, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.9, 0, 2)
    return image


def test_engine_reads_lines_once_no_inverted_second_reading():
    """The engine reads the dark-on-light lines it is given and does not read each
    low-confidence line a second time inverted (``tessedit_do_invert=0``): light text on dark,
    which only that second reading reads, stays unread; tesseract's own settings read it."""
    from cadbusi_assets.ultrasound.ocr import _CApi

    require_tesseract()
    line = _drawn_line("SMITH JOHN 0391")
    committed, stock = _CApi(), _CApi({})
    try:
        assert committed.read(line).split() == ["SMITH", "JOHN", "0391"]
        assert stock.read(255 - line).split() == ["SMITH", "JOHN", "0391"]
        assert committed.read(255 - line).split() != ["SMITH", "JOHN", "0391"]
    finally:
        committed.close()
        stock.close()


def test_engine_refuses_an_unknown_variable():
    from cadbusi_assets.ultrasound.ocr import _CApi

    require_tesseract()
    with pytest.raises(ValueError, match="no_such_variable"):
        _CApi({"no_such_variable": "1"})
