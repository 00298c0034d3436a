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

from cadbusi_assets.catalog.build import build_metadata_db
from cadbusi_assets.defs.automation.sensors import (
    INTERRUPTED_TAG,
    KILLED_RUN_TAG,
)
from cadbusi_assets.defs.resources import PseudonymKeyResource, ZonesResource
from cadbusi_assets.identity import Pseudonymizer, generate_key_file, load_key
from cadbusi_assets.stages.safety import ALLOW_SHRINK_ENV
from cadbusi_assets.storage import open_zone, read_partition_table
from cadbusi_assets.storage.tables import OPEN_BATCHES_DIR, open_batches
from cadbusi_assets_tests.defs.services import STUDY_DATE_ASSETS, product_env, write_instance_yaml
from cadbusi_assets_tests.run_support import (
    carry_out,
    catalog_images,
    finish,
    kill_when,
    ranged_run,
    sensor_tick,
    use_local_zones,
)
from cadbusi_assets_tests.support import time_limit


@pytest.fixture(autouse=True)
def _no_allow_shrink(monkeypatch):
    monkeypatch.delenv(ALLOW_SHRINK_ENV, raising=False)


STUDY_DATE_ASSETS_KEYS = [dg.AssetKey(name) for name in STUDY_DATE_ASSETS]
#: the study-date assets up to the inpainting (Labelbox left out: a shorter run)
IMAGING_RUN = STUDY_DATE_ASSETS[: STUDY_DATE_ASSETS.index("inpainted_images") + 1]


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
        first = sensor_tick(instance, resources)
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
        again = sensor_tick(instance, resources, first.cursor)
        assert not again.run_requests, "a date was requested twice"

    out = finish(carry_out(env, first.run_requests), 240, "the re-runs the sensor requested")
    assert out.count(" ok") == len(days), out[-4000:]
    assert open_batches(research) == set(), "a re-run left its batch open"
    with time_limit(60, "the catalog after the re-runs"):
        report = build_metadata_db(research)
    assert "study_batches_left_out_interrupted" not in report.warnings
    catalog = catalog_images(research)
    for day in days:
        images = read_partition_table(research, "images", pseudonymizer.batch_name(day))
        assert images is not None and images.height, day
        assert set(images["image_id"]) <= catalog, day
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        assert not sensor_tick(instance, resources, first.cursor).run_requests
        assert not sensor_tick(instance, resources).run_requests, "a settled date was requested"


