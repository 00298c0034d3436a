"""A PACS re-sends an image under new UIDs (a new SOP Instance UID, maybe a new study, the
same pixels, the same patient), on the same study date or on another one (session 29, user-run
adversary).

Before the fix the date succeeded but the catalog's blocking check ``pixel_hash_per_patient``
failed, and since exports refuse such a catalog, one re-sent image blocked every export of every
date. Now the copy of the smallest instance id is kept whatever the run order: within one date
the de-identification records the other as a duplicate (:data:`deid.RESENT_REASON`, its files
not kept); across dates the catalog leaves it out of ``image_catalog`` (what exports read;
``images`` keeps every stored row) with its reason (``left_out_images``, the ``exclusions``
view) and changes nothing stored. Everything is synthetic."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from cadbusi_assets.catalog.build import (
    RESENT_LEFT_OUT,
    RESENT_REASON,
    build_metadata_db,
    catalog_problems,
    open_catalog,
)
from cadbusi_assets.exports.build import ExportConfig, build_export
from cadbusi_assets.identity import Pseudonymizer, instance_id_for
from cadbusi_assets.pacs.folder import FolderPacs
from cadbusi_assets.pacs.synthetic import synthetic_uid
from cadbusi_assets.stages import deidentification as deid
from cadbusi_assets.stages import imaging, retrieval
from cadbusi_assets.stages.safety import ALLOW_SHRINK_ENV
from cadbusi_assets.storage import (
    open_zone,
    read_all_partition_tables,
    read_partition_table,
    write_partition_table,
)
from cadbusi_assets_tests.builders import (
    DAY_A,
    DAY_B,
    add_imaged,
    resend_instance,
    set_accession,
    write_cohort_with_accession,
)
from cadbusi_assets_tests.support import TEST_KEY, time_limit


@pytest.fixture(autouse=True)
def _no_allow_shrink(monkeypatch):
    monkeypatch.delenv(ALLOW_SHRINK_ENV, raising=False)


def _catalog_rows(research) -> tuple[list[tuple], list[tuple]]:
    con = open_catalog(research)
    try:
        images = con.execute("SELECT image_id, png_sha256 FROM image_catalog ORDER BY 1").fetchall()
        left = con.execute(
            "SELECT item, stage, reason FROM exclusions WHERE stage = 'catalog' ORDER BY 1"
        ).fetchall()
    finally:
        con.close()
    return images, left


def _catalog_dump(research) -> dict[str, list[tuple]]:
    """Every table and view of the catalog, its rows in stored order."""
    con = open_catalog(research)
    try:
        names = [
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        ]
        return {n: con.execute(f'SELECT * FROM "{n}"').fetchall() for n in sorted(names)}
    finally:
        con.close()


def _export_succeeds(research) -> None:
    assert catalog_problems(research, None) == []  # the export asset's gate
    report = build_export(
        research,
        ExportConfig(key="resent-check", include_excluded=True),
        {"label_set_version": None},
        workers=1,
    )
    assert report.images >= 1


def test_the_same_pixels_twice_on_one_date_keep_one_copy_and_record_the_other(tmp_path):
    raw = open_zone(tmp_path / "raw", name="raw").ensure()
    research = open_zone(tmp_path / "research", name="research").ensure()
    pseudo = Pseudonymizer(TEST_KEY)
    pacs_root = tmp_path / "pacs"
    study = synthetic_uid(791)
    add_imaged(pacs_root, study, 1, day=DAY_A)
    add_imaged(pacs_root, study, 2, day=DAY_A)
    resend_instance(pacs_root, study, 1, synthetic_uid(792), day=DAY_A)
    write_cohort_with_accession(raw, DAY_A, study, "SYNTH0001")
    batch = pseudo.batch_name(DAY_A)
    with time_limit(180, "two passes over one small date"):
        retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, DAY_A)
        imaging.process_partition(raw, research, pseudo, DAY_A, ocr=False, workers=1)
        images = read_partition_table(research, deid.IMAGES_TABLE, batch)
        quarantine = read_partition_table(research, deid.QUARANTINE_TABLE, batch)
        assert images is not None and quarantine is not None
        assert images.height == 2 and images["png_sha256"].n_unique() == 2
        assert quarantine["reason"].to_list() == [deid.RESENT_REASON]
        # the copy kept: the smallest instance id of the two
        instances = read_partition_table(research, deid.INSTANCES_TABLE, batch)
        assert instances is not None
        ids = {instance_id_for(pseudo.uid(s)) for s in (f"{study}.1.1", synthetic_uid(792))}
        assert min(ids) in set(instances["instance_id"]) and max(ids) not in set(
            instances["instance_id"]
        )
        # no file of the copy left in the zone: every PNG and DICOM is one a table lists
        pngs = {
            p.relative_to(tmp_path / "research").as_posix()
            for p in (tmp_path / "research" / "images").rglob("*.png")
        }
        assert pngs == set(images["png_path"])
        dicoms = {
            p.relative_to(tmp_path / "research").as_posix()
            for p in (tmp_path / "research" / "dicom").rglob("*.dcm")
        }
        assert dicoms == set(instances["dicom_path"])
        tables = {
            t: research.read_bytes("tables", t, f"{batch}.parquet")
            for t in (deid.IMAGES_TABLE, deid.INSTANCES_TABLE, deid.QUARANTINE_TABLE)
        }
        imaging.process_partition(raw, research, pseudo, DAY_A, ocr=False, workers=1)
        for t, data in tables.items():  # a re-run gives the same tables
            assert research.read_bytes("tables", t, f"{batch}.parquet") == data
    report = build_metadata_db(research)
    assert report.unique_keys_passed, report.duplicate_examples
    _export_succeeds(research)


def _two_dates(tmp_path: Path, order: tuple[str, str]) -> tuple[dict[str, list[tuple]], object]:
    raw = open_zone(tmp_path / "raw", name="raw").ensure()
    research = open_zone(tmp_path / "research", name="research").ensure()
    pseudo = Pseudonymizer(TEST_KEY)
    pacs_root = tmp_path / "pacs"
    study_a, study_b = synthetic_uid(793), synthetic_uid(794)
    add_imaged(pacs_root, study_a, 1, day=DAY_A)
    add_imaged(pacs_root, study_a, 2, day=DAY_A)
    add_imaged(pacs_root, study_b, 3, day=DAY_B)
    resend_instance(pacs_root, study_b, 1, synthetic_uid(795), day=DAY_B)  # study A's image 1 again
    write_cohort_with_accession(raw, DAY_A, study_a, "SYNTH0001")
    set_accession(pacs_root / study_b, "SYNTH0002")  # another study of the same patient
    write_cohort_with_accession(raw, DAY_B, study_b, "SYNTH0002")
    with time_limit(240, "two small dates, each run twice"):
        for day in (DAY_A, DAY_B):
            retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, day)
        for day in (*order, order[0]):  # the first date re-run after the second
            imaging.process_partition(raw, research, pseudo, day, ocr=False, workers=1)
    stored = read_all_partition_tables(research, deid.IMAGES_TABLE)
    assert stored is not None and stored.height == 4  # nothing stored is left out or deleted
    for path in stored["png_path"]:
        assert research.exists(*path.split("/"))
    report = build_metadata_db(research)
    assert report.unique_keys_passed, report.duplicate_examples
    assert report.warnings[RESENT_LEFT_OUT] == 1
    images, left = _catalog_rows(research)
    assert len(images) == 3 and len({h for _, h in images}) == 3
    ids = {instance_id_for(pseudo.uid(s)) for s in (f"{study_a}.1.1", synthetic_uid(795))}
    kept = stored.filter(stored["instance_id"] == min(ids))["image_id"].to_list()
    gone = stored.filter(stored["instance_id"] == max(ids))["image_id"].to_list()
    assert set(kept) <= {i for i, _ in images} and left == [(gone[0], "catalog", RESENT_REASON)]
    _export_succeeds(research)
    return _catalog_dump(research), (images, left)


def test_the_same_pixels_on_two_dates_keep_one_copy_whatever_the_run_order(tmp_path):
    tables_ab, forward = _two_dates(tmp_path / "ab", (DAY_A, DAY_B))
    tables_ba, backward = _two_dates(tmp_path / "ba", (DAY_B, DAY_A))
    assert forward == backward
    assert tables_ab == tables_ba  # every catalog table and view, row for row


def _rows(batch: str, rows: list[tuple[str, str, str]]) -> pl.DataFrame:
    """``images`` rows (image id, instance id, pixel hash) of patient P1."""
    return pl.DataFrame(
        {
            "image_id": [r[0] for r in rows],
            "instance_id": [r[1] for r in rows],
            "accession_pseudo": [f"A{batch}"] * len(rows),
            "patient_pseudo": ["P1"] * len(rows),
            "png_sha256": [r[2] for r in rows],
        }
    )


def test_the_catalog_leaves_out_only_copies_of_another_batch_and_another_instance(tmp_path):
    """Kept: the smallest instance id, whichever batch holds it; its twin rows go with a
    copy. Not hidden: the same pixels twice in one batch (the de-identification never writes
    that) and one instance in two batches (the image and instance checks must still fail)."""
    zone = open_zone(tmp_path / "research", "research").ensure()
    write_partition_table(
        zone, "images", "b1", _rows("1", [("i-z", "n-9", "h1"), ("i-y", "n-3", "h2")])
    )
    write_partition_table(
        zone, "images", "b2", _rows("2", [("i-a", "n-1", "h1"), ("i-c", "n-4", "h3")])
    )
    twins = pl.DataFrame({"caliper_image_id": ["i-y", "i-c"], "clean_image_id": ["i-z", "i-y"]})
    write_partition_table(zone, "twins", "b1", twins)
    report = build_metadata_db(zone)
    assert report.unique_keys_passed and report.warnings[RESENT_LEFT_OUT] == 1
    con = open_catalog(zone)
    try:
        assert con.execute("SELECT count(*) FROM images").fetchall() == [(4,)]  # all stored
        assert [
            r[0] for r in con.execute("SELECT image_id FROM image_catalog ORDER BY 1").fetchall()
        ] == [
            "i-a",
            "i-c",
            "i-y",
        ]
        assert con.execute("SELECT * FROM left_out_images").fetchall() == [
            ("i-z", "n-9", "A1", "i-a", RESENT_REASON)
        ]
        assert con.execute("SELECT * FROM twins").fetchall() == [("i-c", "i-y")]
    finally:
        con.close()

    # the same pixels twice in one batch still fail the check
    write_partition_table(
        zone, "images", "b3", _rows("3", [("i-p", "n-5", "h9"), ("i-q", "n-6", "h9")])
    )
    assert build_metadata_db(zone).duplicate_keys["pixel_hash_per_patient"] == 1
    # one instance in two batches is not hidden as a copy: the image id check fails
    write_partition_table(zone, "images", "b3", _rows("3", [("i-a", "n-1", "h1")]))
    report = build_metadata_db(zone)
    assert report.duplicate_keys["image_id"] == 1 and not report.unique_keys_passed


def test_the_de_identification_asset_alone_resolves_a_copy_on_one_date_the_same_way(tmp_path):
    """``deidentify_partition`` (the ``deidentified_images`` asset) keeps the same instance as
    the one pass and records the copy with the same reason."""
    raw = open_zone(tmp_path / "raw", name="raw").ensure()
    research = open_zone(tmp_path / "research", name="research").ensure()
    pseudo = Pseudonymizer(TEST_KEY)
    pacs_root = tmp_path / "pacs"
    study = synthetic_uid(796)
    resend_instance(
        pacs_root, study, 1, synthetic_uid(797), day=DAY_A
    )  # the copy first in the folder
    add_imaged(pacs_root, study, 1, day=DAY_A)
    write_cohort_with_accession(raw, DAY_A, study, "SYNTH0001")
    batch = pseudo.batch_name(DAY_A)
    with time_limit(120, "one small date"):
        retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, DAY_A)
        deid.deidentify_partition(raw, research, pseudo, DAY_A, verify_ocr=False, workers=1)
    instances = read_partition_table(research, deid.INSTANCES_TABLE, batch)
    quarantine = read_partition_table(research, deid.QUARANTINE_TABLE, batch)
    assert instances is not None and quarantine is not None
    ids = {instance_id_for(pseudo.uid(s)) for s in (f"{study}.1.1", synthetic_uid(797))}
    assert instances["instance_id"].to_list() == [min(ids)]
    assert quarantine["reason"].to_list() == [deid.RESENT_REASON]
    assert build_metadata_db(research).unique_keys_passed
