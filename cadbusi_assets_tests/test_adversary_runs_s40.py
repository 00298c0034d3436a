"""Adversary, round 7: runs users launch (the webserver's GraphQL, the daemon, ``dagster asset
materialize``, ``cadbusi`` commands) when the daemon is killed under a running run, or a run is
stopped in the imaging pass of a range of dates.

1. Terminate from the UI after the daemon and the run's process were killed (a daemon restart
   that takes its process group, a drained node): what the run log says the run became, and
   the webserver's answer.
2. Terminate from the UI after the daemon's code server was killed but the run's process lives
   on: the process must stop.
3. A ranged run stopped in the imaging pass of its second date before its tables: which command
   names the date whose files no table lists (``pending_writes/``)."""

from __future__ import annotations

import datetime as dt
import json
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dagster as dg
import pytest
import requests

from cadbusi_assets.defs.run_process import RUN_PROCESS_TAG, release_dead_runs
from cadbusi_assets.instance_config import DEMO_INSTANCE_YAML

pytestmark = [pytest.mark.xdist_group("adversary_runs_s40")]


def _dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait(timeout=60)
    return done.pid


def _run_of_a_dead_process(instance: dg.DagsterInstance, **tags: str) -> dg.DagsterRun:
    """A STARTED run whose process (recorded as every study-date step records it) is gone."""
    run_id = str(uuid.uuid4())
    record = {
        "run_id": run_id,
        "pid": _dead_pid(),
        "host": socket.gethostname(),
        "started": 1.0,
        "beats": True,
    }
    run = dg.DagsterRun(
        job_name="__ASSET_JOB",
        run_id=run_id,
        status=dg.DagsterRunStatus.STARTED,
        tags={RUN_PROCESS_TAG: json.dumps(record, sort_keys=True), **tags},
    )
    return instance.add_run(run)


def _last_message(instance: dg.DagsterInstance, run_id: str, kind: dg.DagsterEventType) -> str:
    records = instance.get_records_for_run(run_id, of_type=kind).records
    assert records, f"no {kind.value} event"
    return records[-1].event_log_entry.message or ""


def test_a_terminated_run_whose_process_is_gone_is_logged_as_canceled_not_failed(tmp_path: Path):
    """A daemon restart that takes its process group (``systemctl restart``, a drained node)
    kills the run it launched; a person then presses Terminate (the run goes CANCELING), and
    ``dead_run_sensor`` (or the next run, or a ``cadbusi`` command) finds the process gone and
    ends the run CANCELED. Before: the run's CANCELED event said "the run is marked failed",
    so the run's log contradicts its status (and a reader looking for why it failed finds a
    cancel)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(DEMO_INSTANCE_YAML)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        canceling = _run_of_a_dead_process(instance)
        instance.report_run_canceling(canceling)
        killed = _run_of_a_dead_process(instance)
        assert sorted(release_dead_runs(instance)) == sorted([canceling.run_id, killed.run_id])

        terminated = instance.get_run_by_id(canceling.run_id)
        assert terminated is not None and terminated.status == dg.DagsterRunStatus.CANCELED
        said = _last_message(instance, canceling.run_id, dg.DagsterEventType.RUN_CANCELED)
        assert "gone" in said and "failed" not in said, said
        assert "canceled" in said, said

        died = instance.get_run_by_id(killed.run_id)
        assert died is not None and died.status == dg.DagsterRunStatus.FAILURE
        said = _last_message(instance, killed.run_id, dg.DagsterEventType.RUN_FAILURE)
        assert "gone" in said and "marked failed" in said, said


@pytest.mark.integration
def test_the_uis_terminate_of_a_run_whose_process_and_code_server_are_gone_answers_and_ends_it(
    tmp_path: Path,
):
    """The daemon's run launcher started the run in a code server the daemon owns (the run's
    ``.dagster/grpc_info`` tag names it); a daemon restart that takes its process group kills
    both. The UI's Terminate (GraphQL ``terminateRun``) asks that code server to cancel the run.
    Before: the webserver answered HTTP 500 with "Could not reach user code server" (the UI
    shows an error for a run that is already dead) and left the run CANCELING, its ``pacs`` slot
    held, until ``dead_run_sensor`` or run monitoring (60 s) ended it — with no daemon, for
    good. The run's own process record says it is gone: Terminate can end it CANCELED now."""
    from dagster._core.storage.tags import GRPC_INFO_TAG

    from cadbusi_assets_tests.defs.services import (
        TERMINATE_RUN,
        checkout_deployment,
        dagster_services,
        wait_for,
    )

    env = checkout_deployment(tmp_path)
    gone = json.dumps({"host": "localhost", "socket": str(tmp_path / "gone.sock")})
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        run = _run_of_a_dead_process(instance, **{GRPC_INFO_TAG: gone})
    with dagster_services(env, daemon=False) as services:
        reply = requests.post(
            f"{services.base}/graphql",
            json={"query": TERMINATE_RUN, "variables": {"runId": run.run_id}},
            timeout=60,
        )
        answer = reply.json()["data"]["terminateRun"]
        assert reply.status_code == 200 and answer["__typename"] != "PythonError", (
            reply.status_code,
            answer,
        )
        instance = services.instance()
        wait_for(
            lambda: instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.CANCELED,
            timeout=10,
            what="the dead run to end CANCELED",
            services=services,
            poll=0.5,
        )


