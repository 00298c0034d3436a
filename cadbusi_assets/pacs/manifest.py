"""Schemas of the retrieval manifests (raw zone: they hold UIDs and accession numbers).

``instances``: one row per expected instance. ``studies``: one row per study of the cohort.
Rows are sorted so that the same input and key always give the same frames.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import polars as pl

STORED = "stored"
ALREADY_PRESENT = "already_present"
FAILED = "failed"
STATUSES = (STORED, ALREADY_PRESENT, FAILED)

INSTANCE_SCHEMA: dict[str, Any] = {
    "partition": pl.String,
    "study_key": pl.String,
    "study_instance_uid": pl.String,
    "accession_number": pl.String,
    "series_instance_uid": pl.String,
    "sop_instance_uid": pl.String,
    "instance_key": pl.String,
    "raw_path": pl.String,
    "size_bytes": pl.Int64,
    "sha256": pl.String,
    "status": pl.String,
    "reason": pl.String,
    "attempts": pl.Int32,
    # raw_key('source', locator): lets a re-run recognise a file whose SOP UID is only known
    # after download (folder PACS) without fetching it again.
    "source_key": pl.String,
}

STUDY_SCHEMA: dict[str, Any] = {
    "partition": pl.String,
    "study_key": pl.String,
    "study_instance_uid": pl.String,
    "accession_number": pl.String,
    "expected": pl.Int64,  # null when the instance list could not be obtained
    "stored": pl.Int64,
    "failed": pl.Int64,
    "complete": pl.Boolean,
    "reason": pl.String,
}


def instances_frame(rows: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    frame = pl.DataFrame(list(rows), schema=INSTANCE_SCHEMA, orient="row")
    return frame.sort(
        ["study_key", "instance_key", "source_key"], nulls_last=True, maintain_order=True
    )


def studies_frame(rows: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    frame = pl.DataFrame(list(rows), schema=STUDY_SCHEMA, orient="row")
    return frame.sort(["study_key", "study_instance_uid"], nulls_last=True, maintain_order=True)


def conform_instances(frame: pl.DataFrame | None) -> pl.DataFrame | None:
    """A previous manifest with the current schema (columns added later become null)."""
    if frame is None:
        return None
    columns = [
        (pl.col(name) if name in frame.columns else pl.lit(None)).cast(dtype).alias(name)
        for name, dtype in INSTANCE_SCHEMA.items()
    ]
    return frame.select(columns)


#: ``conflicts``: instances skipped because another study (usually of another study date)
#: already holds the same instance key. Raw zone only (UIDs, accession numbers, dates).
CONFLICT_SCHEMA: dict[str, Any] = {
    "partition": pl.String,
    "study_key": pl.String,
    "study_instance_uid": pl.String,
    "accession_number": pl.String,
    "sop_instance_uid": pl.String,
    "instance_key": pl.String,
    "source_key": pl.String,
    "owner_partition": pl.String,
    "owner_study_key": pl.String,
    "reason": pl.String,
}

CONFLICT_OTHER_DATE = "instance already stored under another study date; skipped here"
CONFLICT_OTHER_STUDY = "instance already stored in another study of this date; skipped here"


def conflicts_frame(rows: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    frame = pl.DataFrame(list(rows), schema=CONFLICT_SCHEMA, orient="row")
    return frame.sort(["study_key", "instance_key", "source_key"], nulls_last=True)
