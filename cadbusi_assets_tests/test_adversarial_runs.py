"""Adversarial runs: what a re-run, a refused run or a bad input may never damage.

Each test here reproduces a finding of the run-safety review (session 24): it failed on the
code before its fix. Everything is synthetic (invented people, UIDs from the 2.25 test root);
every test that drives a stage end to end is bounded by :func:`time_limit`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from cadbusi_assets.identity import Pseudonymizer
from cadbusi_assets.pacs.folder import FolderPacs
from cadbusi_assets.pacs.synthetic import synthetic_uid
from cadbusi_assets.stages import deidentification as deid
from cadbusi_assets.stages import retrieval
from cadbusi_assets.stages.report import StageFailure
from cadbusi_assets.stages.safety import ALLOW_SHRINK_ENV, check_partition_key
from cadbusi_assets.storage import open_zone, read_partition_table, write_partition_table
from cadbusi_assets_tests.builders import DAY_A, add_imaged, write_cohort
from cadbusi_assets_tests.support import TEST_KEY, time_limit


def _store_inpainted(research: Any, batch: str, names: list[str], content: bytes) -> list[str]:
    """The date ``batch`` holds an inpainted PNG (``content``) for each of ``names`` and the
    table listing them; their paths in the research zone."""
    from cadbusi_assets.stages import analysis

    paths = [f"inpainted/{n[:2]}/{n}.png" for n in names]
    for path in paths:
        research.write_bytes(tuple(path.split("/")), content)
    write_partition_table(
        research,
        analysis.INPAINTED_TABLE,
        batch,
        pl.DataFrame({"image_id": names, "inpainted_path": paths}),
    )
    return paths


@pytest.fixture
def zones(tmp_path: Path):
    return (
        open_zone(tmp_path / "raw", name="raw").ensure(),
        open_zone(tmp_path / "research", name="research").ensure(),
    )


@pytest.fixture
def pseudo() -> Pseudonymizer:
    return Pseudonymizer(TEST_KEY)


@pytest.fixture(autouse=True)
def _no_allow_shrink(monkeypatch):
    monkeypatch.delenv(ALLOW_SHRINK_ENV, raising=False)


def _table_digest(zone, table: str, partition: str) -> str | None:
    parts = ("tables", table, f"{partition}.parquet")
    if not zone.exists(*parts):
        return None
    return hashlib.sha256(zone.read_bytes("/".join(parts))).hexdigest()


def test_a_refused_deidentification_leaves_the_raw_links_and_quarantine_of_the_date_intact(
    zones, pseudo, tmp_path
):
    """A date whose de-identification suddenly quarantines everything (raw files damaged, a
    broken decoder) is refused by the shrink guard. Before the fix the guard ran only after
    the raw zone's ``reidentification_links`` and ``deidentification_quarantine`` of the date
    had been replaced: the research zone still held the old images while their links were gone
    (``cadbusi reidentify`` could no longer follow them) and the raw quarantine listed
    instances the research zone had de-identified."""
    raw, research = zones
    pacs_root = tmp_path / "pacs"
    study = synthetic_uid(731)
    add_imaged(pacs_root, study, 1, day=DAY_A)
    add_imaged(pacs_root, study, 2, day=DAY_A)
    write_cohort(raw, DAY_A, [study])
    with time_limit(120, "retrieval and de-identification of one small date"):
        retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, DAY_A)
        deid.deidentify_partition(raw, research, pseudo, DAY_A, verify_ocr=False, workers=1)
        batch = pseudo.batch_name(DAY_A)
        assert read_partition_table(research, deid.INSTANCES_TABLE, batch).height == 2
        links = read_partition_table(raw, deid.LINKS_TABLE, DAY_A)
        assert links is not None and (links["kind"] == "instance").sum() == 2
        before = {
            t: _table_digest(raw, t, DAY_A) for t in (deid.LINKS_TABLE, deid.RAW_QUARANTINE_TABLE)
        }
        research_before = _table_digest(research, deid.INSTANCES_TABLE, batch)

        # every raw file of the date is damaged: nothing can be de-identified any more
        manifest = read_partition_table(raw, retrieval.INSTANCES_TABLE, DAY_A)
        for path in manifest["raw_path"].drop_nulls().to_list():
            raw.local_path(*path.split("/")).write_bytes(b"not a DICOM file")
        with pytest.raises(StageFailure, match="refusing to delete"):
            deid.deidentify_partition(raw, research, pseudo, DAY_A, verify_ocr=False, workers=1)

    after = {t: _table_digest(raw, t, DAY_A) for t in before}
    assert after == before, "a refused date rewrote raw-zone tables"
    assert _table_digest(research, deid.INSTANCES_TABLE, batch) == research_before


def test_allow_shrink_given_to_the_one_pass_reaches_its_inpainting(zones, pseudo, tmp_path):
    """``process_partition(..., allow_shrink=True)`` accepts a sharp drop on purpose. Before the
    fix the flag stopped at de-identification: the inpainting's guard (``$CADBUSI_ALLOW_SHRINK``
    only) still refused, after the date's de-identification and feature tables had been
    replaced, so the date failed half rewritten (new images and features, old inpainting)."""
    from cadbusi_assets.stages import analysis, imaging

    raw, research = zones
    pacs_root = tmp_path / "pacs"
    study = synthetic_uid(741)
    add_imaged(pacs_root, study, 1, day=DAY_A)
    add_imaged(pacs_root, study, 2, day=DAY_A)
    write_cohort(raw, DAY_A, [study])
    batch = pseudo.batch_name(DAY_A)
    # the batch held inpainted images before (say, a scanner preset with calipers, since
    # re-exported without them)
    names = [f"{i:02d}cc{i}" for i in range(5)]
    _store_inpainted(research, batch, names, b"synthetic")
    with time_limit(180, "one pass over one small date"):
        retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, DAY_A)
        with pytest.raises(StageFailure, match="inpainted images"):  # refused without the flag
            imaging.process_partition(raw, research, pseudo, DAY_A, ocr=False, workers=1)
        result = imaging.process_partition(
            raw, research, pseudo, DAY_A, ocr=False, workers=1, allow_shrink=True
        )
    assert result.inpainting.row_count == 0
    assert read_partition_table(research, analysis.INPAINTED_TABLE, batch).height == 0
    assert not any(research.exists("inpainted", n[:2], f"{n}.png") for n in names)


def _one_processed_date(tmp_path: Path, key_file: Path):
    """A raw and a research zone holding one small study date processed with ``key_file``."""
    from cadbusi_assets.identity import load_key
    from cadbusi_assets.stages import imaging

    raw = open_zone(tmp_path / "raw", name="raw").ensure()
    research = open_zone(tmp_path / "research", name="research").ensure()
    pseudonymizer = Pseudonymizer(load_key(key_file))
    pacs_root = tmp_path / "pacs"
    study = synthetic_uid(751)
    add_imaged(pacs_root, study, 1, day=DAY_A)
    write_cohort(raw, DAY_A, [study])
    retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudonymizer, DAY_A)
    imaging.process_partition(raw, research, pseudonymizer, DAY_A, ocr=False, workers=1)
    # as the imaging step does once the date passed its leak check
    check_partition_key(raw, research, DAY_A, pseudonymizer, record=True)
    return raw, research


def test_lesions_refuse_a_changed_pseudonym_key(tmp_path):
    """``lesions`` pseudonymizes the raw reports and pathology to meet the research images.
    Before the fix a run with another key went through: nothing matched any more, and the
    lesions were rewritten without their images and pathology."""
    from cadbusi_assets.defs.records.lesions import lesions
    from cadbusi_assets.defs.resources import PseudonymKeyResource, ZonesResource
    from cadbusi_assets.identity import generate_key_file

    key, other = (generate_key_file(tmp_path / "secrets" / n) for n in ("a.key", "b.key"))
    with time_limit(120, "one small date and the lesions"):
        _one_processed_date(tmp_path, key)
        zones = ZonesResource(
            raw_uri=str(tmp_path / "raw"), research_uri=str(tmp_path / "research")
        )
        lesions(zones=zones, pseudonym_key=PseudonymKeyResource(key_file=str(key)))
        stored = {
            p: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((tmp_path / "research" / "lesions").rglob("*.parquet"))
        }
        assert stored
        with pytest.raises(StageFailure, match="pseudonym key"):
            lesions(zones=zones, pseudonym_key=PseudonymKeyResource(key_file=str(other)))
        tree = {
            p: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((tmp_path / "research" / "lesions").rglob("*.parquet"))
        }
        assert tree == stored
        # the original key still works
        lesions(zones=zones, pseudonym_key=PseudonymKeyResource(key_file=str(key)))


def test_an_export_with_a_changed_pseudonym_key_says_so_and_writes_nothing(tmp_path):
    """An export names the key's fingerprint, seals its lineage with the key and names the
    study dates by the key's batch names: cut with another key it would be an immutable export
    whose lineage follows nothing. Before the fix a changed key was never mentioned (the export
    went as far as the catalog allowed)."""
    import dagster as dg

    from cadbusi_assets.definitions import defs
    from cadbusi_assets.defs.resources import ZonesResource
    from cadbusi_assets.identity import generate_key_file
    from cadbusi_assets_tests.conftest import clear_dagster_state_storage
    from cadbusi_assets_tests.defs.conftest import make_environment

    key, other = (generate_key_file(tmp_path / "secrets" / n) for n in ("a.key", "b.key"))
    with time_limit(180, "one small date and a refused export"):
        _one_processed_date(tmp_path, key)
        zones = ZonesResource(
            raw_uri=str(tmp_path / "raw"), research_uri=str(tmp_path / "research")
        )
        # every resource of the graph (the others are never opened by an export)
        resources = make_environment(tmp_path / "env", tmp_path, other, zones=zones).resources
        (tmp_path / "instance").mkdir()
        with dg.instance_for_test(
            temp_dir=str(tmp_path / "instance"), set_dagster_home=False
        ) as instance:
            instance.add_dynamic_partitions("exports", ["2026-11-22"])
            clear_dagster_state_storage()
            result = dg.materialize(
                list(defs().assets),
                resources=resources,
                instance=instance,
                selection=["dataset_export"],
                partition_key="2026-11-22",
                raise_on_error=False,
            )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.error.message
    assert "pseudonym key" in message and "Nothing was written" in message
    assert not (tmp_path / "research" / "exports").exists()
    assert not (tmp_path / "raw" / "exports").exists()


@pytest.mark.parametrize("bad", ["2026-11-22/images", "..", ".", "2026-11-22 ", "", "a" * 65])
def test_an_export_key_that_cannot_name_a_folder_is_refused_before_it_becomes_a_partition(
    bad, tmp_path
):
    """An export key names a folder of the research zone. Before the fix `cadbusi export --key
    2026-11-22/images` (or a key added in the UI) became a partition of the instance for good
    and the build died on a bare FileNotFoundError (a key like ``2026-11-22/images`` points
    into an existing, immutable export)."""
    import dagster as dg

    from cadbusi_assets import runner
    from cadbusi_assets.defs.partitions import ExportKeyError

    with dg.instance_for_test(temp_dir=str(tmp_path), set_dagster_home=False) as instance:
        with pytest.raises(ExportKeyError, match="invalid export key"):
            runner.cut_export(dg.Definitions(), instance, bad)
        assert not instance.get_dynamic_partitions("exports")


def test_cadbusi_export_and_demo_refuse_a_bad_key_at_once(capsys, tmp_path, monkeypatch):
    from cadbusi_assets.cli import main

    # whatever the commands would set up lands here and is undone afterwards
    monkeypatch.setenv("CADBUSI_HOME", str(tmp_path / "home"))
    for name in ("DAGSTER_HOME", "CADBUSI_PSEUDONYM_KEY_FILE", "CADBUSI_DEPLOYMENT"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)

    assert main(["export", "--key", "2026-11-22/images"]) == 2
    assert "invalid export key" in capsys.readouterr().out
    assert not (tmp_path / "home").exists()  # refused before the demo folders are made
    with time_limit(30, "cadbusi demo with a bad --export-key"):
        assert main(["demo", "--export-key", "../2026-11-22"]) == 2
    assert "invalid export key" in capsys.readouterr().out


def test_partition_report_with_a_path_for_an_asset_is_a_clear_error(capsys, tmp_path, monkeypatch):
    """Before the fix `cadbusi partition-report --asset ../x` ended in a ZoneError traceback."""
    from cadbusi_assets.cli import main

    monkeypatch.setenv("CADBUSI_RAW_ZONE", str(tmp_path / "raw"))
    monkeypatch.setenv("CADBUSI_RESEARCH_ZONE", str(tmp_path / "research"))
    assert main(["partition-report", "--asset", "../x"]) == 2
    assert "may not contain '..'" in capsys.readouterr().out


def test_partition_report_shows_the_readable_reports_and_names_an_unreadable_one(
    capsys, tmp_path, monkeypatch
):
    """One half-written report file (a disk full, a killed copy) made `cadbusi partition-report`
    end in a JSONDecodeError traceback, showing no date at all, and `--date` read every date's
    file to find one."""
    from cadbusi_assets.cli import main
    from cadbusi_assets.stages.report import PartitionReport, record_partition_report
    from cadbusi_assets.storage import open_zone

    monkeypatch.setenv("CADBUSI_RAW_ZONE", str(tmp_path / "raw"))
    monkeypatch.setenv("CADBUSI_RESEARCH_ZONE", str(tmp_path / "research"))
    raw = open_zone(tmp_path / "raw", name="raw")
    for day in ("2026-09-01", "2026-09-03"):
        report = PartitionReport(day, row_count=2)
        report.count("studies", 2)
        record_partition_report(raw, "raw_dicom", day, report)
    raw.write_bytes(("reports", "raw_dicom", "2026-09-02.json"), b'{"asset": "raw_dic')
    assert main(["partition-report", "--asset", "raw_dicom"]) == 1
    out = capsys.readouterr().out
    assert out.count("  studies: 2") == 2 and "raw_dicom 2026-09-03" in out
    assert "cannot read the report reports/raw_dicom/2026-09-02.json" in out
    assert main(["partition-report", "--date", "2026-09-03"]) == 0  # only that date's file
    assert "raw_dicom 2026-09-03" in capsys.readouterr().out


def _write_images(research, batch: str, names: list[str]) -> None:
    """A date's ``deidentified_images`` table with one PNG path per image id."""
    from cadbusi_assets.storage import write_partition_table

    paths = [f"images/{n[:2]}/{n}.png" for n in names]
    write_partition_table(
        research, deid.IMAGES_TABLE, batch, pl.DataFrame({"image_id": names, "png_path": paths})
    )