@pytest.mark.integration
def test_the_uis_terminate_stops_a_daemon_run_whose_code_server_was_killed(tmp_path: Path):
    """A date run from the UI (``launchPartitionBackfill``): the daemon starts the run in its
    code server, whose child process runs the steps. The daemon and that code server are then
    killed (an out-of-memory kill of the daemon's processes, a restart that stops them but not
    the run), and a new daemon is started; the run's process goes on. A person presses
    Terminate. Before: the webserver answered HTTP 500 ("Could not reach user code server"),
    the run went CANCELING and its process went on writing: it materialized the date's
    imaging assets and ``labelbox_data_rows`` after the request and the run ended SUCCESS.
    README: Terminate interrupts the run's process within seconds and the run ends CANCELED."""
    import psutil

    from cadbusi_assets_tests.defs.services import (
        BIN,
        ROOT,
        STUDY_DATE_ASSETS,
        TERMINATE_RUN,
        checkout_deployment,
        dagster_services,
        launch_backfill,
        wait_for,
    )
    from cadbusi_assets_tests.support import time_limit
    from cadbusi_demo import DemoConfig, generate_demo_cohort

    with time_limit(180, "a demo cohort"):
        generate_demo_cohort(
            tmp_path / "cohort",
            DemoConfig(
                start=dt.date(2026, 9, 1), days=1, studies_per_day=(8, 10), seed=11, workers=1
            ),
        )
    env = checkout_deployment(tmp_path, CADBUSI_WORKERS="1", CADBUSI_CINE_FRAME_STEP="1")
    with dagster_services(env) as services:
        instance = services.instance()
        launch_backfill(services, STUDY_DATE_ASSETS, ["2026-09-01"])

        def recorded_run() -> dg.DagsterRun | None:
            for run in instance.get_runs(
                filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])
            ):
                if RUN_PROCESS_TAG in run.tags:
                    return run
            return None

        run = wait_for(recorded_run, 400, "the run's first study-date step", services, poll=0.2)
        pid = json.loads(run.tags[RUN_PROCESS_TAG])["pid"]
        daemon = services.procs["daemon"]
        code_servers = [
            p for p in psutil.Process(daemon.pid).children() if "api" in " ".join(p.cmdline())
        ]
        assert code_servers, "the daemon started no code server"
        for server in code_servers:  # the daemon's code server, then the daemon: not the run
            server.kill()
        daemon.kill()
        daemon.wait(timeout=30)
        assert psutil.pid_exists(pid), "the run's process died with its code server"
        # a new daemon, as an operator starts one
        log_dir = Path(env["DAGSTER_HOME"]) / "service-logs"
        services.procs["daemon"] = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", str(ROOT / "workspace.yaml")],
            cwd=ROOT,
            env=env,
            stdout=(log_dir / "daemon2.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        services.logs["daemon"] = log_dir / "daemon2.log"
        requested = time.time()
        reply = requests.post(
            f"{services.base}/graphql",
            json={"query": TERMINATE_RUN, "variables": {"runId": run.run_id}},
            timeout=60,
        )
        answer = reply.json()["data"]["terminateRun"]
        try:
            psutil.Process(pid).wait(timeout=60)
            stopped = True
        except psutil.TimeoutExpired:
            stopped = False
        after = sorted(
            r.event_log_entry.dagster_event.asset_key.to_user_string()
            for r in instance.get_records_for_run(
                run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
            ).records
            if r.event_log_entry.dagster_event and r.event_log_entry.timestamp > requested
        )
        if not stopped:
            psutil.Process(pid).kill()
        status = instance.get_run_by_id(run.run_id).status
        assert stopped, f"the run's process went on after Terminate (materialized {after})"
        assert status == dg.DagsterRunStatus.CANCELED, (status, after)
        assert not {"inpainted_images", "labelbox_data_rows"} & set(after), after
        assert reply.status_code == 200 and answer["__typename"] == "TerminateRunSuccess", (
            reply.status_code,
            answer,
        )


def test_cadbusi_open_batches_names_the_dates_a_stopped_pass_left_unlisted_files_of(
    tmp_path: Path, monkeypatch, capsys
):
    """A ranged run (a UI backfill, ``cadbusi demo``) stopped in the imaging pass of its
    second date before that pass wrote a table: its de-identified files are in the research
    zone, named by its write-ahead records (``pending_writes/``) and by no table, and no open
    marker was left (the pass had written no table yet). Killed, the sensor re-runs the date;
    terminated by a person, nothing does ("a terminated run never resumes: re-run it by hand").
    Before: ``cadbusi open-batches`` said "0 open batch(es)" and nothing else, no command or
    view named the date (``ls pending_writes/`` shows an opaque batch name), so the files —
    of a patient who withdrew meanwhile too — stayed for good. The command must name the
    date to re-run (the raw zone's holder's terminal; nothing goes to Dagster)."""
    import polars as pl

    from cadbusi_assets import cli
    from cadbusi_assets.identity import Pseudonymizer, generate_key_file, load_key
    from cadbusi_assets.storage import open_zone, write_partition_table
    from cadbusi_assets.storage.pending import begin_pending, record_pending
    from cadbusi_assets_tests.run_support import use_local_zones

    key_file = generate_key_file(tmp_path / "secrets" / "pseudonym.key")
    pseudonymizer = Pseudonymizer(load_key(str(key_file)))
    raw = open_zone(tmp_path / "raw", name="raw").ensure()
    research = open_zone(tmp_path / "research", name="research").ensure()
    finished, stopped = "2026-09-01", "2026-09-02"
    for day in (finished, stopped):
        write_partition_table(raw, "retrieval_instances", day, pl.DataFrame({"x": [1]}))
    png = "images/ab/abababababababababababab.png"
    record_pending(
        research,
        begin_pending(pseudonymizer.batch_name(stopped), "deidentified_images"),
        "i1",
        [png],
    )
    research.write_bytes(tuple(png.split("/")), b"written by the stopped pass")
    use_local_zones(monkeypatch, tmp_path / "home", raw, research, key_file)
    cli.main(["open-batches"])
    out = capsys.readouterr().out
    assert stopped in out and finished not in out, out
