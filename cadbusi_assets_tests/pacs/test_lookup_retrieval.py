"""Retrieval for warehouses without StudyInstanceUIDs (issue 14, item 3), end to end through
the stages: a DuckDB warehouse whose rows hold only accession numbers -> radiology_reports ->
imaging_studies (rows kept) -> raw_dicom, which looks every study up in the PACS (by accession,
else patient ID + study date), retrieves the resolved ones and records the others with their
reason in ``retrieval_unresolved``; an ambiguous accession is recorded, never guessed. On the
folder PACS and on a real Orthanc over DICOMweb and DIMSE (C-FIND + C-GET). All data synthetic.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl
import pytest
from pydicom.dataset import Dataset

from cadbusi_assets.dicom import dataset_to_bytes, read_dataset
from cadbusi_assets.identity import Pseudonymizer
from cadbusi_assets.pacs import open_pacs
from cadbusi_assets.pacs.find import (
    REASON_ACCESSION_AMBIGUOUS,
    REASON_NO_PATIENT_DATE_MATCH,
    REQUIRE_STUDY_UID_ENV,
    SOURCE_ACCESSION,
    SOURCE_PATIENT_DATE,
    SOURCE_WAREHOUSE,
)
from cadbusi_assets.pacs.synthetic import synthetic_uid, synthetic_us_instance
from cadbusi_assets.records.warehouse import open_warehouse
from cadbusi_assets.stages import deidentification, retrieval
from cadbusi_assets.stages import records as records_stage
from cadbusi_assets.stages.report import read_partition_reports
from cadbusi_assets.storage import open_zone, read_partition_table
from cadbusi_assets_tests.support import TEST_KEY
from cadbusi_assets_tests.support import time_limit as shared_time_limit
from cadbusi_demo.warehouse import WAREHOUSE_SCHEMA

DEADLINE_S = 300


@pytest.fixture(autouse=True)
def _deadline():
    """Every test here ends within DEADLINE_S (PACS servers and lookups included)."""
    with shared_time_limit(DEADLINE_S, "test_lookup_retrieval"):
        yield


DAY = "2026-09-02"  # inside the test session's study-date partitions (defs/conftest.py)
DATE = dt.date.fromisoformat(DAY)

#: the PACS: name -> (accession in the PACS, patient, number of instances)
PACS_STUDIES = {
    "one": ("LRA-1", "LRP-1", 2),
    "two": ("LRA-2", "LRP-2", 1),
    "twin_a": ("LRA-3", "LRP-3", 1),  # two studies, one accession, same patient and day:
    "twin_b": ("LRA-3", "LRP-3", 1),  # ambiguous, must not be guessed
    "renamed": ("LRA-4-PACS", "LRP-4", 1),  # the warehouse's accession differs: patient + date
    "other_day": ("LRA-9", "LRP-9", 1),  # not in the warehouse for this day
}
#: the warehouse: accession, patient, StudyInstanceUID (None: the warehouse has none)
WAREHOUSE_ROWS = (
    ("LRA-1", "LRP-1"),
    ("LRA-2", "LRP-2"),
    ("LRA-3", "LRP-3"),
    ("LRA-4", "LRP-4"),
    ("LRA-5", "LRP-5"),  # no study in the PACS at all
)
UID = {name: synthetic_uid(1414, 7, i) for i, name in enumerate(PACS_STUDIES, start=1)}
RESOLVED = {"one", "two", "renamed"}


def _instances() -> list[tuple[str, str, bytes]]:
    """(study name, file name, Part-10 bytes) of every synthetic PACS instance."""
    out = []
    for name, (accession, patient, count) in PACS_STUDIES.items():
        study = UID[name]
        day = DATE if name != "other_day" else DATE + dt.timedelta(days=1)
        for n in range(1, count + 1):
            data = synthetic_us_instance(
                study,
                study + ".1",
                f"{study}.1.{n}",
                rows=48,
                columns=64,
                accession_number=accession,
                patient_id=patient,
                patient_name=f"TESTER^{patient}",  # the warehouse's name of the patient
                study_date=day,
                instance_number=n,
                seed=n,
            )
            out.append((name, f"IM{n:04d}.dcm", _with_region(data)))
    return out


def _with_region(data: bytes) -> bytes:
    """The instance with an ultrasound region, so that de-identification can release it."""
    ds = read_dataset(data)
    item = Dataset()
    item.RegionLocationMinX0, item.RegionLocationMinY0 = 4, 4
    item.RegionLocationMaxX1, item.RegionLocationMaxY1 = 59, 43
    item.RegionSpatialFormat, item.RegionDataType = 1, 1
    item.PhysicalDeltaX = item.PhysicalDeltaY = 0.01
    ds.SequenceOfUltrasoundRegions = [item]
    return dataset_to_bytes(ds)


def _folder_pacs(root: Path) -> Path:
    for name, file_name, data in _instances():
        folder = root / UID[name]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / file_name).write_bytes(data)
    return root


def _warehouse(path: Path) -> str:
    """A DuckDB warehouse with the demo schema whose exams carry no StudyInstanceUID."""
    exams = [
        {
            "accession_number": accession,
            "patient_id": patient,
            "encounter_id": None,
            "exam_date": DATE,
            "exam_datetime": dt.datetime.combine(DATE, dt.time(10, 15)),
            "modality": "US",
            "exam_description": "US BREAST LEFT",
            "laterality": "LEFT",
            "report_text": "FINDINGS: Simple cyst.\nIMPRESSION: BI-RADS 2 - Benign",
            "report_status": "FINAL",
            "study_instance_uid": None,
            "site": "MAIN",
            "radiologist": "RAD1",
        }
        for accession, patient in WAREHOUSE_ROWS
    ]
    patients = [
        {
            "patient_id": patient,
            "patient_name": f"TESTER^{patient}",
            "birth_date": dt.date(1970, 1, i),
            "sex": "F",
        }
        for i, (_, patient) in enumerate(WAREHOUSE_ROWS, start=1)
    ]
    kinds = {"VARCHAR": pl.String, "DATE": pl.Date, "TIMESTAMP": pl.Datetime("us")}
    frames = {"radiology_exams": exams, "patients": patients, "pathology_specimens": []}
    with duckdb.connect(str(path)) as con:
        for table, rows in frames.items():
            spec = WAREHOUSE_SCHEMA[table]
            frame = pl.DataFrame(rows, schema={c: kinds[k] for c, k in spec}, orient="row")
            con.execute(f"CREATE TABLE {table} ({', '.join(f'{c} {k}' for c, k in spec)})")
            con.register("incoming", frame.to_arrow())
            con.execute(f"INSERT INTO {table} SELECT * FROM incoming")
            con.unregister("incoming")
    return f"duckdb://{path}"


def _records(warehouse_uri: str, raw) -> pl.DataFrame:
    warehouse = open_warehouse(warehouse_uri)
    try:
        records_stage.load_radiology_reports(warehouse, raw, [DAY])
        reports = records_stage.select_imaging_studies(warehouse, raw, [DAY])
    finally:
        warehouse.close()
    assert not reports[DAY].failed
    return read_partition_table(raw, records_stage.COHORT_TABLE, DAY)


def _check_retrieval(pacs, raw, pseudonymizer: Pseudonymizer) -> None:
    report = retrieval.retrieve_partition(pacs, raw, pseudonymizer, DAY, concurrency=2)
    assert not report.failed

    # only the studies the lookups resolved were retrieved, every instance of them
    manifest = read_partition_table(raw, retrieval.INSTANCES_TABLE, DAY)
    assert set(manifest["status"]) == {"stored"}
    assert set(manifest["study_instance_uid"]) == {UID[n] for n in RESOLVED}
    assert manifest.height == sum(PACS_STUDIES[n][2] for n in RESOLVED)
    studies = read_partition_table(raw, retrieval.STUDIES_TABLE, DAY)
    assert studies["complete"].all() and studies.height == len(RESOLVED)

    # the rows retrieval worked from carry the UID found and where it came from
    resolved = read_partition_table(raw, retrieval.RESOLVED_TABLE, DAY)
    got = {
        r["accession_number"]: (r["study_instance_uid"], r["study_uid_source"])
        for r in resolved.iter_rows(named=True)
    }
    assert got == {
        "LRA-1": (UID["one"], SOURCE_ACCESSION),
        "LRA-2": (UID["two"], SOURCE_ACCESSION),
        "LRA-4": (UID["renamed"], SOURCE_PATIENT_DATE),
    }
    assert retrieval.resolved_cohort(raw, DAY).equals(resolved)

    # the others are recorded with a reason: the ambiguous accession is not guessed
    unresolved = read_partition_table(raw, retrieval.UNRESOLVED_TABLE, DAY)
    assert dict(unresolved.select("accession_number", "lookup_reason").iter_rows()) == {
        "LRA-3": REASON_ACCESSION_AMBIGUOUS,
        "LRA-5": REASON_NO_PATIENT_DATE_MATCH,
    }
    assert "patient_name" not in unresolved.columns and "birth_date" not in unresolved.columns
    stored = set(manifest["raw_path"])
    assert not any(UID["twin_a"] in p or UID["twin_b"] in p for p in stored)

    # the report counts reasons; nothing in it names a patient, an accession or a UID
    assert report.counts["cohort_rows"] == 5
    assert report.counts["study_uids_looked_up"] == 3
    assert report.counts["study_uids_from_warehouse"] == 0
    assert report.counts["cohort_rows_unresolved"] == 2
    assert report.counts[f"unresolved: {REASON_ACCESSION_AMBIGUOUS}"] == 1
    assert report.counts[f"unresolved: {REASON_NO_PATIENT_DATE_MATCH}"] == 1
    incomplete = report.tables["incomplete_studies"]
    # the ambiguous accession needs a person; the study the PACS never had is only recorded
    assert sorted(incomplete["reason"]) == [
        f"StudyInstanceUID lookup: {REASON_ACCESSION_AMBIGUOUS}"
    ]
    assert report.counts["cohort_rows_not_in_pacs"] == 1
    text = repr(report.counts) + repr(report.problems) + repr(incomplete.to_dicts())
    for secret in ("LRA-", "LRP-", "TESTER", *UID.values()):
        assert secret not in text

    # a re-run writes identical tables and fetches nothing again
    again = retrieval.retrieve_partition(pacs, raw, pseudonymizer, DAY, concurrency=2)
    assert again.counts["instances_already_present"] == manifest.height
    assert again.counts["instances_fetched"] == 0
    for table, before in (
        (retrieval.RESOLVED_TABLE, resolved),
        (retrieval.UNRESOLVED_TABLE, unresolved),
        (retrieval.INSTANCES_TABLE, manifest),
    ):
        assert read_partition_table(raw, table, DAY).equals(before)


@pytest.fixture
def warehouse_uri(tmp_path) -> str:
    return _warehouse(tmp_path / "warehouse.duckdb")


def test_warehouse_without_uids_is_retrieved_by_lookup_on_the_folder_pacs(
    tmp_path, warehouse_uri, monkeypatch
):
    monkeypatch.delenv(REQUIRE_STUDY_UID_ENV, raising=False)
    raw = open_zone(tmp_path / "raw", name="raw")
    cohort = _records(warehouse_uri, raw)
    # rows without a StudyInstanceUID stay in the cohort (lookups are the default)
    assert cohort.height == 5 and cohort["study_instance_uid"].is_null().all()
    pacs = open_pacs(f"folder://{_folder_pacs(tmp_path / 'pacs')}")
    _check_retrieval(pacs, raw, Pseudonymizer(TEST_KEY))


def test_deidentification_uses_the_looked_up_study_uids(tmp_path, warehouse_uri, monkeypatch):
    """De-identification matches each retrieved instance to its cohort row through the UID the
    lookup found: the study rows, the pseudonymized study UIDs and the identifiers the blocking
    leak check looks for are those of the resolved studies."""
    monkeypatch.delenv(REQUIRE_STUDY_UID_ENV, raising=False)
    raw = open_zone(tmp_path / "raw", name="raw")
    research = open_zone(tmp_path / "research", name="research")
    _records(warehouse_uri, raw)
    pseudonymizer = Pseudonymizer(TEST_KEY)
    pacs = open_pacs(f"folder://{_folder_pacs(tmp_path / 'pacs')}")
    retrieval.retrieve_partition(pacs, raw, pseudonymizer, DAY)
    result = deidentification.deidentify_partition(
        raw, research, pseudonymizer, DAY, verify_ocr=False, workers=1
    )
    assert result.report.counts["instances_deidentified"] == 4
    studies = read_partition_table(
        research, deidentification.STUDIES_TABLE, pseudonymizer.batch_name(DAY)
    )
    assert set(studies["study_uid_pseudo"]) == {pseudonymizer.uid(UID[n]) for n in RESOLVED}
    assert set(result.identifiers.patient_ids) >= {"LRP-1", "LRP-2", "LRP-4"}
    assert set(result.identifiers.accession_numbers) >= {"LRA-1", "LRA-2", "LRA-4"}


def test_require_study_uid_excludes_rows_without_one(tmp_path, warehouse_uri, monkeypatch):
    monkeypatch.setenv(REQUIRE_STUDY_UID_ENV, "1")
    raw = open_zone(tmp_path / "raw", name="raw")
    assert _records(warehouse_uri, raw).height == 0
    exclusions = read_partition_table(raw, records_stage.COHORT_EXCLUSIONS_TABLE, DAY)
    assert set(exclusions["exclusion_reason"]) == {"missing PACS reference"}
    # retrieval of an empty cohort: nothing looked up, nothing unresolved
    pacs = open_pacs(f"folder://{_folder_pacs(tmp_path / 'pacs')}")
    report = retrieval.retrieve_partition(pacs, raw, Pseudonymizer(TEST_KEY), DAY)
    assert not report.failed and report.counts["cohort_rows_unresolved"] == 0
    assert read_partition_table(raw, retrieval.UNRESOLVED_TABLE, DAY).height == 0


def test_warehouse_uids_are_used_without_any_lookup(tmp_path, monkeypatch):
    """Rows with a StudyInstanceUID keep it (no PACS query), as before lookups existed."""
    monkeypatch.delenv(REQUIRE_STUDY_UID_ENV, raising=False)
    path = tmp_path / "warehouse.duckdb"
    _warehouse(path)
    with duckdb.connect(str(path)) as con:
        con.execute(
            "UPDATE radiology_exams SET study_instance_uid = ? WHERE accession_number = 'LRA-3'",
            [UID["twin_b"]],
        )
    raw = open_zone(tmp_path / "raw", name="raw")
    _records(f"duckdb://{path}", raw)
    pacs = open_pacs(f"folder://{_folder_pacs(tmp_path / 'pacs')}")
    report = retrieval.retrieve_partition(pacs, raw, Pseudonymizer(TEST_KEY), DAY)
    resolved = read_partition_table(raw, retrieval.RESOLVED_TABLE, DAY)
    row = resolved.filter(pl.col("accession_number") == "LRA-3").to_dicts()
    assert row[0]["study_instance_uid"] == UID["twin_b"]
    assert row[0]["study_uid_source"] == SOURCE_WAREHOUSE
    assert report.counts["study_uids_from_warehouse"] == 1
    assert report.counts["cohort_rows_unresolved"] == 1  # LRA-5 only


def test_nothing_resolved_fails_the_date_with_the_reasons(tmp_path, warehouse_uri, monkeypatch):
    monkeypatch.delenv(REQUIRE_STUDY_UID_ENV, raising=False)
    raw = open_zone(tmp_path / "raw", name="raw")
    _records(warehouse_uri, raw)
    empty = tmp_path / "empty-pacs"
    empty.mkdir()
    report = retrieval.retrieve_partition(
        open_pacs(f"folder://{empty}"), raw, Pseudonymizer(TEST_KEY), DAY
    )
    assert report.failed
    assert report.problems[0].startswith("nothing could be retrieved for the 5 studies")
    assert "lookup: " in report.problems[0] and "LRA-" not in report.problems[0]
    assert read_partition_table(raw, retrieval.UNRESOLVED_TABLE, DAY).height == 5


_UPLOADED: set[int] = set()


@pytest.mark.integration
@pytest.mark.parametrize("protocol", ["dicomweb", "dimse_get"])
def test_warehouse_without_uids_is_retrieved_by_lookup_on_orthanc(
    protocol, request, orthanc, tmp_path, warehouse_uri, monkeypatch
):
    monkeypatch.delenv(REQUIRE_STUDY_UID_ENV, raising=False)
    if id(orthanc) not in _UPLOADED:
        for _name, _file, data in _instances():
            orthanc.upload(data)
        _UPLOADED.add(id(orthanc))
    raw = open_zone(tmp_path / "raw", name="raw")
    _records(warehouse_uri, raw)
    pacs = open_pacs(request.getfixturevalue(f"{protocol}_uri"))
    try:
        _check_retrieval(pacs, raw, Pseudonymizer(TEST_KEY))
    finally:
        close = getattr(pacs, "close", None)
        if close:
            close()


@pytest.mark.integration
def test_raw_dicom_asset_retrieves_by_lookup_and_flags_unresolved_rows(tmp_path, monkeypatch):
    """Through Dagster: the raw_dicom asset of a warehouse without UIDs succeeds, its metadata
    counts the lookups, and its retrieval_complete check fails on the unresolved rows."""
    import dagster as dg

    from cadbusi_assets.definitions import defs
    from cadbusi_assets.identity import generate_key_file
    from cadbusi_assets_tests.defs.conftest import make_environment, run

    monkeypatch.delenv(REQUIRE_STUDY_UID_ENV, raising=False)
    cohort_dir = tmp_path / "cohort"
    cohort_dir.mkdir()
    _warehouse(cohort_dir / "warehouse.duckdb")
    _folder_pacs(cohort_dir / "pacs")
    key_file = generate_key_file(tmp_path / "secrets" / "pseudonym.key")
    env = make_environment(tmp_path / "run", cohort_dir, key_file)
    with dg.instance_for_test(set_dagster_home=False) as instance:
        result = run(
            defs(),
            env,
            ["radiology_reports", "imaging_studies", "raw_dicom"],
            instance,
            partition_key=DAY,
        )
        assert result.success
        check = next(
            e for e in result.get_asset_check_evaluations() if e.check_name == "retrieval_complete"
        )
        assert not check.passed
        assert check.metadata["dates_with_incomplete_studies"].value == 1
        assert DAY in check.metadata["details"].value
        event = instance.get_latest_materialization_event(dg.AssetKey("raw_dicom"))
        metadata = event.asset_materialization.metadata
        assert not any("LRA-" in str(v.value) or "LRP-" in str(v.value) for v in metadata.values())
    raw = open_zone(env.raw, name="raw")
    # the exact counts are in the raw zone's partition report, not beside the date in the UI
    (report,) = read_partition_reports(raw, "raw_dicom", DAY)
    assert report["counts"]["study_uids_looked_up"] == 3
    assert report["counts"][f"unresolved: {REASON_ACCESSION_AMBIGUOUS}"] == 1
    assert len(report["tables"]["incomplete_studies"]) == 1
    manifest = read_partition_table(raw, retrieval.INSTANCES_TABLE, DAY)
    assert set(manifest["study_instance_uid"]) == {UID[n] for n in RESOLVED}
