"""The alert sensors on real Dagster runs: a failed run and a failed blocking check each reach
a local SMTP server and a local webhook, with no PHI; the freshness policy on nightly assets."""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import pytest

from cadbusi_assets.alerts import AlertDeliveryError
from cadbusi_assets.defs.alerts.freshness import (
    NIGHTLY_ASSETS,
    nightly_freshness_policy,
    with_freshness,
)
from cadbusi_assets.defs.alerts.sensors import (
    check_failure_alert_sensor,
    run_failure_alert_sensor,
)
from cadbusi_assets_tests.alert_servers import SmtpSink, WebhookSink

#: a value that stands for PHI in the failing data: it must never reach an alert
PHI = "ZEBRA^QUILLA MRN90000001"

days = dg.DailyPartitionsDefinition(start_date="2026-09-01", end_date="2026-09-05", timezone="UTC")


@dg.asset(partitions_def=days)
def failing_reports() -> None:
    raise ValueError(f"cannot parse report of {PHI}")


@dg.asset(partitions_def=days)
def checked_images() -> None:
    return None


@dg.asset_check(asset=checked_images, blocking=True)
def no_patient_identifiers() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, description=f"found {PHI}")


@dg.asset_check(asset=checked_images, blocking=False)
def advisory_only() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, description="warning only")


@pytest.fixture
def sinks(monkeypatch):
    smtp, webhook = SmtpSink().start(), WebhookSink().start()
    monkeypatch.setenv(
        "CADBUSI_ALERT_SMTP",
        f"smtp://127.0.0.1:{smtp.port}?from=dagster@example.org&to=ops@example.org",
    )
    monkeypatch.setenv("CADBUSI_ALERT_WEBHOOK", webhook.url)
    monkeypatch.setenv("CADBUSI_UI_URL", "http://dagster.local:3000")
    yield smtp, webhook
    smtp.stop()
    webhook.stop()


def _failure_context(instance: dg.DagsterInstance, run_id: str) -> dg.RunFailureSensorContext:
    run = instance.get_run_by_id(run_id)
    event = (
        instance.get_records_for_run(run_id=run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
        .records[0]
        .event_log_entry.dagster_event
    )
    return dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert_sensor",
        dagster_event=event,
        dagster_instance=instance,
        dagster_run=run,
    ).for_run_failure()


def _no_phi(smtp: SmtpSink, webhook: WebhookSink) -> str:
    everything = "\n".join(
        [m.message.as_string() for m in smtp.mails] + [str(body) for _, body in webhook.posts]
    )
    for part in ("ZEBRA", "QUILLA", "90000001", "cannot parse", "2026-09-0"):
        assert part not in everything
    return everything


def test_failed_run_alerts_by_email_and_webhook(sinks):
    smtp, webhook = sinks
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [failing_reports], instance=instance, partition_key="2026-09-02", raise_on_error=False
        )
        assert not result.success
        run_failure_alert_sensor(_failure_context(instance, result.run_id))
    assert len(smtp.mails) == 1 and len(webhook.posts) == 1
    body = smtp.mails[0].message.get_content()
    assert result.run_id in body
    assert "assets: failing_reports" in body
    assert "partitions: 1" in body
    assert "error class: ValueError" in body
    assert f"http://dagster.local:3000/runs/{result.run_id}" in body
    alert = webhook.posts[0][1]["alert"]
    assert (alert["kind"], alert["run_id"], alert["error_class"]) == (
        "run failure",
        result.run_id,
        "ValueError",
    )
    _no_phi(smtp, webhook)


def test_run_failure_sensor_raises_when_no_target_answers(monkeypatch, sinks):
    smtp, webhook = sinks
    webhook.status = 500
    smtp.stop()
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [failing_reports], instance=instance, partition_key="2026-09-02", raise_on_error=False
        )
        with pytest.raises(AlertDeliveryError):
            run_failure_alert_sensor(_failure_context(instance, result.run_id))


