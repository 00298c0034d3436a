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
* ``interrupted_study_dates_sensor`` — a run killed in the middle of a date's imaging pass
  reports no failed date; the date's batch stays marked open (the catalog and the lesions leave
  it out). This sensor finds those dates (:func:`~cadbusi_assets.stages.batches.
  interrupted_dates`: the raw zone's dates, matched to the open batches with the key) and
  re-runs each once per interruption, from ``deidentified_images``, never while a run of that
  date is queued or going, nor when a person terminated its last run (a terminated run never
  resumes), nor after its last 3 re-runs failed.
"""

from __future__ import annotations

import json

import dagster as dg

from cadbusi_assets.defs.automation.schedules import STUDY_DATE_ASSETS, study_date_job
from cadbusi_assets.defs.reporting import FAILED_DATES_TAG
from cadbusi_assets.defs.resources import PseudonymKeyResource, ZonesResource
from cadbusi_assets.defs.run_process import run_process_alive
from cadbusi_assets.stages.batches import interrupted_dates

RETRY_OF_TAG = "cadbusi/retry_of"
#: Tag of a re-run of an interrupted date: the token of the interruption (no date, no id).
INTERRUPTED_TAG = "cadbusi/rerun_of_interrupted"
#: An interrupted date whose last re-runs by the sensor all failed is left to a person.
MAX_INTERRUPTED_RERUNS = 3
#: Runs that are queued or going (a run whose process is gone is not: see dates_being_run).
GOING = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]

default_automation_condition_sensor = dg.AutomationConditionSensorDefinition(
    "default_automation_condition_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Rebuilds metadata_db and diagnosis_labels after upstream updates (their "
    "automation conditions); on by default.",
)

_ORDER = [key.to_user_string() for key in STUDY_DATE_ASSETS]
_STUDY_DATE_KEYS = frozenset(STUDY_DATE_ASSETS)


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


def _covers(run: dg.DagsterRun, day: str) -> bool:
    """Whether ``run`` processes the study date ``day`` (one date, or a range of dates) of a
    study-date asset (an export partition may be named like a date)."""
    selected = run.asset_selection
    if run.job_name != study_date_job.name and not (selected and selected & _STUDY_DATE_KEYS):
        return False
    tags = run.tags
    if tags.get("dagster/partition") == day:
        return True
    start = tags.get("dagster/asset_partition_range_start")
    end = tags.get("dagster/asset_partition_range_end")
    return bool(start and end and start <= day <= end)  # ISO dates sort as dates


def dates_being_run(instance: dg.DagsterInstance, days: list[str]) -> set[str]:
    """The dates of ``days`` that a queued or going run processes (a run whose process is
    gone, killed before ``dead_run_sensor`` marked it, goes nowhere)."""
    records = instance.get_run_records(filters=dg.RunsFilter(statuses=GOING))
    going = [r.dagster_run for r in records if run_process_alive(r.dagster_run) is not False]
    return {day for day in days if any(_covers(run, day) for run in going)}


#: How many of the newest runs the sensor looks through for each date's last runs.
RECENT_RUNS = 1000


def _last_runs(instance: dg.DagsterInstance, days: list[str]) -> dict[str, list[dg.DagsterRun]]:
    """Per date, the newest runs that processed it (one date or a range), newest first."""
    if not days:
        return {}
    recent = instance.get_runs(limit=RECENT_RUNS)  # newest first
    return {day: [run for run in recent if _covers(run, day)] for day in days}


def _terminated(runs: list[dg.DagsterRun]) -> bool:
    """The date's last run was terminated by a person (CANCELED): it never resumes by itself."""
    return bool(runs) and runs[0].status == dg.DagsterRunStatus.CANCELED


def _given_up(runs: list[dg.DagsterRun]) -> bool:
    """The date's last :data:`MAX_INTERRUPTED_RERUNS` runs were this sensor's and all failed
    (a date that kills its run every time, out of memory say: a person must look)."""
    last = runs[:MAX_INTERRUPTED_RERUNS]
    return len(last) == MAX_INTERRUPTED_RERUNS and all(
        INTERRUPTED_TAG in run.tags and run.status == dg.DagsterRunStatus.FAILURE for run in last
    )


def interrupted_date_requests(
    instance: dg.DagsterInstance, interrupted: dict[str, str], cursor: str | None
) -> tuple[list[dg.RunRequest], str, str]:
    """Run requests for the ``interrupted`` dates (date → token of the interruption), the new
    cursor (the interruptions already requested, of the dates still open) and a line saying
    what was left alone. One request per interruption (the run key and the cursor name it), none
    for a date a run is processing, whose last run a person terminated, or that the sensor gave
    up on."""
    requested: dict[str, str] = json.loads(cursor) if cursor else {}
    new = {d: t for d, t in interrupted.items() if requested.get(d) != t}
    busy = dates_being_run(instance, sorted(new))
    last = _last_runs(instance, sorted(set(new) - busy))
    terminated = {d for d, runs in last.items() if _terminated(runs)}
    given_up = {d for d, runs in last.items() if d not in terminated and _given_up(runs)}
    requests = [
        dg.RunRequest(
            run_key=f"interrupted:{day}:{token}",
            partition_key=day,
            asset_selection=downstream_from("deidentified_images"),
            tags={
                INTERRUPTED_TAG: token or "unknown",
                "cadbusi/reason": "a run stopped in the middle of this date (killed)",
            },
        )
        for day, token in sorted(new.items())
        if day not in busy | terminated | given_up
    ]
    done = {r.partition_key: interrupted[r.partition_key] for r in requests if r.partition_key}
    kept = {d: t for d, t in requested.items() if d in interrupted}
    notes = []
    if busy:
        notes.append(f"{len(busy)} interrupted date(s) have a run going")
    if terminated:
        notes.append(
            f"{len(terminated)} interrupted date(s) whose last run was terminated: "
            f"{', '.join(sorted(terminated))}; re-run them by hand"
        )
    if given_up:
        notes.append(
            f"{len(given_up)} interrupted date(s) failed their last {MAX_INTERRUPTED_RERUNS} "
            f"re-runs: {', '.join(sorted(given_up))}; re-run them by hand once fixed"
        )
    return requests, json.dumps({**kept, **done}, sort_keys=True), "; ".join(notes)


@dg.sensor(
    job=study_date_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    name="interrupted_study_dates_sensor",
    description="Re-runs, once per interruption, each study date whose imaging pass was killed "
    "between its tables (its batch stays out of the catalog until then), unless a run of that "
    "date is queued or going or a person terminated its last run.",
)
def interrupted_study_dates_sensor(
    context: dg.SensorEvaluationContext,
    zones: ZonesResource,
    pseudonym_key: PseudonymKeyResource,
) -> dg.SensorResult:
    interrupted = interrupted_dates(
        zones.raw(), zones.research(), pseudonym_key.pseudonymizer(zones)
    )
    requests, cursor, notes = interrupted_date_requests(
        context.instance, interrupted, context.cursor
    )
    skip = None if requests else (notes or "no interrupted study dates")
    if requests and notes:
        context.log.info(notes)
    return dg.SensorResult(run_requests=requests, cursor=cursor, skip_reason=skip)
