"""Adversarial runs, third round (session 30): the run-safety gaps the second round left.

Each test reproduces a finding that failed on the code before its fix (said in its docstring).
Everything is synthetic; every stage run is bounded by :func:`time_limit`, every subprocess by a
timeout, and one Dagster run at a time.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import dagster as dg
import pytest

from cadbusi_assets.catalog.build import build_metadata_db, open_catalog
from cadbusi_assets.defs.automation.sensors import (
    INTERRUPTED_TAG,
    MAX_INTERRUPTED_RERUNS,
    interrupted_date_requests,
    interrupted_study_dates_sensor,
)
from cadbusi_assets.defs.resources import PseudonymKeyResource, ZonesResource
from cadbusi_assets.identity import Pseudonymizer, generate_key_file, load_key
from cadbusi_assets.stages.safety import ALLOW_SHRINK_ENV
from cadbusi_assets.storage import open_zone, read_partition_table
from cadbusi_assets.storage.tables import OPEN_BATCHES_DIR, open_batches
from cadbusi_assets_tests.support import TEST_KEY, time_limit


@pytest.fixture(autouse=True)
def _no_allow_shrink(monkeypatch):
    monkeypatch.delenv(ALLOW_SHRINK_ENV, raising=False)


# -- 1. a killed run's date is re-run by itself ----------------------------------------------
DAY = "2026-09-01"
IMAGING_RUN = [
    "radiology_reports",
    "pathology_reports",
    "imaging_studies",
    "raw_dicom",
    "deidentified_images",
    "image_features",
    "inpainted_images",
]


def _materialize(env: dict[str, str], selection: list[str], day: str) -> subprocess.Popen:
    from cadbusi_assets_tests.defs.services import BIN, ROOT

    return subprocess.Popen(
        [
            str(BIN / "dagster"),
            "asset",
            "materialize",
            "-m",
            "cadbusi_assets.definitions",
            "--select",
            ",".join(selection),
            "--partition",
            day,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _finish(proc: subprocess.Popen, timeout: float, what: str) -> str:
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
        pytest.fail(f"{what} took longer than {timeout} s")
    return out.decode(errors="replace")


def _tick(instance: dg.DagsterInstance, resources: dict, cursor: str | None = None):
    """One evaluation of ``interrupted_study_dates_sensor`` (as the daemon's tick)."""
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
    result = interrupted_study_dates_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def _catalog_images(research) -> set[str]:
    con = open_catalog(research)
    try:
        return {r[0] for r in con.execute("SELECT image_id FROM image_catalog").fetchall()}
    finally:
        con.close()


def test_a_run_killed_mid_date_is_re_run_once_by_the_sensor_and_the_date_comes_back(tmp_path):
    """A `dagster asset materialize` of one date SIGKILLed while its imaging pass replaces the
    date's tables. Before the fix the batch kept its ``open_batches`` marker for good: the
    catalog left the date out and warned, the killed run reported no failed date, so
    ``failed_study_dates_sensor`` never re-ran it, and nothing else did. Now
    ``interrupted_study_dates_sensor`` (evaluated against the killed run's instance) requests
    exactly that date, from ``deidentified_images`` on, once: a second evaluation requests
    nothing. The requested run brings the date back into the catalog and clears the marker."""
    from cadbusi_assets_tests.defs.services import product_env, write_instance_yaml
    from cadbusi_demo import DemoConfig, generate_demo_cohort

    cohort = tmp_path / "cohort"
    config = DemoConfig(
        start=dt.date.fromisoformat(DAY), days=1, studies_per_day=(1, 1), seed=11, workers=1
    )
    key_file = generate_key_file(tmp_path / "secrets" / "pseudonym.key")
    with time_limit(60, "a one-date demo cohort"):
        generate_demo_cohort(cohort, config)
    env = product_env(tmp_path / "state", cohort, key_file, CADBUSI_WORKERS="1", CADBUSI_OCR="0")
    write_instance_yaml(env)
    research_root = Path(env["CADBUSI_RESEARCH_ZONE"])
    research = open_zone(research_root, name="research")
    zones = ZonesResource(raw_uri=env["CADBUSI_RAW_ZONE"], research_uri=str(research_root))
    resources = {"zones": zones, "pseudonym_key": PseudonymKeyResource(key_file=str(key_file))}
    batch = Pseudonymizer(load_key(str(key_file))).batch_name(DAY)

    proc = _materialize(env, IMAGING_RUN, DAY)
    markers = research_root / OPEN_BATCHES_DIR
    deadline = time.monotonic() + 240
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if markers.is_dir() and any(markers.iterdir()):
                os.killpg(proc.pid, signal.SIGKILL)  # mid-date: between the date's tables
                break
            time.sleep(0.005)
        else:
            os.killpg(proc.pid, signal.SIGKILL)
            out = _finish(proc, 30, "the killed run")
            pytest.fail(f"the run ended before its imaging pass opened the batch:\n{out[-3000:]}")
    finally:
        _finish(proc, 30, "the killed run")
    assert open_batches(research) == {batch}, "the killed pass left no marker"
    with time_limit(60, "the catalog of an interrupted date"):
        report = build_metadata_db(research)
    assert report.warnings.get("study_batches_left_out_interrupted") == 1

    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        (killed,) = instance.get_runs()
        assert not killed.is_finished, "a SIGKILLed run reports nothing"
        first = _tick(instance, resources)
        assert [r.partition_key for r in first.run_requests] == [DAY]
        (request,) = first.run_requests
        assert request.run_key and DAY in request.run_key
        assert batch not in (request.run_key + str(request.tags)), "the batch name leaked"
        selection = [k.to_user_string() for k in request.asset_selection or []]
        assert selection[0] == "deidentified_images" and "inpainted_images" in selection
        again = _tick(instance, resources, first.cursor)
        assert not again.run_requests, "the same interruption was requested twice"

    rerun = _materialize(env, selection, DAY)
    out = _finish(rerun, 300, "the re-run the sensor requested")
    assert rerun.returncode == 0, out[-4000:]
    assert open_batches(research) == set(), "the re-run left the batch open"
    with time_limit(60, "the catalog after the re-run"):
        report = build_metadata_db(research)
    assert "study_batches_left_out_interrupted" not in report.warnings
    images = read_partition_table(research, "images", batch)
    assert images is not None and images.height
    assert set(images["image_id"]) <= _catalog_images(research)
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        after = _tick(instance, resources, first.cursor)
        assert not after.run_requests


def _run(instance: dg.DagsterInstance, day: str, status: dg.DagsterRunStatus, **tags: str):
    run = dg.DagsterRun(
        job_name="study_date_job",
        run_id=str(uuid.uuid4()),
        status=status,
        tags={"dagster/partition": day, **tags},
    )
    instance.add_run(run)
    return run


def test_an_interrupted_date_is_not_re_run_while_a_run_of_it_is_queued_nor_after_failing_again():
    """The request logic on its own: a date with a queued or going run (one date or a range
    that covers it) is left alone until that run ends; a new interruption of a date already
    requested is requested again; a date whose last re-runs by the sensor all failed is left to
    a person (a date that kills its run every time would otherwise loop)."""
    with dg.DagsterInstance.ephemeral() as instance:
        day, other = "2026-09-02", "2026-09-03"
        queued = _run(instance, day, dg.DagsterRunStatus.NOT_STARTED)  # created, not launched
        ranged = dg.DagsterRun(
            job_name="study_date_job",
            run_id=str(uuid.uuid4()),
            status=dg.DagsterRunStatus.STARTED,
            tags={
                "dagster/asset_partition_range_start": "2026-09-03",
                "dagster/asset_partition_range_end": "2026-09-30",
            },
        )
        instance.add_run(ranged)
        requests, cursor, notes = interrupted_date_requests(
            instance, {day: "t1", other: "t1"}, None
        )
        assert requests == [] and "2 interrupted date(s) have a run going" in notes
        instance.report_run_failed(queued)
        instance.report_run_failed(ranged)
        requests, cursor, _ = interrupted_date_requests(instance, {day: "t1", other: "t1"}, cursor)
        assert sorted(str(r.partition_key) for r in requests) == [day, other]
        requests, cursor, _ = interrupted_date_requests(instance, {day: "t1"}, cursor)
        assert requests == []
        requests, cursor, _ = interrupted_date_requests(instance, {day: "t2"}, cursor)
        assert [r.partition_key for r in requests] == [day], "a second interruption"
        for _ in range(MAX_INTERRUPTED_RERUNS):
            _run(instance, day, dg.DagsterRunStatus.FAILURE, **{INTERRUPTED_TAG: "t"})
        requests, cursor, notes = interrupted_date_requests(instance, {day: "t3"}, cursor)
        assert requests == [] and "re-run them by hand" in notes


# -- 2. the de-identification alone has the one pass's guards --------------------------------
def _small_date(tmp_path: Path, number: int, day: str, accession: str = "SYNTH0001"):
    from cadbusi_assets.pacs.folder import FolderPacs
    from cadbusi_assets.pacs.synthetic import synthetic_uid
    from cadbusi_assets.stages import retrieval
    from cadbusi_assets_tests.stages.test_data_safety import _add_imaged
    from cadbusi_assets_tests.test_adversarial_runs_2 import _cohort_with_accession

    raw = open_zone(tmp_path / "raw", name="raw").ensure()
    research = open_zone(tmp_path / "research", name="research").ensure()
    study = synthetic_uid(number)
    pacs_root = tmp_path / "pacs"
    _add_imaged(pacs_root, study, 1, day=day)
    _add_imaged(pacs_root, study, 2, day=day)
    _cohort_with_accession(raw, day, study, accession)
    retrieval.retrieve_partition(FolderPacs(pacs_root), raw, Pseudonymizer(TEST_KEY), day)
    return raw, research, study


def test_the_de_identification_alone_refuses_an_accession_changed_in_the_warehouse_only(tmp_path):
    """``deidentified_images`` materialized alone (``deidentify_partition``) after an accession
    was corrected in the warehouse only. The one pass refused this since session 29; before the
    fix the de-identification alone rewrote the date and its images lost their report. Now it
    refuses before anything is written, and ``allow_shrink`` accepts the change."""
    from cadbusi_assets.pacs.folder import FolderPacs
    from cadbusi_assets.stages import deidentification as deid
    from cadbusi_assets.stages import retrieval
    from cadbusi_assets.stages.report import StageFailure
    from cadbusi_assets_tests.stages.test_data_safety import DAY_A
    from cadbusi_assets_tests.test_adversarial_runs_2 import _cohort_with_accession, _tree

    pseudo = Pseudonymizer(TEST_KEY)
    with time_limit(180, "three de-identifications of one small date"):
        raw, research, study = _small_date(tmp_path, 791, DAY_A)
        deid.deidentify_partition(raw, research, pseudo, DAY_A, verify_ocr=False, workers=1)
        before = _tree(tmp_path / "research")
        _cohort_with_accession(raw, DAY_A, study, "SYNTH0002")  # corrected in the warehouse only
        retrieval.retrieve_partition(FolderPacs(tmp_path / "pacs"), raw, pseudo, DAY_A)
        with pytest.raises(StageFailure, match="different accession numbers") as refused:
            deid.deidentify_partition(raw, research, pseudo, DAY_A, verify_ocr=False, workers=1)
        assert "SYNTH" not in str(refused.value)
        assert _tree(tmp_path / "research") == before, "a refused date rewrote the research zone"
        deid.deidentify_partition(
            raw, research, pseudo, DAY_A, verify_ocr=False, workers=1, allow_shrink=True
        )
    studies = read_partition_table(research, deid.STUDIES_TABLE, pseudo.batch_name(DAY_A))
    assert studies is not None
    assert studies["accession_pseudo"].to_list() == [pseudo.accession_number("SYNTH0002")]


def test_the_de_identification_alone_stopped_between_its_tables_leaves_its_batch_open(
    tmp_path, monkeypatch
):
    """``deidentify_partition`` replaces the date's tables one after the other (raw links and
    quarantine, then instances, images, quarantine, studies) and the asset's leak check runs
    after them. Before the fix a pass stopped in between (a failed write here; a SIGKILL alike)
    left new images beside the previous studies with nothing marking it, and the catalog loaded
    the mix. Now the batch is marked open until the tables and the check are done, the catalog
    leaves it out, and a re-run closes it."""
    from cadbusi_assets.stages import deidentification as deid
    from cadbusi_assets_tests.stages.test_data_safety import DAY_A

    pseudo = Pseudonymizer(TEST_KEY)
    batch = pseudo.batch_name(DAY_A)
    real_write = deid.write_table

    def fails_at_studies(zone, kind, table, partition, frame):
        if table == deid.STUDIES_TABLE:
            raise OSError("disk full")
        return real_write(zone, kind, table, partition, frame)

    def leak_check_stopped(_result):
        raise RuntimeError("killed during the leak check")

    with time_limit(180, "four de-identifications of one small date"):
        raw, research, _ = _small_date(tmp_path, 792, DAY_A)
        with monkeypatch.context() as patch:
            patch.setattr(deid, "write_table", fails_at_studies)
            with pytest.raises(OSError, match="disk full"):
                deid.deidentify_partition(raw, research, pseudo, DAY_A, verify_ocr=False, workers=1)
        assert open_batches(research) == {batch}, "a pass stopped between its tables"
        assert build_metadata_db(research).warnings["study_batches_left_out_interrupted"] == 1
        deid.deidentify_partition(raw, research, pseudo, DAY_A, verify_ocr=False, workers=1)
        assert open_batches(research) == set()
        with pytest.raises(RuntimeError, match="killed"):
            deid.deidentify_partition(
                raw,
                research,
                pseudo,
                DAY_A,
                verify_ocr=False,
                workers=1,
                after_deidentification=leak_check_stopped,
            )
        assert open_batches(research) == {batch}, "stopped in the leak check"
        deid.deidentify_partition(raw, research, pseudo, DAY_A, verify_ocr=False, workers=1)
    assert open_batches(research) == set()
    assert "study_batches_left_out_interrupted" not in build_metadata_db(research).warnings
