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
   the clocks skip runs once at the next existing time; and through the webserver's schedule
   page (its next ticks and their preview).
2. Years of history from the UI (held, a guard kept): a backfill of a year and a day of study
   dates through ``launchPartitionBackfill``, on a warehouse with studies on two dates only.

Held (probes, no test kept):

- 400 dates, all eight study-date assets, through the UI: 13 runs, all succeeded in 479 s on
  the shared 2-core machine (1.2 s a date), the launch answered in 0.1 s, the partition status
  of each asset in 0.05–0.12 s; 1,100 dates materialized (runless events, 8,800): the status
  query 0.022 → 0.066 s, the ticks of the interrupted, dead-run, handed-over and drift sensors
  0.02–0.06 → 0.05–0.10 s (the drift sensor reads 92 dates a tick: 0.11–0.23 s with 400 dates'
  real reports). Empty dates are "delivered" like others (no count beside a date), none failed.
- The code location reloaded from the UI (``reloadRepositoryLocation``, then
  ``reloadWorkspace``, 7 s each, one after the other from the moment the ranged run's first
  step had done its first date until the run ended) while a two-date ranged run of two
  studies a date ran: the run succeeded, and its raw zone (104 files) and research zone (86) were byte-identical to
  a clean ``make demo`` run of the same sources and key on another deployment, but for the
  deployment's own paths in the Labelbox send queue (the run worker is its own process; a
  reload restarts only the webserver's code server).
