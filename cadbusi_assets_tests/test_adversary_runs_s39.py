"""Adversary, round 5: the write-ahead records of research-zone files (``pending_writes/``),
the sweeps that delete what an interrupted pass wrote that no table lists, and what reaches
the research zone and the exports of patients who opted out after a killed run.

1. a date's sweep and another date that finishes meanwhile (a study handed over);
2. a refused re-run (the one pass, ``inpainted_images`` alone) and the killed pass's
   inpainting;
3. an export cut after an opt-out; the sensor's re-run of a killed date after an opt-out;
4. the hidden staging file of a file a killed run was writing."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from cadbusi_assets.defs.resources import PseudonymKeyResource, ZonesResource
from cadbusi_assets.identity import Pseudonymizer, generate_key_file, load_key
from cadbusi_assets.stages import StageFailure, analysis, imaging, retrieval
from cadbusi_assets.stages import deidentification as deid
from cadbusi_assets.storage import open_zone, read_partition_table, write_partition_table
from cadbusi_assets.storage.pending import (
    PENDING_DIR,
    begin_pending,
    pending_batches,
    record_pending,
    sweep_pending,
)
from cadbusi_assets.storage.tables import OPEN_BATCHES_DIR, listed_paths
from cadbusi_assets_tests.builders import (
    DEMO_DAY,
    one_day_demo,
    opt_out_product_env,
    raw_zone_like_raw_dicom,
)
from cadbusi_assets_tests.defs.services import (
    BIN,
    ROOT,
    STUDY_DATE_ASSETS,
    product_env,
    write_instance_yaml,
)
from cadbusi_assets_tests.run_support import finish, kill_when, materialize_date, sensor_tick
from cadbusi_assets_tests.support import time_limit
from cadbusi_demo import DemoConfig, generate_demo_cohort

pytestmark = [pytest.mark.xdist_group("adversary_runs_s39")]


def test_a_sweep_never_deletes_a_file_another_date_finished_writing_while_it_read_the_tables(
    tmp_path: Path, monkeypatch
):
    """A study the warehouse moved from date A to date B (README: B takes the instances over):
    A's earlier pass was killed after writing the instance's PNG (recorded under A); B's pass
    is writing the same PNG now (recorded under B). A's re-run sweeps its killed pass's files
    while B finishes: B writes its tables (they list the PNG) and drops its records, here
    right after the sweep's first look at either the zone's tables or the other dates'
    records. The sweep reads the tables first (B's do not list the PNG yet) and the other
    dates' records after (B's are gone by then): the PNG is in neither set and is deleted,
    though B's ``images`` table lists it. (A date drops its records only after its tables are
    written, so reading the other dates' records before the tables closes this window.)"""
    zone = open_zone(str(tmp_path / "research"), "research").ensure()
    png = "images/ab/abababababababababababab_0000.png"
    # date A's killed pass, then date B's running pass: both recorded the shared PNG
    record_pending(zone, begin_pending("batch_a", deid.WRITER), "i1", [png])
    b_pass = begin_pending("batch_b", deid.WRITER)
    record_pending(zone, b_pass, "i1", [png])
    zone.write_bytes(tuple(png.split("/")), b"B's PNG")

    def b_finishes() -> None:
        write_partition_table(zone, deid.IMAGES_TABLE, "batch_b", pl.DataFrame({"png_path": [png]}))
        sweep_pending(zone, b_pass, lambda: listed_paths(zone, deid.IMAGES_TABLE, "png_path"))

    listing = type(zone).iter_files
    finished: list[bool] = []

    def iter_files(self, *parts, **kwargs):
        yield from listing(self, *parts, **kwargs)
        # B finishes right after the sweep's first whole look at the tables or at every
        # date's records (not at its own date's)
        if self is zone and not finished and (parts[:1] == ("tables",) or parts == (PENDING_DIR,)):
            finished.append(True)
            b_finishes()

    monkeypatch.setattr(type(zone), "iter_files", iter_files)
    sweep_pending(
        zone,
        begin_pending("batch_a", deid.WRITER),
        lambda: listed_paths(zone, deid.IMAGES_TABLE, "png_path"),
    )
    monkeypatch.undo()

    assert finished, "B did not finish during the sweep"
    assert png in listed_paths(zone, deid.IMAGES_TABLE, "png_path")
    assert zone.exists(*png.split("/")), (
        "date A's sweep deleted a PNG that date B's finished images table lists"
    )
    assert pending_batches(zone) == set()


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    return one_day_demo(tmp_path_factory.mktemp("s39"), seed=5)


