"""Sensors and schedules called directly, Dagster University style."""

from __future__ import annotations

import datetime as dt
import json
import os

import dagster as dg
import pytest

from cadbusi_assets.defs.automation.schedules import late_arrivals_schedule
from cadbusi_assets.defs.exports.sensors import export_partition_sensor, monthly_export_sensor
from cadbusi_assets.defs.labeling.sensors import labelbox_labels_sensor
from cadbusi_assets.defs.resources import LabelSourceResource, WarehouseResource
from cadbusi_assets_tests.builders import export_row

#: A copy of one ultrasound exam of 2026-09-02 under a new accession and study: a late arrival.
LATE_EXAM = (
    "INSERT INTO radiology_exams SELECT * REPLACE ('LATE' || accession_number AS "
    "accession_number, '9.9.9.' || accession_number AS study_instance_uid) FROM "
    "radiology_exams WHERE exam_date = DATE '2026-09-02' AND modality = 'US' AND "
    "study_instance_uid IS NOT NULL LIMIT 1"
)


#: The late-arrival schedule's tick of 2026-09-06 05:00 UTC: window 2026-08-29 .. 2026-09-04.
LATE_TICK = dt.datetime(2026, 9, 6, 5, 0, tzinfo=dt.UTC)


def late_tick(instance, resources: dict, when: dt.datetime = LATE_TICK):
    """One evaluation of the late-arrival schedule, as the daemon makes it."""
    return late_arrivals_schedule(
        dg.build_schedule_context(
            instance=instance, scheduled_execution_time=when, resources=resources
        )
    )


def write_export(folder, name, rows):
    (folder / "exports").mkdir(parents=True, exist_ok=True)
    (folder / "exports" / name).write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_labelbox_sensor_requests_one_run_per_change(tmp_path):
    resource = LabelSourceResource(uri=f"folder://{tmp_path}")
    instance = dg.DagsterInstance.ephemeral()
    first = labelbox_labels_sensor(
        dg.build_sensor_context(instance=instance, resources={"labelbox": resource})
    )
    assert first.run_requests == [] and first.skip_reason is not None
    write_export(tmp_path, "a.ndjson", [export_row("a")])
    second = labelbox_labels_sensor(
        dg.build_sensor_context(
            instance=instance, cursor=first.cursor, resources={"labelbox": resource}
        )
    )
    assert len(second.run_requests) == 1 and second.cursor != first.cursor
    third = labelbox_labels_sensor(
        dg.build_sensor_context(
            instance=instance, cursor=second.cursor, resources={"labelbox": resource}
        )
    )
    assert third.run_requests == []


def test_export_partition_sensor_requests_new_partitions_once():
    with dg.instance_for_test(set_dagster_home=False) as instance:
        instance.add_dynamic_partitions("exports", ["2026-11-01"])
        first = export_partition_sensor(dg.build_sensor_context(instance=instance))
        assert [r.partition_key for r in first.run_requests] == ["2026-11-01"]
        again = export_partition_sensor(
            dg.build_sensor_context(instance=instance, cursor=first.cursor)
        )
        assert again.run_requests == []
        instance.add_dynamic_partitions("exports", ["2026-12-01"])
        later = export_partition_sensor(
            dg.build_sensor_context(instance=instance, cursor=again.cursor)
        )
        assert [r.partition_key for r in later.run_requests] == ["2026-12-01"]


def test_monthly_export_sensor_adds_the_month_partition_once():
    with dg.instance_for_test(set_dagster_home=False) as instance:
        result = monthly_export_sensor(dg.build_sensor_context(instance=instance))
        key = dt.datetime.now(dt.UTC).date().replace(day=1).isoformat()
        assert result.dynamic_partitions_requests[0].partition_keys == [key]
        instance.add_dynamic_partitions("exports", [key])
        assert monthly_export_sensor(dg.build_sensor_context(instance=instance)).run_requests == []


@pytest.mark.integration
@pytest.mark.xdist_group("pipeline")
def test_late_arrival_schedule_requests_only_changed_days(
    definitions, cohort_dir, key_file, tmp_path
):
    """After the days are processed the schedule skips; a study added to the warehouse makes its
    day stale and only that day is requested."""
    import shutil

    import duckdb

    from cadbusi_assets_tests.defs.conftest import days, make_environment, run

    warehouse = tmp_path / "warehouse_late.duckdb"
    shutil.copyfile(cohort_dir / "warehouse.duckdb", warehouse)
    resource = WarehouseResource(uri=f"duckdb://{warehouse}")
    env = make_environment(tmp_path / "run", cohort_dir, key_file)
    when = dt.datetime(2026, 9, 6, 5, 0, tzinfo=dt.UTC)  # window 2026-08-29 .. 2026-09-04
    with dg.instance_for_test(set_dagster_home=False) as instance:
        assert run(
            definitions, env, ["radiology_reports"], instance, partition_range=days()
        ).success
        quiet = late_tick(instance, {"warehouse": resource, "zones": env.resources["zones"]}, when)
        assert isinstance(quiet, dg.SkipReason)
        con = duckdb.connect(str(warehouse))
        con.execute(LATE_EXAM)
        con.close()
        requests = late_tick(
            instance, {"warehouse": resource, "zones": env.resources["zones"]}, when
        )
    assert [r.partition_key for r in requests] == ["2026-09-02"]
    assert requests[0].run_key == "late-2026-09-02-" + str(requests[0].run_key.rsplit("-", 1)[1])