def test_a_refused_inpainting_never_names_the_research_batch(zones, pseudo):
    """A stage's refusal is the date's failure reason: shown beside the real study date in the
    UI, the run tag ``cadbusi/failed_dates`` and the logs. Before the fix the inpainting's
    shrink guard began with the research batch name, linking the opaque batch to its date."""
    from cadbusi_assets.stages import analysis
    from cadbusi_assets.storage import write_partition_table

    _, research = zones
    batch = pseudo.batch_name(DAY_A)
    names = [f"{i:02d}dd{i}" for i in range(4)]
    _write_images(research, batch, names)
    write_partition_table(
        research,
        analysis.FEATURES_TABLE,
        batch,
        pl.DataFrame({"image_id": names, "has_calipers": [False] * 4}),
    )
    write_partition_table(
        research,
        analysis.INPAINTED_TABLE,
        batch,
        pl.DataFrame(
            {"image_id": names, "inpainted_path": [f"inpainted/{n[:2]}/{n}.png" for n in names]}
        ),
    )
    with pytest.raises(StageFailure, match="refusing to delete") as refused:
        analysis.inpaint_partition(research, batch, workers=1)
    assert batch not in str(refused.value)


def test_labelbox_data_rows_refuse_a_sharp_drop_and_keep_what_was_queued(zones, pseudo, tmp_path):
    """The data-rows table is the record of what Labelbox holds (``queued_in``: which rows are
    in the project's batches). Before the fix a re-run whose features suddenly excluded every
    image (a broken analysis, a wrong setting) rewrote the folder source's outbox and the table
    empty: Labelbox still held the rows (data rows are never deleted), the record was gone, and
    the next good run queued them into the project again."""
    from cadbusi_assets.labeling.sources import FolderLabelSource
    from cadbusi_assets.stages import analysis, labeling
    from cadbusi_assets.storage import write_partition_table

    _, research = zones
    source = FolderLabelSource(tmp_path / "labelbox")
    batch = pseudo.batch_name(DAY_A)
    names = [f"{i:02d}ee{i}" for i in range(5)]
    _write_images(research, batch, names)
    write_partition_table(
        research,
        analysis.FEATURES_TABLE,
        batch,
        pl.DataFrame({"image_id": names, "exclusion_reason": ["too dark"] * 5}),
    )
    queued = pl.DataFrame(
        {
            "global_key": names,
            "external_id": names,
            "row_data": [f"images/{n[:2]}/{n}.png" for n in names],
            "row_data_mode": ["path"] * 5,
            "row_data_expires_at": [None] * 5,
            "queued_in": [source.name] * 5,
        },
        schema_overrides={"row_data_expires_at": pl.Utf8},
    )
    write_partition_table(research, labeling.DATA_ROWS_TABLE, batch, queued)
    source.send_data_rows(batch, queued.select("global_key", "external_id", "row_data").to_dicts())
    outbox = (tmp_path / "labelbox" / "outbox" / f"{batch}.ndjson").read_bytes()

    with pytest.raises(StageFailure, match="refusing to delete") as refused:
        labeling.send_data_rows(research, source, batch)
    assert batch not in str(refused.value)
    assert read_partition_table(research, labeling.DATA_ROWS_TABLE, batch).equals(queued)
    assert (tmp_path / "labelbox" / "outbox" / f"{batch}.ndjson").read_bytes() == outbox

    # accepted on purpose: nothing is usable, and the rows Labelbox holds stay on record as
    # withdrawn (test_adversarial_labels.py)
    labeling.send_data_rows(research, source, batch, allow_shrink=True)
    kept = read_partition_table(research, labeling.DATA_ROWS_TABLE, batch)
    assert kept.height == 5 and kept[labeling.WITHDRAWN].all()


