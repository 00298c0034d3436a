"""Lesion labels an export does not draw, and why (manifest ``lesion_mask_left_out``, the
card): a label a reviewer sent back for rework, and an annotator mask that no longer fits its
image. Neither is ever exported as a lesion mask; the image keeps an older acceptable label."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import polars as pl
from PIL import Image

from cadbusi_assets.exports import ExportConfig, build_export
from cadbusi_assets.exports.build import MASK_DOES_NOT_FIT
from cadbusi_assets.exports.lesion_masks import REJECTED_LABEL_REASON
from cadbusi_assets.labeling import FolderLabelSource
from cadbusi_assets.stages.labeling import ingest_labels
from cadbusi_assets_tests.builders import annotator_export_row, export_row
from cadbusi_assets_tests.exports.conftest import synthetic_catalog, write_zone
from cadbusi_assets_tests.support import time_limit

LINEAGE = {"deidentification_profile": "p", "label_set_version": "ls", "code_version": "0"}


def _box_label(image: str, label: str, status: str, updated: str, left: float) -> dict:
    row = export_row(image, label, updated=updated)
    project = row["projects"]["proj-1"]
    project["project_details"] = {"workflow_status": status}
    entry = project["labels"][0]
    entry["annotations"]["objects"] = [
        {
            "feature_id": f"f-{label}",
            "name": "lesion",
            "annotation_kind": "ImageBoundingBox",
            "bounding_box": {"top": 25.0, "left": left, "height": 10.0, "width": 12.0},
        }
    ]
    return row


def _export(tmp_path: Path, name: str, rows: list[dict]) -> FolderLabelSource:
    folder = tmp_path / "lb" / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return FolderLabelSource(tmp_path / "lb")


def _cut(zone, key: str = "2026-12-01") -> tuple[pl.DataFrame, str]:
    build_export(zone, ExportConfig(key=key, lesion_masks_from_calipers=False), LINEAGE, workers=1)
    folder = zone.local_path("exports", key)
    manifest = pl.read_parquet(folder / "manifest.parquet")
    return manifest, (folder / "README.md").read_text()


def test_a_reworked_label_is_not_drawn_an_older_approved_one_is_and_both_say_why(tmp_path):
    zone = write_zone(tmp_path / "research", synthetic_catalog())
    first = _export(
        tmp_path,
        "a.ndjson",
        [
            _box_label("img0000", "lb-old", "DONE", "2026-03-01T10:00:00.000+00:00", 15.0),
            _box_label("img0010", "lb-only", "IN_REVIEW", "2026-03-01T10:00:00.000+00:00", 15.0),
            _box_label("img0020", "lb-first", "TO_LABEL", "2026-03-01T10:00:00.000+00:00", 15.0),
        ],
    )
    with time_limit(120):
        ingest_labels(zone, first, full=False)
        # later: img0000 relabelled in another label a reviewer rejects; img0010's only label
        # rejected too
        again = _export(
            tmp_path,
            "b.ndjson",
            [
                _box_label("img0000", "lb-new", "IN_REWORK", "2026-03-02T10:00:00.000+00:00", 30.0),
                _box_label(
                    "img0010", "lb-only", "IN_REWORK", "2026-03-02T10:00:00.000+00:00", 15.0
                ),
            ],
        )
        ingest_labels(zone, again, full=False)
        manifest, card = _cut(zone)
    rows = {r["image_id"]: r for r in manifest.to_dicts()}
    assert rows["img0000"]["lesion_mask_label_id"] == "lb-old"  # the older approved label
    assert rows["img0000"]["lesion_mask_path"] is not None
    assert rows["img0000"]["lesion_mask_left_out"] == REJECTED_LABEL_REASON
    assert rows["img0010"]["lesion_mask_label_id"] is None  # nothing else to draw
    assert rows["img0010"]["lesion_mask_path"] is None
    assert rows["img0010"]["lesion_mask_left_out"] == REJECTED_LABEL_REASON
    # in review (nobody checked it yet) and to label (consensus still open) are drawn
    assert rows["img0020"]["lesion_mask_label_id"] == "lb-first"
    assert rows["img0020"]["lesion_mask_left_out"] is None
    assert f"2 {REJECTED_LABEL_REASON}" in card


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8), mode="L").save(buffer, "PNG")
    return buffer.getvalue()


def test_an_annotator_mask_of_another_size_leaves_no_mask_and_says_why(tmp_path):
    catalog = synthetic_catalog(8, 2)
    zone = write_zone(tmp_path / "research", catalog)
    image_id = catalog["image_id"][0]
    drawn = np.zeros((64, 64), np.uint8)
    drawn[30:50, 20:40] = 255
    url = "data:image/png;base64," + base64.b64encode(_png(drawn)).decode()
    row = annotator_export_row(
        image_id,
        "lb-1",
        [
            {"feature_id": "f-mask", "name": "lesion_mask", "mask": {"url": url}},
            {  # a box too: a mask drawn from the box alone would be part of the lesion
                "feature_id": "f-box",
                "name": "lesion_box",
                "bounding_box": {"left": 22.0, "top": 32.0, "width": 4.0, "height": 3.0},
            },
        ],
    )
    source = _export(tmp_path, "e.ndjson", [row])
    with time_limit(120):
        assert ingest_labels(zone, source).counts["masks_stored"] == 1
        zone.write_bytes(("images", f"{image_id}.png"), _png(np.full((80, 80), 7)))
        manifest, card = _cut(zone)
    got = manifest.filter(pl.col("image_id") == image_id).row(0, named=True)
    assert got["lesion_mask_path"] is None
    assert got["mask_source"] is None and got["lesion_mask_source"] is None
    assert got["lesion_mask_boxes_crop"] is None
    assert got["lesion_mask_left_out"] == MASK_DOES_NOT_FIT
    folder = zone.local_path("exports", "2026-12-01")
    assert not (folder / "lesion_masks" / f"{image_id}.png").exists()
    assert f"1 {MASK_DOES_NOT_FIT}" in card