def _date_with_an_inpainting_left_by_a_killed_pass(tmp_path: Path, cohort):
    """A date processed once, then a pass killed while inpainting: one inpainted PNG written
    (a new image's) and recorded, no table naming it."""
    pacs, pseudonymizer = cohort
    raw = raw_zone_like_raw_dicom(tmp_path, pacs)
    research = open_zone(str(tmp_path / "research"), "research").ensure()
    batch = pseudonymizer.batch_name(DEMO_DAY)
    with time_limit(600, "a first pass"):
        imaging.process_partition(
            raw, research, pseudonymizer, DEMO_DAY, ocr=False, workers=1, previews=0
        )
    inpainted = read_partition_table(research, analysis.INPAINTED_TABLE, batch)
    assert inpainted is not None and inpainted.height > 0
    orphan = "inpainted/zz/ffffffffffffffffffffffff.png"
    record_pending(research, begin_pending(batch, analysis.INPAINT_WRITER), "c", [orphan])
    research.write_bytes(tuple(orphan.split("/")), b"inpainted by a killed pass")
    return raw, research, pseudonymizer, batch, orphan


@pytest.mark.slow
def test_a_refused_one_pass_removes_what_the_killed_pass_inpainted_too(tmp_path, cohort):
    """README: when the date's next pass "has written its tables, or a guard refused it, it
    deletes every file an earlier pass of the date recorded that no table of any batch lists".
    The one pass (all three imaging assets) refused by its shrink guard sweeps only the
    de-identification's records: the inpainted PNG the killed pass wrote, listed by no table,
    stays, and so do its records (the images of a patient who opted out meanwhile, when the
    re-run is refused: they stay until someone re-runs the date with CADBUSI_ALLOW_SHRINK=1)."""
    raw, research, pseudonymizer, _, orphan = _date_with_an_inpainting_left_by_a_killed_pass(
        tmp_path, cohort
    )
    manifest = read_partition_table(raw, retrieval.INSTANCES_TABLE, DEMO_DAY)
    assert manifest is not None and manifest.height > 2
    for path in manifest["raw_path"].to_list()[1:]:  # unreadable now: a sharp drop
        raw.write_bytes(tuple(path.split("/")), b"not DICOM")
    with time_limit(600, "a refused pass"), pytest.raises(StageFailure):
        imaging.process_partition(
            raw, research, pseudonymizer, DEMO_DAY, ocr=False, workers=1, previews=0
        )
    assert orphan not in listed_paths(research, analysis.INPAINTED_TABLE, "inpainted_path")
    assert not research.exists(*orphan.split("/")), (
        "the refused one pass left the killed pass's inpainted PNG (listed by no table)"
    )
    assert pending_batches(research) == set()


@pytest.mark.slow
def test_a_refused_inpainting_alone_removes_what_its_killed_pass_inpainted(tmp_path, cohort):
    """The same for ``inpainted_images`` materialized alone: its shrink guard refuses the date
    (every caliper gone from ``image_features``) before the pass records anything, and nothing
    sweeps the killed pass's inpainted PNG that no table lists."""
    _, research, _, batch, orphan = _date_with_an_inpainting_left_by_a_killed_pass(tmp_path, cohort)
    features = read_partition_table(research, analysis.FEATURES_TABLE, batch)
    assert features is not None
    write_partition_table(
        research,
        analysis.FEATURES_TABLE,
        batch,
        features.with_columns(pl.lit(False).alias("has_calipers")),
    )
    with time_limit(600, "a refused inpainting"), pytest.raises(StageFailure):
        analysis.inpaint_partition(research, batch, workers=1, previews=0)
    assert not research.exists(*orphan.split("/")), (
        "the refused inpainting left the killed pass's inpainted PNG (listed by no table)"
    )
    assert pending_batches(research) == set()


_CATALOG = (
    "from dagster import DagsterInstance\n"
    "from cadbusi_assets import runner\n"
    "s = runner.materialize(runner.load_definitions(), ['diagnosis_labels', 'metadata_db'], "
    "DagsterInstance.get())\n"
    "raise SystemExit(0 if s.success else 1)\n"
)


