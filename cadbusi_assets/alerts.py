"""Failure alerts by e-mail (SMTP) and webhook (HTTP POST of JSON). No Dagster here.

Configuration (environment variables):

- ``CADBUSI_ALERT_SMTP``: ``smtp://host:port?from=a@x&to=b@y,c@z`` (plain, or ``&starttls=1``),
  or ``smtps://host:465?...`` (TLS from the start); an optional user as
  ``smtp://user@host:587?...`` with the password in ``CADBUSI_ALERT_SMTP_PASSWORD``;
- ``CADBUSI_ALERT_WEBHOOK``: ``https://...`` (or ``http://`` on a private network); an optional
  bearer token in ``CADBUSI_ALERT_WEBHOOK_TOKEN``. The body is JSON with a ``text`` line (what
  Slack, Teams and Mattermost incoming webhooks show) and the structured ``alert``.
- ``CADBUSI_UI_URL``: the Dagster UI's address, for a link to the run (optional).

An :class:`Alert` holds no PHI by construction: run id, job name, asset keys, the number of
partitions (never the keys: study dates), check names, and an error *class* (never a message,
which may quote data). Delivery errors never echo the target's credentials.
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

RUN_FAILURE = "run failure"
CHECK_FAILURE = "blocking check failure"

_TIMEOUT = 15.0


class AlertConfigError(ValueError):
    """An alert target is misconfigured (says which variable, never a secret)."""


class AlertDeliveryError(RuntimeError):
    """Every configured target failed; ``failures`` lists ``(target kind, error class)``."""

    def __init__(self, failures: Sequence[tuple[str, str]]) -> None:
        super().__init__(
            "alert delivery failed: " + ", ".join(f"{kind} ({error})" for kind, error in failures)
        )
        self.failures = list(failures)


@dataclass(frozen=True)
class Alert:
    """One notification. Only identifiers of the *pipeline* (never of patients or studies)."""

    kind: str
    run_id: str
    job: str
    asset_keys: tuple[str, ...] = ()
    partition_count: int | None = None
    error_class: str | None = None
    checks: tuple[str, ...] = ()
    deployment: str = ""
    run_url: str | None = None
    extra: Mapping[str, int] = field(default_factory=dict)

    @property
    def subject(self) -> str:
        where = f" [{self.deployment}]" if self.deployment else ""
        return f"cadbusi{where}: {self.kind} in {self.job} (run {self.run_id[:8]})"

    def text(self) -> str:
        lines = [
            self.subject,
            f"run id: {self.run_id}",
            f"job: {self.job}",
        ]
        if self.asset_keys:
            lines.append(f"assets: {', '.join(self.asset_keys)}")
        if self.checks:
            lines.append(f"failed checks: {', '.join(self.checks)}")
        if self.partition_count is not None:
            lines.append(f"partitions: {self.partition_count}")
        if self.error_class:
            lines.append(f"error class: {self.error_class}")
        for name, value in sorted(self.extra.items()):
            lines.append(f"{name}: {value}")
        if self.run_url:
            lines.append(f"run: {self.run_url}")
        lines.append("Details (no patient data in this message) are in the run's logs.")
        return "\n".join(lines)

    def payload(self) -> dict:
        data = asdict(self)
        data["asset_keys"] = list(self.asset_keys)
        data["checks"] = list(self.checks)
        data["extra"] = dict(self.extra)
        return {"text": self.text(), "alert": data}


# -- e-mail ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    tls: str = "none"  # "none" | "starttls" | "ssl"
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_uri(cls, uri: str, password: str | None = None) -> SmtpTarget:
        """Parse ``CADBUSI_ALERT_SMTP``.

        >>> t = SmtpTarget.from_uri("smtp://mail.local:2525?from=a@x.org&to=b@x.org,c@x.org")
        >>> (t.host, t.port, t.sender, t.recipients, t.tls)
        ('mail.local', 2525, 'a@x.org', ('b@x.org', 'c@x.org'), 'none')
        """
        parts = urlsplit(uri.strip())
        if parts.scheme not in ("smtp", "smtps"):
            raise AlertConfigError(
                "CADBUSI_ALERT_SMTP must look like smtp://host:port?from=a@x&to=b@y "
                "(or smtps:// for TLS from the start)"
            )
        query = {k: ",".join(v) for k, v in parse_qs(parts.query).items()}
        try:
            port = parts.port
        except ValueError:
            raise AlertConfigError("CADBUSI_ALERT_SMTP has an invalid port") from None
        sender = query.get("from", "").strip()
        recipients = tuple(r.strip() for r in query.get("to", "").split(",") if r.strip())
        if not parts.hostname or not sender or not recipients:
            raise AlertConfigError(
                "CADBUSI_ALERT_SMTP needs a host, a from= sender and at least one to= recipient"
            )
        if parts.scheme == "smtps":
            tls = "ssl"
        elif query.get("starttls", "").lower() in ("1", "true", "yes"):
            tls = "starttls"
        else:
            tls = "none"
        return cls(
            host=parts.hostname,
            port=port or (465 if tls == "ssl" else 25),
            sender=sender,
            recipients=recipients,
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=password
            if password is not None
            else (unquote(parts.password) if parts.password else None),
        )


def send_email(alert: Alert, target: SmtpTarget, *, timeout: float = _TIMEOUT) -> None:
    """Send ``alert`` as a plain-text e-mail. Raises ``OSError``/``smtplib.SMTPException``."""
    message = EmailMessage()
    message["Subject"] = alert.subject
    message["From"] = target.sender
    message["To"] = ", ".join(target.recipients)
    message.set_content(alert.text())
    context = ssl.create_default_context()
    if target.tls == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            target.host, target.port, timeout=timeout, context=context
        )
    else:
        client = smtplib.SMTP(target.host, target.port, timeout=timeout)
    with client:
        if target.tls == "starttls":
            client.starttls(context=context)
        if target.username:
            client.login(target.username, target.password or "")
        client.send_message(message)


# -- webhook -----------------------------------------------------------------------------------


def send_webhook(
    alert: Alert, url: str, *, token: str | None = None, timeout: float = _TIMEOUT
) -> int:
    """POST ``alert.payload()`` as JSON; returns the HTTP status. Raises on non-2xx answers
    (``urllib.error.HTTPError``) and on connection errors (``OSError``)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AlertConfigError("CADBUSI_ALERT_WEBHOOK must be an http:// or https:// URL")
    request = urllib.request.Request(
        url.strip(),
        data=json.dumps(alert.payload()).encode("utf-8"),
        headers={"Content-Type": "application/json", "User-Agent": "cadbusi-alerts"},
        method="POST",
    )
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return int(response.status)


