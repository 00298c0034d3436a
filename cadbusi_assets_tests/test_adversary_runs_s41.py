"""Adversary, round 9: runs users launch (the webserver's GraphQL, the daemon's runs,
``dagster asset materialize``, ``cadbusi demo``), attacked through the key, the disk, a
stopped process and the UI's re-execution.

1. Round 8's open end: a process without ``CADBUSI_PSEUDONYM_KEY_FILE`` (a daemon started from
   another shell) in a demo deployment fell back to the home's own key file; on empty zones it
   wrote the first dates with that key, and the zones' fingerprint check then refused the
   deployment's real key. The home is pinned to one key now (``identity.pin``).
2. ``CADBUSI_PSEUDONYM_KEY`` (the key as text) in a demo deployment was ignored: the settings
   filled in the home's key file, so the text key was never used.
3. The research zone full mid-run (here a file-size limit, ``RLIMIT_FSIZE``, as a quota gives
   it): the date failed as ``OSError`` and nothing more, so a full disk, a quota, a read-only
   mount and a permission error all read alike in the UI and the run log.
4. A run whose process is stopped (``SIGSTOP``, Ctrl-Z in the shell that started it, a paused
   container), then terminated from the UI.
5. "Re-execute all steps" in the UI of a ranged run one of whose dates failed: the new run
   inherits the parent's tags, the tags the parent's run wrote about itself included (its
   failed dates; the launcher's "interrupted" mark of a terminated run).

6. A backfill of ten dates (an empty warehouse date, a date whose every file is not DICOM,
   a duplicated warehouse row, normal dates): one ranged run, the bad date failed alone with
   its reason and was retried by ``failed_study_dates_sensor``, and then re-run again as
   "a run stopped in the middle of this date (killed)" though no run was killed.

Held (probes, no test kept): a partition key typed by hand (``2026-09-31``, ``2026-9-1``, a
trailing blank, a date past the last one) is refused by Dagster before any run; the imaging
pass re-run after the file-size failure wrote research and raw zones byte-identical (48 files)
to a clean run of the date on another deployment with the same key and sources.

Each test states what went wrong before the fix. Everything is synthetic; every subprocess
has a timeout.
"""

from __future__ import annotations

import datetime as dt
import resource
import subprocess
from pathlib import Path

import pytest

from cadbusi_assets.identity import generate_key_file, load_key
from cadbusi_assets.identity.pin import pin_path, read_pin
from cadbusi_assets.settings import load_settings
from cadbusi_assets.stages.safety import KEY_FINGERPRINTS_TABLE
from cadbusi_assets.storage import open_zone, read_all_partition_tables
from cadbusi_assets_tests.defs.services import ROOT, checkout_deployment
from cadbusi_assets_tests.run_support import FIRST, MATERIALIZE, finish, materialize_date
from cadbusi_assets_tests.support import time_limit

pytestmark = [pytest.mark.xdist_group("adversary_runs_s41")]

RECORDS = ["radiology_reports", "pathology_reports", "imaging_studies"]


def _one_date_deployment(tmp_path: Path, days: int = 1) -> dict[str, str]:
    from cadbusi_demo import DemoConfig, generate_demo_cohort

    config = DemoConfig(
        start=dt.date.fromisoformat(FIRST), days=days, studies_per_day=(1, 1), seed=11, workers=1
    )
    with time_limit(90, "a demo cohort"):
        generate_demo_cohort(tmp_path / "cohort", config)
    return checkout_deployment(tmp_path, CADBUSI_WORKERS="1")


def _raw_fingerprints(env: dict[str, str]) -> set[str]:
    raw = open_zone(Path(env["CADBUSI_RAW_ZONE"]), name="raw")
    frame = read_all_partition_tables(raw, KEY_FINGERPRINTS_TABLE)
    return set() if frame is None else set(frame["fingerprint"].to_list())


