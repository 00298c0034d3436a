"""Runs started the way users start them, for the tests of killed and re-run study dates.

One place for what ``test_user_runs.py`` and the adversarial run files each wrote themselves:
a date re-run with ``dagster asset materialize``, a ranged run as ``make demo`` / ``cadbusi
demo`` starts it (:func:`cadbusi_assets.runner.backfill_study_dates`, in its own process), run
requests carried out one after the other in one process, and bounded waits and kills. Every
process starts in its own session, so a kill takes its workers too.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import dagster as dg
import pytest

from cadbusi_assets_tests.defs.services import BIN, ROOT

MATERIALIZE = [str(BIN / "dagster"), "asset", "materialize", "-m", "cadbusi_assets.definitions"]


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        args,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def materialize_date(env: dict[str, str], selection: Sequence[str], day: str) -> subprocess.Popen:
    """``dagster asset materialize --select <selection> --partition <day>`` (README's re-run)."""
    return _start([*MATERIALIZE, "--select", ",".join(selection), "--partition", day], env)


_RANGED = """
import datetime as dt, sys
import cadbusi_assets
from dagster import DagsterInstance
from cadbusi_assets import runner
selection = sys.argv[1].split(",")
start, end = (dt.date.fromisoformat(d) for d in sys.argv[2:4])
runs = runner.backfill_study_dates(
    runner.load_definitions(), selection, DagsterInstance.get(), start, end
)
sys.exit(0 if all(r.success for r in runs) else 1)
"""


def ranged_run(
    env: dict[str, str], selection: Sequence[str], start: str, end: str
) -> subprocess.Popen:
    """The ranged run of ``make demo`` (``cadbusi demo``): one run over [start, end]."""
    return _start([sys.executable, "-c", _RANGED, ",".join(selection), start, end], env)


_REQUESTS = """
import json, sys
import cadbusi_assets
from dagster import DagsterInstance
from cadbusi_assets import runner
defs, instance = runner.load_definitions(), DagsterInstance.get()
failed = 0
for request in json.loads(sys.argv[1]):
    summary = runner.materialize(
        defs, request["assets"], instance,
        partition_key=request["partition"], tags=request["tags"],
    )
    print(request["partition"], "ok" if summary.success else "failed", flush=True)
    failed += not summary.success
sys.exit(1 if failed else 0)
"""


def carry_out(env: dict[str, str], requests: Sequence[dg.RunRequest]) -> subprocess.Popen:
    """The sensor's run requests, one run after the other (as the daemon would launch them,
    one at a time here), in one process."""
    payload = [
        {
            "partition": r.partition_key,
            "assets": [k.to_user_string() for k in r.asset_selection or []],
            "tags": dict(r.tags),
        }
        for r in requests
    ]
    return _start([sys.executable, "-c", _REQUESTS, json.dumps(payload)], env)


def finish(
    proc: subprocess.Popen, timeout: float, what: str, others: Sequence[subprocess.Popen] = ()
) -> str:
    """The process's output once it ends; past ``timeout`` it is killed with its session (and
    ``others``, runs started beside it) and the test fails."""
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        for victim in (proc, *others):
            if victim.poll() is None:
                os.killpg(victim.pid, signal.SIGKILL)
                victim.communicate(timeout=30)
        pytest.fail(f"{what} took longer than {timeout} s")
    return out.decode(errors="replace")


def kill_when(proc: subprocess.Popen, ready: Callable[[], bool], timeout: float, what: str) -> str:
    """SIGKILL ``proc`` and its session as soon as ``ready()`` (polled every 5 ms); fails the
    test when the process ends first or ``timeout`` passes. Returns its output."""
    deadline = time.monotonic() + timeout
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if ready():
                os.killpg(proc.pid, signal.SIGKILL)
                return finish(proc, 30, "the killed run")
            time.sleep(0.005)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        out = finish(proc, 30, "the run")
    except BaseException:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=30)
        raise
    pytest.fail(f"the run ended or timed out before {what}:\n{out[-3000:]}")


