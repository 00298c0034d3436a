"""A run of another host whose process died is marked failed by ``dead_run_sensor``.

The sensor judged a run by its process id, and only on the host that ran it: a run launched
on another machine (the Kubernetes run launcher, a second code server, a container) and then
killed (out of memory, the machine gone) stayed STARTED forever, its pool slot held, every
later run of that pool waiting for it. Its process now beats (``defs/run_process.py``); the
sensor marks it failed once the beat stands still for ``CADBUSI_RUN_HEARTBEAT_TIMEOUT``
seconds of the sensor's own clock, and never a run of another host that still beats.

The run is a real run in its own process (as a run worker is); "another host" is its run tag's
host name, rewritten as a run on another machine would have written it.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dagster as dg
import pytest

from cadbusi_assets.defs.automation.sensors import dead_run_sensor
from cadbusi_assets.defs.run_process import (
    RUN_PROCESS_TAG,
    HeartbeatSettingError,
    heartbeat_key,
    heartbeat_timeout,
    stopped_heartbeats,
)
from cadbusi_assets.instance_config import DEMO_INSTANCE_YAML

ROOT = Path(__file__).resolve().parents[2]
BEAT = 0.3
TIMEOUT = 3.0

#: a study-date-like run: the first asset records the run's process, the second holds the
#: ``pacs`` pool slot until the process is killed
_RUN = textwrap.dedent(
    """
    import time
    import cadbusi_assets
    import dagster as dg
    from cadbusi_assets.defs.run_process import tag_run_process

    @dg.asset
    def records(context: dg.AssetExecutionContext) -> None:
        tag_run_process(context.instance, context.run.run_id)

    @dg.asset(deps=[records], pool="pacs")
    def fetch() -> None:
        print("holding", flush=True)
        time.sleep(600)

    with dg.DagsterInstance.get() as instance:
        dg.materialize([records, fetch], instance=instance, raise_on_error=False)
    """
)


@pytest.fixture
def dagster_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(DEMO_INSTANCE_YAML)
    monkeypatch.setenv("CADBUSI_RUN_HEARTBEAT_SECONDS", str(BEAT))
    monkeypatch.setenv("CADBUSI_RUN_HEARTBEAT_TIMEOUT", str(TIMEOUT))
    monkeypatch.delenv("CADBUSI_EXECUTOR", raising=False)
    return home


def _start_holding(home: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", _RUN],
        env={**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 150  # never waits forever
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 5)
        if ready:
            line = process.stdout.readline()
            if "holding" in line:
                return process
            if not line:
                break
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    pytest.fail("the run never reached its pool step")


def _as_if_on_another_host(instance: dg.DagsterInstance, run_id: str) -> None:
    run = instance.get_run_by_id(run_id)
    assert run is not None
    record = json.loads(run.tags[RUN_PROCESS_TAG])
    assert record["beats"] is True
    record["host"] = "another-host.example"
    instance.add_run_tags(run_id, {RUN_PROCESS_TAG: json.dumps(record, sort_keys=True)})


def _tick(instance: dg.DagsterInstance, cursor: str | None) -> tuple[str | None, str]:
    """One evaluation of the sensor as the daemon makes it: the new cursor and its reason."""
    context = dg.build_sensor_context(instance=instance, cursor=cursor)
    data = dead_run_sensor.evaluate_tick(context)
    return data.cursor, data.skip_message or ""


def test_a_killed_run_of_another_host_is_marked_failed_and_its_slot_freed(dagster_home):
    process = _start_holding(dagster_home)
    try:
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            (run,) = instance.get_runs()
            _as_if_on_another_host(instance, run.run_id)
            # while it beats, ticks over twice the timeout leave it alone
            cursor = None
            end = time.monotonic() + 2 * TIMEOUT
            while time.monotonic() < end:
                cursor, reason = _tick(instance, cursor)
                assert reason == "no dead runs"
                time.sleep(BEAT)
            assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            # killed: marked failed once its beat has stood still for the timeout
            killed_at = time.monotonic()
            while instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED:
                assert time.monotonic() - killed_at < 4 * TIMEOUT, "never marked failed"
                cursor, reason = _tick(instance, cursor)
                time.sleep(BEAT)
            assert time.monotonic() - killed_at >= TIMEOUT - 2 * BEAT
            assert reason == f"marked 1 dead runs: {run.run_id}"
            failed = instance.get_run_by_id(run.run_id)
            assert failed.status == dg.DagsterRunStatus.FAILURE
            (event,) = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
            assert "sent no heartbeat for 3 s" in (event.message or "")
            assert not instance.event_log_storage.get_concurrency_run_ids()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_a_pause_of_the_sensor_starts_the_wait_again(dagster_home):
    """A sensor that did not tick for a while (daemon restarted, database away) cannot tell a
    stopped heartbeat from one it did not watch: it waits the whole timeout again."""
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        run = instance.add_run(
            dg.DagsterRun(job_name="study_date_job", status=dg.DagsterRunStatus.STARTED)
        )
        instance.run_storage.set_cursor_values({heartbeat_key(run.run_id): "7:1"})
        memory: dict = {}
        assert stopped_heartbeats(instance, [run], memory, 100.0, 10.0) == set()
        assert stopped_heartbeats(instance, [run], memory, 104.0, 10.0) == set()
        assert stopped_heartbeats(instance, [run], memory, 108.0, 10.0) == set()
        assert stopped_heartbeats(instance, [run], memory, 110.0, 10.0) == {run.run_id}
        # the same still beat, but the sensor was away for 20 s: it waits again
        memory = {"tick": 100.0, "runs": {run.run_id: ["7:1", 100.0]}}
        assert stopped_heartbeats(instance, [run], memory, 120.0, 10.0) == set()
        assert memory["runs"][run.run_id] == ["7:1", 120.0]
        # a beat resets the wait; runs no longer asked about are forgotten
        instance.run_storage.set_cursor_values({heartbeat_key(run.run_id): "7:2"})
        assert stopped_heartbeats(instance, [run], memory, 124.0, 10.0) == set()
        assert memory["runs"][run.run_id] == ["7:2", 124.0]
        assert stopped_heartbeats(instance, [], memory, 126.0, 10.0) == set()
        assert memory["runs"] == {}


@pytest.mark.parametrize("value", ["abc", "0.5", "-1", "nan"])
def test_a_heartbeat_timeout_that_is_no_wait_is_refused(monkeypatch, value):
    monkeypatch.setenv("CADBUSI_RUN_HEARTBEAT_TIMEOUT", value)
    monkeypatch.delenv("CADBUSI_RUN_HEARTBEAT_SECONDS", raising=False)
    with pytest.raises(HeartbeatSettingError, match="CADBUSI_RUN_HEARTBEAT_TIMEOUT"):
        heartbeat_timeout()


def test_a_step_of_a_worker_executor_does_not_beat(dagster_home, monkeypatch):
    """A Celery or Kubernetes step runs in a worker that outlives the run: its beat would tell
    nothing of the run (the run's orchestrating process records itself and beats instead:
    ``test_celery_dead_run.py``)."""
    monkeypatch.setenv("CADBUSI_EXECUTOR", "celery")
    from cadbusi_assets.defs.run_process import tag_run_process

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        run = instance.add_run(
            dg.DagsterRun(job_name="study_date_job", status=dg.DagsterRunStatus.STARTED)
        )
        tag_run_process(instance, run.run_id)
        record = json.loads(instance.get_run_by_id(run.run_id).tags[RUN_PROCESS_TAG])
        assert "beats" not in record
        assert not instance.run_storage.get_cursor_values({heartbeat_key(run.run_id)})


def test_the_heartbeat_stops_before_the_interpreter_finalizes(dagster_home):
    """The beat is a daemon thread: left running into the interpreter's finalization, it could
    be frozen in the middle of a database call holding a lock the main thread's last steps
    need. ``stop`` (registered with ``atexit``) ends it and waits for a beat under way."""
    from cadbusi_assets.defs.run_process import _Heartbeat

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        run = instance.add_run(
            dg.DagsterRun(job_name="study_date_job", status=dg.DagsterRunStatus.STARTED)
        )
        heartbeat = _Heartbeat()
        heartbeat.start(instance, run.run_id)
        thread = heartbeat._thread
        assert thread is not None and thread.is_alive()
        began = time.monotonic()
        heartbeat.stop()
        assert not thread.is_alive() and time.monotonic() - began < 2
        value = instance.run_storage.get_cursor_values({heartbeat_key(run.run_id)})
        time.sleep(3 * BEAT)  # no beat after the stop
        assert instance.run_storage.get_cursor_values({heartbeat_key(run.run_id)}) == value
