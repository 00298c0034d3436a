"""Scale-out on Celery (issue 14, item 1): a real redis-server broker on 127.0.0.1, two
``celery`` worker processes, and a three-date run of the records and retrieval assets whose
steps run on the workers, with the same raw-zone files as an in-process run."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import time
from pathlib import Path

import dagster as dg
import pytest

from cadbusi_assets.identity import generate_key_file
from cadbusi_assets.runner import RANGE_END, RANGE_START
from cadbusi_assets_tests import celery_support
from cadbusi_assets_tests.conftest import clear_dagster_state_storage
from cadbusi_assets_tests.defs import celery_job
from cadbusi_assets_tests.support import require_tool
from cadbusi_assets_tests.support import time_limit as _deadline
from cadbusi_demo import DemoConfig, generate_demo_cohort

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("celery")]

ROOT = Path(__file__).resolve().parents[2]
COHORT = DemoConfig(start=dt.date(2026, 9, 1), days=3, studies_per_day=(2, 2), seed=11, workers=1)
TIMEOUT_S = 420  # the whole end-to-end test


def _files(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _environment(tmp: Path, cohort: Path, key: Path, name: str) -> dict[str, str]:
    return {
        "CELERY_TEST_RAW_ZONE": str(tmp / name / "raw"),
        "CELERY_TEST_RESEARCH_ZONE": str(tmp / name / "research"),
        "CELERY_TEST_WAREHOUSE": f"duckdb://{cohort / 'warehouse.duckdb'}",
        "CELERY_TEST_PACS": f"folder://{cohort / 'pacs'}",
        "CELERY_TEST_KEY_FILE": str(key),
        "CELERY_TEST_STEP_WORKERS": "1",
    }


def test_a_multi_date_run_on_two_celery_workers_matches_a_local_run(tmp_path, monkeypatch):
    cohort = tmp_path / "cohort"
    generate_demo_cohort(cohort, COHORT)
    key = generate_key_file(tmp_path / "secrets" / "pseudonym.key")
    first, last = COHORT.start.isoformat(), COHORT.end.isoformat()
    tags = {RANGE_START: first, RANGE_END: last}
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")

    require_tool("redis-server", "apt-get install -y redis-server")
    redis_proc, broker = celery_support.start_redis(tmp_path)
    workers: list[subprocess.Popen] = []
    try:
        with _deadline(TIMEOUT_S):
            celery_env = _environment(tmp_path, cohort, key, "celery")
            for name, value in celery_env.items():
                monkeypatch.setenv(name, value)
            monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
            env = {k: v for k, v in os.environ.items() if not k.startswith("CADBUSI_")}
            workers = [celery_support.start_worker(n, broker, tmp_path, env) for n in ("w1", "w2")]
            celery_support.wait_for_workers(broker, {"w1", "w2"}, workers)

            instance = dg.DagsterInstance.from_config(str(dagster_home))
            clear_dagster_state_storage()  # no storage of an earlier test's instance
            started = time.monotonic()
            result = dg.execute_job(
                dg.reconstructable(celery_job.celery_study_date_job),
                instance=instance,
                run_config={"execution": {"config": {"broker": broker, "backend": broker}}},
                tags=tags,
            )
            celery_seconds = time.monotonic() - started
            assert result.success
            # every step ran in a worker, and both workers took steps
            step_pids = {
                r.event_log_entry.dagster_event.pid
                for r in instance.get_records_for_run(
                    result.run_id, of_type=dg.DagsterEventType.STEP_START
                ).records
            }
            assert step_pids and os.getpid() not in step_pids
            per_worker = celery_support.tasks_per_worker(broker)
            assert sum(per_worker.values()) == len(celery_job.ASSETS)
            assert per_worker.get("w1", 0) >= 1 and per_worker.get("w2", 0) >= 1, per_worker

            # the same run in this process, into other zones
            for name, value in _environment(tmp_path, cohort, key, "local").items():
                monkeypatch.setenv(name, value)
            with dg.instance_for_test() as local_instance:
                local = celery_job.local_study_date_job().execute_in_process(
                    instance=local_instance, tags=tags
                )
            assert local.success
    finally:
        celery_support.stop([*workers, redis_proc])

    celery_files = _files(tmp_path / "celery" / "raw")
    local_files = _files(tmp_path / "local" / "raw")
    assert any(p.startswith("tables/radiology_reports/") for p in celery_files)
    assert any(p.startswith("dicom/") for p in celery_files)
    assert celery_files == local_files
    print(f"celery run: {celery_seconds:.1f} s for 3 dates, steps per worker {per_worker}")
