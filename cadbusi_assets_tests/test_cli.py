"""The `cadbusi` command: every subcommand a user types, through the real entry point."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from cadbusi_assets.cli import DEMO_INSTANCE_YAML, build_parser, main
from cadbusi_assets.progress import ProgressBar, tick
from cadbusi_assets_tests.support import require_tesseract
from cadbusi_demo import DemoConfig, generate_demo_cohort

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
    assert main(["doctor", "--timeout", "2"]) == 1
    out = capsys.readouterr().out
    assert "PROBLEM  pseudonym key" in out and "cadbusi keygen" in out


def _all_parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _all_parsers(sub)


def test_every_option_of_every_command_has_help():
    parser = build_parser()
    commands = [p.prog for p in _all_parsers(parser)]
    assert {"cadbusi deidentify", "cadbusi doctor", "cadbusi demo", "cadbusi analyze"} <= set(
        commands
    )
    missing = [
        f"{p.prog} {'/'.join(a.option_strings) or a.dest}"
        for p in _all_parsers(parser)
        for a in p._actions
        if not isinstance(a, argparse._HelpAction | argparse._SubParsersAction)
        and not (a.help and a.help.strip())
    ]
    assert missing == []
    for sub in _all_parsers(parser):  # and every help text renders (no bad % formats)
        assert sub.format_help()


def test_progress_bar_counts_ticks_from_any_process():
    import io
    from concurrent.futures import ProcessPoolExecutor

    out = io.StringIO()
    with ProgressBar(4, "files", stream=out, enabled=True, interval=0.01) as bar:
        tick(bar.path)
        with ProcessPoolExecutor(2) as pool:
            list(pool.map(tick, [bar.path] * 3))
    text = out.getvalue()
    assert text.startswith("\rfiles [") and text.endswith("\n")
    assert "] 4/4" in text.split("\r")[-1]
    assert not Path(bar.path).exists()
    quiet = io.StringIO()  # not a terminal: nothing drawn, workers get no file
    with ProgressBar(4, "files", stream=quiet) as bar:
        tick(bar.path)
    assert bar.path == "" and quiet.getvalue() == ""


def test_demo_without_tesseract_stops_at_once_naming_the_install_command(
    tmp_path, monkeypatch, capsys
):
    for name, value in {
        "CADBUSI_HOME": str(tmp_path / "home"),
        "CADBUSI_DEPLOYMENT": "demo",
        "PATH": str(tmp_path / "empty-bin"),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CADBUSI_OCR", raising=False)
    assert main(["demo", "--days", "1"]) == 2
    out = capsys.readouterr().out
    assert "apt-get install tesseract-ocr tesseract-ocr-eng" in out and "CADBUSI_OCR=0" in out
    assert os.environ.get("CADBUSI_OCR") is None  # never switched off behind the user's back
    assert not (tmp_path / "home" / "sources").exists()  # stopped before any work


def test_ocr_off_only_when_asked_and_then_said(tmp_path, monkeypatch, capsys):
    from cadbusi_assets.cli import _ocr_ready

    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.setenv("CADBUSI_OCR", "0")
    assert _ocr_ready()
    assert "OCR is off (CADBUSI_OCR=0)" in capsys.readouterr().out
    monkeypatch.setenv("CADBUSI_OCR", "1")
    assert not _ocr_ready()


def test_analyze_without_tesseract_stops_unless_no_ocr(small_pacs, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    code = main(["analyze", str(small_pacs), str(tmp_path / "a"), "--jobs", "1"])
    assert code == 2
    assert "apt-get install tesseract-ocr tesseract-ocr-eng" in capsys.readouterr().out
    assert not (tmp_path / "a").exists()


def test_analyze_refuses_its_input_folder_as_output(small_pacs, tmp_path, capsys):
    """``cadbusi deidentify`` refused OUTPUT = INPUT; ``cadbusi analyze`` wrote its tables and
    inpainted PNGs among the input's DICOM files."""
    before = sorted(p.relative_to(small_pacs) for p in small_pacs.rglob("*"))
    assert main(["analyze", str(small_pacs), str(small_pacs / "."), "--jobs", "1"]) == 2
    assert "OUTPUT must differ from INPUT" in capsys.readouterr().out
    assert sorted(p.relative_to(small_pacs) for p in small_pacs.rglob("*")) == before


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("CADBUSI_TORCH_PRECISION", "fp16", "CADBUSI_TORCH_PRECISION='fp16': use auto"),
        ("CADBUSI_INPAINT_DEVICE", "gpu", "CADBUSI_INPAINT_DEVICE='gpu': use auto"),
    ],
)
def test_a_wrong_torch_setting_stops_analysis_commands_before_any_file(
    small_pacs, tmp_path, monkeypatch, capsys, variable, value, said
):
    """These settings are read in the workers: a misspelt value failed every file there with
    a traceback (analyze: a ValueError out of the command; deidentify --analyze: every file
    quarantined) instead of one line naming the variable."""
    monkeypatch.setenv(variable, value)
    out = tmp_path / "a"
    assert main(["analyze", str(small_pacs), str(out), "--jobs", "1", "--no-ocr"]) == 2
    assert said in capsys.readouterr().out
    assert not out.exists()
    key = tmp_path / "k.key"
    assert main(["keygen", str(key)]) == 0
    deid = tmp_path / "deid"
    args = ["deidentify", str(small_pacs), str(deid), "--key-file", str(key), "--no-ocr"]
    capsys.readouterr()
    assert main([*args, "--analyze", "--jobs", "1"]) == 2
    assert said in capsys.readouterr().out
    assert not deid.exists()


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
    deid = tmp_path / "deid"
    capsys.readouterr()
    code = main(["deidentify", str(small_pacs), str(deid), "--key-file", str(key), "--no-ocr"])
    assert code == 1  # the corrupt file is quarantined, everything else is written
    report = tmp_path / "deid.report.csv"  # by default, beside (not inside) OUTPUT
    out = capsys.readouterr().out
    corrupt = f"{study.name}/zz-corrupt.dcm"
    assert "] quarantined: corrupt DICOM" in out and str(report) in out
    assert corrupt not in out  # by its report row on screen (a name may name the patient)
    rows = pl.read_csv(report)
    assert rows.filter(pl.col("status") == "quarantined")["input_path"].to_list() == [corrupt]
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
    require_tesseract()  # OCR is on by default: without tesseract the demo stops at once
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
    # partition metadata says whether OCR ran (it is on by default, and tesseract is required)
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(tmp_path / "home" / "dagster_home"))
    try:
        for asset in ("deidentified_images", "image_features"):
            event = instance.get_latest_materialization_event(dg.AssetKey(asset))
            assert event is not None and event.asset_materialization is not None
            assert event.asset_materialization.metadata["ocr_ran"].value in (True, 1), asset
    finally:
        instance.dispose()
    # what the UI does not show beside a date, the raw zone keeps: exact counts per date, and
    # which date and run made an exported image (resolved with the raw zone and the key)
    subcommand = {"cwd": tmp_path, "env": env, "capture_output": True, "text": True, "timeout": 120}
    shown = subprocess.run([*command, "partition-report", "--asset", "raw_dicom"], **subcommand)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "raw_dicom" in shown.stdout and "instances_fetched" in shown.stdout
    image = manifest["image_id"][0]
    found = subprocess.run([*command, "lineage", "2026-11-22", "--image", image], **subcommand)
    assert found.returncode == 0, found.stdout + found.stderr
    assert "deidentified_images" in found.stdout and "true" in found.stdout
    day = json.loads((export / "lineage.json").read_text())
    assert all(e["run_id"] is None for e in day["upstream"] if e["partition"])
    missing = subprocess.run([*command, "lineage", "2026-11-22", "--image", "nope"], **subcommand)
    assert missing.returncode == 2 and "not in export" in missing.stdout
    # `make demo` again the same day (no --export-key: today's key), then once more after
    # the code (here: the export's checksums) changed: exports are immutable, so the demo
    # cuts the next free key, says why, and succeeds
    rerun = [*command, "demo", "--days", "1"]
    again = subprocess.run(
        rerun, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    today = dt.date.today().isoformat()
    exports = export.parent
    sums = exports / today / "SHA256SUMS"
    sums.write_text(sums.read_text() + "0" * 64 + "  changed\n")
    third = subprocess.run(
        rerun, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert third.returncode == 0, third.stdout[-3000:] + third.stderr[-3000:]
    assert f"today's exports {today} exist and are kept as they are" in third.stdout
    assert f"this run's export is {today}.2" in third.stdout
    assert "✗" not in third.stdout  # the expected case is no failure
    assert (exports / f"{today}.2" / "manifest.parquet").exists()
    assert f"exports/{today}.2" in third.stdout  # the summary names the export cut
    _demo_reruns_say_which_exports_exist(rerun, exports, today, tmp_path, env)


def _demo_reruns_say_which_exports_exist(
    rerun: list[str], exports: Path, today: str, cwd: Path, env: dict[str, str]
) -> None:
    """`make demo` again on a day that already holds several exports (today's and today.2).
    Before the fix the demo tried each taken key in turn, printed a ✗ failed step for each,
    and its "already exists" line named the day's first key, not the one taken. Now one line
    names the day's exports and that nothing was rewritten, with no ✗, and the next free key
    is cut; a real conflict (a taken --export-key) still fails loudly, naming that key."""

    def stored() -> dict[Path, tuple[bytes, int]]:
        return {
            p: (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(exports.rglob("*"))
            if p.is_file() and p.parts[len(exports.parts)] in (today, f"{today}.2")
        }

    before = stored()
    fourth = subprocess.run(rerun, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    out = fourth.stdout
    assert fourth.returncode == 0, out[-3000:] + fourth.stderr[-3000:]
    assert "✗" not in out and "FAILED" not in out, out[-3000:]
    said = [line for line in out.splitlines() if "exist" in line]
    assert said == [
        f"      today's exports {today}, {today}.2 exist and are kept as they are (exports are "
        f"immutable: nothing was rewritten); this run's export is {today}.3"
    ]
    assert (exports / f"{today}.3" / "manifest.parquet").exists()
    assert f"exports/{today}.3" in out  # the summary names the export cut
    assert stored() == before
    # a real conflict: the key given holds other content
    conflict = subprocess.run(
        [*rerun, "--export-key", f"{today}.2"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = conflict.stdout
    assert conflict.returncode == 1, out[-3000:] + conflict.stderr[-3000:]
    assert f"export {today}.2 already exists with other content" in out
    assert f"reason: ExportExistsError: Export '{today}.2' already exists" in out
    assert f"FAILED: dataset_export {today}.2 " in out
    assert stored() == before


def test_a_frame_step_below_one_is_refused_before_anything_runs(tmp_path, capsys):
    from cadbusi_assets.cli import main

    for command in (["deidentify", str(tmp_path), str(tmp_path / "out")], ["analyze", "a", "b"]):
        with pytest.raises(SystemExit) as stopped:
            main([*command, "--frame-step", "0"])
        assert stopped.value.code == 2
        assert "1 or more" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