def _parquet_files(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*.parquet"))


def _ranged(instance: dg.DagsterInstance, status, start: str, end: str, **tags: str):
    import uuid

    run = dg.DagsterRun(
        job_name="study_date_job",
        run_id=str(uuid.uuid4()),
        status=status,
        tags={
            "dagster/asset_partition_range_start": start,
            "dagster/asset_partition_range_end": end,
            **tags,
        },
    )
    instance.add_run(run)
    return run


def _event(instance: dg.DagsterInstance, run: dg.DagsterRun, kind: str, **data) -> None:
    from dagster._core.events import DagsterEvent

    event = DagsterEvent(event_type_value=kind, job_name=run.job_name, step_key="step", **data)
    instance.report_dagster_event(event, run.run_id)


def _materialized(instance: dg.DagsterInstance, run: dg.DagsterRun, day: str) -> None:
    from dagster._core.events import StepMaterializationData

    for asset in STUDY_DATE_ASSETS:
        materialization = dg.AssetMaterialization(asset, partition=day)
        _event(
            instance,
            run,
            "ASSET_MATERIALIZATION",
            event_specific_data=StepMaterializationData(materialization),
        )


def test_which_dates_of_a_killed_run_are_re_run_and_which_are_left_alone():
    """The killed-run rule on its own (no processes): a date is re-run when its newest run
    died before materializing every selected asset of it (a date the run did finish, one a
    newer run succeeded on, and one of a run that failed with a reason, was terminated, or
    never started a step are left alone); one request per date and killed run, with the
    marker's date merged into it."""
    from dagster._core.execution.plan.objects import StepFailureData

    from cadbusi_assets.defs.automation.sensors import (
        interrupted_date_requests,
        killed_run_dates,
    )

    failure, success = dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.SUCCESS
    with dg.DagsterInstance.ephemeral() as instance:
        killed = _ranged(instance, failure, "2026-09-01", "2026-09-04")
        _event(instance, killed, "STEP_START")
        _materialized(instance, killed, "2026-09-01")  # finished before the kill
        later = _ranged(instance, success, "2026-09-04", "2026-09-04")
        failed = _ranged(instance, failure, "2026-09-10", "2026-09-11")
        _event(instance, failed, "STEP_START")
        _event(
            instance,
            failed,
            "STEP_FAILURE",
            event_specific_data=StepFailureData(error=None, user_failure_data=None),
        )
        terminated = _ranged(instance, dg.DagsterRunStatus.CANCELED, "2026-09-12", "2026-09-12")
        _event(instance, terminated, "STEP_START")
        _ranged(instance, failure, "2026-09-13", "2026-09-13")  # failed before any step
        found = killed_run_dates(instance)
        assert sorted(found) == ["2026-09-02", "2026-09-03"], found
        assert {k.run_id for k in found.values()} == {killed.run_id}
        assert all(k.assets == tuple(STUDY_DATE_ASSETS_KEYS) for k in found.values())
        assert later.run_id not in {k.run_id for k in found.values()}

        requests, cursor, _ = interrupted_date_requests(
            instance, {"2026-09-02": "token"}, None, found
        )
        assert [r.partition_key for r in requests] == ["2026-09-02", "2026-09-03"]
        assert requests[0].tags[INTERRUPTED_TAG] == "token"
        assert all(r.tags[KILLED_RUN_TAG] == killed.run_id for r in requests)
        again, cursor, _ = interrupted_date_requests(
            instance, {"2026-09-02": "token"}, cursor, killed_run_dates(instance)
        )
        assert again == [], "a killed run's date was requested twice"


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
    from cadbusi_assets.storage import read_all_partition_tables, write_partition_table
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
        tick = sensor_tick(instance, resources)
        assert [r.partition_key for r in tick.run_requests] == [matched_day]
        tick = sensor_tick(instance, resources, tick.cursor)
        assert not tick.run_requests
        skip = tick.skip_reason.skip_message if tick.skip_reason else ""
        assert "1 open batch marker(s) match no study date" in skip, skip
        assert "cadbusi open-batches --retire-unmatched" in skip, skip
        assert orphan not in skip and gone_day not in skip

    use_local_zones(monkeypatch, tmp_path / "home", raw, research, key_file)
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
    assert catalog_images(research) == {matched[:8]}, "the retired batch must stay left out"
    everything = read_all_partition_tables(research, "images")  # what the lesions read
    assert everything is not None and set(everything["image_id"]) == {matched[:8]}
    with dg.DagsterInstance.ephemeral() as instance:
        tick = sensor_tick(instance, resources)
        assert tick.skip_reason and tick.skip_reason.skip_message == "no interrupted study dates"
    close_batch(research, orphan)  # a pass that writes the batch whole again
    assert retired_batches(research) == set()


# -- 3. a correction under the same SOP Instance UID: an explicit refetch ---------------------
def test_an_explicit_refetch_replaces_only_the_corrected_instance_and_keeps_the_old_copy(
    tmp_path,
):
    """The PACS corrects an instance's pixels keeping its UIDs. Before the fix a re-run kept
    the raw copy (a PACS search gives no size or hash) and the only way in was deleting the
    date's raw copies by hand. Now ``retrieve_partition(refetch=True)`` (``raw_dicom``'s run
    config ``refetch: true``) fetches the date's instances again: the unchanged one stays
    byte-identical (same file, same mtime), the corrected one is replaced, the copy it
    replaced is kept in ``dicom_replaced/`` with its SHA-256 and recorded with the reason in
    ``retrieval_refetched``, and the re-run date's research output changes for exactly that
    instance. A plain re-run afterwards changes nothing and keeps the record."""
    import hashlib

    import pydicom

    from cadbusi_assets.pacs.folder import FolderPacs
    from cadbusi_assets.pacs.retrieve import REFETCH_REASON
    from cadbusi_assets.stages import deidentification as deid
    from cadbusi_assets.stages import retrieval
    from cadbusi_assets_tests.run_support import small_date
    from cadbusi_assets_tests.support import TEST_KEY

    day = "2026-09-02"
    pseudo = Pseudonymizer(TEST_KEY)
    batch = pseudo.batch_name(day)

    def hashes(research) -> dict[str, str]:
        images = read_partition_table(research, deid.IMAGES_TABLE, batch)
        assert images is not None
        return dict(zip(images["instance_id"], images["png_sha256"], strict=True))

    def raw_files(raw) -> dict[str, tuple[str, int]]:
        base = Path(raw.local_path("dicom", day))
        return {
            str(p.relative_to(base)): (
                hashlib.sha256(p.read_bytes()).hexdigest(),
                p.stat().st_mtime_ns,
            )
            for p in sorted(base.rglob("*.dcm"))
        }

    pacs = tmp_path / "pacs"
    with time_limit(240, "four passes over one small date"):
        raw, research, study = small_date(tmp_path, 794, day)
        deid.deidentify_partition(raw, research, pseudo, day, verify_ocr=False, workers=1)
        first, stored = hashes(research), raw_files(raw)
        corrected = pacs / study / "IM0001.dcm"
        ds = pydicom.dcmread(corrected)
        pixels = ds.pixel_array.copy()
        pixels[10:30, 10:40] = 255 - pixels[10:30, 10:40]
        ds.PixelData = pixels.tobytes()
        ds.save_as(corrected, enforce_file_format=True)

        plain = retrieval.retrieve_partition(FolderPacs(pacs), raw, pseudo, day)
        assert raw_files(raw) == stored, "a plain re-run keeps the raw copies (no hash to see)"
        assert "instances_refetched_replaced" not in plain.counts

        report = retrieval.retrieve_partition(FolderPacs(pacs), raw, pseudo, day, refetch=True)
        assert report.counts["instances_refetched_replaced"] == 1
        assert report.counts["instances_refetched_unchanged"] == 1
        assert report.counts["instances_refetched_failed"] == 0
        now = raw_files(raw)
        assert now.keys() == stored.keys()
        changed = {k for k in stored if stored[k] != now[k]}
        assert len(changed) == 1, "exactly the corrected instance is replaced"
        (name,) = changed
        assert now[name][0] == hashlib.sha256(corrected.read_bytes()).hexdigest()
        record = read_partition_table(raw, retrieval.REFETCHED_TABLE, day)
        assert record is not None and record.height == 1
        row = record.row(0, named=True)
        assert row["reason"] == REFETCH_REASON and row["outcome"] == "replaced"
        assert row["old_sha256"] == stored[name][0] and row["new_sha256"] == now[name][0]
        kept = raw.local_path(*row["kept_copy"].split("/"))
        assert hashlib.sha256(Path(kept).read_bytes()).hexdigest() == stored[name][0]

        deid.deidentify_partition(raw, research, pseudo, day, verify_ocr=False, workers=1)
        after = hashes(research)
        assert after.keys() == first.keys()
        assert len({k for k in first if first[k] != after[k]}) == 1, "exactly the corrected one"

        retrieval.retrieve_partition(FolderPacs(pacs), raw, pseudo, day)  # the nightly re-run
        assert raw_files(raw) == now and Path(kept).exists()
        again = read_partition_table(raw, retrieval.REFETCHED_TABLE, day)
        assert again is not None and again.equals(record), "the record is kept across re-runs"


@pytest.mark.integration
def test_an_explicit_refetch_over_dicomweb_takes_in_a_correction_orthanc_holds(tmp_path):
    """The same against a real PACS: Orthanc over DICOMweb (QIDO-RS lists no size or hash),
    one instance re-sent with other pixels under the same UIDs (Orthanc overwrites it). A plain
    re-run fetches nothing; the refetch replaces exactly that instance, keeps the other one
    byte-identical, and keeps the replaced copy."""
    import hashlib

    import polars as pl

    from cadbusi_assets.pacs import open_pacs, retrieve_studies
    from cadbusi_assets.pacs.orthanc_server import INSTALL_HINT, OrthancServer
    from cadbusi_assets.pacs.synthetic import synthetic_uid, synthetic_us_instance
    from cadbusi_assets_tests.support import TEST_KEY, require_tool

    require_tool("Orthanc", INSTALL_HINT)
    day, study = "2024-03-05", synthetic_uid(4242)

    def instance(number: int, seed: int) -> bytes:
        uid = f"{study}.1.{number}"
        return synthetic_us_instance(study, f"{study}.1", uid, instance_number=number, seed=seed)

    def stored(zone) -> dict[str, str]:
        return {
            zone.relative(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in zone.iter_files("dicom", day)
        }

    cohort = pl.DataFrame({"study_instance_uid": [study], "accession_number": ["SYNTH0001"]})
    raw = open_zone(tmp_path / "raw", name="raw")
    pseudo = Pseudonymizer(TEST_KEY)
    with OrthancServer(tmp_path / "orthanc") as server, time_limit(120, "three retrievals"):
        for number in (1, 2):
            server.upload(instance(number, seed=number))
        pacs = open_pacs("dicomweb+" + server.dicomweb_url)
        try:
            first = retrieve_studies(pacs, cohort, raw, day, pseudo)
            before = stored(raw)
            server.upload(instance(2, seed=99))  # the correction, same UIDs
            plain = retrieve_studies(pacs, cohort, raw, day, pseudo, previous=first.instances)
            assert stored(raw) == before, "a plain re-run sees no change (no hash to compare)"
            again = retrieve_studies(
                pacs, cohort, raw, day, pseudo, previous=plain.instances, refetch=True
            )
        finally:
            pacs.close()
    outcomes = dict(zip(again.refetched["instance_key"], again.refetched["outcome"], strict=True))
    assert sorted(outcomes.values()) == ["replaced", "unchanged"]
    after = stored(raw)
    assert after.keys() == before.keys()
    assert len({k for k in before if before[k] != after[k]}) == 1
    (row,) = again.refetched.filter(pl.col("outcome") == "replaced").iter_rows(named=True)
    kept = raw.read_bytes(*row["kept_copy"].split("/"))
    assert hashlib.sha256(kept).hexdigest() == row["old_sha256"] in before.values()


def test_a_refetch_in_a_run_the_pacs_shrink_guard_refuses_replaces_no_stored_file(tmp_path):
    """The refetch replaced a corrected instance as soon as it was fetched, before the run asked
    ``before_delete`` (the guard against a PACS that suddenly holds fewer studies): a refused
    run had already changed a stored file, with no record of it. Now the changed bytes are
    staged and replace the stored copy only once the run is accepted: a refused run leaves
    every stored file, no ``dicom_replaced/`` copy and no staged file behind; the same refetch
    accepted replaces exactly the corrected instance."""
    import hashlib

    import polars as pl
    import pydicom

    from cadbusi_assets.pacs import retrieve_studies
    from cadbusi_assets.pacs.folder import FolderPacs
    from cadbusi_assets.pacs.retrieve import REPLACED_DIR
    from cadbusi_assets.stages import retrieval
    from cadbusi_assets.stages.report import StageFailure
    from cadbusi_assets_tests.run_support import small_date
    from cadbusi_assets_tests.support import TEST_KEY

    day = "2026-09-03"
    pseudo = Pseudonymizer(TEST_KEY)

    def files(zone) -> dict[str, str]:
        return {
            zone.relative(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in zone.iter_files("dicom", day, include_temporary=True)
        }

    def refuse(before: int, kept: int) -> None:
        raise StageFailure("refused (the PACS answered with fewer studies)")

    with time_limit(120, "a small date retrieved three times"):
        raw, _, study = small_date(tmp_path, 795, day)
        corrected = tmp_path / "pacs" / study / "IM0001.dcm"
        ds = pydicom.dcmread(corrected)
        pixels = ds.pixel_array.copy()
        pixels[5:25, 5:45] = 255 - pixels[5:25, 5:45]
        ds.PixelData = pixels.tobytes()
        ds.save_as(corrected, enforce_file_format=True)
        previous = read_partition_table(raw, retrieval.INSTANCES_TABLE, day)
        cohort = pl.DataFrame({"study_instance_uid": [study], "accession_number": ["SYNTH0001"]})
        before = files(raw)
        assert len(before) == 2
        with pytest.raises(StageFailure, match="refused"):
            retrieve_studies(
                FolderPacs(tmp_path / "pacs"),
                cohort,
                raw,
                day,
                pseudo,
                previous=previous,
                refetch=True,
                before_delete=refuse,
            )
        assert files(raw) == before, "a refused run changed or left a file"
        assert not list(raw.iter_files(REPLACED_DIR)), "a refused run kept a 'replaced' copy"

        accepted = retrieve_studies(
            FolderPacs(tmp_path / "pacs"),
            cohort,
            raw,
            day,
            pseudo,
            previous=previous,
            refetch=True,
            before_delete=lambda before, kept: None,
        )
    assert sorted(accepted.refetched["outcome"].to_list()) == ["replaced", "unchanged"]
    after = files(raw)
    assert after.keys() == before.keys()
    assert len({k for k in before if before[k] != after[k]}) == 1