@pytest.mark.integration
@pytest.mark.xdist_group("pipeline")
def test_a_count_that_comes_back_is_asked_for_again_and_no_run_key_shows_a_count(
    definitions, cohort_dir, key_file, tmp_path
):
    """The run key was ``late-<date>-<warehouse count>``: a count beside a real date in the
    UI, and once a date's count went back to one it had (an exam added, processed, then
    cancelled and reinstated), the key was one Dagster had launched and skips, so the date
    was never run again. The key now marks the date's latest processing."""
    import shutil

    import duckdb

    from cadbusi_assets_tests.defs.conftest import make_environment, run

    warehouse = tmp_path / "warehouse_swing.duckdb"
    shutil.copyfile(cohort_dir / "warehouse.duckdb", warehouse)
    resource = WarehouseResource(uri=f"duckdb://{warehouse}")
    env = make_environment(tmp_path / "run", cohort_dir, key_file)
    env.resources["warehouse"] = resource  # the runs read the warehouse the schedule asks
    day = "2026-09-02"
    when = dt.datetime(2026, 9, 6, 5, 0, tzinfo=dt.UTC)  # window 2026-08-29 .. 2026-09-04
    late = LATE_EXAM
    cancel = "DELETE FROM radiology_exams WHERE accession_number LIKE 'LATE%'"
    keys: list[str] = []
    with dg.instance_for_test(set_dagster_home=False) as instance:

        def swing(sql: str) -> None:
            con = duckdb.connect(str(warehouse))
            con.execute(sql)
            con.close()
            requests = late_tick(
                instance, {"warehouse": resource, "zones": env.resources["zones"]}, when
            )
            changed = [r for r in requests if r.partition_key == day]
            assert len(changed) == 1, (keys, requests)
            keys.append(str(changed[0].run_key))
            assert run(  # the requested run: the date processed again
                definitions, env, ["radiology_reports"], instance, partition_key=day
            ).success

        assert run(definitions, env, ["radiology_reports"], instance, partition_key=day).success
        swing(late)  # an exam added late
        swing(cancel)  # cancelled: the count is back to the first
        swing(late)  # reinstated: the count of the first request again
    assert len(set(keys)) == 3, keys
    for key in keys:  # the date, then the processing's mark: no count
        assert key.startswith(f"late-{day}-")


@pytest.mark.integration
@pytest.mark.xdist_group("pipeline")
def test_older_dates_changed_in_the_warehouse_are_run_again_and_a_bad_report_blocks_none(
    definitions, cohort_dir, key_file, tmp_path
):
    """Dates older than the late-arrival window were never looked at again: an exam date
    corrected months later left both dates as they were, for good. ``history_drift_sensor``
    goes through them a quarter of a year a tick and asks for a processed date whose warehouse
    count changed (never a date that was not processed: that is a backfill for a person to
    start). And a schedule reading one date's report read every date's report file: an
    unreadable report of any date (a disk error, a half-written file) stopped the late-arrival
    schedule for all dates."""
    import shutil

    import duckdb

    from cadbusi_assets.defs.automation.schedules import history_drift_sensor
    from cadbusi_assets.defs.partitions import study_date_partitions
    from cadbusi_assets.stages.report import REPORTS
    from cadbusi_assets_tests.defs.conftest import days, make_environment, run

    warehouse = tmp_path / "warehouse_drift.duckdb"
    shutil.copyfile(cohort_dir / "warehouse.duckdb", warehouse)
    resource = WarehouseResource(uri=f"duckdb://{warehouse}")
    env = make_environment(tmp_path / "run", cohort_dir, key_file)
    zones = env.resources["zones"]
    resources = {"warehouse": resource, "zones": zones}
    reports = zones.raw().local_path(REPORTS, "radiology_reports")
    with dg.instance_for_test(set_dagster_home=False) as instance:
        assert run(
            definitions, env, ["radiology_reports"], instance, partition_range=days()
        ).success

        def drift(cursor: str) -> dg.SensorResult:
            context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
            return history_drift_sensor(context)

        quiet = drift("2026-09-01")
        assert quiet.run_requests == [] and quiet.skip_reason is not None
        # the next quarter of the history, or its first date once the pass reached the window's
        # end (the 9 days before today belong to the nightly and late-arrival runs)
        last = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=9)
        following = min(last, dt.date(2026, 9, 1) + dt.timedelta(days=91)) + dt.timedelta(days=1)
        first = study_date_partitions.start.date().isoformat()
        assert quiet.cursor == (following.isoformat() if following <= last else first)
        (reports / "2020-01-01.json").write_text("{ half written")  # another date's report
        (reports / "2026-09-03.json").unlink()  # a date the history never processed
        con = duckdb.connect(str(warehouse))
        con.execute(LATE_EXAM)
        con.close()
        changed = drift("2026-09-01")

        late = late_tick(instance, resources)
        # the warehouse answers nothing (an outage, a wrong view): every processed date would be
        # asked for and each run refuse the drop; nothing is asked, the reason is given
        con = duckdb.connect(str(warehouse))
        con.execute("DELETE FROM radiology_exams")
        con.close()
        outage, late_outage = drift("2026-09-01"), late_tick(instance, resources)
    assert outage.run_requests == [] and outage.cursor == "2026-09-01"
    assert outage.skip_reason is not None and isinstance(late_outage, dg.SkipReason)
    for said in (outage.skip_reason.skip_message, late_outage.skip_message):
        assert "an outage or a wrong view" in str(said), said
        assert not any(ch.isdigit() for ch in str(said).split("dates of")[0]), said  # no count
    assert [r.partition_key for r in changed.run_requests] == ["2026-09-02"]
    assert changed.run_requests[0].run_key.startswith("drift-2026-09-02-")
    assert changed.run_requests[0].tags["cadbusi/reason"] == "the warehouse changed an older date"
    # the late-arrival window (2026-08-29 .. 2026-09-04) asks for the never-processed date too
    assert [r.partition_key for r in late] == ["2026-09-02", "2026-09-03"]


