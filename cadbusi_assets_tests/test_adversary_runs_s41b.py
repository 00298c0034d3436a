"""Adversary, round 10: runs users launch, the open ends of round 9
(``test_adversary_runs_s41.py``).

1. A user's "Re-execute" in the UI of a run that ``interrupted_study_dates_sensor`` launched:
   Dagster copies the parent's tags to the child, ``cadbusi/rerun_of_interrupted`` included,
   so the user's runs counted as the sensor's tries: after one re-run of its own and a user's
   failed re-execution of it, the sensor said the date "failed their last 3 re-runs" and left
   it to a person. A run counts as the sensor's only when it is no re-execution.

2. "Re-execute from failure" (GraphQL) of a ranged run of two dates: the second failed in the
   imaging step, the first then failed the ``labelbox_data_rows`` step (the run FAILURE). Held:
   the new run redid that step for the first date only, kept skipping the second (its imaging
   step is not re-run), listed it as failed and ended SUCCESS; ``failed_study_dates_sensor``
   re-ran the second date alone from ``deidentified_images`` (SUCCESS); the first date's raw
   and research files stayed byte-identical. A ranged run that succeeded with a failed date
   has no "from failure" (Dagster refuses it: no step failed); "all steps" is round 9's test.

``cadbusi/retry_of`` (``failed_study_dates_sensor``) was inherited the same way and read by
nothing (that sensor has no count of tries: it re-runs the failed dates of each successful
ranged run once, by run key); round 3 (``test_adversary_data_s42.py``) dropped it: the run key
names the ranged run.

Everything is synthetic; every subprocess has a timeout.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import dagster as dg
import pytest

from cadbusi_assets_tests.run_support import FIRST, SECOND
from cadbusi_assets_tests.support import time_limit

pytestmark = [pytest.mark.xdist_group("adversary_runs_s41b")]


def _sensor_resources(tmp_path: Path) -> dict:
    from cadbusi_assets.defs.resources import PseudonymKeyResource, ZonesResource
    from cadbusi_assets.identity import generate_key_file
    from cadbusi_assets.storage import open_zone

    key = generate_key_file(tmp_path / "secrets" / "pseudonym.key")
    raw = open_zone(tmp_path / "raw", name="raw").ensure()
    research = open_zone(tmp_path / "research", name="research").ensure()
    return {
        "zones": ZonesResource(raw_uri=str(raw.root), research_uri=str(research.root)),
        "pseudonym_key": PseudonymKeyResource(key_file=str(key)),
    }


def _failed_before_start(instance: dg.DagsterInstance, tags: dict, parent=None) -> dg.DagsterRun:
    """A run of the study-date assets that failed before it started (its location broken);
    with ``parent``, a re-execution of it as the UI makes one (the parent's tags copied)."""
    from cadbusi_assets.defs.automation.schedules import STUDY_DATE_ASSETS

    lineage = {}
    if parent is not None:
        root = parent.root_run_id or parent.run_id
        tags = {**parent.tags, "dagster/parent_run_id": parent.run_id, "dagster/root_run_id": root}
        lineage = {"parent_run_id": parent.run_id, "root_run_id": root}
    return instance.add_run(
        dg.DagsterRun(
            job_name="__ASSET_JOB",
            status=dg.DagsterRunStatus.FAILURE,
            asset_selection=frozenset(STUDY_DATE_ASSETS),
            tags=tags,
            **lineage,
        )
    )


def test_a_users_re_execution_of_the_sensors_re_run_is_not_counted_as_the_sensors_try(tmp_path):
    """A date's run failed before it started; ``interrupted_study_dates_sensor`` re-ran it
    (failed again), a user clicked "Re-execute" on that run (failed), the sensor re-ran the
    date once more (failed). Before: the user's run inherited ``cadbusi/rerun_of_interrupted``
    and counted as the sensor's: after two tries of its own the sensor said the date "failed
    their last 3 re-runs" and gave up. Now the sensor tries a third time, and gives up only
    after three of its own re-runs in a row failed."""
    from cadbusi_assets.defs.automation.sensors import MAX_INTERRUPTED_RERUNS
    from cadbusi_assets_tests.run_support import sensor_tick

    resources = _sensor_resources(tmp_path)
    day = "2026-09-01"
    with dg.DagsterInstance.ephemeral() as instance:
        _failed_before_start(instance, {"dagster/partition": day})
        tick = sensor_tick(instance, resources)
        (request,) = tick.run_requests
        sensors_runs = [_failed_before_start(instance, {"dagster/partition": day, **request.tags})]
        tick = sensor_tick(instance, resources, tick.cursor)
        assert [r.partition_key for r in tick.run_requests] == [day], tick.skip_reason
        # the user re-executes the sensor's run from the UI: it fails as well
        _failed_before_start(instance, {}, parent=sensors_runs[0])
        tick = sensor_tick(instance, resources, tick.cursor)
        assert [r.partition_key for r in tick.run_requests] == [day], tick.skip_reason
        sensors_runs.append(
            _failed_before_start(instance, {"dagster/partition": day, **request.tags})
        )
        tick = sensor_tick(instance, resources, tick.cursor)
        said = tick.skip_reason.skip_message if tick.skip_reason else ""
        assert [r.partition_key for r in tick.run_requests] == [day], (
            f"given up after {len(sensors_runs)} re-runs of its own: {said}"
        )
        assert len(sensors_runs) < MAX_INTERRUPTED_RERUNS
        for _ in range(MAX_INTERRUPTED_RERUNS):
            _failed_before_start(instance, {"dagster/partition": day, **request.tags})
        last = sensor_tick(instance, resources, tick.cursor)
        said = last.skip_reason.skip_message if last.skip_reason else ""
        assert last.run_requests == [] and f"re-runs: {day}" in (said or ""), said


RECORDS = ["radiology_reports", "pathology_reports", "imaging_studies"]
IMAGING = ["deidentified_images", "image_features", "inpainted_images"]
REEXECUTE = """mutation($id: String!, $strategy: ReexecutionStrategy!) {
  launchRunReexecution(reexecutionParams: {parentRunId: $id, strategy: $strategy}) {
    __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""


def _two_date_deployment(tmp_path: Path) -> dict[str, str]:
    from cadbusi_assets_tests.defs.services import checkout_deployment
    from cadbusi_demo import DemoConfig, generate_demo_cohort

    config = DemoConfig(
        start=dt.date.fromisoformat(FIRST), days=2, studies_per_day=(1, 1), seed=11, workers=1
    )
    with time_limit(90, "a demo cohort"):
        generate_demo_cohort(tmp_path / "cohort", config)
    return checkout_deployment(tmp_path, CADBUSI_WORKERS="1")


def _blocker(path: Path) -> Path:
    """A folder where a date's table file goes: reading or writing it fails (``OSError``)."""
    path.mkdir(parents=True)
    (path / "in-the-way").write_text("x")
    return path


def _digests(root: Path, *parts: str) -> dict[str, str]:
    """sha256 of every file under ``root`` whose path holds one of ``parts`` (a date, a batch
    name, a suffix)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and any(part in str(p.relative_to(root)) for part in parts)
    }


def _materialized_by(instance, run_id: str, asset: str) -> set[str]:
    """The dates ``run_id`` materialized ``asset`` for, less those it marked failed (a ranged
    step records every date of its range, a failed one with ``outcome: failed``)."""
    out = set()
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
        event = entry.dagster_event
        if event is None or event.asset_key is None or event.asset_key.to_user_string() != asset:
            continue
        outcome = event.event_specific_data.materialization.metadata.get("outcome")
        if getattr(outcome, "value", outcome) != "failed":
            out.add(str(event.partition))
    return out


@pytest.mark.integration
def test_re_executing_from_failure_a_ranged_run_leaves_its_done_dates_and_retries_the_failed(
    tmp_path,
):
    """A ranged run (UI backfill) of two dates: the second date fails in the imaging step
    (its other date goes on), then the first fails at ``labelbox_data_rows`` (the step fails:
    no date of it left, the run FAILURE). Causes fixed, the user clicks "Re-execute from
    failure" (GraphQL, webserver and daemon in their own processes). The new run redoes only
    the step that failed: the first date's labels; the second date stays skipped there (its
    imaging step is not re-run) and is listed as failed in the new run, which ends SUCCESS;
    ``failed_study_dates_sensor`` then re-runs the second date alone from the imaging step.
    The first date's imaging and raw files stay byte-identical throughout (every image then
    in the research zone is the first date's: the second failed before writing any)."""
    from cadbusi_assets.defs.reporting import FAILED_DATES_TAG
    from cadbusi_assets.identity import Pseudonymizer, load_key
    from cadbusi_assets.identity.reidentify import LINKS_TABLE
    from cadbusi_assets.stages.labeling import DATA_ROWS_TABLE
    from cadbusi_assets_tests.defs.services import (
        dagster_services,
        launch_backfill,
        wait_backfill,
        wait_for,
    )

    env = _two_date_deployment(tmp_path)
    raw, research = Path(env["CADBUSI_RAW_ZONE"]), Path(env["CADBUSI_RESEARCH_ZONE"])
    batch = Pseudonymizer(load_key(env["CADBUSI_PSEUDONYM_KEY_FILE"])).batch_name(FIRST)
    blockers = [
        _blocker(raw / "tables" / LINKS_TABLE / f"{SECOND}.parquet"),
        _blocker(research / "tables" / DATA_ROWS_TABLE / f"{batch}.parquet"),
    ]
    with dagster_services(env) as services, services.instance() as instance:
        assets = [*RECORDS, "raw_dicom", *IMAGING, "labelbox_data_rows"]
        backfill = launch_backfill(services, assets, [FIRST, SECOND])
        wait_backfill(services, backfill, 900)
        (parent,) = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill}))
        assert parent.status == dg.DagsterRunStatus.FAILURE, services.log_tail("daemon")
        assert json.loads(parent.tags[FAILED_DATES_TAG]) == {SECOND: "deidentified_images"}
        assert _materialized_by(instance, parent.run_id, "inpainted_images") == {FIRST}
        first_files = {**_digests(raw, FIRST), **_digests(research, batch, ".png")}
        assert any(p.endswith(".png") for p in first_files), sorted(first_files)
        for path in blockers:
            (path / "in-the-way").unlink()
            path.rmdir()

        data = services.graphql(REEXECUTE, {"id": parent.run_id, "strategy": "FROM_FAILURE"})
        launched = data["launchRunReexecution"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        child_id = launched["run"]["runId"]
        child = wait_for(
            lambda: (r := instance.get_run_by_id(child_id)) and r.is_finished and r,
            timeout=600,
            what="the re-execution from failure",
            services=services,
        )
        assert child.is_success, services.log_tail("daemon")
        assert _materialized_by(instance, child_id, "labelbox_data_rows") == {FIRST}
        assert _materialized_by(instance, child_id, "deidentified_images") == set()
        assert json.loads(child.tags[FAILED_DATES_TAG]) == {SECOND: "deidentified_images"}

        retry = wait_for(
            lambda: next(
                (
                    r
                    for r in instance.get_runs(
                        dg.RunsFilter(tags={"dagster/run_key": f"{child_id}:{SECOND}"})
                    )
                    if r.is_finished
                ),
                None,
            ),
            timeout=600,
            what="failed_study_dates_sensor's re-run of the second date",
            services=services,
        )
        assert retry.is_success, services.log_tail("daemon")
        assert retry.tags["dagster/partition"] == SECOND
        assert _materialized_by(instance, retry.run_id, "labelbox_data_rows") == {SECOND}
        after = {**_digests(raw, FIRST), **_digests(research, batch, ".png")}
        changed = sorted(
            p for p in first_files if after.get(p) != first_files[p] and DATA_ROWS_TABLE not in p
        )
        assert changed == [], changed
