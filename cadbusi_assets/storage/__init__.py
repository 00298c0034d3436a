"""Storage zones: the raw (PHI) zone and the research (de-identified) zone.

A zone is a root URI (``/local/path``, ``file://``, ``gs://``, ``s3://``, ``memory://``) opened
with universal-pathlib. Writes are atomic (temporary file then rename on local disk; a single
PUT on object stores), so an interrupted run never leaves a truncated file that looks complete.
"""

from cadbusi_assets.storage.tables import (
    delete_partition_table,
    partition_table_path,
    read_all_partition_tables,
    read_partition_table,
    write_partition_table,
)
from cadbusi_assets.storage.zones import (
    Zone,
    ZoneError,
    is_local,
    open_zone,
    parquet_bytes,
    sha256_file,
)

__all__ = [
    "Zone",
    "ZoneError",
    "delete_partition_table",
    "is_local",
    "open_zone",
    "parquet_bytes",
    "partition_table_path",
    "read_all_partition_tables",
    "read_partition_table",
    "sha256_file",
    "write_partition_table",
]
