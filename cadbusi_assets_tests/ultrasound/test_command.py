from __future__ import annotations

import io

import numpy as np
import polars as pl
import pytest
from PIL import Image, ImageDraw, ImageFont

from cadbusi_assets.ultrasound.command import analyze_command
from cadbusi_assets.ultrasound.overlay import chroma
from cadbusi_assets_tests.ultrasound.dicom_files import write_us_dicom
from cadbusi_assets_tests.ultrasound.synthetic import WHITE, YELLOW, make_frame

BOX = (120, 40, 519, 349)
REGION = (60, 30, 600, 470)
REQUIRED = [
    "source_path",
    "frame",
    "crop_x0",
    "crop_y0",
    "crop_x1",
    "crop_y1",
    "fov_shape",
    "has_calipers",
    "caliper_points",
    "is_doppler",
    "darkness",
    "laterality",
    "orientation",
    "clock_position",
    "nipple_distance_cm",
    "exclusion_reason",
]


def annotate(rgb: np.ndarray, lines: list[str]) -> np.ndarray:
    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    for k, line in enumerate(lines):
        draw.text((130, 372 + 26 * k), line, font=ImageFont.load_default(size=18), fill=WHITE)
    return np.asarray(image).copy()


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    root = tmp_path_factory.mktemp("in")
    out = tmp_path_factory.mktemp("out")
    marks = [(200, 200, "+", YELLOW), (350, 250, "+", YELLOW)]
    text = ["LT BREAST", "2:00 3 CM FN", "TRANS"]
    with_marks = annotate(make_frame(seed=1, box=BOX, calipers=marks).rgb, text)
    twin = annotate(make_frame(seed=1, box=BOX).rgb, text)
    lone = make_frame(seed=2, box=BOX, calipers=[(300, 150, "x", WHITE)])
    write_us_dicom(root / "s1" / "a.dcm", with_marks, study_uid="1.2.3", region=REGION, jpeg=True)
    write_us_dicom(root / "s1" / "b.dcm", twin, study_uid="1.2.3", region=REGION, jpeg=True)
    write_us_dicom(root / "s2" / "c.dcm", lone.rgb[..., 0], study_uid="1.2.4", region=REGION)
    cine = [make_frame(seed=10 + s, box=BOX).rgb for s in range(5)]
    write_us_dicom(root / "s2" / "cine.dcm", cine, study_uid="1.2.4", jpeg=True)
    (root / "notes.dcm").write_bytes(b"not a DICOM file")
    messages: list[str] = []
    code = analyze_command(root, out, jobs=1, frame_step=2, ocr=False, echo=messages.append)
    return code, out, messages, lone


def test_writes_one_row_per_analysed_frame_and_records_unreadable_files(analysed):
    code, out, messages, _ = analysed
    assert code == 0
    table = pl.read_parquet(out / "features.parquet")
    assert set(REQUIRED) <= set(table.columns)
    rows = {(r["source_path"], r["frame"]) for r in table.iter_rows(named=True)}
    assert rows == {
        ("notes.dcm", None),
        ("s1/a.dcm", 0),
        ("s1/b.dcm", 0),
        ("s2/c.dcm", 0),
        ("s2/cine.dcm", 0),
        ("s2/cine.dcm", 2),
        ("s2/cine.dcm", 4),
    }
    unreadable = table.filter(pl.col("source_path") == "notes.dcm")
    assert unreadable["exclusion_reason"][0] == "unreadable"
    assert any("1 unreadable" in m for m in messages)


def test_crop_and_calipers_in_the_table(analysed):
    _, out, _, _ = analysed
    table = pl.read_parquet(out / "features.parquet").filter(pl.col("source_path") == "s1/a.dcm")
    row = table.row(0, named=True)
    assert abs(row["crop_x0"] - BOX[0]) <= 3 and abs(row["crop_y1"] - BOX[3]) <= 3
    assert row["has_calipers"] and sorted(map(tuple, row["caliper_points"])) == [
        (200, 200),
        (350, 250),
    ]
    assert row["fov_shape"] == "rectangle" and row["exclusion_reason"] is None


def test_twin_pairs_are_not_inpainted_and_lone_caliper_frames_are(analysed):
    _, out, _, lone = analysed
    table = pl.read_parquet(out / "features.parquet")
    a = table.filter(pl.col("source_path") == "s1/a.dcm").row(0, named=True)
    assert a["clean_twin_image_id"] == "s1/b_f0" and a["inpainted_path"] is None
    c = table.filter(pl.col("source_path") == "s2/c.dcm").row(0, named=True)
    # named by the image id (the input path): two inputs of one name in different folders no
    # longer write the same PNG
    assert c["clean_twin_image_id"] is None and c["inpainted_path"] == "inpainted/s2/c_f0.png"
    written = [p.relative_to(out).as_posix() for p in (out / "inpainted").rglob("*.png")]
    assert written == ["inpainted/s2/c_f0.png"]
    image = np.asarray(Image.open(io.BytesIO((out / c["inpainted_path"]).read_bytes())))
    assert image.ndim == 2  # grey in, grey out
    clean = lone.clean[..., 0].astype(int)
    x, y = 300, 150
    before = np.abs(
        lone.rgb[y - 6 : y + 7, x - 6 : x + 7, 0].astype(int) - clean[y - 6 : y + 7, x - 6 : x + 7]
    )
    after = np.abs(
        image[y - 6 : y + 7, x - 6 : x + 7].astype(int) - clean[y - 6 : y + 7, x - 6 : x + 7]
    )
    assert after.mean() < before.mean() / 2
    assert chroma(np.repeat(image[..., None], 3, axis=2)).max() == 0


def test_missing_or_empty_input(tmp_path):
    messages: list[str] = []
    assert analyze_command(tmp_path / "nope", tmp_path / "out", echo=messages.append) == 2
    (tmp_path / "empty").mkdir()
    assert analyze_command(tmp_path / "empty", tmp_path / "out", echo=messages.append) == 1
    assert len(messages) == 2


def test_a_run_again_into_the_same_output_removes_what_no_table_lists(tmp_path):
    """``cadbusi analyze`` run again into the same OUTPUT after a file left INPUT: the first
    run's inpainted PNG of it stayed, listed by no table (adversary s37, as for
    ``cadbusi deidentify``); files that are not the command's stay."""
    root = tmp_path / "in"
    out = tmp_path / "out"
    lone = make_frame(seed=2, box=BOX, calipers=[(300, 150, "x", WHITE)])
    write_us_dicom(root / "s2" / "c.dcm", lone.rgb[..., 0], study_uid="1.2.4", region=REGION)
    other = make_frame(seed=3, box=BOX, calipers=[(250, 180, "x", WHITE)])
    write_us_dicom(root / "s3" / "d.dcm", other.rgb[..., 0], study_uid="1.2.5", region=REGION)
    assert analyze_command(root, out, jobs=1, ocr=False, echo=lambda _: None) == 0
    first = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert first == ["inpainted/s2/c_f0.png", "inpainted/s3/d_f0.png"]
    (out / "mine.txt").write_text("the user's own file")
    (root / "s3" / "d.dcm").unlink()
    said: list[str] = []
    assert analyze_command(root, out, jobs=1, ocr=False, echo=said.append) == 0
    left = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert left == ["features.parquet", "inpainted/s2/c_f0.png", "mine.txt"]
    assert any(line.startswith("removed 1 ") for line in said), said
