"""``handed_over_studies_sensor`` evaluated on an instance with ``raw_dicom`` materializations
(the run through the daemon is in ``test_moved_study_handover.py``): a date is asked for while
it lacks an instance another date handed over, once per event and date; one date's unreadable
record and a date the partitions no longer have never block the others."""

from __future__ import annotations

import dagster as dg
import polars as pl

from cadbusi_assets.defs.automation.sensors import HANDOVER_TAG, handed_over_studies_sensor
from cadbusi_assets.defs.resources import ZonesResource
from cadbusi_assets.stages.retrieval import HANDOVERS_TABLE, INSTANCES_TABLE, waiting_dates
from cadbusi_assets.storage import write_partition_table

OLD, NEW, OTHER, BROKEN = "2026-09-01", "2026-09-02", "2026-09-03", "2026-09-04"
GONE = "2020-01-01"  # before the study-date partitions begin


def _handovers(day: str, rows: list[tuple[str, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "partition": [day] * len(rows),
            "to_partition": [to for to, _ in rows],
            "study_key": ["S1"] * len(rows),
            "instance_key": [key for _, key in rows],
        }
    )


def _holds(raw, day: str, keys: list[str]) -> None:
    write_partition_table(
        raw,
        INSTANCES_TABLE,
        day,
        pl.DataFrame(
            {"partition": [day] * len(keys), "instance_key": keys, "status": ["stored"] * len(keys)}
        ),
    )


def _materialized(instance: dg.DagsterInstance, day: str) -> None:
    instance.report_runless_asset_event(dg.AssetMaterialization("raw_dicom", partition=day))


def test_the_sensor_asks_for_each_waiting_date_until_it_holds_the_study(tmp_path):
    zones = ZonesResource(raw_uri=str(tmp_path / "raw"), research_uri=str(tmp_path / "research"))
    raw = zones.raw()
    write_partition_table(
        raw,
        HANDOVERS_TABLE,
        OLD,
        _handovers(OLD, [(NEW, "I1"), (NEW, "I2"), (GONE, "I3"), (OTHER, "I4")]),
    )
    _holds(raw, OTHER, ["I4"])  # that date took it already
    raw.write_bytes(("tables", HANDOVERS_TABLE, f"{BROKEN}.parquet"), b"not parquet")
    with dg.instance_for_test(set_dagster_home=False) as instance:

        def tick(cursor: str | None) -> dg.SensorResult:
            context = dg.build_sensor_context(
                instance=instance, cursor=cursor, resources={"zones": zones}
            )
            return handed_over_studies_sensor(context)

        _materialized(instance, BROKEN)  # its record is unreadable: skipped, not blocking
        _materialized(instance, OLD)
        _materialized(instance, OLD)  # two events of one date in one tick: one request
        first = tick(None)
        assert [r.partition_key for r in first.run_requests] == [NEW]
        assert first.run_requests[0].tags[HANDOVER_TAG] == "raw_dicom"  # no count beside a date
        assert waiting_dates(raw, OLD) == {GONE: ["I3"], NEW: ["I1", "I2"]}
        assert first.run_requests[0].asset_selection[0] == dg.AssetKey("raw_dicom")
        quiet = tick(first.cursor)  # no new event: nothing asked again
        assert quiet.run_requests == [] and quiet.cursor == first.cursor

        _holds(raw, NEW, ["I1"])  # the date ran, one instance failed to come
        _materialized(instance, OLD)
        again = tick(first.cursor)
        assert [r.partition_key for r in again.run_requests] == [NEW]
        assert waiting_dates(raw, OLD) == {GONE: ["I3"], NEW: ["I2"]}
        assert again.run_requests[0].run_key != first.run_requests[0].run_key

        _holds(raw, NEW, ["I1", "I2"])
        _materialized(instance, OLD)
        done = tick(again.cursor)
        assert done.run_requests == []
        assert done.skip_reason is not None
        assert done.skip_reason.skip_message == "no study handed over"
