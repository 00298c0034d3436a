"""The production Dagster instance (deploy/dagster.production.yaml) on a real PostgreSQL
started by the test: runs, materializations and dynamic partitions persist across instances."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlparse

import dagster as dg
import pytest

from cadbusi_assets_tests.defs.conftest import COHORT, make_environment, run

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def postgres_dsn():
    from cadbusi_assets_tests.records.postgres_server import start_postgres

    server = start_postgres()
    try:
        yield server.dsn
    finally:
        server.stop()


@pytest.mark.integration
@pytest.mark.xdist_group("pipeline")
def test_production_instance_config_on_postgres(
    postgres_dsn, definitions, cohort_dir, key_file, tmp_path, monkeypatch
):
    url = urlparse(postgres_dsn)
    monkeypatch.setenv("DAGSTER_PG_HOST", url.hostname)
    monkeypatch.setenv("DAGSTER_PG_PORT", str(url.port))
    monkeypatch.setenv("DAGSTER_PG_USER", url.username)
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", url.password or "")
    monkeypatch.setenv("DAGSTER_PG_DB", url.path.lstrip("/"))
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(ROOT / "deploy" / "dagster.production.yaml", home / "dagster.yaml")

    env = make_environment(tmp_path / "run", cohort_dir, key_file)
    day = COHORT.start.isoformat()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        result = run(
            definitions,
            env,
            ["radiology_reports", "pathology_reports", "imaging_studies"],
            instance,
            partition_key=day,
        )
        assert result.success
        instance.add_dynamic_partitions("exports", ["2026-11-22"])
        run_id = result.run_id

    with dg.DagsterInstance.from_config(str(home)) as reopened:
        assert reopened.get_run_by_id(run_id).is_success
        assert reopened.get_materialized_partitions(dg.AssetKey("imaging_studies")) == {day}
        assert reopened.has_dynamic_partition("exports", "2026-11-22")
        concurrency = reopened.get_concurrency_config()
        assert concurrency.run_queue_config.max_concurrent_runs == 4
