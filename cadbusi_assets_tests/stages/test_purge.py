"""A PHI finding purges the date's outputs at every research stage (issue 9: the purge left
image_features, inpainted PNGs and Labelbox rows behind)."""

from __future__ import annotations

import polars as pl

from cadbusi_assets.stages.analysis import FEATURES_TABLE, INPAINTED_TABLE, TWINS_TABLE
from cadbusi_assets.stages.deidentification import IMAGES_TABLE, INSTANCES_TABLE, STUDIES_TABLE
from cadbusi_assets.stages.labeling import DATA_ROWS_TABLE, WITHDRAWN, sent_image_ids
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
    for table in (STUDIES_TABLE, FEATURES_TABLE, TWINS_TABLE):
        write_partition_table(zone, table, batch, pl.DataFrame({"image_id": ["i1"]}))
    rows = pl.DataFrame({"image_id": [f"i-{batch}"], "global_key": [f"g-{batch}"]})
    write_partition_table(
        zone, DATA_ROWS_TABLE, batch, rows.with_columns(pl.lit(False).alias(WITHDRAWN))
    )
    return files


def test_purge_removes_every_stage_of_the_batch_and_nothing_else(tmp_path):
    zone = open_zone(str(tmp_path / "research"), "research").ensure()
    bad = _fill(zone, "b0123456789abcdef")
    good = _fill(zone, "bfedcba9876543210")
    purged = purge_research_batch(zone, "b0123456789abcdef")
    assert purged.files == len(bad)
    tables = (IMAGES_TABLE, INSTANCES_TABLE, INPAINTED_TABLE, STUDIES_TABLE, FEATURES_TABLE)
    for table in (*tables, TWINS_TABLE):
        assert read_partition_table(zone, table, "b0123456789abcdef") is None, table
        assert read_partition_table(zone, table, "bfedcba9876543210") is not None, table
    assert not any(zone.exists(*p.split("/")) for p in bad)
    assert all(zone.exists(*p.split("/")) for p in good)


def test_purge_keeps_the_record_of_what_labelbox_holds_and_says_so(tmp_path):
    """Labelbox keeps the data rows a purge here cannot delete there. Before the fix the purge
    deleted the batch's ``labelbox_data_rows`` table: the only record that Labelbox held images
    of a date with identifiers was gone and nobody was told. Now the rows stay, withdrawn (not
    sent again, their labels left out), and the failure says to delete them in Labelbox."""
    zone = open_zone(str(tmp_path / "research"), "research").ensure()
    _fill(zone, "b0123456789abcdef")
    _fill(zone, "bfedcba9876543210")
    purged = purge_research_batch(zone, "b0123456789abcdef")
    rows = read_partition_table(zone, DATA_ROWS_TABLE, "b0123456789abcdef")
    assert rows is not None, "the record of what Labelbox holds was deleted"
    assert rows[WITHDRAWN].to_list() == [True]
    assert sent_image_ids(zone) == {"g-bfedcba9876543210"}
    assert purged.in_labelbox and "delete their data rows there" in purged.summary()
    assert "delete_withdrawn_data_rows job" in purged.summary()  # the way to do it is named
    other = read_partition_table(zone, DATA_ROWS_TABLE, "bfedcba9876543210")
    assert other is not None and other[WITHDRAWN].to_list() == [False]
    # a batch never sent: nothing to say about Labelbox
    empty = open_zone(str(tmp_path / "research2"), "research").ensure()
    write_partition_table(empty, IMAGES_TABLE, "b1", pl.DataFrame({"png_path": ["png/b1/x"]}))
    quiet = purge_research_batch(empty, "b1")
    assert not quiet.in_labelbox and "Labelbox" not in quiet.summary()
