"""No run destroys data (issue 9, item 4): sharp drops fail instead of deleting, an instance on
two study dates is a recorded conflict, nothing retrieved fails the date, the pseudonym key's
fingerprint is recorded and checked, bad warehouse rows are excluded with a reason.

Everything here is synthetic (invented people, UIDs from the 2.25 test root)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import polars as pl
import pytest

from cadbusi_assets.identity import Pseudonymizer, PseudonymKey
from cadbusi_assets.pacs.folder import FolderPacs
from cadbusi_assets.pacs.manifest import CONFLICT_OTHER_DATE
from cadbusi_assets.pacs.synthetic import synthetic_uid
from cadbusi_assets.stages import records as records_stage
from cadbusi_assets.stages import retrieval
from cadbusi_assets.stages.report import StageFailure
from cadbusi_assets.stages.safety import (
    ALLOW_SHRINK_ENV,
    KEY_FINGERPRINTS_TABLE,
    check_key_fingerprint,
    record_key_fingerprint,
)
from cadbusi_assets.storage import open_zone, read_partition_table, write_partition_table
from cadbusi_assets_tests.builders import (
    DAY_A,
    DAY_B,
    FakeWarehouse,
    add_imaged,
    add_instance,
    exam_row,
    radiology_table,
    write_cohort,
)
from cadbusi_assets_tests.support import TEST_KEY

OTHER_KEY = PseudonymKey(bytes(range(100, 132)))


@pytest.fixture
def zones(tmp_path: Path):
    return open_zone(tmp_path / "raw", name="raw").ensure(), open_zone(
        tmp_path / "research", name="research"
    ).ensure()


@pytest.fixture
def pseudo() -> Pseudonymizer:
    return Pseudonymizer(TEST_KEY)


@pytest.fixture(autouse=True)
def _no_allow_shrink(monkeypatch):
    monkeypatch.delenv(ALLOW_SHRINK_ENV, raising=False)


def _dicom_files(raw, day: str) -> set[str]:
    return {raw.relative(p) for p in raw.iter_files("dicom", day)}


@pytest.fixture
def pacs_root(tmp_path: Path) -> Path:
    root = tmp_path / "pacs"
    root.mkdir()
    return root


def _studies(pacs_root: Path, n: int, first: int = 1, day: str = DAY_A) -> list[str]:
    uids = [synthetic_uid(900 + first + i) for i in range(n)]
    for uid in uids:
        add_instance(pacs_root, uid, 1, day=day)
        add_instance(pacs_root, uid, 2, day=day)
    return uids


# == 1. a sharp drop fails instead of deleting ==================================================
def test_retrieval_refuses_to_delete_a_processed_date_when_the_cohort_empties(
    zones, pseudo, pacs_root
):
    raw, _ = zones
    uids = _studies(pacs_root, 7)
    write_cohort(raw, DAY_A, uids)
    first = retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, DAY_A)
    assert first.counts["instances_fetched"] == 14 and not first.failed
    files = _dicom_files(raw, DAY_A)
    assert len(files) == 14

    write_cohort(raw, DAY_A, [])  # the warehouse answered nothing for the date
    with pytest.raises(StageFailure) as info:
        retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, DAY_A)
    message = str(info.value)
    assert "returned 0 studies for a date that has 7 processed; refusing to delete" in message
    assert "CADBUSI_ALLOW_SHRINK=1" in message and "allow_shrink=True" in message
    assert _dicom_files(raw, DAY_A) == files
    manifest = read_partition_table(raw, retrieval.INSTANCES_TABLE, DAY_A)
    assert manifest.height == 14  # the manifest still describes the files

    # a smaller drop is an ordinary change
    write_cohort(raw, DAY_A, uids[:5])
    retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, DAY_A)
    assert len(_dicom_files(raw, DAY_A)) == 10

    # an explicit override accepts the shrink
    write_cohort(raw, DAY_A, [])
    report = retrieval.retrieve_partition(
        FolderPacs(pacs_root), raw, pseudo, DAY_A, allow_shrink=True
    )
    assert _dicom_files(raw, DAY_A) == set() and not report.failed


def test_allow_shrink_environment_variable(zones, pseudo, pacs_root, monkeypatch):
    raw, _ = zones
    write_cohort(raw, DAY_A, _studies(pacs_root, 4))
    retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, DAY_A)
    write_cohort(raw, DAY_A, [])
    monkeypatch.setenv(ALLOW_SHRINK_ENV, "1")
    retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, DAY_A)
    assert _dicom_files(raw, DAY_A) == set()


def test_retrieval_refuses_to_delete_when_the_pacs_suddenly_knows_none_of_the_studies(
    zones, pseudo, pacs_root, tmp_path
):
    raw, _ = zones
    uids = _studies(pacs_root, 4)
    write_cohort(raw, DAY_A, uids)
    retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, DAY_A)
    files = _dicom_files(raw, DAY_A)
    empty = tmp_path / "empty-pacs"
    empty.mkdir()
    with pytest.raises(StageFailure, match="the PACS returned 0 studies with files"):
        retrieval.retrieve_partition(FolderPacs(empty), raw, pseudo, DAY_A)
    assert _dicom_files(raw, DAY_A) == files


def test_records_keep_a_processed_day_when_the_warehouse_returns_nothing(zones):
    raw, _ = zones
    rows = [exam_row(f"SYNACC{i}", DAY_A, synthetic_uid(500 + i)) for i in range(7)]
    rows.append(exam_row("SYNACCB", DAY_B, synthetic_uid(600)))
    warehouse = FakeWarehouse(radiology_table(rows))
    days = [DAY_A, DAY_B]
    records_stage.load_radiology_reports(warehouse, raw, days)
    records_stage.select_imaging_studies(warehouse, raw, days)
    before = read_partition_table(raw, records_stage.COHORT_TABLE, DAY_A)
    assert before.height == 7

    warehouse.radiology = radiology_table(rows[-1:])  # reachable, but nothing for DAY_A
    reports = records_stage.load_radiology_reports(warehouse, raw, days)
    assert reports[DAY_A].failed and not reports[DAY_B].failed
    assert (
        "returned 0 exams for a date that has 7 processed; refusing to delete"
        in (reports[DAY_A].problems[0])
    )
    assert read_partition_table(raw, records_stage.RADIOLOGY_TABLE, DAY_A).height == 7
    # the cohort is guarded on its own as well (a stored table that shrank by other means)
    write_partition_table(
        raw,
        records_stage.RADIOLOGY_TABLE,
        DAY_A,
        read_partition_table(raw, records_stage.RADIOLOGY_TABLE, DAY_A).head(0),
    )
    cohort_reports = records_stage.select_imaging_studies(warehouse, raw, days)
    assert cohort_reports[DAY_A].failed
    assert (
        "returned 0 studies for a date that has 7 processed" in (cohort_reports[DAY_A].problems[0])
    )
    assert read_partition_table(raw, records_stage.COHORT_TABLE, DAY_A).equals(before)

    accepted = records_stage.select_imaging_studies(warehouse, raw, days, allow_shrink=True)
    assert not accepted[DAY_A].failed
    assert read_partition_table(raw, records_stage.COHORT_TABLE, DAY_A).height == 0


# == 2. one instance on two study dates ========================================================
def test_an_instance_on_two_dates_is_a_recorded_conflict_never_an_overwrite(
    zones, pseudo, pacs_root
):
    raw, _ = zones
    study_a, study_b = synthetic_uid(701), synthetic_uid(702)
    shared_sop = synthetic_uid(799)
    add_instance(pacs_root, study_a, 1, day=DAY_A)
    shared_a = add_instance(pacs_root, study_a, 2, sop=shared_sop, day=DAY_A)
    add_instance(pacs_root, study_b, 1, day=DAY_B)
    # the same instance (same SOP Instance UID) filed under a study of the next day as well
    shared_b = pacs_root / study_b / "IM0009.dcm"
    shutil.copyfile(shared_a, shared_b)
    write_cohort(raw, DAY_A, [study_a])
    write_cohort(raw, DAY_B, [study_b])

    retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, DAY_A)
    files_a = {p: raw.read_bytes(p) for p in _dicom_files(raw, DAY_A)}
    assert len(files_b_before := _dicom_files(raw, DAY_B)) == 0 and len(files_a) == 2

    report_b = retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, DAY_B)
    manifest_a = read_partition_table(raw, retrieval.INSTANCES_TABLE, DAY_A)
    manifest_b = read_partition_table(raw, retrieval.INSTANCES_TABLE, DAY_B)
    # keys never collide across dates: no instance key is in both manifests
    assert not set(manifest_a["instance_key"]) & set(manifest_b["instance_key"])
    assert report_b.counts["instances_held_by_another_study"] == 1
    assert not report_b.failed
    conflicts = read_partition_table(raw, retrieval.CONFLICTS_TABLE, DAY_B)
    assert conflicts.height == 1
    row = conflicts.row(0, named=True)
    assert row["owner_partition"] == DAY_A and row["reason"] == CONFLICT_OTHER_DATE
    assert row["sop_instance_uid"] == shared_sop
    assert shared_sop not in manifest_b["sop_instance_uid"].to_list()
    assert len(files_b_before) == 0 and len(_dicom_files(raw, DAY_B)) == 1
    assert {p: raw.read_bytes(p) for p in _dicom_files(raw, DAY_A)} == files_a

    # re-runs of either date change nothing
    retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, DAY_B)
    retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, DAY_A)
    assert {p: raw.read_bytes(p) for p in _dicom_files(raw, DAY_A)} == files_a
    assert read_partition_table(raw, retrieval.CONFLICTS_TABLE, DAY_B).height == 1

    # the owner drops the instance (it left the PACS study): the claim is released, and the
    # other date takes the instance on its next run
    shared_a.unlink()
    retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, DAY_A)
    assert len(_dicom_files(raw, DAY_A)) == 1
    retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, DAY_B)
    assert read_partition_table(raw, retrieval.CONFLICTS_TABLE, DAY_B).height == 0
    manifest_b = read_partition_table(raw, retrieval.INSTANCES_TABLE, DAY_B)
    assert shared_sop in manifest_b["sop_instance_uid"].to_list()


# == 3. nothing retrieved fails the date ======================================================
def test_nothing_retrieved_for_a_non_empty_cohort_fails_the_date(zones, pseudo, pacs_root):
    raw, _ = zones
    write_cohort(raw, DAY_A, [synthetic_uid(801), synthetic_uid(802)])  # not in the PACS
    report = retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, DAY_A)
    assert report.failed
    assert report.problems[0].startswith("nothing could be retrieved for the 2 studies")
    assert "study not found in PACS" in report.problems[0]

    write_cohort(raw, DAY_B, [])  # an empty cohort is not a failure
    assert not retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, DAY_B).failed


# == 4. key fingerprint per partition ===========================================================
def test_a_changed_pseudonym_key_fails_the_run(zones, pseudo, pacs_root):
    raw, research = zones
    write_cohort(raw, DAY_A, _studies(pacs_root, 2))
    retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, DAY_A)
    recorded = read_partition_table(raw, KEY_FINGERPRINTS_TABLE, DAY_A)
    assert recorded["fingerprint"].to_list() == [TEST_KEY.fingerprint]
    assert TEST_KEY.secret_bytes().hex()[:16] not in recorded["fingerprint"][0]
    files = _dicom_files(raw, DAY_A)

    other = Pseudonymizer(OTHER_KEY)
    with pytest.raises(StageFailure, match="processed with the pseudonym key") as info:
        retrieval.retrieve_partition(FolderPacs(pacs_root), raw, other, DAY_A)
    assert OTHER_KEY.secret_bytes().hex() not in str(info.value)
    assert _dicom_files(raw, DAY_A) == files
    # another date of the same zone with the other key fails as well (one zone, one key)
    write_cohort(raw, DAY_B, [])
    with pytest.raises(StageFailure, match="refusing to mix"):
        retrieval.retrieve_partition(FolderPacs(pacs_root), raw, other, DAY_B)

    # the helpers work on any zone and partition (the research zone uses batch names)
    batch = pseudo.batch_name(DAY_A)
    check_key_fingerprint(research, batch, TEST_KEY.fingerprint)
    record_key_fingerprint(research, batch, TEST_KEY.fingerprint)
    check_key_fingerprint(research, batch, TEST_KEY.fingerprint)
    with pytest.raises(StageFailure):
        check_key_fingerprint(research, other.batch_name(DAY_A), OTHER_KEY.fingerprint)


def test_a_new_dates_key_check_reads_the_zones_index_not_every_date(zones, monkeypatch):
    """The zone-wide check of a date's first run read every date's ``key_fingerprints`` table:
    with 3,650 dates 1.6-2.0 s a check on local disk (several a date), hours over a backfill
    of ten years of new dates, a request per table on object storage. It reads the zone's index of fingerprints now; only when
    the index names another key is every table read, and those decide."""
    from cadbusi_assets.stages import safety

    raw, _research = zones
    days = [(dt.date(2016, 1, 1) + dt.timedelta(days=i)).isoformat() for i in range(40)]
    for day in days:
        record_key_fingerprint(raw, day, TEST_KEY.fingerprint)

    def no_scan(*_args, **_kwargs):
        raise AssertionError("every date's table was read")

    with monkeypatch.context() as patched:
        patched.setattr(safety, "read_all_partition_tables", no_scan)
        check_key_fingerprint(raw, "2030-01-01", TEST_KEY.fingerprint)
        record_key_fingerprint(raw, "2030-01-01", TEST_KEY.fingerprint)
    # another key: the index names the zone's key, the tables confirm, the run is refused
    with pytest.raises(StageFailure, match="refusing to mix"):
        check_key_fingerprint(raw, "2030-01-02", OTHER_KEY.fingerprint)


def test_the_key_index_of_an_older_zone_is_built_and_a_stale_entry_never_refuses(zones):
    """A zone written before the index: its first check reads every table once and indexes
    them (another key is still refused). A key whose dates were all deleted since (a zone
    rebuilt on purpose) stays in the index, but only the tables decide: the run goes on and the
    index is mended."""
    from cadbusi_assets.stages.safety import KEY_INDEX, zone_fingerprints

    raw, _research = zones
    for day in (DAY_A, DAY_B):  # as the code before the index wrote them
        write_partition_table(
            raw,
            KEY_FINGERPRINTS_TABLE,
            day,
            pl.DataFrame({"partition": [day], "fingerprint": [OTHER_KEY.fingerprint]}),
        )
    assert not raw.exists(KEY_INDEX)
    with pytest.raises(StageFailure, match="refusing to mix"):
        check_key_fingerprint(raw, "2030-01-01", TEST_KEY.fingerprint)
    assert zone_fingerprints(raw) == {OTHER_KEY.fingerprint}
    for day in (DAY_A, DAY_B):
        raw.delete("tables", KEY_FINGERPRINTS_TABLE, f"{day}.parquet")
    check_key_fingerprint(raw, "2030-01-01", TEST_KEY.fingerprint)  # the tables decide
    assert zone_fingerprints(raw) == set()
    record_key_fingerprint(raw, "2030-01-01", TEST_KEY.fingerprint)
    assert zone_fingerprints(raw) == {TEST_KEY.fingerprint}


# == 5. NULL patient ids, missing or future dates, duplicated rows ============================
def test_bad_warehouse_rows_are_excluded_with_a_reason_and_never_crash_the_run(zones):
    raw, _ = zones
    future = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30)).isoformat()
    rows = [
        exam_row("SYNACC1", DAY_A, synthetic_uid(1001)),
        exam_row("SYNACC2", DAY_A, synthetic_uid(1002), patient_id=None),
        exam_row("SYNACC3", DAY_A, synthetic_uid(1003), patient_id="  "),
        exam_row("SYNACC4", DAY_A, synthetic_uid(1004)),
        exam_row("SYNACC4", DAY_A, synthetic_uid(1004)),  # an exact duplicate row
        exam_row("SYNACC5", DAY_A, synthetic_uid(1005), report_status="PRELIMINARY"),
        exam_row("SYNACC5", DAY_A, synthetic_uid(1005), report_status="FINAL"),  # fan-out
        exam_row("SYNACC6", future, synthetic_uid(1006)),
    ]
    warehouse = FakeWarehouse(radiology_table(rows))
    days = [DAY_A, future]
    loaded = records_stage.load_radiology_reports(warehouse, raw, days)
    reports = records_stage.select_imaging_studies(warehouse, raw, days)  # no TypeError
    assert loaded[DAY_A].counts["duplicate_warehouse_rows_dropped_in_window"] == 1
    assert read_partition_table(raw, records_stage.RADIOLOGY_TABLE, DAY_A).height == 6

    cohort = read_partition_table(raw, records_stage.COHORT_TABLE, DAY_A)
    exclusions = read_partition_table(raw, records_stage.COHORT_EXCLUSIONS_TABLE, DAY_A)
    assert sorted(cohort["accession_number"]) == ["SYNACC1", "SYNACC4", "SYNACC5"]
    assert cohort.filter(pl.col("accession_number") == "SYNACC5")["report_status"][0] == "FINAL"
    reasons = dict(zip(exclusions["accession_number"], exclusions["exclusion_reason"], strict=True))
    assert reasons == {
        "SYNACC2": "missing patient id",
        "SYNACC3": "missing patient id",
        "SYNACC5": "duplicate row",
    }
    assert reports[DAY_A].counts["excluded: missing patient id"] == 2
    future_exclusions = read_partition_table(raw, records_stage.COHORT_EXCLUSIONS_TABLE, future)
    assert future_exclusions["exclusion_reason"].to_list() == ["exam date in the future"]


def test_which_duplicate_row_is_kept_does_not_depend_on_warehouse_order(zones, tmp_path):
    rows = [
        exam_row("SYNACC7", DAY_A, synthetic_uid(1101), report_text="FINDINGS: a\nBI-RADS 2"),
        exam_row("SYNACC7", DAY_A, synthetic_uid(1101), report_text="FINDINGS: b\nBI-RADS 3"),
        exam_row("SYNACC8", DAY_A, synthetic_uid(1102)),
    ]
    tables = []
    for order in (rows, rows[::-1]):
        raw = open_zone(tmp_path / f"raw{len(tables)}", name="raw").ensure()
        warehouse = FakeWarehouse(radiology_table(order))
        records_stage.load_radiology_reports(warehouse, raw, [DAY_A])
        records_stage.select_imaging_studies(warehouse, raw, [DAY_A])
        tables.append(
            tuple(
                read_partition_table(raw, t, DAY_A)
                for t in (
                    records_stage.RADIOLOGY_TABLE,
                    records_stage.COHORT_TABLE,
                    records_stage.COHORT_EXCLUSIONS_TABLE,
                )
            )
        )
    for first, second in zip(*tables, strict=True):
        assert first.equals(second)


# == 1b. de-identification and inpainting keep their files on a sharp drop ===================
def _research_batch(research, batch: str, names: list[str]) -> list[str]:
    from cadbusi_assets.stages import deidentification as deid

    dicom_paths = [f"dicom/{n[:2]}/{n}.dcm" for n in names]
    png_paths = [f"images/{n[:2]}/{n}.png" for n in names]
    for path in dicom_paths + png_paths:
        research.write_bytes(tuple(path.split("/")), b"synthetic")
    write_partition_table(
        research,
        deid.INSTANCES_TABLE,
        batch,
        pl.DataFrame({"instance_id": names, "dicom_path": dicom_paths}),
    )
    write_partition_table(
        research,
        deid.IMAGES_TABLE,
        batch,
        pl.DataFrame({"image_id": names, "instance_id": names, "png_path": png_paths}),
    )
    return dicom_paths + png_paths


def test_deidentification_refuses_to_delete_a_batch_when_nothing_comes_in(zones, pseudo):
    from cadbusi_assets.stages import deidentification as deid

    raw, research = zones
    batch = pseudo.batch_name(DAY_A)
    paths = _research_batch(research, batch, [f"{i:02d}aa{i}" for i in range(5)])
    write_partition_table(
        raw,
        retrieval.INSTANCES_TABLE,
        DAY_A,
        pl.DataFrame(
            schema={
                "status": pl.Utf8,
                "raw_path": pl.Utf8,
                "instance_key": pl.Utf8,
                "study_instance_uid": pl.Utf8,
            }
        ),
    )
    write_cohort(raw, DAY_A, [])
    with pytest.raises(StageFailure, match="returned 0 de-identified instances for a date that"):
        deid.deidentify_partition(raw, research, pseudo, DAY_A, verify_ocr=False, workers=1)
    assert all(research.exists(*p.split("/")) for p in paths)
    assert read_partition_table(research, deid.IMAGES_TABLE, batch).height == 5

    # accepted on purpose: the batch's files go, but never a file another batch still lists
    other = pseudo.batch_name(DAY_B)
    _research_batch(research, other, ["00aa0"])
    deid.deidentify_partition(
        raw, research, pseudo, DAY_A, verify_ocr=False, workers=1, allow_shrink=True
    )
    left = {p for p in paths if research.exists(*p.split("/"))}
    assert left == {"dicom/00/00aa0.dcm", "images/00/00aa0.png"}


def test_inpainting_refuses_to_delete_a_batch_when_nothing_comes_in(zones, pseudo):
    from cadbusi_assets.stages import analysis
    from cadbusi_assets.stages import deidentification as deid

    _, research = zones
    batch = pseudo.batch_name(DAY_A)
    names = [f"{i:02d}bb{i}" for i in range(4)]
    _research_batch(research, batch, names)
    write_partition_table(
        research,
        analysis.FEATURES_TABLE,
        batch,
        pl.DataFrame({"image_id": names, "has_calipers": [False] * 4}),
    )
    inpainted = [f"inpainted/{n[:2]}/{n}.png" for n in names]
    for path in inpainted:
        research.write_bytes(tuple(path.split("/")), b"synthetic")
    write_partition_table(
        research,
        analysis.INPAINTED_TABLE,
        batch,
        pl.DataFrame({"image_id": names, "inpainted_path": inpainted}),
    )
    with pytest.raises(StageFailure, match="returned 0 inpainted images"):
        analysis.inpaint_partition(research, batch, workers=1)
    assert all(research.exists(*p.split("/")) for p in inpainted)
    assert read_partition_table(research, deid.IMAGES_TABLE, batch).height == 4


def test_a_shared_instance_never_overwrites_or_deletes_the_other_dates_research_files(
    zones, pseudo, pacs_root
):
    """End to end through de-identification: the research files of date A stay what A wrote
    while date B (which lists the same SOP Instance UID) is retrieved, de-identified and re-run
    without it."""
    import hashlib

    from cadbusi_assets.stages import deidentification as deid

    raw, research = zones
    study_a, study_b = synthetic_uid(711), synthetic_uid(712)
    add_imaged(pacs_root, study_a, 1, day=DAY_A)
    shared = add_imaged(pacs_root, study_a, 2, sop=synthetic_uid(719), day=DAY_A)
    add_imaged(pacs_root, study_b, 1, day=DAY_B)
    add_imaged(pacs_root, study_b, 3, day=DAY_B)
    shared_in_b = pacs_root / study_b / "IM0009.dcm"
    shutil.copyfile(shared, shared_in_b)
    write_cohort(raw, DAY_A, [study_a])
    write_cohort(raw, DAY_B, [study_b])

    def run(day: str) -> None:
        retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, day)
        deid.deidentify_partition(raw, research, pseudo, day, verify_ocr=False, workers=1)

    def a_files_intact() -> bool:
        table = read_partition_table(research, deid.INSTANCES_TABLE, pseudo.batch_name(DAY_A))
        assert table.height == 2
        return all(
            research.exists(*path.split("/"))
            and hashlib.sha256(research.read_bytes(path)).hexdigest() == digest
            for path, digest in table.select("dicom_path", "dicom_sha256").iter_rows()
        )

    run(DAY_A)
    assert a_files_intact()
    run(DAY_B)
    assert a_files_intact()  # never overwritten
    shared_in_b.unlink()  # the PACS drops it from B's study; B is re-run
    run(DAY_B)
    assert a_files_intact()  # never deleted


def test_labels_skip_and_count_exams_without_a_patient_or_accession(zones, pseudo):
    raw, research = zones
    rows = [
        exam_row("SYNACC1", DAY_A, synthetic_uid(1201)),
        exam_row("SYNACC2", DAY_A, synthetic_uid(1202), patient_id=None),
        exam_row(None, DAY_A, synthetic_uid(1203)),
    ]
    warehouse = FakeWarehouse(radiology_table(rows))
    records_stage.load_radiology_reports(warehouse, raw, [DAY_A])
    records_stage.load_pathology_reports(warehouse, raw, [DAY_A])
    report = records_stage.build_diagnosis_labels(raw, research, pseudo)
    assert report.counts["exams_skipped_without_patient_or_accession"] == 2
    labels = research.read_parquet(*records_stage.LABELS_PATH)
    assert labels["patient_id"].null_count() == 0
    assert labels.height == report.counts["breast_exams"] == 1


def test_check_partition_key_for_the_other_stages(zones, pseudo):
    from cadbusi_assets.stages.safety import check_partition_key

    raw, research = zones
    record_key_fingerprint(raw, DAY_A, TEST_KEY.fingerprint)
    assert check_partition_key(raw, research, DAY_A, pseudo, record=True) == TEST_KEY.fingerprint
    batch_record = read_partition_table(research, KEY_FINGERPRINTS_TABLE, pseudo.batch_name(DAY_A))
    assert batch_record["fingerprint"].to_list() == [TEST_KEY.fingerprint]
    other = Pseudonymizer(OTHER_KEY)
    with pytest.raises(StageFailure):
        check_partition_key(raw, None, DAY_A, other)
    with pytest.raises(StageFailure):  # a new key gives a new batch name: the zone tells
        check_partition_key(None, research, DAY_A, other)


def test_two_dates_retrieved_at_once_give_each_instance_one_owner(zones, pseudo, pacs_root):
    import threading

    raw, _ = zones
    study_a, study_b = synthetic_uid(721), synthetic_uid(722)
    shared_sops = [synthetic_uid(730 + i) for i in range(6)]
    for i, sop in enumerate(shared_sops):
        path = add_instance(pacs_root, study_a, i + 1, sop=sop, day=DAY_A)
        (pacs_root / study_b).mkdir(exist_ok=True)
        shutil.copyfile(path, pacs_root / study_b / path.name)
    write_cohort(raw, DAY_A, [study_a])
    write_cohort(raw, DAY_B, [study_b])
    errors: list[BaseException] = []

    def run(day: str) -> None:
        try:
            retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, day, concurrency=4)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(day,)) for day in (DAY_A, DAY_B)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    stored = pl.concat(
        [read_partition_table(raw, retrieval.INSTANCES_TABLE, d) for d in (DAY_A, DAY_B)]
    )
    conflicts = pl.concat(
        [read_partition_table(raw, retrieval.CONFLICTS_TABLE, d) for d in (DAY_A, DAY_B)]
    )
    assert sorted(stored["sop_instance_uid"].to_list()) == sorted(shared_sops)
    assert sorted(conflicts["sop_instance_uid"].to_list()) == sorted(shared_sops)


@pytest.mark.parametrize("stale", [True, False])
def test_a_claim_left_by_a_crashed_run_is_taken_over_only_once_its_owner_finished(
    zones, pseudo, pacs_root, stale
):
    import os
    import time

    raw, _ = zones
    study_a, study_b = synthetic_uid(741), synthetic_uid(742)
    shared_sop = synthetic_uid(749)
    add_instance(pacs_root, study_a, 1, day=DAY_A)
    add_instance(pacs_root, study_b, 1, day=DAY_B)
    add_instance(pacs_root, study_b, 2, sop=shared_sop, day=DAY_B)
    write_cohort(raw, DAY_A, [study_a])
    write_cohort(raw, DAY_B, [study_b])
    # date A claimed the instance in a run that crashed, then finished a run without it
    claim = ("claims", "instances")
    key = pseudo.raw_key("instance", shared_sop)
    raw.write_bytes((*claim, key[:2], key), f"{DAY_A}/{pseudo.raw_key('study', study_a)}".encode())
    retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, DAY_A)
    claim_path = raw.local_path(*claim, key[:2], key)
    if stale:
        os.utime(claim_path, (time.time() - 3600, time.time() - 3600))
    else:  # the claim is newer than A's manifest: A may be storing it right now
        os.utime(claim_path, (time.time() + 3600, time.time() + 3600))
    retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, DAY_B)
    stored_b = read_partition_table(raw, retrieval.INSTANCES_TABLE, DAY_B)
    conflicts_b = read_partition_table(raw, retrieval.CONFLICTS_TABLE, DAY_B)
    assert (shared_sop in stored_b["sop_instance_uid"].to_list()) is stale
    assert conflicts_b.height == (0 if stale else 1)
