"""Faults an adversary found in session 38 on the runs users launch (UI, CLI, daemon, sensors).

Each test states what a user or a hospital did and what went wrong before the fix.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from cadbusi_assets.identity import Pseudonymizer, generate_key_file
from cadbusi_assets.labeling import FolderLabelSource
from cadbusi_assets.stages.labeling import HISTORY_DIR, LABELS_DIR, ingest_labels
from cadbusi_assets.stages.safety import StageFailure
from cadbusi_assets.storage import open_zone
from cadbusi_assets_tests.builders import export_row
from cadbusi_assets_tests.defs.services import (
    STUDY_DATE_ASSETS,
    dagster_services,
    product_env,
    wait_for,
    write_instance_yaml,
)
from cadbusi_assets_tests.run_support import finish, kill_when, materialize_date
from cadbusi_assets_tests.support import TEST_KEY, time_limit
from cadbusi_demo import DemoConfig, generate_demo_cohort

pytestmark = [pytest.mark.xdist_group("adversary_runs_s38")]

# 1. a label export read while it is written, cut exactly between two lines ------------------


def _export_lines(n: int) -> list[str]:
    return [json.dumps(export_row(f"img-{i}", f"lb-{i}")) + "\n" for i in range(n)]


def _labels(zone, folder: tuple[str, ...]) -> pl.DataFrame | None:
    path = zone.root / Path(*folder) / "labels.parquet"
    return pl.read_parquet(path) if path.exists() else None


def test_an_export_file_read_while_written_between_two_lines_deletes_no_label(tmp_path: Path):
    """A Labelbox export downloaded into the label folder over the one ingested yesterday, read
    by the labels sensor's run while the download is still writing it: the file holds the
    first 6 of its 10 rows and ends in a newline (written row by row), so it looks complete.
    Before: the 4 labels of the missing tail were deleted from the current label set and
    recorded in ``history`` as deleted at the source (``superseded_by`` null) — the catalog
    and any export cut meanwhile lost them, and the history says a labeler deleted them —
    until a later run read the finished file. A file still being written is not an export."""
    folder = tmp_path / "lb"
    zone = open_zone(tmp_path / "research", "research")
    pseudonymizer = Pseudonymizer(TEST_KEY)
    path = folder / "exports" / "project-export.ndjson"
    path.parent.mkdir(parents=True)
    lines = _export_lines(10)
    path.write_text("".join(lines), encoding="utf-8")
    first = ingest_labels(zone, FolderLabelSource(folder), pseudonymizer=pseudonymizer)
    assert first.counts["labels"] == 10

    # the next download replaces it and is read half way, at a line boundary
    path.write_text("".join(lines[:6]), encoding="utf-8")
    # refusing the half-written file is as good as waiting for it
    with contextlib.suppress(StageFailure):
        ingest_labels(zone, FolderLabelSource(folder), pseudonymizer=pseudonymizer)
    current = _labels(zone, LABELS_DIR)
    assert current is not None
    tail = {f"lb-{i}" for i in range(6, 10)}
    assert tail <= set(current["label_id"]), "labels of the unwritten tail left the label set"
    history = _labels(zone, HISTORY_DIR)
    deleted = set() if history is None else set(history["label_id"])
    assert not (tail & deleted), "labels of the unwritten tail recorded as deleted at the source"

    # the download finishes: the label set is whole, and nothing was ever deleted
    path.write_text("".join(lines), encoding="utf-8")
    last = ingest_labels(zone, FolderLabelSource(folder), pseudonymizer=pseudonymizer)
    assert last.counts["labels"] == 10
    assert last.counts["superseded_label_versions_kept"] == 0


# 2. the UI's Terminate of a run started with `dagster asset materialize` ---------------------

_COHORT = DemoConfig(start=dt.date(2026, 9, 1), days=1, studies_per_day=(3, 4), seed=11, workers=1)
_DAY = "2026-09-01"


def _demo_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A demo deployment of one study date of three or four studies (OCR off, one worker)."""
    with time_limit(120, "a demo cohort"):
        generate_demo_cohort(tmp_path / "cohort", _COHORT)
    key = generate_key_file(tmp_path / "secrets" / "pseudonym.key")
    env = product_env(
        tmp_path / "state", tmp_path / "cohort", key, CADBUSI_OCR="0", CADBUSI_WORKERS="1", **extra
    )
    write_instance_yaml(env)
    return env


def _drained(proc: subprocess.Popen) -> list[bytes]:
    """The process's output, read on a thread to the end (a full pipe would stop it)."""
    lines: list[bytes] = []
    stdout = proc.stdout
    assert stdout is not None
    threading.Thread(target=lambda: lines.extend(stdout), daemon=True).start()
    return lines


def _materialized_since(instance: dg.DagsterInstance, run_id: str, moment: float) -> list[str]:
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records
    return sorted(
        r.event_log_entry.dagster_event.asset_key.to_user_string()
        for r in records
        if r.event_log_entry.dagster_event and r.event_log_entry.timestamp > moment
    )


