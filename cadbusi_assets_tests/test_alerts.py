"""Alert delivery by e-mail (to a local SMTP server) and webhook (to a local http.server)."""

from __future__ import annotations

import doctest

import pytest

import cadbusi_assets.alerts as alerts_module
from cadbusi_assets.alerts import (
    RUN_FAILURE,
    Alert,
    AlertConfigError,
    AlertDeliveryError,
    AlertTargets,
    SmtpTarget,
    send_alert,
    send_email,
    send_webhook,
)
from cadbusi_assets_tests.alert_servers import SmtpSink, WebhookSink

ALERT = Alert(
    kind=RUN_FAILURE,
    run_id="0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
    job="study_date_job",
    asset_keys=("radiology_reports", "raw_dicom"),
    partition_count=31,
    error_class="WarehouseError",
    deployment="production",
    run_url="http://dagster.local/runs/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
)


@pytest.fixture
def smtp():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def webhook():
    sink = WebhookSink().start()
    yield sink
    sink.stop()


def test_email_reaches_the_smtp_server(smtp):
    target = SmtpTarget.from_uri(
        f"smtp://127.0.0.1:{smtp.port}?from=dagster@example.org&to=a@example.org,b@example.org"
    )
    send_email(ALERT, target, timeout=10)
    assert len(smtp.mails) == 1
    mail = smtp.mails[0]
    assert mail.sender == "dagster@example.org"
    assert mail.recipients == ["a@example.org", "b@example.org"]
    assert mail.message["Subject"] == (
        "cadbusi [production]: run failure in study_date_job (run 0f1e2d3c)"
    )
    body = mail.message.get_content()
    for expected in (
        ALERT.run_id,
        "study_date_job",
        "radiology_reports, raw_dicom",
        "partitions: 31",
        "error class: WarehouseError",
        ALERT.run_url,
    ):
        assert expected in body


def test_webhook_posts_json_with_a_text_line(webhook):
    status = send_webhook(ALERT, webhook.url, token="s3cret-token", timeout=10)
    assert status == 200
    headers, body = webhook.posts[0]
    assert headers["content-type"] == "application/json"
    assert headers["authorization"] == "Bearer s3cret-token"
    assert body["text"].startswith("cadbusi [production]: run failure in study_date_job")
    assert body["alert"]["run_id"] == ALERT.run_id
    assert body["alert"]["asset_keys"] == ["radiology_reports", "raw_dicom"]
    assert body["alert"]["partition_count"] == 31


def test_send_alert_fans_out_and_reports_partial_failures(smtp, webhook):
    env = {
        "CADBUSI_ALERT_SMTP": f"smtp://127.0.0.1:{smtp.port}?from=d@example.org&to=a@example.org",
        "CADBUSI_ALERT_WEBHOOK": webhook.url,
    }
    delivered, failures = send_alert(ALERT, AlertTargets.from_env(env))
    assert delivered == ["email", "webhook"] and failures == []
    webhook.status = 500
    delivered, failures = send_alert(ALERT, AlertTargets.from_env(env))
    assert delivered == ["email"] and failures == [("webhook", "HTTP 500")]
    assert len(smtp.mails) == 2


def test_every_target_failing_raises_without_secrets(webhook):
    webhook.status = 503
    closed = WebhookSink().start()
    closed_port = closed.server.server_address[1]
    closed.stop()  # nothing listens there any more
    env = {
        "CADBUSI_ALERT_SMTP": f"smtp://user@127.0.0.1:{closed_port}?from=d@x.org&to=a@x.org",
        "CADBUSI_ALERT_SMTP_PASSWORD": "hunter2-password",
        "CADBUSI_ALERT_WEBHOOK": webhook.url,
        "CADBUSI_ALERT_WEBHOOK_TOKEN": "token-value",
    }
    with pytest.raises(AlertDeliveryError) as raised:
        send_alert(ALERT, AlertTargets.from_env(env))
    assert raised.value.failures == [("email", "ConnectionRefusedError"), ("webhook", "HTTP 503")]
    assert "hunter2" not in str(raised.value) and "token-value" not in str(raised.value)


def test_configuration():
    assert not AlertTargets.from_env({}).configured
    target = SmtpTarget.from_uri("smtps://alerts%40x.org@mail.x.org?from=a@x.org&to=b@x.org", "pw")
    assert (target.port, target.tls, target.username, target.password) == (
        465,
        "ssl",
        "alerts@x.org",
        "pw",
    )
    assert SmtpTarget.from_uri("smtp://m:587?from=a@x&to=b@x&starttls=1").tls == "starttls"
    for bad in (
        "http://m?from=a&to=b",
        "smtp://m?to=b@x",
        "smtp://m?from=a@x",
        "smtp://m:xx?from=a&to=b",
    ):
        with pytest.raises(AlertConfigError):
            SmtpTarget.from_uri(bad)
    with pytest.raises(AlertConfigError):
        AlertTargets.from_env({"CADBUSI_ALERT_WEBHOOK": "ftp://x"})
    targets = AlertTargets.from_env(
        {"CADBUSI_ALERT_WEBHOOK": "https://h/x", "CADBUSI_UI_URL": "http://ui/"}
    )
    assert targets.run_url("abc") == "http://ui/runs/abc"


def test_alert_text_holds_only_what_it_was_given():
    text = ALERT.text()
    assert "partition" in text and "2026-" not in text  # a count, never the keys
    assert "Details (no patient data in this message)" in text


def test_docstring_examples():
    result = doctest.testmod(alerts_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted and not result.failed
