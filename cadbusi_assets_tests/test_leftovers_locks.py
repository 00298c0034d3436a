"""The locks of object-store zones lie under the system temporary folder; their names are
unkeyed hashes of (stage, real study date), so the folders are this user's only (0700)."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from pathlib import Path

import pytest

from cadbusi_assets.stages.locks import lock_dirs, partition_lock


@pytest.fixture
def system_temp(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.delenv("CADBUSI_LOCK_DIR", raising=False)
    return folder


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_object_store_lock_folders_are_private(system_temp):
    folders = lock_dirs(["gs://bucket/raw"])
    assert folders[0].is_relative_to(system_temp / "cadbusi-locks")
    with partition_lock("raw_dicom", "2026-09-01", lock_dirs=folders, timeout=5):
        pass
    (lock,) = folders[0].iterdir()
    # the name gives the date away to whoever can list it: sha256 of "stage\0date"
    assert lock.stem == hashlib.sha256(b"raw_dicom\x002026-09-01").hexdigest()[:32]
    assert _mode(system_temp / "cadbusi-locks") == 0o700
    assert _mode(folders[0]) == 0o700
    assert _mode(lock) == 0o600


def test_an_open_lock_folder_of_an_earlier_version_is_closed(system_temp):
    folder = lock_dirs(["s3://bucket/raw"])[0]
    folder.mkdir(parents=True, mode=0o755)
    os.chmod(folder.parent, 0o755)
    os.chmod(folder, 0o755)
    with partition_lock("raw_dicom", "2026-09-02", lock_dirs=[folder], timeout=5):
        pass
    assert _mode(folder.parent) == 0o700 and _mode(folder) == 0o700


def test_a_lock_folder_in_a_local_zone_keeps_its_mode(tmp_path, system_temp):
    zone = tmp_path / "raw"
    (folder,) = lock_dirs([str(zone)])
    assert folder == zone / ".cadbusi-locks"
    with partition_lock("raw_dicom", "2026-09-03", lock_dirs=[folder], timeout=5):
        pass
    assert folder.is_dir()
    assert not (system_temp / "cadbusi-locks").exists()
