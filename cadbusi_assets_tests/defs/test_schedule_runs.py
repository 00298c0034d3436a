"""A schedule switched on in the UI and carried out by the daemon, as users run it.

The schedules were tested by evaluating them in the test process only: nothing showed that the
daemon ticks them, launches their runs and that those runs finish. Their times are settings now
(``CADBUSI_NIGHTLY_AT``, ``CADBUSI_LATE_ARRIVALS_SCHEDULE``: UTC), so this test sets
the late-arrival schedule to every minute, switches it on through the webserver's GraphQL API
(the UI's toggle), and waits for the daemon: its first tick launches one run per date of the
window whose study count changed (both dates of a new cohort), both runs succeed, and the next
tick launches nothing ("no study date in the window changed"). Every wait is bounded.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import dagster as dg
import pytest

from cadbusi_assets.identity import generate_key_file
from cadbusi_assets_tests.defs.services import (
    ROOT,
    dagster_services,
    materialized,
    product_env,
    wait_for,
    write_instance_yaml,
)
from cadbusi_demo import DemoConfig, generate_demo_cohort

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("schedule_runs")]

TODAY = dt.datetime.now(dt.UTC).date()
#: two dates inside the late-arrival window (the 7 days before yesterday, less the nightly
#: schedule's date: before 02:00 UTC that is the day before yesterday)
COHORT = DemoConfig(
    start=TODAY - dt.timedelta(days=4), days=2, studies_per_day=(1, 1), seed=13, workers=2
)
DATES = [d.isoformat() for d in COHORT.dates()]
SELECTOR = {
    "repositoryLocationName": "cadbusi_assets",
    "repositoryName": "__repository__",
    "scheduleName": "late_arrivals_schedule",
}
START = """mutation($s: ScheduleSelector!) { startSchedule(scheduleSelector: $s) {
    __typename ... on ScheduleStateResult { scheduleState { status } }
    ... on PythonError { message } } }"""
TICKS = """query($s: ScheduleSelector!) { scheduleOrError(scheduleSelector: $s) {
    ... on Schedule { cronSchedule scheduleState { ticks(limit: 10) {
        status skipReason runIds timestamp } } } } }"""


def test_a_schedule_switched_on_in_the_ui_runs_through_the_daemon(tmp_path):
    cohort = tmp_path / "cohort"
    generate_demo_cohort(cohort, COHORT)
    key = generate_key_file(tmp_path / "secrets" / "pseudonym.key")
    env = product_env(tmp_path / "deploy", cohort, key, CADBUSI_LATE_ARRIVALS_SCHEDULE="* * * * *")
    write_instance_yaml(env)
    with dagster_services(env) as services:
        data = services.graphql(TICKS, {"s": SELECTOR})["scheduleOrError"]
        assert data["cronSchedule"] == "* * * * *"
        started = services.graphql(START, {"s": SELECTOR})["startSchedule"]
        assert started["__typename"] == "ScheduleStateResult", started
        instance = services.instance()

        def ticks() -> list[dict]:
            reply = services.graphql(TICKS, {"s": SELECTOR})["scheduleOrError"]
            return sorted(reply["scheduleState"]["ticks"], key=lambda t: t["timestamp"])

        first = wait_for(
            lambda: [t for t in ticks() if t["status"] == "SUCCESS"],
            timeout=150,
            what="the daemon's first tick of the schedule",
            services=services,
        )[0]
        assert len(first["runIds"]) == 2, first

        def finished() -> list[dg.DagsterRun] | None:
            runs = [instance.get_run_by_id(r) for r in first["runIds"]]
            return runs if all(r is not None and r.is_finished for r in runs) else None

        runs = wait_for(finished, timeout=900, what="the schedule's runs", services=services)
        assert all(r.is_success for r in runs), services.log_tail("daemon")
        assert sorted(r.tags["dagster/partition"] for r in runs) == DATES
        assert all(r.tags["cadbusi/reason"] == "late arrivals" for r in runs)
        for asset in ("raw_dicom", "deidentified_images", "labelbox_data_rows"):
            assert set(DATES) <= materialized(instance, asset), asset

        # the next tick: nothing changed in the warehouse, nothing is launched
        later = wait_for(
            lambda: [
                t
                for t in ticks()
                if t["timestamp"] > first["timestamp"] and t["status"] != "STARTED"
            ],
            timeout=150,
            what="the schedule's next tick",
            services=services,
        )[0]
        assert (later["status"], later["runIds"]) == ("SKIPPED", []), later
        assert later["skipReason"] == "no study date in the window changed"
        instance.dispose()


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("CADBUSI_NIGHTLY_AT", "25:00", "is not a time of day"),
        ("CADBUSI_NIGHTLY_AT", "2am", "is not a time of day"),
        ("CADBUSI_LATE_ARRIVALS_SCHEDULE", "every morning", "is not a cron schedule"),
        ("CADBUSI_LATE_ARRIVALS_SCHEDULE", "0 5 * *", "is not a cron schedule"),
        ("CADBUSI_LATE_ARRIVALS_SCHEDULE", "0 25 * * *", "is not a cron schedule"),
    ],
)
def test_a_malformed_schedule_setting_stops_the_code_location_with_its_name(variable, value, says):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CADBUSI_", "DAGSTER_"))}
    env[variable] = value
    result = subprocess.run(
        [sys.executable, "-c", "from cadbusi_assets.definitions import defs; defs()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode != 0
    assert f"SettingsError: {variable}={value!r} {says}" in result.stderr


def test_the_nightly_schedule_at_another_time_still_asks_for_yesterday():
    """The nightly run at 23:30 UTC (a PACS busy until late evening) asks for the date that is
    over, yesterday's, as at 02:00."""
    code = """
import datetime as dt, dagster as dg
from cadbusi_assets.definitions import defs
d = defs()
schedule = d.resolve_schedule_def("nightly_study_date_schedule")
print(schedule.cron_schedule)
with dg.instance_for_test(set_dagster_home=False) as instance:
    for when in (dt.datetime(2026, 10, 5, 23, 30, tzinfo=dt.UTC),):
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=when,
            repository_def=d.get_repository_def())
        print([r.partition_key for r in schedule.evaluate_tick(context).run_requests])
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CADBUSI_", "DAGSTER_"))}
    env["CADBUSI_NIGHTLY_AT"] = "23:30"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split("\n")[:2] == ["30 23 * * *", "['2026-10-04']"]
