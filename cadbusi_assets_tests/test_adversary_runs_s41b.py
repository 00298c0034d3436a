"""Adversary, round 10: runs users launch, the open ends of round 9
(``test_adversary_runs_s41.py``).

1. A user's "Re-execute" in the UI of a run that ``interrupted_study_dates_sensor`` launched:
   Dagster copies the parent's tags to the child, ``cadbusi/rerun_of_interrupted`` included,
   so the user's runs counted as the sensor's tries: after one re-run of its own and a user's
   failed re-execution of it, the sensor said the date "failed their last 3 re-runs" and left
   it to a person. A run counts as the sensor's only when it is no re-execution.

Held (read, no test kept): ``cadbusi/retry_of`` (``failed_study_dates_sensor``) is inherited
the same way but nothing reads it: that sensor has no count of tries (it re-runs the failed
dates of each successful ranged run once, by run key).

Everything is synthetic; every subprocess has a timeout.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

pytestmark = [pytest.mark.xdist_group("adversary_runs_s41b")]


def _sensor_resources(tmp_path: Path) -> dict:
    from cadbusi_assets.defs.resources import PseudonymKeyResource, ZonesResource
    from cadbusi_assets.identity import generate_key_file
    from cadbusi_assets.storage import open_zone

    key = generate_key_file(tmp_path / "secrets" / "pseudonym.key")
    raw = open_zone(tmp_path / "raw", name="raw").ensure()
    research = open_zone(tmp_path / "research", name="research").ensure()
    return {
        "zones": ZonesResource(raw_uri=str(raw.root), research_uri=str(research.root)),
        "pseudonym_key": PseudonymKeyResource(key_file=str(key)),
    }


def _failed_before_start(instance: dg.DagsterInstance, tags: dict, parent=None) -> dg.DagsterRun:
    """A run of the study-date assets that failed before it started (its location broken);
    with ``parent``, a re-execution of it as the UI makes one (the parent's tags copied)."""
    from cadbusi_assets.defs.automation.schedules import STUDY_DATE_ASSETS

    lineage = {}
    if parent is not None:
        root = parent.root_run_id or parent.run_id
        tags = {**parent.tags, "dagster/parent_run_id": parent.run_id, "dagster/root_run_id": root}
        lineage = {"parent_run_id": parent.run_id, "root_run_id": root}
    return instance.add_run(
        dg.DagsterRun(
            job_name="__ASSET_JOB",
            status=dg.DagsterRunStatus.FAILURE,
            asset_selection=frozenset(STUDY_DATE_ASSETS),
            tags=tags,
            **lineage,
        )
    )


def test_a_users_re_execution_of_the_sensors_re_run_is_not_counted_as_the_sensors_try(tmp_path):
    """A date's run failed before it started; ``interrupted_study_dates_sensor`` re-ran it
    (failed again), a user clicked "Re-execute" on that run (failed), the sensor re-ran the
    date once more (failed). Before: the user's run inherited ``cadbusi/rerun_of_interrupted``
    and counted as the sensor's: after two tries of its own the sensor said the date "failed
    their last 3 re-runs" and gave up. Now the sensor tries a third time, and gives up only
    after three of its own re-runs in a row failed."""
    from cadbusi_assets.defs.automation.sensors import MAX_INTERRUPTED_RERUNS
    from cadbusi_assets_tests.run_support import sensor_tick

    resources = _sensor_resources(tmp_path)
    day = "2026-09-01"
    with dg.DagsterInstance.ephemeral() as instance:
        _failed_before_start(instance, {"dagster/partition": day})
        tick = sensor_tick(instance, resources)
        (request,) = tick.run_requests
        sensors_runs = [_failed_before_start(instance, {"dagster/partition": day, **request.tags})]
        tick = sensor_tick(instance, resources, tick.cursor)
        assert [r.partition_key for r in tick.run_requests] == [day], tick.skip_reason
        # the user re-executes the sensor's run from the UI: it fails as well
        _failed_before_start(instance, {}, parent=sensors_runs[0])
        tick = sensor_tick(instance, resources, tick.cursor)
        assert [r.partition_key for r in tick.run_requests] == [day], tick.skip_reason
        sensors_runs.append(
            _failed_before_start(instance, {"dagster/partition": day, **request.tags})
        )
        tick = sensor_tick(instance, resources, tick.cursor)
        said = tick.skip_reason.skip_message if tick.skip_reason else ""
        assert [r.partition_key for r in tick.run_requests] == [day], (
            f"given up after {len(sensors_runs)} re-runs of its own: {said}"
        )
        assert len(sensors_runs) < MAX_INTERRUPTED_RERUNS
        for _ in range(MAX_INTERRUPTED_RERUNS):
            _failed_before_start(instance, {"dagster/partition": day, **request.tags})
        last = sensor_tick(instance, resources, tick.cursor)
        said = last.skip_reason.skip_message if last.skip_reason else ""
        assert last.run_requests == [] and f"re-runs: {day}" in (said or ""), said
