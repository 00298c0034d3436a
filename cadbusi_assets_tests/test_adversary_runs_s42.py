"""Adversary, round 11: runs users launch, attacked through the hospital's clock and the size of
its history.

1. A hospital in a time zone with daylight saving. A DICOM StudyDate is the hospital's local
   date, but the platform had no time-zone setting: the study-date partitions, the nightly
   schedule, the late-arrival schedule and the freshness policy were all UTC. In New York the
   nightly run at 02:00 "UTC" ran at 21:00 or 22:00 local time and asked for the local date
   still going (its evening studies came after the run and waited a day for the late-arrival
   schedule, whose window leaves yesterday out); in Sydney it ran at 12:00 or 13:00, in the
   busy middle of the day, and ``CADBUSI_NIGHTLY_AT`` could follow the quiet hours in one
   season only. ``CADBUSI_TIMEZONE`` (IANA name, default UTC) now sets the partitions', the
   schedules' and the freshness policy's time zone; the tests go through both clock changes
   of a year with Dagster's own tick iterator (the daemon's), each tick evaluated as the daemon
   does: every study date is asked for once, after its local day is over, and a nightly time
   the clocks skip runs once at the next existing time.

Each test states what went wrong before the fix. Everything is synthetic; every subprocess
has a timeout.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from zoneinfo import ZoneInfo

import pytest

from cadbusi_assets_tests.defs.services import ROOT

pytestmark = [pytest.mark.xdist_group("adversary_runs_s42")]

#: evaluates the nightly schedule over the ticks the daemon would make around both clock
#: changes of 2026 (Dagster's tick iterator, the schedule's own time zone) and prints them
_TICKS = """
import datetime as dt, json, warnings
from zoneinfo import ZoneInfo
import dagster as dg
from dagster._utils.schedules import schedule_execution_time_iterator
from cadbusi_assets.definitions import defs
warnings.simplefilter("ignore")
d = defs()
repo = d.get_repository_def()
out = {}
nightly = d.resolve_schedule_def("nightly_study_date_schedule")
late = d.resolve_schedule_def("late_arrivals_schedule")
partitions = d.resolve_job_def("study_date_job").partitions_def
out["zones"] = [nightly.execution_timezone, late.execution_timezone, partitions.timezone]
out["ticks"] = []
with dg.instance_for_test(set_dagster_home=False) as instance:
    for start in START_DATES:
        begin = dt.datetime.fromisoformat(start).replace(tzinfo=ZoneInfo(SITE)).timestamp()
        times = schedule_execution_time_iterator(begin, nightly.cron_schedule, nightly.execution_timezone)
        for _ in range(6):
            when = next(times)
            context = dg.build_schedule_context(
                instance=instance, scheduled_execution_time=when, repository_def=repo)
            keys = [r.partition_key for r in nightly.evaluate_tick(context).run_requests]
            out["ticks"].append([when.timestamp(), keys])
    late_times = schedule_execution_time_iterator(
        dt.datetime(2026, 3, 6, tzinfo=ZoneInfo(SITE)).timestamp(), late.cron_schedule,
        late.execution_timezone)
    out["late"] = [next(late_times).timestamp() for _ in range(4)]
with dg.partition_loading_context(effective_dt=dt.datetime.fromisoformat(LAST_AT)):
    out["last_partition"] = partitions.get_last_partition_key()
