"""Adversary, session 35: what a demanding user or a messy hospital does to the runs.

Each test reproduces a finding on the code as it was (said in its docstring). Everything is
synthetic; every subprocess has a timeout.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest

from cadbusi_assets.catalog.build import build_metadata_db
from cadbusi_assets.identity import generate_key_file
from cadbusi_assets.labeling import open_label_source
from cadbusi_assets.stages import labeling as labeling_stage
from cadbusi_assets.stages.safety import ALLOW_SHRINK_ENV
from cadbusi_assets.storage import read_partition_table
from cadbusi_assets_tests.defs.services import STUDY_DATE_ASSETS
from cadbusi_assets_tests.run_support import (
    FIRST,
    SECOND,
    finish,
    materialize_date,
    move_exam,
    ranged_run,
    two_dates_run,
)
from cadbusi_assets_tests.support import time_limit

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
@pytest.mark.parametrize("command", ["demo-data", "demo"])
def test_demo_with_no_days_is_a_clear_error(tmp_path, days, command):
    """``cadbusi demo-data OUT --days 0`` and ``cadbusi demo --days 0`` ended in a
    ``ValueError`` traceback from ``DemoConfig`` instead of argparse's one line (exit 2);
    ``cadbusi demo`` had made its key and Dagster home first."""
    args = [command, str(tmp_path / "out")] if command == "demo-data" else [command]
    result = _cadbusi([*args, "--days", days], tmp_path)
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


# -- a study whose date the warehouse corrects ------------------------------------------------
@pytest.fixture(scope="module")
def moved_study(tmp_path_factory):
    """Two one-study dates run as ``make demo`` runs them; then the warehouse corrects the exam
    date of the first date's study to the second date (a typo fixed at the hospital), and the
    dates are re-run the way the README says: the new date (its instances are still owned by
    the old date: recorded as conflicts), the old date with ``CADBUSI_ALLOW_SHRINK=1`` (its
    only study left: the shrink guard asks for it), the new date again (it now owns them).
    Returns the research zone, the environment, the moved study's image ids and the batches."""
    tmp_path = tmp_path_factory.mktemp("moved")
    env, research, raw, pseudonymizer = two_dates_run(tmp_path)
    first_batch, second_batch = pseudonymizer.batch_name(FIRST), pseudonymizer.batch_name(SECOND)
    sent = read_partition_table(research, "labelbox_data_rows", first_batch)
    assert sent is not None and sent.height, "the first date sent nothing to Labelbox"
    moved_keys = set(sent["global_key"].to_list())
    (accession,) = read_partition_table(raw, "imaging_studies", FIRST)["accession_number"]

    move_exam(tmp_path / "cohort", accession)
    for day, extra in ((SECOND, {}), (FIRST, {ALLOW_SHRINK_ENV: "1"}), (SECOND, {})):
        proc = materialize_date({**env, **extra}, STUDY_DATE_ASSETS, day)
        out = finish(proc, 300, f"the re-run of {day}")
        assert proc.returncode == 0, out[-3000:]
    now_sent = read_partition_table(research, "labelbox_data_rows", second_batch)
    live = now_sent.filter(~pl.col("withdrawn").fill_null(False))
    assert moved_keys <= set(live["global_key"].to_list()), "the new date did not take the study"
    return research, env, moved_keys, first_batch


def test_a_study_moved_to_another_date_leaves_the_catalog_whole(moved_study):
    """The old date keeps the moved study's data rows marked ``withdrawn`` (the record of
    what Labelbox holds) while the new date sends the same images under the same global keys:
    ``metadata_db``'s blocking ``unique_keys`` check failed on ``data_row_global_key`` (3
    duplicates here), and with it every export, with no way out a user could find (re-running
    either date writes the same tables again)."""
    research = moved_study[0]
    with time_limit(120, "the catalog"):
        report = build_metadata_db(research)
    assert report.unique_keys_passed, (report.duplicate_keys, report.duplicate_examples)


def test_deleting_withdrawn_data_rows_never_deletes_a_row_another_date_sends(moved_study):
    """``cadbusi delete-withdrawn`` / the ``delete_withdrawn_data_rows`` job deleted in
    Labelbox every global key marked withdrawn on the old date, although the new date sends
    that very data row (same global key): the live data rows of the moved study and their
    labels were deleted, while the new date's table still says they are in Labelbox."""
    research, env, moved_keys, _first = moved_study
    source = open_label_source(env["CADBUSI_LABELBOX"])
    labeling_stage.delete_withdrawn_data_rows(research, source, "exam date corrected")
    still_there = {str(row["global_key"]) for row in source.sent_data_rows()}
    assert moved_keys <= still_there, f"deleted {sorted(moved_keys - still_there)}"


