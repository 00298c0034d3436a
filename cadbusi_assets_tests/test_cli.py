"""The `cadbusi` command: every subcommand a user types, through the real entry point."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from cadbusi_assets.cli import DEMO_INSTANCE_YAML, main
from cadbusi_assets.demo import DemoConfig, generate_demo_cohort

ROOT = Path(__file__).resolve().parents[1]


def test_the_demo_instance_yaml_is_the_repository_dagster_yaml():
    assert (ROOT / "dagster.yaml").read_text() == DEMO_INSTANCE_YAML


def test_keygen_creates_a_key_and_refuses_to_overwrite(tmp_path, capsys):
    key = tmp_path / "secrets" / "k.key"
    assert main(["keygen", str(key)]) == 0
    assert key.exists() and "fingerprint" in capsys.readouterr().out
    assert main(["keygen", str(key)]) == 2
    assert "refusing to overwrite" in capsys.readouterr().out


def test_doctor_reports_a_missing_key(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CADBUSI_HOME", str(tmp_path))
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "pseudonym key     PROBLEM" in out and "cadbusi keygen" in out


@pytest.fixture(scope="module")
def small_pacs(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli_cohort")
    generate_demo_cohort(
        out, DemoConfig(start=dt.date(2026, 9, 1), days=1, studies_per_day=(1, 1), seed=11)
    )
    return out / "pacs"


def test_deidentify_verify_and_analyze_commands(small_pacs, tmp_path, capsys):
    key = tmp_path / "k.key"
    assert main(["keygen", str(key)]) == 0
    study = next(small_pacs.iterdir())
    (study / "zz-corrupt.dcm").write_bytes(b"not dicom" * 50)
    deid, report = tmp_path / "deid", tmp_path / "report.csv"
    code = main(
        [
            "deidentify",
            str(small_pacs),
            str(deid),
            "--key-file",
            str(key),
            "--report",
            str(report),
            "--no-ocr",
        ]
    )
    assert code == 1  # the corrupt file is quarantined, everything else is written
    rows = pl.read_csv(report)
    assert rows.filter(pl.col("status") == "quarantined").height == 1
    written = sorted(deid.rglob("*.dcm"))
    assert len(written) == rows.filter(pl.col("status") == "ok").height > 0
    assert main(["verify", str(deid)]) == 0
    analysis = tmp_path / "analysis"
    assert main(["analyze", str(deid), str(analysis), "--jobs", "1", "--no-ocr"]) == 0
    features = pl.read_parquet(analysis / "features.parquet")
    assert features.height >= len(written)
    assert {"crop_x0", "has_calipers", "exclusion_reason"} <= set(features.columns)
    capsys.readouterr()


@pytest.mark.integration
@pytest.mark.xdist_group("cli-demo")
def test_cadbusi_demo_runs_the_whole_graph_and_prints_a_summary(tmp_path):
    """What `make demo` runs, on a one-day cohort, in a clean process and a fresh home."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("CADBUSI_") and k != "DAGSTER_HOME"
    }
    env["CADBUSI_HOME"] = str(tmp_path / "home")
    cli = Path(sys.executable).with_name("cadbusi")
    command = [str(cli)] if cli.exists() else [sys.executable, "-m", "cadbusi_assets.cli"]
    result = subprocess.run(
        [*command, "demo", "--days", "1", "--export-key", "2026-11-22"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    for step in ("[1/7]", "[3/7] backfill", "[6/7] dated export", "[7/7] summary"):
        assert step in out
    assert "deidentified_images       1 study dates" in out
    export = tmp_path / "home" / "zones" / "research" / "exports" / "2026-11-22"
    manifest = pl.read_parquet(export / "manifest.parquet")
    assert manifest.height > 0 and all((export / p).exists() for p in manifest["image_path"])
    assert (tmp_path / "home" / "dagster_home" / "dagster.yaml").exists()
    key = tmp_path / "home" / "secrets" / "pseudonym.key"
    assert key.exists() and not any(p == key for p in (tmp_path / "home" / "zones").rglob("*"))
