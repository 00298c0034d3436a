"""The demo labeler draws a lesion mask for a share of its labels (a composite mask file in the
label folder), and the label ingestion stores those masks: the demo exercises the mask path."""

from __future__ import annotations

import io
import json

import numpy as np
import polars as pl
import pytest
from PIL import Image

from cadbusi_assets.identity import Pseudonymizer, PseudonymKey, image_id_for
from cadbusi_assets.labeling import FolderLabelSource
from cadbusi_assets.labeling.ontology import OntologySpec
from cadbusi_assets.stages import labeling as stage
from cadbusi_assets.storage import open_zone
from cadbusi_assets_tests.support import time_limit as shared_time_limit
from cadbusi_demo.labeler import MASK_COLOUR, label_sent_images

ROWS, COLUMNS = 48, 64


@pytest.fixture(autouse=True)
def time_limit():
    with shared_time_limit(120, "test_demo_masks"):
        yield


def test_demo_labels_carry_masks_that_ingestion_stores(tmp_path):
    key = PseudonymKey(bytes(range(32)))
    pseudonymizer = Pseudonymizer(key)
    truth_dir, labels = tmp_path / "truth", tmp_path / "labels"
    truth_dir.mkdir()
    sent = []
    for n in range(60):
        sop = f"1.2.826.0.1.3680043.8.498.{n + 1}"
        truth = {
            "sop_instance_uid": sop,
            "rows": ROWS,
            "columns": COLUMNS,
            "frames": [
                {
                    "has_calipers": False,
                    "laterality": ("LEFT", "RIGHT")[n % 2],
                    "lesion_box": [20, 15, 40, 29],
                    "lesion": {"centre": [30.0, 22.0], "half_axes": [10.0, 7.0], "tilt_deg": 15.0},
                }
            ],
        }
        (truth_dir / f"t{n}.json").write_text(json.dumps(truth))
        image_id = image_id_for(pseudonymizer.uid(sop), 0)
        sent.append({"global_key": image_id, "external_id": image_id, "row_data": "x.png"})
    FolderLabelSource(labels).send_data_rows("d1", sent)

    assert label_sent_images(labels, truth_dir, key) > 0
    rows = [json.loads(line) for line in (labels / "exports" / "demo-labels.ndjson").open()]
    objects = [
        o
        for r in rows
        for p in r["projects"].values()
        for label in p["labels"]
        for o in label["annotations"]["objects"]
    ]
    masks = [o for o in objects if o["name"] == "lesion_mask"]
    boxes = [o for o in objects if o["name"] == "lesion"]
    assert masks and boxes  # a share of the labels has a mask instead of a box
    assert all(o["composite_mask"]["color_rgb"] == list(MASK_COLOUR) for o in masks)
    assert all(not o["composite_mask"]["url"].startswith("/") for o in masks)

    zone = open_zone(tmp_path / "research", "research")
    images = pl.DataFrame(
        {"image_id": [s["global_key"] for s in sent], "rows": ROWS, "columns": COLUMNS},
        schema={"image_id": pl.Utf8, "rows": pl.Int32, "columns": pl.Int32},
    )
    stage.write_partition_table(zone, stage.IMAGES_TABLE, "b1", images)
    # the demo labeler answers only the built-in ontology's questions (it answered two others,
    # has_calipers and image_quality, counted as answers to unknown questions)
    report = stage.ingest_labels(zone, FolderLabelSource(labels), ontology=OntologySpec.default())
    assert report.problems == []
    assert report.counts["label_answers_to_unknown_questions"] == 0
    answers = zone.read_parquet(*stage.LABELS_DIR, "classifications.parquet")
    assert set(answers["question"]) == {"laterality"}
    assert set(answers["answer"]) <= {"left", "right"}
    assert report.counts["masks_stored"] == len(masks)
    stored = zone.read_parquet(*stage.LABELS_DIR, "objects.parquet").filter(
        pl.col("mask_path").is_not_null()
    )
    with Image.open(io.BytesIO(zone.read_bytes(*stored["mask_path"][0].split("/")))) as image:
        pixels = np.asarray(image) == 255
    assert pixels.shape == (ROWS, COLUMNS)
    assert pixels[22, 30] and not pixels[0, 0]
    assert 0.8 * np.pi * 70 < pixels.sum() < 1.2 * np.pi * 70  # the ellipse's area
