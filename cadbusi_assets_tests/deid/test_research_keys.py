"""No real date or raw path in the research zone; the way back lives in the raw zone only
(issue 10, items 4 and 7).

The research ``quarantine`` table stored ``raw_path = dicom/2026-09-25/…``: with
``studies.study_date_shifted`` of the same batch it gave each patient's date shift away. Now
every research table carries pseudonymous keys only, and the raw zone holds the quarantine's raw
paths and the pseudonym → original links, which ``reidentify`` reads for holders of the key.
All values are synthetic.
"""

from __future__ import annotations

import datetime as dt
import re

import polars as pl
import pytest

from cadbusi_assets.dicom import dataset_to_bytes
from cadbusi_assets.identity import Pseudonymizer, PseudonymKey
from cadbusi_assets.identity.reidentify import (
    LINKS_TABLE,
    ReidentificationError,
    reidentify,
)
from cadbusi_assets.stages import deidentification as stage
from cadbusi_assets.stages.records import COHORT_TABLE
from cadbusi_assets.stages.retrieval import INSTANCES_TABLE as RETRIEVAL_INSTANCES
from cadbusi_assets.storage import open_zone, read_partition_table, write_partition_table
from cadbusi_assets_tests.deid import canary
from cadbusi_assets_tests.support import TEST_KEY

DAY = "2026-09-25"
_DATE = re.compile(r"(19|20)\d\d-?[01]\d-?[0-3]\d")


@pytest.fixture(scope="module")
def batch_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("research_keys")
    raw = open_zone(root / "raw", "raw")
    research = open_zone(root / "research", "research")
    pseudo = Pseudonymizer(TEST_KEY)
    good = canary.canary_dataset()
    paths = {
        "a" * 32: f"dicom/{DAY}/s1/{'a' * 32}.dcm",
        "b" * 32: f"dicom/{DAY}/s1/{'b' * 32}.dcm",
    }
    raw.write_bytes(tuple(paths["a" * 32].split("/")), dataset_to_bytes(good))
    raw.write_bytes(tuple(paths["b" * 32].split("/")), b"not a DICOM file" * 20)
    manifest = pl.DataFrame(
        {
            "instance_key": list(paths),
            "raw_path": list(paths.values()),
            "status": ["stored", "stored"],
            "study_instance_uid": [canary.STUDY_UID, canary.STUDY_UID],
        }
    )
    cohort = pl.DataFrame(
        {
            "study_instance_uid": [canary.STUDY_UID],
            "patient_id": [canary.MRN],
            "patient_name": [canary.NAME],
            "accession_number": [canary.ACCESSION],
            "birth_date": [canary.BIRTH],
            "exam_date": [dt.date(2026, 9, 25)],
            "findings": ["Left breast 10:00 3 cm FN: 8 mm oval mass."],
            "impression": ["BI-RADS 4."],
        }
    )
    write_partition_table(raw, RETRIEVAL_INSTANCES, DAY, manifest)
    write_partition_table(raw, COHORT_TABLE, DAY, cohort)
    stage.deidentify_partition(raw, research, pseudo, DAY, verify_ocr=False, workers=1, previews=0)
    return {"raw": raw, "research": research, "pseudo": pseudo, "paths": paths}


def test_research_tables_carry_no_raw_path_or_real_date(batch_run):
    research, pseudo = batch_run["research"], batch_run["pseudo"]
    batch = pseudo.batch_name(DAY)
    quarantine = read_partition_table(research, stage.QUARANTINE_TABLE, batch)
    assert quarantine.height == 1  # the corrupt file
    assert "raw_path" not in quarantine.columns
    for table in (
        stage.QUARANTINE_TABLE,
        stage.INSTANCES_TABLE,
        stage.IMAGES_TABLE,
        stage.STUDIES_TABLE,
    ):
        frame = read_partition_table(research, table, batch)
        for column, dtype in frame.schema.items():
            if dtype in (pl.Utf8, pl.String):
                text = "\n".join(v for v in frame[column].to_list() if v)
                assert DAY not in text and DAY.replace("-", "") not in text, (table, column)
                assert "dicom/" + DAY not in text
                assert not _DATE.search(text) or column == "findings", (table, column)


