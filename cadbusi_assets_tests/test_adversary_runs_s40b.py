"""Adversary, round 8: round 7's open ends.

1. Terminate of a run the daemon launched on **another host** whose code server is dead: the
   instance's run launcher cannot reach the run (no code server) and cannot signal its process
   (another machine). The run's own process must stop itself.
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

from cadbusi_assets.defs.run_process import RUN_PROCESS_TAG
from cadbusi_assets.instance_config import DEMO_INSTANCE_YAML

pytestmark = [pytest.mark.xdist_group("adversary_runs_s40b")]

ROOT = Path(__file__).resolve().parents[1]

#: a run as the daemon's code server starts it (its ``.dagster/grpc_info`` tag names that
#: server, here one that is gone): the first asset records the run's process, the second runs
#: on until it is stopped
_DAEMON_RUN = textwrap.dedent(
    """
    import json, sys, time
    import cadbusi_assets
    import dagster as dg
    from dagster._core.storage.tags import GRPC_INFO_TAG
    from cadbusi_assets.defs.run_process import tag_run_process

    @dg.asset
    def records(context: dg.AssetExecutionContext) -> None:
        tag_run_process(context.instance, context.run.run_id)

    @dg.asset(deps=[records])
    def fetch() -> None:
        print("holding", flush=True)
        for _ in range(1200):
            time.sleep(0.5)

    gone = json.dumps({"host": "localhost", "socket": sys.argv[1]})
    with dg.DagsterInstance.get() as instance:
        dg.materialize(
            [records, fetch], instance=instance, raise_on_error=False,
            tags={GRPC_INFO_TAG: gone},
        )
    """
)


def _start_daemon_like_run(home: Path, socket_path: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", _DAEMON_RUN, str(socket_path)],
        env={**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
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
    process.wait(timeout=30)
    pytest.fail("the run never reached its second step")


def _as_if_on_another_host(instance: dg.DagsterInstance, run_id: str) -> None:
    run = instance.get_run_by_id(run_id)
    assert run is not None
    record = json.loads(run.tags[RUN_PROCESS_TAG])
    record["host"] = "another-host.example"
    instance.add_run_tags(run_id, {RUN_PROCESS_TAG: json.dumps(record, sort_keys=True)})


@pytest.mark.integration
def test_terminate_stops_a_run_of_another_host_whose_code_server_is_gone(tmp_path, monkeypatch):
    """The daemon launched the run through a code server on another machine (a second code
    server, a container) and that server died; the run's process goes on. The UI's Terminate
    asks the instance's run launcher. Before: the launcher could not reach the code server
    and the process was not on its host, so it raised "Could not reach user code server" (the
    webserver answered HTTP 500), the run stayed CANCELING and its process went on writing.
    Now the launcher answers, and the run's own process, seeing its run CANCELING for a few
    seconds that no launcher stopped, interrupts itself: the run ends CANCELED."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(DEMO_INSTANCE_YAML)
    monkeypatch.delenv("CADBUSI_EXECUTOR", raising=False)
    process = _start_daemon_like_run(home, tmp_path / "gone.sock")
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            (run,) = instance.get_runs()
            _as_if_on_another_host(instance, run.run_id)
            answered = instance.run_launcher.terminate(run.run_id)
            assert answered is True
            try:
                process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                pytest.fail("the run's process went on after Terminate")
            ended = instance.get_run_by_id(run.run_id)
            assert ended is not None and ended.status == dg.DagsterRunStatus.CANCELED
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