def test_blocking_check_failure_alerts_once_per_run(sinks):
    smtp, webhook = sinks
    with dg.instance_for_test() as instance:
        first = check_failure_alert_sensor(dg.build_sensor_context(instance=instance))
        assert first.cursor is not None  # history before the first tick is not alerted on
        result = dg.materialize(
            [checked_images, no_patient_identifiers, advisory_only],
            instance=instance,
            partition_key="2026-09-03",
            raise_on_error=False,
        )
        tick = check_failure_alert_sensor(
            dg.build_sensor_context(instance=instance, cursor=first.cursor)
        )
        again = check_failure_alert_sensor(
            dg.build_sensor_context(instance=instance, cursor=tick.cursor)
        )
        assert json.loads(tick.cursor)["failure"] > json.loads(first.cursor)["failure"]
        assert isinstance(again, dg.SkipReason)  # nothing new: no second alert
        # the run failed too: its run-failure alert names the check as well
        run_failure_alert_sensor(_failure_context(instance, result.run_id))
    assert len(smtp.mails) == 2 and len(webhook.posts) == 2
    run_alert = webhook.posts[1][1]["alert"]
    assert run_alert["kind"] == "run failure"
    assert run_alert["checks"] == ["checked_images:no_patient_identifiers"]
    assert run_alert["error_class"] == "DagsterAssetCheckFailedError"
    alert = webhook.posts[0][1]["alert"]
    assert alert["kind"] == "blocking check failure"
    assert alert["run_id"] == result.run_id
    assert alert["checks"] == ["checked_images:no_patient_identifiers"]  # not the advisory one
    assert alert["partition_count"] == 1
    _no_phi(smtp, webhook)


def test_sensors_skip_without_targets(monkeypatch):
    for name in ("CADBUSI_ALERT_SMTP", "CADBUSI_ALERT_WEBHOOK"):
        monkeypatch.delenv(name, raising=False)
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [failing_reports], instance=instance, partition_key="2026-09-01", raise_on_error=False
        )
        assert isinstance(
            run_failure_alert_sensor(_failure_context(instance, result.run_id)), dg.SkipReason
        )


def test_nightly_assets_get_the_freshness_policy():
    from cadbusi_assets.definitions import defs

    loaded = defs()
    sensors = {s.name for s in loaded.sensors}
    assert {"run_failure_alert_sensor", "check_failure_alert_sensor"} <= sensors
    graph = with_freshness(loaded).resolve_asset_graph()
    policy = nightly_freshness_policy()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if key.to_user_string() in NIGHTLY_ASSETS:
            assert node.freshness_policy == policy
        else:
            assert node.freshness_policy is None
    # the checks and jobs survive the mapping
    assert graph.asset_check_keys == loaded.resolve_asset_graph().asset_check_keys
    assert policy.deadline_cron == "0 6 * * *"
    with pytest.raises(ValueError):
        nightly_freshness_policy({"CADBUSI_FRESHNESS_HOURS": "four"})


def test_the_freshness_window_follows_the_nightly_run():
    """A nightly run moved to 23:30 (``CADBUSI_NIGHTLY_AT``) kept the 02:00-06:00 window: every
    nightly asset would have shown stale each day."""
    late = nightly_freshness_policy({"CADBUSI_NIGHTLY_AT": "23:30"})
    assert (late.deadline_cron, late.lower_bound_delta) == ("30 3 * * *", dt.timedelta(hours=4))
    longer = nightly_freshness_policy(
        {"CADBUSI_NIGHTLY_AT": "01:15", "CADBUSI_FRESHNESS_HOURS": "6"}
    )
    assert longer.deadline_cron == "15 7 * * *"
    given = nightly_freshness_policy(
        {"CADBUSI_NIGHTLY_AT": "23:30", "CADBUSI_FRESHNESS_DEADLINE": "0 8 * * *"}
    )
    assert given.deadline_cron == "0 8 * * *"


def test_sensor_module_docstring_examples():
    import doctest

    import cadbusi_assets.defs.alerts.sensors as sensors

    result = doctest.testmod(sensors, optionflags=doctest.ELLIPSIS)
    assert result.attempted and not result.failed
