"""Remove everything one research batch holds, at every stage after de-identification.

Used when the blocking identifier scan finds something in a batch: the batch's de-identified
files and everything derived from them (features, twins, inpainted images, Labelbox data-row
table) leave the research zone together, so no later stage or export can use a stale copy.
"""

from __future__ import annotations

from cadbusi_assets.stages.analysis import FEATURES_TABLE, INPAINTED_TABLE, TWINS_TABLE
from cadbusi_assets.stages.deidentification import purge_batch
from cadbusi_assets.stages.labeling import DATA_ROWS_TABLE
from cadbusi_assets.storage import Zone, delete_partition_table, read_partition_table
from cadbusi_assets.storage.tables import close_batch

#: Tables derived from a batch, with the column that names files they own (None: no files).
DERIVED_TABLES: tuple[tuple[str, str | None], ...] = (
    (INPAINTED_TABLE, "inpainted_path"),
    (FEATURES_TABLE, None),
    (TWINS_TABLE, None),
    (DATA_ROWS_TABLE, None),
)


def purge_research_batch(research_zone: Zone, batch: str) -> int:
    """Delete the batch's files and tables from every research stage; returns files removed."""
    removed = 0
    for table, column in DERIVED_TABLES:
        frame = read_partition_table(research_zone, table, batch)
        if column and frame is not None and column in frame.columns:
            for path in frame[column].drop_nulls().to_list():
                removed += int(research_zone.delete(path))
        delete_partition_table(research_zone, table, batch)
    removed += purge_batch(research_zone, batch)
    # nothing of the batch is left to mix two runs: no marker that would have it re-run
    close_batch(research_zone, batch)
    return removed
