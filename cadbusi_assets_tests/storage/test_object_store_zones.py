"""Zones on GCS (fake-gcs-server) and S3 (moto server): the same behaviour as on local disk,
create-only writes enforced by the store, and PACS retrieval into an object-store raw zone."""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl
import pytest

from cadbusi_assets.pacs import retrieve_studies
from cadbusi_assets.pacs.folder import FolderPacs
from cadbusi_assets.storage import (
    delete_partition_table,
    read_all_partition_tables,
    read_partition_table,
    sha256_file,
    write_partition_table,
)

pytestmark = pytest.mark.integration

PARTITION = "2024-03-05"


def test_write_read_list_delete(object_zone):
    assert not object_zone.local
    object_zone.ensure()
    object_zone.write_bytes(("a", "b.bin"), b"one")
    object_zone.write_bytes(("a", "c", "d.bin"), b"two")
    assert object_zone.read_bytes("a", "b.bin") == b"one"
    assert object_zone.exists("a", "c", "d.bin")
    assert object_zone.size("a", "c", "d.bin") == 3
    assert object_zone.size("a", "missing.bin") is None
    assert object_zone.size("a") is None
    assert [object_zone.relative(p) for p in object_zone.iter_files("a")] == [
        "a/b.bin",
        "a/c/d.bin",
    ]
    assert [object_zone.relative(p) for p in object_zone.iter_files("a", suffix="d.bin")] == [
        "a/c/d.bin"
    ]
    assert sha256_file(object_zone.path("a", "b.bin")) == hashlib.sha256(b"one").hexdigest()
    assert object_zone.delete("a", "b.bin")
    assert not object_zone.exists("a", "b.bin")
    assert object_zone.delete("a")
    assert list(object_zone.iter_files("a")) == []
    assert list(object_zone.iter_files("never-written")) == []


def test_create_only_is_enforced_by_the_store(object_zone, tmp_path):
    object_zone.write_bytes(("x.bin",), b"first", create_only=True)
    with pytest.raises(FileExistsError):
        object_zone.write_bytes(("x.bin",), b"second", create_only=True)
    assert object_zone.read_bytes("x.bin") == b"first"

    staged = object_zone.staging_file("dicom", "p")
    assert not str(staged).startswith(str(tmp_path))  # object stores stage on local temp disk
    staged.write_bytes(b"staged")
    with pytest.raises(FileExistsError):
        object_zone.commit_file(staged, ("x.bin",), create_only=True)
    assert staged.exists() and object_zone.read_bytes("x.bin") == b"first"
    object_zone.commit_file(staged, ("x.bin",))
    assert not staged.exists()
    assert object_zone.read_bytes("x.bin") == b"staged"

    source = tmp_path / "big.bin"
    source.write_bytes(bytes(range(256)) * 8192)  # 2 MiB, streamed from disk
    object_zone.copy_file_in(source, ("big.bin",), create_only=True)
    assert object_zone.size("big.bin") == source.stat().st_size
    with pytest.raises(FileExistsError):
        object_zone.copy_file_in(source, ("big.bin",), create_only=True)


def test_partition_tables(object_zone):
    write_partition_table(object_zone, "t", "2024-01-01", pl.DataFrame({"a": [1]}))
    write_partition_table(object_zone, "t", "2024-01-02", pl.DataFrame({"a": [2], "b": ["x"]}))
    write_partition_table(object_zone, "t", "2024-01-01", pl.DataFrame({"a": [3]}))
    assert read_partition_table(object_zone, "t", "2024-01-01")["a"].to_list() == [3]
    both = read_all_partition_tables(object_zone, "t")
    assert sorted(both["a"].to_list()) == [2, 3]
    assert delete_partition_table(object_zone, "t", "2024-01-01")
    assert read_partition_table(object_zone, "t", "2024-01-01") is None
    assert read_all_partition_tables(object_zone, "t")["a"].to_list() == [2]


def _files(zone) -> set[str]:
    return {zone.relative(p) for p in zone.iter_files("dicom")}


def test_retrieval_into_an_object_store_raw_zone(object_zone, folder_studies, pseudonymizer):
    first = retrieve_studies(
        FolderPacs(folder_studies.root),
        folder_studies.cohort(),
        object_zone,
        PARTITION,
        pseudonymizer,
    )
    assert first.instances.height == 6 and set(first.instances["status"]) == {"stored"}
    assert _files(object_zone) == set(first.instances["raw_path"])
    for row in first.instances.iter_rows(named=True):
        data = object_zone.read_bytes(*row["raw_path"].split("/"))
        assert hashlib.sha256(data).hexdigest() == row["sha256"]

    # same input, same key: the same paths and manifest as on local disk
    second = retrieve_studies(
        FolderPacs(folder_studies.root),
        folder_studies.cohort(),
        object_zone,
        PARTITION,
        pseudonymizer,
        previous=first.instances,
    )
    assert set(second.instances["status"]) == {"already_present"}

    removed = Path(folder_studies.root / folder_studies.complete / "IM0002.dcm")
    removed.unlink()
    folder_studies.add_instance(folder_studies.complete, 7)
    third = retrieve_studies(
        FolderPacs(folder_studies.root),
        folder_studies.cohort(),
        object_zone,
        PARTITION,
        pseudonymizer,
        previous=second.instances,
    )
    statuses = third.instances.group_by("status").len().sort("status").rows()
    assert statuses == [("already_present", 5), ("stored", 1)]
    assert _files(object_zone) == set(third.instances["raw_path"])
    assert third.studies.filter(pl.col("complete")).height == 2


def test_object_store_matches_local_disk(object_zone, folder_studies, pseudonymizer, tmp_path):
    from cadbusi_assets.storage import open_zone

    remote = retrieve_studies(
        FolderPacs(folder_studies.root),
        folder_studies.cohort(),
        object_zone,
        PARTITION,
        pseudonymizer,
    )
    local = retrieve_studies(
        FolderPacs(folder_studies.root),
        folder_studies.cohort(),
        open_zone(tmp_path / "raw", name="raw"),
        PARTITION,
        pseudonymizer,
    )
    assert remote.instances.equals(local.instances)
    assert remote.studies.equals(local.studies)


def test_chunks_written_as_their_join(object_zone):
    """write_chunks on an object store: the object is the chunks' join (empty chunks, one
    chunk, none), its sha256 the hash of the chunks in turn; create_only refuses an existing
    object and leaves it as it was."""
    chunks = (b"head", b"", b"\x00\x01" * 70_000, b"tail")
    object_zone.write_chunks(("d", "f.dcm"), chunks, create_only=True)
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    assert sha256_file(object_zone.path("d", "f.dcm")) == digest.hexdigest()
    assert object_zone.read_bytes("d", "f.dcm") == b"".join(chunks)
    with pytest.raises(FileExistsError):
        object_zone.write_chunks(("d", "f.dcm"), (b"other",), create_only=True)
    assert object_zone.read_bytes("d", "f.dcm") == b"".join(chunks)
    object_zone.write_chunks(("d", "f.dcm"), (b"one",))
    assert object_zone.read_bytes("d", "f.dcm") == b"one"
    object_zone.write_chunks(("d", "empty.bin"), ())
    assert object_zone.read_bytes("d", "empty.bin") == b""
