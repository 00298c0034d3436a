"""Remove everything one research batch holds, at every stage after de-identification.

Used when the blocking identifier scan finds something in a batch: the batch's de-identified
files and everything derived from them (features, twins, inpainted images) leave the research
zone together, so no later stage or export can use a stale copy. The Labelbox data-row table is
the record of what Labelbox holds, which a purge here does not delete there: its rows stay,
marked withdrawn (never sent again, their labels left out), and the purge says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from cadbusi_assets.stages.analysis import FEATURES_TABLE, INPAINTED_TABLE, TWINS_TABLE
from cadbusi_assets.stages.deidentification import IMAGES_TABLE, listed_files, purge_batch
from cadbusi_assets.stages.labeling import DATA_ROWS_TABLE, RELEASED_IN, WITHDRAWN
from cadbusi_assets.storage import (
    Zone,
    delete_partition_table,
    read_partition_table,
    write_partition_table,
)
from cadbusi_assets.storage.pending import purge_pending
from cadbusi_assets.storage.tables import close_batch, listed_paths

#: Tables derived from a batch, with the column that names files they own (None: no files).
DERIVED_TABLES: tuple[tuple[str, str | None], ...] = (
    (INPAINTED_TABLE, "inpainted_path"),
    (FEATURES_TABLE, None),
    (TWINS_TABLE, None),
)


@dataclass(frozen=True)
class Purged:
    """What a purge did: research files removed, and whether Labelbox holds images of the
    batch (their data rows are kept, withdrawn: the ``delete_withdrawn_data_rows`` job deletes
    them in Labelbox)."""

    files: int
    in_labelbox: bool

    def summary(self) -> str:
        """A sentence for the failure (no count, no id: it is filed under the real date)."""
        text = f"this date's research outputs at every stage were purged ({self.files} files)"
        if self.in_labelbox:
            text += (
                "; images of this date were sent to Labelbox, which still holds them: delete "
                f"their data rows there (labelbox_data_rows, column {WITHDRAWN}) with the "
                "delete_withdrawn_data_rows job"
            )
        return text


def withdraw_data_rows(research_zone: Zone, batch: str) -> bool:
    """Mark every data row of ``batch`` withdrawn; whether Labelbox holds any of them. Rows
    that waited for a release (``released_in`` null) were never in Labelbox: they go."""
    rows = read_partition_table(research_zone, DATA_ROWS_TABLE, batch)
    if rows is not None and RELEASED_IN in rows.columns:
        rows = rows.filter(pl.col(RELEASED_IN).is_not_null())
        if rows.height == 0:
            delete_partition_table(research_zone, DATA_ROWS_TABLE, batch)
    if rows is None or rows.height == 0:
        return False
    rows = rows.with_columns(pl.lit(True).alias(WITHDRAWN))
    write_partition_table(research_zone, DATA_ROWS_TABLE, batch, rows)
    return True


def _listed_anywhere(research_zone: Zone) -> set[str]:
    """Every file path a table of the zone lists (all batches): the de-identification's and
    the inpainting's."""
    listed = set().union(*listed_files(research_zone).values())
    return listed | listed_paths(research_zone, INPAINTED_TABLE, "inpainted_path")


def purge_research_batch(research_zone: Zone, batch: str) -> Purged:
    """Delete the batch's files and tables from every research stage but the record of what
    Labelbox holds (:func:`withdraw_data_rows`).

    The ``images`` table goes first: a stage of the batch running meanwhile (another lock:
    ``inpainted_images`` alone) checks it after writing its own table and undoes that table
    and its files when it is gone (:func:`~cadbusi_assets.stages.analysis.finish_inpainting`);
    a table written before that check is one this purge deletes after."""
    removed = 0
    images = read_partition_table(research_zone, IMAGES_TABLE, batch)
    delete_partition_table(research_zone, IMAGES_TABLE, batch)
    for path in [] if images is None else images["png_path"].drop_nulls().to_list():
        removed += int(research_zone.delete(*path.split("/")))
    for table, column in DERIVED_TABLES:
        frame = read_partition_table(research_zone, table, batch)
        if column and frame is not None and column in frame.columns:
            for path in frame[column].drop_nulls().to_list():
                removed += int(research_zone.delete(path))
        delete_partition_table(research_zone, table, batch)
    removed += purge_batch(research_zone, batch)
    # and what an interrupted pass of the batch wrote that no table lists
    removed += purge_pending(research_zone, batch, lambda: _listed_anywhere(research_zone))
    in_labelbox = withdraw_data_rows(research_zone, batch)
    # nothing of the batch is left to mix two runs: no marker that would have it re-run
    close_batch(research_zone, batch)
    return Purged(files=removed, in_labelbox=in_labelbox)