- The webserver killed and started again while a backfill of 24 dates (6 runs, two at a time)
  ran, then the backfill cancelled from the UI (``cancelPartitionBackfill``): the backfill page
  answered after the restart (status, runs, per-asset counts), the queued runs were cancelled
  at the daemon's next backfill iteration (17 s), the two runs going finished before the
  daemon came to terminate them (Dagster cancels the queued runs first, the going ones an
  iteration later; a ranged run terminated in a date is left to a person by the
  interrupted-dates sensor, as before), the backfill was CANCELED 40 s after the request, no
  run process was left, and its first date re-run with ``dagster asset materialize`` at once
  ran (17 s: no lock held). Cancelled again, on another deployment, while both runs of a
  4-date backfill (two studies a date, 2 dates a run) were in their imaging step: the backfill
  was CANCELED 12 s later, at the daemon's next iteration, by which time both runs had
  succeeded (every date delivered, no interrupted date), and a new backfill of the same dates
  succeeded. Not tried: a cancel that reaches a run still in its imaging pass (it needs a
  run longer than the daemon's 30 s iteration after the request).

Each test states what went wrong before the fix. Everything is synthetic; every subprocess
has a timeout.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
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


_PARTITION_STATUS = """
query($k: AssetKeyInput!) { assetNodeOrError(assetKey: $k) { ... on AssetNode {
  assetPartitionStatuses { ... on TimePartitionStatuses { ranges { startKey endKey status } } }
  partitionStats { numMaterialized numPartitions numFailed } } } }
"""

#: one tick of each sensor that looks at dates or runs, as the daemon evaluates it; the slowest
#: of three per sensor
_SENSOR_TICKS = """
import json, os, time, dagster as dg
from cadbusi_assets.definitions import defs
repo = defs().get_repository_def()
resources = dict(repo.get_top_level_resources())
out = {}
with dg.DagsterInstance.get() as instance:
    for name in ("interrupted_study_dates_sensor", "dead_run_sensor", "handed_over_studies_sensor",
                 "history_drift_sensor"):
        sensor, took = repo.get_sensor_def(name), []
        for _ in range(3):
            start = time.monotonic()
            result = sensor.evaluate_tick(dg.build_sensor_context(
                instance=instance, resources=resources, repository_def=repo))
            took.append(time.monotonic() - start)
        out[name] = [max(took), len(result.run_requests or [])]
print("RESULT " + json.dumps(out), flush=True)
os._exit(0)
"""

#: a year of history and a day: the dates of a UI backfill (records only; most have no study)
HISTORY_DATES = 366


@pytest.mark.integration
@pytest.mark.slow
def test_a_year_of_history_backfilled_from_the_ui_runs_in_monthly_runs_and_stays_quick(tmp_path):
    """Held (a guard; nothing failed). A person backfills a year of study dates from the UI
    (``launchPartitionBackfill``, records) on a warehouse with studies on two dates only. The
    launch answers at once, the daemon makes one run per 31 dates, every run succeeds and no
    date is recorded as failed (an empty date is no drop: it never had studies), the asset's
    partition status (the UI's materialized-partitions bar) answers within 5 s, and a tick of each date or run sensor stays under 5 s with the year materialized (each
    reads its own bounded slice: the newest runs, 92 dates of history). Measured: 400 dates,
    records, 239 s; 366 dates, records, 282 s (this test); all eight study-date assets, 400
    dates, 479 s (13 runs); status queries 0.05–0.5 s; 1,100 dates materialized: status
    0.07 s, sensor ticks 0.05–0.25 s."""
    import math

    import dagster as dg

    from cadbusi_assets.defs.reporting import FAILED_DATES_TAG
    from cadbusi_assets_tests.defs.services import (
        checkout_deployment,
        dagster_services,
        launch_backfill,
        wait_backfill,
    )
    from cadbusi_assets_tests.support import time_limit
    from cadbusi_demo import DemoConfig, generate_demo_cohort

    last = dt.date(2026, 9, 2)
    first = last - dt.timedelta(days=HISTORY_DATES - 1)
    dates = [(first + dt.timedelta(days=i)).isoformat() for i in range(HISTORY_DATES)]
    config = DemoConfig(
        start=last - dt.timedelta(days=1), days=2, studies_per_day=(1, 1), seed=11, workers=1
    )
    with time_limit(90, "a demo cohort"):
        generate_demo_cohort(tmp_path / "cohort", config)
    env = checkout_deployment(
        tmp_path,
        CADBUSI_WORKERS="1",
        CADBUSI_FIRST_STUDY_DATE=first.isoformat(),
        CADBUSI_LAST_STUDY_DATE=last.isoformat(),
    )
    records = ["radiology_reports", "pathology_reports", "imaging_studies"]
    with dagster_services(env) as services, services.instance() as instance:
        started = time.monotonic()
        backfill = launch_backfill(services, records, dates)
        assert time.monotonic() - started < 10, "the UI's launch did not answer promptly"
        assert wait_backfill(services, backfill, 600) == "COMPLETED_SUCCESS"
        runs = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill}))
        assert len(runs) == math.ceil(HISTORY_DATES / 31)
        assert all(r.is_success for r in runs), services.log_tail("daemon")
        assert not [r.run_id for r in runs if r.tags.get(FAILED_DATES_TAG)]
        for asset in records:
            started = time.monotonic()
            node = services.graphql(_PARTITION_STATUS, {"k": {"path": [asset]}})
            took = time.monotonic() - started
            node = node["assetNodeOrError"]
            assert took < 5, f"the partition status of {asset} took {took:.1f} s"
            assert node["partitionStats"] == {
                "numMaterialized": HISTORY_DATES,
                "numPartitions": HISTORY_DATES,
                "numFailed": 0,
            }
            ranges = node["assetPartitionStatuses"]["ranges"]
            assert ranges == [{"startKey": dates[0], "endKey": dates[-1], "status": "MATERIALIZED"}]
    result = subprocess.run(
        [sys.executable, "-c", _SENSOR_TICKS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (line,) = [x for x in result.stdout.splitlines() if x.startswith("RESULT ")]
    ticks = json.loads(line.removeprefix("RESULT "))
    for name, (slowest, requested) in ticks.items():
        assert slowest < 5, f"a tick of {name} took {slowest:.1f} s"
        assert requested == 0, name  # nothing was interrupted, handed over or changed


def test_the_late_arrival_window_ends_before_the_local_nightly_date():
    """The late-arrival window ends before the date the nightly schedule's latest tick asked
    for (round 3 of the hospital's data). That tick is at ``CADBUSI_NIGHTLY_AT`` local time:
    before, ``nightly_date`` compared the hour in UTC, so in New York at 01:30 local (05:30
    UTC, the nightly tick at 02:00 still to come) it named the date the coming tick will ask
    for, not the one the latest tick asked for, and the window left the day before that out."""
    code = (
        "import datetime as dt, json\n"
        "from cadbusi_assets.defs.automation.schedules import nightly_date\n"
        "U = dt.UTC\n"
        "print('RESULT ' + json.dumps([nightly_date(t).isoformat() for t in (\n"
        "    dt.datetime(2026, 3, 10, 5, 30, tzinfo=U),\n"  # 01:30 EDT: the 03-10 tick to come
        "    dt.datetime(2026, 3, 10, 6, 30, tzinfo=U),\n"  # 02:30 EDT: the 03-10 tick done
        "    dt.datetime(2026, 3, 10, 1, 30, tzinfo=U),\n"  # 21:30 on 03-09 local
        ")]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=_clean_env(CADBUSI_TIMEZONE="America/New_York", CADBUSI_NIGHTLY_AT="02:00"),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (line,) = [x for x in result.stdout.splitlines() if x.startswith("RESULT ")]
    assert json.loads(line.removeprefix("RESULT ")) == ["2026-03-08", "2026-03-09", "2026-03-08"]