@pytest.mark.integration
def test_a_process_without_the_key_variable_writes_nothing_with_the_homes_own_key(tmp_path):
    """The deployment's key is ``CADBUSI_PSEUDONYM_KEY_FILE``; the demo home also holds its
    own key file (``cadbusi demo`` made it once). A daemon started from a shell without the
    variable runs the first date on the empty zones. Before: it fell back to the home's key and
    wrote the date with it (rc 0, the raw zone recorded the home key's fingerprint), so the
    first writer's key won and the runs with the deployment's key were refused afterwards.
    Now: a process on the fallback key in a home with no pin is refused before it writes with
    a key; the first process with the key in its environment pins it; the fallback process is
    refused again, naming the pin, and the zones hold the deployment's key only."""
    env = _one_date_deployment(tmp_path)
    home_key = load_settings(env).home / "secrets" / "pseudonym.key"  # type: ignore[operator]
    generate_key_file(home_key)
    deployment_key = load_key(env["CADBUSI_PSEUDONYM_KEY_FILE"])
    assert load_key(home_key).fingerprint != deployment_key.fingerprint
    forgetful = {k: v for k, v in env.items() if k != "CADBUSI_PSEUDONYM_KEY_FILE"}

    first = materialize_date(forgetful, [*RECORDS, "raw_dicom"], FIRST)
    out = finish(first, 300, "the fallback process's run")
    assert first.returncode != 0, "the process on the home's fallback key wrote the date"
    assert "has no key pin" in out, out[-3000:]
    assert _raw_fingerprints(env) == set()

    deployed = materialize_date(env, ["raw_dicom"], FIRST)
    out = finish(deployed, 300, "the run with the deployment's key")
    assert deployed.returncode == 0, out[-3000:]
    assert read_pin(pin_path(home_key)) == deployment_key.fingerprint

    again = materialize_date(forgetful, ["raw_dicom"], FIRST)
    out = finish(again, 300, "the fallback process's second run")
    assert again.returncode != 0
    assert f"pinned to the pseudonym key {deployment_key.fingerprint}" in out, out[-3000:]
    assert _raw_fingerprints(env) == {deployment_key.fingerprint}
    assert deployment_key.secret_bytes().hex() not in out


@pytest.mark.integration
def test_a_home_written_before_pins_goes_on_with_the_key_its_zones_hold(tmp_path):
    """The other side of the pin: a demo home whose zones were written with its own key
    before pins existed (``make demo`` of an earlier version, then ``make dev``: no variable
    in any process). Its processes on the fallback key go on, and pin it, since the zones hold
    data of that key and of no other; the empty-zone case above stays refused."""
    env = _one_date_deployment(tmp_path)
    home_key = load_settings(env).home / "secrets" / "pseudonym.key"  # type: ignore[operator]
    generate_key_file(home_key)
    written = materialize_date(
        {**env, "CADBUSI_PSEUDONYM_KEY_FILE": str(home_key)}, [*RECORDS, "raw_dicom"], FIRST
    )
    out = finish(written, 300, "the date written with the home's key")
    assert written.returncode == 0, out[-3000:]
    pin_path(home_key).unlink()  # as a home of an earlier version: no pin
    forgetful = {k: v for k, v in env.items() if k != "CADBUSI_PSEUDONYM_KEY_FILE"}
    again = materialize_date(forgetful, ["raw_dicom"], FIRST)
    out = finish(again, 300, "the fallback process on the old home")
    assert again.returncode == 0, out[-3000:]
    assert read_pin(pin_path(home_key)) == load_key(home_key).fingerprint


def test_the_key_given_as_text_in_a_demo_deployment_is_the_key_used(tmp_path):
    """``CADBUSI_PSEUDONYM_KEY`` (hex) in a demo deployment. Before: the settings put the home's
    key file in ``key_file`` anyway, so the text key was ignored (the home's key was used when
    it existed, else "the key file named by CADBUSI_PSEUDONYM_KEY_FILE does not exist")."""
    text = bytes(range(7, 39)).hex()
    settings = load_settings({"CADBUSI_HOME": str(tmp_path), "CADBUSI_PSEUDONYM_KEY": text})
    assert settings.key_file == "" and settings.key_from_env
    assert load_key(settings.key_file or None, env={"CADBUSI_PSEUDONYM_KEY": text}).fingerprint
    fallback = load_settings({"CADBUSI_HOME": str(tmp_path)})
    assert fallback.key_file == str(tmp_path.resolve() / "secrets" / "pseudonym.key")
    assert not fallback.key_from_env
    assert fallback.key_pin == fallback.key_file + ".pin"
    # a bare import (the test suite, a checkout's ./.demo) is never pinned
    assert load_settings({}).key_pin == ""


IMAGING = ["deidentified_images", "image_features", "inpainted_images"]


