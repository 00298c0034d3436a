"""Adversary, round 8: round 7's open ends.

1. Terminate of a run the daemon launched on **another host** whose code server is dead: the
   instance's run launcher cannot reach the run (no code server) and cannot signal its process
   (another machine). The run's own process must stop itself, and only once.
2. A date whose run failed before it started (the code location broken when the run worker
   loaded it: "Could not load job definition") is re-run once the location loads again.
3. ``workspace.yaml`` edited to a wrong module under a running webserver and daemon, then
   fixed: what the UI shows, and whether the daemon's sensors tick again.
4. The late-arrival schedule ticks while a UI backfill is processing dates of its window.
"""

from __future__ import annotations

import datetime as dt
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
import psutil
import pytest

from cadbusi_assets.defs.run_process import (
    INTERRUPTED_TAG,
    LAUNCHER_GRACE_SECONDS,
    RUN_PROCESS_TAG,
)
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
        try:
            for _ in range(1200):
                time.sleep(0.5)
        except BaseException:  # Dagster raises its own interrupt error
            print("cleaning up", flush=True)
            time.sleep(float(sys.argv[2]))  # the step's own clean-up
            print("cleaned up", flush=True)
            raise

    gone = json.dumps({"host": "localhost", "socket": sys.argv[1]})
    with dg.DagsterInstance.get() as instance:
        dg.materialize(
            [records, fetch], instance=instance, raise_on_error=False,
            tags={GRPC_INFO_TAG: gone},
        )
    """
)


#: the code server: the run's parent process, killed by the test once the run holds
_CODE_SERVER = textwrap.dedent(
    """
    import subprocess, sys
    subprocess.run([sys.executable, "-c", *sys.argv[1:]], timeout=900)
    """
)


def _start_daemon_like_run(
    home: Path, socket_path: Path, clean_up_seconds: float = 0.0, kill_server: bool = True
) -> tuple[subprocess.Popen, psutil.Process]:
    """The run's code server (a process whose child runs the run) and the run's process, once
    the run is in its second step; the code server is killed then (``kill_server``), the run
    goes on."""
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _CODE_SERVER,
            _DAEMON_RUN,
            str(socket_path),
            str(clean_up_seconds),
        ],
        env={**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert server.stdout is not None
    deadline = time.monotonic() + 150  # never waits forever
    while time.monotonic() < deadline:
        ready, _, _ = select.select([server.stdout], [], [], 5)
        if ready:
            line = server.stdout.readline()
            if "holding" in line:
                (run_process,) = psutil.Process(server.pid).children()
                if kill_server:  # the code server dies; its run goes on
                    server.kill()
                    server.wait(timeout=30)
                return server, run_process
            if not line:
                break
    os.killpg(server.pid, signal.SIGKILL)
    server.wait(timeout=30)
    pytest.fail("the run never reached its second step")


def _end(server: subprocess.Popen, run_process: psutil.Process) -> str:
    """What the run printed; the run's process is killed when it still runs."""
    if run_process.is_running():
        os.killpg(server.pid, signal.SIGKILL)
        run_process.wait(timeout=30)
    if server.poll() is None:
        server.kill()
    server.wait(timeout=30)
    assert server.stdout is not None
    return server.stdout.read()


def _stopped(run_process: psutil.Process, timeout: float) -> bool:
    try:
        run_process.wait(timeout=timeout)
    except psutil.TimeoutExpired:
        return False
    return True


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
    server, run_process = _start_daemon_like_run(home, tmp_path / "gone.sock")
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            (run,) = instance.get_runs()
            _as_if_on_another_host(instance, run.run_id)
            answered = instance.run_launcher.terminate(run.run_id)
            assert answered is True
            assert _stopped(run_process, 90), "the run's process went on after Terminate"
            ended = instance.get_run_by_id(run.run_id)
            assert ended is not None and ended.status == dg.DagsterRunStatus.CANCELED
    finally:
        _end(server, run_process)