def test_diagnosis_labels_without_any_pathology_partition(zones, pseudo):
    """Radiology materialized, pathology never (not selected, or failed on every date): the
    labels are built from the reports alone, as the stage intends. Before the fix it died on
    ``ValueError: parse_pathology_reports: input lacks column(s) ...``."""
    from cadbusi_assets.stages import records as records_stage
    from cadbusi_assets_tests.builders import FakeWarehouse, exam_row, radiology_table

    raw, research = zones
    warehouse = FakeWarehouse(radiology_table([exam_row("SYNACC1", DAY_A, synthetic_uid(1101))]))
    records_stage.load_radiology_reports(warehouse, raw, [DAY_A])
    report = records_stage.build_diagnosis_labels(raw, research, pseudo)
    assert report.row_count == 1
    assert research.exists(*records_stage.LABELS_PATH)


def test_two_catalog_builds_at_once_both_finish_with_a_whole_catalog(tmp_path, monkeypatch):
    """metadata_db can be launched twice at once (automation and a user). Before the fix both
    builds staged the catalog under one fixed name beside it: the second build's copy replaced
    the first one's staged file, the first build's rename then failed (FileNotFoundError) —
    and with the copies overlapping, the catalog that won could hold bytes of both."""
    import shutil as real_shutil

    import duckdb

    from cadbusi_assets.catalog import build as catalog_build
    from cadbusi_assets.stages.tables import IMAGE_SCHEMA
    from cadbusi_assets.storage import write_partition_table

    research = open_zone(tmp_path / "research", name="research").ensure()
    images = pl.DataFrame({"image_id": ["a1", "a2"]}).with_columns(
        [pl.lit(None).cast(t).alias(c) for c, t in IMAGE_SCHEMA.items() if c != "image_id"]
    )
    write_partition_table(research, deid.IMAGES_TABLE, "batch-a", images.select(list(IMAGE_SCHEMA)))
    copyfile = real_shutil.copyfile
    started: list[bool] = []
    nested = []

    def copy_then_let_another_build_run(source, target, *args, **kwargs):
        result = copyfile(source, target, *args, **kwargs)
        if str(target).endswith((".staged", ".tmp")) and not started:
            started.append(True)
            nested.append(catalog_build.build_metadata_db(research))  # the other run
        return result

    monkeypatch.setattr(real_shutil, "copyfile", copy_then_let_another_build_run)
    first = catalog_build.build_metadata_db(research)
    assert nested and first.tables == nested[0].tables
    with duckdb.connect(str(research.local_path(*catalog_build.CATALOG_PATH)), read_only=True) as c:
        assert c.execute("SELECT count(*) FROM images").fetchone() == (2,)
    leftovers = [p.name for p in (tmp_path / "research" / "catalog").iterdir()]
    assert leftovers == ["metadata.duckdb"]


