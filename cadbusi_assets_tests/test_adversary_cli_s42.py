"""``cadbusi deidentify`` at a terminal, the way a hospital's analyst runs it: each command in
its own process (this checkout's code), with a timeout.

Found here (each test failed before its fix): a symbolic-link loop in INPUT crashed the listing
with a traceback, and a dangling link was dropped without a word; INPUT inside OUTPUT ran over
nothing and wrote tables into the folder that holds the inputs, exit 0; a quarantined input's
name (which may be the patient's) was printed on screen; two runs into one OUTPUT were not
refused; Ctrl-C said "its runs are in the UI" (there is no UI run) instead of what OUTPUT holds.
Ctrl-C halfway and a re-run give the uninterrupted run's bytes (no staging file left behind).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import time
from pathlib import Path

import polars as pl
import pytest

from cadbusi_assets.identity import generate_key_file
from cadbusi_assets_tests.builders import file_digests
from cadbusi_assets_tests.defs.services import BIN, ROOT
from cadbusi_assets_tests.run_support import _start, finish
from cadbusi_demo.cohort import generate_demo_cohort
from cadbusi_demo.config import DemoConfig

#: Invented names of the kind hospitals' exports carry in file names.
PHI_NAMES = ("Quimbrell_Zoë_19610304", "Иванова Анна", "김영희")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CADBUSI_", "DAGSTER_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _args(source: Path, out: Path, key: Path, jobs: int = 2) -> list[str]:
    command = [str(BIN / "cadbusi"), "deidentify", str(source), str(out)]
    return [*command, "--key-file", str(key), "--no-ocr", "--jobs", str(jobs)]


def _cadbusi(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> dict[str, Path]:
    """~40 synthetic ultrasound files, a key, and one uninterrupted run's OUTPUT."""
    root = tmp_path_factory.mktemp("cli_s42")
    config = DemoConfig(start=dt.date(2026, 9, 1), days=2, studies_per_day=(2, 2), seed=11)
    generate_demo_cohort(root / "cohort", config)
    key = generate_key_file(root / "secrets" / "pseudonym.key")
    pacs = root / "cohort" / "pacs"
    whole = root / "whole"
    done = _cadbusi(_args(pacs, whole, key))
    assert done.returncode == 0, done.stdout + done.stderr
    return {"root": root, "pacs": pacs, "key": key, "whole": whole}


def _dcm_count(out: Path) -> int:
    return sum(1 for _ in out.rglob("*.dcm")) if out.is_dir() else 0


def test_ctrl_c_halfway_then_a_rerun_gives_the_uninterrupted_bytes(cohort, tmp_path):
    files = sum(1 for p in cohort["pacs"].rglob("*") if p.is_file())
    assert files >= 30
    out = tmp_path / "out"
    proc = _start(_args(cohort["pacs"], out, cohort["key"]), _env())
    try:
        deadline = time.monotonic() + 90
        while _dcm_count(out) < files // 3 and proc.poll() is None:
            assert time.monotonic() < deadline, "no file written in 90 s"
            time.sleep(0.01)
        assert proc.poll() is None, "the run ended before Ctrl-C"
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends: the whole process group
        said = finish(proc, 60, "the interrupted run")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, said
    assert "Traceback" not in said and "KeyboardInterrupt" not in said, said
    assert "run the same command again" in said and "in the UI" not in said
    assert 0 < _dcm_count(out) < files
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]  # no staging file
    assert not (out / "images.parquet").exists()
    assert not (tmp_path / "out.report.csv").exists()  # no report of a run that did not end
    again = _cadbusi(_args(cohort["pacs"], out, cohort["key"]))
    assert again.returncode == 0, again.stdout + again.stderr
    assert file_digests(out) == file_digests(cohort["whole"])


def test_input_inside_output_is_refused_before_writing(cohort, tmp_path):
    out = tmp_path / "out"
    source = out / "in"
    source.mkdir(parents=True)
    (source / "a.dcm").write_bytes(next(cohort["pacs"].rglob("*.dcm")).read_bytes())
    ran = _cadbusi(_args(source, out, cohort["key"]))
    assert ran.returncode == 2, ran.stdout
    assert "INPUT is inside OUTPUT" in ran.stdout
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == ["in", "in/a.dcm"]
    assert not (tmp_path / "out.report.csv").exists()
    # OUTPUT = INPUT is refused too; OUTPUT inside INPUT is never read back (test_command.py)
    same = _cadbusi(_args(source, source / ".", cohort["key"]))
    assert same.returncode == 2 and "OUTPUT must differ from INPUT" in same.stdout


