"""Parquet shards of an export that training code loads directly.

``data/<split>-<nnnnn>-of-<NNNNN>.parquet`` holds one row per exported image: every manifest
field plus three image columns in the Hugging Face ``Image`` layout (a struct of PNG ``bytes``
and the relative ``path``): ``image``, ``fov_mask`` (the field-of-view polygon) and
``lesion_mask`` (label-derived, null when the image has none). The schema metadata declares
those three as ``Image`` features, so::

    datasets.load_dataset("parquet", data_dir="<export>/data")

gives a ``DatasetDict`` (``train`` / ``validation`` / ``test``) whose images decode to PIL
images. Shards stay under ``shard_max_bytes`` of PNG data where they can (a shard holds the
rows that start inside its window, so it may pass the limit by one image); rows are in ``image_id`` order, so the shards of an export are deterministic.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

SHARDS_DIR = "data"
DEFAULT_SHARD_MAX_BYTES = 256 * 1024 * 1024
ROW_GROUP_SIZE = 256
#: manifest path column → image column in the shards
IMAGE_COLUMNS = {
    "image_path": "image",
    "fov_mask_path": "fov_mask",
    "lesion_mask_path": "lesion_mask",
}
IMAGE_TYPE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])


def _hf_metadata() -> bytes:
    features = {name: {"_type": "Image"} for name in IMAGE_COLUMNS.values()}
    return json.dumps({"info": {"features": features}}, sort_keys=True).encode()


def _image_array(folder: Path, paths: list[str | None]) -> pa.Array:
    values = [None if p is None else {"bytes": (folder / p).read_bytes(), "path": p} for p in paths]
    return pa.array(values, type=IMAGE_TYPE)


def shard_plan(manifest: pl.DataFrame, sizes: list[int], max_bytes: int) -> pl.DataFrame:
    """``image_id`` → ``shard_file``: per split, consecutive rows until ``max_bytes``.

    >>> m = pl.DataFrame({"image_id": ["a", "b", "c", "d"], "split": ["train"] * 3 + ["test"]})
    >>> shard_plan(m, [6, 6, 6, 1], 10)["shard_file"].to_list()
    ['data/train-00000-of-00002.parquet', 'data/train-00000-of-00002.parquet', \
'data/train-00001-of-00002.parquet', 'data/test-00000-of-00001.parquet']
    """
    size = pl.Series("_size", sizes, dtype=pl.Int64)
    frame = manifest.select("image_id", pl.col("split").fill_null("other")).with_columns(size)
    # a row belongs to the window of max_bytes in which it starts (per split, in row order)
    start = pl.col("_size").cum_sum().over("split") - pl.col("_size")
    planned = frame.with_columns(
        _shard=((start // max_bytes).rank("dense").over("split") - 1).cast(pl.Int64)
    )
    return planned.with_columns(
        _of=pl.col("_shard").max().over("split") + 1,
    ).select(
        "image_id",
        pl.format(
            "{}/{}-{}-of-{}.parquet",
            pl.lit(SHARDS_DIR),
            "split",
            pl.col("_shard").cast(pl.Utf8).str.zfill(5),
            pl.col("_of").cast(pl.Utf8).str.zfill(5),
        ).alias("shard_file"),
    )


def write_shards(
    folder: Path, manifest: pl.DataFrame, max_bytes: int = DEFAULT_SHARD_MAX_BYTES
) -> list[str]:
    """Write the shards of ``manifest`` (paths relative to ``folder``); their relative names."""
    paths = {c: manifest[c].to_list() for c in IMAGE_COLUMNS if c in manifest.columns}
    sizes = [
        sum((folder / p).stat().st_size for p in row if p is not None)
        for row in zip(*paths.values(), strict=True)
    ]
    plan = shard_plan(manifest, sizes, max_bytes)
    with_file = manifest.with_columns(plan["shard_file"]).with_row_index("_n")
    written = []
    for (name,), rows in with_file.group_by("shard_file", maintain_order=True):
        table = rows.drop("_n", "shard_file").to_arrow()
        for column, image_column in IMAGE_COLUMNS.items():
            if column in rows.columns:
                table = table.append_column(
                    image_column, _image_array(folder, rows[column].to_list())
                )
        table = table.replace_schema_metadata({b"huggingface": _hf_metadata()})
        buffer = io.BytesIO()
        pq.write_table(table, buffer, row_group_size=ROW_GROUP_SIZE, compression="zstd")
        target = folder / str(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(buffer.getvalue())
        written.append(str(name))
    return written