def _limited(env: dict[str, str], selection: list[str], day: str, max_bytes: int):
    """``dagster asset materialize`` whose process may write no file beyond ``max_bytes``
    (``RLIMIT_FSIZE``: a write past it fails with EFBIG, as a full quota fails with EDQUOT)."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return subprocess.Popen(
        [*MATERIALIZE, "--select", ",".join(selection), "--partition", day],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=limit,
    )


@pytest.mark.integration
def test_a_research_zone_that_cannot_take_a_file_fails_the_date_naming_the_system_error(tmp_path):
    """The imaging pass of a date whose cine loop (2.3 MB) no longer fits: the date fails and
    nothing is kept of it. Before: its reason was ``OSError (traceback in the run log)`` and the
    run log's traceback ended in ``builtins.OSError``: nothing told a full disk or a quota from
    a read-only zone or a permission error. Now both name the system error (``EFBIG``, its
    text), never the file's path (a real date in the raw zone). The re-run without the limit
    completes and leaves no pending write."""
    import dagster as dg

    env = _one_date_deployment(tmp_path)
    records = materialize_date(env, [*RECORDS, "raw_dicom"], FIRST)
    out = finish(records, 300, "the records and raw DICOM of the date")
    assert records.returncode == 0, out[-3000:]

    full = _limited(env, IMAGING, FIRST, 1_000_000)
    out = finish(full, 300, "the imaging pass on a zone that cannot take a file")
    assert full.returncode != 0
    assert "[EFBIG] File too large" in out, out[-3000:]
    assert FIRST not in out.split("EFBIG", 1)[1].splitlines()[0]
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        (failed,) = [r for r in instance.get_runs() if r.status == dg.DagsterRunStatus.FAILURE]
        listing = [
            str(e.dagster_event.step_failure_data.user_failure_data.metadata["failed_dates"])
            for e in instance.all_logs(failed.run_id)
            if e.dagster_event is not None and e.dagster_event.is_step_failure
        ]
    assert any("OSError [EFBIG] File too large" in text for text in listing), listing

    again = materialize_date(env, IMAGING, FIRST)
    out = finish(again, 300, "the re-run without the limit")
    assert again.returncode == 0, out[-3000:]
    pending = Path(env["CADBUSI_RESEARCH_ZONE"]) / "pending_writes"
    assert not [p for p in pending.rglob("*") if p.is_file()]


def test_the_system_error_of_a_failed_date_names_no_file():
    """The other side of the fix above: the system error is named, never the file's path nor
    a library's message (which may quote data)."""
    from cadbusi_assets.defs.reporting import safe_traceback, system_error

    path = "/zones/raw/dicom/2024-03-05/DOE_JANE.dcm"
    try:
        raise OSError(28, "disk full", path)
    except OSError as exc:
        text = safe_traceback(exc)
    assert text.endswith("builtins.OSError [ENOSPC] No space left on device")
    assert "2024-03-05" not in text and "DOE" not in text
    assert system_error(ValueError("PatientName=DOE^JANE")) == ""
    assert system_error(OSError("no errno")) == ""


def _stopped_in_its_imaging_pass(env: dict[str, str], day: str) -> subprocess.Popen:
    """``dagster asset materialize`` of the imaging pass of ``day``, stopped (its whole
    session: the run's process and its workers) once it de-identifies."""
    import os
    import select
    import signal
    import time

    proc = materialize_date(env, IMAGING, day)
    assert proc.stdout is not None
    seen = b""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        ready, _, _ = select.select([proc.stdout], [], [], 5)
        if ready:
            line = proc.stdout.readline()
            seen += line
            if b"de-identifying and analysing" in line:
                os.killpg(proc.pid, signal.SIGSTOP)
                return proc
    os.killpg(proc.pid, signal.SIGKILL)
    finish(proc, 30, "the imaging pass")
    pytest.fail("the run never reached its imaging pass:\n" + seen.decode(errors="replace")[-3000:])


