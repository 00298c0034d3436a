"""The catalog's unique-key check: every key that must be unique fails it when duplicated."""

from __future__ import annotations

import json

import polars as pl
import pytest

from cadbusi_assets.catalog import (
    build_metadata_db,
    catalog_problems,
    open_catalog,
    read_catalog_info,
)
from cadbusi_assets.storage import open_zone, write_partition_table


def _images(batch: str, n: int = 3) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "image_id": [f"img-{batch}-{i}" for i in range(n)],
            "instance_id": [f"ins-{batch}-{i}" for i in range(n)],
            "frame": [0] * n,
            "is_cine": [False] * n,
            "accession_pseudo": [f"A{batch}"] * n,
            "patient_pseudo": [f"P{batch}"] * n,
            "sop_uid_pseudo": [f"2.25.{batch}{i}" for i in range(n)],
            "rows": [10] * n,
            "columns": [10] * n,
            "png_sha256": [f"{batch}{i}".ljust(64, "0") for i in range(n)],
        }
    )


def _instances(images: pl.DataFrame) -> pl.DataFrame:
    return images.select("instance_id", "accession_pseudo", "sop_uid_pseudo")


def _studies(batch: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "accession_pseudo": [f"A{batch}"],
            "patient_pseudo": [f"P{batch}"],
            "study_uid_pseudo": [f"2.25.9{batch}"],
            "age_years": [50],
            "exam_description": ["US BREAST"],
            "study_laterality": ["LEFT"],
            "birads": ["4"],
            "is_biopsy": [False],
            "findings": [""],
            "impression": [""],
        },
        schema_overrides={"age_years": pl.Int32},
    )


def _labels(ids: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "label_id": ids,
            "image_id": [f"img-1-{i}" for i in range(len(ids))],
            "label_set_version": ["labels-0001"] * len(ids),
        }
    )


def _zone(tmp_path, duplicate: str | None = None):
    zone = open_zone(tmp_path / "research", "research")
    for batch in ("1", "2"):
        images = _images(batch)
        studies = _studies(batch)
        instances = _instances(images)
        if batch == "2":
            first = _images("1")
            if duplicate == "image_id":
                images = images.with_columns(image_id=pl.lit(first["image_id"][0]))[:1]
            elif duplicate == "instance_id":
                instances = instances.with_columns(instance_id=pl.lit(first["instance_id"][0]))
            elif duplicate == "sop_instance_uid":
                instances = instances.with_columns(
                    sop_uid_pseudo=pl.lit(first["sop_uid_pseudo"][0])
                )
            elif duplicate == "study_id":
                studies = studies.with_columns(accession_pseudo=pl.lit("A1"))
            elif duplicate == "study_instance_uid":
                studies = studies.with_columns(study_uid_pseudo=pl.lit("2.25.91"))
            elif duplicate == "pixel_hash_per_patient":
                # the same pixels stored twice for patient P2 under two image ids
                images = images.with_columns(png_sha256=pl.lit(images["png_sha256"][0]))
        write_partition_table(zone, "images", f"batch{batch}", images)
        write_partition_table(zone, "instances", f"batch{batch}", instances)
        write_partition_table(zone, "studies", f"batch{batch}", studies)
    ids = ["lb-1", "lb-2", "lb-2"] if duplicate == "label_id" else ["lb-1", "lb-2", "lb-3"]
    zone.write_parquet(("labels", "labelbox", "labels.parquet"), _labels(ids))
    zone.write_bytes(
        ("labels", "labelbox", "current.json"),
        json.dumps({"label_set_version": "labels-0001"}).encode(),
    )
    return zone


def test_clean_catalog_passes_and_records_its_label_set(tmp_path):
    zone = _zone(tmp_path)
    report = build_metadata_db(zone)
    assert report.unique_keys_passed
    assert {
        "image_id",
        "instance_id",
        "sop_instance_uid",
        "study_id",
        "study_instance_uid",
        "label_id",
        "pixel_hash_per_patient",
    } <= set(report.duplicate_keys)
    con = open_catalog(zone)
    try:
        info = read_catalog_info(con)
    finally:
        con.close()
    assert info.unique_keys_passed is True and info.label_set_version == "labels-0001"


@pytest.mark.parametrize(
    "kind",
    [
        "image_id",
        "instance_id",
        "sop_instance_uid",
        "study_id",
        "study_instance_uid",
        "label_id",
        "pixel_hash_per_patient",
    ],
)
def test_each_duplicate_kind_fails_the_check(tmp_path, kind):
    zone = _zone(tmp_path, duplicate=kind)
    report = build_metadata_db(zone)
    assert not report.unique_keys_passed
    assert report.duplicate_keys[kind] == 1
    assert {k for k, v in report.duplicate_keys.items() if v} == {kind}
    con = open_catalog(zone)
    try:
        info = read_catalog_info(con)
    finally:
        con.close()
    assert info.unique_keys_passed is False and info.duplicate_keys[kind] == 1


def test_same_pixels_for_two_patients_is_reported_not_failed(tmp_path):
    zone = open_zone(tmp_path / "research", "research")
    for batch in ("1", "2"):
        images = _images(batch).with_columns(png_sha256=pl.lit("f" * 64))[:1]
        write_partition_table(zone, "images", f"batch{batch}", images)
    report = build_metadata_db(zone)
    assert report.unique_keys_passed
    assert report.warnings["pixel_hash_across_patients"] == 1


def test_catalog_problems_name_duplicates_and_another_label_set(tmp_path):
    zone = _zone(tmp_path, duplicate="label_id")
    assert "does not exist yet" in catalog_problems(zone, "labels-0001")[0]
    build_metadata_db(zone)
    assert catalog_problems(zone, "labels-0001") == ["the catalog has duplicate keys (label_id)"]
    clean = _zone(tmp_path / "clean")
    build_metadata_db(clean)
    assert catalog_problems(clean, "labels-0001") == []
    assert "current one is labels-0002" in catalog_problems(clean, "labels-0002")[0]