@pytest.mark.integration
@pytest.mark.xdist_group("pipeline")
def test_a_date_the_schedules_missed_while_the_daemon_was_off_is_run_by_the_drift_sensor(
    definitions, cohort_dir, key_file, tmp_path
):
    """The daemon off for longer than the late-arrival window (8 days): the nightly schedule
    catches up a few ticks, the late-arrival schedule looks back 8 days, and the drift sensor
    looked only at processed dates, so a date in between with studies in the warehouse was
    never run, silently. Dates after the nightly schedule's first date that were never
    processed are now asked for by the drift sensor, with their reason; history before the
    schedules began stays a backfill for a person to start."""
    from cadbusi_assets.defs.automation.schedules import (
        MISSED_REASON,
        history_drift_sensor,
        nightly_study_date_schedule,
    )
    from cadbusi_assets.stages.report import REPORTS
    from cadbusi_assets_tests.defs.conftest import days, make_environment, run

    env = make_environment(tmp_path / "run", cohort_dir, key_file)
    zones = env.resources["zones"]
    resources = {"warehouse": env.resources["warehouse"], "zones": zones}
    reports = zones.raw().local_path(REPORTS, "radiology_reports")
    first, _last = days()
    with dg.instance_for_test(set_dagster_home=False) as instance:
        assert run(
            definitions, env, ["radiology_reports"], instance, partition_range=days()
        ).success
        (reports / "2026-09-03.json").unlink()  # a date the schedules never ran

        def drift() -> dg.SensorResult:
            context = dg.build_sensor_context(instance=instance, cursor=first, resources=resources)
            return history_drift_sensor(context)

        history = drift()  # no schedule ever ran here: history is a person's backfill
        instance.add_run(
            dg.DagsterRun(
                job_name="study_date_job",
                run_id="0" * 8 + "-0000-0000-0000-" + "0" * 12,
                tags={
                    "dagster/schedule_name": nightly_study_date_schedule.name,
                    "dagster/partition": first,
                },
                status=dg.DagsterRunStatus.SUCCESS,
            )
        )
        missed = drift()
    assert "2026-09-03" not in [r.partition_key for r in history.run_requests]
    asked = {r.partition_key: r for r in missed.run_requests}
    assert "2026-09-03" in asked, missed
    assert asked["2026-09-03"].tags["cadbusi/reason"] == MISSED_REASON
    assert asked["2026-09-03"].run_key.startswith("drift-2026-09-03-")


def test_labelbox_sensor_runs_again_once_a_file_written_moments_ago_stands_still(tmp_path):
    """A file changed moments ago may still be being written (cut between two rows): its
    run takes its labels but deletes none. The sensor asks for one more run once the file has
    stood still for ``$CADBUSI_LABEL_SETTLE_SECONDS``, so the deletions then apply; it does not
    ask again while the file stays unchanged."""
    resource = LabelSourceResource(uri=f"folder://{tmp_path}")
    instance = dg.DagsterInstance.ephemeral()

    def tick(cursor):
        return labelbox_labels_sensor(
            dg.build_sensor_context(
                instance=instance, cursor=cursor, resources={"labelbox": resource}
            )
        )

    write_export(tmp_path, "a.ndjson", [export_row("a")])
    written = tick(None)
    assert len(written.run_requests) == 1
    waiting = tick(written.cursor)
    assert waiting.run_requests == [] and waiting.cursor == written.cursor
    path = tmp_path / "exports" / "a.ndjson"
    old = path.stat().st_mtime - 3600
    os.utime(path, (old, old))
    settled = tick(waiting.cursor)
    assert len(settled.run_requests) == 1
    assert settled.run_requests[0].run_key != written.run_requests[0].run_key
    assert tick(settled.cursor).run_requests == []
