"""Write-ahead records of a pass's files (:mod:`cadbusi_assets.storage.pending`): a sweep deletes
what a dead pass recorded and no table lists, and nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from cadbusi_assets.storage import open_zone
from cadbusi_assets.storage.pending import (
    PENDING_DIR,
    begin_pending,
    pending_batches,
    purge_pending,
    record_pending,
    sweep_pending,
)


@pytest.fixture
def zone(tmp_path: Path):
    return open_zone(str(tmp_path / "research"), "research").ensure()


def _write(zone, *paths: str) -> None:
    for path in paths:
        zone.write_bytes(tuple(path.split("/")), path.encode())


def _exists(zone, path: str) -> bool:
    return zone.exists(*path.split("/"))


def test_a_sweep_deletes_what_a_dead_pass_recorded_and_no_table_lists(zone):
    killed = begin_pending("b1", "deidentified_images")
    record_pending(zone, killed, "i1", ["images/aa/listed.png", "images/bb/orphan.png"])
    record_pending(zone, killed, "i2", ["dicom/cc/orphan.dcm"])
    _write(zone, "images/aa/listed.png", "images/bb/orphan.png", "dicom/cc/orphan.dcm")
    assert pending_batches(zone) == {"b1"}
    now = begin_pending("b1", "deidentified_images")
    removed = sweep_pending(zone, now, lambda: {"images/aa/listed.png"})
    assert removed == 2
    assert _exists(zone, "images/aa/listed.png")
    assert not _exists(zone, "images/bb/orphan.png") and not _exists(zone, "dicom/cc/orphan.dcm")
    assert pending_batches(zone) == set() and not list(zone.iter_files(PENDING_DIR))
    # no empty folder named by the batch is left either
    assert not (Path(zone.local_path()) / PENDING_DIR / "b1").exists()


def test_the_current_pass_records_are_dropped_unread_and_its_files_stay(zone):
    """The pass that sweeps wrote exactly what its tables list: its own records are not read
    (no object-store request per instance at the end of every date) and nothing of it goes."""
    now = begin_pending("b1", "deidentified_images")
    record_pending(zone, now, "i1", ["images/aa/mine.png"])
    _write(zone, "images/aa/mine.png")
    asked = []
    removed = sweep_pending(zone, now, lambda: asked.append(1) or set())
    assert removed == 0 and asked == []  # no earlier pass: the tables were not even read
    assert _exists(zone, "images/aa/mine.png")
    assert not list(zone.iter_files(PENDING_DIR))


def test_a_sweep_keeps_files_another_batch_recorded_or_another_writer_owns(zone):
    """Another date's pass may be writing a file both dates list before its tables name it;
    the inpainting's records are the inpainting's sweep's (another lock guards that writer)."""
    killed = begin_pending("b1", "deidentified_images")
    record_pending(zone, killed, "i1", ["images/aa/shared.png", "images/aa/own.png"])
    running = begin_pending("b2", "deidentified_images")
    record_pending(zone, running, "i1", ["images/aa/shared.png"])
    inpainting = begin_pending("b1", "inpainted_images")
    record_pending(zone, inpainting, "c1", ["inpainted/dd/x.png"])
    _write(zone, "images/aa/shared.png", "images/aa/own.png", "inpainted/dd/x.png")
    removed = sweep_pending(zone, begin_pending("b1", "deidentified_images"), set)
    assert removed == 1
    assert _exists(zone, "images/aa/shared.png") and not _exists(zone, "images/aa/own.png")
    assert _exists(zone, "inpainted/dd/x.png")
    assert pending_batches(zone) == {"b1", "b2"}  # b1: the inpainting's record stays


def test_a_purge_deletes_what_every_pass_of_the_batch_recorded(zone):
    record_pending(zone, begin_pending("b1", "deidentified_images"), "i1", ["images/aa/a.png"])
    record_pending(zone, begin_pending("b1", "inpainted_images"), "c1", ["inpainted/bb/b.png"])
    record_pending(zone, begin_pending("b2", "deidentified_images"), "i9", ["images/cc/c.png"])
    _write(zone, "images/aa/a.png", "inpainted/bb/b.png", "images/cc/c.png", "images/dd/d.png")
    removed = purge_pending(zone, "b1", lambda: {"images/dd/d.png"})
    assert removed == 2
    assert not _exists(zone, "images/aa/a.png") and not _exists(zone, "inpainted/bb/b.png")
    assert _exists(zone, "images/cc/c.png") and _exists(zone, "images/dd/d.png")
    assert pending_batches(zone) == {"b2"}


def test_no_record_without_a_pass(zone):
    """``cadbusi deidentify`` on a folder: no batch owns its files, nothing is recorded."""
    record_pending(zone, None, "i1", ["images/aa/a.png"])
    assert not list(zone.iter_files(PENDING_DIR))


def test_records_on_an_object_store_zone():
    """The same on an object store (fsspec's memory filesystem: listing, reads and recursive
    deletes go through the object-store code paths of :class:`~cadbusi_assets.storage.Zone`)."""
    from upath import UPath

    from cadbusi_assets.storage.zones import Zone

    zone = Zone(UPath("memory://pending-test-object-store"), "research")
    try:
        killed = begin_pending("b1", "deidentified_images")
        record_pending(zone, killed, "i1", ["images/aa/x.png", "images/bb/y.png"])
        _write(zone, "images/aa/x.png", "images/bb/y.png")
        now = begin_pending("b1", "deidentified_images")
        record_pending(zone, now, "i1", ["images/aa/x.png"])
        assert sweep_pending(zone, now, lambda: {"images/aa/x.png"}) == 1
        assert _exists(zone, "images/aa/x.png") and not _exists(zone, "images/bb/y.png")
        assert pending_batches(zone) == set()
    finally:
        zone.delete("images")
