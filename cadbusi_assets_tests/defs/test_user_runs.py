"""Runs launched the way users launch them: a backfill from the UI (GraphQL) carried out by the
daemon, a date re-run with `dagster asset materialize`, a run terminated from the UI, a run
whose process is killed, and the daemon's sensors. Every wait is bounded.

Before the fix (issue 9) the UI backfill hung for good after `deidentified_images` (the step
process waited at exit on idle pool workers), the CLI re-run hung 3 times of 3, a terminated
run left its workers running, a killed run stayed STARTED forever, one failing date failed
every date of its run, and the catalog never rebuilt by itself.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path
from urllib.parse import urlparse

import dagster as dg
import psutil
import pytest

from cadbusi_assets.defs.reporting import FAILED_DATES_TAG
from cadbusi_assets.defs.run_process import run_pid
from cadbusi_assets.identity import generate_key_file
from cadbusi_assets_tests.defs.services import (
    ROOT,
    STUDY_DATE_ASSETS,
    TERMINATE_RUN,
    dagster_services,
    launch_backfill,
    materialized,
    process_tree,
    product_env,
    wait_backfill,
    wait_for,
    write_instance_yaml,
)
from cadbusi_assets_tests.run_support import finish, materialize_date
from cadbusi_assets_tests.support import process_running
from cadbusi_demo import DemoConfig, generate_demo_cohort

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("user_runs")]

COHORT = DemoConfig(start=dt.date(2026, 9, 1), days=5, studies_per_day=(1, 2), seed=11, workers=2)
DATES = [d.isoformat() for d in COHORT.dates()]
BROKEN_DATE = DATES[2]

SENSORS = """
{ sensorsOrError(repositorySelector:
    {repositoryLocationName: "cadbusi_assets", repositoryName: "__repository__"}) {
    ... on Sensors { results { name sensorState { status ticks(limit: 1) { status } } } } } }
