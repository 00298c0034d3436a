"""Annotator segmentation masks at label ingestion: fetched once with the API key through the
real labelbox SDK source (local fake Labelbox), checked, reduced by colour and stored; failures
are problems naming the label; the folder source reads mask files and data: URLs."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import io
import json
from typing import Any

import numpy as np
import polars as pl
import pytest
from PIL import Image

from cadbusi_assets.labeling import FolderLabelSource, open_label_source
from cadbusi_assets.labeling.masks import MASKS_DIR, safe_mask_url
from cadbusi_assets.labeling.sources import LabelboxSdkSource
from cadbusi_assets.stages import labeling as stage
from cadbusi_assets.storage import open_zone
from cadbusi_assets_tests.labeling.fake_labelbox_masks import (
    FakeLabelboxWithMasks,
    running_fake_with_masks,
)
from cadbusi_assets_tests.support import time_limit as shared_time_limit

PROJECT = "proj-1"
W, H = 40, 30
T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
RED, GREEN = [255, 0, 0], [0, 255, 0]


def png(array: np.ndarray, mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buffer, format="PNG")
    return buffer.getvalue()


def composite() -> tuple[bytes, np.ndarray, np.ndarray]:
    """A composite mask (RGB) with a red and a green object; their expected pixels."""
    rgb = np.zeros((H, W, 3), np.uint8)
    red = np.zeros((H, W), bool)
    red[5:12, 4:15] = True
    green = np.zeros((H, W), bool)
    green[18:25, 20:33] = True
    rgb[red] = RED
    rgb[green] = GREEN
    return png(rgb), red, green


def single(shape: tuple[int, int] = (H, W)) -> tuple[bytes, np.ndarray]:
    pixels = np.zeros(shape, bool)
    pixels[2:9, 3:11] = True
    return png(np.where(pixels, 255, 0).astype(np.uint8), "L"), pixels


def mask_object(feature_id: str, url: str, color: list[int] | None = None) -> dict[str, Any]:
    key = "composite_mask" if color else "mask"
    payload: dict[str, Any] = {"url": url} | ({"color_rgb": color} if color else {})
    return {
        "feature_id": feature_id,
        "name": "lesion_mask",
        "annotation_kind": "ImageSegmentationMask",
        key: payload,
        "classifications": [],
    }


def row(image_id: str, label_id: str, objects: list[dict[str, Any]], minutes: int = 0) -> dict:
    stamp = (T0 + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.000+00:00")
    return {
        "data_row": {"id": f"dr-{image_id}", "global_key": image_id, "external_id": image_id},
        "media_attributes": {"height": H, "width": W, "mime_type": "image/png"},
        "projects": {
            PROJECT: {
                "name": "BUS lesions",
                "labels": [
                    {
                        "id": label_id,
                        "label_details": {"created_at": stamp, "updated_at": stamp},
                        "annotations": {
                            "objects": objects,
                            "classifications": [
                                {"name": "has_calipers", "radio_answer": {"name": "no"}}
                            ],
                        },
                    }
                ],
                "project_details": {"workflow_status": "DONE"},
            }
        },
    }


def stored_mask(zone, path: str) -> np.ndarray:
    with Image.open(io.BytesIO(zone.read_bytes(*path.split("/")))) as image:
        assert image.mode == "L" and image.size == (W, H)
        return np.asarray(image) == 255


@pytest.fixture(autouse=True)
def time_limit():
    """Every test here ends within 120 s (a hung download or server fails the test)."""
    with shared_time_limit(120, "test_masks"):
        yield


@pytest.fixture
def fake():
    for server in running_fake_with_masks():
        server.add_project(PROJECT)
        yield server


@pytest.fixture
def source(fake, monkeypatch) -> LabelboxSdkSource:
    monkeypatch.setenv("LABELBOX_API_KEY", fake.api_key)
    monkeypatch.setenv("LABELBOX_ENDPOINT", fake.endpoint)
    monkeypatch.delenv("LABELBOX_REST_ENDPOINT", raising=False)
    monkeypatch.delenv("LABELBOX_APP_URL", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    opened = open_label_source(f"labelbox://{PROJECT}")
    assert isinstance(opened, LabelboxSdkSource)
    opened.rate_limit_backoff_s = 0.0
    return opened


def seed(fake: FakeLabelboxWithMasks, rows: list[dict]) -> None:
    for number, item in enumerate(rows):
        fake.label_row(PROJECT, item, T0 + dt.timedelta(minutes=number))


@pytest.mark.integration
def test_masks_are_fetched_with_the_key_reduced_by_colour_and_stored_once(fake, source, tmp_path):
    data, red, green = composite()
    single_png, single_pixels = single()
    wrong_png, _ = single((H + 1, W))
    url = fake.add_mask(data) + "?token=secret-token"
    single_url = fake.add_mask(single_png)
    wrong_url = fake.add_mask(wrong_png)
    missing_url = fake.add_mask(single_png, "gone").replace("gone", "never-stored")
    # a host that is not the configured endpoint gets no API key → 401
    foreign_url = fake.add_mask(single_png).replace("127.0.0.1", "localhost")
    flaky_url = fake.add_mask(single_png)
    fake.fail_mask(flaky_url, 429, 503)
    seed(
        fake,
        [
            row(
                "img-a",
                "lb-a",
                [mask_object("f-red", url, RED), mask_object("f-green", url, GREEN)],
            ),
            row("img-b", "lb-b", [mask_object("f-one", single_url)]),
            row("img-c", "lb-c", [mask_object("f-wrong", wrong_url)]),
            row("img-d", "lb-d", [mask_object("f-404", missing_url)]),
            row("img-e", "lb-e", [mask_object("f-401", foreign_url)]),
            row("img-f", "lb-f", [mask_object("f-flaky", flaky_url)]),
        ],
    )
    zone = open_zone(tmp_path / "research", "research")

    report = stage.ingest_labels(zone, source)

    # every label is ingested, whatever happened to its mask
    assert report.counts["labels"] == 6
    objects = zone.read_parquet(*stage.LABELS_DIR, "objects.parquet")
    paths = dict(objects.select("feature_id", "mask_path").iter_rows())
    assert stored_mask(zone, paths["f-red"]).tolist() == red.tolist()
    assert stored_mask(zone, paths["f-green"]).tolist() == green.tolist()
    assert stored_mask(zone, paths["f-one"]).tolist() == single_pixels.tolist()
    assert stored_mask(zone, paths["f-flaky"]).tolist() == single_pixels.tolist()
    assert paths["f-red"].startswith("/".join(MASKS_DIR) + "/lb-a/f-red-")
    assert paths["f-wrong"] is None and paths["f-404"] is None and paths["f-401"] is None
    digests = dict(objects.select("feature_id", "mask_sha256").iter_rows())
    assert len(digests["f-red"]) == 64
    # the composite is fetched once for its two objects, with the bearer token
    assert fake.mask_downloads(url) == 1
    assert fake.mask_downloads() == 4
    # no token and no URL with a query string in the stored tables
    assert objects.filter(pl.col("mask_url").str.contains("token")).height == 0
    assert "secret-token" not in objects.write_json()
    problems = "\n".join(report.problems)
    assert (
        "label lb-c: mask of object f-wrong: the mask is 40x31 px, the image 40x30 px" in problems
    )
    assert "label lb-d: mask of object f-404: mask not fetched: HTTP 404" in problems
    assert "label lb-e: mask of object f-401: mask not fetched: HTTP 401" in problems
    assert fake.api_key not in problems and "127.0.0.1" not in problems
    assert report.counts["mask_problems"] == 3 and report.counts["masks_stored"] == 4
    assert report.tables["mask_problems"]["label_id"].to_list() == ["lb-c", "lb-d", "lb-e"]
    unauthorized = [
        r for r in fake.requests if r.path.startswith("/api/v1/masks/") and not r.authorized
    ]
    assert len(unauthorized) == 1  # only the foreign host went without the key

    # re-ingestion: the same URLs and label versions are not fetched again
    tries_404 = [r.path for r in fake.requests].count("/api/v1/masks/never-stored")
    again = stage.ingest_labels(zone, source)
    assert [r.path for r in fake.requests].count("/api/v1/masks/never-stored") == tries_404 + 1
    assert fake.mask_downloads() == 4
    assert again.counts["masks_reused"] == 4 and again.counts["masks_fetched"] == 0
    # the wrong-sized mask is not fetched again (same label version), its problem stays;
    # the failed downloads (401, 404) are tried again
    assert again.counts["mask_problems"] == 3
    assert "f-wrong: the mask is 40x31 px" in "\n".join(again.problems)
    assert again.counts["new_version"] == 0
    assert zone.read_parquet(*stage.LABELS_DIR, "objects.parquet").equals(objects)


def test_folder_source_reads_mask_files_and_data_urls(tmp_path):
    data, red, _ = composite()
    single_png, single_pixels = single()
    folder = tmp_path / "labels"
    (folder / "masks").mkdir(parents=True)
    (folder / "masks" / "m1.png").write_bytes(single_png)
    (tmp_path / "outside.png").write_bytes(single_png)
    data_url = "data:image/png;base64," + base64.b64encode(data).decode()
    rows = [
        row("img-a", "lb-a", [mask_object("f-file", "masks/m1.png")]),
        row("img-b", "lb-b", [mask_object("f-data", data_url, RED)]),
        row("img-c", "lb-c", [mask_object("f-out", "../outside.png")]),
        row("img-d", "lb-d", [mask_object("f-http", "https://example.invalid/m.png")]),
    ]
    (folder / "exports").mkdir()
    (folder / "exports" / "x.ndjson").write_text("".join(json.dumps(r) + "\n" for r in rows))
    zone = open_zone(tmp_path / "research", "research")
    report = stage.ingest_labels(zone, FolderLabelSource(folder))
    objects = zone.read_parquet(*stage.LABELS_DIR, "objects.parquet")
    paths = dict(objects.select("feature_id", "mask_path").iter_rows())
    assert stored_mask(zone, paths["f-file"]).tolist() == single_pixels.tolist()
    assert stored_mask(zone, paths["f-data"]).tolist() == red.tolist()
    assert paths["f-out"] is None and paths["f-http"] is None
    # the table keeps a digest of the data: URL, not its payload
    assert objects.filter(pl.col("feature_id") == "f-data")["mask_url"].item() == safe_mask_url(
        data_url
    )
    problems = "\n".join(report.problems)
    assert (
        "label lb-c: mask of object f-out: mask not fetched: the mask file is outside" in problems
    )
    assert (
        "label lb-d: mask of object f-http: mask not fetched: the folder source reads" in problems
    )
    assert report.counts["labels"] == 4


def test_image_size_comes_from_the_images_table_and_a_colour_without_pixels_is_a_problem(
    tmp_path,
):
    data, _, _ = composite()
    data_url = "data:image/png;base64," + base64.b64encode(data).decode()
    zone = open_zone(tmp_path / "research", "research")
    # the research zone knows img-a at another size than the export says: the zone wins
    stage.write_partition_table(
        zone,
        stage.IMAGES_TABLE,
        "b1",
        pl.DataFrame(
            {"image_id": ["img-a"], "rows": [H * 2], "columns": [W]},
            schema={"image_id": pl.Utf8, "rows": pl.Int32, "columns": pl.Int32},
        ),
    )
    no_size = row("img-c", "lb-c", [mask_object("f-c", data_url, RED)])
    del no_size["media_attributes"]

    class Source:
        def export_rows(self, since=None):
            return copy.deepcopy(
                [
                    row("img-a", "lb-a", [mask_object("f-a", data_url, RED)]),
                    row("img-b", "lb-b", [mask_object("f-b", data_url, [1, 2, 3])]),
                    no_size,
                ]
            )

        fetch_mask = staticmethod(FolderLabelSource(tmp_path).fetch_mask)

    report = stage.ingest_labels(zone, Source())
    problems = "\n".join(report.problems)
    assert "label lb-a: mask of object f-a: the mask is 40x30 px, the image 40x60 px" in problems
    assert "label lb-b: mask of object f-b: the mask has no pixels of colour [1, 2, 3]" in problems
    assert "label lb-c: mask of object f-c: the image's size is unknown" in problems
    assert report.counts["masks_stored"] == 0 and report.counts["labels"] == 3


def test_a_new_label_version_fetches_its_mask_again_and_old_snapshots_keep_theirs(tmp_path):
    first, _ = single()
    second_pixels = np.zeros((H, W), bool)
    second_pixels[10:20, 10:30] = True
    second = png(np.where(second_pixels, 255, 0).astype(np.uint8), "L")
    served = {"bytes": first}
    fetched: list[str] = []

    class Source:
        minutes = 0

        def export_rows(self, since=None):
            return [row("img-a", "lb-a", [mask_object("f-a", "https://x.invalid/m")], self.minutes)]

        def fetch_mask(self, url: str) -> bytes:
            fetched.append(url)
            return served["bytes"]

    zone = open_zone(tmp_path / "research", "research")
    source = Source()
    stage.ingest_labels(zone, source)
    stage.ingest_labels(zone, source)
    assert len(fetched) == 1
    old_path = zone.read_parquet(*stage.LABELS_DIR, "objects.parquet")["mask_path"].item()

    source.minutes, served["bytes"] = 5, second  # relabelled: a new version of the label
    report = stage.ingest_labels(zone, source)
    assert len(fetched) == 2 and report.counts["new_version"] == 1
    new_path = zone.read_parquet(*stage.LABELS_DIR, "objects.parquet")["mask_path"].item()
    assert new_path != old_path
    assert stored_mask(zone, new_path).tolist() == second_pixels.tolist()
    # the superseded version (history) still finds its own mask
    history = zone.read_parquet(*stage.HISTORY_DIR, "objects.parquet")
    assert history["mask_path"].to_list() == [old_path]
    assert zone.exists(*old_path.split("/"))