def test_a_partition_held_too_long_is_a_failure_with_its_reason(tmp_path):
    """A run that waited past the lock timeout for another run of the same date fails that
    date. Before the fix the date's recorded reason (UI metadata, run tag, log) was the bare
    class name "PartitionBusy (traceback in the run log)": the message, which names only the
    stage, the date and the wait, was dropped as if it could hold data."""
    from cadbusi_assets.defs.reporting import SAFE_MESSAGES, safe_traceback
    from cadbusi_assets.stages.locks import PartitionBusy, partition_lock

    with (
        partition_lock("deidentified_images", DAY_A, lock_dir=tmp_path),
        pytest.raises(PartitionBusy) as busy,
        partition_lock("deidentified_images", DAY_A, lock_dir=tmp_path, timeout=0.3),
    ):
        pass
    assert isinstance(busy.value, SAFE_MESSAGES)
    assert safe_traceback(busy.value).endswith(str(busy.value))
    assert "another run held this partition" in str(busy.value)


def test_pathology_of_a_fanned_out_specimen_does_not_depend_on_warehouse_row_order(zones):
    """Two warehouse rows of one specimen with different texts of the same length (a fan-out
    of an amended report): the parser keeps one. Before the fix that choice followed the
    warehouse's row order (which a query window or a warehouse engine may change), so the same
    specimen was MALIGNANT in one run and UNKNOWN in another."""
    import datetime as dt

    from cadbusi_assets.records.schemas import PATHOLOGY_SCHEMA
    from cadbusi_assets.stages import records as records_stage
    from cadbusi_assets_tests.builders import FakeWarehouse, radiology_table

    raw, _ = zones
    row = {
        "specimen_accession": "SYNSP1",
        "patient_id": "SYN-P1",
        "encounter_id": None,
        "specimen_date": dt.date.fromisoformat(DAY_A),
        "received_at": None,
        "part_description": "A. LEFT BREAST, 2:00, CORE BIOPSY",
        "diagnosis_name": None,
        "final_diagnosis_text": "A. LEFT BREAST: CARCINOMA",
        "synoptic_report": None,
    }
    rows = [row, {**row, "final_diagnosis_text": "A. LEFT BREAST: NO TUMOUR"}]
    tables = []
    for ordered in (rows, rows[::-1]):
        warehouse = FakeWarehouse(radiology_table([]))
        warehouse.pathology = pl.DataFrame(ordered, schema=PATHOLOGY_SCHEMA, orient="row")
        records_stage.load_pathology_reports(warehouse, raw, [DAY_A], allow_shrink=True)
        tables.append(_table_digest(raw, records_stage.PATHOLOGY_TABLE, DAY_A))
    assert tables[0] == tables[1]


