"""Exports load directly in training code: Parquet shards (Hugging Face ``datasets``), a PyTorch
``Dataset`` with a ``DataLoader``, and label-derived lesion masks next to field-of-view masks."""

from __future__ import annotations

import importlib
import io
import os

import numpy as np
import polars as pl
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from cadbusi_assets.exports import ExportConfig, build_export, verify_export
from cadbusi_assets.exports.torch_dataset import CadbusiExportDataset, collate
from cadbusi_assets_tests.exports.conftest import synthetic_catalog, write_zone

CI = bool(os.environ.get("CI"))
LINEAGE = {"deidentification_profile": "p", "label_set_version": "ls", "code_version": "0"}


def _zone_with_lesions(tmp_path):
    """Image 0 of the first caliper image: a Labelbox box (newer label wins over an older one);
    another caliper image: only a caliper box (fallback)."""
    catalog = synthetic_catalog(8, 2)
    zone = write_zone(tmp_path / "research", catalog)
    caliper_images = catalog.filter(pl.col("has_calipers"))["image_id"].to_list()
    labelled, fallback = caliper_images[0], caliper_images[1]
    zone.write_parquet(
        ("lesions", "lesion_images.parquet"),
        pl.DataFrame(
            {
                "lesion_id": ["L-a", "L-b"],
                "image_id": [labelled, fallback],
                "box_x0": [20, 20],
                "box_y0": [30, 30],
                "box_x1": [40, 40],
                "box_y1": [32, 32],
            }
        ),
    )
    objects = pl.DataFrame(
        {
            "label_id": ["old", "new", "new"],
            "image_id": [labelled] * 3,
            "project_id": ["p"] * 3,
            "feature_id": ["f1", "f2", "f3"],
            "name": ["lesion_box", "lesion_box", "other_tool"],
            "kind": ["ImageBoundingBox"] * 3,
            "bbox_left": [12.0, 15.0, 30.0],
            "bbox_top": [22.0, 25.0, 30.0],
            "bbox_width": [30.0, 10.0, 5.0],
            "bbox_height": [30.0, 10.0, 5.0],
            "points": [None, None, None],
            "mask_url": [None, None, None],
            "mask_color": [None, None, None],
        },
        schema_overrides={"points": pl.List(pl.List(pl.Float64)), "mask_color": pl.List(pl.Int32)},
    )
    labels = pl.DataFrame(
        {
            "label_id": ["old", "new"],
            "image_id": [labelled] * 2,
            "updated_at": ["2026-01-01T00:00:00", "2026-02-01T00:00:00"],
        }
    ).with_columns(pl.col("updated_at").str.to_datetime(time_zone="UTC"))
    zone.write_parquet(("labels", "labelbox", "objects.parquet"), objects)
    zone.write_parquet(("labels", "labelbox", "labels.parquet"), labels)
    zone.write_parquet(
        ("labels", "labelbox", "agreement_questions.parquet"),
        pl.DataFrame({"question": ["laterality"], "images": [4], "share_all_agree": [0.75]}),
    )
    return zone, labelled, fallback


@pytest.fixture
def export(tmp_path):
    zone, labelled, fallback = _zone_with_lesions(tmp_path)
    report = build_export(zone, ExportConfig(key="k1", shard_max_bytes=1500), LINEAGE, workers=1)
    assert verify_export(zone, "k1") == []
    return zone.local_path("exports", report.key), labelled, fallback


def _mask(folder, relative) -> np.ndarray:
    return np.asarray(Image.open(folder / relative))


def test_lesion_masks_from_labels_then_calipers_named_apart_from_fov_masks(export):
    folder, labelled, fallback = export
    manifest = pl.read_parquet(folder / "manifest.parquet")
    assert "mask_path" not in manifest.columns
    row = manifest.filter(pl.col("image_id") == labelled).row(0, named=True)
    assert row["lesion_mask_source"] == "labelbox"
    assert row["lesion_mask_label_id"] == "new"  # the newer label, not a union with "old"
    assert row["lesion_mask_boxes_crop"] == [[5, 5, 15, 15]]  # crop origin (10, 20)
    mask = _mask(folder, row["lesion_mask_path"])
    assert mask.shape == (40, 40)
    assert set(np.unique(mask)) == {0, 255}
    assert mask[5:16, 5:16].min() == 255 and mask.sum() == 255 * 11 * 11
    fov = _mask(folder, row["fov_mask_path"])
    assert row["fov_mask_path"].startswith("fov_masks/") and fov.min() == 255
    other = manifest.filter(pl.col("image_id") == fallback).row(0, named=True)
    assert other["lesion_mask_source"] == "calipers"
    assert other["lesion_mask_boxes_crop"] == [[10, 10, 30, 12]]
    assert _mask(folder, other["lesion_mask_path"])[10:13, 10:31].min() == 255
    card = (folder / "README.md").read_text()
    assert "1 caliper boxes (fallback, a box, not an outline); 1 from Labelbox" in card
    assert 'datasets.load_dataset("parquet"' in card and "CadbusiExportDataset" in card
    assert "annotators all agree on laterality" in card and "75.0 % of 4" in card
    plain = manifest.filter(pl.col("lesion_mask_path").is_null())
    assert plain.height == manifest.height - 2 and plain["lesion_mask_source"].null_count() == (
        plain.height
    )


