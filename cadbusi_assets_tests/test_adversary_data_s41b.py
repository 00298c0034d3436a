"""Adversary, session 41 (round 2): a messy hospital's data, where the warehouse and the PACS
disagree (round 1: ``test_adversary_data_s41.py``).

1. pathology arriving after a date was processed and exported (a specimen the pathologist
   signs out days after the biopsy);
2. an id collision: a PACS study whose PatientID is the warehouse patient's but whose
   PatientName is another person's (two hospitals' patients under one id, a mis-keyed id), in
   three scripts.

Not tried: a patient merge (the warehouse schema carries no merge record, so two MRNs of one
person stay two pseudonyms and nothing can tell the operator).

Everything is synthetic (the demo's invented patients, invented names); every subprocess has a
timeout.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pydicom
import pytest

from cadbusi_assets.deid.identifiers import names_share_a_part
from cadbusi_assets_tests.builders import DEMO_DAY
from cadbusi_assets_tests.hospital_data import demo_date, exams, study_files
from cadbusi_assets_tests.run_support import finish, materialize_date

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