def test_a_patient_with_two_warehouse_rows_fails_the_date_instead_of_doubling_its_studies(
    zones,
):
    """A patients view that answers two rows for one patient (a name change kept as history,
    a join fan-out). Before the fix the cohort join repeated each of the patient's studies
    once per row: the same accession twice in ``imaging_studies`` (retrieved, de-identified and
    counted twice, in an order set by the warehouse). Exact repeats stay harmless."""
    from cadbusi_assets.stages import records as records_stage
    from cadbusi_assets_tests.builders import (
        DAY_B,
        FakeWarehouse,
        exam_row,
        radiology_table,
        synthetic_patients,
    )

    raw, _ = zones
    exams = radiology_table(
        [
            exam_row("SYNACC1", DAY_A, synthetic_uid(1201)),
            exam_row("SYNACC2", DAY_B, synthetic_uid(1202), patient_id="SYN-P2"),
        ]
    )
    patients = synthetic_patients()
    renamed = patients.filter(pl.col("patient_id") == "SYN-P1").with_columns(
        pl.lit("TESTER^RENAMED").alias("patient_name")
    )
    warehouse = FakeWarehouse(exams, patients=pl.concat([patients, renamed, patients]))
    records_stage.load_radiology_reports(warehouse, raw, [DAY_A, DAY_B])
    reports = records_stage.select_imaging_studies(warehouse, raw, [DAY_A, DAY_B])

    assert reports[DAY_A].failed
    assert "one row per patient" in reports[DAY_A].problems[0]
    assert "TESTER" not in reports[DAY_A].problems[0]
    assert read_partition_table(raw, records_stage.COHORT_TABLE, DAY_A) is None
    # the other date (its patient repeated exactly) goes on, each study once
    assert not reports[DAY_B].failed
    cohort_b = read_partition_table(raw, records_stage.COHORT_TABLE, DAY_B)
    assert cohort_b["accession_number"].to_list() == ["SYNACC2"]


