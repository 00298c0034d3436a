"""End to end on a small demo cohort: `analyze_command` against the generator's ground truth."""

from __future__ import annotations

import datetime as dt
import io
import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from PIL import Image

from benchmarks.analysis import box_iou, psnr, true_caliper_mask
from cadbusi_assets.dicom import decode_frame, read_dataset
from cadbusi_assets.ultrasound.command import analyze_command
from cadbusi_assets.ultrasound.ocr import tesseract_available
from cadbusi_assets.ultrasound.overlay import to_grey
from cadbusi_assets_tests.support import require_tool
from cadbusi_demo import DemoConfig, generate_demo_cohort

pytestmark = pytest.mark.slow

#: The benchmark uses other seeds (benchmarks.analysis).
SEED = 31


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    generate_demo_cohort(
        root / "cohort",
        DemoConfig(start=dt.date(2026, 9, 1), days=1, studies_per_day=(3, 3), seed=SEED, workers=1),
    )
    out = root / "out"
    ocr = tesseract_available()
    code = analyze_command(
        root / "cohort" / "pacs", out, jobs=1, frame_step=4, ocr=ocr, echo=lambda _: None
    )
    assert code == 0
    truths = {}
    for path in (root / "cohort" / "ground_truth").glob("*.json"):
        truth = json.loads(path.read_text())
        truths[truth["sop_instance_uid"]] = truth
    table = pl.read_parquet(out / "features.parquet")
    return table, truths, out, root / "cohort", ocr


def frames(run):
    table, truths, *_ = run
    for row in table.iter_rows(named=True):
        truth = truths[Path(row["source_path"]).stem]
        yield row, truth, truth["frames"][row["frame"]]


def test_every_frame_of_every_file_has_a_row(run):
    table, truths, *_ = run
    expected = sum(len(range(0, t["number_of_frames"], 4)) for t in truths.values())
    assert table.height == expected
    assert table["error"].null_count() == table.height


def test_crop_boxes_match_the_ground_truth(run):
    worst = min(
        box_iou((row["crop_x0"], row["crop_y0"], row["crop_x1"], row["crop_y1"]), gt["crop_box"])
        for row, _, gt in frames(run)
    )
    assert worst >= 0.95


def test_calipers_and_doppler_match_the_ground_truth(run):
    for row, truth, gt in frames(run):
        assert row["has_calipers"] == gt["has_calipers"], truth["sop_instance_uid"]
        assert row["is_doppler"] == gt["is_doppler"], truth["sop_instance_uid"]
        assert len(row["caliper_points"]) == len(gt["caliper_points"])
        for x, y in gt["caliper_points"]:
            assert min(math.hypot(x - px, y - py) for px, py in row["caliper_points"]) <= 2.0


def test_twins_are_paired_and_only_twin_less_caliper_frames_are_inpainted(run):
    table, truths, out, cohort, _ = run
    expected = {
        (
            f"{t['study_instance_uid']}/{sop}_f0",
            f"{t['study_instance_uid']}/{t['clean_twin_sop_instance_uid']}_f0",
        )
        for sop, t in truths.items()
        if t["clean_twin_sop_instance_uid"] and t["frames"][0]["has_calipers"]
    }
    found = set(
        table.filter(pl.col("clean_twin_image_id").is_not_null())
        .select("image_id", "clean_twin_image_id")
        .iter_rows()
    )
    assert found == expected
    lone = table.filter(pl.col("has_calipers") & pl.col("clean_twin_image_id").is_null())
    assert sorted(lone["inpainted_path"].to_list()) == sorted(
        p.relative_to(out).as_posix() for p in (out / "inpainted").rglob("*.png")
    )
    for row in lone.iter_rows(named=True):
        gt = truths[Path(row["source_path"]).stem]["frames"][row["frame"]]
        clean_png = (
            cohort
            / "ground_truth"
            / "clean"
            / f"{Path(row['source_path']).stem}_f{row['frame']}.png"
        )
        clean = to_grey(np.asarray(Image.open(clean_png).convert("RGB")))
        with Image.open(io.BytesIO((out / row["inpainted_path"]).read_bytes())) as image:
            inpainted = to_grey(np.asarray(image.convert("RGB")))
        mask = true_caliper_mask(clean.shape, gt)
        original = to_grey(
            decode_frame(read_dataset(cohort / "pacs" / row["source_path"]), row["frame"])
        )
        assert psnr(inpainted[mask], clean[mask]) >= psnr(original[mask], clean[mask]) + 10


def test_dual_views_are_excluded_as_multiple_regions(run):
    for row, truth, _ in frames(run):
        reason = row["exclusion_reason"] or ""
        assert ("multiple regions" in reason) == truth["is_dual_view"]


FIELDS = ("laterality", "orientation", "clock_position", "nipple_distance_cm", "body_area")


def test_annotation_fields_are_read(run):
    *_, ocr = run
    if not ocr:
        require_tool("tesseract", "apt-get install tesseract-ocr")
    rows = list(frames(run))
    for field in FIELDS:
        share = sum(row[field] == gt[field] for row, _, gt in rows) / len(rows)
        assert share >= 0.9, field


def test_decoded_pixels_match_the_rendered_frames(run):
    """Every encoding of the demo (RGB, MONOCHROME2, JPEG YBR_FULL_422) decodes to what the
    generator drew: exactly for lossless files, closely for JPEG."""
    _, truths, _, cohort, _ = run
    checked = set()
    for truth in truths.values():
        frame_truth = truth["frames"][0]
        clean_png = cohort / "ground_truth" / "clean" / f"{truth['sop_instance_uid']}_f0.png"
        if not clean_png.exists():
            continue
        path = cohort / "pacs" / truth["study_instance_uid"] / f"{truth['sop_instance_uid']}.dcm"
        decoded = to_grey(decode_frame(read_dataset(path), 0))
        clean = to_grey(np.asarray(Image.open(clean_png).convert("RGB")))
        outside = ~true_caliper_mask(clean.shape, frame_truth)
        if truth["transfer_syntax"] == "1.2.840.10008.1.2.4.50":
            assert psnr(decoded[outside], clean[outside]) >= 35
        else:
            assert np.array_equal(decoded[outside], clean[outside])
        checked.add(truth["photometric"])
    assert checked  # at least one caliper frame was compared