@pytest.mark.integration
def test_a_run_the_launcher_interrupted_is_not_interrupted_again_in_its_clean_up(
    tmp_path, monkeypatch
):
    """The other side of the fix above: the run's process watches a daemon-launched run too.
    When the launcher reached the run (here: its code server gone, the process on this host,
    interrupted by the launcher itself), the process must not interrupt itself a second time
    once the grace has passed: a second Ctrl-C would cut the step's own clean-up short."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(DEMO_INSTANCE_YAML)
    monkeypatch.delenv("CADBUSI_EXECUTOR", raising=False)
    server, run_process = _start_daemon_like_run(
        home, tmp_path / "gone.sock", LAUNCHER_GRACE_SECONDS + 4
    )
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            (run,) = instance.get_runs()
            assert instance.run_launcher.terminate(run.run_id) is True
            assert _stopped(run_process, 90), "the run's process went on after Terminate"
            ended = instance.get_run_by_id(run.run_id)
            assert ended is not None and ended.status == dg.DagsterRunStatus.CANCELED
            assert INTERRUPTED_TAG in ended.tags
    finally:
        out = _end(server, run_process)
    assert "cleaning up" in out and "cleaned up" in out, [
        line for line in out.splitlines() if "clean" in line or "Interrupt" in line
    ]


@pytest.mark.integration
def test_a_run_whose_code_server_lives_is_left_to_its_launcher(tmp_path, monkeypatch):
    """While the code server that started the run lives, the launcher reaches the run through
    it: the run's process does not interrupt itself, however long the run stays CANCELING
    (Dagster's own cancellation, or a launcher without this package, stops it)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(DEMO_INSTANCE_YAML)
    monkeypatch.delenv("CADBUSI_EXECUTOR", raising=False)
    server, run_process = _start_daemon_like_run(home, tmp_path / "gone.sock", kill_server=False)
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            (run,) = instance.get_runs()
            instance.report_run_canceling(run)
            assert not _stopped(run_process, LAUNCHER_GRACE_SECONDS + 5)
    finally:
        out = _end(server, run_process)
    assert "cleaning up" not in out


def test_a_date_whose_run_failed_before_it_started_is_re_run_once_the_location_loads(tmp_path):
    """A UI backfill (or a sensor's request) launched a date's run while the code location was
    broken (a bad edit, a missing package): the run worker could not load the job definition
    and the run failed before any step; nothing of the date ran. Before: once the location was
    fixed no sensor picked the date up (``interrupted_study_dates_sensor`` re-runs killed runs
    only, a run that started a step; ``failed_study_dates_sensor`` failed dates of successful
    ranged runs), so the date stayed unprocessed unless someone noticed the red run. Now the
    sensor, which ticks only while the location loads, re-runs the date once per such run."""
    from dagster._core.events import DagsterEvent

    from cadbusi_assets.defs.automation.schedules import STUDY_DATE_ASSETS
    from cadbusi_assets.defs.automation.sensors import MAX_INTERRUPTED_RERUNS
    from cadbusi_assets.defs.resources import PseudonymKeyResource, ZonesResource
    from cadbusi_assets.identity import generate_key_file
    from cadbusi_assets.storage import open_zone
    from cadbusi_assets_tests.run_support import sensor_tick

    key = generate_key_file(tmp_path / "secrets" / "pseudonym.key")
    raw = open_zone(tmp_path / "raw", name="raw").ensure()
    research = open_zone(tmp_path / "research", name="research").ensure()
    resources = {
        "zones": ZonesResource(raw_uri=str(raw.root), research_uri=str(research.root)),
        "pseudonym_key": PseudonymKeyResource(key_file=str(key)),
    }
    day = "2026-09-01"
    with dg.DagsterInstance.ephemeral() as instance:
        run = instance.add_run(
            dg.DagsterRun(
                job_name="__ASSET_JOB",
                status=dg.DagsterRunStatus.FAILURE,
                asset_selection=frozenset(STUDY_DATE_ASSETS),
                tags={"dagster/partition": day},
            )
        )
        instance.report_engine_event("Could not load job definition.", run)
        # a run that started and was stopped before its first step (Ctrl-C while it waited
        # for a pool slot) is a person's stop, not a broken location: left alone
        stopped = instance.add_run(
            dg.DagsterRun(
                job_name="__ASSET_JOB",
                status=dg.DagsterRunStatus.FAILURE,
                asset_selection=frozenset(STUDY_DATE_ASSETS),
                tags={"dagster/partition": "2026-09-02"},
            )
        )
        instance.report_dagster_event(
            DagsterEvent(event_type_value="PIPELINE_START", job_name=stopped.job_name),
            stopped.run_id,
        )
        first = sensor_tick(instance, resources)
        assert [r.partition_key for r in first.run_requests] == [day], first.skip_reason
        (request,) = first.run_requests
        assert list(request.asset_selection or []) == list(STUDY_DATE_ASSETS)
        assert "before it started" in request.tags["cadbusi/reason"]
        again = sensor_tick(instance, resources, first.cursor)
        assert again.run_requests == [], "the date was requested twice for one failed run"
        # its re-runs fail before any step too (the runs' environment still broken): given up
        for _ in range(MAX_INTERRUPTED_RERUNS):
            instance.add_run(
                dg.DagsterRun(
                    job_name="__ASSET_JOB",
                    status=dg.DagsterRunStatus.FAILURE,
                    asset_selection=frozenset(STUDY_DATE_ASSETS),
                    tags={"dagster/partition": day, **request.tags},
                )
            )
        last = sensor_tick(instance, resources, again.cursor)
        said = last.skip_reason.skip_message if last.skip_reason else ""
        assert last.run_requests == [] and f"re-runs: {day}" in (said or ""), said


_RELOAD = """
mutation {
  reloadWorkspace {
    __typename
    ... on Workspace {
      locationEntries {
        name
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
    ... on PythonError { message }
  }
}
"""


def _sensor_ticks(log: Path) -> int:
    text = log.read_text(errors="replace") if log.exists() else ""
    return text.count("Checking for new runs for sensor: dead_run_sensor")


@pytest.mark.integration
def test_a_wrong_module_in_workspace_yaml_shows_in_the_ui_and_the_daemon_recovers(tmp_path):
    """An operator edits ``workspace.yaml`` (a typo in the module name) under a running
    webserver and daemon, then fixes it. The UI's Reload must name the error (not a blank
    location), the daemon must survive it, and once the file is fixed the UI's Reload loads
    the location again and the daemon's sensors tick again (without a restart)."""
    from cadbusi_assets_tests.defs.services import (
        checkout_deployment,
        dagster_services,
        wait_for,
    )

    env = checkout_deployment(tmp_path)
    workspace = tmp_path / "workspace.yaml"
    right = (ROOT / "workspace.yaml").read_text()
    workspace.write_text(right)
    with dagster_services(env, workspace=workspace) as services:
        log = services.logs["daemon"]
        wait_for(lambda: _sensor_ticks(log) > 0, 240, "a first sensor tick", services, poll=2)
        workspace.write_text(
            right.replace("cadbusi_assets.definitions", "cadbusi_assets.definitons")
        )
        entries = services.graphql(_RELOAD)["reloadWorkspace"]["locationEntries"]
        (entry,) = entries
        loaded = entry["locationOrLoadError"]
        assert loaded["__typename"] == "PythonError", loaded
        assert "cadbusi_assets.definitons" in loaded["message"], loaded["message"][:500]
        time.sleep(70)  # the daemon reloads its workspace about once a minute
        services.check_alive()
        broken_ticks = _sensor_ticks(log)
        workspace.write_text(right)
        entries = services.graphql(_RELOAD)["reloadWorkspace"]["locationEntries"]
        (entry,) = entries
        assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry
        wait_for(
            lambda: _sensor_ticks(log) > broken_ticks,
            240,
            "a sensor tick after the workspace was fixed",
            services,
            poll=2,
        )
        services.check_alive()


def test_the_late_arrival_schedule_leaves_a_date_a_backfill_is_processing(tmp_path, monkeypatch):
    """A person backfills the last days (a UI backfill: one ranged run) and the late-arrival
    schedule ticks meanwhile, the warehouse's counts of those dates still differing from what
    was processed (the backfill has not written them yet). Before: the schedule asked for a
    second run of every such date; the partition locks serialize the two runs stage by stage,
    so the date was retrieved, de-identified and exported twice (hours of PACS traffic for a
    backfill of weeks). A date a run is processing is left to it; if the warehouse changes
    again after that run read it, the next tick finds the count still differing."""
    from cadbusi_assets.defs.automation import schedules
    from cadbusi_assets.defs.resources import WarehouseResource, ZonesResource

    busy, idle = "2026-09-10", "2026-09-11"
    monkeypatch.setattr(
        schedules,
        "changed_dates",
        lambda warehouse, raw, start, end, **_options: [(busy, 5, False), (idle, 3, True)],
    )
    resources = {
        "warehouse": WarehouseResource(uri=f"duckdb://{tmp_path / 'w.duckdb'}"),
        "zones": ZonesResource(
            raw_uri=str(tmp_path / "raw"), research_uri=str(tmp_path / "research")
        ),
    }
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(DEMO_INSTANCE_YAML)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_run(
            dg.DagsterRun(
                job_name="__ASSET_JOB",
                status=dg.DagsterRunStatus.STARTED,
                asset_selection=frozenset(schedules.STUDY_DATE_ASSETS),
                tags={
                    "dagster/asset_partition_range_start": "2026-09-05",
                    "dagster/asset_partition_range_end": busy,
                },
            )
        )
        context = dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=dt.datetime(2026, 9, 15, 3, tzinfo=dt.UTC),
            resources=resources,
        )
        result = schedules.late_arrivals_schedule(context)
    requested = [r.partition_key for r in result] if isinstance(result, list) else []
    assert requested == [idle], result
