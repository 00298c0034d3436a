"""Faults an adversary found in session 38 on the runs users launch (UI, CLI, daemon, sensors).

Each test states what a user or a hospital did and what went wrong before the fix.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import polars as pl
import pytest

from cadbusi_assets.identity import Pseudonymizer
from cadbusi_assets.labeling import FolderLabelSource
from cadbusi_assets.stages.labeling import HISTORY_DIR, LABELS_DIR, ingest_labels
from cadbusi_assets.stages.safety import StageFailure
from cadbusi_assets.storage import open_zone
from cadbusi_assets_tests.builders import export_row
from cadbusi_assets_tests.support import TEST_KEY

pytestmark = [pytest.mark.xdist_group("adversary_runs_s38")]

# 1. a label export read while it is written, cut exactly between two lines ------------------


def _export_lines(n: int) -> list[str]:
    return [json.dumps(export_row(f"img-{i}", f"lb-{i}")) + "\n" for i in range(n)]


def _labels(zone, folder: tuple[str, ...]) -> pl.DataFrame | None:
    path = zone.root / Path(*folder) / "labels.parquet"
    return pl.read_parquet(path) if path.exists() else None


def test_an_export_file_read_while_written_between_two_lines_deletes_no_label(tmp_path: Path):
    """A Labelbox export downloaded into the label folder over the one ingested yesterday, read
    by the labels sensor's run while the download is still writing it: the file holds the
    first 6 of its 10 rows and ends in a newline (written row by row), so it looks complete.
    Before: the 4 labels of the missing tail were deleted from the current label set and
    recorded in ``history`` as deleted at the source (``superseded_by`` null) — the catalog
    and any export cut meanwhile lost them, and the history says a labeler deleted them —
    until a later run read the finished file. A file still being written is not an export."""
    folder = tmp_path / "lb"
    zone = open_zone(tmp_path / "research", "research")
    pseudonymizer = Pseudonymizer(TEST_KEY)
    path = folder / "exports" / "project-export.ndjson"
    path.parent.mkdir(parents=True)
    lines = _export_lines(10)
    path.write_text("".join(lines), encoding="utf-8")
    first = ingest_labels(zone, FolderLabelSource(folder), pseudonymizer=pseudonymizer)
    assert first.counts["labels"] == 10

    # the next download replaces it and is read half way, at a line boundary
    path.write_text("".join(lines[:6]), encoding="utf-8")
    # refusing the half-written file is as good as waiting for it
    with contextlib.suppress(StageFailure):
        ingest_labels(zone, FolderLabelSource(folder), pseudonymizer=pseudonymizer)
    current = _labels(zone, LABELS_DIR)
    assert current is not None
    tail = {f"lb-{i}" for i in range(6, 10)}
    assert tail <= set(current["label_id"]), "labels of the unwritten tail left the label set"
    history = _labels(zone, HISTORY_DIR)
    deleted = set() if history is None else set(history["label_id"])
    assert not (tail & deleted), "labels of the unwritten tail recorded as deleted at the source"

    # the download finishes: the label set is whole, and nothing was ever deleted
    path.write_text("".join(lines), encoding="utf-8")
    last = ingest_labels(zone, FolderLabelSource(folder), pseudonymizer=pseudonymizer)
    assert last.counts["labels"] == 10
    assert last.counts["superseded_label_versions_kept"] == 0