def test_raw_zone_keeps_the_quarantine_paths_and_the_links(batch_run):
    raw, pseudo, paths = batch_run["raw"], batch_run["pseudo"], batch_run["paths"]
    raw_quarantine = read_partition_table(raw, stage.RAW_QUARANTINE_TABLE, DAY)
    assert raw_quarantine["raw_path"].to_list() == [paths["b" * 32]]
    links = read_partition_table(raw, LINKS_TABLE, DAY)
    kinds = set(links["kind"].to_list())
    assert {"patient", "accession", "study_uid", "instance", "raw_instance", "batch"} <= kinds
    by_kind = {k: links.filter(pl.col("kind") == k) for k in kinds}
    assert by_kind["patient"]["pseudonym"].to_list() == [pseudo.patient_id(canary.MRN)]
    assert by_kind["batch"]["original"].to_list() == [DAY]


def test_reidentify_answers_holders_of_the_key_only(batch_run):
    raw, pseudo = batch_run["raw"], batch_run["pseudo"]
    found = reidentify(raw, pseudo.patient_id(canary.MRN), pseudo)
    assert [(link.kind, link.original, link.partition) for link in found] == [
        ("patient", canary.MRN, DAY)
    ]
    assert canary.MRN not in repr(found)  # never in a log line
    instances = read_partition_table(
        batch_run["research"], stage.INSTANCES_TABLE, pseudo.batch_name(DAY)
    )
    [link] = reidentify(raw, instances["instance_id"][0], pseudo)
    assert link.original == batch_run["paths"]["a" * 32]
    [link] = reidentify(raw, pseudo.batch_name(DAY), pseudo)
    assert link.original == DAY
    other = Pseudonymizer(PseudonymKey(bytes(range(100, 132))))
    with pytest.raises(ReidentificationError, match="did not mint"):
        reidentify(raw, pseudo.patient_id(canary.MRN), other)
    with pytest.raises(ReidentificationError, match="unknown pseudonym"):
        reidentify(raw, "PNOTAPSEUDONYM", pseudo)


def test_reidentify_without_links_is_a_clear_error(tmp_path):
    with pytest.raises(ReidentificationError, match="no re-identification links"):
        reidentify(open_zone(tmp_path / "raw", "raw"), "P123", Pseudonymizer(TEST_KEY))


def test_partition_report_names_no_instance(tmp_path):
    """Dagster metadata is filed under the real date: it must not carry the research keys."""
    raw = open_zone(tmp_path / "raw", "raw")
    research = open_zone(tmp_path / "research", "research")
    key = "c" * 32
    raw.write_bytes(("dicom", DAY, "s", f"{key}.dcm"), b"not a DICOM file" * 20)
    raw.write_bytes(
        ("dicom", DAY, "s", f"{'d' * 32}.dcm"), dataset_to_bytes(canary.canary_dataset())
    )
    manifest = pl.DataFrame(
        {
            "instance_key": [key, "d" * 32],
            "raw_path": [f"dicom/{DAY}/s/{key}.dcm", f"dicom/{DAY}/s/{'d' * 32}.dcm"],
            "status": ["stored", "stored"],
            "study_instance_uid": [canary.STUDY_UID] * 2,
        }
    )
    cohort = pl.DataFrame(
        {
            "study_instance_uid": [canary.STUDY_UID],
            "patient_id": [canary.MRN],
            "accession_number": [canary.ACCESSION],
            "exam_date": [dt.date(2026, 9, 25)],
        }
    )
    write_partition_table(raw, RETRIEVAL_INSTANCES, DAY, manifest)
    write_partition_table(raw, COHORT_TABLE, DAY, cohort)
    result = stage.deidentify_partition(
        raw, research, Pseudonymizer(TEST_KEY), DAY, verify_ocr=False, workers=1, previews=0
    )
    table = result.report.tables["quarantine"]
    assert table.columns == ["stage", "reason", "instances"]
    assert key not in table.write_csv()
