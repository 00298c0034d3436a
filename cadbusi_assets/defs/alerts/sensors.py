"""Sensors that send failure alerts through :mod:`cadbusi_assets.alerts`.

- ``run_failure_alert_sensor``: every failed run of this code location;
- ``check_failure_alert_sensor``: every failed *blocking* asset check evaluation, one alert per
  run (cursor: the event-log storage id; history before the sensor's first tick is skipped).

Both run by default when ``CADBUSI_ALERT_SMTP`` or ``CADBUSI_ALERT_WEBHOOK`` is set (stopped
otherwise). Alerts carry run id, job, asset keys, check names, the number of partitions and
the error class: never a partition key, an error message or any value from the data.
"""

from __future__ import annotations

import datetime as dt

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

#: at most this many check evaluations are read per tick (the rest on the next tick)
CHECK_EVENTS_PER_TICK = 1000


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
            e.step_failure_data.error.cls_name
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


def _check_events(instance: dg.DagsterInstance, after: int | None, limit: int, ascending: bool):
    return instance.get_event_records(
        dg.EventRecordsFilter(
            event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION, after_cursor=after
        ),
        limit=limit,
        ascending=ascending,
    )


def check_failure_alerts(
    instance: dg.DagsterInstance, records, targets: AlertTargets | None = None
) -> list[Alert]:
    """One alert per run with failed blocking checks among ``records``."""
    failed: dict[str, list] = {}
    for record in records:
        event = record.event_log_entry.dagster_event
        evaluation = event.event_specific_data if event is not None else None
        if evaluation is None or evaluation.passed or not evaluation.blocking:
            continue
        failed.setdefault(record.event_log_entry.run_id, []).append(evaluation)
    alerts = []
    for run_id, evaluations in failed.items():
        run = instance.get_run_by_id(run_id)
        partitions = {e.partition for e in evaluations if e.partition is not None}
        alerts.append(
            Alert(
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
        )
    return alerts


@dg.sensor(
    name="check_failure_alert_sensor",
    default_status=_default_status(),
    minimum_interval_seconds=60,
    description="E-mail / webhook alert for failed blocking asset checks (one per run). No PHI: "
    "run id, job, asset keys, check names, partition count.",
)
def check_failure_alert_sensor(context: dg.SensorEvaluationContext):
    instance = context.instance
    if context.cursor is None:
        latest = _check_events(instance, None, 1, ascending=False)
        cursor = str(latest[0].storage_id) if latest else "0"
        return dg.SensorResult(skip_reason="started; alerting on new check failures", cursor=cursor)
    after = int(context.cursor)
    records = list(_check_events(instance, after, CHECK_EVENTS_PER_TICK, ascending=True))
    if not records:
        return dg.SkipReason("no new check evaluations")
    cursor = str(records[-1].storage_id)
    targets = AlertTargets.from_env()
    alerts = check_failure_alerts(instance, records, targets)
    if not alerts:
        return dg.SensorResult(skip_reason="no failed blocking check", cursor=cursor)
    if not targets.configured:
        return dg.SensorResult(
            skip_reason=f"{len(alerts)} run(s) with failed blocking checks; no alert target "
            "configured (CADBUSI_ALERT_SMTP/WEBHOOK)",
            cursor=cursor,
        )
    sent = 0
    for alert in alerts:
        delivered, failures = send_alert(alert, targets)  # raises when every target failed
        for kind, error in failures:
            context.log.warning(f"check-failure alert by {kind} failed ({error})")
        sent += bool(delivered)
    return dg.SensorResult(skip_reason=f"sent {sent} check-failure alert(s)", cursor=cursor)