@pytest.mark.integration
def test_an_export_cut_after_a_patient_opted_out_leaves_the_patient_out(tmp_path: Path):
    """A date is processed and the catalog built; then a patient of the date withdraws consent
    (``CADBUSI_OPT_OUT_FILE``) and a researcher's export is cut (``cadbusi export``) before
    anything re-runs the date (nothing re-runs a date when the opt-out file changes: not the
    sensors, not the schedules). The export holds the opted-out patient's images and rows:
    nothing on the way to it reads the opt-out list (it is applied at the cohort stage only),
    so a withdrawal reaches the research zone only with each of the patient's dates' re-run,
    and every export cut before then hands the patient's images to researchers."""
    env, key, opt_out = opt_out_product_env(tmp_path)
    run = materialize_date(env, STUDY_DATE_ASSETS, "2026-09-01")
    out = finish(run, 600, "the date's run")
    assert run.returncode == 0, out[-3000:]
    catalog = subprocess.run(
        [sys.executable, "-c", _CATALOG],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert catalog.returncode == 0, (catalog.stdout + catalog.stderr)[-3000:]

    research = Path(env["CADBUSI_RESEARCH_ZONE"])
    images = pl.concat(
        [pl.read_parquet(p) for p in sorted((research / "tables" / "images").glob("*.parquet"))]
    )
    with duckdb.connect(str(tmp_path / "cohort" / "warehouse.duckdb"), read_only=True) as con:
        patients = sorted(
            row[0]
            for row in con.execute(
                "SELECT DISTINCT patient_id FROM radiology_exams "
                "WHERE exam_date = DATE '2026-09-01'"
            ).fetchall()
        )
    pseudonymizer = Pseudonymizer(load_key(key))
    with_images = [
        p
        for p in patients
        if pseudonymizer.patient_id(p) in set(images["patient_pseudo"].to_list())
    ]
    assert len(with_images) > 1
    withdrawn = with_images[0]
    opt_out.write_text(withdrawn + "\n")  # the patient withdraws consent

    export = subprocess.run(
        [str(BIN / "cadbusi"), "export", "--key", "2026-12-07"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    manifest_path = research / "exports" / "2026-12-07" / "manifest.parquet"
    if export.returncode != 0:  # refused: it must say why, and leave nothing
        assert "opt" in (export.stdout + export.stderr).lower(), export.stdout[-3000:]
        assert not manifest_path.exists()
        return
    manifest = pl.read_parquet(manifest_path)
    assert manifest.height > 0
    exported = set(manifest["patient_pseudo"].to_list())
    assert pseudonymizer.patient_id(withdrawn) not in exported, (
        f"the export cut after the opt-out holds "
        f"{manifest.filter(pl.col('patient_pseudo') == pseudonymizer.patient_id(withdrawn)).height}"
        " image rows of the patient who withdrew consent"
    )


@pytest.mark.integration
def test_a_patient_who_opted_out_after_a_killed_run_leaves_with_the_sensors_re_run(
    tmp_path: Path,
):
    """README: "the images of a patient who withdrew consent after a killed run leave with the
    date's re-run (``interrupted_study_dates_sensor`` re-runs it)". A date's run is killed in
    its imaging pass (the batch open, its de-identification tables written), a patient of the
    date withdraws consent (``CADBUSI_OPT_OUT_FILE``), and the daemon's
    ``interrupted_study_dates_sensor`` asks for the date's re-run, which succeeds. The re-run
    starts from ``deidentified_images``: the date's cohort (``imaging_studies``, where the
    opt-out applies) is not made again, so the re-run de-identifies the patient's images
    again, its tables list them, and they stay in the research zone (and reach the catalog and
    every later export)."""
    env, key, opt_out = opt_out_product_env(tmp_path)
    research_root = Path(env["CADBUSI_RESEARCH_ZONE"])
    research = open_zone(str(research_root), "research")
    pseudonymizer = Pseudonymizer(load_key(key))
    batch = pseudonymizer.batch_name("2026-09-01")

    killed = materialize_date(env, STUDY_DATE_ASSETS, "2026-09-01")
    markers = research_root / OPEN_BATCHES_DIR
    kill_when(
        killed,
        lambda: (
            markers.is_dir()
            and any(markers.iterdir())
            and any((research_root / "tables" / deid.IMAGES_TABLE).glob("*.parquet"))
        ),
        400,
        "its imaging pass wrote the date's images table",
    )
    images = read_partition_table(research, deid.IMAGES_TABLE, batch)
    assert images is not None and images.height
    with duckdb.connect(str(tmp_path / "cohort" / "warehouse.duckdb"), read_only=True) as con:
        patients = sorted(
            row[0]
            for row in con.execute(
                "SELECT DISTINCT patient_id FROM radiology_exams "
                "WHERE exam_date = DATE '2026-09-01'"
            ).fetchall()
        )
    held = set(images["patient_pseudo"].to_list())
    withdrawn = next(p for p in patients if pseudonymizer.patient_id(p) in held)
    pseudo = pseudonymizer.patient_id(withdrawn)
    theirs = images.filter(pl.col("patient_pseudo") == pseudo)["png_path"].to_list()
    assert theirs and all(research.exists(*p.split("/")) for p in theirs)
    opt_out.write_text(withdrawn + "\n")  # the patient withdraws consent

    resources = {
        "zones": ZonesResource(raw_uri=env["CADBUSI_RAW_ZONE"], research_uri=str(research_root)),
        "pseudonym_key": PseudonymKeyResource(key_file=str(key)),
    }
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        (request,) = sensor_tick(instance, resources).run_requests
    selection = [k.to_user_string() for k in request.asset_selection or []]
    rerun = materialize_date(env, selection, "2026-09-01")
    out = finish(rerun, 600, "the re-run the sensor asked for")
    assert rerun.returncode == 0, out[-3000:]

    now = read_partition_table(research, deid.IMAGES_TABLE, batch)
    assert now is not None and now.height
    kept = now.filter(pl.col("patient_pseudo") == pseudo).height
    left = [p for p in theirs if research.exists(*p.split("/"))]
    assert kept == 0 and not left, (
        f"after the sensor's re-run ({', '.join(selection)}) the date's images table lists "
        f"{kept} image(s) of the patient who opted out and {len(left)} of their PNGs stay"
    )


def _staging_files(root: Path) -> list[str]:
    """Every ``*.tmp`` file below ``root`` (hidden names included: ``Zone.iter_files`` skips
    them)."""
    found = []
    for folder, _, names in os.walk(root):
        found += [
            os.path.relpath(os.path.join(folder, n), root) for n in names if n.endswith(".tmp")
        ]
    return sorted(found)


@pytest.mark.integration
def test_a_killed_pass_leaves_no_staging_file_in_the_research_zone_after_the_re_run(
    tmp_path: Path,
):
    """On a local research zone every DICOM file and PNG is written to a hidden staging file
    beside its name (``dicom/ab/.<id>.dcm.<random>.tmp``) and renamed. A run killed while one
    is written (a pod evicted, a node drained) leaves it: part of a de-identified DICOM file of
    a patient (of one who withdraws consent meanwhile, too), named by no table and by no
    write-ahead record (the record names the final path), and skipped by every listing
    (``iter_files`` leaves ``*.tmp`` out). The date's re-run, whose sweep deletes what the
    killed pass recorded, leaves it in the research zone for good."""
    with time_limit(120, "a demo cohort"):
        generate_demo_cohort(
            tmp_path / "cohort",
            DemoConfig(
                start=dt.date(2026, 9, 1), days=1, studies_per_day=(3, 4), seed=11, workers=1
            ),
        )
    key = generate_key_file(tmp_path / "secrets" / "pseudonym.key")
    env = product_env(
        tmp_path / "state",
        tmp_path / "cohort",
        key,
        CADBUSI_OCR="0",
        CADBUSI_WORKERS="1",
        CADBUSI_CINE_FRAME_STEP="1",
    )
    write_instance_yaml(env)
    research_root = Path(env["CADBUSI_RESEARCH_ZONE"])

    def data_staging() -> list[str]:  # of a de-identified DICOM file or PNG, an inpainted PNG
        return [
            f
            for f in _staging_files(research_root)
            if f.startswith(("dicom/", "images/", "inpainted/"))
        ]

    left: list[str] = []
    # a staging file lives for milliseconds: a run is often killed just after its rename, or
    # ends before one is seen; each try runs the date again
    for _ in range(12):
        run = materialize_date(env, STUDY_DATE_ASSETS, "2026-09-01")
        deadline = time.monotonic() + 600
        try:
            while run.poll() is None and time.monotonic() < deadline and not data_staging():
                time.sleep(0.001)
        finally:
            if run.poll() is None:
                os.killpg(run.pid, signal.SIGKILL)
            finish(run, 30, "the killed run")
        left = data_staging()
        if left:
            break
    assert left, "no run was killed while it wrote a file"

    rerun = materialize_date(env, STUDY_DATE_ASSETS, "2026-09-01")
    out = finish(rerun, 600, "the date's re-run")
    assert rerun.returncode == 0, out[-3000:]
    assert _staging_files(research_root) == [], (
        "the killed run's staging files stay in the research zone after the date's re-run"
    )
