"""Sensors that send failure alerts through :mod:`cadbusi_assets.alerts`.

- ``run_failure_alert_sensor``: every failed run of this code location;
- ``check_failure_alert_sensor``: every failed *blocking* asset check evaluation, one alert per
  finished run (it reads the check evaluations of each run that succeeded or failed since the
  last tick; runs before the sensor's first tick are skipped).

Both run by default when ``CADBUSI_ALERT_SMTP`` or ``CADBUSI_ALERT_WEBHOOK`` is set (stopped
otherwise). Alerts carry run id, job, asset keys, check names, the number of partitions and
the error class: never a partition key, an error message or any value from the data.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Literal

import dagster as dg

from cadbusi_assets.alerts import (
    CHECK_FAILURE,
    RUN_FAILURE,
    Alert,
    AlertConfigError,
    AlertTargets,
    send_alert,
)
from cadbusi_assets.settings import load_settings

#: at most this many finished runs (of each outcome) are read per tick (the rest next tick)
RUNS_PER_TICK = 200


def _default_status() -> dg.DefaultSensorStatus:
    try:
        configured = AlertTargets.from_env().configured
    except AlertConfigError:
        configured = True  # run, so that the tick shows what is wrong
    return dg.DefaultSensorStatus.RUNNING if configured else dg.DefaultSensorStatus.STOPPED


def _deployment() -> str:
    try:
        return load_settings().deployment
    except Exception:  # settings errors surface elsewhere; an alert must still go out
        return ""


def partition_count(tags: dict[str, str]) -> int | None:
    """How many partitions a run covered, from its tags (never the keys themselves).

    >>> partition_count({"dagster/partition": "2026-09-01"})
    1
    >>> partition_count({"dagster/asset_partition_range_start": "2026-09-01",
    ...                  "dagster/asset_partition_range_end": "2026-09-30"})
    30
    >>> partition_count({}) is None
    True
    """
    if tags.get("dagster/partition"):
        return 1
    start = tags.get("dagster/asset_partition_range_start")
    end = tags.get("dagster/asset_partition_range_end")
    if start and end:
        try:
            days = (dt.date.fromisoformat(end) - dt.date.fromisoformat(start)).days + 1
            return days if days > 0 else None
        except ValueError:
            return None
    return None


#: Dagster's wrappers around the error raised by our code
_WRAPPERS = {"DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError"}


def user_error_class(error) -> str:
    """The class name of the error our code raised (Dagster wraps it), never its message."""
    while error.cls_name in _WRAPPERS and error.cause is not None:
        error = error.cause
    return error.cls_name


def run_asset_keys(instance: dg.DagsterInstance, run: dg.DagsterRun) -> tuple[str, ...]:
    """The assets a run planned to materialize (or its asset selection)."""
    records = instance.get_records_for_run(
        run_id=run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, limit=10000
    ).records
    keys = {
        r.event_log_entry.dagster_event.asset_key
        for r in records
        if r.event_log_entry.dagster_event is not None
        and r.event_log_entry.dagster_event.asset_key is not None
    }
    if not keys and run.asset_selection:
        keys = set(run.asset_selection)
    return tuple(sorted(k.to_user_string() for k in keys))


def run_failure_alert(
    context: dg.RunFailureSensorContext, targets: AlertTargets | None = None
) -> Alert:
    run = context.dagster_run
    classes = sorted(
        {
            user_error_class(e.step_failure_data.error)
            for e in context.get_step_failure_events()
            if e.step_failure_data is not None and e.step_failure_data.error is not None
        }
    )
    if not classes:
        error = getattr(context.failure_event.event_specific_data, "error", None)
        if error is not None and getattr(error, "cls_name", None):
            classes = [error.cls_name]
    return Alert(
        kind=RUN_FAILURE,
        run_id=run.run_id,
        job=run.job_name,
        asset_keys=run_asset_keys(context.instance, run),
        partition_count=partition_count(dict(run.tags)),
        error_class=", ".join(classes) or None,
        checks=tuple(
            sorted(
                {
                    f"{e.asset_key.to_user_string()}:{e.check_name}"
                    for e in failed_blocking_checks(context.instance, run.run_id)
                }
            )
        ),
        deployment=_deployment(),
        run_url=targets.run_url(run.run_id) if targets else None,
    )


@dg.run_failure_sensor(
    name="run_failure_alert_sensor",
    default_status=_default_status(),
    minimum_interval_seconds=30,
    description="E-mail / webhook alert for every failed run (CADBUSI_ALERT_SMTP, "
    "CADBUSI_ALERT_WEBHOOK). No PHI: run id, job, asset keys, partition count, error class.",
)
def run_failure_alert_sensor(context: dg.RunFailureSensorContext):
    targets = AlertTargets.from_env()
    if not targets.configured:
        return dg.SkipReason("no alert target configured (CADBUSI_ALERT_SMTP/WEBHOOK)")
    delivered, failures = send_alert(run_failure_alert(context, targets), targets)
    for kind, error in failures:
        context.log.warning(f"run-failure alert by {kind} failed ({error})")
    context.log.info(f"run-failure alert sent by {', '.join(delivered)}")
    return None


_FINISHED: dict[str, Literal[dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.RUN_FAILURE]] = {
    "success": dg.DagsterEventType.RUN_SUCCESS,
    "failure": dg.DagsterEventType.RUN_FAILURE,
}


def _finished_runs(instance: dg.DagsterInstance, kind: str, after: int | None, limit: int):
    """Run success/failure records after storage id ``after`` (all storages, SQLite too)."""
    records_filter = dg.RunStatusChangeRecordsFilter(
        event_type=_FINISHED[kind], after_storage_id=after
    )
    return instance.fetch_run_status_changes(
        records_filter, limit=limit, ascending=after is not None
    ).records


def failed_blocking_checks(instance: dg.DagsterInstance, run_id: str) -> list:
    """The failed blocking asset check evaluations of one run."""
    records = instance.get_records_for_run(
        run_id=run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION, limit=10000
    ).records
    failed = []
    for record in records:
        event = record.event_log_entry.dagster_event
        evaluation = event.event_specific_data if event is not None else None
        if (
            isinstance(evaluation, dg.AssetCheckEvaluation)
            and not evaluation.passed
            and evaluation.blocking
        ):
            failed.append(evaluation)
    return failed


def check_failure_alert(
    instance: dg.DagsterInstance,
    run_id: str,
    evaluations: list,
    targets: AlertTargets | None = None,
) -> Alert:
    run = instance.get_run_by_id(run_id)
    partitions = {e.partition for e in evaluations if e.partition is not None}
    return Alert(
        kind=CHECK_FAILURE,
        run_id=run_id,
        job=run.job_name if run else "(unknown job)",
        asset_keys=tuple(sorted({e.asset_key.to_user_string() for e in evaluations})),
        checks=tuple(
            sorted({f"{e.asset_key.to_user_string()}:{e.check_name}" for e in evaluations})
        ),
        partition_count=len(partitions)
        if partitions
        else (partition_count(dict(run.tags)) if run else None),
        error_class="AssetCheckFailed",
        deployment=_deployment(),
        run_url=targets.run_url(run_id) if targets else None,
    )


@dg.sensor(
    name="check_failure_alert_sensor",
    default_status=_default_status(),
    minimum_interval_seconds=60,
    description="E-mail / webhook alert for failed blocking asset checks, one per finished run "
    "(CADBUSI_ALERT_SMTP, CADBUSI_ALERT_WEBHOOK). No PHI: run id, job, asset keys, check "
    "names, partition count.",
)
def check_failure_alert_sensor(context: dg.SensorEvaluationContext):
    """Cursor: the last run-success and run-failure storage ids seen (JSON). Runs that finished
    before the first tick are not alerted on."""
    instance = context.instance
    if context.cursor is None:
        start = {}
        for kind in _FINISHED:
            latest = _finished_runs(instance, kind, None, 1)
            start[kind] = latest[0].storage_id if latest else 0
        return dg.SensorResult(
            skip_reason="started; alerting on checks of runs that finish from now on",
            cursor=json.dumps(start, sort_keys=True),
        )
    cursor = {k: int(v) for k, v in json.loads(context.cursor).items()}
    finished: list = []
    for kind in _FINISHED:
        records = _finished_runs(instance, kind, cursor.get(kind, 0), RUNS_PER_TICK)
        if records:
            cursor[kind] = max(r.storage_id for r in records)
        finished.extend(records)
    if not finished:
        return dg.SkipReason("no run finished since the last tick")
    new_cursor = json.dumps(cursor, sort_keys=True)
    targets = AlertTargets.from_env()
    alerts = []
    for record in sorted(finished, key=lambda r: r.storage_id):
        evaluations = failed_blocking_checks(instance, record.run_id)
        if evaluations:
            alerts.append(check_failure_alert(instance, record.run_id, evaluations, targets))
    if not alerts:
        return dg.SensorResult(skip_reason="no failed blocking check", cursor=new_cursor)
    if not targets.configured:
        return dg.SensorResult(
            skip_reason=f"{len(alerts)} run(s) with failed blocking checks; no alert target "
            "configured (CADBUSI_ALERT_SMTP/WEBHOOK)",
            cursor=new_cursor,
        )
    for alert in alerts:
        _delivered, failures = send_alert(alert, targets)  # raises when every target failed
        for kind, error in failures:
            context.log.warning(f"check-failure alert by {kind} failed ({error})")
    return dg.SensorResult(
        skip_reason=f"sent {len(alerts)} check-failure alert(s)", cursor=new_cursor
    )