def test_an_exam_the_warehouse_lists_on_two_dates_leaves_the_catalog_whole(tmp_path):
    """One exam (same accession, same Study Instance UID) listed by the warehouse on two dates
    (a rescheduled exam whose old row was never cancelled). The README: "the first date to
    store it owns it; the other date records it in ``retrieval_conflicts`` ... and skips it".
    The instances are skipped, but the second date still writes the study's row to its
    ``studies`` table: ``metadata_db``'s blocking ``unique_keys`` check failed on ``study_id``
    and ``study_instance_uid`` after both dates were re-run, and so did every export, for as
    long as the warehouse keeps the row."""
    env, research, raw, _pseudonymizer = two_dates_run(tmp_path)
    (accession,) = read_partition_table(raw, "imaging_studies", FIRST)["accession_number"]
    with duckdb.connect(str(tmp_path / "cohort" / "warehouse.duckdb")) as con:
        con.execute(
            "INSERT INTO radiology_exams SELECT * REPLACE (exam_date + 1 AS exam_date, "
            "exam_datetime + INTERVAL 1 DAY AS exam_datetime) FROM radiology_exams "
            "WHERE accession_number = ?",
            [accession],
        )
    for day in (SECOND, FIRST):
        proc = materialize_date(env, STUDY_DATE_ASSETS, day)
        out = finish(proc, 300, f"the re-run of {day}")
        assert proc.returncode == 0, out[-3000:]
    with time_limit(120, "the catalog"):
        report = build_metadata_db(research)
    assert report.unique_keys_passed, (report.duplicate_keys, report.duplicate_examples)


def test_an_addended_report_beside_its_final_one_is_never_dropped_silently(tmp_path):
    """The warehouse returns an exam twice, once ``FINAL`` (BI-RADS 3) and once ``ADDENDED``
    with an addendum that changes the assessment to BI-RADS 5 (same accession, same Study
    Instance UID). The cohort kept the older ``FINAL`` row (``final reports first``) and
    excluded the addendum as ``duplicate row``; the run succeeded with no problem beside the
    date, so the study's BI-RADS (and its labels) silently stayed 3. Pathology does better:
    disagreeing rows of one specimen are counted and shown as a problem. A date whose rows of
    one exam disagree on the report must at least say so (a problem in its report), if not
    keep the addendum or fail with a reason."""
    env, _research, raw, _pseudonymizer = two_dates_run(tmp_path)
    (accession,) = read_partition_table(raw, "imaging_studies", FIRST)["accession_number"]
    with duckdb.connect(str(tmp_path / "cohort" / "warehouse.duckdb")) as con:
        con.execute(
            "INSERT INTO radiology_exams SELECT * REPLACE (report_text || "
            "'\nADDENDUM: on review of the prior, BI-RADS 5: highly suggestive of malignancy.'"
            " AS report_text, 'ADDENDED' AS report_status) FROM radiology_exams "
            "WHERE accession_number = ?",
            [accession],
        )
    proc = materialize_date(env, STUDY_DATE_ASSETS, FIRST)
    out = finish(proc, 300, f"the re-run of {FIRST}")
    cohort = read_partition_table(raw, "imaging_studies", FIRST)
    kept = cohort.filter(pl.col("accession_number") == accession)
    if proc.returncode == 0 and kept.height == 1 and kept["birads"][0] == "5":
        return  # the addendum was taken
    if proc.returncode != 0:
        return  # the date failed (with its reason in the run log)
    problems = [
        problem
        for asset in ("radiology_reports", "imaging_studies")
        for problem in json.loads(
            (Path(env["CADBUSI_RAW_ZONE"]) / "reports" / asset / f"{FIRST}.json").read_text()
        )["problems"]
    ]
    assert problems, f"BI-RADS {kept['birads'].to_list()} kept, nothing said:\n{out[-1500:]}"


def _all_images(research) -> int:
    """Images of every batch of the research zone."""
    tables = research.iter_files("tables", "images", suffix=".parquet")
    return sum(pl.read_parquet(io.BytesIO(path.read_bytes())).height for path in tables)


def test_a_study_moved_to_an_earlier_date_keeps_its_images_after_a_ranged_re_run(tmp_path):
    """The warehouse corrects a study's exam date one day back (second date -> first), and
    both dates are re-run in one ranged run (a UI backfill of the range, ``make demo``, the
    late-arrivals schedule: each step takes the dates in order). The first date finds the
    study's instances owned by the second date and skips them (``retrieval_conflicts``); the
    second date then deletes them (the study left its cohort). After the run, the moved study
    has no image on either date, while ``raw_dicom`` reports every study complete and the run
    succeeds: the images are silently gone from the dataset, and since each date's study
    count now matches the warehouse, the late-arrivals schedule never re-runs the first date
    to bring them back."""
    env, research, raw, _pseudonymizer = two_dates_run(tmp_path, studies_per_day=(2, 2))
    before = _all_images(research)
    moved = read_partition_table(raw, "imaging_studies", SECOND)["accession_number"][0]
    move_exam(tmp_path / "cohort", moved, days=-1)
    proc = ranged_run(env, STUDY_DATE_ASSETS, FIRST, SECOND)
    out = finish(proc, 400, "the ranged re-run")
    assert proc.returncode == 0, out[-3000:]
    assert moved in read_partition_table(raw, "imaging_studies", FIRST)["accession_number"]
    assert _all_images(research) == before, "the moved study's images are on neither date"


