"""A killed run, a given-up date and a terminated date stay found however many runs come
after them. The sensor looked only through the newest 1000 runs of the instance: a UI backfill
of a few years of single dates queued after a kill (or a day of busy schedules) pushed the
killed run out of sight, its unfinished dates were never re-run, and a date the sensor had
given up on (or a person had terminated) was re-run again."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import dagster as dg
from dagster._core.events import DagsterEvent

from cadbusi_assets.defs.automation.sensors import (
    INTERRUPTED_TAG,
    MAX_INTERRUPTED_RERUNS,
    RECENT_RUNS,
    interrupted_date_requests,
    killed_run_dates,
)

FAILURE, SUCCESS = dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.SUCCESS


def _run(instance: dg.DagsterInstance, status, **tags: str) -> dg.DagsterRun:
    run = dg.DagsterRun(
        job_name="study_date_job", run_id=str(uuid.uuid4()), status=status, tags=tags
    )
    instance.add_run(run)
    return run


def _ranged(instance, status, start: str, end: str, **tags: str) -> dg.DagsterRun:
    return _run(
        instance,
        status,
        **{
            "dagster/asset_partition_range_start": start,
            "dagster/asset_partition_range_end": end,
            **tags,
        },
    )


def _single(instance, status, day: str, **tags: str) -> dg.DagsterRun:
    return _run(instance, status, **{"dagster/partition": day, **tags})


def _step_started(instance: dg.DagsterInstance, run: dg.DagsterRun) -> None:
    event = DagsterEvent(event_type_value="STEP_START", job_name=run.job_name, step_key="step")
    instance.report_dagster_event(event, run.run_id)


def _backfill(instance: dg.DagsterInstance, count: int) -> None:
    """``count`` successful single-date runs of other dates (a backfill of older years)."""
    first = dt.date(2019, 1, 1)
    for n in range(count):
        _single(instance, SUCCESS, (first + dt.timedelta(days=n)).isoformat())


def test_a_killed_run_is_found_behind_more_than_the_newest_runs():
    with dg.DagsterInstance.ephemeral() as instance:
        killed = _ranged(instance, FAILURE, "2026-09-01", "2026-09-03")
        _step_started(instance, killed)
        _backfill(instance, RECENT_RUNS + 100)
        assert len(instance.get_runs(limit=RECENT_RUNS + 200)) == RECENT_RUNS + 101
        started = time.perf_counter()
        found = killed_run_dates(instance)
        took = time.perf_counter() - started
        assert sorted(found) == ["2026-09-01", "2026-09-02", "2026-09-03"], found
        assert {k.run_id for k in found.values()} == {killed.run_id}
        # runs of those dates newer than the kill are still theirs: one date, one range
        _single(instance, SUCCESS, "2026-09-02")
        _ranged(instance, SUCCESS, "2026-09-03", "2026-09-03")
        assert sorted(killed_run_dates(instance)) == ["2026-09-01"]
        # a re-run of the date that was itself killed is the one re-run next
        again = _single(instance, FAILURE, "2026-09-01")
        _step_started(instance, again)
        assert {d: k.run_id for d, k in killed_run_dates(instance).items()} == {
            "2026-09-01": again.run_id
        }
    print(f"killed_run_dates over {RECENT_RUNS + 101} runs: {took:.3f} s")


def test_given_up_and_terminated_dates_stay_left_alone_behind_the_newest_runs():
    given_up, terminated = "2026-09-05", "2026-09-06"
    with dg.DagsterInstance.ephemeral() as instance:
        for _ in range(MAX_INTERRUPTED_RERUNS):
            _single(instance, FAILURE, given_up, **{INTERRUPTED_TAG: "token"})
        _single(instance, dg.DagsterRunStatus.CANCELED, terminated)
        _backfill(instance, RECENT_RUNS + 50)
        interrupted = {given_up: "token-2", terminated: "token-3"}
        requests, _, notes = interrupted_date_requests(instance, interrupted, None)
        assert requests == [], [r.partition_key for r in requests]
        assert f"re-runs: {given_up}" in notes and f"terminated: {terminated}" in notes, notes
        # a date with no such history is re-run
        requests, _, _ = interrupted_date_requests(instance, {"2026-09-07": "token"}, None)
        assert [r.partition_key for r in requests] == ["2026-09-07"]
