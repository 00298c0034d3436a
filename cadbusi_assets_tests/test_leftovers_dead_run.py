"""A run killed while it holds a pool slot (``pacs``) left the slot claimed in ``$DAGSTER_HOME``:
the next run of the pool waited for it forever ("Step blocked by limit for pool pacs"), e.g. a
second ``cadbusi demo`` after a killed one. The next run (and ``dead_run_sensor``) now marks the
dead run failed and frees its slots."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg
import pytest

from cadbusi_assets.defs.run_process import release_dead_runs
from cadbusi_assets.instance_config import DEMO_INSTANCE_YAML

ROOT = Path(__file__).resolve().parents[1]

#: two assets like a study-date run's: the first records the run's process (as every
#: study-date step does), the second holds the ``pacs`` pool slot; HOLD=1 makes it wait
_RUN = textwrap.dedent(
    """
    import os, sys, time
    import cadbusi_assets
    import dagster as dg
    from cadbusi_assets.defs.run_process import tag_run_process

    @dg.asset
    def records(context: dg.AssetExecutionContext) -> None:
        tag_run_process(context.instance, context.run.run_id)

    @dg.asset(deps=[records], pool="pacs")
    def fetch() -> None:
        if os.environ.get("HOLD") == "1":
            print("holding", flush=True)
            time.sleep(600)

    with dg.DagsterInstance.get() as instance:
        result = dg.materialize([records, fetch], instance=instance, raise_on_error=False)
    print("success" if result.success else "failure", flush=True)
    """
)


@pytest.fixture
def dagster_home(tmp_path) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(DEMO_INSTANCE_YAML)
    return home


def _env(home: Path, hold: bool) -> dict[str, str]:
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "PYTHONPATH": str(ROOT),
        "HOLD": "1" if hold else "0",
    }


def _kill_while_holding(home: Path) -> None:
    killed = subprocess.Popen(
        [sys.executable, "-c", _RUN],
        env=_env(home, hold=True),
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert killed.stdout is not None
        ready, _, _ = select.select([killed.stdout], [], [], 150)  # never waits forever
        assert ready, "the first run never reached its pool step"
        assert killed.stdout.readline().strip() == "holding"
    finally:
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait()


def test_a_run_after_a_killed_one_is_not_blocked_by_its_pool_slot(dagster_home):
    _kill_while_holding(dagster_home)
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        (killed,) = instance.get_run_records()
        assert killed.dagster_run.status == dg.DagsterRunStatus.STARTED
        assert instance.event_log_storage.get_concurrency_run_ids() == {killed.dagster_run.run_id}
    try:
        after = subprocess.run(
            [sys.executable, "-c", _RUN],
            env=_env(dagster_home, hold=False),
            capture_output=True,
            text=True,
            timeout=150,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the run after the killed one waited for the killed run's pool slot")
    assert after.returncode == 0, after.stderr[-2000:]
    assert after.stdout.split()[-1] == "success"
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        run = instance.get_run_by_id(killed.dagster_run.run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.FAILURE
        assert not instance.event_log_storage.get_concurrency_run_ids()


def test_release_dead_runs_marks_the_run_and_frees_its_slot(dagster_home):
    _kill_while_holding(dagster_home)
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        (killed,) = instance.get_run_records()
        run_id = killed.dagster_run.run_id
        assert release_dead_runs(instance) == [run_id]
        run = instance.get_run_by_id(run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.FAILURE
        assert not instance.event_log_storage.get_concurrency_run_ids()
        assert release_dead_runs(instance) == []  # once
