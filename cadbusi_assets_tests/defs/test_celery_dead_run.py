"""A Celery run whose orchestrating process died is marked failed (``dead_run_sensor``).

With the Celery (or Kubernetes) executor the steps run in workers that outlive the run. The
first step recorded its worker's process as the run's process, so when the run's own process
(the orchestrator, a run worker) was killed, the recorded process still lived: the run stayed
STARTED for ever and its pool slots stayed held. Now the orchestrator records itself, and
beats, before it hands out the first step. Real redis-server broker and Celery worker on
127.0.0.1; the orchestrator is a process of its own, killed with SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dagster as dg
import pytest

from cadbusi_assets.defs.run_process import (
    RUN_PROCESS_TAG,
    heartbeat_key,
    release_dead_runs,
)
from cadbusi_assets.instance_config import DEMO_INSTANCE_YAML
from cadbusi_assets_tests import celery_support
from cadbusi_assets_tests.support import require_tool, time_limit

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("celery")]

ROOT = Path(__file__).resolve().parents[2]

_ORCHESTRATOR = textwrap.dedent(
    """
    import sys
    import dagster as dg
    from cadbusi_assets_tests.defs import celery_job

    broker = sys.argv[1]
    with dg.DagsterInstance.get() as instance:
        dg.execute_job(
            dg.reconstructable(celery_job.celery_holding_job),
            instance=instance,
            run_config={"execution": {"config": {"broker": broker, "backend": broker}}},
        )
    """
)


def _holding_run(instance: dg.DagsterInstance, orchestrator: subprocess.Popen) -> dg.DagsterRun:
    """The run, once its worker holds the second step."""
    while True:
        assert orchestrator.poll() is None, "the orchestrator exited before the step held"
        for run in instance.get_runs():
            started = instance.get_records_for_run(
                run.run_id, of_type=dg.DagsterEventType.STEP_START
            ).records
            if any(r.event_log_entry.step_key == "holding_step" for r in started):
                return run
        time.sleep(0.5)


def test_a_killed_celery_orchestrator_is_recorded_beating_and_marked_failed(tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(DEMO_INSTANCE_YAML)
    release = tmp_path / "release"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("CELERY_TEST_RELEASE", str(release))
    monkeypatch.setenv("CADBUSI_RUN_HEARTBEAT_SECONDS", "0.3")
    monkeypatch.delenv("CADBUSI_EXECUTOR", raising=False)
    require_tool("redis-server", "apt-get install -y redis-server")
    redis_proc, broker = celery_support.start_redis(tmp_path)
    procs: list[subprocess.Popen] = [redis_proc]
    orchestrator = None
    try:
        with time_limit(300):
            env = {k: v for k, v in os.environ.items() if not k.startswith("CADBUSI_")}
            worker = celery_support.start_worker("w1", broker, tmp_path, env)
            procs.insert(0, worker)
            celery_support.wait_for_workers(broker, {"w1"}, [worker])
            orchestrator = subprocess.Popen(
                [sys.executable, "-c", _ORCHESTRATOR, broker],
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            with dg.DagsterInstance.from_config(str(home)) as instance:
                run = _holding_run(instance, orchestrator)
                record = json.loads(instance.get_run_by_id(run.run_id).tags[RUN_PROCESS_TAG])
                # the orchestrator, not the worker that ran the first step
                assert record["pid"] == orchestrator.pid
                assert record["beats"] is True
                beats = instance.run_storage.get_cursor_values({heartbeat_key(run.run_id)})
                assert beats[heartbeat_key(run.run_id)].startswith(f"{orchestrator.pid}:")
                assert release_dead_runs(instance) == []  # alive: left alone

                os.killpg(orchestrator.pid, signal.SIGKILL)
                orchestrator.wait()
                assert release_dead_runs(instance) == [run.run_id]
                assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
    finally:
        release.touch()
        if orchestrator is not None and orchestrator.poll() is None:
            os.killpg(orchestrator.pid, signal.SIGKILL)
            orchestrator.wait()
        celery_support.stop(procs)
