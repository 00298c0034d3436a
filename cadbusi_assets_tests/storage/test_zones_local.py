"""Zone behaviour on local disk: atomic and create-only writes, staging, listing, tables."""

from __future__ import annotations

import polars as pl
import pytest

from cadbusi_assets.storage import (
    ZoneError,
    delete_partition_table,
    open_zone,
    read_all_partition_tables,
    read_partition_table,
    sha256_file,
    write_partition_table,
)


def test_write_read_list_delete(local_zone):
    local_zone.write_bytes(("a", "b.bin"), b"one")
    local_zone.write_bytes(("a", "c", "d.bin"), b"two")
    assert local_zone.read_bytes("a", "b.bin") == b"one"
    assert local_zone.size("a", "c", "d.bin") == 3
    assert local_zone.size("a", "missing.bin") is None
    assert local_zone.size("a") is None  # a folder is not a file
    assert [local_zone.relative(p) for p in local_zone.iter_files("a")] == ["a/b.bin", "a/c/d.bin"]
    assert local_zone.delete("a", "c") and not local_zone.exists("a", "c", "d.bin")
    assert not local_zone.delete("a", "c")
    with pytest.raises(ZoneError):
        local_zone.path("..", "x")


def test_create_only_refuses_to_replace(local_zone):
    local_zone.write_bytes(("x.bin",), b"first", create_only=True)
    with pytest.raises(FileExistsError):
        local_zone.write_bytes(("x.bin",), b"second", create_only=True)
    assert local_zone.read_bytes("x.bin") == b"first"
    local_zone.write_bytes(("x.bin",), b"third")
    assert local_zone.read_bytes("x.bin") == b"third"
    assert [p.name for p in local_zone.local_path().iterdir()] == ["x.bin"]  # no temp files left


def test_staged_file_commit(local_zone, tmp_path):
    staged = local_zone.staging_file("dicom", "p")
    assert staged.parent == local_zone.local_path("dicom", "p") and staged.name.endswith(".tmp")
    staged.write_bytes(b"payload")
    assert list(local_zone.iter_files("dicom")) == []  # staging files are not listed
    assert len(list(local_zone.iter_files("dicom", include_temporary=True))) == 1
    local_zone.commit_file(staged, ("dicom", "p", "f.dcm"), create_only=True)
    assert not staged.exists()
    assert local_zone.read_bytes("dicom", "p", "f.dcm") == b"payload"

    again = local_zone.staging_file("dicom", "p")
    again.write_bytes(b"other")
    with pytest.raises(FileExistsError):
        local_zone.commit_file(again, ("dicom", "p", "f.dcm"), create_only=True)
    assert again.exists()  # left for the caller
    local_zone.commit_file(again, ("dicom", "p", "f.dcm"))
    assert local_zone.read_bytes("dicom", "p", "f.dcm") == b"other"

    outside = tmp_path / "elsewhere.bin"
    outside.write_bytes(b"copied")
    local_zone.copy_file_in(outside, ("copy.bin",), create_only=True)
    assert sha256_file(local_zone.path("copy.bin")) == sha256_file(outside)


def test_partition_tables_replace_one_partition(local_zone):
    write_partition_table(local_zone, "t", "2024-01-01", pl.DataFrame({"a": [1]}))
    write_partition_table(local_zone, "t", "2024-01-02", pl.DataFrame({"a": [2], "b": ["x"]}))
    write_partition_table(local_zone, "t", "2024-01-01", pl.DataFrame({"a": [3]}))
    assert read_partition_table(local_zone, "t", "2024-01-01")["a"].to_list() == [3]
    both = read_all_partition_tables(local_zone, "t")
    assert sorted(both["a"].to_list()) == [2, 3] and both.columns == ["a", "b"]
    assert delete_partition_table(local_zone, "t", "2024-01-01")
    assert read_partition_table(local_zone, "t", "2024-01-01") is None


@pytest.mark.parametrize("where", ["local", "memory"])
def test_partition_tables_read_by_columns_alike_on_every_zone(tmp_path, where):
    """A few columns of every partition (the cohort stage reads three of each stored cohort on
    every date of a backfill): a local zone reads them in one lazy scan, an object store file
    by file; both give the full read's rows and values. A partition written before a column
    existed gives nulls; a column no partition has is left out; retired batches stay out."""
    import uuid

    from cadbusi_assets.storage.tables import open_batch, retire_batch

    zone = (
        open_zone(tmp_path / "z", name="raw")
        if where == "local"
        else open_zone(f"memory://tables-{uuid.uuid4().hex}/raw", name="raw")
    )
    assert read_all_partition_tables(zone, "t", columns=["a"]) is None
    write_partition_table(zone, "t", "2024-01-01", pl.DataFrame({"a": [1], "text": ["long"]}))
    write_partition_table(
        zone, "t", "2024-01-02", pl.DataFrame({"a": [2, 3], "b": ["x", "y"], "text": ["", ""]})
    )
    write_partition_table(zone, "t", "2024-01-03", pl.DataFrame({"b": ["z"]}))
    open_batch(zone, "2024-01-04")
    write_partition_table(zone, "t", "2024-01-04", pl.DataFrame({"a": [9], "b": ["gone"]}))
    retire_batch(zone, "2024-01-04", "a person retired it")
    full = read_all_partition_tables(zone, "t")
    some = read_all_partition_tables(zone, "t", columns=["b", "a", "missing"])
    assert full is not None and some is not None
    assert some.columns == ["b", "a"]
    assert sorted(some.rows(), key=str) == sorted(full.select("b", "a").rows(), key=str)
    assert sorted(some.rows(), key=str) == sorted(
        [(None, 1), ("x", 2), ("y", 3), ("z", None)], key=str
    )


def test_file_uri_and_plain_path_are_the_same_zone(tmp_path):
    a = open_zone(tmp_path / "z", name="raw")
    b = open_zone(f"file://{tmp_path / 'z'}", name="raw")
    assert a.uri == b.uri and a.local and b.local
    with pytest.raises(ZoneError, match="empty"):
        open_zone("", name="raw")


@pytest.mark.parametrize("first_write", ["write_bytes", "copy_file_in", "staging_file", "ensure"])
def test_a_raw_zone_root_is_made_open_to_its_owner_only(tmp_path, first_write):
    """The raw zone holds PHI; its root was made with the umask's mode (0755: every account of
    the machine could read the DICOM). Whatever write makes it first, it is 0700 now; the
    research zone keeps the usual mode; an existing root is never changed."""
    import os
    import stat

    raw = open_zone(tmp_path / "deploy" / "raw", name="raw")
    source = tmp_path / "a.bin"
    source.write_bytes(b"x")
    if first_write == "write_bytes":
        raw.write_bytes(("dicom", "d", "a.dcm"), b"x")
    elif first_write == "copy_file_in":
        raw.copy_file_in(source, ("dicom", "d", "a.dcm"))
    elif first_write == "staging_file":
        raw.staging_file("dicom", "d")
    else:
        raw.ensure()
    assert stat.S_IMODE(os.stat(tmp_path / "deploy" / "raw").st_mode) == 0o700
    research = open_zone(tmp_path / "deploy" / "research", name="research")
    research.write_bytes(("a.bin",), b"x")
    assert stat.S_IMODE(os.stat(tmp_path / "deploy" / "research").st_mode) & 0o055
    shared = tmp_path / "shared-raw"
    shared.mkdir(mode=0o750)
    os.chmod(shared, 0o750)
    open_zone(shared, name="raw").write_bytes(("a.bin",), b"x")
    assert stat.S_IMODE(os.stat(shared).st_mode) == 0o750
