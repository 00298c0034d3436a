"""What a user reads when running a Dagster command on this code location from a shell.

``dagster sensor preview dead_run_sensor -m cadbusi_assets.definitions`` (the README's way of
looking at a sensor) printed one Dagster warning 85 times: the project's
``code_location_name`` (the UI's ``cadbusi_assets``) differs from the name ``-m`` loads it
under, which only matters for app-managed components this project does not have.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_sensor_preview_prints_its_answer_and_no_location_name_warning(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CADBUSI_")},
        "DAGSTER_HOME": str(home),
        "CADBUSI_HOME": str(tmp_path / "cadbusi_home"),
    }
    dagster = Path(sys.executable).with_name("dagster")
    done = subprocess.run(
        [str(dagster), "sensor", "preview", "dead_run_sensor", "-m", "cadbusi_assets.definitions"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "no dead runs" in output
    assert "does not match the name" not in output
    assert "WARNING" not in output, [line for line in output.splitlines() if "WARNING" in line]
