"""A PHI finding purges the date's outputs at every research stage (issue 9: the purge left
image_features, inpainted PNGs and Labelbox rows behind)."""

from __future__ import annotations

import polars as pl

from cadbusi_assets.stages.analysis import FEATURES_TABLE, INPAINTED_TABLE, TWINS_TABLE
from cadbusi_assets.stages.deidentification import IMAGES_TABLE, INSTANCES_TABLE, STUDIES_TABLE
from cadbusi_assets.stages.labeling import DATA_ROWS_TABLE
from cadbusi_assets.stages.purge import purge_research_batch
from cadbusi_assets.storage import open_zone, read_partition_table, write_partition_table


def _fill(zone, batch: str) -> list[str]:
    files = []
    for folder, table, column in (
        ("png", IMAGES_TABLE, "png_path"),
        ("dicom", INSTANCES_TABLE, "dicom_path"),
        ("inpainted", INPAINTED_TABLE, "inpainted_path"),
    ):
        path = f"{folder}/{batch}/x.bin"
        zone.write_bytes(path.split("/"), b"data")
        files.append(path)
        write_partition_table(zone, table, batch, pl.DataFrame({column: [path]}))
    for table in (STUDIES_TABLE, FEATURES_TABLE, TWINS_TABLE, DATA_ROWS_TABLE):
        write_partition_table(zone, table, batch, pl.DataFrame({"image_id": ["i1"]}))
    return files


def test_purge_removes_every_stage_of_the_batch_and_nothing_else(tmp_path):
    zone = open_zone(str(tmp_path / "research"), "research").ensure()
    bad = _fill(zone, "b0123456789abcdef")
    good = _fill(zone, "bfedcba9876543210")
    removed = purge_research_batch(zone, "b0123456789abcdef")
    assert removed == len(bad)
    tables = (IMAGES_TABLE, INSTANCES_TABLE, INPAINTED_TABLE, STUDIES_TABLE, FEATURES_TABLE)
    for table in (*tables, TWINS_TABLE, DATA_ROWS_TABLE):
        assert read_partition_table(zone, table, "b0123456789abcdef") is None, table
        assert read_partition_table(zone, table, "bfedcba9876543210") is not None, table
    assert not any(zone.exists(*p.split("/")) for p in bad)
    assert all(zone.exists(*p.split("/")) for p in good)
