"""Adversary, round 5: the write-ahead records of research-zone files (``pending_writes/``)
and the sweeps that delete what an interrupted pass wrote that no table lists."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from cadbusi_assets.stages import deidentification as deid
from cadbusi_assets.storage import open_zone, write_partition_table
from cadbusi_assets.storage.pending import (
    begin_pending,
    pending_batches,
    record_pending,
    sweep_pending,
)
from cadbusi_assets.storage.tables import listed_paths

pytestmark = [pytest.mark.xdist_group("adversary_runs_s39")]


def test_a_sweep_never_deletes_a_file_another_date_finished_writing_while_it_read_the_tables(
    tmp_path: Path,
):
    """A study the warehouse moved from date A to date B (README: B takes the instances over):
    A's earlier pass was killed after writing the instance's PNG (recorded under A); B's pass
    is writing the same PNG now (recorded under B). A's re-run sweeps its killed pass's files
    while B finishes: B writes its tables (they list the PNG) and drops its records. The
    sweep reads the tables first (B's do not list the PNG yet) and the other dates' records
    after (B's are gone by then): the PNG is in neither set and is deleted, though B's
    ``images`` table lists it. Reading the other dates' records before the tables closes this
    window (a date drops its records only after its tables are written)."""
    zone = open_zone(str(tmp_path / "research"), "research").ensure()
    png = "images/ab/abababababababababababab_0000.png"
    # date A's killed pass, then date B's running pass: both recorded the shared PNG
    record_pending(zone, begin_pending("batch_a", deid.WRITER), "i1", [png])
    b_pass = begin_pending("batch_b", deid.WRITER)
    record_pending(zone, b_pass, "i1", [png])
    zone.write_bytes(tuple(png.split("/")), b"B's PNG")

    def listed_while_b_finishes() -> set[str]:
        seen = listed_paths(zone, deid.IMAGES_TABLE, "png_path")  # B's table not written yet
        # B's pass finishes meanwhile: its tables, then its own sweep drops its records
        write_partition_table(zone, deid.IMAGES_TABLE, "batch_b", pl.DataFrame({"png_path": [png]}))
        sweep_pending(zone, b_pass, lambda: listed_paths(zone, deid.IMAGES_TABLE, "png_path"))
        return seen

    sweep_pending(zone, begin_pending("batch_a", deid.WRITER), listed_while_b_finishes)

    assert png in listed_paths(zone, deid.IMAGES_TABLE, "png_path")
    assert zone.exists(*png.split("/")), (
        "date A's sweep deleted a PNG that date B's finished images table lists"
    )
    assert pending_batches(zone) == set()
