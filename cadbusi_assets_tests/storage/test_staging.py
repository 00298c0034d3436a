"""Where an object-store zone stages files locally: in a folder of the process under the
system temporary folder, removed by a later process once the first is gone, so that what a
killed run staged (for the raw zone, raw PHI) does not stay there."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from cadbusi_assets.storage import open_zone
from cadbusi_assets.storage.zones import STAGING_DIR_NAME, reap_staging

ROOT = Path(__file__).resolve().parents[2]

#: stages a file in a memory:// zone, says where, then waits to be killed
_STAGER = textwrap.dedent(
    """
    import sys, time
    import cadbusi_assets
    from cadbusi_assets.storage import open_zone
    path = open_zone("memory://bucket/raw", name="raw").staging_file("dicom", "2024-03-05")
    path.write_bytes(b"DICM raw instance")
    print(path, flush=True)
    time.sleep(600)
    """
)
_OPENER = (
    "import cadbusi_assets\n"
    "from cadbusi_assets.storage.zones import process_staging\n"
    "print(process_staging())\n"
)


def _env(tmp: Path) -> dict[str, str]:
    return {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(ROOT)}


def test_an_object_store_zone_stages_in_its_process_folder():
    path = open_zone("memory://bucket/raw", name="raw").staging_file("dicom", "2024-03-05")
    assert path.parent.parent.name == STAGING_DIR_NAME
    assert path.parent.name.startswith(f"{os.getpid()}-")
    assert (path.parent.stat().st_mode & 0o777) == 0o700


def test_what_a_killed_process_staged_is_removed_by_the_next_one(tmp_path):
    stager = subprocess.Popen(
        [sys.executable, "-c", _STAGER], env=_env(tmp_path), stdout=subprocess.PIPE, text=True
    )
    try:
        staged = Path(stager.stdout.readline().strip())  # type: ignore[union-attr]
        assert staged.read_bytes() == b"DICM raw instance"
        assert staged.is_relative_to(tmp_path / STAGING_DIR_NAME)
        alive = subprocess.run(
            [sys.executable, "-c", _OPENER], env=_env(tmp_path), capture_output=True, text=True
        )
        assert alive.returncode == 0, alive.stderr
        assert staged.exists()  # its process runs: left alone
    finally:
        stager.send_signal(signal.SIGKILL)
        stager.wait()
    after = subprocess.run(
        [sys.executable, "-c", _OPENER], env=_env(tmp_path), capture_output=True, text=True
    )
    assert after.returncode == 0, after.stderr
    assert not staged.parent.exists()  # the killed process's folder and its file are gone
    own = Path(after.stdout.strip())  # the new process's own folder ...
    assert own.parent == tmp_path / STAGING_DIR_NAME
    assert not own.exists()  # ... went with it when it ended


def test_only_folders_of_processes_that_are_gone_are_reaped(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], text=True, capture_output=True
    )
    gone = tmp_path / f"{done.stdout.strip()}-abcd1234"
    mine = tmp_path / f"{os.getpid()}-abcd1234"
    other = tmp_path / "not-a-process"
    for folder in (gone, mine, other):
        folder.mkdir()
        (folder / ".held-x.tmp").write_bytes(b"x")
    assert reap_staging(tmp_path) == [gone]
    assert mine.exists() and other.exists() and not gone.exists()