def _clean_env(home: Path) -> dict[str, str]:
    """The user's environment without any cadbusi or Dagster setting, on the demo ``home``."""
    import os

    env = {
        k: v for k, v in os.environ.items() if not k.startswith("CADBUSI_") and k != "DAGSTER_HOME"
    }
    env["CADBUSI_HOME"] = str(home)
    return env


def test_two_dagster_homes_on_one_data_home_never_write_one_date_at_once(tmp_path):
    """Two shells on the same ``$CADBUSI_HOME`` (the same zones) with different
    ``$DAGSTER_HOME``: say a ``cadbusi demo`` and a ``dagster dev`` started elsewhere. Before the
    fix the partition locks lived in ``$DAGSTER_HOME``: each shell had its own, and both wrote
    the date's tables at once. Now the locks are beside the data: the second run waits, and
    past ``$CADBUSI_LOCK_TIMEOUT`` the date fails with the reason."""
    import datetime as dt
    import subprocess
    import sys
    import time

    from cadbusi_assets.instance_config import DEMO_INSTANCE_YAML
    from cadbusi_assets.settings import demo_paths
    from cadbusi_demo import DemoConfig, generate_demo_cohort

    home = tmp_path / "home"
    day = "2026-09-01"
    generate_demo_cohort(
        demo_paths(home)["sources"],
        DemoConfig(start=dt.date.fromisoformat(day), days=1, studies_per_day=(1, 1), seed=7),
    )
    homes = []
    for name in ("dagster_a", "dagster_b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "dagster.yaml").write_text(DEMO_INSTANCE_YAML)
        homes.append(str(tmp_path / name))
    # shell A: a run of the date holds it (as run_per_day / run_for_days hold it)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from cadbusi_assets.stages.locks import partition_lock\n"
            f"with partition_lock('radiology_reports', {day!r}):\n"
            "    print('held', flush=True)\n"
            "    time.sleep(300)\n",
        ],
        env={**_clean_env(home), "DAGSTER_HOME": homes[0]},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        dagster = Path(sys.executable).with_name("dagster")
        command = [
            str(dagster),
            "asset",
            "materialize",
            "-m",
            "cadbusi_assets.definitions",
            "--select",
            "radiology_reports",
            "--partition",
            day,
        ]
        env_b = {**_clean_env(home), "DAGSTER_HOME": homes[1], "CADBUSI_LOCK_TIMEOUT": "2"}
        started = time.monotonic()
        refused = subprocess.run(
            command, env=env_b, cwd=tmp_path, capture_output=True, text=True, timeout=300
        )
        output = refused.stdout + refused.stderr
        assert refused.returncode != 0, output[-3000:]
        assert "another run held this partition" in output, output[-3000:]
        assert "waiting for another run of this partition" in output
        assert time.monotonic() - started >= 2
        raw = demo_paths(home)["raw"]
        assert not (raw / "tables" / "radiology_reports").exists()  # nothing written
    finally:
        holder.kill()
        holder.wait(30)
    # once shell A has finished, shell B's run of the date goes through
    done = subprocess.run(
        command, env=env_b, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert (raw / "tables" / "radiology_reports" / f"{day}.parquet").exists()
    # the locks are beside the data, named by hashes only
    locks = [p.name for p in (raw / ".cadbusi-locks").iterdir()]
    assert locks and not any(day in name for name in locks)
    # and never in the research zone: a hash of a date is found by trying the dates
    research = demo_paths(home)["research"]
    assert not list(research.rglob("*.lock")) and not (research / ".cadbusi-locks").exists()


def _tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` (lock files aside) with its SHA-256."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".cadbusi-locks" not in p.parts
    }


def test_a_refused_inpainting_in_the_one_pass_leaves_the_whole_date_as_it_was(
    zones, pseudo, tmp_path
):
    """A re-run of the one pass (``deidentified_images`` / ``image_features`` /
    ``inpainted_images``) whose inpainting guard refuses (the date held inpainted images, the
    new pass finds none to inpaint). Before the fix the guard ran only after the date's
    de-identification tables (raw links and quarantine, research instances, images, studies)
    and features had been replaced: a late instance of the study was in the new tables, the
    inpainting was the old one. Now every table and file of the date is as it was, and the
    files the refused pass wrote for the late instance are gone."""
    from cadbusi_assets.stages import imaging

    raw, research = zones
    pacs_root = tmp_path / "pacs"
    study = synthetic_uid(761)
    add_imaged(pacs_root, study, 1, day=DAY_A)
    write_cohort(raw, DAY_A, [study])
    batch = pseudo.batch_name(DAY_A)
    with time_limit(240, "two passes over one small date"):
        retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, DAY_A)
        imaging.process_partition(raw, research, pseudo, DAY_A, ocr=False, workers=1)
        # the date held inpainted images (a scanner preset with calipers since re-exported)
        names = [f"{i:02d}ff{i}" for i in range(5)]
        _store_inpainted(research, batch, names, b"synthetic")
        # a late instance of the study arrives in the PACS and is retrieved
        add_imaged(pacs_root, study, 2, day=DAY_A)
        retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, DAY_A)
        before = {"raw": _tree(tmp_path / "raw"), "research": _tree(tmp_path / "research")}
        assert read_partition_table(research, deid.INSTANCES_TABLE, batch).height == 1

        with pytest.raises(StageFailure, match=r"inpainted images.*refusing to delete"):
            imaging.process_partition(raw, research, pseudo, DAY_A, ocr=False, workers=1)

    after = {"raw": _tree(tmp_path / "raw"), "research": _tree(tmp_path / "research")}
    for zone in before:
        changed = sorted(
            p
            for p in set(before[zone]) | set(after[zone])
            if before[zone].get(p) != after[zone].get(p)
        )
        assert not changed, f"a refused date changed the {zone} zone: {changed}"


def test_conflicting_pathology_fanout_rows_are_counted_never_dropped_silently(tmp_path):
    """One specimen arrives as three warehouse rows (one per diagnosis name), two of them with
    a final-diagnosis text the third contradicts (an amended report). The parser keeps the
    longest text. Before the fix the other text was dropped without a word: the date's report
    said nothing. Now the pathology report of the date counts the specimens and rows folded
    away and says why, in the raw zone's partition report (`cadbusi partition-report`) and,
    without counts, beside the date in the UI — never the texts themselves (PHI)."""
    import datetime as dt
    import subprocess
    import sys

    import dagster as dg
    import duckdb

    from cadbusi_assets.instance_config import DEMO_INSTANCE_YAML
    from cadbusi_assets.settings import demo_paths
    from cadbusi_demo import DemoConfig, generate_demo_cohort

    home = tmp_path / "home"
    day = "2026-09-01"
    paths = demo_paths(home)
    generate_demo_cohort(
        paths["sources"],
        DemoConfig(start=dt.date.fromisoformat(day), days=1, studies_per_day=(1, 1), seed=7),
    )
    kept, folded = "A. LEFT BREAST, CORE BIOPSY: INVASIVE DUCTAL CARCINOMA", "A. NO TUMOUR"
    with duckdb.connect(str(paths["warehouse"])) as warehouse:
        for diagnosis, text in (("IDC", kept), ("DCIS", kept), ("BENIGN", folded)):
            warehouse.execute(
                "INSERT INTO pathology_specimens (specimen_accession, patient_id, "
                "specimen_date, part_description, diagnosis_name, final_diagnosis_text) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                ["SYNSP-FAN1", "SYN-FAN1", dt.date.fromisoformat(day), "A. LEFT", diagnosis, text],
            )
    (tmp_path / "dagster").mkdir()
    (tmp_path / "dagster" / "dagster.yaml").write_text(DEMO_INSTANCE_YAML)
    env = {**_clean_env(home), "DAGSTER_HOME": str(tmp_path / "dagster")}
    bin_dir = Path(sys.executable).parent
    run = {"env": env, "cwd": tmp_path, "capture_output": True, "text": True, "timeout": 300}
    with time_limit(400, "one pathology date and its report"):
        done = subprocess.run(
            [
                str(bin_dir / "dagster"),
                *("asset", "materialize", "-m", "cadbusi_assets.definitions"),
                *("--select", "pathology_reports", "--partition", day),
            ],
            **run,
        )
        assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
        cli = bin_dir / "cadbusi"
        command = [str(cli)] if cli.exists() else [sys.executable, "-m", "cadbusi_assets.cli"]
        shown = subprocess.run(
            [*command, "partition-report", "--asset", "pathology_reports", "--date", day], **run
        )
    assert shown.returncode == 0, shown.stdout + shown.stderr
    report = shown.stdout
    assert "specimens_with_conflicting_fanout_texts" in report
    line = next(x for x in report.splitlines() if "fanout_rows_folded_final_diagnosis" in x)
    assert line.split()[-1] == "1", line  # the one row whose text was not kept
    assert "folded away" in report
    logs = done.stdout + done.stderr
    for text in (kept, folded, "TUMOUR", "CARCINOMA"):
        assert text not in report and text not in logs
    # beside the real date in the UI: the problem, without its counts
    instance = dg.DagsterInstance.from_config(str(tmp_path / "dagster"))
    try:
        event = instance.get_latest_materialization_event(dg.AssetKey("pathology_reports"))
        assert event is not None and event.asset_materialization is not None
        problems = event.asset_materialization.metadata["problems"].value
    finally:
        instance.dispose()
    assert "folded away" in problems and "1" not in problems


def test_fanout_rows_that_agree_or_say_nothing_are_no_conflict():
    """Only a row with a text other than the one kept counts: the usual fan-out (one row per
    diagnosis name, the same text on each, or none) is no conflict."""
    from cadbusi_assets.records.schemas import PATHOLOGY_SCHEMA
    from cadbusi_assets.stages.records import fanout_conflicts

    def row(specimen, diagnosis, text=None, synoptic=None):
        return {
            "specimen_accession": specimen,
            "patient_id": "SYN-P1",
            "specimen_date": None,
            "diagnosis_name": diagnosis,
            "final_diagnosis_text": text,
            "synoptic_report": synoptic,
        }

    frame = pl.DataFrame(
        [
            row("SYNSP1", "IDC", "A. CARCINOMA"),
            row("SYNSP1", "DCIS", "A. CARCINOMA"),
            row("SYNSP1", "OTHER"),
            row("SYNSP2", "IDC", "A. X", synoptic="SIZE: 12 MM"),
            row("SYNSP2", "DCIS", "A. X", synoptic="SIZE: 9 MM"),
            row("SYNSP2", "LCIS", "A. X", synoptic="SIZE: 9 MM"),
        ],
        schema={c: t for c, t in PATHOLOGY_SCHEMA.items() if c in row("", "")},
    )
    conflicts = fanout_conflicts(frame)
    assert conflicts["specimen_accession"].to_list() == ["SYNSP2"]
    assert conflicts.row(0, named=True)["synoptic_rows_folded"] == 2
    assert conflicts.row(0, named=True)["final-diagnosis_rows_folded"] == 0
    assert fanout_conflicts(frame.reverse()).equals(conflicts)


def test_a_refused_inpainting_writes_no_inpainted_png(zones, pseudo):
    """``inpainted_images`` alone (not the one pass): the date held six inpainted images, the
    new features leave one to inpaint. Before the fix the guard ran after the inpainting had
    written that image's PNG over the stored one (the table still named the old file's hash);
    now it refuses before the first PNG."""
    import numpy as np

    from cadbusi_assets.stages import analysis
    from cadbusi_assets.storage import write_partition_table
    from cadbusi_assets.ultrasound.png import encode_png

    _, research = zones
    batch = pseudo.batch_name(DAY_A)
    names = [f"{i:02d}gg{i}" for i in range(6)]
    _write_images(research, batch, names)
    frame = np.random.default_rng(5).integers(0, 255, (48, 64), dtype=np.uint8)
    for name in names:
        research.write_bytes(("images", name[:2], f"{name}.png"), encode_png(frame))
    write_partition_table(
        research,
        analysis.FEATURES_TABLE,
        batch,
        pl.DataFrame(
            {
                "image_id": names,
                "has_calipers": [True] + [False] * 5,
                "caliper_points": [[[20, 20], [40, 30]]] + [None] * 5,
                "is_doppler": [False] * 6,
            },
            schema_overrides={"caliper_points": pl.List(pl.List(pl.Int64))},
        ),
    )
    inpainted = _store_inpainted(research, batch, names, b"the stored inpainting")
    with pytest.raises(StageFailure, match="refusing to delete"):
        analysis.inpaint_partition(research, batch, workers=1)
    assert all(research.read_bytes(p) == b"the stored inpainting" for p in inpainted)
