"""The whole graph for one study date with both zones on object storage (fake-gcs-server):
the same code paths a GCS deployment takes, with the emulator started by the test."""

from __future__ import annotations

import json
import uuid

import dagster as dg
import polars as pl
import pytest

from cadbusi_assets.defs.resources import ZonesResource
from cadbusi_assets.storage import open_zone
from cadbusi_assets_tests.defs.conftest import PARTITIONED, days, make_environment, run
from cadbusi_assets_tests.storage.conftest import BUCKET, fake_gcs  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("pipeline")]


def test_one_study_date_end_to_end_on_gcs(fake_gcs, definitions, cohort_dir, key_file, tmp_path):  # noqa: F811
    prefix = uuid.uuid4().hex[:10]
    zones = ZonesResource(
        raw_uri=f"gs://{BUCKET}/{prefix}/raw",
        research_uri=f"gs://{BUCKET}/{prefix}/research",
        storage_options=json.dumps(fake_gcs),
    )
    env = make_environment(tmp_path / "run", cohort_dir, key_file, zones=zones)
    day = days()[0]
    with dg.instance_for_test(set_dagster_home=False) as instance:
        assert run(definitions, env, PARTITIONED, instance, partition_key=day).success
        assert run(
            definitions, env, ["labelbox_labels", "diagnosis_labels", "metadata_db"], instance
        ).success
        instance.add_dynamic_partitions("exports", ["gcs-export"])
        result = run(definitions, env, ["dataset_export"], instance, partition_key="gcs-export")
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())

    research = open_zone(f"gs://{BUCKET}/{prefix}/research", "research", **fake_gcs)
    raw = open_zone(f"gs://{BUCKET}/{prefix}/raw", "raw", **fake_gcs)
    assert any(str(p).endswith(".dcm") for p in raw.iter_files("dicom"))
    assert not env.raw.exists() and not env.research.exists()  # nothing went to local disk
    assert research.exists("catalog", "metadata.duckdb")
    manifest = pl.read_parquet(research.read_bytes("exports", "gcs-export", "manifest.parquet"))
    assert manifest.height > 0
    assert all(
        research.exists("exports", "gcs-export", *p.split("/")) for p in manifest["image_path"]
    )
    assert research.exists("exports", "gcs-export", "_COMPLETE")