class _AskedToDelete:
    """A label source that records which global keys it is asked to delete (and deletes
    them in the wrapped folder source)."""

    def __init__(self, source):
        self.source = source
        self.name = source.name
        self.asked: list[str] = []

    def delete_data_rows(self, global_keys):
        self.asked += list(global_keys)
        return self.source.delete_data_rows(global_keys)


def test_a_data_row_sent_again_after_its_deletion_is_deleted_again_when_withdrawn(tmp_path):
    """A study leaves the warehouse (its data rows are withdrawn), a person deletes the
    withdrawn data rows in Labelbox (``cadbusi delete-withdrawn --reason``), the study comes
    back (the rows are sent again under the same global keys) and leaves again. The second
    ``delete-withdrawn`` said "6 already deleted ... 0 to delete" and asked Labelbox for
    nothing: the deletion record of the first time is matched by global key only, so the
    rows sent after it stay in Labelbox for good (the folder source used in tests rewrites
    its outbox on each send and hides this; Labelbox keeps a data row until it is deleted)."""
    env, research, raw, pseudonymizer = two_dates_run(tmp_path, studies_per_day=(2, 2))
    accession = read_partition_table(raw, "imaging_studies", FIRST)["accession_number"][0]
    warehouse = str(tmp_path / "cohort" / "warehouse.duckdb")
    shrink = {**env, ALLOW_SHRINK_ENV: "1"}

    def rerun(run_env):
        proc = materialize_date(run_env, STUDY_DATE_ASSETS, FIRST)
        out = finish(proc, 300, f"the re-run of {FIRST}")
        assert proc.returncode == 0, out[-3000:]

    def withdrawn() -> set[str]:
        table = read_partition_table(
            research, "labelbox_data_rows", pseudonymizer.batch_name(FIRST)
        )
        return set(table.filter(pl.col("withdrawn").fill_null(False))["global_key"].to_list())

    with duckdb.connect(warehouse) as con:
        con.execute(
            "CREATE TABLE saved AS SELECT * FROM radiology_exams WHERE accession_number = ?",
            [accession],
        )
        con.execute("DELETE FROM radiology_exams WHERE accession_number = ?", [accession])
    rerun(shrink)
    first_time = withdrawn()
    assert first_time, "the study's data rows were not withdrawn"
    source = open_label_source(env["CADBUSI_LABELBOX"])
    labeling_stage.delete_withdrawn_data_rows(research, source, "study left the warehouse")

    with duckdb.connect(warehouse) as con:
        con.execute("INSERT INTO radiology_exams SELECT * FROM saved")
    rerun(env)
    assert not withdrawn(), "the study came back but its rows stayed withdrawn"
    sent_again = {str(row["global_key"]) for row in source.sent_data_rows()}
    assert first_time <= sent_again, "the returning study's rows were not sent again"

    with duckdb.connect(warehouse) as con:
        con.execute("DELETE FROM radiology_exams WHERE accession_number = ?", [accession])
    rerun(shrink)
    assert withdrawn() == first_time
    asking = _AskedToDelete(source)
    labeling_stage.delete_withdrawn_data_rows(research, asking, "study left the warehouse again")
    assert first_time <= set(asking.asked), f"asked to delete only {sorted(asking.asked)}"


def test_a_study_moved_to_a_later_date_moves_its_images_in_one_ranged_run(tmp_path):
    """The mirror case (the adversary's report, made a test by the lead): the warehouse moves a
    study one date forward and both dates are re-run in one ranged run. The first date let go
    of the study's instances and the second took them, but the first date's de-identification
    refused its drop (11 -> 4 instances, the shrink guard): its research batch kept the moved
    study's images, the catalog found them twice (7 duplicate image ids) and every export was
    refused until a person re-ran the first date with CADBUSI_ALLOW_SHRINK=1. A drop that the
    retrieval recorded with its reason (the study left the date's cohort) is no surprise."""
    env, research, raw, _pseudonymizer = two_dates_run(tmp_path, studies_per_day=(2, 2))
    before = _all_images(research)
    moved = read_partition_table(raw, "imaging_studies", FIRST)["accession_number"][0]
    move_exam(tmp_path / "cohort", moved)
    proc = ranged_run(env, STUDY_DATE_ASSETS, FIRST, SECOND)
    out = finish(proc, 400, "the ranged re-run")
    assert proc.returncode == 0, out[-3000:]
    assert moved in read_partition_table(raw, "imaging_studies", SECOND)["accession_number"]
    assert _all_images(research) == before
    with time_limit(120, "the catalog"):
        report = build_metadata_db(research)
    assert report.unique_keys_passed, (report.duplicate_keys, report.duplicate_examples)
