"""The times of the schedules (settings): read by the schedules, the study-date partitions and
the nightly assets' freshness policy, which follows the nightly run.

``CADBUSI_TIMEZONE`` (an IANA name such as ``America/New_York``, default ``UTC``) is the
hospital's time zone: a DICOM StudyDate is a local date, so a study date's partition appears
once that local day is over, and ``CADBUSI_NIGHTLY_AT`` and ``CADBUSI_LATE_ARRIVALS_SCHEDULE``
are local wall-clock times. Dagster's schedules follow daylight saving: a time the clocks skip
runs at the first time after it (02:30 on the spring-forward night runs at 03:00), a time that
comes twice runs once; every study date is asked for once.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cadbusi_assets.settings import SettingsError

NIGHTLY_ENV_VAR = "CADBUSI_NIGHTLY_AT"
LATE_ARRIVALS_ENV_VAR = "CADBUSI_LATE_ARRIVALS_SCHEDULE"
DEFAULT_NIGHTLY = "02:00"
DEFAULT_LATE_ARRIVALS = "0 5 * * *"
TIMEZONE_ENV_VAR = "CADBUSI_TIMEZONE"
DEFAULT_TIMEZONE = "UTC"


def site_timezone(env: Mapping[str, str] | None = None) -> str:
    """The hospital's time zone (IANA name): ``$CADBUSI_TIMEZONE``, else UTC; one that is not a
    known zone (``Europe/Pariss``, ``+01:00``, ``EST+5``) stops the code location from loading
    with the variable's name (never partitions and schedules silently in UTC)."""
    env = os.environ if env is None else env
    text = env.get(TIMEZONE_ENV_VAR, "").strip() or DEFAULT_TIMEZONE
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            f"{TIMEZONE_ENV_VAR}={text!r} is not a time zone name like 'Europe/Amsterdam' or "
            "'America/New_York' (IANA; default UTC)."
        ) from None
    return text


def site_today(env: Mapping[str, str] | None = None) -> dt.date:
    """Today's date in the hospital's time zone (a study date is a local date)."""
    return dt.datetime.now(ZoneInfo(site_timezone(env))).date()


def nightly_time(env: Mapping[str, str] | None = None) -> tuple[int, int]:
    """(hour, minute), in the hospital's time zone (:func:`site_timezone`), of the nightly run: ``$CADBUSI_NIGHTLY_AT`` (``HH:MM``), else
    02:00; a malformed one stops the code location from loading with the variable's name."""
    env = os.environ if env is None else env
    text = env.get(NIGHTLY_ENV_VAR, "").strip() or DEFAULT_NIGHTLY
    hour, _, minute = text.partition(":")
    if (
        not (hour.isdigit() and minute.isdigit() and len(minute) == 2)
        or int(hour) > 23
        or int(minute) > 59
    ):
        raise SettingsError(
            f"{NIGHTLY_ENV_VAR}={text!r} is not a time of day like {DEFAULT_NIGHTLY!r} (HH:MM)."
        )
    return int(hour), int(minute)


def schedule_cron(variable: str, default: str) -> str:
    """The cron string (five fields, in the hospital's time zone) in ``$variable``, else ``default``; a malformed one
    stops the code location from loading with the variable's name (never a schedule that
    silently never runs)."""
    from dagster._utils.schedules import is_valid_cron_string

    text = " ".join(os.environ.get(variable, "").split()) or default
    if len(text.split()) != 5 or not is_valid_cron_string(text):
        raise SettingsError(
            f"{variable}={text!r} is not a cron schedule of five fields (minute hour day month "
            f"weekday), e.g. {default!r}."
        )
    return text
