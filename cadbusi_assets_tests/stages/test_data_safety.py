"""No run destroys data (issue 9, item 4): sharp drops fail instead of deleting, an instance on
two study dates is a recorded conflict, nothing retrieved fails the date, the pseudonym key's
fingerprint is recorded and checked, bad warehouse rows are excluded with a reason.

Everything here is synthetic (invented people, UIDs from the 2.25 test root)."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Sequence
from pathlib import Path

import polars as pl
import pytest

from cadbusi_assets.identity import Pseudonymizer, PseudonymKey
from cadbusi_assets.pacs.folder import FolderPacs
from cadbusi_assets.pacs.manifest import CONFLICT_OTHER_DATE
from cadbusi_assets.pacs.synthetic import synthetic_uid, synthetic_us_instance
from cadbusi_assets.records.schemas import (
    EXAM_COUNTS_SCHEMA,
    PATHOLOGY_SCHEMA,
    PATIENTS_SCHEMA,
    RADIOLOGY_SCHEMA,
)
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
from cadbusi_assets_tests.support import TEST_KEY

DAY_A = "2024-03-05"
DAY_B = "2024-03-06"
OTHER_KEY = PseudonymKey(bytes(range(100, 132)))


# -- a warehouse whose answer the test can change ---------------------------------------------
class FakeWarehouse:
    """In-memory warehouse with the documented schemas (the rows can be swapped between runs)."""

    def __init__(self, radiology: pl.DataFrame, patients: pl.DataFrame | None = None) -> None:
        self.radiology = radiology
        self.pathology = pl.DataFrame(schema=PATHOLOGY_SCHEMA)
        self.patients_frame = patients if patients is not None else _patients()

    def radiology_exams(self, start: dt.date, end: dt.date) -> pl.DataFrame:
        return self.radiology.filter(pl.col("exam_date").is_between(start, end))

    def pathology_specimens(self, start: dt.date, end: dt.date) -> pl.DataFrame:
        return self.pathology.filter(pl.col("specimen_date").is_between(start, end))

    def patients(self, patient_ids: Sequence[str]) -> pl.DataFrame:
        assert all(isinstance(p, str) for p in patient_ids)
        return self.patients_frame.filter(pl.col("patient_id").is_in(list(patient_ids)))

    def exam_counts(self, start: dt.date, end: dt.date) -> pl.DataFrame:
        return pl.DataFrame(schema=EXAM_COUNTS_SCHEMA)

    def radiology_history(
        self, patient_ids: Sequence[str], start: dt.date, end: dt.date
    ) -> pl.DataFrame:
        ids = [p for p in patient_ids if p is not None]
        return self.radiology.filter(
            pl.col("patient_id").is_in(ids) & pl.col("exam_date").is_between(start, end)
        )

    def close(self) -> None:
        return None


def _patients() -> pl.DataFrame:
    return pl.DataFrame(
        [
            ("SYN-P1", "TESTER^ALPHA", dt.date(1970, 1, 2), "F"),
            ("SYN-P2", "TESTER^BETA", dt.date(1980, 3, 4), "F"),
        ],
        schema=PATIENTS_SCHEMA,
        orient="row",
    )


def _exam(accession: str, day: str, uid: str | None, **extra) -> dict:
    row = {
        "accession_number": accession,
        "patient_id": "SYN-P1",
        "encounter_id": None,
        "exam_date": dt.date.fromisoformat(day),
        "exam_datetime": dt.datetime.fromisoformat(day + "T10:00:00"),
        "modality": "US",
        "exam_description": "US BREAST LEFT",
        "laterality": "LEFT",
        "report_text": "FINDINGS: Simple cyst.\nIMPRESSION: BI-RADS 2 - Benign",
        "report_status": "FINAL",
        "study_instance_uid": uid,
        "site": "MAIN",
        "radiologist": "RAD1",
    }
    row.update(extra)
    return row


def _radiology(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(
        [{c: r.get(c) for c in RADIOLOGY_SCHEMA} for r in rows],
        schema=RADIOLOGY_SCHEMA,
        orient="row",
    )


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


# -- a folder PACS ----------------------------------------------------------------------------
def _add(root: Path, study: str, n: int, *, sop: str | None = None, day: str = DAY_A) -> Path:
    folder = root / study
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"IM{n:04d}.dcm"
    path.write_bytes(
        synthetic_us_instance(
            study,
            study + ".1",
            sop or f"{study}.1.{n}",
            rows=8,
            columns=8,
            study_date=dt.date.fromisoformat(day),
            instance_number=n,
            seed=n,
        )
    )
    return path


def _add_imaged(root: Path, study: str, n: int, *, sop: str | None = None, day: str) -> Path:
    """A larger instance with an ultrasound region, so that it can be de-identified."""
    import pydicom
    from pydicom.dataset import Dataset

    path = _add(root, study, n, sop=sop, day=day)
    data = synthetic_us_instance(
        study,
        study + ".1",
        sop or f"{study}.1.{n}",
        rows=48,
        columns=64,
        study_date=dt.date.fromisoformat(day),
        instance_number=n,
        seed=n,
    )
    ds = pydicom.dcmread(__import__("io").BytesIO(data))
    item = Dataset()
    item.RegionLocationMinX0, item.RegionLocationMinY0 = 4, 4
    item.RegionLocationMaxX1, item.RegionLocationMaxY1 = 59, 43
    item.RegionSpatialFormat, item.RegionDataType = 1, 1
    item.PhysicalDeltaX = item.PhysicalDeltaY = 0.01
    ds.SequenceOfUltrasoundRegions = [item]
    ds.save_as(path, enforce_file_format=True)
    return path


def _cohort(raw, day: str, uids: list[str]) -> None:
    write_partition_table(
        raw,
        records_stage.COHORT_TABLE,
        day,
        pl.DataFrame(
            {
                "study_instance_uid": uids,
                "accession_number": [f"SYNACC{i}" for i in range(len(uids))],
                "patient_id": ["SYNTH-PATIENT"] * len(uids),
            },
            schema={
                "study_instance_uid": pl.Utf8,
                "accession_number": pl.Utf8,
                "patient_id": pl.Utf8,
            },
        ),
    )


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
        _add(pacs_root, uid, 1, day=day)
        _add(pacs_root, uid, 2, day=day)
    return uids


# == 1. a sharp drop fails instead of deleting ==================================================
def test_retrieval_refuses_to_delete_a_processed_date_when_the_cohort_empties(
    zones, pseudo, pacs_root
):
    raw, _ = zones
    uids = _studies(pacs_root, 7)
    _cohort(raw, DAY_A, uids)
    first = retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, DAY_A)
    assert first.counts["instances_fetched"] == 14 and not first.failed
    files = _dicom_files(raw, DAY_A)
    assert len(files) == 14

    _cohort(raw, DAY_A, [])  # the warehouse answered nothing for the date
    with pytest.raises(StageFailure) as info:
        retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, DAY_A)
    message = str(info.value)
    assert "returned 0 studies for a date that has 7 processed; refusing to delete" in message
    assert "CADBUSI_ALLOW_SHRINK=1" in message and "allow_shrink=True" in message
    assert _dicom_files(raw, DAY_A) == files
    manifest = read_partition_table(raw, retrieval.INSTANCES_TABLE, DAY_A)
    assert manifest.height == 14  # the manifest still describes the files

    # a smaller drop is an ordinary change
    _cohort(raw, DAY_A, uids[:5])
    retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, DAY_A)
    assert len(_dicom_files(raw, DAY_A)) == 10

    # an explicit override accepts the shrink
    _cohort(raw, DAY_A, [])
    report = retrieval.retrieve_partition(
        FolderPacs(pacs_root), raw, pseudo, DAY_A, allow_shrink=True
    )
    assert _dicom_files(raw, DAY_A) == set() and not report.failed


def test_allow_shrink_environment_variable(zones, pseudo, pacs_root, monkeypatch):
    raw, _ = zones
    _cohort(raw, DAY_A, _studies(pacs_root, 4))
    retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, DAY_A)
    _cohort(raw, DAY_A, [])
    monkeypatch.setenv(ALLOW_SHRINK_ENV, "1")
    retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, DAY_A)
    assert _dicom_files(raw, DAY_A) == set()


def test_retrieval_refuses_to_delete_when_the_pacs_suddenly_knows_none_of_the_studies(
    zones, pseudo, pacs_root, tmp_path
):
    raw, _ = zones
    uids = _studies(pacs_root, 4)
    _cohort(raw, DAY_A, uids)
    retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, DAY_A)
    files = _dicom_files(raw, DAY_A)
    empty = tmp_path / "empty-pacs"
    empty.mkdir()
    with pytest.raises(StageFailure, match="the PACS returned 0 studies with files"):
        retrieval.retrieve_partition(FolderPacs(empty), raw, pseudo, DAY_A)
    assert _dicom_files(raw, DAY_A) == files


def test_records_keep_a_processed_day_when_the_warehouse_returns_nothing(zones):
    raw, _ = zones
    rows = [_exam(f"SYNACC{i}", DAY_A, synthetic_uid(500 + i)) for i in range(7)]
    rows.append(_exam("SYNACCB", DAY_B, synthetic_uid(600)))
    warehouse = FakeWarehouse(_radiology(rows))
    days = [DAY_A, DAY_B]
    records_stage.load_radiology_reports(warehouse, raw, days)
    records_stage.select_imaging_studies(warehouse, raw, days)
    before = read_partition_table(raw, records_stage.COHORT_TABLE, DAY_A)
    assert before.height == 7

    warehouse.radiology = _radiology(rows[-1:])  # reachable, but nothing for DAY_A
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
    _add(pacs_root, study_a, 1, day=DAY_A)
    shared_a = _add(pacs_root, study_a, 2, sop=shared_sop, day=DAY_A)
    _add(pacs_root, study_b, 1, day=DAY_B)
    # the same instance (same SOP Instance UID) filed under a study of the next day as well
    shared_b = pacs_root / study_b / "IM0009.dcm"
    shutil.copyfile(shared_a, shared_b)
    _cohort(raw, DAY_A, [study_a])
    _cohort(raw, DAY_B, [study_b])

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
    _cohort(raw, DAY_A, [synthetic_uid(801), synthetic_uid(802)])  # not in the PACS
    report = retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, DAY_A)
    assert report.failed
    assert report.problems[0].startswith("nothing could be retrieved for the 2 studies")
    assert "study not found in PACS" in report.problems[0]

    _cohort(raw, DAY_B, [])  # an empty cohort is not a failure
    assert not retrieval.retrieve_partition(FolderPacs(pacs_root), raw, pseudo, DAY_B).failed


# == 4. key fingerprint per partition ===========================================================
def test_a_changed_pseudonym_key_fails_the_run(zones, pseudo, pacs_root):
    raw, research = zones
    _cohort(raw, DAY_A, _studies(pacs_root, 2))
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
    _cohort(raw, DAY_B, [])
    with pytest.raises(StageFailure, match="refusing to mix"):
        retrieval.retrieve_partition(FolderPacs(pacs_root), raw, other, DAY_B)

    # the helpers work on any zone and partition (the research zone uses batch names)
    batch = pseudo.batch_name(DAY_A)
    check_key_fingerprint(research, batch, TEST_KEY.fingerprint)
    record_key_fingerprint(research, batch, TEST_KEY.fingerprint)
    check_key_fingerprint(research, batch, TEST_KEY.fingerprint)
    with pytest.raises(StageFailure):
        check_key_fingerprint(research, other.batch_name(DAY_A), OTHER_KEY.fingerprint)


# == 5. NULL patient ids, missing or future dates, duplicated rows ============================
def test_bad_warehouse_rows_are_excluded_with_a_reason_and_never_crash_the_run(zones):
    raw, _ = zones
    future = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30)).isoformat()
    rows = [
        _exam("SYNACC1", DAY_A, synthetic_uid(1001)),
        _exam("SYNACC2", DAY_A, synthetic_uid(1002), patient_id=None),
        _exam("SYNACC3", DAY_A, synthetic_uid(1003), patient_id="  "),
        _exam("SYNACC4", DAY_A, synthetic_uid(1004)),
        _exam("SYNACC4", DAY_A, synthetic_uid(1004)),  # an exact duplicate row
        _exam("SYNACC5", DAY_A, synthetic_uid(1005), report_status="PRELIMINARY"),
        _exam("SYNACC5", DAY_A, synthetic_uid(1005), report_status="FINAL"),  # fan-out
        _exam("SYNACC6", future, synthetic_uid(1006)),
    ]
    warehouse = FakeWarehouse(_radiology(rows))
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
        _exam("SYNACC7", DAY_A, synthetic_uid(1101), report_text="FINDINGS: a\nBI-RADS 2"),
        _exam("SYNACC7", DAY_A, synthetic_uid(1101), report_text="FINDINGS: b\nBI-RADS 3"),
        _exam("SYNACC8", DAY_A, synthetic_uid(1102)),
    ]
    tables = []
    for order in (rows, rows[::-1]):
        raw = open_zone(tmp_path / f"raw{len(tables)}", name="raw").ensure()
        warehouse = FakeWarehouse(_radiology(order))
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
    _cohort(raw, DAY_A, [])
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
    _add_imaged(pacs_root, study_a, 1, day=DAY_A)
    shared = _add_imaged(pacs_root, study_a, 2, sop=synthetic_uid(719), day=DAY_A)
    _add_imaged(pacs_root, study_b, 1, day=DAY_B)
    _add_imaged(pacs_root, study_b, 3, day=DAY_B)
    shared_in_b = pacs_root / study_b / "IM0009.dcm"
    shutil.copyfile(shared, shared_in_b)
    _cohort(raw, DAY_A, [study_a])
    _cohort(raw, DAY_B, [study_b])

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
        _exam("SYNACC1", DAY_A, synthetic_uid(1201)),
        _exam("SYNACC2", DAY_A, synthetic_uid(1202), patient_id=None),
        _exam(None, DAY_A, synthetic_uid(1203)),
    ]
    warehouse = FakeWarehouse(_radiology(rows))
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
        path = _add(pacs_root, study_a, i + 1, sop=sop, day=DAY_A)
        (pacs_root / study_b).mkdir(exist_ok=True)
        shutil.copyfile(path, pacs_root / study_b / path.name)
    _cohort(raw, DAY_A, [study_a])
    _cohort(raw, DAY_B, [study_b])
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
    _add(pacs_root, study_a, 1, day=DAY_A)
    _add(pacs_root, study_b, 1, day=DAY_B)
    _add(pacs_root, study_b, 2, sop=shared_sop, day=DAY_B)
    _cohort(raw, DAY_A, [study_a])
    _cohort(raw, DAY_B, [study_b])
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
