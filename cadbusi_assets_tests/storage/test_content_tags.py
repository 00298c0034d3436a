"""The catalog's input digest on an object store reads the store's listing, not every table.

An export checks the catalog against a digest of its input tables three times, and a catalog
build takes it once. On an object store it downloaded every table file (one request per file:
about 100,000 requests an export over ten years of daily batches). It now takes the checksums
the listing gives (GCS ``md5Hash``, S3 ``ETag``), and still changes whenever a table does.
"""

from __future__ import annotations

import pytest

from cadbusi_assets.catalog.build import inputs_digest

TABLE = ("tables", "images")


def _write_tables(zone, count: int = 3) -> None:
    for index in range(count):
        zone.write_bytes((*TABLE, f"b{index:04d}.parquet"), f"table {index}".encode())
    zone.write_bytes(("labels", "diagnosis_labels.parquet"), b"labels")


def _no_downloads(zone, monkeypatch) -> list[str]:
    """Make every download of the zone's file system fail loudly, and list the attempts."""
    attempts: list[str] = []
    fs = zone.root.fs

    def refuse(path, *args, **kwargs):
        attempts.append(str(path))
        raise AssertionError(f"downloaded {path}")

    for name in ("cat_file", "_cat_file", "open", "_open", "cat", "_cat"):
        if hasattr(fs, name):
            monkeypatch.setattr(fs, name, refuse)
    return attempts


def test_object_store_digest_downloads_no_table(object_zone, monkeypatch):
    _write_tables(object_zone)
    before = inputs_digest(object_zone)
    attempts = _no_downloads(object_zone, monkeypatch)
    assert inputs_digest(object_zone) == before
    assert attempts == []


def test_object_store_digest_follows_every_change(object_zone):
    _write_tables(object_zone)
    first = inputs_digest(object_zone)
    # the same bytes written again: the same checksums, the same digest (a date re-run that
    # reproduces its tables does not make the catalog stale)
    object_zone.write_bytes((*TABLE, "b0001.parquet"), b"table 1")
    assert inputs_digest(object_zone) == first
    object_zone.write_bytes((*TABLE, "b0001.parquet"), b"table 1 changed")
    changed = inputs_digest(object_zone)
    assert changed != first
    object_zone.write_bytes((*TABLE, "b0001.parquet"), b"table X")  # same size, other bytes
    assert inputs_digest(object_zone) not in {first, changed}
    object_zone.write_bytes((*TABLE, "b0001.parquet"), b"table 1")
    assert inputs_digest(object_zone) == first
    object_zone.delete(*TABLE, "b0002.parquet")
    assert inputs_digest(object_zone) != first
    object_zone.write_bytes((*TABLE, "b0002.parquet"), b"table 2")
    object_zone.write_bytes(("labels", "diagnosis_labels.parquet"), b"labels changed")
    assert inputs_digest(object_zone) != first


def test_local_digest_is_the_sha256_of_the_bytes(local_zone):
    """On local disk the tags are the SHA-256 of the bytes, as before (a catalog recorded by an
    earlier version is not taken for stale)."""
    import hashlib

    _write_tables(local_zone, count=2)
    tags = list(local_zone.content_tags(*TABLE, suffix=".parquet"))
    assert tags == [
        (f"b{index:04d}.parquet", hashlib.sha256(f"table {index}".encode()).digest())
        for index in range(2)
    ]
    assert local_zone.content_tag("labels", "diagnosis_labels.parquet") == (
        hashlib.sha256(b"labels").digest()
    )
    assert local_zone.content_tag("labels", "nothing.parquet") is None


@pytest.mark.parametrize("suffix", [".parquet", None])
def test_tags_list_what_iter_files_lists(object_zone, suffix):
    _write_tables(object_zone)
    object_zone.write_bytes((*TABLE, "notes.txt"), b"x")
    names = [name for name, _ in object_zone.content_tags(*TABLE, suffix=suffix)]
    assert names == [path.name for path in object_zone.iter_files(*TABLE, suffix=suffix)]
    assert list(object_zone.content_tags("tables", "nothing")) == []
    assert object_zone.content_tag("labels", "nothing.parquet") is None
