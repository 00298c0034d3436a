"""scripts/system-deps.sh on a simulated fresh machine (fake dpkg-query, apt-get, id, sudo):
it installs what is missing as root or with passwordless sudo, else prints the one command to
run and exits 1; with everything present it exits 0 and installs nothing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "system-deps.sh"
ALL = [
    "tesseract-ocr",
    "tesseract-ocr-eng",
    "postgresql",
    "orthanc",
    "orthanc-dicomweb",
    "orthanc-gdcm",
    "dcmtk",
    "libgdcm-tools",
    "redis-server",
    "fonts-dejavu-core",
    "nginx-light",
]

FAKES = {
    "dpkg-query": """#!/bin/sh
pkg=$(eval echo \\${$#})
for p in $FAKE_INSTALLED; do [ "$p" = "$pkg" ] && { printf 'install ok installed'; exit 0; }; done
exit 1
""",
    "apt-get": """#!/bin/sh
echo "apt-get $*" >> "$FAKE_LOG"
""",
    "id": """#!/bin/sh
echo "$FAKE_UID"
""",
    "sudo": """#!/bin/sh
[ "$FAKE_SUDO" = 1 ] || exit 1
[ "$1" = -n ] && shift
[ "$1" = true ] && exit 0
echo "sudo $*" >> "$FAKE_LOG"
exec "$@"
""",
}


def _run(tmp_path: Path, *args: str, uid: int, sudo: bool, installed: list[str]):
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir(exist_ok=True)
    for name, text in FAKES.items():
        (fake_bin / name).write_text(text)
        (fake_bin / name).chmod(0o755)
    log = tmp_path / "log"
    log.write_text("")
    env = {
        "PATH": f"{fake_bin}:/usr/bin:/bin",
        "FAKE_INSTALLED": " ".join(installed),
        "FAKE_LOG": str(log),
        "FAKE_UID": str(uid),
        "FAKE_SUDO": "1" if sudo else "0",
        "HOME": str(tmp_path),
    }
    result = subprocess.run(
        ["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60
    )
    return result, log.read_text()


def test_everything_present_exits_0_and_installs_nothing(tmp_path):
    result, log = _run(tmp_path, uid=1000, sudo=False, installed=ALL)
    assert result.returncode == 0 and log == ""


def test_without_root_or_sudo_it_prints_the_one_command_and_exits_1(tmp_path):
    result, log = _run(tmp_path, uid=1000, sudo=False, installed=["dcmtk"])
    assert result.returncode == 1 and log == ""
    commands = [line for line in result.stderr.splitlines() if line.startswith("Run once:")]
    assert len(commands) == 1
    assert (
        "apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng"
        in (commands[0])
    )
    assert " dcmtk" not in commands[0] and "redis-server" in commands[0]


@pytest.mark.parametrize(("uid", "sudo"), [(0, False), (1000, True)])
def test_root_or_passwordless_sudo_installs_only_what_is_missing(tmp_path, uid, sudo):
    result, log = _run(tmp_path, uid=uid, sudo=sudo, installed=ALL[2:])
    assert result.returncode == 0, result.stderr
    installs = [line for line in log.splitlines() if " install " in f" {line} "]
    assert installs and installs[-1].endswith(
        "install -y -qq --no-install-recommends tesseract-ocr tesseract-ocr-eng"
    )
    assert ("sudo" in log) == sudo


def test_demo_profile_needs_only_tesseract_and_check_installs_nothing(tmp_path):
    result, log = _run(tmp_path, "demo", uid=0, sudo=False, installed=["tesseract-ocr-eng"])
    assert result.returncode == 0 and log.count(" install ") == 1
    assert log.splitlines()[-1].endswith("--no-install-recommends tesseract-ocr")
    result, log = _run(tmp_path, "demo", "--check", uid=0, sudo=False, installed=[])
    assert result.returncode == 1 and log == ""
    assert "tesseract-ocr tesseract-ocr-eng" in result.stderr


def test_script_is_executable():
    assert os.access(SCRIPT, os.X_OK)
