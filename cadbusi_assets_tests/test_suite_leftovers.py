"""The test suite itself leaves nothing in the temporary folder: each test process made a
Dagster home and unzipped the real cines there (about 115 MB a process) and never removed
them (a thousand homes and 11 GB of cines had piled up on a developer machine)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_a_test_process_removes_its_dagster_home(tmp_path):
    done = _run(
        tmp_path,
        "-m",
        "pytest",
        "-q",
        "-n",
        "0",
        "-p",
        "no:cacheprovider",
        "cadbusi_assets_tests/catalog/test_open_catalog.py",
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    # pytest's own tmp_path folders (it keeps the last three sessions') are by design
    left = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("pytest-of-"))
    assert left == []


def test_the_unzipped_real_cines_are_removed_when_the_process_ends(tmp_path):
    code = (
        "import os, cadbusi_assets\n"
        "from cadbusi_assets_tests.ultrasound.real_file_set import locate\n"
        "path = locate('deid-data/RGB_CINE.dcm')\n"
        "assert path.stat().st_size > 0 and str(path).startswith(os.environ['TMPDIR'])\n"
        "print(path)\n"
    )
    done = _run(tmp_path, "-c", code)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip()
    assert sorted(p.name for p in tmp_path.iterdir()) == []
