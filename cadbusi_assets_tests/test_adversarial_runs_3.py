"""Adversarial runs, third round (session 30): the run-safety gaps the second round left.

Each test reproduces a finding that failed on the code before its fix (said in its docstring).
Everything is synthetic; every stage run is bounded by :func:`time_limit`, every subprocess by a
timeout, and one Dagster run at a time.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from cadbusi_assets.catalog.build import build_metadata_db
from cadbusi_assets.defs.automation.sensors import (
    INTERRUPTED_TAG,
    MAX_INTERRUPTED_RERUNS,
    failed_date_requests,
    interrupted_date_requests,
)
from cadbusi_assets.defs.resources import PseudonymKeyResource, ZonesResource
from cadbusi_assets.identity import Pseudonymizer, generate_key_file, load_key
from cadbusi_assets.stages.safety import ALLOW_SHRINK_ENV
from cadbusi_assets.storage import open_zone, read_partition_table
from cadbusi_assets.storage.tables import OPEN_BATCHES_DIR, open_batches
from cadbusi_assets_tests.defs.services import STUDY_DATE_ASSETS
from cadbusi_assets_tests.run_support import (
    catalog_images,
    finish,
    kill_when,
    materialize_date,
    sensor_tick,
    small_date,
)
from cadbusi_assets_tests.support import TEST_KEY, time_limit


@pytest.fixture(autouse=True)
def _no_allow_shrink(monkeypatch):
    monkeypatch.delenv(ALLOW_SHRINK_ENV, raising=False)


# -- 1. a killed run's date is re-run by itself ----------------------------------------------
DAY = "2026-09-01"
#: the study-date assets up to the inpainting (Labelbox left out)
IMAGING_RUN = STUDY_DATE_ASSETS[: STUDY_DATE_ASSETS.index("inpainted_images") + 1]


def test_a_run_killed_mid_date_is_re_run_once_by_the_sensor_and_the_date_comes_back(tmp_path):
    """A `dagster asset materialize` of one date SIGKILLed while its imaging pass replaces the
    date's tables. Before the fix the batch kept its ``open_batches`` marker for good: the
    catalog left the date out and warned, the killed run reported no failed date, so
    ``failed_study_dates_sensor`` never re-ran it, and nothing else did. Now
    ``interrupted_study_dates_sensor`` (evaluated against the killed run's instance) requests
    exactly that date, from ``deidentified_images`` on, once: a second evaluation requests
    nothing. The requested run brings the date back into the catalog and clears the marker."""
    from cadbusi_assets_tests.defs.services import product_env, write_instance_yaml
    from cadbusi_demo import DemoConfig, generate_demo_cohort

    cohort = tmp_path / "cohort"
    config = DemoConfig(
        start=dt.date.fromisoformat(DAY), days=1, studies_per_day=(1, 1), seed=11, workers=1
    )
    key_file = generate_key_file(tmp_path / "secrets" / "pseudonym.key")
    with time_limit(60, "a one-date demo cohort"):
        generate_demo_cohort(cohort, config)
    env = product_env(tmp_path / "state", cohort, key_file, CADBUSI_WORKERS="1", CADBUSI_OCR="0")
    write_instance_yaml(env)
    research_root = Path(env["CADBUSI_RESEARCH_ZONE"])
    research = open_zone(research_root, name="research")
    zones = ZonesResource(raw_uri=env["CADBUSI_RAW_ZONE"], research_uri=str(research_root))
    resources = {"zones": zones, "pseudonym_key": PseudonymKeyResource(key_file=str(key_file))}
    batch = Pseudonymizer(load_key(str(key_file))).batch_name(DAY)

    proc = materialize_date(env, IMAGING_RUN, DAY)
    markers = research_root / OPEN_BATCHES_DIR
    # killed mid-date: between the date's tables
    kill_when(
        proc,
        lambda: markers.is_dir() and any(markers.iterdir()),
        timeout=240,
        what="its imaging pass opened the batch",
    )
    assert open_batches(research) == {batch}, "the killed pass left no marker"
    with time_limit(60, "the catalog of an interrupted date"):
        report = build_metadata_db(research)
    assert report.warnings.get("study_batches_left_out_interrupted") == 1

    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        (killed,) = instance.get_runs()
        assert not killed.is_finished, "a SIGKILLed run reports nothing"
        assert failed_date_requests(killed) == [], "no failed date: the older sensor re-runs none"
        first = sensor_tick(instance, resources)
        assert [r.partition_key for r in first.run_requests] == [DAY]
        (request,) = first.run_requests
        assert request.run_key and DAY in request.run_key
        filed = request.run_key + str(request.tags) + (first.cursor or "")
        assert batch not in filed, "the batch name leaked"
        # the marker's own token lies in the research zone beside the batch name: filed under
        # the date, it would link the two
        marker_token = research.read_bytes("open_batches", batch).decode()
        assert marker_token and marker_token not in filed, "the marker's token leaked"
        selection = [k.to_user_string() for k in request.asset_selection or []]
        assert selection[0] == "deidentified_images" and "inpainted_images" in selection
        again = sensor_tick(instance, resources, first.cursor)
        assert not again.run_requests, "the same interruption was requested twice"

    rerun = materialize_date(env, selection, DAY)
    out = finish(rerun, 300, "the re-run the sensor requested")
    assert rerun.returncode == 0, out[-4000:]
    assert open_batches(research) == set(), "the re-run left the batch open"
    with time_limit(60, "the catalog after the re-run"):
        report = build_metadata_db(research)
    assert "study_batches_left_out_interrupted" not in report.warnings
    images = read_partition_table(research, "images", batch)
    assert images is not None and images.height
    assert set(images["image_id"]) <= catalog_images(research)
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        after = sensor_tick(instance, resources, first.cursor)
        assert not after.run_requests


def _run(instance: dg.DagsterInstance, day: str, status: dg.DagsterRunStatus, **tags: str):
    run = dg.DagsterRun(
        job_name="study_date_job",
        run_id=str(uuid.uuid4()),
        status=status,
        tags={"dagster/partition": day, **tags},
    )
    instance.add_run(run)
    return run


def test_an_interrupted_date_waits_for_a_going_run_and_is_left_to_a_person_when_due():
    """The request logic on its own: a date with a queued or going run (one date or a range
    that covers it) is left alone until that run ends; a new interruption of a date already
    requested is requested again; a date whose last re-runs by the sensor all failed is left to
    a person (a date that kills its run every time would otherwise loop), and so is a date
    whose last run a person terminated (a terminated run never resumes)."""
    with dg.DagsterInstance.ephemeral() as instance:
        day, other = "2026-09-02", "2026-09-03"
        queued = _run(instance, day, dg.DagsterRunStatus.NOT_STARTED)  # created, not launched
        ranged = dg.DagsterRun(
            job_name="study_date_job",
            run_id=str(uuid.uuid4()),
            status=dg.DagsterRunStatus.STARTED,
            tags={
                "dagster/asset_partition_range_start": "2026-09-03",
                "dagster/asset_partition_range_end": "2026-09-30",
            },
        )
        instance.add_run(ranged)
        requests, cursor, notes = interrupted_date_requests(
            instance, {day: "t1", other: "t1"}, None
        )
        assert requests == [] and "2 interrupted date(s) have a run going" in notes
        instance.report_run_failed(queued)
        instance.report_run_failed(ranged)
        requests, cursor, _ = interrupted_date_requests(instance, {day: "t1", other: "t1"}, cursor)
        assert sorted(str(r.partition_key) for r in requests) == [day, other]
        requests, cursor, _ = interrupted_date_requests(instance, {day: "t1"}, cursor)
        assert requests == []
        requests, cursor, _ = interrupted_date_requests(instance, {day: "t2"}, cursor)
        assert [r.partition_key for r in requests] == [day], "a second interruption"
        for _ in range(MAX_INTERRUPTED_RERUNS):
            _run(instance, day, dg.DagsterRunStatus.FAILURE, **{INTERRUPTED_TAG: "t"})
        requests, cursor, notes = interrupted_date_requests(instance, {day: "t3"}, cursor)
        assert requests == [] and "failed their last 3 re-runs" in notes
        export = dg.DagsterRun(  # an export partition named like the date: not the date's
            job_name="dataset_export_job",
            run_id=str(uuid.uuid4()),
            status=dg.DagsterRunStatus.CANCELED,
            tags={"dagster/partition": other},
        )
        instance.add_run(export)
        requests, _, _ = interrupted_date_requests(instance, {other: "t4"}, cursor)
        assert [r.partition_key for r in requests] == [other]
        _run(instance, other, dg.DagsterRunStatus.CANCELED)  # terminated from the UI
        requests, cursor, notes = interrupted_date_requests(instance, {other: "t4"}, cursor)
        assert requests == [] and "last run was terminated" in notes


# -- 2. the de-identification alone has the one pass's guards --------------------------------
def test_the_de_identification_alone_refuses_an_accession_changed_in_the_warehouse_only(tmp_path):
    """``deidentified_images`` materialized alone (``deidentify_partition``) after an accession
    was corrected in the warehouse only. The one pass refused this since session 29; before the
    fix the de-identification alone rewrote the date and its images lost their report. Now it
    refuses before anything is written, and ``allow_shrink`` accepts the change."""
    from cadbusi_assets.pacs.folder import FolderPacs
    from cadbusi_assets.stages import deidentification as deid
    from cadbusi_assets.stages import retrieval
    from cadbusi_assets.stages.report import StageFailure
    from cadbusi_assets_tests.builders import DAY_A, file_digests, write_cohort_with_accession

    pseudo = Pseudonymizer(TEST_KEY)
    with time_limit(180, "three de-identifications of one small date"):
        raw, research, study = small_date(tmp_path, 791, DAY_A)
        deid.deidentify_partition(raw, research, pseudo, DAY_A, verify_ocr=False, workers=1)
        before = file_digests(tmp_path / "research")
        # corrected in the warehouse only
        write_cohort_with_accession(raw, DAY_A, study, "SYNTH0002")
        retrieval.retrieve_partition(FolderPacs(tmp_path / "pacs"), raw, pseudo, DAY_A)
        with pytest.raises(StageFailure, match="different accession numbers") as refused:
            deid.deidentify_partition(raw, research, pseudo, DAY_A, verify_ocr=False, workers=1)
        assert "SYNTH" not in str(refused.value)
        assert file_digests(tmp_path / "research") == before, (
            "a refused date rewrote the research zone"
        )
        deid.deidentify_partition(
            raw, research, pseudo, DAY_A, verify_ocr=False, workers=1, allow_shrink=True
        )
    studies = read_partition_table(research, deid.STUDIES_TABLE, pseudo.batch_name(DAY_A))
    assert studies is not None
    assert studies["accession_pseudo"].to_list() == [pseudo.accession_number("SYNTH0002")]


def test_the_de_identification_alone_stopped_between_its_tables_leaves_its_batch_open(
    tmp_path, monkeypatch
):
    """``deidentify_partition`` replaces the date's tables one after the other (raw links and
    quarantine, then instances, images, quarantine, studies) and the asset's leak check runs
    after them. Before the fix a pass stopped in between (a failed write here; a SIGKILL alike)
    left new images beside the previous studies with nothing marking it, and the catalog loaded
    the mix. Now the batch is marked open until the tables and the check are done, the catalog
    leaves it out, and a re-run closes it."""
    from cadbusi_assets.stages import deidentification as deid
    from cadbusi_assets_tests.builders import DAY_A

    pseudo = Pseudonymizer(TEST_KEY)
    batch = pseudo.batch_name(DAY_A)
    real_write = deid.write_table

    def fails_at_studies(zone, kind, table, partition, frame):
        if table == deid.STUDIES_TABLE:
            raise OSError("disk full")
        return real_write(zone, kind, table, partition, frame)

    def leak_check_stopped(_result):
        raise RuntimeError("killed during the leak check")

    with time_limit(180, "four de-identifications of one small date"):
        raw, research, _ = small_date(tmp_path, 792, DAY_A)
        with monkeypatch.context() as patch:
            patch.setattr(deid, "write_table", fails_at_studies)
            with pytest.raises(OSError, match="disk full"):
                deid.deidentify_partition(raw, research, pseudo, DAY_A, verify_ocr=False, workers=1)
        assert open_batches(research) == {batch}, "a pass stopped between its tables"
        assert build_metadata_db(research).warnings["study_batches_left_out_interrupted"] == 1
        deid.deidentify_partition(raw, research, pseudo, DAY_A, verify_ocr=False, workers=1)
        assert open_batches(research) == set()
        with pytest.raises(RuntimeError, match="killed"):
            deid.deidentify_partition(
                raw,
                research,
                pseudo,
                DAY_A,
                verify_ocr=False,
                workers=1,
                after_deidentification=leak_check_stopped,
            )
        assert open_batches(research) == {batch}, "stopped in the leak check"
        deid.deidentify_partition(raw, research, pseudo, DAY_A, verify_ocr=False, workers=1)
    assert open_batches(research) == set()
    assert "study_batches_left_out_interrupted" not in build_metadata_db(research).warnings


# -- 3. and 4. the lesions and the export leave out what the catalog leaves out --------------
DAY_C = "2024-03-07"


@pytest.fixture(scope="module")
def left_out_zone(tmp_path_factory):
    """A research zone whose catalog leaves out one re-sent copy (study A's image 1 sent again
    under new UIDs in study B, on another date) and one interrupted batch (date C: its pass
    left the marker a kill leaves). Returns the zone and the image ids (kept, copy, date C)."""
    from cadbusi_assets.identity import instance_id_for
    from cadbusi_assets.pacs.folder import FolderPacs
    from cadbusi_assets.pacs.synthetic import synthetic_uid
    from cadbusi_assets.stages import imaging, retrieval
    from cadbusi_assets.storage import read_all_partition_tables
    from cadbusi_assets.storage.tables import open_batch
    from cadbusi_assets_tests.builders import (
        DAY_A,
        DAY_B,
        add_imaged,
        resend_instance,
        set_accession,
        write_cohort_with_accession,
    )

    tmp_path = tmp_path_factory.mktemp("left_out")
    raw = open_zone(tmp_path / "raw", name="raw").ensure()
    research = open_zone(tmp_path / "research", name="research").ensure()
    pseudo = Pseudonymizer(TEST_KEY)
    pacs_root = tmp_path / "pacs"
    study_a, study_b, study_c = synthetic_uid(801), synthetic_uid(802), synthetic_uid(803)
    add_imaged(pacs_root, study_a, 1, day=DAY_A)
    add_imaged(pacs_root, study_b, 3, day=DAY_B)
    resend_instance(pacs_root, study_b, 1, synthetic_uid(804), day=DAY_B)  # study A's image 1 again
    add_imaged(pacs_root, study_c, 5, day=DAY_C)
    write_cohort_with_accession(raw, DAY_A, study_a, "SYNTH0001")
    for study, day, accession in ((study_b, DAY_B, "SYNTH0002"), (study_c, DAY_C, "SYNTH0003")):
        set_accession(pacs_root / study, accession)
        write_cohort_with_accession(raw, day, study, accession)
    with time_limit(240, "three small dates"):
        for day in (DAY_A, DAY_B, DAY_C):
            retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, day)
            imaging.process_partition(raw, research, pseudo, day, ocr=False, workers=1)
    open_batch(research, pseudo.batch_name(DAY_C))  # what a pass killed before its end leaves
    stored = read_all_partition_tables(research, "images")
    assert stored is not None
    ids = sorted(instance_id_for(pseudo.uid(s)) for s in (f"{study_a}.1.1", synthetic_uid(804)))
    kept = stored.filter(pl.col("instance_id") == ids[0])["image_id"].to_list()
    copy = stored.filter(pl.col("instance_id") == ids[1])["image_id"].to_list()
    batch_c = read_partition_table(research, "images", pseudo.batch_name(DAY_C))
    assert batch_c is not None and kept and copy
    return research, (set(kept), set(copy), set(batch_c["image_id"]))


def test_the_lesions_leave_out_an_image_re_sent_on_another_date(left_out_zone):
    """An image the PACS re-sent on another date is left out of the catalog (one copy kept,
    session 29), but the lesions read every batch's images: before the fix both copies were
    evidence for the patient's lesions (one image counted twice, its calipers twice). Now the
    lesions leave out the same copy as the catalog, and the interrupted batch as before."""
    from cadbusi_assets.stages.lesions import image_evidence

    research, (kept, copy, batch_c) = left_out_zone
    with time_limit(60, "the lesion evidence"):
        evidence = set(image_evidence(research)["image_id"])
        build_metadata_db(research)
    assert kept <= evidence, "the copy kept is evidence"
    assert not copy & evidence, "the lesions read the re-sent copy the catalog leaves out"
    assert not batch_c & evidence
    assert evidence == catalog_images(research), "the lesions and the catalog disagree"


def test_the_export_card_and_metadata_count_what_the_catalog_left_out(left_out_zone):
    """An export cut while the catalog leaves out an interrupted date and a re-sent copy. Before
    the fix its card (README.md), ``lineage.json`` and the asset's metadata said nothing about
    either: a reader could not tell that a whole date was missing. Now each says how many, as
    counts only (no date, no batch name, no image id)."""
    import json

    from cadbusi_assets.exports.build import ExportConfig, build_export, export_path

    research, (_, copy, batch_c) = left_out_zone
    with time_limit(120, "the catalog and one export"):
        report = build_metadata_db(research)
        assert report.warnings == {
            "study_batches_left_out_interrupted": 1,
            "images_left_out_resent_on_another_date": 1,
        } | {k: v for k, v in report.warnings.items() if k == "pixel_hash_across_patients"}
        exported = build_export(
            research,
            ExportConfig(key="left-out-check", include_excluded=True),
            {"label_set_version": None},
            workers=1,
        )
    expected = {
        "images_left_out_resent_on_another_date": 1,
        "study_batches_left_out_interrupted": 1,
    }
    assert exported.left_out_of_catalog == expected
    folder = research.local_path(*export_path("left-out-check"))
    lineage = json.loads((folder / "lineage.json").read_text())
    assert lineage["left_out_of_catalog"] == expected
    card = (folder / "README.md").read_text()
    assert "| study dates whose last run stopped in the middle (killed)" in card
    assert "| 1 dates |" in card and "| 1 images |" in card
    from cadbusi_assets_tests.builders import DAY_A, DAY_B

    pseudo = Pseudonymizer(TEST_KEY)
    for secret in (DAY_A, DAY_B, DAY_C, pseudo.batch_name(DAY_C), *copy, *batch_c):
        assert secret not in card and secret not in json.dumps(lineage["left_out_of_catalog"])


def test_the_analysis_and_the_inpainting_alone_stopped_midway_leave_their_batch_open(
    tmp_path, monkeypatch
):
    """``image_features`` alone (``analyze_partition``: the features, then the twins table)
    and ``inpainted_images`` alone (``inpaint_partition``: PNGs replaced in place, then the
    table). Before the fix a run stopped between them left the date mixing two runs with no
    marker, and the catalog loaded it; now the batch is open until the last write, and a
    re-run closes it."""
    from cadbusi_assets.stages import analysis, imaging
    from cadbusi_assets_tests.builders import DAY_A

    pseudo = Pseudonymizer(TEST_KEY)
    batch = pseudo.batch_name(DAY_A)
    real_write = analysis.write_table

    def fails_at_twins(zone, kind, table, partition, frame):
        if table == analysis.TWINS_TABLE:
            raise OSError("disk full")
        return real_write(zone, kind, table, partition, frame)

    def killed(*args, **kwargs):
        raise RuntimeError("killed during the inpainting")

    with time_limit(180, "one small date, analysed and inpainted alone"):
        raw, research, _ = small_date(tmp_path, 795, DAY_A)
        imaging.process_partition(raw, research, pseudo, DAY_A, ocr=False, workers=1)
        with monkeypatch.context() as patch:
            patch.setattr(analysis, "write_table", fails_at_twins)
            with pytest.raises(OSError, match="disk full"):
                analysis.analyze_partition(research, batch, ocr=False, workers=1)
        assert open_batches(research) == {batch}, "features written, twins not"
        analysis.analyze_partition(research, batch, ocr=False, workers=1)
        assert open_batches(research) == set()
        with monkeypatch.context() as patch:
            patch.setattr(analysis, "inpaint_images", killed)
            with pytest.raises(RuntimeError, match="killed"):
                analysis.inpaint_partition(research, batch, workers=1)
        assert open_batches(research) == {batch}, "stopped while replacing the PNGs"
        analysis.inpaint_partition(research, batch, workers=1)
    assert open_batches(research) == set()


# -- 5. a corrected re-send under the same UIDs ------------------------------------------------
def test_a_file_corrected_at_the_pacs_under_the_same_uids_comes_in_once_its_raw_copy_is_removed(
    tmp_path,
):
    """The PACS replaces an instance's pixels keeping its UIDs (a corrected re-send). PACS
    searches give neither a size nor a hash, so a re-run keeps the raw copy it holds (the
    README's limit, checked here so that it stays documented); the documented way in is to
    remove the date's raw copies and re-run: then the corrected pixels replace the old ones and
    the other instance is untouched."""
    import shutil

    import pydicom

    from cadbusi_assets.pacs.folder import FolderPacs
    from cadbusi_assets.stages import deidentification as deid
    from cadbusi_assets.stages import retrieval
    from cadbusi_assets_tests.builders import DAY_A

    pseudo = Pseudonymizer(TEST_KEY)
    batch = pseudo.batch_name(DAY_A)

    def hashes(research) -> dict[str, str]:
        images = read_partition_table(research, deid.IMAGES_TABLE, batch)
        assert images is not None
        return dict(zip(images["instance_id"], images["png_sha256"], strict=True))

    with time_limit(240, "three passes over one small date"):
        raw, research, study = small_date(tmp_path, 793, DAY_A)
        deid.deidentify_partition(raw, research, pseudo, DAY_A, verify_ocr=False, workers=1)
        first = hashes(research)
        corrected = tmp_path / "pacs" / study / "IM0001.dcm"
        ds = pydicom.dcmread(corrected)
        pixels = ds.pixel_array.copy()
        pixels[10:30, 10:40] = 255 - pixels[10:30, 10:40]
        ds.PixelData = pixels.tobytes()
        ds.save_as(corrected, enforce_file_format=True)

        retrieval.retrieve_partition(FolderPacs(tmp_path / "pacs"), raw, pseudo, DAY_A)
        deid.deidentify_partition(raw, research, pseudo, DAY_A, verify_ocr=False, workers=1)
        assert hashes(research) == first, "the limit changed: update the README"

        shutil.rmtree(raw.local_path("dicom", DAY_A))
        retrieval.retrieve_partition(FolderPacs(tmp_path / "pacs"), raw, pseudo, DAY_A)
        deid.deidentify_partition(raw, research, pseudo, DAY_A, verify_ocr=False, workers=1)
    after = hashes(research)
    assert after.keys() == first.keys()
    changed = {k for k in first if first[k] != after[k]}
    assert len(changed) == 1, "exactly the corrected instance comes in again"