# -- configuration and fan-out -----------------------------------------------------------------


@dataclass(frozen=True)
class AlertTargets:
    smtp: SmtpTarget | None = None
    webhook: str | None = None
    webhook_token: str | None = None
    ui_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AlertTargets:
        env = os.environ if env is None else env
        smtp_uri = env.get("CADBUSI_ALERT_SMTP", "").strip()
        webhook = env.get("CADBUSI_ALERT_WEBHOOK", "").strip() or None
        if webhook is not None and urlsplit(webhook).scheme not in ("http", "https"):
            raise AlertConfigError("CADBUSI_ALERT_WEBHOOK must be an http:// or https:// URL")
        return cls(
            smtp=SmtpTarget.from_uri(smtp_uri, env.get("CADBUSI_ALERT_SMTP_PASSWORD"))
            if smtp_uri
            else None,
            webhook=webhook,
            webhook_token=env.get("CADBUSI_ALERT_WEBHOOK_TOKEN") or None,
            ui_url=(env.get("CADBUSI_UI_URL", "").strip().rstrip("/") or None),
        )

    @property
    def configured(self) -> bool:
        return self.smtp is not None or self.webhook is not None

    def run_url(self, run_id: str) -> str | None:
        return f"{self.ui_url}/runs/{run_id}" if self.ui_url else None


def send_alert(alert: Alert, targets: AlertTargets) -> tuple[list[str], list[tuple[str, str]]]:
    """Deliver to every configured target; returns the kinds delivered (``email``,
    ``webhook``) and the ``(kind, error class)`` of those that failed. Raises
    :class:`AlertDeliveryError` only when every target failed (so a retry never duplicates a
    delivered alert)."""
    delivered: list[str] = []
    failures: list[tuple[str, str]] = []
    if targets.smtp is not None:
        try:
            send_email(alert, targets.smtp)
            delivered.append("email")
        except (OSError, smtplib.SMTPException) as exc:
            failures.append(("email", type(exc).__name__))
    if targets.webhook is not None:
        try:
            send_webhook(alert, targets.webhook, token=targets.webhook_token)
            delivered.append("webhook")
        except urllib.error.HTTPError as exc:
            failures.append(("webhook", f"HTTP {exc.code}"))
        except (OSError, ValueError) as exc:
            failures.append(("webhook", type(exc).__name__))
    if failures and not delivered:
        raise AlertDeliveryError(failures)
    return delivered, failures
