"""Partition definitions shared by the asset groups.

The study-date partitions cover the dates the data has:

- production: from ``CADBUSI_FIRST_STUDY_DATE`` to yesterday (in the hospital's time zone,
  ``CADBUSI_TIMEZONE``, default UTC: a day's partition appears once that local day is over);
- demo (``CADBUSI_HOME`` set, as ``make demo``, ``make dev`` and ``cadbusi demo`` do): exactly
  the demo cohort's dates, read from ``$CADBUSI_HOME/sources/cohort.json`` (written by the
  cohort generator), so a finished demo shows every partition materialized instead of a few
  percent of the days up to today;
- either: ``CADBUSI_LAST_STUDY_DATE`` (YYYY-MM-DD) sets the last partition explicitly.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Mapping

import dagster as dg

from cadbusi_assets.defs.automation.times import site_timezone
from cadbusi_assets.settings import SettingsError, demo_paths, load_settings

#: the file in the demo sources folder that records the cohort's first date and day count
DEMO_COHORT_FILE = "cohort.json"


def study_date_range(env: Mapping[str, str] | None = None) -> tuple[str, str | None]:
    """``(first, last)`` study date (ISO) of the partitions; ``last`` None means yesterday."""
    env = os.environ if env is None else env
    settings = load_settings(env)
    first, last = settings.first_study_date, None
    if settings.is_demo and env.get("CADBUSI_HOME", "").strip() and settings.home is not None:
        cohort = _demo_cohort(demo_paths(settings.home)["sources"] / DEMO_COHORT_FILE)
        if cohort is not None:
            demo_first, demo_last = cohort
            if not env.get("CADBUSI_FIRST_STUDY_DATE", "").strip():
                first = demo_first
            last = demo_last
    explicit = env.get("CADBUSI_LAST_STUDY_DATE", "").strip()
    if explicit:
        try:
            last = dt.date.fromisoformat(explicit).isoformat()
        except ValueError:
            raise SettingsError(
                f"CADBUSI_LAST_STUDY_DATE must be a date like 2024-01-31, not {explicit!r}."
            ) from None
    if last is not None and last < first:
        raise SettingsError(
            f"The last study date {last} is before the first study date {first} "
            "(CADBUSI_FIRST_STUDY_DATE / CADBUSI_LAST_STUDY_DATE)."
        )
    return first, last


def study_date_partitions_for(env: Mapping[str, str] | None = None) -> dg.DailyPartitionsDefinition:
    """The daily study-date partitions for ``env`` (default: the process environment)."""
    first, last = study_date_range(env)
    end = None if last is None else (dt.date.fromisoformat(last) + dt.timedelta(days=1))
    return dg.DailyPartitionsDefinition(
        start_date=first,
        end_date=None if end is None else end.isoformat(),  # exclusive
        timezone=site_timezone(env),
    )


def _demo_cohort(path) -> tuple[str, str] | None:
    """(first, last) date of the demo cohort recorded at ``path``; None if absent or unreadable."""
    try:
        config = json.loads(path.read_text(encoding="utf-8"))["config"]
        first = dt.date.fromisoformat(config["start"])
        days = int(config["days"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if days < 1:
        return None
    return first.isoformat(), (first + dt.timedelta(days=days - 1)).isoformat()


#: One partition per DICOM StudyDate (a date of the hospital's time zone; key = StudyDate).
study_date_partitions = study_date_partitions_for()

#: Dated exports, added from the UI, the export sensor or `cadbusi export` (keys like 2026-11-22).
export_partitions = dg.DynamicPartitionsDefinition(name="exports")

#: What an export key may be: it names the export's folder, so one path segment of letters,
#: digits, ``.``, ``_`` and ``-`` (2026-11-22, 2026-12-04.2, release_3).
_EXPORT_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class ExportKeyError(ValueError):
    """An export key that cannot name an export folder."""


def check_export_key(key: str) -> str:
    """``key`` when it can name an export, else :class:`ExportKeyError` (the key is quoted:
    it is typed by the user and names a folder of the research zone).

    >>> check_export_key("2026-12-04.2")
    '2026-12-04.2'
    >>> check_export_key("2026-11-22/images")
    Traceback (most recent call last):
    ...
    cadbusi_assets.defs.partitions.ExportKeyError: invalid export key '2026-11-22/images': ...
    """
    if not _EXPORT_KEY_RE.match(key):
        raise ExportKeyError(
            f"invalid export key {key!r}: an export key names the export's folder, so it is one "
            "name of letters, digits, '.', '_' and '-' (at most 64, starting with a letter or "
            "digit), e.g. 2026-11-22"
        )
    return key


PARTITIONS_PER_RUN_ENV_VAR = "CADBUSI_PARTITIONS_PER_RUN"


def partitions_per_run(env: Mapping[str, str] | None = None) -> int:
    """How many study dates one backfill run takes (``CADBUSI_PARTITIONS_PER_RUN``, default 31).

    One run works its dates step after step, so a backfill keeps at most as many machines busy
    as it has runs in flight: with N Celery workers (or pods) use at most dates / N per run and
    let the run queue start N runs at once (``max_concurrent_runs``).
    """
    env = os.environ if env is None else env
    text = env.get(PARTITIONS_PER_RUN_ENV_VAR, "").strip() or "31"
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 366:
        raise SettingsError(
            f"{PARTITIONS_PER_RUN_ENV_VAR} must be a whole number of study dates from 1 to 366, "
            f"not {text!r}."
        )
    return value


#: Partitioned assets run in chunks of at most a month per run during backfills (by default).
STUDY_DATE_BACKFILL = dg.BackfillPolicy.multi_run(max_partitions_per_run=partitions_per_run())
