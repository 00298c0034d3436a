"""The imaging step: ``deidentified_images``, ``image_features`` and ``inpainted_images`` are one
multi-asset (one pass per image) that keeps each asset's lineage, metadata and reports, and
runs an asset's own stage when only some of the three are selected."""

from __future__ import annotations

import dagster as dg
import pytest

from cadbusi_assets.stages.report import read_partition_reports
from cadbusi_assets.storage import open_zone
from cadbusi_assets_tests.defs.conftest import materializations, run, tree_digest

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("pipeline")]

IMAGING = ("deidentified_images", "image_features", "inpainted_images")


def _days(pipeline) -> set[str]:
    return set(pipeline.instance.get_materialized_partitions(dg.AssetKey("raw_dicom")))


def test_the_three_assets_are_one_step_with_their_own_metadata_and_reports(pipeline):
    result = pipeline.results["backfill"]
    steps = {event.step_key for event in result.get_asset_materialization_events()}
    assert "imaging_step" in steps
    for asset in IMAGING:
        assert not any(step.startswith(asset) for step in steps), asset
        events = materializations(result, asset)
        assert {e.partition for e in events} == _days(pipeline), asset
        assert all(e.metadata["outcome"].value == "delivered" for e in events), asset
        reports = read_partition_reports(open_zone(str(pipeline.env.raw), "raw"), asset)
        assert {r["partition"] for r in reports} >= _days(pipeline), asset
    checks = [
        c for c in result.get_asset_check_evaluations() if c.check_name == "no_patient_identifiers"
    ]
    assert checks and all(c.passed for c in checks)


def test_one_asset_alone_runs_its_own_stage_and_writes_the_same(pipeline, definitions):
    # Runs after test_pipeline.py (file order, one xdist group): re-materializing
    # image_features leaves the shared pipeline's catalog older than its inputs, and the
    # export tests there need it fresh.
    day = sorted(_days(pipeline))[-1]
    before = tree_digest(pipeline.env.research, exclude=("catalog", "exports", "labels"))
    result = run(
        definitions, pipeline.env, ["image_features"], pipeline.instance, partition_key=day
    )
    assert result.success
    made = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert made == {"image_features"}
    (event,) = materializations(result, "image_features")
    assert event.partition == day and event.metadata["outcome"].value == "delivered"
    assert tree_digest(pipeline.env.research, exclude=("catalog", "exports", "labels")) == before