def small_date(tmp_path: Path, number: int, day: str, accession: str = "SYNTH0001"):
    """A raw zone holding one retrieved study of two synthetic images on ``day`` (folder PACS
    under ``tmp_path / "pacs"``, the test key), an empty research zone, and the study's UID."""
    from cadbusi_assets.identity import Pseudonymizer
    from cadbusi_assets.pacs.folder import FolderPacs
    from cadbusi_assets.pacs.synthetic import synthetic_uid
    from cadbusi_assets.stages import retrieval
    from cadbusi_assets.storage import open_zone
    from cadbusi_assets_tests.builders import add_imaged, write_cohort_with_accession
    from cadbusi_assets_tests.support import TEST_KEY

    raw = open_zone(tmp_path / "raw", name="raw").ensure()
    research = open_zone(tmp_path / "research", name="research").ensure()
    study = synthetic_uid(number)
    pacs_root = tmp_path / "pacs"
    add_imaged(pacs_root, study, 1, day=day)
    add_imaged(pacs_root, study, 2, day=day)
    write_cohort_with_accession(raw, day, study, accession)
    retrieval.retrieve_partition(FolderPacs(pacs_root), raw, Pseudonymizer(TEST_KEY), day)
    return raw, research, study


def sensor_tick(instance: dg.DagsterInstance, resources: dict, cursor: str | None = None):
    """One evaluation of ``interrupted_study_dates_sensor`` (as the daemon's tick)."""
    from cadbusi_assets.defs.automation.sensors import interrupted_study_dates_sensor

    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
    result = interrupted_study_dates_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def catalog_images(research) -> set[str]:
    """The image ids of the catalog's ``image_catalog`` view (what exports read)."""
    from cadbusi_assets.catalog.build import open_catalog

    con = open_catalog(research)
    try:
        return {r[0] for r in con.execute("SELECT image_id FROM image_catalog").fetchall()}
    finally:
        con.close()


# -- two demo dates, run as `make demo` runs them (studies the warehouse moves between dates) --
FIRST, SECOND = "2026-09-01", "2026-09-02"


def two_dates_run(tmp_path: Path, studies_per_day: tuple[int, int] = (1, 1)):
    """Two dates of ``studies_per_day`` studies (OCR off, one worker) run as ``make demo`` runs
    them."""
    from cadbusi_assets.identity import Pseudonymizer, generate_key_file, load_key
    from cadbusi_assets.stages.safety import ALLOW_SHRINK_ENV
    from cadbusi_assets.storage import open_zone
    from cadbusi_assets_tests.defs.services import (
        STUDY_DATE_ASSETS,
        product_env,
        write_instance_yaml,
    )
    from cadbusi_assets_tests.support import time_limit
    from cadbusi_demo import DemoConfig, generate_demo_cohort

    config = DemoConfig(
        start=dt.date.fromisoformat(FIRST),
        days=2,
        studies_per_day=studies_per_day,
        seed=11,
        workers=1,
    )
    key_file = generate_key_file(tmp_path / "secrets" / "pseudonym.key")
    with time_limit(90, "a demo cohort"):
        generate_demo_cohort(tmp_path / "cohort", config)
    env = product_env(
        tmp_path / "state", tmp_path / "cohort", key_file, CADBUSI_WORKERS="1", CADBUSI_OCR="0"
    )
    env.pop(ALLOW_SHRINK_ENV, None)
    write_instance_yaml(env)
    research = open_zone(Path(env["CADBUSI_RESEARCH_ZONE"]), name="research")
    raw = open_zone(Path(env["CADBUSI_RAW_ZONE"]), name="raw")
    proc = ranged_run(env, STUDY_DATE_ASSETS, FIRST, SECOND)
    out = finish(proc, 400, "the first ranged run")
    assert proc.returncode == 0, out[-3000:]
    return env, research, raw, Pseudonymizer(load_key(str(key_file)))


def move_exam(cohort: Path, accession: str, days: int = 1) -> None:
    """The warehouse of the demo cohort at ``cohort`` corrects the exam date of ``accession``
    by ``days`` (a typo fixed at the hospital)."""
    import duckdb

    with duckdb.connect(str(cohort / "warehouse.duckdb")) as con:
        con.execute(
            "UPDATE radiology_exams SET exam_date = exam_date + ?, exam_datetime = "
            "exam_datetime + to_days(?) WHERE accession_number = ?",
            [int(days), int(days), accession],
        )


def use_local_zones(
    monkeypatch: pytest.MonkeyPatch, home: Path, raw, research, key_file: Path
) -> None:
    """The environment of a demo deployment on the zones ``raw`` and ``research`` (local
    folders) and the key ``key_file``, for a ``cadbusi`` command run in this process."""
    for name, value in {
        "CADBUSI_DEPLOYMENT": "demo",
        "CADBUSI_HOME": str(home),
        "CADBUSI_RAW_ZONE": str(raw.root),
        "CADBUSI_RESEARCH_ZONE": str(research.root),
        "CADBUSI_PSEUDONYM_KEY_FILE": str(key_file),
    }.items():
        monkeypatch.setenv(name, value)
