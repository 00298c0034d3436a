"""``cadbusi demo`` deletes ``$CADBUSI_HOME/sources`` and ``zones`` when it makes its cohort
again (``--fresh``, another ``--days``): with ``CADBUSI_HOME`` pointing at a production home
(its zones there: PHI and research data) or at a folder of the user's own, everything there
went. It now replaces a demo home only, and refuses in one line otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _demo(home: Path, deployment: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CADBUSI_", "DAGSTER_"))}
    env.update(CADBUSI_HOME=str(home), CADBUSI_DEPLOYMENT=deployment, CADBUSI_OCR="0")
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "cadbusi_assets.cli", "demo", "--days", "1", "--fresh"],
        cwd=home.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.parametrize(
    ("deployment", "layout", "says"),
    [
        ("production", {"zones/raw/dicom/a.dcm": "raw"}, "CADBUSI_DEPLOYMENT is not demo"),
        ("demo", {"zones/raw/dicom/a.dcm": "raw"}, "holds data beside no demo cohort"),
        ("demo", {"sources/main.py": "print(1)"}, "is not a demo cohort"),
    ],
)
def test_cadbusi_demo_never_deletes_a_home_that_is_not_a_demo_home(
    tmp_path, deployment, layout, says
):
    home = tmp_path / "home"
    for name, text in layout.items():
        (home / name).parent.mkdir(parents=True, exist_ok=True)
        (home / name).write_text(text)
    result = _demo(home, deployment)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert says in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    for name, text in layout.items():
        assert (home / name).read_text() == text
