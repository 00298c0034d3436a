"""Per-partition Parquet tables inside a zone: ``tables/<table>/<partition>.parquet``.

Re-materializing a partition replaces exactly that file; readers concatenate every partition.
"""

from __future__ import annotations

import re

import polars as pl
from upath import UPath

from cadbusi_assets.storage.zones import Zone, ZoneError

_PARTITION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def partition_table_path(table: str, partition: str) -> tuple[str, str, str]:
    if not _PARTITION_RE.match(partition) or not _PARTITION_RE.match(table):
        raise ZoneError(f"Invalid table or partition name: {table!r}/{partition!r}.")
    return ("tables", table, f"{partition}.parquet")


def write_partition_table(zone: Zone, table: str, partition: str, frame: pl.DataFrame) -> UPath:
    return zone.write_parquet(partition_table_path(table, partition), frame)


def read_partition_table(zone: Zone, table: str, partition: str) -> pl.DataFrame | None:
    parts = partition_table_path(table, partition)
    if not zone.exists(*parts):
        return None
    return zone.read_parquet(*parts)


def delete_partition_table(zone: Zone, table: str, partition: str) -> bool:
    return zone.delete(*partition_table_path(table, partition))


def read_all_partition_tables(zone: Zone, table: str) -> pl.DataFrame | None:
    """All partitions of ``table`` concatenated (diagonal: columns added later become null)."""
    frames = [
        pl.read_parquet(path.read_bytes()) if not zone.local else pl.read_parquet(str(path.path))
        for path in zone.iter_files("tables", table, suffix=".parquet")
    ]
    frames = [f for f in frames if f.height or f.width]
    if not frames:
        return None
    return pl.concat(frames, how="diagonal_relaxed")
