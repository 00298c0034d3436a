"""Adversary, session 41 (round 2): a messy hospital's data, where the warehouse and the PACS
disagree (round 1: ``test_adversary_data_s41.py``).

1. pathology arriving after a date was processed and exported (a specimen the pathologist
   signs out days after the biopsy): re-run by hand, the next export carries the malignant
   label, its card counts the relabelled images, the earlier export stays byte-identical
   (held); left alone, nothing re-read the date (the late-arrival schedule and the drift
   sensor compared study counts only): now the date's specimen count is compared too;
2. an id collision: a PACS study whose PatientID is the warehouse patient's but whose
   PatientName is another person's (two hospitals' patients under one id, a mis-keyed id), in
   three scripts.

Not tried: a patient merge (the warehouse schema carries no merge record, so two MRNs of one
person stay two pseudonyms and nothing can tell the operator).

Everything is synthetic (the demo's invented patients, invented names); every subprocess has a
timeout.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl
import pydicom
import pytest

from cadbusi_assets.deid.identifiers import names_share_a_part
from cadbusi_assets_tests.builders import DEMO_DAY
from cadbusi_assets_tests.hospital_data import demo_date, exams, study_files
from cadbusi_assets_tests.run_support import _start, finish, materialize_date

pytestmark = [pytest.mark.xdist_group("adversary_data_s41b")]

DEID_ASSETS = [
    "radiology_reports",
    "pathology_reports",
    "imaging_studies",
    "raw_dicom",
    "deidentified_images",
]


@pytest.mark.parametrize(
    ("warehouse", "header", "same"),
    [
        ("Müller^Zoë", "ZOE^MULLER", True),  # Latin: order, case, accents
        ("Müller^Zoë", "MUELLER ZOE", True),
        ("Quimbrell^Zelda", "VEXWORTH^OTTOLINE", False),
        ("Щукина^Юлия", "SHCHUKINA^YULIA", True),  # Cyrillic, in Latin letters
        ("Щукина^Юлия", "ЮЛИЯ^ЩУКИНА", True),
        ("Щукина^Юлия", "Иванова^Мария", False),
        ("Yamada^Tarou=山田^太郎", "山田^太郎", True),  # CJK
        ("山田^太郎", "田中^花子", False),
        ("Quimbrell^Zelda", "QUIMBRELL^Z", True),  # an initial: the family name is shared
        ("Quimbrell^Zelda", "VEXWORTH^Z^MRS", False),  # initials and titles are no name part
    ],
)
def test_two_spellings_of_one_name_share_a_part(warehouse: str, header: str, same: bool):
    assert names_share_a_part(warehouse, header) is same
    assert names_share_a_part(header, warehouse) is same


#: (warehouse name, PACS header name, another person?) of the date's four exams.
NAMES = [
    ("Щукина^Юлия", "SHCHUKINA^YULIA", False),
    ("Müller^Zoë", "Zoe^Muller", False),
    ("山田^太郎", "田中^花子", True),
    ("Quimbrell^Zelda", "Иванова^Мария", True),
]


def test_a_pacs_study_of_the_warehouse_id_under_another_person_s_name(tmp_path: Path):
    """Case 2: the PACS study's PatientID is the warehouse patient's, its PatientName another
    person's (an id collision between two hospitals). Before: released under the warehouse
    patient's pseudonym (the id check alone passed), joining another person's images to the
    patient's record and labels. Now quarantined with the reason when the names share no name
    part (accents, case, order and script aside); a second spelling of the same person's name
    is released."""
    from cadbusi_assets.stages import deidentification as deid
    from cadbusi_assets.storage import open_zone, read_partition_table

    env, pseudonymizer = demo_date(tmp_path, studies=(4, 4))
    cohort_dir = tmp_path / "cohort"
    found = exams(cohort_dir)
    assert len(found) >= len(NAMES), found
    with duckdb.connect(str(cohort_dir / "warehouse.duckdb")) as con:
        for (_, patient, _), (name, _, _) in zip(found, NAMES, strict=False):
            con.execute(
                "UPDATE patients SET patient_name = ? WHERE patient_id = ?", [name, patient]
            )
    counts = {}
    for (accession, _, uid), (_, header, _) in zip(found, NAMES, strict=False):
        files = study_files(cohort_dir, uid)
        counts[accession] = len(files)
        for path in files:
            ds = pydicom.dcmread(path)
            ds.SpecificCharacterSet = "ISO_IR 192"
            ds.PatientName = header
            ds.save_as(path)

    proc = materialize_date(env, DEID_ASSETS, DEMO_DAY)
    out = finish(proc, 500, "the date's run")
    assert proc.returncode == 0, out[-3000:]

    research = open_zone(Path(env["CADBUSI_RESEARCH_ZONE"]), name="research")
    batch = pseudonymizer.batch_name(DEMO_DAY)
    images = read_partition_table(research, deid.IMAGES_TABLE, batch)
    quarantine = read_partition_table(research, deid.QUARANTINE_TABLE, batch)
    assert images is not None
    quarantine = quarantine if quarantine is not None else pl.DataFrame()
    for (accession, patient, _), (_, _, other) in zip(found, NAMES, strict=False):
        pseudo = pseudonymizer.accession_number(accession)
        mine = images.filter(pl.col("accession_pseudo") == pseudo)
        held = (
            quarantine.filter(pl.col("accession_pseudo") == pseudo)
            if quarantine.height
            else pl.DataFrame()
        )
        if other:
            assert mine.height == 0, (
                "another person's study released under the warehouse patient's pseudonym"
            )
            assert held["reason"].to_list() == [deid.OTHER_NAME_REASON] * counts[accession]
        else:
            assert mine["instance_id"].n_unique() == counts[accession], held.to_dicts()
            assert set(mine["patient_pseudo"]) == {pseudonymizer.patient_id(patient)}


_LABELS_AND_CATALOG = (
    "from dagster import DagsterInstance\n"
    "from cadbusi_assets import runner\n"
    "s = runner.materialize(runner.load_definitions(), ['diagnosis_labels', 'metadata_db'], "
    "DagsterInstance.get())\n"
    "raise SystemExit(0 if s.success else 1)\n"
)


def _labels_and_catalog(env: dict[str, str]) -> None:
    """``diagnosis_labels`` and ``metadata_db`` rebuilt (what the automation sensor runs after
    a date's records changed), in their own process."""
    import sys

    proc = _start([sys.executable, "-c", _LABELS_AND_CATALOG], env)
    out = finish(proc, 400, "the labels' and catalog's run")
    assert proc.returncode == 0, out[-3000:]


def _cut_export(env: dict[str, str], key: str) -> dict[str, bytes]:
    """``cadbusi export --key KEY`` in its own process; the export's files (path → bytes)."""

    from cadbusi_assets_tests.defs.services import BIN

    proc = _start([str(BIN / "cadbusi"), "export", "--key", key], env)
    out = finish(proc, 400, f"the export {key}")
    assert proc.returncode == 0, out[-3000:]
    folder = Path(env["CADBUSI_RESEARCH_ZONE"]) / "exports" / key
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _late_specimen(cohort_dir: Path, accession: str, patient: str) -> None:
    """A core biopsy of the exam's breast on the exam's date, invasive carcinoma, entered in
    the warehouse after the date was processed (signed out days later; invented)."""
    with duckdb.connect(str(cohort_dir / "warehouse.duckdb")) as con:
        encounter, laterality = con.execute(
            "SELECT encounter_id, laterality FROM radiology_exams WHERE accession_number = ?",
            [accession],
        ).fetchone()
        side = laterality if laterality in ("LEFT", "RIGHT") else "LEFT"
        con.execute(
            "INSERT INTO pathology_specimens VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                "S26-99041",
                patient,
                encounter,
                DEMO_DAY,
                f"{DEMO_DAY} 16:00:00",
                f"{side} BREAST, 2 O'CLOCK, ULTRASOUND-GUIDED CORE BIOPSY",
                "INVASIVE DUCTAL CARCINOMA",
                f"{side} BREAST, 2 O'CLOCK, CORE BIOPSY: INVASIVE DUCTAL CARCINOMA, GRADE 2.",
                None,
            ],
        )


