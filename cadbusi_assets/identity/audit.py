"""Audit trail in the raw zone: who cut each export, from which partitions; who re-identified.

Every event is one row appended to a raw-zone table (one small Parquet file per event, written
create-only, so concurrent writers never overwrite each other and nothing is rewritten):

* :data:`EXPORT_AUDIT_TABLE` — :func:`record_export_audit`: OS user, Dagster run id when
  given, host, export key, the study-date partitions it was cut from, the pseudonym key's
  fingerprint, row count and destination;
* :data:`REIDENTIFICATION_AUDIT_TABLE` — :func:`record_reidentification`: who looked up which
  pseudonym, and how many links were returned (never the originals).

The raw zone is where these belong: partition keys are real study dates.

>>> import tempfile
>>> from cadbusi_assets.storage import open_zone
>>> zone = open_zone(tempfile.mkdtemp(), "raw")
>>> row = record_export_audit(zone, "export-v1", user="alice", run_id="r1",
...                           partitions=["2026-09-25", "2026-09-24"])
>>> read_audit(zone)[["export_key", "user", "run_id", "partitions"]].to_dicts()
[{'export_key': 'export-v1', 'user': 'alice', 'run_id': 'r1', 'partitions': ['2026-09-24', '2026-09-25']}]
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import socket
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import polars as pl

EXPORT_AUDIT_TABLE = "export_audit"
REIDENTIFICATION_AUDIT_TABLE = "reidentification_audit"

EXPORT_AUDIT_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "event_id": pl.Utf8,
    "recorded_at": pl.Datetime("us", "UTC"),
    "export_key": pl.Utf8,
    "user": pl.Utf8,
    "run_id": pl.Utf8,
    "host": pl.Utf8,
    "partitions": pl.List(pl.Utf8),
    "partition_count": pl.Int32,
    "key_fingerprint": pl.Utf8,
    "row_count": pl.Int64,
    "destination": pl.Utf8,
    "details": pl.Utf8,
}

REIDENTIFICATION_AUDIT_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "event_id": pl.Utf8,
    "recorded_at": pl.Datetime("us", "UTC"),
    "pseudonym": pl.Utf8,
    "user": pl.Utf8,
    "run_id": pl.Utf8,
    "host": pl.Utf8,
    "links_found": pl.Int32,
    "kinds": pl.List(pl.Utf8),
    "purpose": pl.Utf8,
}


def current_user() -> str:
    """The OS user running the process (``getpass``; ``uid:<n>`` when no name is known)."""
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers without a passwd entry)
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def _event_id(now: dt.datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%S%fZ") + "-" + uuid.uuid4().hex[:12]


def _append(
    zone: Any, table: str, row: dict[str, Any], schema: dict[str, pl.DataType | type[pl.DataType]]
) -> None:
    from cadbusi_assets.storage import parquet_bytes
    from cadbusi_assets.storage.tables import partition_table_path

    frame = pl.DataFrame([row], schema=schema, orient="row")
    zone.write_bytes(
        partition_table_path(table, row["event_id"]), parquet_bytes(frame), create_only=True
    )


def record_export_audit(
    raw_zone: Any,
    export_key: str,
    user: str | None = None,
    run_id: str | None = None,
    partitions: Iterable[str] = (),
    *,
    key_fingerprint: str | None = None,
    row_count: int | None = None,
    destination: str | None = None,
    details: Mapping[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Append one export event to :data:`EXPORT_AUDIT_TABLE` in ``raw_zone``; returns the row.

    ``user`` defaults to the OS user; ``run_id`` is the Dagster run id when the export runs
    in Dagster (``context.run_id``). ``details`` must hold no PHI (it is stored as JSON).
    """
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    parts = sorted(dict.fromkeys(str(p) for p in partitions))
    row = {
        "event_id": _event_id(now),
        "recorded_at": now,
        "export_key": str(export_key),
        "user": user or current_user(),
        "run_id": run_id,
        "host": socket.gethostname(),
        "partitions": parts,
        "partition_count": len(parts),
        "key_fingerprint": key_fingerprint,
        "row_count": row_count,
        "destination": destination,
        "details": json.dumps(dict(details or {}), sort_keys=True, default=str),
    }
    _append(raw_zone, EXPORT_AUDIT_TABLE, row, EXPORT_AUDIT_SCHEMA)
    return row


def record_reidentification(
    raw_zone: Any,
    pseudonym: str,
    kinds: Iterable[str],
    *,
    user: str | None = None,
    run_id: str | None = None,
    purpose: str | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Append one re-identification lookup to :data:`REIDENTIFICATION_AUDIT_TABLE` (the
    pseudonym asked for and the kinds of links returned, never the originals)."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    kinds = sorted(dict.fromkeys(kinds))
    row = {
        "event_id": _event_id(now),
        "recorded_at": now,
        "pseudonym": str(pseudonym),
        "user": user or current_user(),
        "run_id": run_id,
        "host": socket.gethostname(),
        "links_found": len(kinds),
        "kinds": kinds,
        "purpose": purpose,
    }
    _append(raw_zone, REIDENTIFICATION_AUDIT_TABLE, row, REIDENTIFICATION_AUDIT_SCHEMA)
    return row


def read_audit(raw_zone: Any, table: str = EXPORT_AUDIT_TABLE) -> pl.DataFrame:
    """Every event of an audit table, oldest first (empty frame when none)."""
    from cadbusi_assets.storage import read_all_partition_tables

    schema = EXPORT_AUDIT_SCHEMA if table == EXPORT_AUDIT_TABLE else REIDENTIFICATION_AUDIT_SCHEMA
    frame = read_all_partition_tables(raw_zone, table)
    if frame is None:
        return pl.DataFrame(schema=schema)
    return frame.sort("recorded_at", "event_id")