def test_parquet_shards_load_with_hugging_face_datasets(export, monkeypatch, tmp_path):
    # in the test extra; under CI a missing package fails instead of skipping
    datasets = importlib.import_module("datasets") if CI else pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    folder, labelled, _ = export
    manifest = pl.read_parquet(folder / "manifest.parquet")
    shards = sorted(p.name for p in (folder / "data").glob("*.parquet"))
    assert any(name.startswith("train-00001-of-") for name in shards)  # several train shards
    loaded = datasets.load_dataset(
        "parquet", data_dir=str(folder / "data"), cache_dir=str(tmp_path / "cache")
    )
    assert set(loaded) == {"train", "validation", "test"}
    assert sum(len(loaded[s]) for s in loaded) == manifest.height
    for split, hf_split in (("train", "train"), ("val", "validation"), ("test", "test")):
        assert sorted(loaded[hf_split]["image_id"]) == sorted(
            manifest.filter(pl.col("split") == split)["image_id"].to_list()
        )
    rows = {r["image_id"]: r for s in loaded for r in loaded[s] if r["image_id"] == labelled}
    row = rows[labelled]
    assert isinstance(row["image"], Image.Image) and row["image"].size == (40, 40)
    assert np.asarray(row["lesion_mask"])[10, 10] == 255
    assert row["lesion_mask_boxes_crop"] == [[5, 5, 15, 15]]
    assert row["caliper_points_crop"] == [[10, 10], [30, 12]]
    expected = Image.open(folder / row["image_path"])
    assert np.array_equal(np.asarray(row["image"]), np.asarray(expected))
    torch_rows = loaded["train"].with_format("torch")
    assert torch_rows[0]["image"].dtype == torch.uint8


def test_shards_hold_the_exported_png_bytes(export):
    folder, _, _ = export
    table = pl.concat(
        [pl.read_parquet(p) for p in sorted((folder / "data").glob("*.parquet"))]
    ).sort("image_id")
    manifest = pl.read_parquet(folder / "manifest.parquet")
    assert table["image_id"].to_list() == manifest["image_id"].to_list()
    for image, path in table.select("image", "image_path").head(5).iter_rows():
        assert image["bytes"] == (folder / path).read_bytes() and image["path"] == path
    assert table["lesion_mask"].null_count() == manifest["lesion_mask_path"].null_count()


def test_torch_dataset_with_a_dataloader(export):
    folder, labelled, _ = export
    train = CadbusiExportDataset(folder, split="train")
    manifest = pl.read_parquet(folder / "manifest.parquet")
    assert len(train) == manifest.filter(pl.col("split") == "train").height
    everything = CadbusiExportDataset(folder)
    item = everything[[r["image_id"] for r in everything.rows].index(labelled)]
    assert item["image"].shape == (1, 40, 40) and item["image"].dtype == torch.float32
    assert float(item["image"].max()) <= 1.0
    assert item["lesion_mask"][0, 10, 10] == 1 and item["lesion_mask"].sum() == 121
    assert bool(item["has_lesion_mask"])
    # zeros of an image with no mask are told apart from a drawn "no lesion" (a label's mask
    # left out would otherwise train as one)
    no_mask = manifest.filter(pl.col("lesion_mask_path").is_null())["image_id"][0]
    unmasked = everything[[r["image_id"] for r in everything.rows].index(no_mask)]
    assert not bool(unmasked["has_lesion_mask"]) and unmasked["lesion_mask"].sum() == 0
    assert item["fov_mask"].sum() == 40 * 40
    assert item["lesion_boxes"].tolist() == [[5.0, 5.0, 15.0, 15.0]]
    assert item["caliper_points"].tolist() == [[10.0, 10.0], [30.0, 12.0]]
    assert torch.allclose(item["pixel_spacing"], torch.tensor([0.01, 0.01]))

    loader = DataLoader(everything, batch_size=4, shuffle=False, collate_fn=collate)
    seen = 0
    for batch in loader:
        assert batch["image"].shape[1:] == (1, 40, 40)
        assert batch["label"].dtype == torch.int64
        assert isinstance(batch["lesion_boxes"], list)
        seen += batch["image"].shape[0]
    assert seen == manifest.height

    resized = CadbusiExportDataset(folder, split=["train", "val", "test"], size=(20, 80))
    small = resized[[r["image_id"] for r in resized.rows].index(labelled)]
    assert small["image"].shape == (1, 20, 80) and small["lesion_mask"].shape == (1, 20, 80)
    assert small["lesion_boxes"].tolist() == [[10.0, 2.5, 30.0, 7.5]]
    with pytest.raises(ValueError, match="unknown split"):
        CadbusiExportDataset(folder, split="validation")


def test_exports_without_labels_or_shards_still_build(tmp_path):
    zone = write_zone(tmp_path / "r", synthetic_catalog(4, 5))
    build_export(
        zone,
        ExportConfig(key="k2", parquet_shards=False, lesion_masks_from_calipers=False),
        LINEAGE,
        workers=1,
    )
    folder = zone.local_path("exports", "k2")
    manifest = pl.read_parquet(folder / "manifest.parquet")
    assert manifest["lesion_mask_path"].null_count() == manifest.height
    assert not (folder / "data").exists() and not (folder / "lesion_masks").exists()
    assert len(CadbusiExportDataset(folder)) == manifest.height
    png = io.BytesIO((folder / manifest["image_path"][0]).read_bytes())
    assert Image.open(png).size == (40, 40)