def test_pathology_signed_out_after_an_export_reaches_the_next_export(tmp_path: Path):
    """Case 1: a date is processed and an export cut; then the warehouse gains a malignant
    pathology row of one of its exams (dated the exam's day, signed out later). The user
    re-runs the date's pathology (``pathology_reports`` of the date), the labels and the
    catalog, and cuts a new export: it carries the malignant label, its card counts the
    relabelled images against the earlier export, and the earlier export stays byte-identical
    and verifies. The labels' materialization says how many breasts changed label and by
    which rule (before: only the label totals per rule, nothing said that one had moved)."""
    import dagster as dg

    from cadbusi_assets.exports import verify_export
    from cadbusi_assets.storage import open_zone
    from cadbusi_assets_tests.defs.services import STUDY_DATE_ASSETS

    env, pseudonymizer = demo_date(tmp_path)
    cohort_dir = tmp_path / "cohort"
    proc = materialize_date(env, STUDY_DATE_ASSETS, DEMO_DAY)
    out = finish(proc, 600, "the date's run")
    assert proc.returncode == 0, out[-3000:]
    _labels_and_catalog(env)
    first = _cut_export(env, "2026-12-01")
    manifest = pl.read_parquet(first["manifest.parquet"])
    candidates = [
        (accession, patient)
        for accession, patient, _ in exams(cohort_dir)
        if 1
        not in manifest.filter(pl.col("patient_pseudo") == pseudonymizer.patient_id(patient))[
            "label"
        ].to_list()
        and pseudonymizer.patient_id(patient) in set(manifest["patient_pseudo"])
    ]
    assert candidates, "no exported exam without a malignant label"
    accession, patient = candidates[0]
    _late_specimen(cohort_dir, accession, patient)

    proc = materialize_date(env, ["pathology_reports"], DEMO_DAY)
    out = finish(proc, 400, "the date's pathology")
    assert proc.returncode == 0, out[-3000:]
    _labels_and_catalog(env)
    second = _cut_export(env, "2026-12-02")

    after = pl.read_parquet(second["manifest.parquet"])
    mine = after.filter(pl.col("patient_pseudo") == pseudonymizer.patient_id(patient))
    assert 1 in mine["label"].to_list(), mine.select("label").to_dicts()
    card = "\n".join(
        data.decode("utf-8", "replace") for name, data in second.items() if name.endswith(".md")
    )
    assert "Compared with export `2026-12-01`" in card, card[:2000]
    assert " 0 relabelled" not in card, "the card does not count the relabelled images"

    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        (record,) = instance.fetch_materializations(
            dg.AssetKey("diagnosis_labels"), limit=1
        ).records
        metadata = record.asset_materialization.metadata
    assert metadata["breasts_relabelled"].value >= 1, sorted(metadata)
    moved = [k for k in metadata if k.startswith("relabelled ") and "-> malignant" in k.lower()]
    assert moved, sorted(metadata)

    folder = Path(env["CADBUSI_RESEARCH_ZONE"]) / "exports" / "2026-12-01"
    now = {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }
    assert now == first, "the earlier export changed"
    research = open_zone(Path(env["CADBUSI_RESEARCH_ZONE"]), name="research")
    assert verify_export(research, "2026-12-01") == []


