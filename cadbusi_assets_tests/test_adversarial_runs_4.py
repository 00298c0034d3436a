"""Adversarial runs, fourth round: the run-safety gaps the third round left.

Each test reproduces a finding that failed on the code before its fix (said in its docstring).
Everything is synthetic; every subprocess has a timeout, and one Dagster run goes at a time.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import pytest

from cadbusi_assets.catalog.build import build_metadata_db, open_catalog
from cadbusi_assets.defs.automation.sensors import (
    INTERRUPTED_TAG,
    KILLED_RUN_TAG,
    interrupted_study_dates_sensor,
)
from cadbusi_assets.defs.resources import PseudonymKeyResource, ZonesResource
from cadbusi_assets.identity import Pseudonymizer, generate_key_file, load_key
from cadbusi_assets.stages.safety import ALLOW_SHRINK_ENV
from cadbusi_assets.storage import open_zone, read_partition_table
from cadbusi_assets.storage.tables import OPEN_BATCHES_DIR, open_batches
from cadbusi_assets_tests.defs.services import STUDY_DATE_ASSETS, product_env, write_instance_yaml
from cadbusi_assets_tests.run_support import carry_out, finish, kill_when, ranged_run
from cadbusi_assets_tests.support import time_limit


@pytest.fixture(autouse=True)
def _no_allow_shrink(monkeypatch):
    monkeypatch.delenv(ALLOW_SHRINK_ENV, raising=False)


#: the study-date assets up to the inpainting (Labelbox left out: a shorter run)
IMAGING_RUN = STUDY_DATE_ASSETS[: STUDY_DATE_ASSETS.index("inpainted_images") + 1]


def _tick(instance: dg.DagsterInstance, resources: dict, cursor: str | None = None):
    """One evaluation of ``interrupted_study_dates_sensor`` (as the daemon's tick)."""
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
    result = interrupted_study_dates_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def _catalog_images(research) -> set[str]:
    con = open_catalog(research)
    try:
        return {r[0] for r in con.execute("SELECT image_id FROM image_catalog").fetchall()}
    finally:
        con.close()


def _deployment(tmp_path: Path, start: str, days: int):
    """A demo deployment of ``days`` one-study dates from ``start`` (OCR off, one worker)."""
    from cadbusi_demo import DemoConfig, generate_demo_cohort

    config = DemoConfig(
        start=dt.date.fromisoformat(start), days=days, studies_per_day=(1, 1), seed=11, workers=1
    )
    key_file = generate_key_file(tmp_path / "secrets" / "pseudonym.key")
    with time_limit(90, "a demo cohort"):
        generate_demo_cohort(tmp_path / "cohort", config)
    env = product_env(
        tmp_path / "state", tmp_path / "cohort", key_file, CADBUSI_WORKERS="1", CADBUSI_OCR="0"
    )
    write_instance_yaml(env)
    zones = ZonesResource(
        raw_uri=env["CADBUSI_RAW_ZONE"], research_uri=env["CADBUSI_RESEARCH_ZONE"]
    )
    resources = {"zones": zones, "pseudonym_key": PseudonymKeyResource(key_file=str(key_file))}
    days_list = [d.isoformat() for d in config.dates()]
    return env, resources, Pseudonymizer(load_key(str(key_file))), days_list


# -- 1. a killed ranged run: every date it did not finish is re-run ---------------------------
def test_a_ranged_run_killed_in_its_first_date_has_every_unfinished_date_re_run_once(tmp_path):
    """A ranged run as ``make demo`` starts it (three dates in one run) SIGKILLed while its
    imaging pass replaces the first date's tables. Before the fix the marker was on the first
    date only, and ``interrupted_study_dates_sensor`` requested that date alone: the other two
    dates (retrieved by the run, never de-identified by it) were re-run by nothing and shown
    failed. Now the sensor, evaluated on the killed run's instance, requests each of the three
    dates once (a date found both by its marker and by the killed run too), from
    ``deidentified_images`` on (the run had finished ``raw_dicom`` for all three), a second
    evaluation requests nothing, and after the re-runs the catalog has every date's images and
    a fresh evaluation finds nothing left."""
    env, resources, pseudonymizer, days = _deployment(tmp_path, "2026-09-01", 3)
    research_root = Path(env["CADBUSI_RESEARCH_ZONE"])
    research = open_zone(research_root, name="research")
    markers = research_root / OPEN_BATCHES_DIR

    proc = ranged_run(env, IMAGING_RUN, days[0], days[-1])
    kill_when(
        proc,
        lambda: markers.is_dir() and any(markers.iterdir()),
        timeout=150,
        what="its imaging pass opened the first date's batch",
    )
    first_batch = pseudonymizer.batch_name(days[0])
    assert open_batches(research) == {first_batch}, "the killed pass left no marker"

    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        (killed,) = instance.get_runs()
        assert not killed.is_finished, "a SIGKILLed run reports nothing"
        first = _tick(instance, resources)
        requested = [r.partition_key for r in first.run_requests]
        assert requested == days, f"requested {requested}, not every unfinished date once"
        for request in first.run_requests:
            selection = [k.to_user_string() for k in request.asset_selection or []]
            assert selection[0] == "deidentified_images", selection  # raw_dicom was done
            assert set(IMAGING_RUN[IMAGING_RUN.index("deidentified_images") :]) <= set(selection)
            assert request.tags[KILLED_RUN_TAG] == killed.run_id
            assert request.tags[INTERRUPTED_TAG]
        filed = json.dumps([[r.run_key, r.tags] for r in first.run_requests]) + (first.cursor or "")
        for day in days:
            assert pseudonymizer.batch_name(day) not in filed, "a batch name leaked"
        again = _tick(instance, resources, first.cursor)
        assert not again.run_requests, "a date was requested twice"

    out = finish(carry_out(env, first.run_requests), 240, "the re-runs the sensor requested")
    assert out.count(" ok") == len(days), out[-4000:]
    assert open_batches(research) == set(), "a re-run left its batch open"
    with time_limit(60, "the catalog after the re-runs"):
        report = build_metadata_db(research)
    assert "study_batches_left_out_interrupted" not in report.warnings
    catalog = _catalog_images(research)
    for day in days:
        images = read_partition_table(research, "images", pseudonymizer.batch_name(day))
        assert images is not None and images.height, day
        assert set(images["image_id"]) <= catalog, day
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        assert not _tick(instance, resources, first.cursor).run_requests
        assert not _tick(instance, resources).run_requests, "a settled date was requested"


def _parquet_files(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*.parquet"))


# -- 2. an open marker of no study date: a way out --------------------------------------------
def test_an_open_batch_of_no_study_date_is_named_by_the_sensor_and_can_be_retired(
    tmp_path, monkeypatch, capsys
):
    """A pass's marker whose batch matches no date of the raw zone (left under another key, or
    before the raw zone was rebuilt). Before the fix the sensor said "no interrupted study
    dates", nothing could re-run the batch and the catalog warned for good, with no way out but
    deleting files by hand. Now the sensor's skip reason names the count and the command;
    ``cadbusi open-batches`` lists them, ``--retire-unmatched`` refuses a reason that names a
    date, retires only the unmatched batch (a matched one stays open for the sensor), keeps
    every stored file, records the reason, and the catalog counts the batch as retired, still
    left out; a later pass that writes the batch whole ends the retirement."""
    import polars as pl

    from cadbusi_assets import cli
    from cadbusi_assets.storage import write_partition_table
    from cadbusi_assets.storage.tables import (
        RETIRED_BATCHES_DIR,
        close_batch,
        open_batch,
        retired_batches,
    )

    key_file = generate_key_file(tmp_path / "secrets" / "pseudonym.key")
    pseudonymizer = Pseudonymizer(load_key(str(key_file)))
    raw = open_zone(tmp_path / "raw", name="raw").ensure()
    research = open_zone(tmp_path / "research", name="research").ensure()
    matched_day, gone_day = "2026-09-02", "2026-08-30"
    write_partition_table(raw, "retrieval_instances", matched_day, pl.DataFrame({"x": [1]}))
    matched, orphan = pseudonymizer.batch_name(matched_day), pseudonymizer.batch_name(gone_day)
    for batch in (matched, orphan):
        row = {"image_id": batch[:8], "instance_id": batch[:8], "accession_pseudo": batch[:6]}
        write_partition_table(research, "images", batch, pl.DataFrame([row]))
        open_batch(research, batch)
    stored = _parquet_files(tmp_path / "research")

    resources = {
        "zones": ZonesResource(raw_uri=str(raw.root), research_uri=str(research.root)),
        "pseudonym_key": PseudonymKeyResource(key_file=str(key_file)),
    }
    with dg.DagsterInstance.ephemeral() as instance:
        tick = _tick(instance, resources)
        assert [r.partition_key for r in tick.run_requests] == [matched_day]
        tick = _tick(instance, resources, tick.cursor)
        assert not tick.run_requests
        skip = tick.skip_reason.skip_message if tick.skip_reason else ""
        assert "1 open batch marker(s) match no study date" in skip, skip
        assert "cadbusi open-batches --retire-unmatched" in skip, skip
        assert orphan not in skip and gone_day not in skip

    for name, value in {
        "CADBUSI_DEPLOYMENT": "demo",
        "CADBUSI_HOME": str(tmp_path / "home"),
        "CADBUSI_RAW_ZONE": str(raw.root),
        "CADBUSI_RESEARCH_ZONE": str(research.root),
        "CADBUSI_PSEUDONYM_KEY_FILE": str(key_file),
    }.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["open-batches"]) == 1
    out = capsys.readouterr().out
    assert "1 open batch(es) of no study date" in out and orphan in out and matched not in out
    assert cli.main(["open-batches", "--retire-unmatched", "--reason", f"gone on {gone_day}"]) == 2
    assert "must not name a date" in capsys.readouterr().out
    assert open_batches(research) == {matched, orphan}, "a refused retirement changed a marker"
    reason = "raw zone rebuilt from a new PACS export"
    assert cli.main(["open-batches", "--retire-unmatched", "--reason", reason]) == 0
    assert open_batches(research) == {matched}, "the matched batch must stay open"
    assert retired_batches(research) == {orphan}
    record = json.loads(research.read_bytes(RETIRED_BATCHES_DIR, orphan))
    assert record["reason"] == reason and record["token"]
    after = _parquet_files(tmp_path / "research")
    assert after == stored, "a stored table was lost"

    close_batch(research, matched)  # the sensor's re-run of the matched date
    with time_limit(60, "the catalog"):
        report = build_metadata_db(research)
    assert "study_batches_left_out_interrupted" not in report.warnings
    assert report.warnings.get("study_batches_left_out_retired") == 1
    assert _catalog_images(research) == {matched[:8]}, "the retired batch must stay left out"
    with dg.DagsterInstance.ephemeral() as instance:
        tick = _tick(instance, resources)
        assert tick.skip_reason and tick.skip_reason.skip_message == "no interrupted study dates"
    close_batch(research, orphan)  # a pass that writes the batch whole again
    assert retired_batches(research) == set()
