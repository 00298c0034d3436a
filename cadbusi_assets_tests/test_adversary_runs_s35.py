"""Adversary, session 35: what a demanding user or a messy hospital does to the runs.

Each test reproduces a finding on the code as it was (said in its docstring). Everything is
synthetic; every subprocess has a timeout.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cadbusi_assets.identity import generate_key_file

ROOT = Path(__file__).resolve().parents[1]


def _cadbusi(args: list[str], cwd: Path, timeout: int = 180) -> subprocess.CompletedProcess:
    """The real entry point in its own process (what a user types), with a timeout."""
    env = dict(os.environ, CADBUSI_HOME=str(cwd / "home"), CADBUSI_OCR="0", CADBUSI_WORKERS="1")
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "cadbusi_assets.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _no_traceback(result: subprocess.CompletedProcess) -> None:
    said = result.stdout + result.stderr
    assert "Traceback" not in said, said[-2000:]


def test_demo_data_into_a_folder_of_the_users_files_deletes_nothing(tmp_path):
    """``cadbusi demo-data OUT`` "replaces what was there": a folder that was never a demo
    cohort (a typo, ``~/Documents``) was renamed and ``rmtree``'d with every file in it, and an
    OUT that was a file was renamed to a hidden ``.OUT.old``. It must refuse (exit != 0, one
    line) and leave them as they were."""
    folder = tmp_path / "my_notes"
    folder.mkdir()
    (folder / "thesis.txt").write_text("three years of work\n")
    result = _cadbusi(["demo-data", str(folder), "--days", "1"], tmp_path)
    assert (folder / "thesis.txt").read_text() == "three years of work\n"
    assert result.returncode != 0
    _no_traceback(result)

    a_file = tmp_path / "results.csv"
    a_file.write_text("a,b\n1,2\n")
    result = _cadbusi(["demo-data", str(a_file), "--days", "1"], tmp_path)
    assert a_file.is_file() and a_file.read_text() == "a,b\n1,2\n"
    assert result.returncode != 0
    _no_traceback(result)


@pytest.mark.parametrize("days", ["0", "-1"])
def test_demo_data_with_no_days_is_a_clear_error(tmp_path, days):
    """``cadbusi demo-data OUT --days 0`` ended in a ``ValueError`` traceback from
    ``DemoConfig`` instead of argparse's one line (exit 2)."""
    result = _cadbusi(["demo-data", str(tmp_path / "out"), "--days", days], tmp_path)
    assert result.returncode == 2
    _no_traceback(result)
    assert "days" in result.stderr + result.stdout


def _folder_of_non_dicom(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "scan.dcm").write_bytes(b"not a DICOM file at all\n")
    return folder


def test_analyze_a_folder_with_no_readable_dicom_is_a_clear_error(tmp_path):
    """``cadbusi analyze IN OUT`` where no file of IN decodes ended in a polars
    ``ColumnNotFoundError: unable to find column "crop_x1"`` traceback (an empty folder says
    "no DICOM files under IN"; a folder of unreadable files must say something as clear)."""
    result = _cadbusi(
        [
            "analyze",
            str(_folder_of_non_dicom(tmp_path)),
            str(tmp_path / "out"),
            "--jobs",
            "1",
            "--no-ocr",
        ],
        tmp_path,
    )
    assert result.returncode != 0
    _no_traceback(result)


def test_deidentify_into_an_output_that_is_a_file_is_a_clear_error(tmp_path):
    """``cadbusi deidentify IN OUT`` with OUT an existing file ended in a ``FileExistsError``
    traceback from ``mkdir`` (INPUT not a folder is refused in one line; OUTPUT must be too)."""
    key = generate_key_file(tmp_path / "secrets" / "k.key")
    out = tmp_path / "out.txt"
    out.write_text("keep me\n")
    result = _cadbusi(
        ["deidentify", str(_folder_of_non_dicom(tmp_path)), str(out), "--key-file", str(key)],
        tmp_path,
    )
    assert result.returncode == 2
    _no_traceback(result)
    assert out.read_text() == "keep me\n"