def test_the_late_arrival_schedule_asks_for_a_date_that_gained_pathology(tmp_path: Path):
    """Case 1, unattended: the late-arrival schedule (and the history drift sensor) compared
    the warehouse's ultrasound study count of each date with what its last run saw; a
    pathology row signed out after its date was processed changes no study count, so nothing
    re-read the date's pathology and the malignant label never reached the labels or any
    export (unless someone re-ran the date by hand). Now the date's specimen count is compared
    too."""
    from cadbusi_assets.defs.automation.schedules import changed_dates
    from cadbusi_assets.defs.resources import WarehouseResource
    from cadbusi_assets.storage import open_zone

    env, _ = demo_date(tmp_path)
    proc = materialize_date(env, ["radiology_reports", "pathology_reports"], DEMO_DAY)
    out = finish(proc, 400, "the date's records")
    assert proc.returncode == 0, out[-3000:]
    warehouse = WarehouseResource(uri=env["CADBUSI_WAREHOUSE"])
    raw = open_zone(Path(env["CADBUSI_RAW_ZONE"]), name="raw")
    day = dt.date.fromisoformat(DEMO_DAY)
    assert changed_dates(warehouse, raw, day, day) == []
    accession, patient, _ = exams(tmp_path / "cohort")[0]
    _late_specimen(tmp_path / "cohort", accession, patient)
    assert [key for key, *_ in changed_dates(warehouse, raw, day, day)] == [DEMO_DAY], (
        "a date that gained a pathology specimen is never re-run"
    )
    proc = materialize_date(env, ["pathology_reports"], DEMO_DAY)
    out = finish(proc, 400, "the date's pathology")
    assert proc.returncode == 0, out[-3000:]
    assert changed_dates(warehouse, raw, day, day) == []  # asked for once, not every tick