print("RESULT " + json.dumps(out))
"""


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CADBUSI_", "DAGSTER_"))}
    env.update(PYTHONPATH=str(ROOT), CADBUSI_FIRST_STUDY_DATE="2026-01-01", **extra)
    return env


@pytest.mark.parametrize(
    ("site", "clock_changes", "last_at", "last_key"),
    [
        # spring forward 2026-03-08 02:00 → 03:00, fall back 2026-11-01 02:00 → 01:00;
        # 2026-03-09 01:00 UTC is 21:00 on 2026-03-08 in New York: that date is not over
        (
            "America/New_York",
            ["2026-03-06", "2026-10-29"],
            "2026-03-09T01:00:00+00:00",
            "2026-03-07",
        ),
        # fall back 2026-04-05 03:00 → 02:00, spring forward 2026-10-04 02:00 → 03:00;
        # 2026-03-09 14:00 UTC is 01:00 on 2026-03-10 in Sydney: 2026-03-09 is over
        (
            "Australia/Sydney",
            ["2026-04-02", "2026-10-01"],
            "2026-03-09T14:00:00+00:00",
            "2026-03-09",
        ),
    ],
)
def test_a_hospital_with_daylight_saving_gets_each_local_date_once_after_its_day(
    site, clock_changes, last_at, last_key
):
    """``CADBUSI_TIMEZONE`` names the hospital's zone and the nightly run is at 02:30 local
    time (``CADBUSI_NIGHTLY_AT``), a time New York skips on its spring-forward night. Before:
    no such setting; everything ran in UTC, so New York's nightly tick at 02:30 UTC (21:30 or
    22:30 local) asked for the local date still going, Sydney's came at 12:30 or 13:30 local,
    and the partition of a New York date appeared at 19:00 or 20:00 local time, before its
    evening studies. Now: one tick a day at 02:30 local (03:00 on the night 02:30 does not
    exist), each asking for the local yesterday, every date once through both clock changes."""
    env = _clean_env(CADBUSI_TIMEZONE=site, CADBUSI_NIGHTLY_AT="02:30")
    code = f"SITE = {site!r}\nSTART_DATES = {clock_changes!r}\nLAST_AT = {last_at!r}\n" + _TICKS
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (line,) = [x for x in result.stdout.splitlines() if x.startswith("RESULT ")]
    out = json.loads(line.removeprefix("RESULT "))
    zone = ZoneInfo(site)
    asked: list[str] = []
    for stamp, keys in out["ticks"]:
        local = dt.datetime.fromtimestamp(stamp, zone)
        (key,) = keys
        # the local yesterday: the last date that is over, at the quiet hour
        assert key == (local.date() - dt.timedelta(days=1)).isoformat(), (local, key)
        assert (local.hour, local.minute) in {(2, 30), (3, 0)}, local
        if (local.hour, local.minute) == (3, 0):  # only the night 02:30 does not exist
            assert local.replace(hour=2, minute=30, fold=0).utcoffset() != local.utcoffset()
        asked.append(key)
    for first in clock_changes:  # six consecutive dates from each start: none skipped or twice
        start = dt.date.fromisoformat(first)
        expected = [(start + dt.timedelta(days=i - 1)).isoformat() for i in range(6)]
        assert [k for k in asked if expected[0] <= k <= expected[-1]] == expected
    for stamp in out["late"]:  # the late-arrival cron (default 0 5 * * *) is local time too
        assert dt.datetime.fromtimestamp(stamp, zone).hour == 5
    assert out["last_partition"] == last_key
    assert out["zones"] == [site, site, site]  # nightly, late arrivals, partitions


@pytest.mark.parametrize("value", ["Europe/Pariss", "+01:00", "EST+5", "../etc/passwd"])
def test_a_malformed_time_zone_stops_the_code_location_with_its_name(value):
    """Before: no setting; a value now is a known IANA zone or the code location does not load
    (never partitions and schedules silently in UTC)."""
    result = subprocess.run(
        [sys.executable, "-c", "from cadbusi_assets.definitions import defs; defs()"],
        cwd=ROOT,
        env=_clean_env(CADBUSI_TIMEZONE=value),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode != 0
    assert f"SettingsError: CADBUSI_TIMEZONE={value!r} is not a time zone name" in result.stderr


_FUTURE_TICKS = """
query($s: ScheduleSelector!, $cursor: Float!) { scheduleOrError(scheduleSelector: $s) {
  ... on Schedule { executionTimezone cronSchedule
    futureTicks(cursor: $cursor, limit: 5) { results { timestamp
      evaluationResult { skipReason error { message } runRequests { tags { key value } } } } } }
  ... on PythonError { message } } }
"""


@pytest.mark.integration
def test_the_uis_schedule_page_shows_the_nightly_ticks_in_the_hospitals_time(tmp_path):
    """The schedule page of the webserver (its GraphQL: the next ticks and what each would ask
    for, the UI's tick preview), New York, nightly at 02:30, over the spring-forward night.
    Before: the UI listed the ticks at 02:30 UTC (21:30 or 22:30 the evening before), each
    asking for the New York date still going. Now: 02:30 local (03:00 on the night 02:30 does
    not exist), each asking for the date that is over."""
    from cadbusi_assets_tests.defs.services import checkout_deployment, dagster_services

    site = "America/New_York"
    env = checkout_deployment(
        tmp_path,
        CADBUSI_TIMEZONE=site,
        CADBUSI_NIGHTLY_AT="02:30",
        CADBUSI_FIRST_STUDY_DATE="2026-01-01",
        CADBUSI_LAST_STUDY_DATE="2026-12-31",
    )
    zone = ZoneInfo(site)
    selector = {
        "repositoryLocationName": "cadbusi_assets",
        "repositoryName": "__repository__",
        "scheduleName": "nightly_study_date_schedule",
    }
    cursor = dt.datetime(2026, 3, 6, tzinfo=zone).timestamp()
    with dagster_services(env, daemon=False) as services:
        data = services.graphql(_FUTURE_TICKS, {"s": selector, "cursor": cursor}, timeout=120)
    schedule = data["scheduleOrError"]
    assert schedule["executionTimezone"] == site, schedule
    seen = []
    for tick in schedule["futureTicks"]["results"]:
        local = dt.datetime.fromtimestamp(tick["timestamp"], zone)
        result = tick["evaluationResult"]
        assert result["error"] is None, result["error"]
        ((request,),) = [result["runRequests"]]
        tags = {t["key"]: t["value"] for t in request["tags"]}
        seen.append((local.strftime("%m-%d %H:%M"), tags["dagster/partition"]))
    assert seen == [
        ("03-06 02:30", "2026-03-05"),
        ("03-07 02:30", "2026-03-06"),
        ("03-08 03:00", "2026-03-07"),  # 02:30 does not exist that night
        ("03-09 02:30", "2026-03-08"),
        ("03-10 02:30", "2026-03-09"),
    ]
