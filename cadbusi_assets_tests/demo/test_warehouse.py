"""The warehouse file: exact schema, realistic content, links between exams and pathology."""

from __future__ import annotations

import datetime as dt
import re

import duckdb
import pytest

from cadbusi_demo import WAREHOUSE_SCHEMA, DemoConfig
from cadbusi_demo.plan import EDGE_CASES
from cadbusi_demo.warehouse import write_warehouse

EXPECTED = {
    "patients": [
        ("patient_id", "VARCHAR"),
        ("patient_name", "VARCHAR"),
        ("birth_date", "DATE"),
        ("sex", "VARCHAR"),
    ],
    "radiology_exams": [
        ("accession_number", "VARCHAR"),
        ("patient_id", "VARCHAR"),
        ("encounter_id", "VARCHAR"),
        ("exam_date", "DATE"),
        ("exam_datetime", "TIMESTAMP"),
        ("modality", "VARCHAR"),
        ("exam_description", "VARCHAR"),
        ("laterality", "VARCHAR"),
        ("report_text", "VARCHAR"),
        ("report_status", "VARCHAR"),
        ("study_instance_uid", "VARCHAR"),
        ("site", "VARCHAR"),
        ("radiologist", "VARCHAR"),
    ],
    "pathology_specimens": [
        ("specimen_accession", "VARCHAR"),
        ("patient_id", "VARCHAR"),
        ("encounter_id", "VARCHAR"),
        ("specimen_date", "DATE"),
        ("received_at", "TIMESTAMP"),
        ("part_description", "VARCHAR"),
        ("diagnosis_name", "VARCHAR"),
        ("final_diagnosis_text", "VARCHAR"),
        ("synoptic_report", "VARCHAR"),
    ],
}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory, default_plan):
    path = tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb"
    write_warehouse(path, default_plan)
    with duckdb.connect(str(path), read_only=True) as con:
        yield con


def rows(con, sql):
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_schema_is_exactly_the_contract(warehouse):
    tables = {r[0] for r in warehouse.execute("SHOW TABLES").fetchall()}
    assert tables == set(EXPECTED)
    for table, columns in EXPECTED.items():
        described = warehouse.execute(f"DESCRIBE {table}").fetchall()
        assert [(r[0], r[1]) for r in described] == columns
        assert list(WAREHOUSE_SCHEMA[table]) == columns


def test_identifier_formats(warehouse):
    patients = rows(warehouse, "SELECT * FROM patients")
    assert all(re.fullmatch(r"\d{8}", p["patient_id"]) for p in patients)
    assert any(p["patient_id"].startswith("0") for p in patients)
    assert all(re.fullmatch(r"[A-Z]+\^[A-Z]+", p["patient_name"]) for p in patients)
    assert {p["sex"] for p in patients} == {"F", "M"}
    assert all(isinstance(p["birth_date"], dt.date) for p in patients)
    exams = rows(warehouse, "SELECT * FROM radiology_exams")
    assert all(re.fullmatch(r"\d{10}", e["accession_number"]) for e in exams)
    assert {e["modality"] for e in exams} == {"US", "MG"}
    assert {e["report_status"] for e in exams} == {"FINAL"}
    assert {e["laterality"] for e in exams} == {"LEFT", "RIGHT", "BILATERAL", None}
    patient_ids = {p["patient_id"] for p in patients}
    assert {e["patient_id"] for e in exams} <= patient_ids


def test_daily_us_breast_volume_matches_config(default_plan):
    config = default_plan.config
    low, high = config.studies_per_day
    for day in config.dates():
        regular = [
            e
            for e in default_plan.exams
            if e.exam_date == day
            and e.modality == "US"
            and e.kind not in {"outside", "axilla", "incomplete"}
            and e.study_instance_uid is not None
            and not e.duplicated
        ]
        assert low <= len(regular) <= high, day
    assert all(config.start <= e.exam_date <= config.end for e in default_plan.exams)


def test_edge_cases_present_once(warehouse):
    exams = rows(warehouse, "SELECT * FROM radiology_exams")
    descriptions = [e["exam_description"] for e in exams]
    assert sum(d.startswith("OUTSIDE FILM READ US BREAST") for d in descriptions) == 1
    assert descriptions.count("US AXILLA LEFT") == 1
    us_without_uid = [e for e in exams if e["modality"] == "US" and e["study_instance_uid"] is None]
    assert len(us_without_uid) == 1
    counts = warehouse.execute(
        "SELECT accession_number, count(*) FROM radiology_exams GROUP BY 1 HAVING count(*) > 1"
    ).fetchall()
    assert len(counts) == 1 and counts[0][1] == 2
    assert any(
        re.search(r"BI-RADS[^\n]*\b0\b", e["report_text"])
        for e in exams
        if e["exam_description"].startswith("US BREAST")
    )
    assert {e["study_instance_uid"] for e in exams if e["modality"] == "MG"} == {None}
    assert len(EDGE_CASES) == 5


