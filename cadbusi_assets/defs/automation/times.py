"""The times of the schedules (settings, UTC): read by the schedules and by the nightly
assets' freshness policy, which follows the nightly run."""

from __future__ import annotations

import os
from collections.abc import Mapping

from cadbusi_assets.settings import SettingsError

NIGHTLY_ENV_VAR = "CADBUSI_NIGHTLY_AT"
LATE_ARRIVALS_ENV_VAR = "CADBUSI_LATE_ARRIVALS_SCHEDULE"
DEFAULT_NIGHTLY = "02:00"
DEFAULT_LATE_ARRIVALS = "0 5 * * *"


def nightly_time(env: Mapping[str, str] | None = None) -> tuple[int, int]:
    """(hour, minute), UTC, of the nightly run: ``$CADBUSI_NIGHTLY_AT`` (``HH:MM``), else
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
            f"{NIGHTLY_ENV_VAR}={text!r} is not a time of day like {DEFAULT_NIGHTLY!r} (HH:MM, UTC)."
        )
    return int(hour), int(minute)


def schedule_cron(variable: str, default: str) -> str:
    """The cron string (five fields, UTC) in ``$variable``, else ``default``; a malformed one
    stops the code location from loading with the variable's name (never a schedule that
    silently never runs)."""
    from dagster._utils.schedules import is_valid_cron_string

    text = " ".join(os.environ.get(variable, "").split()) or default
    if len(text.split()) != 5 or not is_valid_cron_string(text):
        raise SettingsError(
            f"{variable}={text!r} is not a cron schedule of five fields (minute hour day month "
            f"weekday, UTC), e.g. {default!r}."
        )
    return text