@pytest.mark.integration
def test_the_uis_terminate_stops_a_date_re_run_with_dagster_asset_materialize(tmp_path: Path):
    """A date re-run from the command line as the README says (``dagster asset materialize
    --select … --partition …``), terminated from the UI while ``raw_dicom`` stores its files
    (Runs → Terminate calls the instance's run launcher, as here). Before: the UI answered
    "Unable to terminate run", the run went CANCELING and its process went on: it materialized
    ``deidentified_images`` … ``labelbox_data_rows`` after the request and the run ended
    SUCCESS (the UI's "Force termination" marks it CANCELED while the process still writes).
    The README promises that Terminate interrupts the run's process within seconds and the run
    ends CANCELED, and it does so for runs ``cadbusi demo`` / ``cadbusi export`` start."""
    env = _demo_env(tmp_path, CADBUSI_CINE_FRAME_STEP="1")
    stored = Path(env["CADBUSI_RAW_ZONE"]) / "dicom" / _DAY
    proc = materialize_date(env, STUDY_DATE_ASSETS, _DAY)
    output = _drained(proc)
    try:
        with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
            wait_for(
                lambda: stored.is_dir() and any(stored.rglob("*.dcm")),
                timeout=400,
                what="the retrieval of the date",
                poll=0.02,
            )
            (run,) = instance.get_runs()
            requested = time.time()
            instance.run_launcher.terminate(run.run_id)  # what the UI's Terminate calls
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)
            stopped = proc.poll() is not None
            if not stopped:
                proc.wait(timeout=300)
            after = _materialized_since(instance, run.run_id, requested)
            status = instance.get_run_by_id(run.run_id).status
            assert stopped, f"the run's process went on after Terminate (materialized {after})"
            assert output, "the command printed nothing"
            assert status == dg.DagsterRunStatus.CANCELED, (status, after)
            assert not {"deidentified_images", "labelbox_data_rows"} & set(after), after
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


# 3. a CLI re-run after a killed one that held the `pacs` slot --------------------------------

IMAGING_GROUP = ["raw_dicom", "deidentified_images", "image_features", "inpainted_images"]


@pytest.mark.integration
def test_a_date_re_run_from_raw_dicom_after_a_killed_run_is_not_blocked_by_its_pacs_slot(
    tmp_path: Path,
):
    """The README's command-line re-run of one date (``dagster asset materialize --select
    'group:imaging' --partition …``) SIGKILLed while ``raw_dicom`` held the ``pacs`` pool
    slot, then the same command again, no daemon running (a site that runs dates from the
    command line). Before: the new run waited for the dead run's slot for good ("Step blocked
    by limit for pool pacs"): the dead run is marked failed and its slot freed by the next
    run's first study-date *step*, and here that first step is ``raw_dicom`` itself, which
    waits for the slot before it starts. (A run whose first step is a records asset goes on,
    as ``test_leftovers_dead_run.py`` shows with such a run.)"""
    env = _demo_env(tmp_path)
    records = materialize_date(env, STUDY_DATE_ASSETS[:3], _DAY)
    out = finish(records, 300, "the date's records")
    assert records.returncode == 0, out[-3000:]
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        storage = instance.event_log_storage
        killed = materialize_date(env, IMAGING_GROUP, _DAY)
        kill_when(
            killed, lambda: bool(storage.get_concurrency_run_ids()), 300, "raw_dicom held pacs"
        )
        (dead,) = [r for r in instance.get_runs() if r.status == dg.DagsterRunStatus.STARTED]
        assert storage.get_concurrency_run_ids() == {dead.run_id}
        again = materialize_date(env, IMAGING_GROUP, _DAY)
        output = _drained(again)
        try:
            again.wait(timeout=240)
        except subprocess.TimeoutExpired:
            blocked = any(
                "blocked by limit for pool pacs" in (event.message or "")
                for run in instance.get_runs()
                if run.run_id != dead.run_id
                for event in instance.all_logs(run.run_id)
            )
            os.killpg(again.pid, signal.SIGKILL)
            again.wait(timeout=30)
            pytest.fail(f"the re-run still waits after 240 s; blocked on the pacs pool: {blocked}")
        assert again.returncode == 0, b"".join(output)[-3000:].decode(errors="replace")
        assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
        assert not storage.get_concurrency_run_ids()


# 4. the automation after a first date that stopped before its images ------------------------


def _ticked(instance: dg.DagsterInstance, name: str) -> bool:
    for state in instance.all_instigator_state():
        if state.name == name:
            return bool(instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=1))
    return False


@pytest.mark.integration
def test_a_first_date_stopped_before_its_images_starts_no_failing_automation_run(
    tmp_path: Path,
):
    """A new deployment's first date stops after its records, before any image (terminated in
    ``raw_dicom`` from the UI, or its PACS was down that night): ``radiology_reports`` and
    ``pathology_reports`` of the date are materialized, nothing else. Before: the daemon's
    ``default_automation_condition_sensor`` (on by default) then launched ``lesions`` (with
    ``diagnosis_labels`` and ``metadata_db``), which failed at once — "No deidentified_images
    partitions yet (no studies table)" — a red run (and a failure alert) nobody asked for,
    again at each such stop until a date got through its images."""
    env = _demo_env(tmp_path)
    with dagster_services(env, webserver=False) as services:
        instance = services.instance()
        wait_for(
            lambda: _ticked(instance, "default_automation_condition_sensor"),
            timeout=240,
            what="the automation sensor's first tick",
            services=services,
        )
        records = materialize_date(env, STUDY_DATE_ASSETS[:3], _DAY)
        out = finish(records, 300, "the date's records")
        assert records.returncode == 0, out[-3000:]
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            services.check_alive()
            automation = [
                r for r in instance.get_runs() if r.tags.get("dagster/from_automation_condition")
            ]
            failed = [r for r in automation if r.status == dg.DagsterRunStatus.FAILURE]
            assert not failed, [
                sorted(k.to_user_string() for k in r.asset_selection or []) for r in failed
            ]
            if automation and all(r.is_success for r in automation):
                break  # what it asked for went through
            time.sleep(2)