@pytest.mark.integration
def test_terminate_of_a_stopped_run_wakes_it_so_it_stops_and_frees_its_date(tmp_path):
    """The run's process (and its workers) were stopped in the imaging pass, then the UI's
    Terminate. Before: the terminate request was never handled (a stopped process runs no
    thread), the run stayed CANCELING until run monitoring marked it CANCELED after its
    timeout, while the stopped process still held the date's partition lock, so every later run
    of the date waited for the lock and then failed; the UI said CANCELED for a run that
    could wake up at any time (``fg``) and go on. Now Terminate continues a stopped process of
    the run (and its children): its own watch sees the run CANCELING and interrupts it, the
    run ends CANCELED, and the date runs again at once."""
    import os
    import signal

    import dagster as dg

    env = _one_date_deployment(tmp_path)
    records = materialize_date(env, [*RECORDS, "raw_dicom"], FIRST)
    out = finish(records, 300, "the records and raw DICOM of the date")
    assert records.returncode == 0, out[-3000:]

    proc = _stopped_in_its_imaging_pass(env, FIRST)
    try:
        with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
            (run,) = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
            instance.report_run_canceling(run, message="Terminate (the UI)")
            instance.run_launcher.terminate(run.run_id)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pytest.fail("the stopped run's process never stopped after Terminate")
            ended = instance.get_run_by_id(run.run_id)
            assert ended is not None and ended.status == dg.DagsterRunStatus.CANCELED
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        finish(proc, 30, "the stopped run")

    again = materialize_date({**env, "CADBUSI_LOCK_TIMEOUT": "20"}, IMAGING, FIRST)
    out = finish(again, 300, "the date's next run")
    assert again.returncode == 0, out[-3000:]


REEXECUTE = """mutation($id: String!, $strategy: ReexecutionStrategy!) {
  launchRunReexecution(reexecutionParams: {parentRunId: $id, strategy: $strategy}) {
    __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""


def _materialized_by(instance, run_id: str, asset: str) -> set[str]:
    return {
        str(e.dagster_event.partition)
        for e in instance.all_logs(run_id)
        if e.dagster_event is not None
        and e.dagster_event.is_step_materialization
        and e.dagster_event.asset_key is not None
        and e.dagster_event.asset_key.to_user_string() == asset
    }


@pytest.mark.integration
def test_re_executing_all_steps_of_a_ranged_run_redoes_the_date_that_failed_in_it(tmp_path):
    """A ranged run of two dates whose second date failed at ``raw_dicom`` (its cause fixed
    since); the user clicks "Re-execute all" in the UI. Dagster gives the new run its parent's
    tags, ``cadbusi/failed_dates`` included, which the parent's steps wrote about its own
    dates. Before: every step of the new run read that tag as "failed earlier in this run" and
    skipped the date ("not processed: raw_dicom failed for this date in this run"): the run
    said SUCCESS and the date was never redone. Now a run ignores the failed dates it did not
    record itself, except those whose failing step it does not run again (a re-execution from
    failure keeps skipping a date whose upstream step failed in the parent)."""
    import json

    import dagster as dg

    from cadbusi_assets.defs.reporting import FAILED_DATES_TAG
    from cadbusi_assets_tests.defs.services import (
        dagster_services,
        launch_backfill,
        wait_backfill,
        wait_for,
    )
    from cadbusi_assets_tests.run_support import SECOND

    env = _one_date_deployment(tmp_path, days=2)
    blocker = Path(env["CADBUSI_RAW_ZONE"]) / "tables" / "retrieval_instances" / f"{SECOND}.parquet"
    blocker.mkdir(parents=True)
    (blocker / "in-the-way").write_text("x")
    with dagster_services(env) as services, services.instance() as instance:
        backfill = launch_backfill(services, [*RECORDS, "raw_dicom"], [FIRST, SECOND])
        assert wait_backfill(services, backfill, 300) in {"COMPLETED", "COMPLETED_SUCCESS"}
        (parent,) = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill}))
        assert parent.is_success, services.log_tail("daemon")
        assert json.loads(parent.tags[FAILED_DATES_TAG]) == {SECOND: "raw_dicom"}
        (blocker / "in-the-way").unlink()
        blocker.rmdir()

        data = services.graphql(REEXECUTE, {"id": parent.run_id, "strategy": "ALL_STEPS"})
        launched = data["launchRunReexecution"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        child_id = launched["run"]["runId"]
        child = wait_for(
            lambda: (r := instance.get_run_by_id(child_id)) and r.is_finished and r,
            timeout=300,
            what="the re-execution",
            services=services,
        )
        assert child.is_success, services.log_tail("daemon")
        assert SECOND not in json.loads(child.tags.get(FAILED_DATES_TAG) or "{}")
        assert _materialized_by(instance, child_id, "raw_dicom") == {FIRST, SECOND}


_INHERITED_INTERRUPT = """
import sys, time, uuid
import dagster as dg
from dagster._core.storage.dagster_run import DagsterRun
from cadbusi_assets.defs.run_process import INTERRUPTED_TAG, watch_termination