def test_reports_have_sections_lexicon_and_birads_variety(warehouse):
    texts = [r["report_text"] for r in rows(warehouse, "SELECT report_text FROM radiology_exams")]
    joined = "\n".join(texts)
    for section in ("EXAM:", "HISTORY:", "IMPRESSION", "Dictated by: Dr. "):
        assert all(section in t for t in texts), section
    for term in (
        "oval",
        "irregular",
        "circumscribed",
        "not parallel",
        "hypoechoic",
        "posterior acoustic shadowing",
        "posterior acoustic enhancement",
        "No posterior acoustic shadowing",
        "cm from the nipple",
        " x ",
    ):
        assert term in joined, term
    assert re.search(r"\b\d{1,2}:[03]0\b", joined)
    assert re.search(r"\d+(\.\d)?\s?CM\s?FN", joined)
    phrasings = [
        r"BI-RADS Category 4[ABC]: Suspicious",
        r"ASSESSMENT: BI-RADS \d",
        r"Final Assessment: \d",
        r"BI-RADS® \d",
        r"ACR code \d",
        r"US BI-RADS: \d",
        r"OVERALL ASSESSMENT: BI-RADS",
        r"BI-RADS 6 - Known biopsy-proven malignancy|BI-RADS 6 - Known Biopsy-Proven Malignancy",
    ]
    for pattern in phrasings:
        assert re.search(pattern, joined), pattern
    assert "PATHOLOGY:" in joined and "CONCORDANCE: yes" in joined


def test_some_reports_name_their_patient(warehouse):
    data = rows(
        warehouse,
        "SELECT e.report_text, p.patient_id, p.patient_name FROM radiology_exams e "
        "JOIN patients p USING (patient_id)",
    )
    named = [d for d in data if d["patient_name"].split("^")[0] in d["report_text"]]
    with_mrn = [d for d in data if d["patient_id"] in d["report_text"]]
    assert named and with_mrn
    assert len(named) < len(data)


def test_biopsies_follow_suspicious_exams_and_have_pathology(default_plan):
    specimens = {s.encounter_id: s for s in default_plan.specimens}
    biopsies = [e for e in default_plan.exams if e.kind == "biopsy"]
    assert biopsies
    for biopsy in biopsies:
        specimen = specimens[biopsy.encounter_id]
        assert specimen.patient_id == biopsy.patient_id
        assert 0 <= (specimen.specimen_date - biopsy.exam_date).days <= 1
        earlier = [
            e
            for e in default_plan.exams
            if e.patient_id == biopsy.patient_id
            and e.modality == "US"
            and e.exam_datetime < biopsy.exam_datetime
            and e.birads in {"4", "4A", "4B", "4C", "5"}
        ]
        assert earlier, biopsy.accession
        prior = earlier[-1]
        assert 1 <= (biopsy.exam_date - prior.exam_date).days <= 31
        assert prior.side in {biopsy.side, "BILATERAL"}


def test_pathology_rows_fan_out_per_diagnosis(warehouse):
    data = rows(warehouse, "SELECT * FROM pathology_specimens")
    by_specimen: dict[str, list[dict]] = {}
    for row in data:
        by_specimen.setdefault(row["specimen_accession"], []).append(row)
    assert any(len(v) > 1 for v in by_specimen.values())
    for parts in by_specimen.values():
        assert len({p["final_diagnosis_text"] for p in parts}) == 1
        assert len({p["diagnosis_name"] for p in parts}) == len(parts)
        text = parts[0]["final_diagnosis_text"]
        assert "FINAL DIAGNOSIS" in text and "COMMENT:" in text and re.search(r"^A\. ", text, re.M)
    names = {r["diagnosis_name"] for r in data}
    assert {"INVASIVE DUCTAL CARCINOMA", "FIBROADENOMA"} <= names
    malignant = [
        r
        for r in data
        if "CARCINOMA" in r["diagnosis_name"] and "IN SITU" not in r["diagnosis_name"]
    ]
    assert malignant and all(r["synoptic_report"] for r in malignant)
    assert any(r["synoptic_report"] is None for r in data)
    assert all(isinstance(r["specimen_date"], dt.date) for r in data)


def test_plan_is_deterministic_and_seed_dependent():
    from cadbusi_demo.plan import plan_cohort

    config = DemoConfig(days=5)
    assert plan_cohort(config) == plan_cohort(config)
    other = plan_cohort(DemoConfig(days=5, seed=1))
    assert [e.report_text for e in other.exams] != [
        e.report_text for e in plan_cohort(config).exams
    ]
