"""Sensors that keep runs honest without a person watching.

* ``default_automation_condition_sensor`` — declared here so it is **running by default**:
  it evaluates the automation conditions of ``metadata_db`` and ``diagnosis_labels`` (rebuild
  after upstream updates) every 30 s while the daemon runs.
* ``failed_study_dates_sensor`` — a ranged run in which some study dates failed finishes the
  other dates; this sensor then re-runs each failed date on its own, from the asset where it
  failed, so the failure is recorded against that date (red in the UI, with its traceback) and
  "re-execute" retries exactly that date.
* ``dead_run_sensor`` — a run whose process died (killed, out of memory, machine restart) would
  stay STARTED forever under the default run launcher; this sensor marks it failed.
"""

from __future__ import annotations

import json

import dagster as dg

from cadbusi_assets.defs.automation.schedules import STUDY_DATE_ASSETS, study_date_job
from cadbusi_assets.defs.reporting import FAILED_DATES_TAG
from cadbusi_assets.defs.run_process import run_process_alive

RETRY_OF_TAG = "cadbusi/retry_of"

default_automation_condition_sensor = dg.AutomationConditionSensorDefinition(
    "default_automation_condition_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Rebuilds metadata_db and diagnosis_labels after upstream updates (their "
    "automation conditions); on by default.",
)

_ORDER = [key.to_user_string() for key in STUDY_DATE_ASSETS]


def downstream_from(asset: str) -> list[dg.AssetKey]:
    """The study-date assets from ``asset`` on, in lineage order."""
    start = _ORDER.index(asset) if asset in _ORDER else 0
    return [dg.AssetKey(name) for name in _ORDER[start:]]


def failed_date_requests(run: dg.DagsterRun) -> list[dg.RunRequest]:
    failed = json.loads(run.tags.get(FAILED_DATES_TAG, "") or "{}")
    return [
        dg.RunRequest(
            run_key=f"{run.run_id}:{day}",
            partition_key=day,
            asset_selection=downstream_from(asset),
            tags={RETRY_OF_TAG: run.run_id, "cadbusi/reason": f"{asset} failed in a ranged run"},
        )
        for day, asset in sorted(failed.items())
    ]


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    request_job=study_date_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=15,
    name="failed_study_dates_sensor",
    description="Re-runs, one by one, the study dates that failed inside a ranged run whose "
    "other dates succeeded, so each failure is recorded against its own date.",
)
def failed_study_dates_sensor(context: dg.RunStatusSensorContext):
    return failed_date_requests(context.dagster_run) or dg.SkipReason("no failed study dates")


@dg.sensor(
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    name="dead_run_sensor",
    description="Marks runs failed whose process is gone (killed, out of memory) instead of "
    "leaving them STARTED forever.",
)
def dead_run_sensor(context: dg.SensorEvaluationContext):
    dead = []
    records = context.instance.get_run_records(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING])
    )
    for record in records:
        run = record.dagster_run
        if run_process_alive(run) is False:
            message = "The run's process is gone (killed or crashed); the run is marked failed."
            if run.status == dg.DagsterRunStatus.CANCELING:
                context.instance.report_run_canceled(run, message=message)
            else:
                context.instance.report_run_failed(run, message=message)
            dead.append(run.run_id)
    return dg.SkipReason(
        f"marked {len(dead)} dead runs: {', '.join(dead)}" if dead else "no dead runs"
    )