"""

PARTITION_STATUS = """
query($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    ... on AssetNode {
      assetPartitionStatuses {
        ... on TimePartitionStatuses { ranges { status startKey endKey } }
      }
    }
  }
}
"""


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("user_cohort")
    generate_demo_cohort(out, COHORT)
    return out


@pytest.fixture(scope="module")
def key(tmp_path_factory) -> Path:
    return generate_key_file(tmp_path_factory.mktemp("user_secrets") / "pseudonym.key")


def partition_status(services, asset: str) -> dict[str, str]:
    data = services.graphql(PARTITION_STATUS, {"key": {"path": [asset]}})["assetNodeOrError"]
    out = {}
    for span in data["assetPartitionStatuses"]["ranges"]:
        day = dt.date.fromisoformat(span["startKey"])
        end = dt.date.fromisoformat(span["endKey"])
        while day <= end:
            out[day.isoformat()] = span["status"]
            day += dt.timedelta(days=1)
    return out


def break_date(env: dict[str, str], day: str) -> Path:
    """Make `raw_dicom` fail for ``day`` only: a folder where its manifest table must go."""
    blocker = Path(env["CADBUSI_RAW_ZONE"]) / "tables" / "retrieval_instances" / f"{day}.parquet"
    blocker.mkdir(parents=True)
    (blocker / "in-the-way").write_text("x")
    return blocker


def runs_alive(instance: dg.DagsterInstance) -> list[int]:
    alive = []
    for run in instance.get_runs():
        pid = run_pid(run)
        if pid and process_running(pid):
            alive.append(pid)
    return alive


def test_ui_backfill_finishes_isolates_a_failing_date_and_automation_rebuilds_catalog(
    cohort, key, tmp_path
):
    env = product_env(tmp_path, cohort, key)
    write_instance_yaml(env)
    blocker = break_date(env, BROKEN_DATE)
    with dagster_services(env) as services:
        instance = services.instance()
        backfill_id = launch_backfill(services, STUDY_DATE_ASSETS, DATES)
        status = wait_backfill(services, backfill_id, timeout=900)
        assert status in {"COMPLETED", "COMPLETED_SUCCESS"}, status

        # One ranged run for the five dates, not one run per date.
        backfill_runs = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
        assert len(backfill_runs) == 1
        ranged = backfill_runs[0]
        assert ranged.is_success
        assert json.loads(ranged.tags[FAILED_DATES_TAG]) == {BROKEN_DATE: "raw_dicom"}

        # The other four dates went all the way to Labelbox data rows in that same run.
        good = [d for d in DATES if d != BROKEN_DATE]
        research = Path(env["CADBUSI_RESEARCH_ZONE"])
        data_row_tables = list((research / "tables" / "labelbox_data_rows").glob("*.parquet"))
        assert len(data_row_tables) == len(good)
        for asset in STUDY_DATE_ASSETS:
            assert set(good) <= materialized(instance, asset), asset

        # The failing date was re-run alone by the sensor, failed there, and shows as failed.
        retry = wait_for(
            lambda: [
                r
                for r in instance.get_runs(
                    dg.RunsFilter(tags={"dagster/run_key": f"{ranged.run_id}:{BROKEN_DATE}"})
                )
                if r.is_finished
            ],
            timeout=300,
            what="the failed date's own run",
            services=services,
        )[0]
        assert retry.tags["dagster/partition"] == BROKEN_DATE
        assert retry.status == dg.DagsterRunStatus.FAILURE
        assert partition_status(services, "raw_dicom").get(BROKEN_DATE) == "FAILED"
        assert partition_status(services, "raw_dicom").get(good[0]) == "MATERIALIZED"

        # Automation (on by default) rebuilt the catalog and labels after the backfill.
        wait_for(
            lambda: instance.get_latest_materialization_event(dg.AssetKey("metadata_db")),
            timeout=300,
            what="metadata_db rebuilt by declarative automation",
            services=services,
        )
        assert instance.get_latest_materialization_event(dg.AssetKey("diagnosis_labels"))

        # Fix the cause and re-execute the failed date's run: exactly that date is redone.
        blocker.joinpath("in-the-way").unlink()
        blocker.rmdir()
        data = services.graphql(
            """mutation($id: String!) { launchRunReexecution(reexecutionParams:
                 {parentRunId: $id, strategy: FROM_FAILURE}) {
                 __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }""",
            {"id": retry.run_id},
        )["launchRunReexecution"]
        assert data["__typename"] == "LaunchRunSuccess", data
        rerun_id = data["run"]["runId"]
        rerun = wait_for(
            lambda: (r := instance.get_run_by_id(rerun_id)) and r.is_finished and r,
            timeout=600,
            what="the re-execution of the failed date",
            services=services,
        )
        assert rerun.is_success, services.log_tail("daemon")
        assert rerun.tags["dagster/partition"] == BROKEN_DATE
        assert BROKEN_DATE in materialized(instance, "labelbox_data_rows")
        assert len(list((research / "tables" / "labelbox_data_rows").glob("*.parquet"))) == 5

        # Every sensor that must run without a person is on by default and was ticked.
        sensors = {n["name"]: n for n in services.graphql(SENSORS)["sensorsOrError"]["results"]}
        for sensor in (
            "labelbox_labels_sensor",
            "failed_study_dates_sensor",
            "dead_run_sensor",
            "default_automation_condition_sensor",
            "export_partition_sensor",
        ):
            state = sensors[sensor]["sensorState"]
            assert state["status"] == "RUNNING", sensor
            assert state["ticks"], f"the daemon never ticked {sensor}"
        wait_for(lambda: not runs_alive(instance), 30, "run processes to exit", services)


def test_cli_rerun_of_one_date_finishes_and_leaves_no_process(cohort, key, tmp_path):
    env = product_env(tmp_path, cohort, key)
    write_instance_yaml(env)
    day = DATES[1]
    selection = STUDY_DATE_ASSETS[:6]
    for attempt in range(2):  # the README's re-run: the second run replaces the first
        proc = materialize_date(env, selection, day)
        out = finish(proc, 420, f"`dagster asset materialize` (attempt {attempt + 1})")
        assert proc.returncode == 0, out[-4000:]
        # Nothing of the command's session survives it (no orphaned pool workers); the fork
        # server and resource tracker notice their owner is gone within moments.
        session = proc.pid
        wait_for(
            lambda session=session: not [p for p in psutil.pids() if _session_id(p) == session],
            timeout=10,
            what="every process of the command to exit",
        )
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        runs = instance.get_runs()
        assert len(runs) == 2 and all(r.is_success for r in runs)
        assert day in materialized(instance, "image_features")


def _session_id(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except (ProcessLookupError, PermissionError):
        return None


def _wait_for_workers(instance: dg.DagsterInstance, run_id: str, services, minimum: int = 3):
    """The run's process, once it has started its pool (forkserver + workers)."""

    def tree():
        run = instance.get_run_by_id(run_id)
        if run.is_finished:
            raise AssertionError(f"run finished before it could be stopped: {run.status}")
        pid = run_pid(run)
        procs = process_tree(pid) if pid else []
        return procs if len(procs) >= 1 + minimum else None

    return wait_for(
        tree, timeout=400, what="the run's worker processes", services=services, poll=0.1
    )


def _launch_one_date(services, day: str) -> str:
    data = services.graphql(
        """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) {
             __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }""",
        {
            "p": {
                "selector": {
                    "repositoryLocationName": "cadbusi_assets",
                    "repositoryName": "__repository__",
                    "jobName": "study_date_job",
                },
                "executionMetadata": {"tags": [{"key": "dagster/partition", "value": day}]},
            }
        },
    )["launchRun"]
    assert data["__typename"] == "LaunchRunSuccess", data
    return data["run"]["runId"]


def test_terminated_run_stops_its_workers_and_a_killed_run_is_marked_failed(cohort, key, tmp_path):
    env = product_env(tmp_path, cohort, key, CADBUSI_CINE_FRAME_STEP="1")
    write_instance_yaml(env)
    with dagster_services(env) as services:
        instance = services.instance()
        # Terminate from the UI while the workers are busy.
        run_id = _launch_one_date(services, DATES[4])
        procs = _wait_for_workers(instance, run_id, services)
        # The step may finish its last image between the workers being seen and the
        # interrupt reaching the run (a race on a loaded machine, the request itself taking
        # a moment): a step that completed may report then; what must never happen is an
        # interrupted step reporting.
        requested = time.time()
        data = services.graphql(TERMINATE_RUN, {"runId": run_id})["terminateRun"]
        assert data["__typename"] == "TerminateRunSuccess", data
        run = wait_for(
            lambda: (r := instance.get_run_by_id(run_id)).is_finished and r,
            timeout=60,
            what="the terminated run to end",
            services=services,
        )
        assert run.status == dg.DagsterRunStatus.CANCELED
        gone = wait_for(
            lambda: not [p for p in procs if process_running(p)],
            timeout=20,
            what="every process of the terminated run to exit",
            services=services,
        )
        assert gone
        time.sleep(5)  # a canceled run never resumes
        records = instance.get_records_for_run(run_id).records
        late = [
            r
            for r in records
            if r.event_log_entry.dagster_event
            and r.event_log_entry.dagster_event.event_type_value == "ASSET_MATERIALIZATION"
            and r.event_log_entry.dagster_event.asset_key == dg.AssetKey("image_features")
            and r.event_log_entry.timestamp > requested
        ]
        outcomes = [
            r.event_log_entry.dagster_event.event_type_value
            for r in records
            if r.event_log_entry.dagster_event
            and r.event_log_entry.dagster_event.step_key == "imaging_step"
            and r.event_log_entry.dagster_event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE")
        ]
        # reported after the request only by a step that then completed (its last image done
        # before the interrupt reached it): an interrupted step reports nothing
        assert not late or outcomes == ["STEP_SUCCESS"], outcomes
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.CANCELED

        # Kill a run's process outright: the dead-run sensor marks it failed.
        run_id = _launch_one_date(services, DATES[3])
        procs = _wait_for_workers(instance, run_id, services)
        for proc in procs:
            proc.kill()
        run = wait_for(
            lambda: (r := instance.get_run_by_id(run_id)).is_finished and r,
            timeout=120,
            what="the killed run to be marked failed",
            services=services,
        )
        assert run.status == dg.DagsterRunStatus.FAILURE
        wait_for(
            lambda: not [p for p in procs if process_running(p)],
            timeout=20,
            what="the killed run's workers to exit with their owner",
            services=services,
        )


def test_a_killed_ui_backfill_has_every_unfinished_date_re_run_by_the_daemon(cohort, key, tmp_path):
    """A UI backfill of three dates (one ranged run) whose process is SIGKILLed, with its
    workers, while the imaging pass writes the first date. Before the fix the daemon re-ran
    only that first date (the one with an open-batch marker); the other two were whole but
    not updated, shown failed, and re-run by nothing. Now ``interrupted_study_dates_sensor``
    launches one run per unfinished date, each once, they succeed, every date is materialized
    and every date's images are in the catalog."""
    from cadbusi_assets.catalog.build import build_metadata_db
    from cadbusi_assets.defs.automation.sensors import KILLED_RUN_TAG
    from cadbusi_assets.identity import Pseudonymizer, load_key
    from cadbusi_assets.storage import open_zone, read_partition_table
    from cadbusi_assets_tests.run_support import catalog_images

    env = product_env(tmp_path, cohort, key, CADBUSI_OCR="0", CADBUSI_WORKERS="1")
    write_instance_yaml(env)
    days = DATES[:3]
    markers = Path(env["CADBUSI_RESEARCH_ZONE"]) / "open_batches"
    with dagster_services(env) as services:
        instance = services.instance()
        backfill_id = launch_backfill(services, STUDY_DATE_ASSETS, days)
        wait_for(
            lambda: markers.is_dir() and any(markers.iterdir()),
            timeout=600,
            what="the backfill's imaging pass to open its first date",
            services=services,
            poll=0.02,
        )
        (run,) = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
        pid = run_pid(run)
        assert pid, "the ranged run recorded no process"
        for proc in process_tree(pid):
            proc.kill()

        def reruns():
            found = [r for r in instance.get_runs() if r.tags.get(KILLED_RUN_TAG) == run.run_id]
            return found if len(found) >= len(days) and all(r.is_finished for r in found) else None

        done = wait_for(reruns, 600, "the re-runs of the killed backfill", services, poll=2.0)
        assert sorted(r.tags["dagster/partition"] for r in done) == days, "each date once"
        assert all(r.is_success for r in done), [r.status for r in done]
        for asset in STUDY_DATE_ASSETS:
            assert set(days) <= materialized(instance, asset), asset
        assert not (markers.is_dir() and any(markers.iterdir())), "a batch stayed open"
    research = open_zone(env["CADBUSI_RESEARCH_ZONE"], name="research")
    report = build_metadata_db(research)
    assert "study_batches_left_out_interrupted" not in report.warnings
    pseudonymizer = Pseudonymizer(load_key(str(key)))
    in_catalog = catalog_images(research)
    for day in days:
        images = read_partition_table(research, "images", pseudonymizer.batch_name(day))
        assert images is not None and set(images["image_id"]) <= in_catalog, day


def test_ui_backfill_on_the_postgres_instance(cohort, key, tmp_path, postgres):
    url = urlparse(postgres.dsn)
    env = product_env(
        tmp_path,
        cohort,
        key,
        DAGSTER_PG_HOST=url.hostname or "127.0.0.1",
        DAGSTER_PG_PORT=str(url.port),
        DAGSTER_PG_USER=url.username or "",
        DAGSTER_PG_PASSWORD=url.password or "",
        DAGSTER_PG_DB=url.path.lstrip("/"),
    )
    Path(env["DAGSTER_HOME"], "dagster.yaml").write_text(
        (ROOT / "deploy" / "dagster.production.yaml").read_text()
    )
    with dagster_services(env) as services:
        instance = services.instance()
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        backfill_id = launch_backfill(services, STUDY_DATE_ASSETS, DATES[:2])
        status = wait_backfill(services, backfill_id, timeout=600)
        assert status in {"COMPLETED", "COMPLETED_SUCCESS"}, status
        for asset in STUDY_DATE_ASSETS:
            assert set(DATES[:2]) <= materialized(instance, asset), asset


def test_two_concurrent_runs_of_one_date_are_serialized(cohort, key, tmp_path):
    """Two `dagster asset materialize` of the same date at once, with different settings (every
    cine frame vs every 4th): before the fix the tables listed PNGs that were not on disk."""
    import polars as pl

    base = product_env(tmp_path, cohort, key)
    write_instance_yaml(base)
    day = DATES[4]
    selection = STUDY_DATE_ASSETS[:6]
    procs = [
        materialize_date({**base, "CADBUSI_CINE_FRAME_STEP": step}, selection, day)
        for step in ("1", "4")
    ]
    outputs = []
    for proc in procs:
        outputs.append(finish(proc, 600, "a concurrent run", others=procs))
        assert proc.returncode == 0, outputs[-1][-3000:]
    assert any("waiting for another run of this partition" in o for o in outputs)
    research = Path(base["CADBUSI_RESEARCH_ZONE"])
    for table, column in (("images", "png_path"), ("instances", "dicom_path")):
        frames = list((research / "tables" / table).glob("*.parquet"))
        assert frames, table
        for frame in frames:
            for path in pl.read_parquet(frame)[column].drop_nulls().to_list():
                assert (research / path).is_file(), f"{table} lists a missing file"
