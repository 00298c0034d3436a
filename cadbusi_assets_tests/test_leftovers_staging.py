"""What a run leaves in the system temporary folder: the builds of exports, of the catalog and
of Labelbox uploads work in the process's staging folder, which goes when the process ends and,
when it is killed, when the next process opens any zone (not only when the next one stages a
file for an object-store zone). Every case runs in its own processes (TMPDIR of the test)."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cadbusi_assets.storage import open_zone
from cadbusi_assets.storage.zones import STAGING_DIR_NAME, process_staging

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 120

#: an export build killed in the middle: its staging folder holds the export's files
_KILLED_EXPORT = textwrap.dedent(
    """
    import sys, time
    import cadbusi_assets
    import cadbusi_assets.exports.build as build
    from cadbusi_assets.storage import open_zone

    def assemble(zone, config, lineage, staging, *rest):
        (staging / "image.png").write_bytes(b"an exported image")
        print(staging, flush=True)
        time.sleep(600)

    build._assemble = assemble
    build.build_export(open_zone(sys.argv[1], "research"), build.ExportConfig(key="k1"), {})
    """
)
#: a raw instance staged for an object-store zone, then the process is killed
_KILLED_STAGER = textwrap.dedent(
    """
    import time
    import cadbusi_assets
    from cadbusi_assets.storage import open_zone
    path = open_zone("memory://bucket/raw", name="raw").staging_file("dicom", "2024-03-05")
    path.write_bytes(b"DICM raw instance")
    print(path, flush=True)
    time.sleep(600)
    """
)
#: a step that staged a raw instance and failed before committing it, then the process ends
_FAILED_STAGER = textwrap.dedent(
    """
    import cadbusi_assets
    from cadbusi_assets.storage import open_zone
    path = open_zone("memory://bucket/raw", name="raw").staging_file("dicom", "2024-03-05")
    path.write_bytes(b"DICM raw instance")
    print(path, flush=True)
    raise SystemExit(1)
    """
)
#: a later command that only opens a local zone (doctor, export, a run of local zones)
_OPEN_LOCAL_ZONE = "import cadbusi_assets, sys\nfrom cadbusi_assets.storage import open_zone\nopen_zone(sys.argv[1], 'research')\n"


def _env(tmp: Path) -> dict[str, str]:
    return {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(ROOT)}


def _killed_after_first_line(code: str, tmp: Path, *args: str) -> Path:
    process = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=_env(tmp),
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], TIMEOUT)  # never waits forever
        line = process.stdout.readline().strip() if ready else ""
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=TIMEOUT)
    assert line, "the child printed nothing"
    return Path(line)


def _run(code: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=_env(tmp),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


@pytest.fixture
def system_temp(tmp_path) -> Path:
    folder = tmp_path / "tmp"
    folder.mkdir()
    return folder


def test_a_killed_export_build_is_removed_by_the_next_command(tmp_path, system_temp):
    research = tmp_path / "research"
    staging = _killed_after_first_line(_KILLED_EXPORT, system_temp, str(research))
    assert (staging / "image.png").read_bytes() == b"an exported image"
    assert staging.is_relative_to(system_temp / STAGING_DIR_NAME)
    later = _run(_OPEN_LOCAL_ZONE, system_temp, str(research))
    assert later.returncode == 0, later.stderr
    assert not staging.exists()
    assert not any((system_temp / STAGING_DIR_NAME).iterdir())  # nor its process's folder


def test_what_a_killed_run_staged_goes_when_the_next_process_opens_any_zone(tmp_path, system_temp):
    staged = _killed_after_first_line(_KILLED_STAGER, system_temp)
    assert staged.read_bytes() == b"DICM raw instance"
    later = _run(_OPEN_LOCAL_ZONE, system_temp, str(tmp_path / "research"))
    assert later.returncode == 0, later.stderr
    assert not staged.parent.exists()


def test_a_process_that_ends_takes_its_staging_folder_with_it(system_temp):
    ended = _run(_FAILED_STAGER, system_temp)
    assert ended.returncode == 1, ended.stderr
    staged = Path(ended.stdout.strip())
    assert staged.is_relative_to(system_temp / STAGING_DIR_NAME)
    assert not staged.parent.exists()  # not left for a later process to find


def test_the_catalog_is_built_in_the_process_staging_folder(tmp_path, monkeypatch):
    import cadbusi_assets.catalog.build as catalog

    where: list[Path] = []

    def connect(path: str, *args: object, **kwargs: object) -> object:
        where.append(Path(path))
        raise RuntimeError("stop here")

    monkeypatch.setattr(catalog.duckdb, "connect", connect)
    with pytest.raises(RuntimeError, match="stop here"):
        catalog.build_metadata_db(open_zone(tmp_path / "research", "research"))
    assert where and where[0].is_relative_to(process_staging())
    assert not where[0].parent.exists()


#: a command with a progress bar (de-identification in a terminal) killed in the middle
_KILLED_PROGRESS = textwrap.dedent(
    """
    import io, time
    import cadbusi_assets
    from cadbusi_assets.progress import ProgressBar
    with ProgressBar(3, "files", stream=io.StringIO(), enabled=True) as bar:
        print(bar.path, flush=True)
        time.sleep(600)
    """
)


def test_a_killed_command_s_progress_counter_is_reaped(tmp_path, system_temp):
    counter = _killed_after_first_line(_KILLED_PROGRESS, system_temp)
    assert counter.is_relative_to(system_temp / STAGING_DIR_NAME)
    later = _run(_OPEN_LOCAL_ZONE, system_temp, str(tmp_path / "research"))
    assert later.returncode == 0, later.stderr
    assert not counter.exists()
    assert {p.name for p in system_temp.iterdir()} <= {STAGING_DIR_NAME}


def test_a_series_retrieval_without_a_spool_holds_its_files_in_the_staging_folder():
    from cadbusi_assets.pacs.base import InstanceRef
    from cadbusi_assets.pacs.series import SeriesBatches

    refs = [InstanceRef("1.2.3", "1.2.3.4", f"1.2.3.4.{n}", f"src{n}") for n in (1, 2)]
    batches = SeriesBatches()
    batches.listed(refs)
    batches.plan(refs, None)
    (batch,) = batches._batches.values()
    try:
        assert batch.folder.is_relative_to(process_staging())
    finally:
        batches.close()
    assert not batch.folder.exists()
