"""The lineage graph as the architecture describes it, and its automation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from cadbusi_assets.defs.partitions import export_partitions, study_date_partitions
from cadbusi_assets_tests.defs.lineage import EXPECTED

ROOT = Path(__file__).resolve().parents[2]


def test_every_asset_of_the_lineage_graph_exists_with_group_partitions_and_deps(definitions):
    graph = definitions.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == set(EXPECTED)
    for name, (group, partitions, upstream) in EXPECTED.items():
        node = graph.get(dg.AssetKey(name))
        assert node.group_name == group, name
        expected_partitions = {
            "study_date": study_date_partitions,
            "exports": export_partitions,
            None: None,
        }[partitions]
        assert node.partitions_def == expected_partitions, name
        assert {k.to_user_string() for k in node.parent_keys} == upstream, name


def test_blocking_checks_guard_the_graph(definitions):
    graph = definitions.resolve_asset_graph()
    checks = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    assert ("deidentified_images", "no_patient_identifiers") in checks
    assert ("raw_dicom", "retrieval_complete") in checks
    assert ("metadata_db", "unique_keys") in checks
    assert ("dataset_export", "export_files_verified") in checks
    specs = {
        (s.asset_key.to_user_string(), s.name): s
        for a in definitions.assets
        if isinstance(a, dg.AssetsDefinition)
        for s in a.check_specs
    }
    assert specs[("deidentified_images", "no_patient_identifiers")].blocking


def test_jobs_schedules_and_sensors_exist(definitions):
    job = definitions.resolve_job_def("study_date_job")
    assert job.partitions_def == study_date_partitions
    schedules = {s.name for s in definitions.schedules}
    assert {"nightly_study_date_schedule", "late_arrivals_schedule"} <= schedules
    sensors = {s.name for s in definitions.sensors}
    assert {"labelbox_labels_sensor", "export_partition_sensor", "monthly_export_sensor"} <= sensors


def test_nightly_schedule_requests_yesterday(definitions):
    import datetime as dt

    schedule = definitions.resolve_schedule_def("nightly_study_date_schedule")
    with dg.instance_for_test(set_dagster_home=False) as instance:
        context = dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=dt.datetime(2026, 10, 5, 2, 0, tzinfo=dt.UTC),
            repository_def=definitions.get_repository_def(),
        )
        data = schedule.evaluate_tick(context)
    assert [r.partition_key for r in data.run_requests] == ["2026-10-04"]


def test_definitions_validate_from_the_command_line():
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADBUSI_")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dagster",
            "definitions",
            "validate",
            "-m",
            "cadbusi_assets.definitions",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("deployment", ["demo", "production"])
def test_definitions_load_in_every_deployment_without_credentials(deployment):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADBUSI_")}
    env["CADBUSI_DEPLOYMENT"] = deployment
    code = "from cadbusi_assets.definitions import defs; d = defs(); print(len(list(d.resolve_asset_graph().get_all_asset_keys())))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(str(len(EXPECTED)))
