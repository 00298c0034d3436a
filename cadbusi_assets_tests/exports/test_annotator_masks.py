"""Annotator segmentation masks reach the export: ingested through a label source (stored in
the research zone), then the image's lesion mask is the annotator's mask cropped like the image,
united with the label's boxes and polygons; the manifest's ``mask_source`` says what it is
drawn from."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import polars as pl
import pytest
from PIL import Image

from cadbusi_assets.exports import ExportConfig, build_export, verify_export
from cadbusi_assets.labeling import FolderLabelSource
from cadbusi_assets.stages import labeling as stage
from cadbusi_assets_tests.builders import ANNOTATOR_IMAGE_SIZE, annotator_export_row
from cadbusi_assets_tests.exports.conftest import synthetic_catalog, write_zone
from cadbusi_assets_tests.support import time_limit as shared_time_limit

LINEAGE = {"deidentification_profile": "p", "label_set_version": "ls", "code_version": "0"}


@pytest.fixture(autouse=True)
def time_limit():
    with shared_time_limit(180, "test_annotator_masks"):
        yield


def _data_url(pixels: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(np.where(pixels, 255, 0).astype(np.uint8), mode="L").save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _mask_object(feature_id: str, url: str) -> dict:
    return {"feature_id": feature_id, "name": "lesion_mask", "mask": {"url": url}}


def test_export_lesion_mask_is_the_annotator_mask_cropped_and_united(tmp_path):
    catalog = synthetic_catalog(8, 2)
    zone = write_zone(tmp_path / "research", catalog)
    first, second, third = catalog["image_id"].to_list()[:3]
    blob = np.zeros((ANNOTATOR_IMAGE_SIZE, ANNOTATOR_IMAGE_SIZE), bool)
    yy, xx = np.mgrid[:ANNOTATOR_IMAGE_SIZE, :ANNOTATOR_IMAGE_SIZE]
    blob[(yy - 40) ** 2 + (xx - 30) ** 2 <= 64] = True  # a disc inside the crop
    blob[0:5, 0:5] = True  # and a corner outside it (cropped away)
    rows = [
        annotator_export_row(first, "lb-1", [_mask_object("f-mask", _data_url(blob))]),
        annotator_export_row(
            second,
            "lb-2",
            [
                _mask_object("f-mask", _data_url(blob)),
                {
                    "feature_id": "f-box",
                    "name": "lesion_box",
                    "bounding_box": {"left": 12.0, "top": 22.0, "width": 4.0, "height": 3.0},
                },
            ],
        ),
        annotator_export_row(
            third,
            "lb-3",
            [
                {
                    "feature_id": "f-box",
                    "name": "lesion_box",
                    "bounding_box": {"left": 12.0, "top": 22.0, "width": 4.0, "height": 3.0},
                }
            ],
        ),
    ]
    labels = tmp_path / "labels"
    (labels / "exports").mkdir(parents=True)
    (labels / "exports" / "e.ndjson").write_text("".join(json.dumps(r) + "\n" for r in rows))
    ingested = stage.ingest_labels(zone, FolderLabelSource(labels))
    assert ingested.counts["masks_stored"] == 2 and ingested.problems == []

    report = build_export(zone, ExportConfig(key="k1"), LINEAGE, workers=1)
    assert verify_export(zone, "k1") == []
    folder = zone.local_path("exports", report.key)
    manifest = pl.read_parquet(folder / "manifest.parquet").filter(
        pl.col("image_id").is_in([first, second, third])
    )
    by_id = {r["image_id"]: r for r in manifest.iter_rows(named=True)}

    def exported(image_id: str) -> np.ndarray:
        return np.asarray(Image.open(folder / by_id[image_id]["lesion_mask_path"])) == 255

    cropped = blob[20:60, 10:50]
    assert by_id[first]["mask_source"] == "annotator_mask"
    assert by_id[first]["lesion_mask_source"] == "labelbox"
    assert by_id[first]["lesion_mask_label_id"] == "lb-1"
    assert exported(first).tolist() == cropped.tolist()

    united = cropped.copy()
    united[2:6, 2:7] = True  # the box (12, 22)-(16, 25) in crop pixels
    assert by_id[second]["mask_source"] == "annotator_mask+boxes"
    assert exported(second).tolist() == united.tolist()

    assert by_id[third]["mask_source"] == "boxes"
    assert exported(third).sum() == 4 * 5
    # the dataset card says how many lesion masks annotators drew
    assert "2 drawn by annotators as masks" in (folder / "README.md").read_text()