def test_phi_file_names_and_unreadable_inputs(cohort, tmp_path):
    """Inputs named after patients (some quarantined), and every kind of unreadable entry: each
    named in the report (raw side) with a reason, none of the names on screen or in OUTPUT."""
    good = sorted(cohort["pacs"].rglob("*.dcm"))
    source = tmp_path / "in"
    (source / "sub").mkdir(parents=True)
    (source / f"{PHI_NAMES[0]}.dcm").write_bytes(good[0].read_bytes())
    (source / f"{PHI_NAMES[1]}.dcm").write_bytes(good[1].read_bytes())
    (source / f"{PHI_NAMES[2]}.dcm").write_bytes(good[2].read_bytes()[:300])  # truncated
    (source / "sub" / f"{PHI_NAMES[0]}_copy.dcm").write_bytes(b"DICM junk")  # quarantined
    (source / "ok.dcm").write_bytes(good[3].read_bytes())
    (source / "noperm.dcm").write_bytes(good[4].read_bytes())
    (source / "noperm.dcm").chmod(0)
    (source / "empty.dcm").write_bytes(b"")
    (source / "truncated.dcm").write_bytes(good[5].read_bytes()[:5000])
    (source / "loop_a.dcm").symlink_to("loop_b.dcm")
    (source / "loop_b.dcm").symlink_to("loop_a.dcm")
    (source / f"{PHI_NAMES[1]}_dangling.dcm").symlink_to(tmp_path / "gone" / "x.dcm")
    (source / "x.dcm").mkdir()  # a folder named like a file: its files are inputs
    (source / "x.dcm" / "inner.dcm").write_bytes(good[6].read_bytes())
    out = tmp_path / "out"
    ran = _cadbusi(_args(source, out, cohort["key"]))
    screen = ran.stdout + ran.stderr
    assert ran.returncode == 1, screen  # something was quarantined
    assert "Traceback" not in screen
    for name in PHI_NAMES:
        assert name not in screen
        for path in out.rglob("*"):
            assert name not in path.as_posix()
            if path.suffix == ".parquet":
                assert name.encode() not in path.read_bytes()
    report = pl.read_csv(tmp_path / "out.report.csv")
    status = dict(zip(report["input_path"], report["status"], strict=True))
    reason = dict(zip(report["input_path"], report["reason"], strict=True))
    root_reads_all = os.geteuid() == 0  # root reads a file without read permission
    assert status == {
        f"{PHI_NAMES[0]}.dcm": "ok",
        f"{PHI_NAMES[1]}.dcm": "ok",
        f"{PHI_NAMES[1]}_dangling.dcm": "quarantined",
        f"{PHI_NAMES[2]}.dcm": "quarantined",
        f"sub/{PHI_NAMES[0]}_copy.dcm": "quarantined",
        "ok.dcm": "ok",
        "noperm.dcm": "ok" if root_reads_all else "quarantined",
        "empty.dcm": "quarantined",
        "truncated.dcm": "quarantined",
        "loop_a.dcm": "quarantined",
        "loop_b.dcm": "quarantined",
        "x.dcm/inner.dcm": "ok",
    }
    assert reason[f"{PHI_NAMES[1]}_dangling.dcm"].startswith("raw file unreadable")
    assert reason["loop_a.dcm"].startswith("raw file unreadable")
    if not root_reads_all:
        assert reason["noperm.dcm"] == "raw file unreadable (PermissionError)"
    # the screen points at the report's rows, where the operator finds each input again
    rows = list(report["status"])
    for index, row in enumerate(rows, start=1):
        said = f"[{index}/{len(rows)}] quarantined: "
        assert (said in screen) == (row == "quarantined"), screen
        if row == "quarantined":
            assert f"(report row {index})" in screen


def test_two_runs_into_one_output_the_second_is_refused(cohort, tmp_path):
    out = tmp_path / "out"
    first = _start(_args(cohort["pacs"], out, cohort["key"], jobs=1), _env())
    try:
        deadline = time.monotonic() + 90
        while _dcm_count(out) < 2 and first.poll() is None:
            assert time.monotonic() < deadline, "no file written in 90 s"
            time.sleep(0.01)
        assert first.poll() is None, "the first run ended before the second started"
        other = tmp_path / "other"
        other.mkdir()
        (other / "a.dcm").write_bytes(next(cohort["pacs"].rglob("*.dcm")).read_bytes())
        second = _cadbusi(_args(other, out, cohort["key"], jobs=1))
        assert first.poll() is None, "the first run ended before the second was answered"
        said = finish(first, 120, "the first run")
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert second.returncode == 2, second.stdout
    assert "another cadbusi deidentify is writing into OUTPUT" in second.stdout
    assert first.returncode == 0, said
    assert file_digests(out) == file_digests(cohort["whole"])
    assert pl.read_csv(tmp_path / "out.report.csv").height == len(
        list(cohort["pacs"].rglob("*.dcm"))
    )


def test_ctrl_c_while_the_workers_start_says_what_output_holds_without_a_traceback(
    cohort, tmp_path
):
    """Ctrl-C a second after ``cadbusi analyze`` starts, while the workers' fork server still
    imports torch and the stages: the fork server printed its KeyboardInterrupt traceback (the
    standard library's fork server ignores SIGINT only once its imports are done), and the
    command pointed at "its runs ... in the UI" (it runs no Dagster run)."""
    args = [str(BIN / "cadbusi"), "analyze", str(cohort["whole"]), str(tmp_path / "analysis")]
    proc = _start([*args, "--no-ocr", "--jobs", "2"], _env())
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().decode()  # "analysing N files": it has started
        assert first.startswith("analysing"), first
        time.sleep(1.0)  # the fork server imports torch and the stages for a few seconds
        os.killpg(proc.pid, signal.SIGINT)
        said = first + finish(proc, 60, "the interrupted analysis")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, said
    assert "Traceback" not in said and "KeyboardInterrupt" not in said, said
    assert "run the same command again" in said and "in the UI" not in said


def test_a_report_path_that_is_a_folder_is_refused_before_any_file(cohort, tmp_path):
    """``--report reports`` (a folder, a slip for ``reports/run.csv``) was found out only when
    the report was written, after every file: a traceback, OUT written without its report."""
    (tmp_path / "reports").mkdir()
    args = _args(cohort["pacs"], tmp_path / "out", cohort["key"])
    ran = _cadbusi([*args, "--report", str(tmp_path / "reports")])
    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert "Traceback" not in ran.stderr
    assert "--report is a folder" in ran.stdout
    assert not (tmp_path / "out").exists()
