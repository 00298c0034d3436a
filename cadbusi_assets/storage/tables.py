"""Per-partition Parquet tables inside a zone: ``tables/<table>/<partition>.parquet``.

Re-materializing a partition replaces exactly that file; readers concatenate every partition.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence

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


# -- batches being written -------------------------------------------------------------------
#: folder of the batches whose tables a pass is replacing (one small file each, named by the
#: opaque batch name, holding a random token of that pass): a pass killed between its tables
#: leaves its marker behind
OPEN_BATCHES_DIR = "open_batches"


def open_batch(zone: Zone, batch: str) -> str:
    """Record that ``batch``'s tables are about to be replaced (before the first one is).

    The marker holds a random token of this pass (no date, no identifier), returned: a marker
    left behind names one interruption, so whatever re-runs it can tell a second interruption
    of the same batch from the first."""
    token = uuid.uuid4().hex
    zone.write_bytes((OPEN_BATCHES_DIR, batch), token.encode("ascii"))
    return token


def close_batch(zone: Zone, batch: str) -> None:
    """Record that every table of ``batch`` was written (after the last one): a batch retired
    before (:func:`retire_batch`) is whole again too."""
    zone.delete(OPEN_BATCHES_DIR, batch)
    zone.delete(RETIRED_BATCHES_DIR, batch)


#: folder of the open batches a person retired (:func:`retire_batch`): one small JSON file each,
#: named by the batch, with the reason and the token of the marker it replaced
RETIRED_BATCHES_DIR = "retired_batches"


def retire_batch(zone: Zone, batch: str, reason: str) -> None:
    """Replace ``batch``'s open marker by a retirement record with ``reason``: the batch stays
    left out of every reader of all batches (:func:`left_out_batches`), counted as retired
    instead of interrupted, and nothing of it is deleted. The record is written before the
    marker goes, so a batch is never in neither folder; a later pass that writes the whole
    batch again (:func:`close_batch`) ends the retirement."""
    token = open_batch_tokens(zone).get(batch)
    if token is None:
        raise ZoneError("Only an open batch can be retired.")
    record = {"reason": reason, "token": token}
    zone.write_bytes((RETIRED_BATCHES_DIR, batch), json.dumps(record, sort_keys=True).encode())
    zone.delete(OPEN_BATCHES_DIR, batch)


def retired_batches(zone: Zone) -> set[str]:
    """The open batches a person retired (:func:`retire_batch`)."""
    return {path.name for path in zone.iter_files(RETIRED_BATCHES_DIR)}


def left_out_batches(zone: Zone) -> set[str]:
    """The batches every reader of all batches leaves out: open (a pass stopped between their
    tables) or retired (open, and matching no study date any more)."""
    return open_batches(zone) | retired_batches(zone)


def open_batches(zone: Zone) -> set[str]:
    """The batches a pass began replacing and never finished (killed, or failed between its
    tables): their tables mix two runs until the date is re-run."""
    return {path.name for path in zone.iter_files(OPEN_BATCHES_DIR)}


def open_batch_tokens(zone: Zone) -> dict[str, str]:
    """:func:`open_batches` with the token of the pass that left each marker (``""`` for a
    marker written before markers held a token); a marker closed meanwhile is left out."""
    tokens = {}
    for name in sorted(open_batches(zone)):
        try:
            tokens[name] = zone.read_bytes(OPEN_BATCHES_DIR, name).decode("ascii", "replace")
        except FileNotFoundError:  # closed meanwhile: no longer open
            continue
    return tokens


def listed_paths(zone: Zone, table: str, column: str) -> set[str]:
    """Every value of ``column`` in every partition of ``table`` (the file paths a table names),
    open and retired batches included: a file one of them lists is not an orphan."""
    paths: set[str] = set()
    for path in zone.iter_files("tables", table, suffix=".parquet"):
        frame = (
            pl.read_parquet(str(path.path)) if zone.local else pl.read_parquet(path.read_bytes())
        )
        if column in frame.columns:
            paths.update(frame[column].drop_nulls().to_list())
    return paths


def read_all_partition_tables(
    zone: Zone, table: str, columns: Sequence[str] | None = None
) -> pl.DataFrame | None:
    """All partitions of ``table`` concatenated (diagonal: columns added later become null),
    but those of :func:`open_batches` (a pass stopped between its tables: they mix two runs,
    so every reader of all batches, the catalog and the lesions, leaves them out alike), and
    those a person retired (:func:`left_out_batches`).

    ``columns``: read only these (a partition written before a column existed gives what it
    has of them; the concatenation fills the rest with nulls)."""
    left_out = left_out_batches(zone)
    paths = [
        path
        for path in zone.iter_files("tables", table, suffix=".parquet")
        if path.name.removesuffix(".parquet") not in left_out
    ]
    if columns is not None and zone.local and paths:
        # one lazy scan of every file: a backfill of years reads a few columns of hundreds of
        # tables on every date, and one query plan is ~2.5x faster than a call per file
        lazy = pl.concat(
            [pl.scan_parquet(str(path.path)) for path in paths], how="diagonal_relaxed"
        )
        present = [c for c in columns if c in lazy.collect_schema()]
        found = lazy.select(present).collect()
        return found if found.height or found.width else None
    frames = [_read_columns(path, zone.local, columns) for path in paths]
    frames = [f for f in frames if f.height or f.width]
    if not frames:
        return None
    found = pl.concat(frames, how="diagonal_relaxed")
    return found if columns is None else found.select(c for c in columns if c in found.columns)


def _read_columns(path: UPath, local: bool, columns: Sequence[str] | None) -> pl.DataFrame:
    source: str | bytes = str(path.path) if local else path.read_bytes()
    if columns is None:
        return pl.read_parquet(source)
    schema = pl.read_parquet_schema(source)
    return pl.read_parquet(source, columns=[c for c in columns if c in schema])
