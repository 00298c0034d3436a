"""Sensors and schedules called directly, Dagster University style."""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import pytest

from cadbusi_assets.defs.automation.schedules import late_arrivals_schedule
from cadbusi_assets.defs.exports.sensors import export_partition_sensor, monthly_export_sensor
from cadbusi_assets.defs.labeling.sensors import labelbox_labels_sensor
from cadbusi_assets.defs.resources import LabelSourceResource, WarehouseResource
from cadbusi_assets_tests.builders import export_row


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
        quiet = late_arrivals_schedule(
            dg.build_schedule_context(
                instance=instance,
                scheduled_execution_time=when,
                resources={"warehouse": resource, "zones": env.resources["zones"]},
            )
        )
        assert isinstance(quiet, dg.SkipReason)
        con = duckdb.connect(str(warehouse))
        con.execute(
            "INSERT INTO radiology_exams SELECT * REPLACE ('LATE' || accession_number AS accession_number, "
            "'9.9.9.' || accession_number AS study_instance_uid) FROM radiology_exams "
            "WHERE exam_date = DATE '2026-09-02' AND modality = 'US' AND study_instance_uid IS NOT NULL LIMIT 1"
        )
        con.close()
        requests = late_arrivals_schedule(
            dg.build_schedule_context(
                instance=instance,
                scheduled_execution_time=when,
                resources={"warehouse": resource, "zones": env.resources["zones"]},
            )
        )
    assert [r.partition_key for r in requests] == ["2026-09-02"]
    assert requests[0].run_key == "late-2026-09-02-" + str(requests[0].run_key.rsplit("-", 1)[1])