with dg.DagsterInstance.get() as instance:
    parent_id = str(uuid.uuid4())
    mark = parent_id if sys.argv[1] == "run-id" else sys.argv[1]
    parent = DagsterRun(job_name="__ASSET_JOB", run_id=parent_id,
                        tags={INTERRUPTED_TAG: mark}, status=dg.DagsterRunStatus.CANCELED)
    instance.add_run(parent)
    child = DagsterRun(job_name="__ASSET_JOB", run_id=str(uuid.uuid4()),
                       parent_run_id=parent.run_id, root_run_id=parent.run_id,
                       tags=dict(parent.tags), status=dg.DagsterRunStatus.STARTED)
    instance.add_run(child)
    watch_termination(instance, child.run_id)
    instance.report_run_canceling(child, message="Terminate (the UI)")
    try:
        time.sleep(20)
        print("went on", flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
"""


@pytest.mark.parametrize("mark", ["1", "run-id"])
def test_a_re_executed_run_terminated_from_the_ui_stops_though_its_parent_was_interrupted(
    tmp_path, mark
):
    """The parent run was terminated by the launcher signalling its process (its code server
    gone: tag ``cadbusi/run_interrupted``); the user re-executes it, and terminates the new run,
    which no launcher reaches (``dagster asset materialize``-like: its own process watches its
    status). Before: the new run inherited the tag, its watch took it for "the launcher already
    interrupted me" and never interrupted it: the run went on writing while CANCELING. Now the
    mark counts only on the run that got it (``"1"``: a mark written before this change, on a
    run that is no re-execution)."""
    import os
    import sys

    home = tmp_path / "dagster_home"
    home.mkdir()
    from cadbusi_assets.instance_config import DEMO_INSTANCE_YAML

    (home / "dagster.yaml").write_text(DEMO_INSTANCE_YAML)
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", _INHERITED_INTERRUPT, mark],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "interrupted" in done.stdout, done.stdout + done.stderr[-3000:]


@pytest.mark.integration
def test_a_date_none_of_whose_files_is_dicom_is_not_taken_for_a_killed_run(tmp_path):
    """Every file the PACS holds for the date is not DICOM. The imaging pass quarantines each
    with its reason and refuses the date ("none of the N instances could be de-identified").
    Before: it refused after marking the date's batch open, and left the marker: the
    ``interrupted_study_dates_sensor`` read it as a killed run and re-ran the date (up to three
    times) as "a run stopped in the middle of this date (killed)", beside the honest retry of
    ``failed_study_dates_sensor``; the catalog left the batch out as interrupted. Now a first
    pass that de-identified nothing closes its batch: its tables (empty, the quarantine with
    the reasons) are whole. The date still fails, with its reason."""
    from cadbusi_assets.identity import Pseudonymizer
    from cadbusi_assets.stages.batches import interrupted_dates
    from cadbusi_assets.stages.deidentification import RAW_QUARANTINE_TABLE
    from cadbusi_assets.storage import read_partition_table
    from cadbusi_assets.storage.tables import open_batches

    env = _one_date_deployment(tmp_path)
    broken = 0
    for path in (tmp_path / "cohort" / "pacs").rglob("*"):
        if path.is_file():
            path.write_bytes(b"not a DICOM file " * 16)
            broken += 1
    assert broken
    run = materialize_date(env, [*RECORDS, "raw_dicom", *IMAGING], FIRST)
    out = finish(run, 300, "the date whose files are not DICOM")
    assert run.returncode != 0
    assert "could be de-identified" in out, out[-3000:]
    raw = open_zone(Path(env["CADBUSI_RAW_ZONE"]), name="raw")
    research = open_zone(Path(env["CADBUSI_RESEARCH_ZONE"]), name="research")
    quarantined = read_partition_table(raw, RAW_QUARANTINE_TABLE, FIRST)
    assert quarantined is not None and quarantined.height > 0
    assert all("corrupt DICOM" in r for r in quarantined["reason"].to_list())
    assert open_batches(research) == set()
    pseudonymizer = Pseudonymizer(load_key(env["CADBUSI_PSEUDONYM_KEY_FILE"]))
    assert interrupted_dates(raw, research, pseudonymizer) == {}
